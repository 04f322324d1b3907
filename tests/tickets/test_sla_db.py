"""tickets.sla with the database: due times, the paused clock, sweeps and auto-close.

All instants are fixed in March 2025 (Europe/Sofia, no public holiday between
the 4th and the 31st); the default calendar is Monday–Friday 09:00–17:30, so
one business day is 510 minutes.
"""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from tickets import actions, sla
from tickets.actions import sla as sweeps
from tickets.models import CalendarException, SLAPolicy, Ticket, TicketEvent, WorkingHours

pytestmark = pytest.mark.django_db

SOFIA = ZoneInfo("Europe/Sofia")


def at(day, hour, minute=0, month=3):
    """Return 2025-`month`-`day` hour:minute in Sofia."""
    return datetime.datetime(2025, month, day, hour, minute, tzinfo=SOFIA)


TUESDAY = at(11, 10)  # Tuesday 11 March 2025, 10:00


@pytest.fixture
def ticket(make_ticket):
    """Teacher A's normal-priority diplomas ticket, filed Tuesday 10:00, assigned to expert X."""
    return make_ticket(now=TUESDAY)


def reload(ticket):
    ticket.refresh_from_db()
    return ticket


def sla_rows(ticket):
    return list(TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.SLA))


def sweep_and_mail(capture, now):
    """Run a sweep, commit its side effects, return (counts, recipients of mail sent)."""
    mail.outbox.clear()
    with capture(execute=True):
        counts = sweeps.sweep(now=now)
    return counts, sorted(address for m in mail.outbox for address in m.to)


# --- due times -------------------------------------------------------------------


def test_default_targets(cast, ticket, make_ticket):
    assert ticket.first_response_due == at(12, 10)  # 510 business minutes later
    assert ticket.resolution_due == at(18, 10)  # five business days
    urgent = make_ticket(actor=cast.director_a, priority="urgent", now=TUESDAY)
    assert urgent.first_response_due == at(11, 12)
    assert urgent.resolution_due == at(12, 10)
    low = make_ticket(actor=cast.director_a, priority="low", now=TUESDAY)
    assert low.first_response_due == at(14, 10)
    assert low.resolution_due == at(25, 10)


def test_filed_at_night_the_clock_starts_in_the_morning(make_ticket):
    t = make_ticket(now=at(11, 23))
    assert t.first_response_due == at(12, 9) + datetime.timedelta(minutes=510)


def test_policy_and_competence_override(cast, make_ticket):
    SLAPolicy.objects.create(priority="normal", first_response_minutes=60, resolution_minutes=240)
    SLAPolicy.objects.create(
        priority="normal",
        competence=cast.diplomas,
        first_response_minutes=30,
        resolution_minutes=90,
    )
    diplomas = make_ticket(now=TUESDAY)
    assert (diplomas.first_response_due, diplomas.resolution_due) == (
        at(11, 10, 30),
        at(11, 11, 30),
    )
    login = make_ticket(competence=cast.competences["login"], now=TUESDAY)
    assert (login.first_response_due, login.resolution_due) == (at(11, 11), at(11, 14))
    # Other priorities keep the defaults while no policy names them.
    high = make_ticket(actor=cast.director_a, priority="high", now=TUESDAY)
    assert high.first_response_due == at(11, 14)


def test_priority_change_recomputes_from_creation(cast, ticket):
    SLAPolicy.objects.create(priority="urgent", first_response_minutes=15, resolution_minutes=60)
    actions.change_priority(
        ticket=ticket, actor=cast.expert_x, priority="urgent", now=at(11, 10, 5)
    )
    ticket = reload(ticket)
    assert (ticket.first_response_due, ticket.resolution_due) == (at(11, 10, 15), at(11, 11))


def test_region_working_hours(cast, make_ticket):
    WorkingHours.objects.create(region=cast.region_x, opens_at="09:00", closes_at="13:00")
    sla.clear_caches()
    x = make_ticket(now=TUESDAY)
    # 510 minutes at four hours a day: Tue 3 h, Wed 4 h, Thu 1.5 h.
    assert x.first_response_due == at(13, 10, 30)
    y = make_ticket(actor=cast.teacher_b, institution=cast.school_b, now=TUESDAY)
    assert y.first_response_due == at(12, 10), "region Y keeps the default hours"


def test_default_working_hours_with_saturdays(cast, make_ticket):
    WorkingHours.objects.create(weekdays="0,1,2,3,4,5", opens_at="08:00", closes_at="16:00")
    sla.clear_caches()
    friday = make_ticket(now=at(14, 15))
    # Fri 1 h, Sat 8 h = 9 h > 8.5 h: Saturday 15:30.
    assert friday.first_response_due == at(15, 15, 30)


