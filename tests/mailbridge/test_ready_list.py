"""The ready list (mailbridge/ready.py): outbox rows handed to the workers in batches, on a real Redis."""

import datetime
import os
import smtplib
import unittest.mock

import pytest
from django.test import override_settings

from mailbridge import outbound, ready, tasks
from tests.testservers import port_open, require_service
from tickets.models import OutboundMail


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker[2:].isdigit() else 0


@pytest.fixture
def redis_default_cache():
    if not port_open("127.0.0.1", 6379):
        require_service("redis", "no Redis on 127.0.0.1:6379")
    config = {
        "default": {
            "BACKEND": "helpdesk.cache.SharedClientRedisCache",
            # A database of this test process's own: clear() empties it.
            "LOCATION": f"redis://127.0.0.1:6379/{10 - _worker_index() % 4}",
            "KEY_PREFIX": "hd-test-ready",
        }
    }
    with override_settings(CACHES=config):
        from django.core.cache import caches

        caches["default"].clear()
        yield caches["default"]
        caches["default"].clear()


@pytest.fixture(autouse=True)
def _no_gathering(monkeypatch):
    # A task called directly (not eager) would wait between batches; not here.
    monkeypatch.setattr(ready, "GATHER_SECONDS", 0)


@pytest.fixture
def queued(monkeypatch):
    """The tasks queued (not run): ("ready",) or ("outbox", ids, countdown)."""
    seen = []
    monkeypatch.setattr(tasks.deliver_ready, "delay", lambda: seen.append(("ready",)))
    monkeypatch.setattr(tasks.deliver_outbox, "delay", lambda ids: seen.append(("outbox", ids, 0)))

    def apply_async(args, countdown=0, **kwargs):
        seen.append(("outbox", list(args[0]), countdown))

    monkeypatch.setattr(tasks.deliver_outbox, "apply_async", apply_async)
    return seen


@pytest.fixture
def file(cast, make_ticket, django_capture_on_commit_callbacks):
    """file(count): that many requests filed, each committed (its mail handed over)."""

    def go(count):
        made = []
        for i in range(count):
            with django_capture_on_commit_callbacks(execute=True):
                made.append(make_ticket(subject=f"Заявка {i}"))
        return made

    return go


