"""Macros: one click that answers and changes a request, as one change with one history line."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.errors import DomainError, NotAllowed
from tickets import events, placeholders
from tickets.actions.assigning import set_assignee
from tickets.actions.base import announce, lock, require_agent, require_visible
from tickets.actions.conversation import add_message
from tickets.actions.details import set_competence, set_priority
from tickets.actions.status import move
from tickets.actions.tagging import apply_tag_changes, parse_tags
from tickets.models import Channel, Macro, Message, Status, Ticket


@dataclass
class MacroResult:
    ticket: Ticket
    message: Message | None = None
    changes: list[str] = field(default_factory=list)


def macros_for(user):
    """The macros `user` may apply: the shared ones and their own, active."""
    return Macro.objects.filter(Q(owner__isnull=True) | Q(owner=user), is_active=True)


def _check_macro(macro: Macro, actor) -> None:
    if not isinstance(macro, Macro) or not macro.is_active:
        raise DomainError(_("This macro is not in use."), field="macro")
    if macro.owner_id is not None and macro.owner_id != actor.pk:
        raise NotAllowed(_("This macro is someone else's."))
    if macro.reply_kind not in Message.Kind.values:
        raise DomainError(_("Unknown message kind."))
    if (
        macro.body.strip()
        and macro.reply_kind == Message.Kind.INTERNAL
        and macro.status in (Status.RESOLVED, Status.CLOSED)
    ):
        raise DomainError(_("Resolve or close with a public reply, not with an internal note."))


@transaction.atomic
def apply_macro(
    *,
    ticket: Ticket,
    actor,
    macro: Macro,
    kb_link: Callable[[str], str | None] | None = None,
    minutes: int | None = None,
    channel: str = Channel.CONSOLE,
    now: datetime.datetime | None = None,
) -> MacroResult:
    """Apply `macro` to `ticket`: its priority, competence, assignee, tags, text and status, at once.

    Everything happens in one transaction and the history gets one line
    naming the macro and each change; any refusal (a transition that is not
    allowed, an assignee who may not see the request, a placeholder that
    cannot be filled) writes nothing. `kb_link(slug)` turns {{kb:slug}} into
    an article's address (the door knows the knowledge base; the domain does
    not). Mail (the reply to the requester, a resolution) goes to the outbox
    as with each change on its own.
    """
    now = now or timezone.now()
    require_agent(actor)
    require_visible(ticket, actor)
    _check_macro(macro, actor)
    text = ""
    if macro.body.strip():
        filled = placeholders.fill(
            macro.body, placeholders.values_for(ticket, actor), kb_link=kb_link
        )
        if not filled.complete:
            raise DomainError(
                _("The macro has placeholders that cannot be filled: %(names)s")
                % {"names": ", ".join(filled.unknown[:10])}
            )
        text = filled.text
    ticket = lock(ticket)
    if ticket.merged_into_id:
        raise DomainError(_("This request was merged into another one."))
    result = MacroResult(ticket=ticket)
    changes = result.changes

    if macro.priority:
        old = ticket.get_priority_display()
        if set_priority(ticket, macro.priority, now=now):
            changes.append(
                _("priority: %(old)s → %(new)s") % _pair(old, ticket.get_priority_display())
            )
    if macro.competence_id:
        old = ticket.competence
        if set_competence(ticket, macro.competence, now=now):
            changes.append(_("competence: %(old)s → %(new)s") % _pair(old or "—", macro.competence))
    if macro.assign:
        old = ticket.assignee
        new = actor if macro.assign == Macro.Assign.ME else None
        if set_assignee(ticket, new, actor=actor, now=now):
            changes.append(
                _("assignee: %(old)s → %(new)s") % _pair(old or _("queue"), new or _("queue"))
            )

    if macro.add_tags or macro.remove_tags:
        added, removed = apply_tag_changes(
            ticket,
            actor=actor,
            add=parse_tags(macro.add_tags),
            remove=parse_tags(macro.remove_tags),
            now=now,
        )
        if added:
            changes.append(_("tags added: %(names)s") % {"names": ", ".join(t.name for t in added)})
        if removed:
            changes.append(
                _("tags removed: %(names)s") % {"names": ", ".join(t.name for t in removed)}
            )

    status_before = ticket.status
    if text:
        message = add_message(
            ticket=ticket,
            actor=actor,
            text=text,
            kind=macro.reply_kind,
            channel=channel,
            new_status=macro.status or None,
            minutes=minutes,
            record=False,
            now=now,
        )
        result.message = message
        changes.append(
            (
                _("internal note #%(id)s")
                if message.kind == Message.Kind.INTERNAL
                else _("reply #%(id)s")
            )
            % {"id": message.pk}
        )
        ticket.refresh_from_db()
    elif macro.status:
        move(ticket, actor=actor, status=macro.status, channel=channel, now=now, record=False)
    if ticket.status != status_before:
        changes.insert(
            0,
            _("status: %(old)s → %(new)s")
            % _pair(Status(status_before).label, Status(ticket.status).label),
        )
    if not changes:
        raise DomainError(_("The macro changes nothing on this request."), field="macro")
    events.macro_applied(
        ticket, actor=actor, channel=channel, title=macro.title, changes=changes, at=now
    )
    announce(ticket.pk, "macro")
    result.ticket = ticket
    return result


def _pair(old, new) -> dict[str, str]:
    return {"old": str(old), "new": str(new)}