def test_calendar_exceptions(cast, make_ticket):
    CalendarException.objects.create(date=datetime.date(2025, 3, 12), kind="closed")
    CalendarException.objects.create(
        date=datetime.date(2025, 3, 13), kind="closed", region=cast.region_y
    )
    CalendarException.objects.create(date=datetime.date(2025, 3, 15), kind="open")
    sla.clear_caches()
    x = make_ticket(now=TUESDAY)
    assert x.first_response_due == at(13, 10), "Wednesday is closed nationwide"
    y = make_ticket(actor=cast.teacher_b, institution=cast.school_b, now=TUESDAY)
    assert y.first_response_due == at(14, 10), "region Y also closes on Thursday"
    friday = make_ticket(now=at(14, 16, 30))
    assert friday.first_response_due == at(15, 16, 30), "the working Saturday counts"


# --- the paused clock --------------------------------------------------------------------


def test_waiting_pauses_resolution_and_adds_the_paused_business_time(cast, ticket):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="waiting", now=at(11, 11))
    ticket = reload(ticket)
    assert ticket.resolution_due is None and ticket.sla_paused_at == at(11, 11)
    assert ticket.first_response_due == at(12, 10)
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Ето", now=at(11, 13))
    ticket = reload(ticket)
    assert ticket.status == "open" and ticket.sla_paused_at is None
    assert ticket.sla_paused_seconds == 2 * 3600
    assert ticket.resolution_due == at(18, 12)


def test_a_pause_over_night_counts_business_time_only(cast, ticket):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="waiting", now=at(11, 17))
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="open", now=at(12, 10))
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="waiting", now=at(12, 11))
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="open", now=at(12, 11, 30))
    ticket = reload(ticket)
    # 30 min on Tuesday evening + 1 h on Wednesday morning + 30 min.
    assert ticket.sla_paused_seconds == 2 * 3600
    assert ticket.resolution_due == at(18, 12)


def test_priority_change_while_waiting_keeps_the_clock_stopped(cast, ticket):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="waiting", now=at(11, 11))
    actions.change_priority(ticket=ticket, actor=cast.expert_x, priority="high", now=at(11, 12))
    assert reload(ticket).resolution_due is None


def test_a_waiting_ticket_is_not_breached(cast, ticket, django_capture_on_commit_callbacks):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="waiting", now=at(11, 11))
    actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="Моля, снимка", channel="console", now=at(11, 11)
    )
    ticket = reload(ticket)
    assert ticket.status == "waiting"
    counts, sent = sweep_and_mail(django_capture_on_commit_callbacks, at(31, 10))
    assert counts["breached"] == 0 and sent == []
    assert not reload(ticket).sla_breached


# --- sweeps -------------------------------------------------------------------------------


def test_breach_is_marked_and_written_once(cast, ticket, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    counts, sent = sweep_and_mail(capture, at(12, 10, 30))
    assert counts["breached"] == 1
    (row,) = sla_rows(ticket)
    assert (row.field, row.new_value, row.channel) == ("first_response", "breached", "system")
    assert reload(ticket).sla_breached
    assert sent == sorted([cast.expert_x.email, cast.supervisor_x.email])
    for minute in (31, 45, 59):
        counts, sent = sweep_and_mail(capture, at(12, 10, minute))
        assert counts == {"breached": 0, "warned": 0, "breach_mails": 0}
        assert sent == []
    assert len(sla_rows(ticket)) == 1


def test_resolution_breach_after_a_first_response(cast, ticket, django_capture_on_commit_callbacks):
    actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="Гледаме", channel="console", now=at(11, 11)
    )
    counts, _sent = sweep_and_mail(django_capture_on_commit_callbacks, at(13, 10))
    assert counts["breached"] == 0, "the first response came in time"
    counts, _sent = sweep_and_mail(django_capture_on_commit_callbacks, at(18, 10, 1))
    assert counts["breached"] == 1
    assert [r.field for r in sla_rows(ticket)] == ["resolution"]


