"""SLA with the database: calendars and policies from admin tables, due times on tickets.

The arithmetic is tickets.businesstime (pure). Due times are stored on the
ticket so that queues can sort and index them. While a ticket waits on the
requester the resolution clock stops: resolution_due is empty and the paused
business seconds are added back when it resumes.
"""

import time
from functools import lru_cache

from django.db.models import Q
from django.utils import timezone

from tickets.businesstime import WorkCalendar, add_business_seconds, business_seconds_between
from tickets.models import (
    CalendarException,
    Priority,
    SLAPolicy,
    Status,
    Ticket,
    WorkingHours,
)

# Business minutes, used until an administrator defines policies.
DEFAULT_TARGETS = {
    Priority.URGENT: (120, 510),
    Priority.HIGH: (240, 2 * 510),
    Priority.NORMAL: (510, 5 * 510),
    Priority.LOW: (3 * 510, 10 * 510),
}
_CACHE_SECONDS = 60


def _ttl_bucket() -> int:
    return int(time.monotonic() // _CACHE_SECONDS)


@lru_cache(maxsize=64)
def _calendar(region_id: int | None, _bucket: int) -> WorkCalendar:
    hours = WorkingHours.objects.filter(region_id=region_id).first() if region_id else None
    hours = hours or WorkingHours.objects.filter(region__isnull=True).first()
    exceptions = CalendarException.objects.filter(Q(region__isnull=True) | Q(region_id=region_id))
    closed = frozenset(e.date for e in exceptions if e.kind == CalendarException.Kind.CLOSED)
    opened = frozenset(e.date for e in exceptions if e.kind == CalendarException.Kind.OPEN)
    if hours is None:
        return WorkCalendar(extra_closed_days=closed, extra_open_days=opened)
    return WorkCalendar(
        weekdays=hours.weekday_set(),
        day_start=hours.opens_at,
        day_end=hours.closes_at,
        extra_closed_days=closed,
        extra_open_days=opened,
    )


def calendar_for(region_id: int | None) -> WorkCalendar:
    """Return the working calendar of a region (refreshed every minute)."""
    return _calendar(region_id, _ttl_bucket())


def clear_caches() -> None:
    _calendar.cache_clear()
    _targets.cache_clear()


@lru_cache(maxsize=4)
def _targets(_bucket: int) -> dict[tuple[str, int | None], tuple[int, int]]:
    """Every SLA policy, by (priority, competence id or None); a small table read once a minute."""
    return {
        (p.priority, p.competence_id): (p.first_response_minutes, p.resolution_minutes)
        for p in SLAPolicy.objects.all()
    }


def targets_for(priority: str, competence_id: int | None) -> tuple[int, int]:
    """Return (first response, resolution) targets in business minutes."""
    table = _targets(_ttl_bucket())
    found = table.get((priority, competence_id)) if competence_id is not None else None
    found = found or table.get((priority, None))
    return found or DEFAULT_TARGETS[Priority(priority)]


def apply_sla(ticket: Ticket, *, now=None, keep_start=False) -> None:
    """Set the ticket's due times from its priority, competence and calendar."""
    first_minutes, resolution_minutes = targets_for(ticket.priority, ticket.competence_id)
    cal = calendar_for(ticket.region_id)
    start = ticket.created_at
    if ticket.first_response_at is None:
        # Paused time before any answer (waiting on the requester) moves the
        # first response target too; after the answer it no longer matters.
        ticket.first_response_due = add_business_seconds(
            start, first_minutes * 60 + ticket.sla_paused_seconds, cal
        )
    if ticket.status == Status.WAITING and ticket.sla_paused_at is not None:
        ticket.resolution_due = None
    else:
        ticket.resolution_due = add_business_seconds(
            start, resolution_minutes * 60 + ticket.sla_paused_seconds, cal
        )
    now = now or timezone.now()
    # A missed first response stays a breach whatever the new resolution target.
    first_missed = (
        ticket.first_response_at is None
        and ticket.first_response_due is not None
        and ticket.first_response_due <= now
    )
    if ticket.resolution_due and ticket.resolution_due > now and not first_missed:
        if ticket.sla_breached:
            # A new, later target: its breach would be a new one, mailed again.
            ticket.sla_breach_notified_at = None
        ticket.sla_breached = False


def on_status_change(ticket: Ticket, *, old: str, new: str, now) -> None:
    """Pause the clock while waiting on the requester, resume afterwards.

    A resolved request that is reopened also waited on its requester (to
    confirm or reopen), so the business time since resolution is added to the
    paused time as well; the resolution due time stays visible while resolved.
    """
    cal = calendar_for(ticket.region_id)
    if new == Status.WAITING and ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
        ticket.resolution_due = None
    elif old == Status.WAITING and ticket.sla_paused_at is not None:
        paused = business_seconds_between(ticket.sla_paused_at, now, cal)
        ticket.sla_paused_seconds += int(paused)
        ticket.sla_paused_at = None
        ticket.status = new
        apply_sla(ticket, now=now)
    elif old == Status.RESOLVED and new == Status.OPEN and ticket.resolved_at:
        paused = business_seconds_between(min(ticket.resolved_at, now), now, cal)
        ticket.sla_paused_seconds += int(paused)
        ticket.status = new
        apply_sla(ticket, now=now)


def working_now(now, region_id) -> bool:
    """Whether `now` is within the working hours of the region's calendar."""
    cal = calendar_for(region_id)
    local = timezone.localtime(now, cal.zone)
    if not cal.is_working_day(local.date()):
        return False
    return cal.day_start <= local.time() < cal.day_end
