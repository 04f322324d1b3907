"""Notifications for agents: in the console (a Notification row) and by mail (the outbox).

Actions call ``tell`` inside their transaction, so a notification exists if
and only if the change that caused it does. Each agent chooses per kind
(assigned to me, a reply on my request, an SLA warning, a mention) whether it
reaches them in the console, by mail, both or not at all
(AgentSettings; without a row the defaults of its fields apply).

"Away" (for mentions, mailed only when the colleague would not see them in
the console): the agent has an absence in force (accounts.Absence), or no
console page of theirs has talked to the server over the WebSocket for
ONLINE_SECONDS (the console marks that with ``mark_online``; the mark lives
in the cache, shared by the processes when the cache is Redis).

Once the transaction commits, ``notification_created`` tells the console,
which pushes the new unread count to the recipient's open pages.
"""

import datetime
import re

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Absence, User
from tickets import outbox
from tickets.models import AgentSettings, Message, Notification, Ticket
from tickets.signals import notification_created

ONLINE_SECONDS = 90
KINDS = tuple(Notification.Kind.values)
# Mail for a kind that the outbox does not already send on its own.
MAIL_KINDS = {"assigned": "assigned", "mention": "mention"}

# @handle: the local part of an agent's e-mail (letters, digits, . _ + -).
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9][A-Za-z0-9._+-]{0,63})")
MAX_MENTIONS = 20


def settings_for(user) -> AgentSettings:
    """The agent's settings, or an unsaved row with the defaults."""
    descriptor = type(user).agent_settings
    if descriptor.is_cached(user):
        # Loaded with the person (select_related("agent_settings")): no query.
        found = descriptor.related.get_cached_value(user)
    else:
        found = AgentSettings.objects.filter(user=user).first()
    return found if found is not None else AgentSettings(user=user)


def wants(user, kind: str, way: str) -> bool:
    return settings_for(user).wants(kind, way)


def _online_key(user_id: int) -> str:
    return f"agent-online:{user_id}"


def mark_online(user_id: int) -> None:
    """Remember that the agent's console is connected (called by the console's WebSocket)."""
    cache.set(_online_key(user_id), 1, ONLINE_SECONDS)


def is_online(user_id: int) -> bool:
    return bool(cache.get(_online_key(user_id)))


def is_away(user, now: datetime.datetime | None = None) -> bool:
    """Away: absent (an absence in force) or not connected to the console."""
    now = now or timezone.now()
    absent = Absence.objects.filter(agent__user=user, starts_at__lte=now, ends_at__gt=now).exists()
    return absent or not is_online(user.pk)


def unread_count(user) -> int:
    """Unread notifications about requests the person may still see (the bell)."""
    return Notification.objects.filter(
        recipient=user,
        read_at__isnull=True,
        ticket__in=Ticket.objects.visible_to(user).values("pk"),
    ).count()


def tell(
    kind: str,
    *,
    recipient,
    ticket: Ticket,
    actor=None,
    message: Message | None = None,
    now: datetime.datetime | None = None,
    mail: bool | None = None,
) -> Notification | None:
    """Notify `recipient` of `kind` about `ticket` as they chose; return the console row.

    Call inside the transaction of the change. Nobody is told of their own
    doing. `mail` overrides the mail preference's "when" (a mention mails only
    when the colleague is away); the preference itself still decides.
    Mail of kinds the outbox sends by itself (a reply, an SLA warning) is
    left to the outbox, which asks ``wants`` too.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if recipient is None or not recipient.is_active:
        return None
    if actor is not None and getattr(actor, "pk", None) == recipient.pk:
        return None
    now = now or timezone.now()
    prefs = settings_for(recipient)
    row = None
    if prefs.wants(kind, "console"):
        row = Notification.objects.create(
            recipient=recipient,
            kind=kind,
            ticket=ticket,
            message=message,
            actor=actor if actor is not None and actor.is_authenticated else None,
            created_at=now,
        )
        user_id = recipient.pk
        # The new count is read by each of the person's open console pages
        # when this reaches it (console/consumers.py): nobody connected, no count.
        transaction.on_commit(
            lambda: notification_created.send_robust(sender=Notification, user_id=user_id)
        )
    send_mail = prefs.wants(kind, "mail") if mail is None else (mail and prefs.wants(kind, "mail"))
    if send_mail and kind in MAIL_KINDS and not recipient.email_undeliverable and recipient.email:
        outbox.notify(
            MAIL_KINDS[kind],
            ticket,
            message,
            round_=now.isoformat(),
            to=[(recipient.email, recipient.language)],
        )
    return row


def mentioned_handles(text: str) -> list[str]:
    """Return the distinct @handles in `text`, lower-cased, in order (at most MAX_MENTIONS)."""
    seen: dict[str, None] = {}
    for match in MENTION.finditer(text or ""):
        handle = match.group(1).rstrip(".").lower()
        if handle:
            seen.setdefault(handle, None)
        if len(seen) >= MAX_MENTIONS:
            break
    return list(seen)


def agents_by_handle(handles) -> dict[str, User]:
    """Return {handle: active agent} for handles that name exactly one agent's e-mail local part."""
    if not handles:
        return {}
    found: dict[str, list[User]] = {}
    people = (
        User.objects.filter(is_active=True)
        .filter(_local_parts_query(handles))
        .select_related("agent_profile")
    )
    for user in people:
        if not (user.is_superuser or user.is_agent):
            continue
        handle = user.email.rpartition("@")[0].lower()
        found.setdefault(handle, []).append(user)
    return {h: users[0] for h, users in found.items() if len(users) == 1 and h in handles}


def _local_parts_query(handles):
    query = Q(pk__in=[])
    for handle in handles:
        query |= Q(email__istartswith=f"{handle}@")
    return query


def mention(ticket: Ticket, message: Message, actor, now) -> tuple[list[User], list[str]]:
    """Notify the agents named by @handle in an internal note; return (told, refused handles).

    A colleague who may not see the ticket is told nothing (nor is anyone
    else in their place); their handle comes back so the writer learns it.
    Handles that name nobody are ignored (an e-mail address in the text, a
    typo); the writer sees no autocomplete hit for them.
    """
    handles = mentioned_handles(message.body_text)
    people = agents_by_handle(handles)
    told, refused = [], []
    for handle in handles:
        user = people.get(handle)
        if user is None:
            continue
        if not Ticket.objects.visible_to(user).filter(pk=ticket.pk).exists():
            refused.append(handle)
            continue
        if actor is not None and user.pk == actor.pk:
            continue
        tell(
            "mention",
            recipient=user,
            ticket=ticket,
            actor=actor,
            message=message,
            now=now,
            mail=is_away(user, now),
        )
        told.append(user)
    return told, refused
