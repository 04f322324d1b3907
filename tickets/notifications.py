"""E-mail notifications about tickets, built from templates in the reader's language.

Each mail is recorded as an OutboundMail before it is sent: a retry after an
SMTP failure sends the same message (same Message-ID) and never a second copy.
"""

import logging
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from mailbridge.models import OutboundMail
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


def _domain() -> str:
    return settings.HELPDESK["SUPPORT_ADDRESS"].rpartition("@")[2] or "helpdesk.local"


def recipients_for(kind: str, ticket: Ticket, message: Message | None) -> list[tuple[str, str]]:
    """Return [(address, language)] who should receive this notification."""
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


def _thread_headers(ticket: Ticket) -> dict[str, str]:
    keys = list(
        MailThreadKey.objects.filter(ticket=ticket)
        .order_by("created_at", "id")
        .values_list("mail_id", flat=True)[:20]
    )
    if not keys:
        return {}
    refs = " ".join(f"<{k}>" for k in keys[-10:])
    first_in = (
        MailThreadKey.objects.filter(ticket=ticket, direction="in")
        .order_by("-created_at", "-id")
        .values_list("mail_id", flat=True)
        .first()
    )
    return {"In-Reply-To": f"<{first_in or keys[-1]}>", "References": refs}


def build_mail(
    kind: str, ticket: Ticket, message: Message | None, address: str, language: str, message_id: str
) -> EmailMultiAlternatives:
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
        **_thread_headers(ticket),
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
        key = f"{kind}:{ticket.pk}:{message_id or 0}:{address.lower()}"[:200]
        record = _record(key, kind, ticket, address)
        if record.state in (OutboundMail.State.SENT, OutboundMail.State.SUPPRESSED):
            continue
        mail = build_mail(kind, ticket, message, address, language, record.message_id)
        record.subject = mail.subject[:255]
        record.attempts += 1
        try:
            mail.send()
        except Exception as exc:
            record.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            record.save(update_fields=["subject", "attempts", "last_error"])
            error = exc
            continue
        record.state = OutboundMail.State.SENT
        record.sent_at = timezone.now()
        record.save(update_fields=["subject", "attempts", "state", "sent_at"])
        from tickets.services import remember_sent_message_id

        with transaction.atomic():
            remember_sent_message_id(ticket, message, record.message_id, address)
        sent += 1
    if error is not None:
        raise error
    return sent


def _record(key, kind, ticket, address) -> OutboundMail:
    existing = OutboundMail.objects.filter(key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return OutboundMail.objects.create(
                key=key,
                kind=kind,
                ticket=ticket,
                recipients=[address],
                message_id=make_msgid(idstring=ticket.reference, domain=_domain()).strip("<>"),
            )
    except IntegrityError:
        return OutboundMail.objects.get(key=key)
