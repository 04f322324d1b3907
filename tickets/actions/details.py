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
    if ticket.priority == priority:
        return ticket
    old = ticket.priority
    ticket.priority = priority
    ticket.updated_at = now
    apply_sla(ticket, now=now, keep_start=True)
    ticket.save()
    events.priority_changed(ticket, actor=actor, channel=channel, old=old, new=priority, at=now)
    announce(ticket.pk, "priority")
    return ticket


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
    if ticket.competence_id == competence.pk:
        return ticket
    if not competence.is_active:
        raise DomainError(_("This competence area is no longer in use."), field="competence")
    old = ticket.competence
    ticket.competence = competence
    ticket.updated_at = now
    ticket.save(update_fields=["competence", "updated_at"])
    similarity.moved(ticket)
    events.competence_changed(ticket, actor=actor, channel=channel, old=old, new=competence, at=now)
    if reroute:
        ticket.assignee = None
        route_new_ticket(ticket, channel=channel, now=now, keep_competence=True)
        ticket.save()
    announce(ticket.pk, "competence")
    return ticket


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
