"""Two real celery workers (tasks in threads, as run-scaled runs them) send a burst of
acknowledgements from the ready list (mailbridge/ready.py) to a real SMTP peer: every
mail once, none twice, in far fewer tasks than filings."""

import time
import uuid
from collections import Counter

from django.db import connection

from tests.scaling.test_mail_workers import _wait_until_ready
from tests.testservers import require_postgresql
from tickets.models import OutboundMail

FILINGS = 40


def test_two_workers_send_a_burst_from_the_ready_list_once_each(
    processes, processes_env, cast, make_ticket, smtp_peer, monkeypatch
):
    require_postgresql(connection.vendor, "Workers sharing the outbox")
    from django.core.cache import cache

    from helpdesk.celery import app

    cache.clear()
    queue_name = f"ready-{uuid.uuid4().hex[:8]}"
    env = {
        **processes_env,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": smtp_peer.host,
        "EMAIL_PORT": str(smtp_peer.port),
    }
    threads = ("--pool", "threads", "--concurrency", "4")
    workers = [processes.worker(env, f"sender{n}", queue_name, pool=threads) for n in (1, 2)]
    for worker in workers:
        _wait_until_ready(processes, worker)
    smtp_peer.clear()

    # This process files as the web processes do: tasks go to the broker, not run inline.
    before = {k: app.conf[k] for k in ("task_always_eager", "task_default_queue")}
    app.conf.update(task_always_eager=False, task_default_queue=queue_name)
    try:
        _burst(processes, workers, make_ticket, smtp_peer, monkeypatch)
    finally:
        app.conf.update(before)


def _burst(processes, workers, make_ticket, smtp_peer, monkeypatch):
    from mailbridge import ready, tasks

    queued = []
    real_delay = tasks.deliver_ready.delay
    monkeypatch.setattr(tasks.deliver_ready, "delay", lambda: queued.append(1) or real_delay())
    assert ready.available()
    made = [make_ticket(subject=f"Заявка {i}") for i in range(FILINGS)]

    rows = OutboundMail.objects.filter(ticket__in=made)
    expected = rows.count()
    assert expected >= FILINGS  # an acknowledgement each (and the experts' notices)
    deadline = time.monotonic() + 120
    while rows.filter(state=OutboundMail.State.PENDING).exists():
        assert time.monotonic() < deadline, "the workers did not send the burst"
        for worker in workers:
            assert worker.poll() is None, processes.log(worker)
        time.sleep(0.3)
    assert set(rows.values_list("state", flat=True)) == {OutboundMail.State.SENT}

    received = smtp_peer.wait_for_count(expected, timeout=30)
    ids = Counter(m.message["Message-ID"].strip().strip("<>") for m in received)
    assert len(ids) == expected and max(ids.values()) == 1, ids.most_common(3)
    assert set(ids) == {pk.strip("<>") for pk in rows.values_list("message_id", flat=True)}
    assert len(queued) < FILINGS / 2, len(queued)  # batches, not a task per filing
    assert ready.waiting() == 0
