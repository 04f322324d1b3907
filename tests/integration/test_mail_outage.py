"""Outages: the database fails in the middle of a batch while the SMTP server is down.

Nothing may be lost, everything is processed once both are back, and no
requester receives a second acknowledgement.
"""

import datetime
import time
from collections import Counter

import pytest
from django.db import OperationalError

from mailbridge import ingest
from mailbridge.imap import poll_once
from mailbridge.models import InboundMessage
from mailbridge.outbound import deliver_pending
from mailbridge.tasks import poll_all_mailboxes
from tests.integration.test_mail_roundtrip import count_in, deliver, new_imap_box, send_to_peer
from tests.mailbridge.test_ingest import make_mail
from tickets.models import OutboundMail, Ticket

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smtp_out(settings, smtp_peer):
    return send_to_peer(settings, smtp_peer)


@pytest.fixture
def imap_box(dovecot):
    return new_imap_box(dovecot)


def test_database_and_smtp_outage_lose_and_duplicate_nothing(
    cast, dovecot, smtp_out, imap_box, monkeypatch
):
    senders = [f"teacher{i}@school{i}.example.org" for i in range(8)]
    for i, sender in enumerate(senders):
        deliver(dovecot, imap_box, make_mail(sender=sender, subject=f"Заявка {i}"))

    real_decide = ingest._decide
    database = {"up": True, "calls": 0}

    def decide(parsed, row):
        database["calls"] += 1
        if database["calls"] == 3:
            database["up"] = False  # the connection drops in the middle of the batch
        if not database["up"]:
            raise OperationalError("server closed the connection unexpectedly")
        return real_decide(parsed, row)

    monkeypatch.setattr(ingest, "_decide", decide)
    with smtp_out.outage():
        first = poll_once(imap_box)
        assert first.state == "error" and "OperationalError" in first.error
        assert first.outcomes == {"created": 2}
        # Still down: a pass makes no progress and loses nothing.
        second = poll_once(imap_box)
        assert second.state == "error" and not second.outcomes
        assert count_in(dovecot, imap_box, "INBOX") == 6
        # The batch was stored as a whole before processing began: six rows wait.
        assert InboundMessage.objects.filter(state="received").count() == 6
        database["up"] = True
        third = poll_once(imap_box)
        assert third.state == "ok", third.error
        assert third.outcomes == {"created": 6}
        # Every acknowledgement was tried and is waiting for the SMTP server.
        assert OutboundMail.objects.filter(state="pending").count() == 8
    assert smtp_out.messages == []

    # Both are back: the sweep sends each acknowledgement exactly once.
    assert deliver_pending(older_than=datetime.timedelta(0))["sent"] == 8
    assert deliver_pending(older_than=datetime.timedelta(0))["sent"] == 0
    poll_all_mailboxes()  # the scheduled pass: nothing new in, nothing sent twice
    time.sleep(0.5)
    acks = Counter(tuple(m.rcpt_tos) for m in smtp_out.messages)
    assert acks == Counter({(sender,): 1 for sender in senders})
    tickets = Ticket.objects.all()
    assert sorted(t.requester_email for t in tickets) == sorted(senders)
    assert all(t.messages.count() == 1 for t in tickets)
    assert count_in(dovecot, imap_box, "INBOX") == 0
    assert count_in(dovecot, imap_box, "Processed") == 8
    assert set(InboundMessage.objects.values_list("state", flat=True)) == {"processed"}
