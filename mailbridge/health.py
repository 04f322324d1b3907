"""Readiness checks of the mail bridge (named in settings.HEALTH_CHECKS).

``mailbox_polled``: every active mailbox was read without an error recently
(Mailbox.last_success_at, written by each pass of the poller).
``outbox_backlog``: the mail the helpdesk owes people is going out (how many
rows wait, and how long the oldest has waited).
"""

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from helpdesk.health import check
from mailbridge.models import Mailbox
from tickets.models import OutboundMail


@check(critical=False)
def mailbox_polled() -> dict:
    """Fail when an active mailbox has not been read successfully for HEALTH_MAILBOX_MAX_AGE s."""
    limit = settings.HEALTH_MAILBOX_MAX_AGE
    now = timezone.now()
    ages, stale = {}, []
    for name, last in Mailbox.objects.filter(is_active=True).values_list("name", "last_success_at"):
        age = None if last is None else max(0, round((now - last).total_seconds()))
        ages[name] = age
        if age is None or age > limit:
            stale.append(name)
    if stale:
        raise RuntimeError(
            f"not read successfully for over {limit} s: {', '.join(sorted(stale))} "
            f"(last successful poll, seconds ago: {ages})"
        )
    return {"mailboxes": len(ages), "last_success_age_s": ages}


@check(critical=False)
def outbox_backlog() -> dict:
    """Fail when the oldest unsent mail waited over HEALTH_OUTBOX_MAX_AGE s, or too many wait."""
    row = OutboundMail.objects.filter(state=OutboundMail.State.PENDING).aggregate(
        pending=Count("pk"), oldest=Min("created_at")
    )
    pending, oldest = row["pending"], row["oldest"]
    age = 0 if oldest is None else max(0, round((timezone.now() - oldest).total_seconds()))
    detail = {"pending": pending, "oldest_pending_age_s": age}
    if age > settings.HEALTH_OUTBOX_MAX_AGE:
        raise RuntimeError(
            f"the oldest unsent mail waits for {age} s (limit {settings.HEALTH_OUTBOX_MAX_AGE} s); "
            f"{pending} waiting"
        )
    if pending > settings.HEALTH_OUTBOX_MAX_PENDING:
        raise RuntimeError(
            f"{pending} mails wait to be sent (limit {settings.HEALTH_OUTBOX_MAX_PENDING})"
        )
    return detail
