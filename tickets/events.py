"""Named history: one constructor for each kind of line in a ticket's history.

Every change a person may later ask about ("who closed this, and when?") is a
TicketEvent. Actions never build one by hand: they call the constructor named
for what happened, so the fields each kind fills stay the same everywhere.

Each constructor saves the row and returns it; with ``save=False`` it returns
the row unsaved, for callers that write several rows in one bulk insert.
"""

import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import egn
from tickets.models import Channel, Ticket, TicketEvent

VALUE_MAX = 255


def _row(
    ticket: Ticket,
    *,
    kind: str,
    actor=None,
    channel: str = Channel.SYSTEM,
    field: str = "",
    old="",
    new="",
    note: str = "",
    at: datetime.datetime | None = None,
    save: bool = True,
) -> TicketEvent:
    event = TicketEvent(
        ticket=ticket,
        actor=actor if actor is not None and actor.is_authenticated else None,
        channel=channel,
        kind=kind,
        field=field,
        # Reasons and names people typed: personal numbers (ЕГН) masked, as in messages.
        old_value=egn.mask(str(old or ""))[0][:VALUE_MAX],
        new_value=egn.mask(str(new or ""))[0][:VALUE_MAX],
        note=egn.mask(note)[0],
        created_at=at or timezone.now(),
    )
    if save:
        event.save()
    return event


def created(ticket, *, actor, channel, at, save=True) -> TicketEvent:
    """The request was filed."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.CREATED,
        actor=actor,
        channel=channel,
        new=ticket.reference,
        note=_("Filed through %(channel)s") % {"channel": Channel(channel).label},
        at=at,
        save=save,
    )


def linked_on_filing(ticket, *, earlier: Ticket, channel, at, save=True) -> TicketEvent:
    """A new request was linked to an earlier one of the same person (e.g. a mail to a closed one)."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.LINKED,
        channel=channel,
        new=earlier.reference,
        note=_("Linked to earlier request %(ref)s") % {"ref": earlier.reference},
        at=at,
        save=save,
    )


def message_added(ticket, *, message, actor, channel, at) -> TicketEvent:
    """A public reply or an internal note was written."""
    internal = message.kind == message.Kind.INTERNAL
    return _row(
        ticket,
        kind=TicketEvent.Kind.NOTE if internal else TicketEvent.Kind.MESSAGE,
        actor=actor,
        channel=channel,
        new=str(message.pk),
        at=at,
    )


def attachment_rejected(ticket, *, name: str, reason: str, channel, at=None) -> TicketEvent:
    """A file sent with a message was refused (type, size, count)."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.ATTACHMENT_REJECTED,
        channel=channel,
        new=name,
        note=_("File %(name)s removed: %(reason)s") % {"name": name, "reason": reason},
        at=at,
    )


def status_changed(ticket, *, actor, channel, old, new, note="", at) -> TicketEvent:
    return _row(
        ticket,
        kind=TicketEvent.Kind.STATUS,
        actor=actor,
        channel=channel,
        field="status",
        old=old,
        new=new,
        note=note,
        at=at,
    )


def assigned(ticket, *, actor, channel, old, new, note="", at) -> TicketEvent:
    """The assignee changed (new "" means back to the queue)."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.ASSIGNED,
        actor=actor,
        channel=channel,
        field="assignee",
        old=old or "",
        new=new or "",
        note=note,
        at=at,
    )


def escalated(ticket, *, actor, channel, old, new, reason, at) -> TicketEvent:
    """The request moved between the regional and the central tier."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.ESCALATED,
        actor=actor,
        channel=channel,
        field="tier",
        old=old,
        new=new,
        note=reason,
        at=at,
    )


def priority_changed(ticket, *, actor, channel, old, new, at) -> TicketEvent:
    return _row(
        ticket,
        kind=TicketEvent.Kind.PRIORITY,
        actor=actor,
        channel=channel,
        field="priority",
        old=old,
        new=new,
        at=at,
    )


def competence_changed(ticket, *, actor, channel, old, new, at) -> TicketEvent:
    return _row(
        ticket,
        kind=TicketEvent.Kind.COMPETENCE,
        actor=actor,
        channel=channel,
        field="competence",
        old=old or "",
        new=new,
        at=at,
    )


def rated(ticket, *, actor, score: int, comment: str, at, channel=Channel.PORTAL) -> TicketEvent:
    return _row(
        ticket,
        kind=TicketEvent.Kind.RATED,
        actor=actor,
        channel=channel,
        field="satisfaction",
        new=str(score),
        note=comment,
        at=at,
    )


def merged_into(ticket, *, target: Ticket, actor, channel, at) -> TicketEvent:
    """This request was merged into `target` (written on the source)."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.MERGED,
        actor=actor,
        channel=channel,
        field="merged_into",
        new=target.reference,
        note=_("Merged into %(ref)s") % {"ref": target.reference},
        at=at,
    )


def merged_from(ticket, *, source: Ticket, actor, channel, at) -> TicketEvent:
    """`source` was merged into this request (written on the target)."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.MERGED,
        actor=actor,
        channel=channel,
        field="merged_from",
        old=source.reference,
        note=_("%(ref)s was merged into this request") % {"ref": source.reference},
        at=at,
    )


def related_linked(ticket, *, other: Ticket, actor, channel, at) -> TicketEvent:
    return _row(
        ticket,
        kind=TicketEvent.Kind.LINKED,
        actor=actor,
        channel=channel,
        field="related",
        new=other.reference,
        at=at,
    )


def related_unlinked(ticket, *, other: Ticket, actor, channel, at) -> TicketEvent:
    return _row(
        ticket,
        kind=TicketEvent.Kind.LINKED,
        actor=actor,
        channel=channel,
        field="related",
        old=other.reference,
        at=at,
    )


def incident_marked(ticket, *, is_incident: bool, actor, channel, at) -> TicketEvent:
    """The request became (or stopped being) a mass incident."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.LINKED,
        actor=actor,
        channel=channel,
        field="is_incident",
        old=str(not is_incident),
        new=str(is_incident),
        note=_("Marked as a mass incident") if is_incident else _("No longer a mass incident"),
        at=at,
    )


