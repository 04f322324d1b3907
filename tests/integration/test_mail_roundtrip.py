"""A whole conversation by e-mail against real servers: Dovecot in, an SMTP peer out.

New mail → ticket → acknowledgement arrives at the SMTP peer → the requester's
reply to it, as a mail client writes it, threads into the same ticket. And a
poller waiting with IDLE picks up new mail within seconds.
"""

import threading
import time
from email.utils import make_msgid

import pytest
from django.db import connection

from mailbridge import ingest
from mailbridge.imap import MailboxPoller, poll_once
from mailbridge.models import Mailbox
from tests.mailbridge.test_ingest import make_mail
from tickets.models import Ticket

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SUPPORT = "support@helpdesk.example"


def send_to_peer(settings, smtp_peer):
    """Point the helpdesk's outgoing mail at the real SMTP peer; return the peer."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_peer.host
    settings.EMAIL_PORT = smtp_peer.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    smtp_peer.clear()
    return smtp_peer


def new_imap_box(dovecot):
    """Return a Mailbox on a fresh Dovecot account (its login in `.account`)."""
    ingest.clear_caches()
    user = dovecot.new_user()
    box = Mailbox.objects.create(
        name="support",
        address=SUPPORT,
        host=dovecot.host,
        port=dovecot.ssl_port,
        security="ssl",
        ca_file=dovecot.cafile,
        username=user,
        password=dovecot.password,
    )
    box.account = (user, dovecot.password)
    return box


@pytest.fixture
def smtp_out(settings, smtp_peer):
    return send_to_peer(settings, smtp_peer)


@pytest.fixture
def imap_box(dovecot):
    return new_imap_box(dovecot)


def deliver(dovecot, box, raw):
    client = dovecot.imap_client(*box.account)
    try:
        client.append("INBOX", raw)
    finally:
        client.logout()


def count_in(dovecot, box, folder):
    client = dovecot.imap_client(*box.account)
    try:
        if not client.folder_exists(folder):
            return 0
        return client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"]
    finally:
        client.logout()


def test_mail_ticket_acknowledgement_reply_threads(cast, dovecot, smtp_out, imap_box, settings):
    first_id = make_msgid(domain="school.example.org")
    deliver(
        dovecot,
        imap_box,
        make_mail(
            sender="Мария Иванова <maria@school.example.org>",
            subject="Не мога да вляза в НЕИСПУО",
            body="Здравейте,\nот вчера не мога да вляза в системата.\nМария",
            message_id=first_id,
        ),
    )
    result = poll_once(imap_box)
    assert result.outcomes == {"created": 1}, result.error
    ticket = Ticket.objects.get()

    ack = smtp_out.wait_for(lambda m: "maria@school.example.org" in m.rcpt_tos).message
    assert f"[HD#{ticket.reference}]" in ack["Subject"]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack[settings.HELPDESK["LOOP_HEADER"]] == settings.HELPDESK["INSTANCE_ID"]
    assert ack["In-Reply-To"] == first_id
    assert first_id in ack["References"]

    # The requester presses "Reply" in her mail client.
    ack_id = ack["Message-ID"]
    ack_text = ack.get_body(preferencelist=("plain",)).get_content()
    quoted = "\n".join(f"> {line}" for line in ack_text.splitlines())
    reply = make_mail(
        sender="Мария Иванова <maria@school.example.org>",
        subject=f"Re: {ack['Subject']}",
        body=f"Опитах и с друг браузър, пак не става.\n\nНа 28.11.2026 г. в 10:00 Поддръжка написа:\n{quoted}\n",
        in_reply_to=ack_id,
        references=f"{ack['References']} {ack_id}",
    )
    deliver(dovecot, imap_box, reply)
    result = poll_once(imap_box)
    assert result.outcomes == {"followup": 1}, result.error
    assert Ticket.objects.count() == 1
    message = ticket.messages.order_by("created_at", "id").last()
    assert "друг браузър" in message.body_text
    assert "Поддръжка написа" not in message.body_text
    # A reply from a client that dropped the tag still threads, by its headers.
    deliver(
        dovecot,
        imap_box,
        make_mail(
            sender="maria@school.example.org",
            subject="Re: Заявката е получена",
            body="И още нещо.",
            in_reply_to=ack_id,
        ),
    )
    assert poll_once(imap_box).outcomes == {"followup": 1}
    assert ticket.messages.count() == 3
    assert count_in(dovecot, imap_box, "Processed") == 3
    # Follow-ups from the requester do not send her more acknowledgements.
    time.sleep(0.3)
    assert len([m for m in smtp_out.messages if "maria@school.example.org" in m.rcpt_tos]) == 1


def test_idle_picks_up_new_mail_within_seconds(cast, dovecot, imap_box):
    stop = threading.Event()
    poller = MailboxPoller(imap_box, stop=stop)

    def run():
        try:
            poller.run_forever()
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        # Wait until the poller sits in IDLE (its first, empty pass is done).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
            poller.client is not None
            and count_in(dovecot, imap_box, "Processed") == 0
            and poller._lease_renewed
        ):
            time.sleep(0.1)
        time.sleep(1.0)
        sent_at = time.monotonic()
        deliver(dovecot, imap_box, make_mail(subject="IDLE"))
        while count_in(dovecot, imap_box, "Processed") < 1:
            assert time.monotonic() - sent_at < 10, "IDLE did not pick up the message"
            time.sleep(0.1)
        took = time.monotonic() - sent_at
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert took < 5, f"took {took:.1f} s"
    assert Ticket.objects.get().subject == "IDLE"
