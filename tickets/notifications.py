"""E-mail notifications about tickets, built from templates in the reader's language.

Each mail is recorded as an OutboundMail before it is sent: a retry after an
SMTP failure sends the same message (same Message-ID) and never a second copy.
A sender claims the record for a short lease before it talks to the SMTP
server, so a celery retry and resend_pending() (the sweep for tasks that were
lost) cannot both send it. The Message-ID is remembered as a thread key when
the record is made, so a reply threads even if we crash right after sending.
"""

import datetime
import logging
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from mailbridge.models import OutboundMail, UndeliverableAddress
from mailbridge.reference import format_subject_tag
from tickets.models import MailThreadKey, Message, Ticket

log = logging.getLogger(__name__)

# Mail that a program sends on its own gets Auto-Submitted so that other
# programs never answer it; replies written by people do not.
AUTOMATIC_KINDS = {
    "created",
    "resolved",
    "sla_warning",
    "sla_breach",
    "requester_replied",
    "merged",
    "autoclosed",
}

# How long one sender may hold a record while it talks to the SMTP server.
SEND_LEASE = datetime.timedelta(minutes=2)
# The sweep gives up on mail this old and marks it failed for the admin to see.
GIVE_UP_AFTER = datetime.timedelta(days=2)


def _domain() -> str:
    return settings.HELPDESK["SUPPORT_ADDRESS"].rpartition("@")[2] or "helpdesk.local"


def recipients_for(kind: str, ticket: Ticket, message: Message | None) -> list[tuple[str, str]]:
    """Return [(address, language)] who should receive this notification.

    Addresses that bounced (User.email_undeliverable, UndeliverableAddress)
    are left out until they write to us again.
    """
    out: list[tuple[str, str]] = []
    if kind in ("created", "reply", "resolved", "merged", "autoclosed", "incident_reply"):
        requester = ticket.requester
        if requester is not None:
            if not requester.email_undeliverable:
                out.append((requester.email, requester.language))
        elif ticket.requester_email:
            out.append((ticket.requester_email, "bg"))
        if kind in ("reply", "incident_reply"):
            out.extend((cc, "bg") for cc in ticket.cc_emails)
    elif kind == "requester_replied":
        if ticket.assignee_id:
            out.append((ticket.assignee.email, ticket.assignee.language))
    elif kind in ("sla_warning", "sla_breach"):
        if ticket.assignee_id:
            out.append((ticket.assignee.email, ticket.assignee.language))
        if kind == "sla_breach" or not ticket.assignee_id:
            out.extend(supervisors_of(ticket))
    seen, unique = set(), []
    for address, language in out:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            unique.append((address, language))
    if unique:
        bounced = set(
            UndeliverableAddress.objects.filter(address__in=sorted(seen)).values_list(
                "address", flat=True
            )
        )
        unique = [(a, lang) for a, lang in unique if a.lower() not in bounced]
    return unique


def supervisors_of(ticket: Ticket) -> list[tuple[str, str]]:
    from accounts.models import AgentProfile

    # Regional supervisors hear about their region; national ones only about
    # what has no region, or they would receive every breach in the country.
    scope = Q(region_id=ticket.region_id) if ticket.region_id else Q(region__isnull=True)
    rows = AgentProfile.objects.filter(
        scope, kind=AgentProfile.Kind.SUPERVISOR, user__is_active=True
    ).values_list("user__email", "user__language")
    return list(rows)


def thread_headers(ticket: Ticket, own_message_id: str = "") -> dict[str, str]:
    """Return In-Reply-To and References for a mail about `ticket`.

    References holds the thread's first Message-ID and the latest ones (mail
    clients thread on either); In-Reply-To names the latest mail we received,
    or else the latest we sent.
    """
    keys = MailThreadKey.objects.filter(ticket=ticket).exclude(mail_id=own_message_id)
    first = keys.order_by("created_at", "id").values_list("mail_id", flat=True).first()
    if first is None:
        return {}
    latest = list(keys.order_by("-created_at", "-id").values_list("mail_id", "direction")[:9])
    chain = [first] + [mail_id for mail_id, _direction in reversed(latest)]
    refs = list(dict.fromkeys(chain))
    received = [mail_id for mail_id, direction in latest if direction == "in"]
    parent = received[0] if received else latest[0][0]
    return {"In-Reply-To": f"<{parent}>", "References": " ".join(f"<{r}>" for r in refs)}


