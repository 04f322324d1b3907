"""The SLA sweep: missed targets marked, warnings and breaches mailed, old resolutions closed.

Run by celery beat (tickets/tasks.py). Each ticket is changed in its own
transaction, with its history line, its outbox rows and a live update, like
any other action: with the broker down the mail waits in the outbox.
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tickets import events, notifications, outbox
from tickets.actions.base import announce
from tickets.actions.status import close_resolved
from tickets.models import Status, Ticket
from tickets.sla import working_now

BATCH = 1000
_OPEN = Q(status__in=(Status.NEW, Status.OPEN))


def _missed(ticket: Ticket, now) -> str:
    if (
        ticket.first_response_at is None
        and ticket.first_response_due
        and ticket.first_response_due <= now
    ):
        return "first_response"
    return "resolution"


@transaction.atomic
def mark_breach(ticket_id: int, now) -> bool:
    """Mark a missed target on one ticket, once; return whether it was marked now."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
    if ticket.sla_breached:
        return False
    ticket.sla_breached = True
    ticket.save(update_fields=["sla_breached"])
    events.sla_breached(ticket, which=_missed(ticket, now), at=now)
    announce(ticket.pk, "sla")
    return True


@transaction.atomic
def warn(ticket_id: int, near: datetime.datetime, now) -> bool:
    """Mail the warning that a target is near, unless this due time was warned already."""
    warn_before = datetime.timedelta(minutes=settings.SLA_WARN_BEFORE_MINUTES)
    # A warning at W covered every due time up to W + warn_before, so only a
    # later due time is warned again.
    not_yet_warned = Q(sla_warned_at__isnull=True) | Q(sla_warned_at__lt=near - warn_before)
    if not Ticket.objects.filter(not_yet_warned, pk=ticket_id).update(sla_warned_at=now):
        return False
    ticket = Ticket.objects.select_related("assignee").get(pk=ticket_id)
    outbox.notify("sla_warning", ticket, round_=now.isoformat())
    if ticket.assignee_id:
        notifications.tell("sla", recipient=ticket.assignee, ticket=ticket, now=now)
    return True


@transaction.atomic
def mail_breach(ticket_id: int, now) -> bool:
    """Mail the breach of a ticket once; return whether it was mailed now."""
    claimed = Ticket.objects.filter(pk=ticket_id, sla_breach_notified_at__isnull=True).update(
        sla_breach_notified_at=now
    )
    if not claimed:
        return False
    ticket = Ticket.objects.select_related("assignee").get(pk=ticket_id)
    outbox.notify("sla_breach", ticket, round_=now.isoformat())
    return True


def sweep(now=None) -> dict:
    """Mark breaches and send warnings; return counts.

    A breach is marked (and written to history) once, whenever it is found.
    The warning and breach mails go out once each, and only during the
    region's working hours: what is found at night is mailed in the morning.
    """
    now = now or timezone.now()
    warn_before = datetime.timedelta(minutes=settings.SLA_WARN_BEFORE_MINUTES)
    counts = {"breached": 0, "warned": 0, "breach_mails": 0}
    due_q = Q(first_response_at__isnull=True, first_response_due__lte=now) | Q(
        resolution_due__lte=now
    )
    overdue = Ticket.objects.filter(_OPEN, due_q, sla_breached=False).values_list("pk", flat=True)
    for ticket_id in overdue[:BATCH]:
        counts["breached"] += mark_breach(ticket_id, now)
    # A ticket warned before may need a new warning: its due time moved
    # (a pause, a reopening, a lower priority) or the first response came and
    # now the resolution target nears.
    soon_q = Q(first_response_at__isnull=True, first_response_due__lte=now + warn_before) | Q(
        resolution_due__lte=now + warn_before
    )
    warn_rows = Ticket.objects.filter(_OPEN, soon_q, sla_breached=False).values_list(
        "pk", "region_id", "first_response_at", "first_response_due", "resolution_due"
    )
    for ticket_id, region_id, answered_at, first_due, resolution_due in warn_rows[:BATCH]:
        near = min(d for d in (None if answered_at else first_due, resolution_due) if d)
        if near > now + warn_before or not working_now(now, region_id):
            continue
        counts["warned"] += warn(ticket_id, near, now)
    breached = Ticket.objects.filter(_OPEN, sla_breached=True, sla_breach_notified_at__isnull=True)
    for ticket_id, region_id in breached.values_list("pk", "region_id")[:BATCH]:
        if working_now(now, region_id):
            counts["breach_mails"] += mail_breach(ticket_id, now)
    return counts


def autoclose_resolved(now=None) -> int:
    """Close requests resolved longer ago than HELPDESK_AUTOCLOSE_DAYS; return how many."""
    now = now or timezone.now()
    limit = now - datetime.timedelta(days=settings.HELPDESK["AUTOCLOSE_DAYS"])
    ids = Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lt=limit).values_list(
        "pk", flat=True
    )[:5000]
    return sum(close_resolved(ticket_id=ticket_id, now=now) for ticket_id in ids)
