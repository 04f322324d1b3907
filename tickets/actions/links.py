"""How requests relate: merging duplicates, related requests, mass incidents."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.errors import DomainError, InvalidTransition
from helpdesk.uploads import CheckedFile
from tickets import events, outbox, search
from tickets.actions.base import (
    announce,
    lock,
    lock_pair,
    require_agent,
    require_visible,
)
from tickets.actions.bulk import BatchResult
from tickets.actions.conversation import add_message
from tickets.actions.status import change_status, move
from tickets.models import (
    Attachment,
    Channel,
    MailThreadKey,
    Message,
    Status,
    Ticket,
    Watcher,
)


def _requester_address(ticket: Ticket) -> str:
    return (ticket.requester.email if ticket.requester_id else ticket.requester_email) or ""


def _move_people(source: Ticket, target: Ticket, *, actor, channel, now) -> None:
    """The source's requester and watchers follow the target from now on (with history).

    Whoever is already on the target, or is its requester, is not added twice.
    """
    target_email = _requester_address(target).lower()
    have_users = set(
        Watcher.objects.filter(ticket=target, user__isnull=False).values_list("user_id", flat=True)
    )
    have_emails = set(
        Watcher.objects.filter(ticket=target, user__isnull=True).values_list("email", flat=True)
    )
    wanted = []  # (user, email, source), in order: the source's requester first
    if source.requester_id:
        wanted.append((source.requester, "", Watcher.Source.MERGE))
    elif source.requester_email:
        wanted.append((None, source.requester_email.lower(), Watcher.Source.MERGE))
    for watcher in Watcher.objects.filter(ticket=source).select_related("user"):
        wanted.append((watcher.user, watcher.email, watcher.source))
    for user, email, origin in wanted:
        address = (user.email if user is not None else email).lower()
        if not address or address == target_email:
            continue
        if user is not None and (user.pk == target.requester_id or user.pk in have_users):
            continue
        if user is None and email in have_emails:
            continue
        Watcher.objects.create(
            ticket=target, user=user, email=email, source=origin, added_by=actor, created_at=now
        )
        if user is not None:
            have_users.add(user.pk)
        else:
            have_emails.add(email)
        events.watcher_added(target, actor=actor, channel=channel, address=address, at=now)


def _move_conversation(source: Ticket, target: Ticket) -> None:
    """Move messages, files, mail threads and incident members of `source` to `target`."""
    Message.objects.filter(ticket=source).update(ticket=target)
    Attachment.objects.filter(ticket=source).update(ticket=target)
    MailThreadKey.objects.filter(ticket=source).update(ticket=target)
    Ticket.objects.filter(parent=source).update(parent=target)
    # A queryset update sends no signals: the search documents follow by hand.
    search.refresh([source.pk, target.pk])
    if source.is_incident:
        target.is_incident = True
    stats = Message.objects.filter(ticket=target).aggregate(count=Count("id"), last=Max("id"))
    target.message_count = stats["count"] or 0
    target.last_message_id = stats["last"]
    target.has_attachments = Attachment.objects.filter(ticket=target, rejected_reason="").exists()


@transaction.atomic
def merge(
    *, source: Ticket, target: Ticket, actor, channel=Channel.CONSOLE, notify=True, now=None
) -> Ticket:
    """Merge the duplicate `source` into `target`; return the target.

    The conversation, attachments and e-mail threads of the source move to
    the target, so a reply to an old mail lands there. The source is closed
    and points at the target (its reference keeps resolving). Its requester
    is told, and, with its watchers, follows the target when someone else.
    """
    now = now or timezone.now()
    require_agent(actor)
    if source.pk == target.pk:
        raise DomainError(_("A request cannot be merged into itself."))
    require_visible(source, actor)
    require_visible(target, actor)
    source, target = lock_pair(source, target)
    if source.merged_into_id:
        raise InvalidTransition(
            _("%(ref)s is already merged into another request.") % {"ref": source.reference}
        )
    if target.merged_into_id:
        raise DomainError(
            _("%(ref)s was itself merged into another request; merge into that one.")
            % {"ref": target.reference}
        )
    if target.status == Status.CLOSED:
        raise InvalidTransition(_("A request cannot be merged into a closed one."))
    _move_conversation(source, target)
    _move_people(source, target, actor=actor, channel=channel, now=now)
    target.updated_at = now
    target.save()
    target.related.add(source)

    source.merged_into = target
    source.message_count = 0
    source.has_attachments = False
    source.save(update_fields=["merged_into", "message_count", "has_attachments"])
    if source.status != Status.CLOSED:
        move(
            source,
            actor=actor,
            status=Status.CLOSED,
            channel=channel,
            now=now,
            note=_("Merged into %(ref)s") % {"ref": target.reference},
            notify=False,
        )
    events.merged_into(source, target=target, actor=actor, channel=channel, at=now)
    events.merged_from(target, source=source, actor=actor, channel=channel, at=now)
    if notify:
        outbox.notify("merged", source)
    announce(source.pk, "merged")
    announce(target.pk, "merged")
    return target


@transaction.atomic
def link_related(*, ticket: Ticket, other: Ticket, actor, channel=Channel.CONSOLE, now=None):
    """Mark two tickets as related (both ways); return `ticket`."""
    now = now or timezone.now()
    require_agent(actor)
    if ticket.pk == other.pk:
        raise DomainError(_("A request cannot be related to itself."))
    require_visible(ticket, actor)
    require_visible(other, actor)
    ticket, other = lock_pair(ticket, other)
    if ticket.related.filter(pk=other.pk).exists():
        return ticket
    ticket.related.add(other)
    for one, two in ((ticket, other), (other, ticket)):
        events.related_linked(one, other=two, actor=actor, channel=channel, at=now)
        announce(one.pk, "linked")
    return ticket


@transaction.atomic
def unlink_related(*, ticket: Ticket, other: Ticket, actor, channel=Channel.CONSOLE, now=None):
    """Remove the relation between two tickets; return `ticket`."""
    now = now or timezone.now()
    require_agent(actor)
    require_visible(ticket, actor)
    ticket, other = lock_pair(ticket, other)
    ticket.related.remove(other)
    events.related_unlinked(ticket, other=other, actor=actor, channel=channel, at=now)
    announce(ticket.pk, "linked")
    return ticket


@transaction.atomic
def set_incident(
    *, ticket: Ticket, actor, is_incident: bool = True, channel=Channel.CONSOLE, now=None
):
    """Mark (or unmark) the ticket as a mass incident; return it.

    An incident with linked requests cannot be unmarked; unlink them first.
    """
    now = now or timezone.now()
    require_agent(actor)
    require_visible(ticket, actor)
    ticket = lock(ticket)
    if ticket.is_incident == is_incident:
        return ticket
    if is_incident and ticket.parent_id:
        raise DomainError(_("A request linked to an incident cannot be an incident itself."))
    if not is_incident and Ticket.objects.filter(parent=ticket).exists():
        raise DomainError(_("Unlink the requests of this incident first."))
    ticket.is_incident = is_incident
    ticket.updated_at = now
    ticket.save(update_fields=["is_incident", "updated_at"])
    events.incident_marked(ticket, is_incident=is_incident, actor=actor, channel=channel, at=now)
    announce(ticket.pk, "incident")
    return ticket


def _detach(ticket: Ticket, *, actor, channel, now) -> Ticket:
    ticket = lock(ticket)
    if ticket.parent_id is None:
        return ticket
    old = ticket.parent.reference
    ticket.parent = None
    ticket.save(update_fields=["parent"])
    events.incident_left(ticket, old=old, actor=actor, channel=channel, at=now)
    announce(ticket.pk, "incident")
    return ticket


def _check_attachable(ticket: Ticket, incident: Ticket) -> None:
    if incident.parent_id:
        raise DomainError(
            _("%(ref)s is itself linked to an incident.") % {"ref": incident.reference}
        )
    if ticket.is_incident:
        raise DomainError(_("An incident cannot be linked to another incident."))
    if incident.merged_into_id or ticket.merged_into_id:
        raise DomainError(_("Merged requests cannot be linked."))


@transaction.atomic
def link_to_incident(
    *, ticket: Ticket, incident: Ticket | None, actor, channel=Channel.CONSOLE, now=None
) -> Ticket:
    """Attach `ticket` to the mass incident `incident` (None detaches it); return it.

    The incident is marked as one if it is not yet. Incidents do not nest.
    """
    now = now or timezone.now()
    require_agent(actor)
    require_visible(ticket, actor)
    if incident is None:
        return _detach(ticket, actor=actor, channel=channel, now=now)
    if incident.pk == ticket.pk:
        raise DomainError(_("A request cannot be linked to itself."))
    require_visible(incident, actor)
    ticket, incident = lock_pair(ticket, incident)
    _check_attachable(ticket, incident)
    if ticket.parent_id == incident.pk:
        return ticket
    if not incident.is_incident:
        incident.is_incident = True
        incident.save(update_fields=["is_incident"])
        events.incident_marked(incident, is_incident=True, actor=actor, channel=channel, at=now)
    old = ticket.parent.reference if ticket.parent_id else ""
    ticket.parent = incident
    ticket.updated_at = now
    ticket.save(update_fields=["parent", "updated_at"])
    events.incident_joined(ticket, incident=incident, old=old, actor=actor, channel=channel, at=now)
    events.incident_gained(incident, child=ticket, actor=actor, channel=channel, at=now)
    announce(ticket.pk, "incident")
    announce(incident.pk, "incident")
    return ticket


def _members(incident: Ticket):
    return Ticket.objects.filter(parent=incident, merged_into__isnull=True).order_by("pk")


def reply_to_incident(
    *,
    incident: Ticket,
    actor,
    text: str,
    files: Iterable[CheckedFile] = (),
    new_status: str | None = None,
    channel=Channel.CONSOLE,
    now=None,
) -> BatchResult:
    """Post one public reply on the incident and the same reply in every linked request.

    Each linked request gets its own message through add_message, so each
    requester receives it by e-mail in their own thread (kind
    "incident_reply"). With `new_status` (e.g. resolved) every request moves
    too. A request that refuses (closed, merged) is listed in `failed`; the
    others still get the reply. Returns the result with the incident's message.
    """
    now = now or timezone.now()
    require_agent(actor)
    files = list(files)
    result = BatchResult()
    result.message = add_message(
        ticket=incident,
        actor=actor,
        text=text,
        kind=Message.Kind.PUBLIC,
        channel=channel,
        files=files,
        new_status=new_status,
        now=now,
    )
    for child in _members(incident).exclude(status=Status.CLOSED):
        try:
            with transaction.atomic():
                message = add_message(
                    ticket=child,
                    actor=actor,
                    text=text,
                    kind=Message.Kind.PUBLIC,
                    channel=channel,
                    files=files,
                    new_status=new_status,
                    notify=False,
                    now=now,
                )
                outbox.notify("incident_reply", child, message)
        except DomainError as error:
            result.failed.append((child.reference, str(error.message)))
            continue
        result.done.append(child.reference)
    return result


def change_status_with_children(
    *, ticket: Ticket, actor, status: str, reason: str = "", channel=Channel.CONSOLE, now=None
) -> BatchResult:
    """Change the status of an incident and of every request linked to it."""
    now = now or timezone.now()
    change_status(
        ticket=ticket, actor=actor, status=status, channel=channel, reason=reason, now=now
    )
    result = BatchResult()
    for child in _members(ticket):
        if child.status == status:
            continue
        try:
            change_status(
                ticket=child, actor=actor, status=status, channel=channel, reason=reason, now=now
            )
        except DomainError as error:
            result.failed.append((child.reference, str(error.message)))
        else:
            result.done.append(child.reference)
    return result
