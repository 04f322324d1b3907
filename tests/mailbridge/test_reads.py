"""mailbridge/reads.py: the per-mail reads give what the ORM's reads give, in one statement each."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailbridge import reads
from mailbridge.models import InboundMessage
from tickets.models import MailThreadKey, Ticket

pytestmark = pytest.mark.django_db


def _values(obj):
    return None if obj is None else [getattr(obj, f.attname) for f in obj._meta.concrete_fields]


def test_thread_keys_come_with_their_ticket_and_requester(cast, make_ticket):
    staff = make_ticket()
    by_mail = make_ticket()
    Ticket.objects.filter(pk=by_mail.pk).update(requester=None, requester_email="x@example.org")
    MailThreadKey.objects.create(ticket=staff, mail_id="a@example.org", direction="in")
    MailThreadKey.objects.create(ticket=by_mail, mail_id="b@example.org", direction="out")
    wanted = ["a@example.org", "b@example.org", "missing@example.org", "a@example.org"]
    with CaptureQueriesContext(connection) as queries:
        found = {key.mail_id: key for key in reads.thread_keys(wanted)}
        requesters = {mail_id: key.ticket.requester for mail_id, key in found.items()}
    assert len(queries.captured_queries) == 1
    expected = {
        key.mail_id: key
        for key in MailThreadKey.objects.filter(mail_id__in=wanted).select_related(
            "ticket__requester"
        )
    }
    assert set(found) == set(expected) == {"a@example.org", "b@example.org"}
    for mail_id, key in found.items():
        assert _values(key) == _values(expected[mail_id])
        assert _values(key.ticket) == _values(expected[mail_id].ticket)
        assert _values(requesters[mail_id]) == _values(expected[mail_id].ticket.requester)
    assert requesters["b@example.org"] is None and requesters["a@example.org"] == cast.teacher_a
    assert reads.thread_keys([]) == []


def test_a_senders_processed_mail_is_counted_over_the_window(cast):
    now = timezone.now()
    for i, (state, minutes) in enumerate(
        [("processed", 5), ("processed", 50), ("processed", 70), ("received", 5), ("ignored", 5)]
    ):
        row = InboundMessage.objects.create(
            message_key=f"k{i}", sender="flood@example.org", state=state, raw=b""
        )
        InboundMessage.objects.filter(pk=row.pk).update(
            created_at=now - datetime.timedelta(minutes=minutes)
        )
    since = now - datetime.timedelta(hours=1)
    orm = InboundMessage.objects.filter(
        sender="flood@example.org", created_at__gte=since, state="processed"
    ).count()
    assert reads.processed_since("flood@example.org", since) == orm == 2
    assert reads.processed_since("other@example.org", since) == 0
