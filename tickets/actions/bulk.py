"""One action on many requests at once, each in its own transaction."""

from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.errors import DomainError, InvalidTransition
from tickets.actions.assigning import assign, take
from tickets.actions.base import require_agent
from tickets.actions.conversation import add_message
from tickets.actions.details import change_priority
from tickets.actions.status import change_status
from tickets.actions.tagging import change_tags, parse_tags
from tickets.models import Channel, Message, Status, Ticket


@dataclass
class BatchResult:
    """What a batch action did: references done, and (reference, reason) that failed."""

    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    message: Message | None = None


BULK_ACTIONS = ("assign", "take", "release", "status", "priority", "close", "tag", "untag")


def _close(ticket, *, actor, text, now) -> None:
    if Ticket.objects.filter(pk=ticket.pk, status=Status.CLOSED).exists():
        raise InvalidTransition(_("The request is already closed."))
    if (text or "").strip():
        add_message(
            ticket=ticket,
            actor=actor,
            text=text,
            channel=Channel.CONSOLE,
            new_status=Status.CLOSED,
            now=now,
        )
    else:
        change_status(ticket=ticket, actor=actor, status=Status.CLOSED, now=now)


def bulk_update(
    *, tickets, actor, action: str, value=None, text: str = "", now=None
) -> BatchResult:
    """Apply one action to many tickets, each in its own transaction.

    Actions: assign (value: a user), take, release (back to the queue),
    status (value), priority (value), close (with `text` as a public reply
    first, when given), tag and untag (value: tags, a list or comma-separated
    text). One ticket refusing does not stop the others.
    """
    require_agent(actor)
    if action not in BULK_ACTIONS:
        raise DomainError(_("Unknown action."))
    if action in ("tag", "untag"):
        value = parse_tags(value if isinstance(value, str) else ",".join(value or ()))
        if not value:
            raise DomainError(_("Type a tag."), field="tags")
    now = now or timezone.now()
    steps = {
        "assign": lambda t: assign(ticket=t, actor=actor, assignee=value, reason=text, now=now),
        "take": lambda t: take(ticket=t, actor=actor, now=now),
        "release": lambda t: assign(ticket=t, actor=actor, assignee=None, reason=text, now=now),
        "status": lambda t: change_status(
            ticket=t, actor=actor, status=value, reason=text, now=now
        ),
        "priority": lambda t: change_priority(ticket=t, actor=actor, priority=value, now=now),
        "close": lambda t: _close(t, actor=actor, text=text, now=now),
        "tag": lambda t: change_tags(ticket=t, actor=actor, add=value, now=now),
        "untag": lambda t: change_tags(ticket=t, actor=actor, remove=value, now=now),
    }
    result = BatchResult()
    for ticket in tickets:
        try:
            steps[action](ticket)
        except DomainError as error:
            result.failed.append((ticket.reference, str(error.message)))
        else:
            result.done.append(ticket.reference)
    return result
