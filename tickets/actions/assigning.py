"""Who works on a request: assigning, taking from a queue, escalating, handing over."""

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AgentProfile
from helpdesk.errors import Conflict, DomainError, InvalidTransition, NotAllowed
from tickets import events, notifications, policies
from tickets.actions.base import announce, lock, require_agent, require_visible
from tickets.assignment import pick_again
from tickets.models import OPEN_STATUSES, Channel, Ticket, Tier

_UNSET = object()


@transaction.atomic
def assign(
    *,
    ticket: Ticket,
    actor,
    assignee,
    reason: str = "",
    channel: str = Channel.CONSOLE,
    expected_assignee=_UNSET,
    now: datetime.datetime | None = None,
) -> Ticket:
    """Give the ticket to `assignee` (None returns it to the queue).

    With `expected_assignee` the change only happens if the ticket is still
    assigned as the caller saw it; otherwise Conflict is raised, so two agents
    taking one ticket at once cannot both win.
    """
    now = now or timezone.now()
    require_agent(actor)
    require_visible(ticket, actor)
    ticket = lock(ticket)
    old = ticket.assignee
    if not set_assignee(
        ticket, assignee, actor=actor, expected_assignee=expected_assignee, now=now
    ):
        return ticket
    events.assigned(
        ticket, actor=actor, channel=channel, old=old, new=assignee, note=reason, at=now
    )
    announce(ticket.pk, "assigned")
    return ticket


def set_assignee(ticket: Ticket, assignee, *, actor=None, expected_assignee=_UNSET, now) -> bool:
    """Give a locked ticket to `assignee` (checked) without a history line; False if no change.

    The step assign() and macros share; the assignee is told as they chose
    (tickets/notifications.py).
    """
    if expected_assignee is not _UNSET:
        expected_id = expected_assignee.pk if expected_assignee is not None else None
        if ticket.assignee_id != expected_id:
            raise Conflict(
                _("Someone else has just taken this request (%(who)s).")
                % {"who": ticket.assignee or _("returned to the queue")}
            )
    if not ticket.is_open:
        raise InvalidTransition(_("Only open requests can be assigned."))
    if assignee is not None:
        if not assignee.is_active or assignee.agent is None:
            raise DomainError(
                _("Requests can be assigned only to support staff."), field="assignee"
            )
        if not Ticket.objects.visible_to(assignee).filter(pk=ticket.pk).exists():
            raise DomainError(
                _("%(who)s does not work on requests of this region or tier.") % {"who": assignee},
                field="assignee",
            )
    old = ticket.assignee
    if (old.pk if old else None) == (assignee.pk if assignee else None):
        return False
    ticket.assignee = assignee
    ticket.updated_at = now
    ticket.save(update_fields=["assignee", "updated_at"])
    if assignee is not None:
        AgentProfile.objects.filter(user=assignee).update(last_assigned_at=now)
        notifications.tell("assigned", recipient=assignee, ticket=ticket, actor=actor, now=now)
    return True


def take(*, ticket: Ticket, actor, now=None) -> Ticket:
    """Take an unassigned ticket from a queue; Conflict if someone was faster."""
    return assign(
        ticket=ticket,
        actor=actor,
        assignee=actor,
        expected_assignee=None,
        reason=_("taken from the queue"),
        now=now,
    )


@transaction.atomic
def escalate(
    *, ticket: Ticket, actor, tier: str, reason: str, channel=Channel.CONSOLE, now=None
) -> Ticket:
    """Move the ticket to the central tier (or back to the region), unassigned."""
    now = now or timezone.now()
    require_agent(actor)
    require_visible(ticket, actor)
    if tier not in Tier.values:
        raise DomainError(_("Unknown tier."))
    if not (reason or "").strip():
        raise DomainError(_("Say why the request changes tier."), field="reason")
    ticket = lock(ticket)
    if ticket.tier == tier:
        raise InvalidTransition(_("The request is already there."))
    if tier == Tier.REGIONAL and ticket.region_id is None:
        raise DomainError(_("The request has no region; set the institution first."))
    old = ticket.tier
    ticket.tier = tier
    ticket.assignee = None
    ticket.updated_at = now
    ticket.save(update_fields=["tier", "assignee", "updated_at"])
    events.escalated(ticket, actor=actor, channel=channel, old=old, new=tier, reason=reason, at=now)
    announce(ticket.pk, "escalated")
    return ticket