def pending_ids(tickets):
    return list(
        OutboundMail.objects.filter(ticket__in=tickets, state=OutboundMail.State.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def test_a_burst_goes_on_the_list_and_one_task_sends_it(
    file, redis_default_cache, queued, mailoutbox
):
    made = file(3)
    ids = pending_ids(made)
    assert len(ids) == 3  # an acknowledgement each
    assert queued == [("ready",)]  # one drain task for the three
    assert ready.waiting() == 3
    assert tasks.deliver_ready() == 3
    assert ready.waiting() == 0
    assert len(mailoutbox) == 3
    assert not pending_ids(made)
    # The task cleared its flag when it began: the next change queues a new one.
    file(1)
    assert queued == [("ready",), ("ready",)]


def test_an_id_on_the_list_twice_is_sent_once(file, redis_default_cache, queued, mailoutbox):
    made = file(1)
    [pk] = pending_ids(made)
    ready.hand_over([pk])
    assert ready.waiting() == 2
    assert tasks.deliver_ready() == 1
    assert len(mailoutbox) == 1


def test_a_failed_batch_goes_to_the_retrying_task_and_the_next_still_goes(
    file, redis_default_cache, queued, mailoutbox, monkeypatch
):
    made = file(3)
    ids = pending_ids(made)
    monkeypatch.setattr(ready, "BATCH", 2)
    real = outbound.deliver
    calls = []

    def flaky(batch):
        calls.append(list(batch))
        if len(calls) == 1:
            raise smtplib.SMTPServerDisconnected("the server went away")
        return real(batch)

    monkeypatch.setattr(outbound, "deliver", flaky)
    assert tasks.deliver_ready() == 1
    assert calls == [ids[:2], ids[2:]]
    assert ("outbox", ids[:2], tasks.FAILED_BATCH_COUNTDOWN) in queued
    assert len(mailoutbox) == 1
    assert pending_ids(made) == ids[:2]  # still pending: the retry or the sweep sends them


def test_a_long_list_is_shared_with_a_successor(file, redis_default_cache, queued, mailoutbox):
    file(5)
    queued.clear()
    with (
        unittest.mock.patch.object(tasks, "DRAIN_ROWS", 2),
        unittest.mock.patch.object(ready, "BATCH", 2),
    ):
        assert tasks.deliver_ready() == 2
    assert queued == [("ready",)]  # the rest is for the successor (or another worker)
    assert ready.waiting() == 3
    assert tasks.deliver_ready() == 3
    assert len(mailoutbox) == 5


def test_ids_lost_with_the_list_are_sent_by_the_sweep(
    file, redis_default_cache, queued, mailoutbox
):
    made = file(2)
    redis_default_cache.clear()  # Redis restarted empty
    assert tasks.deliver_ready() == 0
    assert outbound.deliver_pending(older_than=datetime.timedelta(0))["sent"] == 2
    assert not pending_ids(made)


def test_the_embedded_default_queues_a_task_per_change(file, queued, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    made = file(2)
    ids = pending_ids(made)
    assert queued == [("outbox", [ids[0]], 0), ("outbox", [ids[1]], 0)]


def test_a_change_while_a_task_drains_is_sent_by_that_task(
    file, redis_default_cache, queued, mailoutbox, monkeypatch
):
    first = file(1)
    real = outbound.deliver
    later = []

    def deliver_and_meanwhile_file(batch):
        if not later:  # another filing commits while this batch is being sent
            later.extend(file(1))
        return real(batch)

    monkeypatch.setattr(outbound, "deliver", deliver_and_meanwhile_file)
    assert tasks.deliver_ready() == 2
    assert queued == [("ready",)]  # the first filing's; the second found the task at work
    assert not pending_ids(first + later)
    assert ready.waiting() == 0
    file(1)  # the task reopened the list
    assert queued == [("ready",), ("ready",)]


def test_a_long_list_calls_for_one_helper(file, redis_default_cache, queued, mailoutbox):
    file(5)
    queued.clear()
    with (
        unittest.mock.patch.object(ready, "BATCH", 1),
        unittest.mock.patch.object(ready, "HELP_AT", 2),
    ):
        assert tasks.deliver_ready() == 5
    assert queued == [("ready",)]  # one helper, however many batches saw a long list


def test_a_trickle_is_gathered_before_the_task_lets_go(
    file, redis_default_cache, queued, mailoutbox, monkeypatch
):
    """After the list runs dry the task waits a moment; a filing in that moment is still its own."""
    file(1)
    monkeypatch.setattr(ready, "GATHER_SECONDS", 0.05)
    waits, later = [], []

    def sleep(seconds):
        waits.append(seconds)
        if not later:
            later.extend(file(1))

    monkeypatch.setattr(tasks.time, "sleep", sleep)
    assert tasks.deliver_ready() == 2
    assert queued == [("ready",)]  # the second filing found the task still holding the list
    assert waits and set(waits) == {0.05}
    assert len(mailoutbox) == 2


def test_a_task_waits_once_after_its_last_batch_then_lets_go(
    file, redis_default_cache, queued, mailoutbox, monkeypatch
):
    file(1)
    monkeypatch.setattr(ready, "GATHER_SECONDS", 0.05)
    waits = []
    monkeypatch.setattr(tasks.time, "sleep", waits.append)
    assert tasks.deliver_ready() == 1
    assert waits == [0.05]  # after the short batch; not again before letting go
    file(1)
    assert queued == [("ready",), ("ready",)]  # the list was let go
