"""Delivering the outbox to a real SMTP server: leases in one statement, one SMTP
session kept between mails, and what happens when that session goes away."""

import datetime
import smtplib

import pytest
from django.utils import timezone

from mailbridge import outbound
from mailbridge.models import UndeliverableAddress
from tests.integration.test_mail_roundtrip import send_to_peer
from tickets.models import MailThreadKey, OutboundMail

pytestmark = pytest.mark.django_db


@pytest.fixture
def peer(settings, smtp_peer):
    outbound.close_kept_connection()
    yield send_to_peer(settings, smtp_peer)
    outbound.close_kept_connection()


@pytest.fixture
def connects(monkeypatch):
    """Count the SMTP sessions opened (the real connect still runs)."""
    opened = []
    real = smtplib.SMTP.connect

    def connect(self, *args, **kwargs):
        opened.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "connect", connect)
    return opened


def _acknowledgements(make_ticket, n):
    for i in range(n):
        make_ticket(subject=f"Диплома {i}")
    rows = list(OutboundMail.objects.filter(kind="created", state="pending").order_by("pk"))
    assert len(rows) == n
    return rows


def test_one_smtp_session_carries_mail_after_mail(peer, connects, make_ticket):
    rows = _acknowledgements(make_ticket, 3)
    for row in rows:  # one task per change, as after three filings
        assert outbound.deliver([row.pk]) == 1
    peer.wait_for_count(3)
    assert len(connects) == 1
    assert set(OutboundMail.objects.values_list("state", flat=True)) == {"sent"}


def test_a_session_the_server_closed_is_opened_again_and_nothing_fails(peer, connects, make_ticket):
    first, second = _acknowledgements(make_ticket, 2)
    assert outbound.deliver([first.pk]) == 1
    peer.stop()  # the server goes away and comes back: our kept session is dead
    peer.start()
    assert outbound.deliver([second.pk]) == 1
    assert len(peer.wait_for_count(2)) == 2
    assert len(connects) == 2
    second.refresh_from_db()
    assert (second.state, second.attempts, second.last_error) == ("sent", 1, "")


def test_a_refused_mail_fails_alone_and_the_next_starts_a_clean_session(
    peer, connects, make_ticket
):
    refused, accepted = _acknowledgements(make_ticket, 2)
    peer.reject_reply = "550 5.7.1 Refused"
    try:
        with pytest.raises(smtplib.SMTPDataError):
            outbound.deliver([refused.pk])
    finally:
        peer.reject_reply = None
    refused.refresh_from_db()
    assert (refused.state, refused.attempts) == ("pending", 1)
    assert "Refused" in refused.last_error and refused.locked_until is None
    assert outbound.deliver([accepted.pk]) == 1
    assert len(peer.wait_for_count(1)) == 1
    assert len(connects) == 2


def test_leases_are_taken_in_one_statement_and_only_on_free_pending_rows(
    make_ticket, django_assert_num_queries
):
    free, held, sent = _acknowledgements(make_ticket, 3)
    now = timezone.now()
    OutboundMail.objects.filter(pk=held.pk).update(locked_until=now + datetime.timedelta(minutes=1))
    OutboundMail.objects.filter(pk=sent.pk).update(state="sent")
    with django_assert_num_queries(1):
        assert outbound.claim_ids([free.pk, held.pk, sent.pk, 10**9]) == [free.pk]
    assert outbound.claim_ids([free.pk]) == []
    # A lease that ran out (its holder died) can be taken again.
    OutboundMail.objects.filter(pk=held.pk).update(locked_until=now - datetime.timedelta(seconds=1))
    assert outbound.claim_ids([held.pk]) == [held.pk]
    assert outbound.claim_ids([]) == []


def test_a_bounced_recipient_among_several_rows_is_suppressed_alone(make_ticket):
    from django.core import mail as django_mail

    first, second = _acknowledgements(make_ticket, 2)
    OutboundMail.objects.filter(pk=second.pk).update(recipients=["gone@example.org"])
    UndeliverableAddress.objects.create(address="gone@example.org")
    django_mail.outbox.clear()
    assert outbound.deliver([first.pk, second.pk]) == 1
    assert dict(OutboundMail.objects.values_list("pk", "state")) == {
        first.pk: "sent",
        second.pk: "suppressed",
    }
    assert len(django_mail.outbox) == 1