def test_warning_then_breach_each_mailed_once(cast, ticket, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    counts, sent = sweep_and_mail(capture, at(12, 9, 30))  # due at 10:00, warn 60 min before
    assert counts["warned"] == 1 and sent == [cast.expert_x.email]
    assert reload(ticket).sla_warned_at == at(12, 9, 30)
    counts, sent = sweep_and_mail(capture, at(12, 9, 45))
    assert counts["warned"] == 0 and sent == []
    counts, sent = sweep_and_mail(capture, at(12, 10, 1))
    assert counts["breach_mails"] == 1
    assert sent == sorted([cast.expert_x.email, cast.supervisor_x.email])
    counts, sent = sweep_and_mail(capture, at(12, 11))
    assert sent == []


def test_unassigned_warning_goes_to_the_supervisor(
    cast, ticket, django_capture_on_commit_callbacks
):
    Ticket.objects.filter(pk=ticket.pk).update(assignee=None)
    _counts, sent = sweep_and_mail(django_capture_on_commit_callbacks, at(12, 9, 30))
    assert sent == [cast.supervisor_x.email]


@pytest.mark.parametrize(
    "filed, quiet, morning",
    [
        # night: due Wed 10:00, found Wed 20:00, mailed Thu 09:05
        (at(11, 10), at(12, 20), at(13, 9, 5)),
        # weekend: due Fri 14 March 10:00, found Saturday, mailed Monday
        (at(13, 10), at(15, 11), at(17, 9, 5)),
        # public holiday: due Fri 28 February, found on 3 March (Liberation Day)
        (at(27, 10, month=2), at(3, 11), at(4, 9, 5)),
    ],
    ids=["night", "weekend", "holiday"],
)
def test_no_mail_out_of_hours_then_sent_at_the_next_working_sweep(
    cast, make_ticket, django_capture_on_commit_callbacks, filed, quiet, morning
):
    capture = django_capture_on_commit_callbacks
    ticket = make_ticket(now=filed)
    counts, sent = sweep_and_mail(capture, quiet)
    assert counts["breached"] == 1, "the breach is marked whenever it is found"
    assert len(sla_rows(ticket)) == 1
    assert sent == [] and counts["breach_mails"] == 0 and counts["warned"] == 0
    assert reload(ticket).sla_breach_notified_at is None
    counts, sent = sweep_and_mail(capture, morning)
    assert counts == {"breached": 0, "warned": 0, "breach_mails": 1}
    assert sent == sorted([cast.expert_x.email, cast.supervisor_x.email])
    counts, sent = sweep_and_mail(capture, morning + datetime.timedelta(minutes=1))
    assert sent == []
    assert len(sla_rows(ticket)) == 1


def test_no_warning_at_night(cast, ticket, settings, django_capture_on_commit_callbacks):
    settings.SLA_WARN_BEFORE_MINUTES = 24 * 60
    counts, sent = sweep_and_mail(django_capture_on_commit_callbacks, at(11, 20))
    assert counts["warned"] == 0 and sent == []
    counts, sent = sweep_and_mail(django_capture_on_commit_callbacks, at(12, 9))
    assert counts["warned"] == 1 and sent == [cast.expert_x.email]


def test_no_mail_on_an_admin_closed_day(cast, ticket, django_capture_on_commit_callbacks):
    CalendarException.objects.create(date=datetime.date(2025, 3, 13), kind="closed")
    sla.clear_caches()
    counts, sent = sweep_and_mail(django_capture_on_commit_callbacks, at(13, 11))
    assert counts["breached"] == 1 and sent == []
    _counts, sent = sweep_and_mail(django_capture_on_commit_callbacks, at(14, 9))
    assert len(sent) == 2


# --- auto-close -----------------------------------------------------------------------------


def test_autoclose_resolved_after_the_period(cast, ticket, make_ticket, settings):
    days = settings.HELPDESK["AUTOCLOSE_DAYS"]
    resolved_at = at(12, 10)
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved", now=resolved_at)
    recent = make_ticket(now=TUESDAY)
    actions.change_status(
        ticket=recent,
        actor=cast.expert_x,
        status="resolved",
        now=resolved_at + datetime.timedelta(days=5),
    )
    still_open = make_ticket(now=TUESDAY)

    assert sweeps.autoclose_resolved(now=resolved_at + datetime.timedelta(days=days - 1)) == 0
    later = resolved_at + datetime.timedelta(days=days, minutes=1)
    assert sweeps.autoclose_resolved(now=later) == 1
    ticket = reload(ticket)
    assert ticket.status == "closed" and ticket.closed_at == later
    row = TicketEvent.objects.filter(ticket=ticket, kind="status").last()
    assert (row.old_value, row.new_value, row.channel) == ("resolved", "closed", "system")
    assert reload(recent).status == "resolved" and reload(still_open).status == "new"
    assert sweeps.autoclose_resolved(now=later) == 0


def test_a_priority_change_does_not_hide_a_missed_first_response(
    cast, ticket, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    sweep_and_mail(capture, at(12, 10, 30))
    actions.change_priority(ticket=ticket, actor=cast.expert_x, priority="high", now=at(12, 11))
    assert reload(ticket).sla_breached, "the first response is still late"
    counts, sent = sweep_and_mail(capture, at(12, 11, 1))
    assert counts["breached"] == 0 and sent == []
    assert len(sla_rows(ticket)) == 1


def test_a_later_target_clears_the_breach_flag(cast, ticket, django_capture_on_commit_callbacks):
    actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="Гледаме", channel="console", now=at(11, 11)
    )
    sweep_and_mail(django_capture_on_commit_callbacks, at(18, 10, 1))
    assert reload(ticket).sla_breached
    actions.change_priority(ticket=ticket, actor=cast.expert_x, priority="low", now=at(18, 11))
    assert not reload(ticket).sla_breached
