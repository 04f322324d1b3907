"""Tags on requests: put on, taken off, and (by an administrator) merged or renamed.

A tag is free text an agent types; it is trimmed, its inner spaces
collapsed, and matched without case ("Зрелост" and "зрелост" are one tag,
shown as first written). A request holds at most TAGS_PER_TICKET tags.
"""

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.errors import DomainError, NotAllowed
from tickets import events
from tickets.actions.base import announce, lock, require_agent, require_visible
from tickets.models import (
    TAG_MAX,
    TAGS_PER_TICKET,
    Channel,
    Tag,
    Ticket,
    TicketEvent,
    TicketTag,
    tag_key,
)


def clean_tag(name) -> str:
    """Return the tag as it will be shown; raise DomainError for an empty or overlong one."""
    if not isinstance(name, str):
        raise DomainError(_("A tag must be text."), field="tags")
    name = " ".join(name.split()).strip(",")
    if not name:
        raise DomainError(_("A tag cannot be empty."), field="tags")
    if len(name) > TAG_MAX:
        raise DomainError(
            _("A tag is longer than %(n)s characters: %(tag)s") % {"n": TAG_MAX, "tag": name[:60]},
            field="tags",
        )
    if any(ord(c) < 32 for c in name) or "," in name:
        raise DomainError(_("A tag cannot contain commas or control characters."), field="tags")
    return name


def parse_tags(text: str) -> list[str]:
    """Split a comma-separated list typed in a form into tags (each checked, no repeats)."""
    names = []
    seen = set()
    for part in str(text or "").split(","):
        if not part.strip():
            continue
        name = clean_tag(part)
        if tag_key(name) not in seen:
            seen.add(tag_key(name))
            names.append(name)
    if len(names) > TAGS_PER_TICKET:
        raise DomainError(
            _("A request can have at most %(n)s tags.") % {"n": TAGS_PER_TICKET}, field="tags"
        )
    return names


def _tag_for(name: str) -> Tag:
    """The tag with this name's key, created (as written) when new."""
    key = tag_key(name)
    tag = Tag.objects.filter(key=key).first()
    if tag is not None:
        return tag
    try:
        with transaction.atomic():
            return Tag.objects.create(name=name)
    except IntegrityError:  # created by someone else a moment ago
        return Tag.objects.get(key=key)


@transaction.atomic
def change_tags(
    *,
    ticket: Ticket,
    actor,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    channel: str = Channel.CONSOLE,
    now=None,
) -> list[Tag]:
    """Put tags on and take tags off a request; return its tags. One history line per call."""
    now = now or timezone.now()
    require_agent(actor)
    require_visible(ticket, actor)
    ticket = lock(ticket)
    added, removed = apply_tag_changes(ticket, actor=actor, add=add, remove=remove, now=now)
    if not added and not removed:
        return list(Tag.objects.filter(tickettag_set_for(ticket)).order_by("key"))
    events.tags_changed(
        ticket,
        actor=actor,
        channel=channel,
        added=[t.name for t in added],
        removed=[t.name for t in removed],
        at=now,
    )
    announce(ticket.pk, "tags")
    return list(Tag.objects.filter(tickettag_set_for(ticket)).order_by("key"))


def tickettag_set_for(ticket: Ticket):
    """The condition "tags on this request" for Tag.objects.filter."""
    return Q(pk__in=TicketTag.objects.filter(ticket=ticket).values("tag_id"))


@transaction.atomic
def set_tags(*, ticket: Ticket, actor, names: Iterable[str], channel=Channel.CONSOLE, now=None):
    """Make the request's tags exactly `names` (the console's tag box); return them."""
    names = [clean_tag(n) for n in names]
    wanted = {tag_key(n) for n in names}
    have = set(Tag.objects.filter(tickettag_set_for(ticket)).values_list("key", flat=True))
    return change_tags(
        ticket=ticket,
        actor=actor,
        add=[n for n in names if tag_key(n) not in have],
        remove=sorted(have - wanted),
        channel=channel,
        now=now,
    )


def _require_admin(actor) -> None:
    if actor is None or not actor.is_authenticated or not actor.is_staff:
        raise NotAllowed(_("Only an administrator may merge or rename tags."))