def test_a_long_thread_names_its_first_mail_and_the_latest_nine(make_ticket):
    ticket = make_ticket()
    MailThreadKey.objects.filter(ticket=ticket).delete()  # the acknowledgement's own
    start = timezone.now() - datetime.timedelta(hours=1)
    for i in range(12):
        MailThreadKey.objects.create(
            ticket=ticket,
            mail_id=f"m{i}@example.org",
            direction="in" if i == 5 else "out",
            created_at=start + datetime.timedelta(minutes=i),
        )
    headers = outbound.thread_headers(ticket)
    refs = headers["References"].split()
    assert refs[0] == "<m0@example.org>" and refs[-1] == "<m11@example.org>"
    assert len(refs) == 10 and "<m2@example.org>" not in refs
    assert headers["In-Reply-To"] == "<m5@example.org>"
    # A short thread: the first is among the latest.
    MailThreadKey.objects.filter(
        ticket=ticket, mail_id__in=[f"m{i}@example.org" for i in range(3, 12)]
    ).delete()
    headers = outbound.thread_headers(ticket, own_message_id="m2@example.org")
    assert headers == {
        "In-Reply-To": "<m1@example.org>",
        "References": "<m0@example.org> <m1@example.org>",
    }


def test_a_batch_reads_its_thread_keys_once_and_heads_each_mail_as_if_alone(make_ticket, cast):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    long_thread, short_thread, other = make_ticket(), make_ticket(), make_ticket()
    start = timezone.now() - datetime.timedelta(hours=1)
    for i, (ticket, count) in enumerate([(long_thread, 13), (short_thread, 3)]):
        for n in range(count):
            MailThreadKey.objects.create(
                ticket=ticket,
                mail_id=f"t{i}-m{n}@example.org",
                direction="in" if n % 4 == 1 else "out",
                created_at=start + datetime.timedelta(minutes=n),
            )
    MailThreadKey.objects.filter(ticket=other).delete()  # a thread with no keys at all
    rows = list(
        OutboundMail.objects.filter(ticket__in=[long_thread, short_thread, other])
        .select_related("ticket")
        .order_by("pk")
    )
    # Two mails of one change share a thread: each leaves out only its own Message-ID.
    sibling = OutboundMail.objects.create(
        key=f"sibling-{short_thread.pk}",
        ticket=short_thread,
        kind="created",
        recipients=["deputy@example.org"],
        message_id=f"sibling-{short_thread.pk}@helpdesk.example",
    )
    MailThreadKey.objects.create(
        ticket=short_thread, mail_id=sibling.message_id, direction="out", created_at=timezone.now()
    )
    rows.append(OutboundMail.objects.select_related("ticket").get(pk=sibling.pk))
    alone = {row.pk: outbound.thread_headers(row.ticket, row.message_id) for row in rows}
    assert alone[sibling.pk]["References"].startswith("<t1-m0@example.org>")
    with CaptureQueriesContext(connection) as queries:
        with outbound.batch_thread_keys(rows):
            together = {row.pk: outbound.thread_headers(row.ticket, row.message_id) for row in rows}
    assert together == alone
    key_reads = [q for q in queries.captured_queries if "tickets_mailthreadkey" in q["sql"]]
    # The batch's one read, and the first mail of the long thread (as alone).
    assert len(key_reads) == 2


def test_claimed_rows_are_read_as_the_orm_reads_them_in_one_statement(make_ticket, cast):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets import outbox

    make_ticket()  # an acknowledgement: ticket, requester, institution, region, message
    unassigned = make_ticket(actor=cast.teacher_b, institution=cast.school_b)
    Ticket = type(unassigned)
    Ticket.objects.filter(pk=unassigned.pk).update(assignee=None)
    # A scheduled report: no ticket, no message.
    outbox.report(
        key="report:test",
        address="boss@example.org",
        language="bg",
        subject="Отчет",
        text="Текст",
        html="<p>Текст</p>",
    )
    ids = list(OutboundMail.objects.order_by("pk").values_list("pk", flat=True))
    assert len(ids) >= 2
    with CaptureQueriesContext(connection) as queries:
        rows = outbound._read_claimed(ids)
        # Everything composing reads is there: no further query.
        for row in rows:
            if row.ticket is not None:
                _ = (row.ticket.requester, row.ticket.assignee, row.ticket.institution)
                _ = (row.ticket.region, row.ticket_message)
    assert len(queries.captured_queries) == 1
    expected = list(outbound._rows(OutboundMail.objects.filter(pk__in=ids)).order_by("pk"))
    assert [r.pk for r in rows] == [r.pk for r in expected] == ids

    def values(obj):
        if obj is None:
            return None
        return [getattr(obj, f.attname) for f in obj._meta.concrete_fields]

    for got, want in zip(rows, expected, strict=True):
        assert values(got) == values(want)
        assert values(got.ticket_message) == values(want.ticket_message)
        assert values(got.ticket) == values(want.ticket)
        if want.ticket is not None:
            for name in ("requester", "assignee", "institution", "region"):
                assert values(getattr(got.ticket, name)) == values(getattr(want.ticket, name)), name
    assert any(r.ticket is not None and r.ticket.assignee is None for r in rows)
    assert any(r.ticket is None and r.ticket_message is None for r in rows)
