"""Who may do what with a ticket: every such rule of the domain, in one place.

Doors (portal, console, API, mail, WebSocket) ask these functions instead of
deciding for themselves, and the actions raise with the same answers, so a
button that is shown is a button that works. What a person may *see* is the
other half of the rules: ``Ticket.objects.visible_to`` and
``Message.objects.visible_to`` in tickets/querysets.py.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from accounts.permissions import filing_institution_ids, is_agent, is_supervisor
from helpdesk.errors import InvalidTransition, NotAllowed
from tickets.models import OPEN_STATUSES, Status, Ticket

__all__ = [
    "RequesterActions",
    "check_requester_status",
    "is_agent",
    "is_supervisor",
    "may_add_colleagues",
    "may_hand_over",
    "may_remove_watcher",
    "may_see_internal",
    "open_for_reply",
    "reopen_deadline",
    "requester_actions",
    "within_reopen_period",
]


def may_see_internal(user) -> bool:
    """Internal notes (and files on them) are for support staff only."""
    return is_agent(user)


def reopen_deadline(ticket: Ticket) -> datetime.datetime | None:
    """Until when a resolved ticket may be reopened by its requester (None: no known limit)."""
    if ticket.status != Status.RESOLVED or ticket.resolved_at is None:
        return None
    return ticket.resolved_at + datetime.timedelta(days=settings.HELPDESK["REOPEN_DAYS"])


def within_reopen_period(ticket: Ticket, now: datetime.datetime) -> bool:
    """Whether a resolved ticket may still be reopened by its requester at `now`."""
    if ticket.resolved_at is None:
        return True
    days = settings.HELPDESK["REOPEN_DAYS"]
    return now - ticket.resolved_at <= datetime.timedelta(days=days)


def check_requester_status(ticket: Ticket, status: str, now: datetime.datetime) -> None:
    """Raise unless institution staff may move `ticket` to `status`.

    Institution staff may mark their request solved, or reopen it for a while
    after resolution; everything else is the experts' call.
    """
    if status == Status.RESOLVED and ticket.status in OPEN_STATUSES:
        return
    if status == Status.OPEN and ticket.status == Status.RESOLVED:
        if not within_reopen_period(ticket, now):
            raise InvalidTransition(
                _("This request was resolved more than %(n)s days ago; file a new one.")
                % {"n": settings.HELPDESK["REOPEN_DAYS"]}
            )
        return
    raise NotAllowed(_("Only support staff may set this status."))


def open_for_reply(ticket: Ticket, actor, now: datetime.datetime) -> bool:
    """Whether a reply may still join the ticket (else the person files a new one).

    Staff may always write; requesters until the ticket is closed, or while
    a resolved one may still be reopened.
    """
    if is_agent(actor):
        return True
    if ticket.status == Status.CLOSED or ticket.merged_into_id:
        return False
    if ticket.status == Status.RESOLVED:
        return within_reopen_period(ticket, now)
    return True


@dataclass(frozen=True)
class RequesterActions:
    """What the portal offers on a ticket page; each flag matches what the action accepts."""

    can_reply: bool
    can_solve: bool
    can_reopen: bool
    can_rate: bool
    reopen_deadline: datetime.datetime | None


def requester_actions(user, ticket: Ticket, now: datetime.datetime) -> RequesterActions:
    """Return what `user` (institution staff who can see `ticket`) may do on it at `now`."""
    live = not ticket.merged_into_id
    deadline = reopen_deadline(ticket)
    return RequesterActions(
        can_reply=live and ticket.status != Status.CLOSED,
        can_solve=live and ticket.status in OPEN_STATUSES,
        can_reopen=ticket.status == Status.RESOLVED and within_reopen_period(ticket, now),
        can_rate=ticket.requester_id == user.pk
        and ticket.status in (Status.RESOLVED, Status.CLOSED),
        reopen_deadline=deadline,
    )


def may_hand_over(actor, agent_user) -> bool:
    """Whether `actor` may hand over the open requests of `agent_user`.

    Administrators may; so may supervisors of the agent's region and national
    supervisors (no region).
    """
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return False
    if actor.is_superuser:
        return True
    if not is_supervisor(actor):
        return False
    supervisor, agent = actor.agent, agent_user.agent
    return supervisor.region_id is None or (
        agent is not None and supervisor.region_id == agent.region_id
    )


def may_add_colleagues(actor, ticket: Ticket) -> bool:
    """Staff of the request's institution (its requester, a director) may put a colleague on it."""
    if is_agent(actor):
        return True
    return (
        actor is not None
        and actor.is_authenticated
        and ticket.institution_id is not None
        and ticket.institution_id in filing_institution_ids(actor)
    )


def may_remove_watcher(actor, ticket: Ticket, watcher) -> bool:
    """An agent, the requester, whoever added them, or the person themselves."""
    if actor is None or not actor.is_authenticated:
        return False
    return (
        is_agent(actor)
        or ticket.requester_id == actor.pk
        or watcher.user_id == actor.pk
        or watcher.added_by_id == actor.pk
    )