@transaction.atomic
def merge_tags(*, sources: Iterable[Tag], target: Tag, actor, now=None) -> int:
    """Move every request of `sources` to `target` and delete the sources; return how many moved.

    Each request that changes gets a history line; earlier history lines keep
    the names they were written with.
    """
    now = now or timezone.now()
    _require_admin(actor)
    sources = [s for s in sources if s.pk != target.pk]
    if not sources:
        raise DomainError(_("Choose at least one other tag to merge into this one."))
    source_ids = [s.pk for s in sources]
    ticket_ids = set(
        TicketTag.objects.filter(tag_id__in=source_ids).values_list("ticket_id", flat=True)
    )
    already = set(
        TicketTag.objects.filter(tag=target, ticket_id__in=ticket_ids).values_list(
            "ticket_id", flat=True
        )
    )
    TicketTag.objects.bulk_create(
        [
            TicketTag(ticket_id=pk, tag=target, added_by=actor, created_at=now)
            for pk in sorted(ticket_ids - already)
        ],
        ignore_conflicts=True,
    )
    TicketTag.objects.filter(tag_id__in=source_ids).delete()
    names = ", ".join(s.name for s in sources)
    TicketEvent.objects.bulk_create(
        events.tags_changed_rows(
            sorted(ticket_ids),
            actor=actor,
            old=names,
            new=target.name,
            note=_("Tags merged by an administrator"),
            at=now,
        )
    )
    Tag.objects.filter(pk__in=source_ids).delete()
    for pk in sorted(ticket_ids):
        announce(pk, "tags")
    return len(ticket_ids)


@transaction.atomic
def rename_tag(*, tag: Tag, name: str, actor, now=None) -> Tag:
    """Give a tag another name (or spelling); a name that is another tag's asks for a merge."""
    now = now or timezone.now()
    _require_admin(actor)
    name = clean_tag(name)
    tag = Tag.objects.select_for_update().get(pk=tag.pk)
    if tag.name == name:
        return tag
    clash = Tag.objects.filter(key=tag_key(name)).exclude(pk=tag.pk).first()
    if clash is not None:
        raise DomainError(
            _("The tag “%(name)s” already exists: merge the two instead.") % {"name": clash.name}
        )
    old = tag.name
    tag.name = name
    tag.save()
    ticket_ids = sorted(TicketTag.objects.filter(tag=tag).values_list("ticket_id", flat=True))
    TicketEvent.objects.bulk_create(
        events.tags_changed_rows(
            ticket_ids,
            actor=actor,
            old=old,
            new=name,
            note=_("Tag renamed by an administrator"),
            at=now,
        )
    )
    for pk in ticket_ids:
        announce(pk, "tags")
    return tag


def apply_tag_changes(ticket: Ticket, *, actor, add=(), remove=(), now) -> tuple[list, list]:
    """Put tags on and take them off a locked request; return (added, removed) tags.

    Writes no history: change_tags writes its line, and a macro names the
    change in its own single line. Raises DomainError (nothing written) for a
    bad name or too many tags.
    """
    add_names = [clean_tag(n) for n in add]
    remove_keys = {tag_key(clean_tag(n)) for n in remove}
    current = {t.key: t for t in Tag.objects.filter(tickettag_set_for(ticket))}
    added, removed = [], []
    for key in sorted(remove_keys & set(current)):
        removed.append(current.pop(key))
    for name in add_names:
        key = tag_key(name)
        if key in current or key in {t.key for t in added}:
            continue
        added.append(_tag_for(name))
    # A tag both removed and added in one call stays (add wins, nothing written for it).
    keep = {t.key for t in added} & {t.key for t in removed}
    removed = [t for t in removed if t.key not in keep]
    added = [t for t in added if t.key not in keep]
    if len(current) + len(added) + len(keep) > TAGS_PER_TICKET:
        raise DomainError(
            _("A request can have at most %(n)s tags.") % {"n": TAGS_PER_TICKET}, field="tags"
        )
    if not added and not removed:
        return [], []
    if removed:
        TicketTag.objects.filter(ticket=ticket, tag__in=removed).delete()
    TicketTag.objects.bulk_create(
        [TicketTag(ticket=ticket, tag=t, added_by=actor, created_at=now) for t in added],
        ignore_conflicts=True,
    )
    ticket.updated_at = now
    ticket.save(update_fields=["updated_at"])
    return added, removed
