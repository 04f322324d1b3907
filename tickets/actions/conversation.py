"""The conversation: replies and internal notes, by any door."""

import datetime
from collections.abc import Iterable

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import is_agent
from helpdesk.errors import DomainError, InvalidTransition, NotAllowed
from helpdesk.uploads import CheckedFile
from tickets import counters, events, notifications, outbox, policies
from tickets.actions.base import (
    acting,
    announce,
    atomic_action,
    clean_text,
    lock,
    require_visible,
    sanitised_html,
    store_files,
)
from tickets.actions.status import move
from tickets.models import Channel, MailThreadKey, Message, RedactedOriginal, Status, Ticket
from tickets.redaction import Redactor


@atomic_action
def add_message(
    *,
    ticket: Ticket,
    actor,
    text: str,
    kind: str = Message.Kind.PUBLIC,
    channel: str = Channel.PORTAL,
    files: Iterable[CheckedFile] = (),
    rejected_files: Iterable[tuple[str, str]] = (),
    html: str = "",
    html_is_clean: bool = False,
    quoted_text: str = "",
    sender_email: str = "",
    sender_name: str = "",
    email_message_id: str = "",
    is_auto_reply: bool = False,
    new_status: str | None = None,
    notify: bool = True,
    minutes: int | None = None,
    record: bool = True,
    now: datetime.datetime | None = None,
) -> Message:
    """Add a reply or an internal note; return the new message.

    A requester's reply reopens a ticket that waits on them; a staff reply
    counts as the first response. E-mail callers (mailbridge) decide whether a
    sender may write to the ticket before calling this.

    `minutes`: time support staff spent on it (0–MINUTES_MAX), summed per
    request, agent and competence. In an internal note, @handle notifies that
    colleague if they may see the request; the message carries `mentioned`
    (told) and `mention_refused` (handles of colleagues who may not see it,
    for the door to tell the writer). `record` False leaves the history line
    to the caller (a macro writes one line for all it does).
    """
    now = now or timezone.now()
    files = list(files)
    rejected_files = list(rejected_files)
    text = clean_text(text, allow_empty=bool(files) or bool(rejected_files) or is_auto_reply)
    # Personal numbers (ЕГН) are masked before anything is stored (tickets/redaction.py).
    redact = Redactor()
    text = redact(RedactedOriginal.Field.BODY_TEXT, text)
    if kind not in Message.Kind.values:
        raise DomainError(_("Unknown message kind."))
    if new_status and new_status not in Status.values:
        raise DomainError(_("Unknown status."), field="status")
    minutes = clean_minutes(minutes)
    acting_user = acting(actor)
    if channel != Channel.EMAIL or acting_user is not None:
        if acting_user is None:
            raise NotAllowed(_("You must be logged in."))
        require_visible(ticket, acting_user)
    staff = is_agent(acting_user)
    if minutes is not None and not staff:
        raise NotAllowed(_("Only support staff record time spent."))
    if kind == Message.Kind.INTERNAL and not policies.may_see_internal(acting_user):
        raise NotAllowed(_("Only support staff may write internal notes."))
    ticket = lock(ticket)
    if ticket.merged_into_id:
        raise DomainError(_("This request was merged into another one."))
    if ticket.status == Status.CLOSED and not staff:
        raise InvalidTransition(
            _("This request is closed. Please file a new request and mention %(ref)s.")
            % {"ref": ticket.reference}
        )
    if new_status and new_status != ticket.status and not staff:
        # A reply must not let a requester set what change_status refuses them.
        policies.check_requester_status(ticket, new_status, now)
    message = Message.objects.create(
        ticket=ticket,
        kind=kind,
        author=acting_user,
        sender_email=(sender_email or (acting_user.email if acting_user else "")).lower(),
        sender_name=sender_name or (acting_user.get_full_name() if acting_user else ""),
        channel=channel,
        body_text=text,
        body_html=redact(
            RedactedOriginal.Field.BODY_HTML, sanitised_html(html, is_clean=html_is_clean)
        )
        if html
        else "",
        quoted_text=redact(RedactedOriginal.Field.QUOTED_TEXT, quoted_text),
        email_message_id=email_message_id,
        is_auto_reply=is_auto_reply,
        from_staff=staff,
        minutes_spent=minutes,
        created_at=now,
    )
    if email_message_id:
        MailThreadKey.remember(ticket, message, email_message_id, MailThreadKey.Direction.IN)
    stored = store_files(ticket, message, files, acting_user, rejected_files, channel, now, redact)
    redact.keep(ticket, message)
    # How many personal numbers were hidden, for the door to tell the person.
    message.egn_masked = redact.count
    update = {
        "message_count": F("message_count") + 1,
        "last_message_id": message.pk,
        "updated_at": now,
    }
    if stored:
        update["has_attachments"] = True
    if record:
        events.message_added(ticket, message=message, actor=acting_user, channel=channel, at=now)
    public = kind == Message.Kind.PUBLIC
    if public and staff and ticket.first_response_at is None:
        update["first_response_at"] = now
    Ticket.objects.filter(pk=ticket.pk).update(**update)
    # The row is locked since lock() read it: the new values are known without
    # reading it again (one statement less on every reply).
    ticket.message_count += 1
    ticket.last_message_id = message.pk
    ticket.updated_at = now
    if stored:
        ticket.has_attachments = True
    if "first_response_at" in update:
        ticket.first_response_at = now
    # The update bypassed the signals: count the first response it may have set.
    counters.sync(ticket)

    if new_status and new_status != ticket.status:
        move(
            ticket,
            actor=acting_user,
            status=new_status,
            channel=channel,
            now=now,
            notify=notify,
            record=record,
        )
    elif public and not is_auto_reply:
        _follow_reply(
            ticket, actor=acting_user, staff=staff, channel=channel, now=now, record=record
        )
    if notify and public and not is_auto_reply:
        if staff:
            outbox.notify("reply", ticket, message)
        elif ticket.assignee_id:
            outbox.notify("requester_replied", ticket, message)
            notifications.tell(
                "reply",
                recipient=ticket.assignee,
                ticket=ticket,
                actor=acting_user,
                now=now,
                message=message,
            )
    message.mentioned, message.mention_refused = [], []
    if kind == Message.Kind.INTERNAL and staff:
        message.mentioned, message.mention_refused = notifications.mention(
            ticket, message, acting_user, now
        )
    # This copy is the locked row as the reply leaves it (status moves included):
    # the live update is built from it, without reading the row after the commit.
    announce(ticket.pk, "message", ticket=ticket, message_id=message.pk)
    return message