def build_mail(
    kind: str, ticket: Ticket, message: Message | None, address: str, language: str, message_id: str
) -> EmailMultiAlternatives:
    """Return the ready-to-send mail: reference tag in the subject, threading and loop headers."""
    context = {
        "ticket": ticket,
        "message": message,
        "site_url": settings.SITE_URL,
        "ticket_url": f"{settings.SITE_URL}/portal/requests/{ticket.reference}/",
        "console_url": f"{settings.SITE_URL}/console/tickets/{ticket.reference}/",
        "support_address": settings.HELPDESK["SUPPORT_ADDRESS"],
    }
    with translation.override(language or "bg"):
        subject_line = render_to_string(f"emails/{kind}_subject.txt", context).strip()
        text = render_to_string(f"emails/{kind}.txt", context)
        html = render_to_string(f"emails/{kind}.html", context)
    subject = f"{format_subject_tag(ticket.reference)} {subject_line}"
    headers = {
        "Message-ID": f"<{message_id}>",
        settings.HELPDESK["LOOP_HEADER"]: settings.HELPDESK["INSTANCE_ID"],
        "X-Auto-Response-Suppress": "All",
        **thread_headers(ticket, message_id),
    }
    if kind in AUTOMATIC_KINDS:
        headers["Auto-Submitted"] = "auto-replied"
    mail = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        headers=headers,
        reply_to=[settings.HELPDESK["SUPPORT_ADDRESS"]],
    )
    mail.attach_alternative(html, "text/html")
    return mail


def send_ticket_mail(kind: str, ticket_id: int, message_id: int | None = None) -> int:
    """Send (or finish sending) one notification; return how many mails went out.

    Raises the SMTP error when sending fails, so that the celery task retries.
    """
    ticket = (
        Ticket.objects.select_related("requester", "assignee", "institution", "region")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        return 0
    message = Message.objects.filter(pk=message_id, ticket=ticket).first() if message_id else None
    sent = 0
    error = None
    for address, language in recipients_for(kind, ticket, message):
        key = _key(kind, ticket, message_id, address)
        record = _record(key, kind, ticket, message, address)
        try:
            sent += _send_record(record, ticket, message, address, language)
        except Exception as exc:  # the others still go out; re-raised below
            error = exc
    if error is not None:
        raise error
    return sent


def _key(kind: str, ticket: Ticket, message_id, address: str) -> str:
    """The idempotency key of one mail: the same change never mails twice.

    SLA warnings repeat when a due time moves; the round (when the sweep
    claimed it) is part of their key.
    """
    round_ = ""
    if kind == "sla_warning" and ticket.sla_warned_at:
        round_ = ticket.sla_warned_at.isoformat()
    elif kind == "sla_breach" and ticket.sla_breach_notified_at:
        round_ = ticket.sla_breach_notified_at.isoformat()
    return f"{kind}:{ticket.pk}:{message_id or 0}:{round_}:{address.lower()}"[:200]


def prepare_records(
    kind: str, ticket_id: int, message_id: int | None = None, *, ticket=None, message=None
) -> int:
    """Record the pending mail of a notification; return how many recipients.

    Called inside the transaction that makes the change; the sending itself
    happens after the commit (send_ticket_mail), or later by resend_pending.
    A caller that holds the ticket and message passes them to save queries.
    """
    if ticket is None:
        ticket = Ticket.objects.select_related("requester", "assignee").filter(pk=ticket_id).first()
    if ticket is None:
        return 0
    if message is None and message_id:
        message = Message.objects.filter(pk=message_id, ticket=ticket).first()
    recipients = recipients_for(kind, ticket, message)
    for address, _language in recipients:
        key = _key(kind, ticket, message_id, address)
        _record(key, kind, ticket, message, address)
    return len(recipients)


def _send_record(record, ticket, message, address, language) -> int:
    """Claim, build and send one record; return 1 if this call sent it, else 0."""
    if not _claim(record):
        return 0
    now = timezone.now()
    try:
        mail = build_mail(record.kind, ticket, message, address, language, record.message_id)
        mail.send()
    except Exception as exc:
        OutboundMail.objects.filter(pk=record.pk).update(
            attempts=record.attempts + 1,
            last_attempt_at=now,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            locked_until=None,
        )
        raise
    OutboundMail.objects.filter(pk=record.pk).update(
        subject=mail.subject[:255],
        attempts=record.attempts + 1,
        last_attempt_at=now,
        state=OutboundMail.State.SENT,
        sent_at=timezone.now(),
        locked_until=None,
    )
    return 1


def _claim(record: OutboundMail) -> bool:
    """Take the sending lease on a pending record; False if sent or someone else holds it."""
    now = timezone.now()
    claimed = (
        OutboundMail.objects.filter(pk=record.pk, state=OutboundMail.State.PENDING)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + SEND_LEASE)
    )
    if claimed:
        record.refresh_from_db(fields=["attempts"])
    return bool(claimed)


