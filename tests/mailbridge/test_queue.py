"""mailbridge.queue: received rows stored in batches, processed in order per conversation."""

import datetime
import subprocess
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from mailbridge import ingest, queue
from mailbridge.models import InboundMessage
from tests.mailbridge.test_ingest import make_mail
from tickets.models import Message, Ticket


def mail(i, *, sender=None, reply_to=None, references=None, subject=None):
    return make_mail(
        sender=sender or f"Учител {i} <teacher{i}@school.example.org>",
        subject=subject or f"Заявка {i}",
        body=f"Текст {i}.",
        message_id=f"<q{i}@school.example.org>",
        in_reply_to=f"<{reply_to}@school.example.org>" if reply_to else None,
        references=references,
    )


def store(*raws):
    return queue.store_batch([queue.prepare(raw) for raw in raws])


def row(i) -> InboundMessage:
    return InboundMessage.objects.get(message_id=f"q{i}@school.example.org")


def claimed(limit=50):
    holder, _token = queue.new_holder()
    return [r.message_id.split("@")[0] for r in queue.claim(holder, limit)]


def test_a_reply_shares_the_conversation_of_the_request_it_answers(db):
    sender = "teacher1@school.example.org"
    store(mail(1), mail(2, sender=sender, reply_to="q1"))
    # Later, and with only In-Reply-To naming the reply, not the request.
    store(mail(3, sender=sender, reply_to="q2"))
    store(mail(4, references="<q1@school.example.org> <q3@school.example.org>"))
    assert row(1).conversation == row(2).conversation == row(3).conversation
    assert row(4).conversation == row(1).conversation
    # A reply to mail we never stored is keyed by the root it names.
    store(mail(5, references="<out-1@helpdesk> <out-2@helpdesk>"))
    assert row(5).conversation == "mid:out-1@helpdesk"
    assert row(1).sender == sender and row(1).attempts == 0


def test_only_heads_are_claimed_and_replies_wait_for_their_request(db):
    store(mail(1), mail(2, sender="other@school.example.org", reply_to="q1"), mail(3))
    assert claimed() == ["q1", "q3"]
    assert claimed() == []  # q1 and q3 are held; q2 waits for q1
    InboundMessage.objects.filter(message_id="q1@school.example.org").update(state="processed")
    assert claimed() == ["q2"]


def test_one_senders_flood_waits_in_line_and_starves_no_one(db):
    flood = "Flood <flood@example.com>"
    # More than one window of the queue (queue.WINDOW) before the other's mail.
    store(*[mail(i, sender=flood) for i in range(1, 3 * queue.WINDOW)], mail(999))
    assert claimed() == ["q1", "q999"]


def test_drain_processes_a_burst_in_order_and_threads_every_reply(cast, db):
    sender = "teacher1@school.example.org"
    raws = [mail(1, sender=sender)]
    raws += [mail(i, sender=sender, reply_to=f"q{i - 1}", subject="Re: Заявка") for i in (2, 3)]
    raws += [mail(4)]
    store(*raws)
    drained = queue.drain()
    assert sorted(o.outcome for o in drained.outcomes.values()) == [
        "created",
        "created",
        "followup",
        "followup",
    ]
    assert Ticket.objects.count() == 2
    ticket = Message.objects.get(email_message_id="q1@school.example.org").ticket
    assert {m.email_message_id for m in Message.objects.filter(ticket=ticket)} == {
        "q1@school.example.org",
        "q2@school.example.org",
        "q3@school.example.org",
    }
    assert not InboundMessage.objects.filter(state="received").exists()
    assert set(InboundMessage.objects.values_list("attempts", flat=True)) == {1}


def test_a_stored_message_met_again_is_a_duplicate_or_still_pending(cast, db):
    (first,) = store(mail(1))
    assert first.pending and first.fresh
    (again,) = store(mail(1))
    assert again.pending and not again.fresh and again.row_id == first.row_id
    queue.drain()
    (done,) = store(mail(1))
    assert done.outcome.outcome == "duplicate" and done.outcome.ticket
    twice = store(mail(2), mail(2))
    assert twice[0].pending and twice[1].outcome.outcome == "duplicate"
    assert InboundMessage.objects.count() == 2


def test_a_claim_of_an_ended_process_or_a_lapsed_claim_is_taken_over(db):
    store(mail(1), mail(2))
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead = f"{queue._hostname}:{ended.stdout.strip()}:abc"
    future = timezone.now() + datetime.timedelta(minutes=5)
    InboundMessage.objects.filter(message_id__startswith="q1").update(
        claimed_by=dead, claimed_until=future
    )
    InboundMessage.objects.filter(message_id__startswith="q2").update(
        claimed_by="otherhost:1:abc", claimed_until=future
    )
    assert claimed() == []
    assert queue.release_dead_claims() == 1
    assert claimed() == ["q1"]
    InboundMessage.objects.filter(message_id__startswith="q2").update(
        claimed_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert claimed() == ["q2"]


def test_a_row_claimed_too_often_is_quarantined_and_lets_its_conversation_go_on(cast, db):
    store(mail(1), mail(2, sender="teacher1@school.example.org", reply_to="q1"))
    InboundMessage.objects.filter(message_id__startswith="q1").update(attempts=ingest.MAX_ATTEMPTS)
    with translation.override("en"):  # the reason is written in the active language
        outcomes = queue.drain().outcomes
    assert outcomes[row(1).pk].outcome == "quarantined"
    assert "attempts" in outcomes[row(1).pk].reason
    assert outcomes[row(2).pk].outcome == "created"  # its request never became a ticket


def test_storing_a_batch_takes_three_queries_whatever_its_size(db):
    raws = [mail(i) for i in range(1, 31)]
    with CaptureQueriesContext(connection) as queries:
        store(*raws)
    # Look up known keys, insert all rows, read their ids (on SQLite the
    # transaction adds its own statements around the insert).
    statements = [q["sql"] for q in queries.captured_queries]
    assert len([s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE", "BEGIN"))]) == 3


@pytest.mark.parametrize("kind", ["request", "reply"])
def test_processing_a_claimed_message_has_a_query_budget(cast, db, kind):
    """One message through a drain: claiming (2), processing, the drain's own two."""
    if kind == "reply":
        store(mail(1))
        queue.drain()
        store(mail(2, sender="teacher1@school.example.org", reply_to="q1"))
    else:
        store(mail(1))
    with CaptureQueriesContext(connection) as queries:
        outcomes = queue.drain().outcomes
    assert [o.outcome for o in outcomes.values()] == [
        "created" if kind == "request" else "followup"
    ]
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN"))
        and "sqlite_master" not in q["sql"]
    ]
    # Both include the drain's own two (the ended claims, the last empty claim),
    # and a new request its dashboard counters (one statement on PostgreSQL,
    # three on SQLite: tests/portal/test_filing_queries.py).
    budget = {"request": 38, "reply": 15}[kind]
    if kind == "request" and connection.vendor == "sqlite":
        budget += 2
    assert len(statements) <= budget, "\n".join(s[:150] for s in statements)


def test_a_broker_that_is_down_leaves_the_rows_to_the_sweep(db, monkeypatch):
    from mailbridge import tasks

    def down(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(tasks.process_received, "delay", down)
    store(mail(1))
    assert queue.dispatch(1) == 0  # logged, not raised: the poller goes on
    assert InboundMessage.objects.get().state == "received"
