"""Outbox delivery in batches: one queued task sends the rows of the changes that queued none."""

import smtplib

import pytest
from django.core import mail as django_mail
from django.core.mail.backends.locmem import EmailBackend as LocMemBackend

from mailbridge import outbound, tasks
from tickets.models import OutboundMail

pytestmark = pytest.mark.django_db


class CountingBackend(LocMemBackend):
    """The test mailbox, counting sessions; fails the sends whose subject names FAIL."""

    opened = 0

    def open(self):
        CountingBackend.opened += 1
        return True

    def send_messages(self, messages):
        if any("FAIL" in m.subject for m in messages):
            raise smtplib.SMTPServerDisconnected("the server went away")
        return super().send_messages(messages)


@pytest.fixture
def counting(settings):
    settings.EMAIL_BACKEND = f"{__name__}.CountingBackend"
    CountingBackend.opened = 0
    return CountingBackend


@pytest.fixture
def batching(monkeypatch):
    """As with Redis and a real broker: a mark every process sees, tasks that wait in a queue."""
    queued = []
    monkeypatch.setattr(tasks, "_batching", lambda: True)
    monkeypatch.setattr(tasks.deliver_outbox, "delay", lambda ids: queued.append(list(ids)))
    tasks.cache.delete(tasks.QUEUED_MARK)
    yield queued
    tasks.cache.delete(tasks.QUEUED_MARK)


def _file(make_ticket, callbacks, n, subject="Диплома не се качва"):
    with callbacks(execute=True):
        return [make_ticket(subject=f"{subject} {i}") for i in range(n)]


def test_while_a_task_waits_later_changes_queue_none_and_it_sends_theirs(
    cast, make_ticket, batching, counting, django_capture_on_commit_callbacks
):
    tickets = _file(make_ticket, django_capture_on_commit_callbacks, 3)
    rows = OutboundMail.objects.filter(ticket__in=tickets, kind="created").order_by("pk")
    assert rows.count() == 3
    # Only the first change queued a task, for its own row.
    assert batching == [[rows[0].pk]]
    assert tasks.deliver_outbox.apply(args=[batching[0]]).get() == 3
    assert sorted(m.to[0] for m in django_mail.outbox) == sorted(r.recipients[0] for r in rows)
    assert set(rows.values_list("state", flat=True)) == {"sent"}
    assert counting.opened == 1  # one session for the three
    # The task cleared its mark when it started: the next change queues its own.
    _file(make_ticket, django_capture_on_commit_callbacks, 1)
    assert len(batching) == 2


def test_a_task_sends_nothing_twice_and_leaves_rows_already_tried_to_the_sweep(
    cast, make_ticket, batching, counting, django_capture_on_commit_callbacks
):
    tickets = _file(make_ticket, django_capture_on_commit_callbacks, 2)
    first, second = OutboundMail.objects.filter(ticket__in=tickets).order_by("pk")
    assert outbound.deliver([first.pk]) == 1  # sent by another task meanwhile
    OutboundMail.objects.filter(pk=second.pk).update(attempts=1, last_attempt_at=first.created_at)
    assert tasks.deliver_outbox.apply(args=[[first.pk]]).get() == 0
    assert len(django_mail.outbox) == 1
    second.refresh_from_db()
    assert second.state == "pending"  # failed before: retried by its task or the sweep


def test_a_failed_row_does_not_stop_the_others_and_the_error_is_raised(
    cast, make_ticket, counting, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        tickets = [make_ticket(subject=s) for s in ("Първа", "FAIL втора", "Трета")]
    rows = list(OutboundMail.objects.filter(ticket__in=tickets).order_by("pk"))
    with pytest.raises(smtplib.SMTPServerDisconnected):
        outbound.deliver([r.pk for r in rows])
    states = dict(OutboundMail.objects.filter(ticket__in=tickets).values_list("pk", "state"))
    assert [states[r.pk] for r in rows] == ["sent", "pending", "sent"]
    failed = OutboundMail.objects.get(pk=rows[1].pk)
    assert failed.attempts == 1 and "SMTPServerDisconnected" in failed.last_error
    assert len(django_mail.outbox) == 2


def test_without_a_shared_mark_every_change_queues_its_own_task(
    cast, make_ticket, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.deliver_outbox, "delay", lambda ids: queued.append(list(ids)))
    assert tasks._batching() is False  # eager tasks in the tests, or a per-process cache
    _file(make_ticket, django_capture_on_commit_callbacks, 2)
    assert len(queued) == 2
