"""SLA with the database: calendars and policies from admin tables, due times on tickets.

The arithmetic is tickets.businesstime (pure). Due times are stored on the
ticket so that queues can sort and index them. While a ticket waits on the
requester the resolution clock stops: resolution_due is empty and the paused
business seconds are added back when it resumes.
"""

import datetime
import time
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets.businesstime import WorkCalendar, add_business_seconds, business_seconds_between
from tickets.models import (
    CalendarException,
    Priority,
    SLAPolicy,
    Status,
    Ticket,
    TicketEvent,
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


def targets_for(priority: str, competence_id: int | None) -> tuple[int, int]:
    """Return (first response, resolution) targets in business minutes."""
    policies = {
        p.competence_id: p
        for p in SLAPolicy.objects.filter(priority=priority).filter(
            Q(competence__isnull=True) | Q(competence_id=competence_id)
        )
    }
    policy = policies.get(competence_id) or policies.get(None)
    if policy is None:
        return DEFAULT_TARGETS[Priority(priority)]
    return policy.first_response_minutes, policy.resolution_minutes


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


def _working_now(now, region_id) -> bool:
    cal = calendar_for(region_id)
    local = timezone.localtime(now, cal.zone)
    if not cal.is_working_day(local.date()):
        return False
    return cal.day_start <= local.time() < cal.day_end


def sweep(now=None) -> dict:
    """Mark breaches and send warnings; return counts.

    A breach is marked (and written to history) once, whenever it is found.
    The warning and breach mails go out once each, and only during the
    region's working hours: what is found at night is mailed in the morning.
    """
    from tickets.tasks import send_sla_mail

    now = now or timezone.now()
    warn_before = datetime.timedelta(minutes=settings.SLA_WARN_BEFORE_MINUTES)
    counts = {"breached": 0, "warned": 0, "breach_mails": 0}
    open_q = Q(status__in=(Status.NEW, Status.OPEN))
    due_q = Q(first_response_at__isnull=True, first_response_due__lte=now) | Q(
        resolution_due__lte=now
    )
    for ticket_id in Ticket.objects.filter(open_q, due_q, sla_breached=False).values_list(
        "pk", flat=True
    )[:1000]:
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
            if ticket.sla_breached:
                continue
            which = (
                "first_response"
                if ticket.first_response_at is None
                and ticket.first_response_due
                and ticket.first_response_due <= now
                else "resolution"
            )
            ticket.sla_breached = True
            ticket.save(update_fields=["sla_breached"])
            TicketEvent.objects.create(
                ticket=ticket,
                channel="system",
                kind=TicketEvent.Kind.SLA,
                field=which,
                new_value="breached",
                note=_("The %(which)s target was missed.")
                % {"which": _("first response") if which == "first_response" else _("resolution")},
                created_at=now,
            )
            counts["breached"] += 1
    # Warnings and breach mails: only when the region is at work.
    soon_q = Q(first_response_at__isnull=True, first_response_due__lte=now + warn_before) | Q(
        resolution_due__lte=now + warn_before
    )
    # A ticket warned before may need a new warning: its due time moved
    # (a pause, a reopening, a lower priority) or the first response came and
    # now the resolution target nears. A warning at W covered every due time
    # up to W + warn_before, so only a later due time is warned again.
    warn_rows = Ticket.objects.filter(open_q, soon_q, sla_breached=False).values_list(
        "pk", "region_id", "first_response_at", "first_response_due", "resolution_due"
    )
    for ticket_id, region_id, answered_at, first_due, resolution_due in warn_rows[:1000]:
        near = min(d for d in (None if answered_at else first_due, resolution_due) if d)
        if near > now + warn_before or not _working_now(now, region_id):
            continue
        not_yet_warned = Q(sla_warned_at__isnull=True) | Q(sla_warned_at__lt=near - warn_before)
        if Ticket.objects.filter(not_yet_warned, pk=ticket_id).update(sla_warned_at=now):
            transaction.on_commit(lambda tid=ticket_id: send_sla_mail.delay("sla_warning", tid))
            counts["warned"] += 1
    breach_ids = Ticket.objects.filter(
        open_q, sla_breached=True, sla_breach_notified_at__isnull=True
    )
    for ticket_id, region_id in breach_ids.values_list("pk", "region_id")[:1000]:
        if not _working_now(now, region_id):
            continue
        if Ticket.objects.filter(pk=ticket_id, sla_breach_notified_at__isnull=True).update(
            sla_breach_notified_at=now
        ):
            transaction.on_commit(lambda tid=ticket_id: send_sla_mail.delay("sla_breach", tid))
            counts["breach_mails"] += 1
    return counts


def autoclose_resolved(now=None) -> int:
    """Close requests resolved longer ago than HELPDESK_AUTOCLOSE_DAYS; return how many."""
    from tickets.services import close_resolved

    now = now or timezone.now()
    limit = now - datetime.timedelta(days=settings.HELPDESK["AUTOCLOSE_DAYS"])
    ids = Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lt=limit).values_list(
        "pk", flat=True
    )[:5000]
    closed = 0
    for ticket_id in ids:
        if close_resolved(ticket_id=ticket_id, now=now):
            closed += 1
    return closed
