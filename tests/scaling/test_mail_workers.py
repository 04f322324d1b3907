"""Received mail processed by two real celery workers at once (mailbridge/queue.py).

The burst is stored the way the poller stores it (queue.store_batch), replies
right behind the requests they answer, then two worker processes drain it in
parallel. Every message must be processed exactly once and every reply must
land on its request's ticket: a reply that overtook its request would have
opened a ticket of its own.
"""

import time
import uuid
from collections import Counter

import pytest

from mailbridge import queue
from mailbridge.models import InboundMessage
from tests.mailbridge.test_ingest import make_mail
from tickets.models import Message, Ticket

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CONVERSATIONS = 100
FLOOD = 40
FLOOD_LIMIT = 25


def _mid(name):
    return f"{name}@burst.example.org"


def _burst():
    """Per conversation: a request, a reply, and a reply to the reply (In-Reply-To only).

    The flood's messages (one sender, each a new conversation) are mixed in.
    """
    raws, chains = [], []
    for i in range(CONVERSATIONS):
        sender = f"Учител {i} <teacher{i}@burst.example.org>"
        ids = [_mid(f"q{i}"), _mid(f"r{i}"), _mid(f"rr{i}")]
        raws.append(
            make_mail(
                sender=sender, subject=f"Заявка {i}", body=f"Текст {i}.", message_id=f"<{ids[0]}>"
            )
        )
        raws.append(
            make_mail(
                sender=sender,
                subject=f"Re: Заявка {i}",
                body=f"Допълнение {i}.",
                message_id=f"<{ids[1]}>",
                in_reply_to=f"<{ids[0]}>",
                references=f"<{ids[0]}>",
            )
        )
        raws.append(
            make_mail(
                sender=sender,
                subject=f"Re: Re: Заявка {i}",
                body=f"Още нещо {i}.",
                message_id=f"<{ids[2]}>",
                in_reply_to=f"<{ids[1]}>",
            )
        )
        chains.append(ids)
        if i < FLOOD:
            raws.append(
                make_mail(
                    sender="Flood <flood@burst.example.org>",
                    subject=f"Реклама {i}",
                    body="Купете!",
                    message_id=f"<{_mid(f'f{i}')}>",
                )
            )
    return raws, chains


def _wait_until_ready(processes, worker, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.poll() is None, processes.log(worker)
        if " ready." in worker.log_path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"the worker did not start:\n{processes.log(worker)}")


def test_two_workers_process_a_burst_once_each_and_in_conversation_order(
    processes, processes_env, cast
):
    from helpdesk.celery import app

    raws, chains = _burst()
    for start in range(0, len(raws), 100):
        stored = queue.store_batch([queue.prepare(raw) for raw in raws[start : start + 100]])
        assert all(s.pending and s.fresh for s in stored)

    env = {**processes_env, "HELPDESK_MAIL_PER_SENDER_HOUR": str(FLOOD_LIMIT)}
    name = f"mail-{uuid.uuid4().hex[:8]}"
    # As run-scaled and production run them: tasks in threads, so four claim at once.
    threads = ("--pool", "threads", "--concurrency", "2")
    workers = [processes.worker(env, f"mail{n}", name, pool=threads) for n in (1, 2)]
    for worker in workers:
        _wait_until_ready(processes, worker)
    for _i in range(queue.MAX_TASKS // 2):
        app.send_task("mailbridge.tasks.process_received", queue=name)

    deadline = time.monotonic() + 300
    while InboundMessage.objects.filter(state="received").exists():
        assert time.monotonic() < deadline, "the workers did not finish the burst"
        for worker in workers:
            assert worker.poll() is None, processes.log(worker)
        time.sleep(0.5)

    rows = list(InboundMessage.objects.values_list("message_id", "state", "outcome", "attempts"))
    assert len(rows) == len(raws)
    assert {attempts for *_rest, attempts in rows} == {1}  # each claimed once
    outcomes = Counter(outcome for _mid, _state, outcome, _a in rows)
    assert outcomes == {
        "created": CONVERSATIONS + FLOOD_LIMIT,
        "followup": 2 * CONVERSATIONS,
        "ignored": FLOOD - FLOOD_LIMIT,
    }, outcomes

    ticket_of = {}
    for message_id, ticket_id in Message.objects.values_list("email_message_id", "ticket_id"):
        assert message_id not in ticket_of, f"{message_id} stored twice"
        ticket_of[message_id] = ticket_id
    for request, reply, second in chains:
        assert ticket_of[reply] == ticket_of[request] == ticket_of[second], request
    assert Ticket.objects.count() == CONVERSATIONS + FLOOD_LIMIT

    # Both workers took part (the claim names the process).
    pids = {
        holder.split(":")[1]
        for holder in InboundMessage.objects.values_list("claimed_by", flat=True)
    }
    assert len(pids) == 2, pids