def _record(key, kind, ticket, message, address) -> OutboundMail:
    existing = OutboundMail.objects.filter(key=key).first()
    if existing is not None:
        return existing
    mail_id = make_msgid(idstring=ticket.reference, domain=_domain()).strip("<>")
    try:
        with transaction.atomic():
            record = OutboundMail.objects.create(
                key=key,
                kind=kind,
                ticket=ticket,
                ticket_message=message,
                recipients=[address],
                message_id=mail_id,
            )
            from tickets.services import remember_sent_message_id

            # Before sending: an answer that arrives at once (or after a crash
            # that lost the "sent" mark) still finds its ticket.
            remember_sent_message_id(ticket, message, mail_id, address)
            return record
    except IntegrityError:
        return OutboundMail.objects.get(key=key)


def resend_pending(*, older_than=datetime.timedelta(minutes=5), limit: int = 200) -> dict:
    """Send again the pending mail whose last attempt is older than `older_than`.

    A safety net for celery tasks that were lost (an eager run that used up
    its retries, a worker that died): the claim in _send_record keeps it from
    sending anything twice. The sweep stops at the first failure (the server
    is still away). Returns {"sent", "failed", "gave_up"}.
    """
    now = timezone.now()
    due = (
        OutboundMail.objects.filter(state=OutboundMail.State.PENDING)
        .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lte=now - older_than))
        .filter(created_at__lte=now - min(older_than, datetime.timedelta(minutes=1)))
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .select_related("ticket__requester", "ticket__assignee", "ticket_message")
        .order_by("created_at")[:limit]
    )
    result = {"sent": 0, "failed": 0, "gave_up": 0}
    for record in due:
        if record.ticket is None or record.created_at < now - GIVE_UP_AFTER:
            OutboundMail.objects.filter(pk=record.pk).update(state=OutboundMail.State.FAILED)
            result["gave_up"] += 1
            continue
        address = record.recipients[0] if record.recipients else ""
        if not address:
            continue
        language = _language_of(record.ticket, address)
        try:
            result["sent"] += _send_record(
                record, record.ticket, record.ticket_message, address, language
            )
        except Exception as exc:  # logged; tried again on the next sweep
            log.warning("resending %s to %s failed: %s", record.key, address, exc)
            result["failed"] += 1
            break
    return result


def _language_of(ticket: Ticket, address: str) -> str:
    from accounts.models import User

    name, email = parseaddr(address)
    user = User.objects.filter(email=email.lower()).only("language").first()
    return user.language if user else "bg"
