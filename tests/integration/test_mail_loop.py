"""An auto-responder that answers every mail we send must not start a mail loop."""

import time
from email.utils import make_msgid

import pytest

from mailbridge.imap import poll_once
from mailbridge.models import InboundMessage
from tests.integration.test_mail_roundtrip import deliver, new_imap_box, send_to_peer
from tests.mailbridge.test_ingest import make_mail
from tickets.models import Message, Ticket

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smtp_out(settings, smtp_peer):
    return send_to_peer(settings, smtp_peer)


@pytest.fixture
def imap_box(dovecot):
    return new_imap_box(dovecot)


def auto_reply(to_message, sender):
    """What a vacation responder sends back (twice-eager responders send it more than once)."""
    return make_mail(
        sender=sender,
        subject=f"Автоматичен отговор: {to_message['Subject']}",
        body="В отпуск съм до 5 декември. При спешност пишете на заместника.",
        message_id=make_msgid(domain="school.example.org"),
        in_reply_to=to_message["Message-ID"],
        references=to_message["Message-ID"],
        headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"},
    )


@pytest.mark.parametrize("responder", ["maria@school.example.org", "vacation@school.example.org"])
def test_auto_responder_cannot_start_a_loop(cast, dovecot, smtp_out, imap_box, responder):
    deliver(
        dovecot,
        imap_box,
        make_mail(sender="maria@school.example.org", subject="Въпрос за дневника"),
    )
    assert poll_once(imap_box).outcomes == {"created": 1}
    answered = set()
    for _round in range(5):
        time.sleep(0.2)
        new = [m for m in smtp_out.messages if m.message["Message-ID"] not in answered]
        if not new:
            break
        for received in new:
            answered.add(received.message["Message-ID"])
            # The responder answers every mail we send, and answers twice.
            deliver(dovecot, imap_box, auto_reply(received.message, responder))
            deliver(dovecot, imap_box, auto_reply(received.message, responder))
        poll_once(imap_box)
    time.sleep(0.3)
    assert len(smtp_out.messages) == 1  # only the acknowledgement, ever
    ticket = Ticket.objects.get()
    stored = Message.objects.filter(ticket=ticket, is_auto_reply=True).count()
    assert stored == (1 if responder.startswith("maria") else 0)
    assert ticket.status == "new"
    outcomes = sorted(InboundMessage.objects.values_list("outcome", flat=True))
    assert outcomes.count("created") == 1
    assert outcomes.count("ignored") == 2 - stored