def incident_joined(ticket, *, incident: Ticket, old: str, actor, channel, at) -> TicketEvent:
    """The request was attached to the mass incident `incident` (old: the previous one)."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.LINKED,
        actor=actor,
        channel=channel,
        field="parent",
        old=old,
        new=incident.reference,
        note=_("Linked to the mass incident %(ref)s") % {"ref": incident.reference},
        at=at,
    )


def incident_left(ticket, *, old: str, actor, channel, at) -> TicketEvent:
    """The request was detached from the mass incident with reference `old`."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.LINKED,
        actor=actor,
        channel=channel,
        field="parent",
        old=old,
        at=at,
    )


def incident_gained(incident, *, child: Ticket, actor, channel, at) -> TicketEvent:
    """A request was attached to this incident (written on the incident)."""
    return _row(
        incident,
        kind=TicketEvent.Kind.LINKED,
        actor=actor,
        channel=channel,
        field="children",
        new=child.reference,
        at=at,
    )


def sla_breached(ticket, *, which: str, at) -> TicketEvent:
    """A target was missed; `which` is "first_response" or "resolution"."""
    label = _("first response") if which == "first_response" else _("resolution")
    return _row(
        ticket,
        kind=TicketEvent.Kind.SLA,
        field=which,
        new="breached",
        note=_("The %(which)s target was missed.") % {"which": label},
        at=at,
    )


def mail_note(ticket, *, note: str, at=None, save=True) -> TicketEvent:
    """Something about e-mail the agent should know (a bounce, copies not added, a hold)."""
    return _row(
        ticket, kind=TicketEvent.Kind.MAIL, channel=Channel.EMAIL, note=note, at=at, save=save
    )


COPIED_FIELD = "cc"


def mail_copied(ticket, *, addresses: list[str], note: str, at=None) -> TicketEvent:
    """An incoming e-mail was copied to addresses that were not added to the request.

    The addresses (as many as fit) are kept space-separated in `new_value`,
    so the console can offer to add each one in one click.
    """
    kept: list[str] = []
    for address in addresses:
        if len(" ".join([*kept, address])) > VALUE_MAX:
            break
        kept.append(address)
    return _row(
        ticket,
        kind=TicketEvent.Kind.MAIL,
        channel=Channel.EMAIL,
        field=COPIED_FIELD,
        new=" ".join(kept),
        note=note,
        at=at,
    )


def copied_addresses(event: TicketEvent) -> list[str]:
    """The addresses a `mail_copied` line offers to add (none for other lines)."""
    if event.kind != TicketEvent.Kind.MAIL or event.field != COPIED_FIELD:
        return []
    return event.new_value.split()


def routed(ticket, *, queue: str, reasons, channel, at, save=True) -> TicketEvent:
    """Routing chose a region, tier, competence and perhaps an assignee."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.ROUTED,
        channel=channel,
        field="queue",
        new=queue,
        note="; ".join(r for r in reasons if r),
        at=at,
        save=save,
    )


def watcher_added(ticket, *, actor, channel, address: str, at=None) -> TicketEvent:
    """Someone now follows the request and gets its public replies."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.WATCHER,
        actor=actor,
        channel=channel,
        field="watchers",
        new=address,
        at=at,
    )


def watcher_removed(ticket, *, actor, channel, address: str, at=None) -> TicketEvent:
    """Someone no longer follows the request."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.WATCHER,
        actor=actor,
        channel=channel,
        field="watchers",
        old=address,
        at=at,
    )


def tags_changed(ticket, *, actor, channel, added=(), removed=(), note="", at=None) -> TicketEvent:
    """Tags were put on or taken off the request (names as shown)."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.TAG,
        actor=actor,
        channel=channel,
        field="tags",
        old=", ".join(removed),
        new=", ".join(added),
        note=note,
        at=at,
    )


def tags_changed_rows(tickets_ids, *, actor, old: str, new: str, note: str, at) -> list:
    """Unsaved history lines for many requests at once (an administrator merged or renamed a tag)."""
    return [
        _row(
            Ticket(pk=pk),
            kind=TicketEvent.Kind.TAG,
            actor=actor,
            channel=Channel.SYSTEM,
            field="tags",
            old=old,
            new=new,
            note=note,
            at=at,
            save=False,
        )
        for pk in tickets_ids
    ]


def field_changed(ticket, *, actor, channel, label: str, old: str, new: str, at=None):
    """An answer to a competence field changed (old or new "" when empty)."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.FIELD,
        actor=actor,
        channel=channel,
        field="fields",
        old=old,
        new=new,
        note=label,
        at=at,
    )


def macro_applied(ticket, *, actor, channel, title: str, changes, at=None) -> TicketEvent:
    """A macro changed the request in one step; the note lists each change."""
    return _row(
        ticket,
        kind=TicketEvent.Kind.MACRO,
        actor=actor,
        channel=channel,
        field="macro",
        new=title,
        note="; ".join(str(c) for c in changes),
        at=at,
    )
