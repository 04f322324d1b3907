"""What a request is about and how urgent it is: priority, competence, the requester's rating."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import egn
from helpdesk.errors import DomainError, InvalidTransition, NotAllowed
from tickets import events, similarity
from tickets.actions.base import announce, lock, require_agent, require_login, require_visible
from tickets.assignment import route_new_ticket
from tickets.models import Channel, Competence, Priority, Status, Ticket
from tickets.sla import apply_sla

COMMENT_MAX = 2000


@transaction.atomic
def change_priority(*, ticket: Ticket, actor, priority: str, channel=Channel.CONSOLE, now=None):
    """Set the priority; the SLA due times follow (from the original start)."""
    now = now or timezone.now()
    require_agent(actor)
    require_visible(ticket, actor)
    if priority not in Priority.values:
        raise DomainError(_("Unknown priority."), field="priority")
    ticket = lock(ticket)
    old = ticket.priority
    if not set_priority(ticket, priority, now=now):
        return ticket
    events.priority_changed(ticket, actor=actor, channel=channel, old=old, new=priority, at=now)
    announce(ticket.pk, "priority")
    return ticket


def set_priority(ticket: Ticket, priority: str, *, now) -> bool:
    """Set the priority of a locked ticket without a history line; False if unchanged."""
    if priority not in Priority.values:
        raise DomainError(_("Unknown priority."), field="priority")
    if ticket.priority == priority:
        return False
    ticket.priority = priority
    ticket.updated_at = now
    apply_sla(ticket, now=now, keep_start=True)
    ticket.save()
    return True


@transaction.atomic
def change_competence(
    *,
    ticket: Ticket,
    actor,
    competence: Competence,
    channel=Channel.CONSOLE,
    reroute=False,
    now=None,
):
    """Set the competence area; with `reroute` the request is routed again under it."""
    now = now or timezone.now()
    require_agent(actor)
    require_visible(ticket, actor)
    if not isinstance(competence, Competence):
        raise DomainError(_("Choose a competence area."), field="competence")
    ticket = lock(ticket)
    old = ticket.competence
    if not set_competence(ticket, competence, now=now):
        return ticket
    events.competence_changed(ticket, actor=actor, channel=channel, old=old, new=competence, at=now)
    if reroute:
        ticket.assignee = None
        route_new_ticket(ticket, channel=channel, now=now, keep_competence=True)
        ticket.save()
    announce(ticket.pk, "competence")
    return ticket


def set_competence(ticket: Ticket, competence: Competence, *, now) -> bool:
    """Set the competence of a locked ticket without a history line; False if unchanged."""
    if ticket.competence_id == competence.pk:
        return False
    if not competence.is_active:
        raise DomainError(_("This competence area is no longer in use."), field="competence")
    ticket.competence = competence
    ticket.updated_at = now
    ticket.save(update_fields=["competence", "updated_at"])
    similarity.moved(ticket)  # its signature follows it to the new competence
    return True


@transaction.atomic
def rate(*, ticket: Ticket, actor, score: int, comment: str = "", now=None) -> Ticket:
    """Record the requester's satisfaction (1–5) with a resolved request."""
    now = now or timezone.now()
    require_login(actor)
    require_visible(ticket, actor)
    ticket = lock(ticket)
    if ticket.requester_id != actor.pk:
        raise NotAllowed(_("Only the requester may rate this request."))
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        raise InvalidTransition(_("A request can be rated once it is resolved."))
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise DomainError(_("Choose a rating from 1 to 5."), field="score")
    comment = egn.mask((comment or "").strip())[0]
    if len(comment) > COMMENT_MAX:
        raise DomainError(_("The comment is too long."), field="comment")
    ticket.satisfaction = score
    ticket.satisfaction_comment = comment
    ticket.save(update_fields=["satisfaction", "satisfaction_comment"])
    events.rated(ticket, actor=actor, score=score, comment=comment, at=now)
    return ticket


def _requester_address(ticket: Ticket) -> str:
    if ticket.requester_id:
        return (ticket.requester.email or "").lower()
    return (ticket.requester_email or "").lower()


@transaction.atomic
def rate_from_link(*, ticket: Ticket, address: str, score: int, comment: str = "", now=None):
    """Record a rating sent from the signed link of a resolution mail (no login).

    The link names the address the mail went to; it must still be the
    requester's. Sending the same rating again changes nothing and writes no
    second history line; a different one replaces it, as in the portal.
    """
    now = now or timezone.now()
    ticket = lock(ticket)
    if not address or _requester_address(ticket) != address.lower():
        raise NotAllowed(_("This rating link is not valid."))
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        raise InvalidTransition(_("A request can be rated once it is resolved."))
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise DomainError(_("Choose a rating from 1 to 5."), field="score")
    comment = egn.mask((comment or "").strip())[0]
    if len(comment) > COMMENT_MAX:
        raise DomainError(_("The comment is too long."), field="comment")
    if ticket.satisfaction == score and ticket.satisfaction_comment == comment:
        return ticket
    ticket.satisfaction = score
    ticket.satisfaction_comment = comment
    ticket.save(update_fields=["satisfaction", "satisfaction_comment"])
    actor = ticket.requester if ticket.requester_id else None
    events.rated(ticket, actor=actor, score=score, comment=comment, at=now, channel=Channel.EMAIL)
    announce(ticket.pk, "rated")
    return ticket
