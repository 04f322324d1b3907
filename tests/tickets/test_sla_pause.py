"""The SLA clock stops while the request waits on its requester, and warnings follow it.

Covers what tests/tickets/test_sla_db.py leaves out: the first-response
clock during a pause, a reopened request, and warnings for a due time that
moved. Instants are in March 2025, Europe/Sofia, Monday–Friday 09:00–17:30
(one business day is 8.5 hours); no public holiday between the 4th and 31st.
"""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from tickets import actions
from tickets.actions import sla as sweeps

pytestmark = pytest.mark.django_db

SOFIA = ZoneInfo("Europe/Sofia")
HOUR = 3600


def at(day, hour, minute=0):
    """Return 2025-03-`day` hour:minute in Sofia."""
    return datetime.datetime(2025, 3, day, hour, minute, tzinfo=SOFIA)


@pytest.fixture
def ticket(make_ticket):
    """A normal diplomas request filed Tuesday 11 March 10:00; first response due Wed 10:00."""
    t = make_ticket(now=at(11, 10))
    assert (t.first_response_due, t.resolution_due) == (at(12, 10), at(18, 10))
    return t


def reload(ticket):
    ticket.refresh_from_db()
    return ticket


def sweep(capture, now):
    mail.outbox.clear()
    with capture(execute=True):
        counts = sweeps.sweep(now=now)
    return counts, sorted(a for m in mail.outbox for a in m.to)


def test_waiting_before_any_answer_moves_the_first_response_target(
    cast, ticket, django_capture_on_commit_callbacks
):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="waiting", now=at(11, 10, 30))
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Ето файла", now=at(13, 10))
    ticket = reload(ticket)
    # Paused Tue 10:30-17:30 (7 h), Wed (8.5 h), Thu 09:00-10:00 (1 h).
    assert ticket.sla_paused_seconds == int(16.5 * HOUR)
    # 8.5 h + 16.5 h = 25 h of business time after Tue 10:00: Friday 09:30.
    assert ticket.first_response_due == at(14, 9, 30)
    assert ticket.resolution_due == at(20, 9, 30)
    counts, sent = sweep(django_capture_on_commit_callbacks, at(13, 10, 1))
    assert counts["breached"] == 0 and sent == []
    assert not reload(ticket).sla_breached


def test_a_pause_after_the_first_answer_leaves_the_first_response_alone(cast, ticket):
    actions.add_message(
        ticket=ticket,
        actor=cast.expert_x,
        text="Моля, изпратете снимка.",
        channel="console",
        new_status="waiting",
        now=at(11, 11),
    )
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Ето", now=at(12, 11))
    ticket = reload(ticket)
    assert ticket.first_response_at == at(11, 11)
    assert ticket.first_response_due == at(12, 10), "answered in time, target unchanged"
    assert ticket.sla_paused_seconds == int(8.5 * HOUR)
    assert ticket.resolution_due == at(19, 10)


def test_a_reopened_request_keeps_the_time_it_had_left(
    cast, ticket, django_capture_on_commit_callbacks
):
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Оправено", now=at(11, 11))
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved", now=at(12, 10))
    assert reload(ticket).resolution_due == at(18, 10), "visible while resolved"
    # Resolved with 4 business days (34 h) left; reopened eight days later.
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Пак не става", now=at(20, 10))
    ticket = reload(ticket)
    assert ticket.status == "open"
    assert ticket.resolution_due == at(26, 10)
    counts, sent = sweep(django_capture_on_commit_callbacks, at(20, 10, 5))
    assert counts["breached"] == 0 and sent == []


def test_a_request_late_before_it_was_resolved_stays_late_when_reopened(
    cast, ticket, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Гледаме", now=at(11, 11))
    counts, _sent = sweep(capture, at(18, 10, 1))
    assert counts["breached"] == 1
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved", now=at(18, 11))
    actions.change_status(ticket=ticket, actor=cast.teacher_a, status="open", now=at(19, 11))
    ticket = reload(ticket)
    assert ticket.sla_breached
    counts, sent = sweep(capture, at(19, 11, 1))
    assert counts == {"breached": 0, "warned": 0, "breach_mails": 0} and sent == []


def test_a_due_time_moved_by_a_pause_is_warned_again(
    cast, ticket, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Гледаме", now=at(11, 11))
    counts, sent = sweep(capture, at(18, 9, 30))  # due Tue 18 10:00
    assert counts["warned"] == 1 and sent == [cast.expert_x.email]

    actions.change_status(ticket=ticket, actor=cast.expert_x, status="waiting", now=at(18, 9, 40))
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Ето", now=at(24, 10))
    ticket = reload(ticket)
    assert ticket.resolution_due == at(24, 10, 20), "20 minutes were left at the pause"

    counts, _sent = sweep(capture, at(24, 10, 5))
    assert counts["warned"] == 1
    assert reload(ticket).sla_warned_at == at(24, 10, 5)
    counts, _sent = sweep(capture, at(24, 10, 10))
    assert counts["warned"] == 0


def test_a_warning_for_an_unchanged_due_time_is_not_repeated(
    cast, ticket, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    counts, _sent = sweep(capture, at(12, 9, 30))
    assert counts["warned"] == 1
    # A short pause inside the warning window: the new due time is still near.
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="waiting", now=at(12, 9, 31))
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="open", now=at(12, 9, 35))
    assert reload(ticket).sla_warned_at == at(12, 9, 30)
    counts, sent = sweep(capture, at(12, 9, 36))
    assert counts["warned"] == 0 and sent == []


def test_after_a_first_response_warning_the_resolution_target_is_warned_too(
    cast, ticket, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    counts, _sent = sweep(capture, at(12, 9, 30))  # first response due Wed 10:00
    assert counts["warned"] == 1
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Гледаме", now=at(12, 9, 50))
    counts, _sent = sweep(capture, at(17, 10))
    assert counts["warned"] == 0, "resolution (Tue 18 10:00) is not near yet"
    counts, _sent = sweep(capture, at(18, 9, 15))
    assert counts["warned"] == 1
    assert reload(ticket).sla_warned_at == at(18, 9, 15)
    counts, _sent = sweep(capture, at(18, 9, 45))
    assert counts["warned"] == 0


def test_a_cleared_breach_is_notified_again_when_the_new_target_is_missed(
    cast, ticket, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Гледаме", now=at(11, 11))
    counts, sent = sweep(capture, at(18, 10, 1))
    assert counts["breach_mails"] == 1
    actions.change_priority(ticket=ticket, actor=cast.expert_x, priority="low", now=at(18, 11))
    ticket = reload(ticket)
    assert not ticket.sla_breached and ticket.sla_breach_notified_at is None
    assert ticket.resolution_due == at(25, 10)
    counts, _sent = sweep(capture, at(25, 10, 1))
    assert counts["breached"] == 1 and counts["breach_mails"] == 1
    assert reload(ticket).sla_breach_notified_at == at(25, 10, 1)


def test_the_warning_for_a_moved_due_time_reaches_the_inbox(
    cast, ticket, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Гледаме", now=at(11, 11))
    sweep(capture, at(18, 9, 30))
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="waiting", now=at(18, 9, 40))
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Ето", now=at(24, 10))
    _counts, sent = sweep(capture, at(24, 10, 5))
    assert sent == [cast.expert_x.email]
