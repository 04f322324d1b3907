"""What every action needs: checks of the actor, row locks, text limits, files, thread keys.

Names here are public within the actions package; doors never import this
module (they call the actions named in ``tickets.actions``).
"""

import contextlib
import contextvars
import datetime
import functools
from collections.abc import Iterable

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.permissions import is_agent
from helpdesk.errors import DomainError, NotAllowed
from helpdesk.sanitize import clean_html
from helpdesk.uploads import CheckedFile
from tickets import events
from tickets.models import Attachment, RedactedOriginal, Ticket
from tickets.redaction import Redactor
from tickets.signals import ticket_changed, ticket_changing

SUBJECT_MAX = 200


def acting(actor):
    """Return the actor as a user, or None for the system and anonymous senders."""
    return actor if actor is not None and actor.is_authenticated else None


def require_visible(ticket: Ticket, actor) -> None:
    if not Ticket.objects.visible_to(actor).filter(pk=ticket.pk).exists():
        raise NotAllowed(_("You may not act on this request."))


def require_agent(actor) -> None:
    if not is_agent(actor):
        raise NotAllowed(_("Only support staff may do this."))


def require_login(actor) -> None:
    if actor is None or not actor.is_authenticated:
        raise NotAllowed(_("You must be logged in."))


def lock(ticket: Ticket) -> Ticket:
    """Return a fresh copy of the ticket, locked for the rest of the transaction."""
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def lock_pair(first: Ticket, second: Ticket) -> tuple[Ticket, Ticket]:
    """Lock two tickets in id order (so two merges cannot deadlock); return fresh copies."""
    rows = {
        t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[first.pk, second.pk])
    }
    return rows[first.pk], rows[second.pk]


def clean_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        raise DomainError(_("The subject cannot be empty."), field="subject")
    if len(subject) > SUBJECT_MAX:
        raise DomainError(
            _("The subject is longer than %(n)s characters.") % {"n": SUBJECT_MAX},
            field="subject",
        )
    return subject


def clean_text(text: str, *, allow_empty: bool = False) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    limit = settings.HELPDESK["MAX_TEXT_CHARS"]
    if not text and not allow_empty:
        raise DomainError(_("The text cannot be empty."), field="text")
    if len(text) > limit:
        raise DomainError(
            _("The text is longer than %(n)s characters.") % {"n": limit}, field="text"
        )
    return text


def sanitised_html(html: str, *, is_clean: bool = False) -> str:
    """Return HTML sanitised once: the mail parser hands over HTML it already passed
    through helpdesk.sanitize (``is_clean``); every other door's HTML is cleaned here."""
    return html if is_clean else clean_html(html)


def store_files(
    ticket,
    message,
    files: Iterable[CheckedFile],
    actor,
    rejected: Iterable[tuple[str, str]],
    channel: str,
    now: datetime.datetime | None = None,
    redact: Redactor | None = None,
) -> int:
    """Store checked files on `message` and record refused ones; return how many were stored.

    File names go through `redact` (personal numbers masked, tickets/redaction.py).
    """
    stored = 0
    redact = redact or Redactor()
    for checked in files:
        attachment = Attachment(
            ticket=ticket,
            message=message,
            original_name=redact(RedactedOriginal.Field.FILE_NAME, checked.name),
            size=checked.size,
            content_type=checked.content_type,
            sha256=checked.sha256,
            content_id=getattr(checked, "content_id", "") or "",
            inline=getattr(checked, "inline", False),
            uploaded_by=acting(actor),
        )
        attachment.file.save(checked.sha256, ContentFile(checked.content), save=False)
        attachment.save()
        stored += 1
    for name, reason in rejected:
        name = redact(RedactedOriginal.Field.FILE_NAME, name)
        Attachment.objects.create(
            ticket=ticket, message=message, original_name=name[:255], rejected_reason=reason[:255]
        )
        events.attachment_rejected(ticket, name=name, reason=reason, channel=channel, at=now)
    return stored


def announce(ticket_id: int, change: str, *, ticket: Ticket | None = None, **extra) -> None:
    """Tell the doors, once the transaction commits, that the ticket changed (live updates).

    `ticket`: the instance as this transaction leaves it, when the caller
    knows nothing else will change it before the commit; receivers of
    ticket_changed may use it instead of reading the row again.
    """
    ticket_changing.send(sender=Ticket, ticket_id=ticket_id, change=change, **extra)
    transaction.on_commit(
        lambda: ticket_changed.send_robust(
            sender=Ticket, ticket_id=ticket_id, change=change, ticket=ticket, **extra
        )
    )


# --- one transaction for a caller that owns it ---------------------------------------------

_JOIN_CALLER = contextvars.ContextVar("helpdesk_join_caller_transaction", default=False)


@contextlib.contextmanager
def in_callers_transaction():
    """Inside this block, filing and replies run in the caller's transaction, no savepoint.

    For a caller whose transaction is all or nothing anyway (the mail bridge:
    any error rolls the whole message back and quarantines it), the savepoint
    an action opens for itself is two round trips for nothing. Elsewhere the
    actions keep theirs, so a caller may catch a refused action and go on.
    """
    token = _JOIN_CALLER.set(True)
    try:
        yield
    finally:
        _JOIN_CALLER.reset(token)


def atomic_action(func):
    """`transaction.atomic` for an action, without a savepoint inside in_callers_transaction()."""

    @functools.wraps(func)
    def inner(*args, **kwargs):
        with transaction.atomic(savepoint=not _JOIN_CALLER.get()):
            return func(*args, **kwargs)

    return inner