MINUTES_MAX = 1440


def clean_minutes(minutes) -> int | None:
    """Return the minutes spent as an int in 0–MINUTES_MAX, or None; refuse anything else."""
    if minutes is None or minutes == "":
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise DomainError(_("Give the time spent in whole minutes."), field="minutes")
    if not 0 <= minutes <= MINUTES_MAX:
        raise DomainError(
            _("The time spent must be between 0 and %(n)s minutes.") % {"n": MINUTES_MAX},
            field="minutes",
        )
    return minutes


def _follow_reply(ticket, *, actor, staff, channel, now, record=True) -> None:
    """The status a public reply implies: answered by staff, or answered by the requester."""
    if staff and ticket.status == Status.NEW:
        move(ticket, actor=actor, status=Status.OPEN, channel=channel, now=now, record=record)
    elif not staff and ticket.status == Status.WAITING:
        move(
            ticket,
            actor=actor,
            status=Status.OPEN,
            channel=channel,
            now=now,
            note=_("The requester answered."),
        )
    elif (
        not staff
        and ticket.status == Status.RESOLVED
        and policies.within_reopen_period(ticket, now)
    ):
        move(
            ticket,
            actor=actor,
            status=Status.OPEN,
            channel=channel,
            now=now,
            note=_("Reopened by the requester's reply."),
        )
