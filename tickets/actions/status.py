"""Moving a request through its life: open, waiting, resolved, closed, reopened."""

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import is_agent
from helpdesk.errors import DomainError, InvalidTransition
from tickets import events, outbox, policies
from tickets.actions.base import announce, lock, require_login, require_visible
from tickets.models import TRANSITIONS, Channel, Status, Ticket
from tickets.sla import on_status_change


@transaction.atomic
def change_status(
    *,
    ticket: Ticket,
    actor,
    status: str,
    channel: str = Channel.CONSOLE,
    reason: str = "",
    notify: bool = True,
    now: datetime.datetime | None = None,
) -> Ticket:
    """Move the ticket to `status` if the transition and the actor allow it."""
    now = now or timezone.now()
    if status not in Status.values:
        raise DomainError(_("Unknown status."), field="status")
    require_login(actor)
    require_visible(ticket, actor)
    ticket = lock(ticket)
    if not is_agent(actor):
        policies.check_requester_status(ticket, status, now)
    move(ticket, actor=actor, status=status, channel=channel, now=now, note=reason, notify=notify)
    return ticket


def move(ticket, *, actor, status, channel, now, note="", notify=True, record=True) -> None:
    """Change the status of a ticket the caller has locked; checks only the transition.

    The step every status change shares (replies, merges, sweeps): the SLA
    clock pauses or resumes, the history gets a line (unless the caller
    writes one of its own: `record` False, a macro), the requester is told
    of a resolution.
    """
    old = ticket.status
    if status == old:
        return
    if status not in TRANSITIONS[Status(old)]:
        raise InvalidTransition(
            _("A request cannot go from “%(old)s” to “%(new)s”.")
            % {"old": Status(old).label, "new": Status(status).label}
        )
    on_status_change(ticket, old=old, new=status, now=now)
    ticket.status = status
    ticket.updated_at = now
    if status == Status.RESOLVED:
        ticket.resolved_at = now
    elif status == Status.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    elif old == Status.RESOLVED:
        ticket.resolved_at = None
    ticket.save()
    if record:
        events.status_changed(
            ticket, actor=actor, channel=channel, old=old, new=status, note=note, at=now
        )
    if status == Status.RESOLVED and notify:
        outbox.notify("resolved", ticket)
    # The caller's locked copy: the live update needs no read after the commit.
    announce(ticket.pk, "status", ticket=ticket)


@transaction.atomic
def close_resolved(*, ticket_id: int, now=None) -> bool:
    """Close a resolved request whose reopen period has passed (a system action)."""
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
    if ticket is None or ticket.status != Status.RESOLVED:
        return False
    move(
        ticket,
        actor=None,
        status=Status.CLOSED,
        channel=Channel.SYSTEM,
        now=now,
        note=_("Closed automatically after the reopen period."),
    )
    return True