def _check_handover(from_agent, actor, to_agent, reason: str) -> str:
    """Validate a hand-over; return the cleaned reason."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(_("Say why the requests are handed over."), field="reason")
    if from_agent is None or from_agent.agent is None:
        raise DomainError(_("Only support staff have requests to hand over."), field="from_agent")
    if actor is not None and not policies.may_hand_over(actor, from_agent):
        raise NotAllowed(
            _("Only a supervisor of the region or an administrator may hand over requests.")
        )
    if to_agent is not None:
        if to_agent.pk == from_agent.pk:
            raise DomainError(_("Choose a colleague, not the same person."), field="to_agent")
        if not to_agent.is_active or to_agent.agent is None:
            raise DomainError(
                _("Requests can be handed over only to support staff."), field="to_agent"
            )
    return reason


def _check_colleague_sees(to_agent, tickets) -> None:
    visible = set(
        Ticket.objects.visible_to(to_agent)
        .filter(pk__in=[t.pk for t in tickets])
        .values_list("pk", flat=True)
    )
    foreign = [t.reference for t in tickets if t.pk not in visible]
    if foreign:
        raise DomainError(
            _("%(who)s does not work on %(refs)s (another region or tier).")
            % {"who": to_agent, "refs": ", ".join(foreign)},
            field="to_agent",
        )


@transaction.atomic
def hand_over_open_tickets(
    *, from_agent, actor, to_agent=None, reason: str, channel=None, now=None
) -> list[Ticket]:
    """Move every open request of `from_agent` in one step; return the moved tickets.

    With `to_agent` all go to that colleague (who must work on each of them;
    a supervisor may load a colleague beyond capacity, and the history says
    so). Without, each request is routed again among the qualified experts of
    its region, competence and tier, leaving out `from_agent`; what nobody
    can take goes to the competence queue. Each request gets a history row
    with the reason. `actor` None means the system: the hand_over management
    command, run by someone with shell access.
    """
    now = now or timezone.now()
    reason = _check_handover(from_agent, actor, to_agent, reason)
    if channel is None:
        channel = Channel.SYSTEM if actor is None else Channel.CONSOLE
    tickets = list(
        Ticket.objects.select_for_update(of=("self",))
        .filter(assignee=from_agent, status__in=OPEN_STATUSES)
        .select_related("region", "competence")
        .order_by("pk")
    )
    if to_agent is not None and tickets:
        _check_colleague_sees(to_agent, tickets)
        load = Ticket.objects.filter(assignee=to_agent, status__in=OPEN_STATUSES).count()
        capacity = to_agent.agent.capacity

    handed_over = _("Handed over from %(who)s: %(reason)s") % {"who": from_agent, "reason": reason}
    for ticket in tickets:
        if to_agent is not None:
            load += 1
            new_id = to_agent.pk
            detail = f"assigned to {to_agent}: load {load}/{capacity}"
            if load > capacity:
                detail += " (over capacity)"
        else:
            new_id, detail = pick_again(ticket, exclude_user_id=from_agent.pk, now=now)
        ticket.assignee_id = new_id
        ticket.updated_at = now
        ticket.save(update_fields=["assignee", "updated_at"])
        events.assigned(
            ticket,
            actor=actor,
            channel=channel,
            old=from_agent,
            new=ticket.assignee if new_id else "",
            note=f"{handed_over}; {detail}",
            at=now,
        )
        announce(ticket.pk, "assigned")
    if to_agent is not None and tickets:
        AgentProfile.objects.filter(user=to_agent).update(last_assigned_at=now)
    return tickets
