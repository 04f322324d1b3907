"""Delivering the outbox: the mail the domain wrote down, composed and sent by SMTP.

The domain writes OutboundMail rows in the transaction of a change
(tickets/outbox.py). After the commit, ``outbox_written`` reaches
``mailbridge.tasks.schedule`` (connected in MailbridgeConfig.ready), which
hands the new rows to a celery task; ``deliver_pending`` (celery beat, every minute) sends
whatever is still pending: rows whose task was lost or whose broker was down
when they were written, and rows whose SMTP attempt failed.

A sender claims a row for a short lease before it talks to the SMTP server,
so the task, its retries and the sweep never send one row twice; a row is
composed from templates in the recipient's language, with the ticket's
reference in the subject and threading and loop headers.
"""

import base64
import datetime
import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from mailbridge.models import UndeliverableAddress
from mailbridge.reference import format_subject_tag
from tickets import rating_links
from tickets.models import AgentSettings, MailThreadKey, OutboundMail, Ticket
from tickets.outbox import WHOLE_KINDS
from tickets.surges import known_problem_url

log = logging.getLogger(__name__)

# Mail that a program sends on its own gets Auto-Submitted so that other
# programs never answer it; replies written by people do not.
AUTOMATIC_KINDS = frozenset(
    {
        "created",
        "resolved",
        "sla_warning",
        "sla_breach",
        "requester_replied",
        "merged",
        "autoclosed",
        "mail_held",
        "assigned",
        "mention",
        "report",
    }
)
# How long one sender may hold a row while it talks to the SMTP server.
SEND_LEASE = datetime.timedelta(minutes=2)
# The sweep gives up on mail this old and marks it failed for the admin to see.
GIVE_UP_AFTER = datetime.timedelta(days=2)
# Rows the sweep sends in one run; the rest wait for the next.
SWEEP_LIMIT = 200


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


# Mail that carries an agent's written answer, signed with the author's signature.
SIGNED_KINDS = frozenset({"reply", "incident_reply"})


def signature_for(row: OutboundMail) -> str:
    """The author's signature in the recipient's language, for a reply by an agent; else ""."""
    message = row.ticket_message
    if row.kind not in SIGNED_KINDS or message is None or not message.author_id:
        return ""
    if not message.from_staff:
        return ""
    found = AgentSettings.objects.filter(user_id=message.author_id).first()
    return found.signature(row.language or "bg") if found is not None else ""


def compose_whole(row: OutboundMail) -> EmailMultiAlternatives:
    """Return the mail of a row written whole by its caller (a scheduled report)."""
    content = row.content or {}
    mail = EmailMultiAlternatives(
        subject=" ".join(str(content.get("subject") or row.subject).split()),
        body=str(content.get("text") or ""),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(row.recipients),
        headers={
            "Message-ID": f"<{row.message_id}>",
            settings.HELPDESK["LOOP_HEADER"]: settings.HELPDESK["INSTANCE_ID"],
            "X-Auto-Response-Suppress": "All",
            "Auto-Submitted": "auto-generated",
        },
        reply_to=[settings.HELPDESK["SUPPORT_ADDRESS"]],
    )
    if content.get("html"):
        mail.attach_alternative(str(content["html"]), "text/html")
    for item in content.get("attachments") or []:
        mail.attach(item["name"], base64.b64decode(item["base64"]), item["type"])
    return mail


def compose(row: OutboundMail) -> EmailMultiAlternatives:
    """Return the ready-to-send mail of one outbox row."""
    if row.kind in WHOLE_KINDS:
        return compose_whole(row)
    ticket, message = row.ticket, row.ticket_message
    context = {
        "ticket": ticket,
        "message": message,
        "site_url": settings.SITE_URL,
        "ticket_url": f"{settings.SITE_URL}/portal/requests/{ticket.reference}/",
        "console_url": f"{settings.SITE_URL}/console/tickets/{ticket.reference}/",
        "support_address": settings.HELPDESK["SUPPORT_ADDRESS"],
        "signature": signature_for(row),
        # A request linked on arrival to a known mass incident: its announcement.
        "known_problem_url": known_problem_url(ticket) if row.kind == "created" else "",
    }
    kind = row.kind
    if kind == "resolved" and row.recipients:
        # Whoever wrote only by e-mail can rate from the mail (tickets.rating_links).
        token = rating_links.make_token(ticket.pk, row.recipients[0])
        context["rate_url"] = f"{settings.SITE_URL}{reverse('portal:rate_link', args=[token])}"
    with translation.override(row.language or "bg"):
        subject_line = render_to_string(f"emails/{kind}_subject.txt", context).strip()
        text = render_to_string(f"emails/{kind}.txt", context)
        html = render_to_string(f"emails/{kind}.html", context)
    subject = f"{format_subject_tag(ticket.reference)} {subject_line}"
    headers = {
        "Message-ID": f"<{row.message_id}>",
        settings.HELPDESK["LOOP_HEADER"]: settings.HELPDESK["INSTANCE_ID"],
        "X-Auto-Response-Suppress": "All",
        **thread_headers(ticket, row.message_id),
    }
    if kind in AUTOMATIC_KINDS:
        headers["Auto-Submitted"] = "auto-replied"
    mail = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(row.recipients),
        headers=headers,
        reply_to=[settings.HELPDESK["SUPPORT_ADDRESS"]],
    )
    mail.attach_alternative(html, "text/html")
    return mail


def claim(row: OutboundMail) -> bool:
    """Take the sending lease on a pending row; False if sent or someone else holds it."""
    now = timezone.now()
    claimed = (
        OutboundMail.objects.filter(pk=row.pk, state=OutboundMail.State.PENDING)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + SEND_LEASE)
    )
    if claimed:
        row.refresh_from_db(fields=["attempts"])
    return bool(claimed)


def _bounces(addresses) -> bool:
    wanted = [a.lower() for a in addresses]
    return UndeliverableAddress.objects.filter(address__in=wanted).exists()


def send_row(row: OutboundMail) -> int:
    """Claim, compose and send one row; return 1 if this call sent it, else 0.

    Raises the SMTP error when sending fails (the row stays pending, for a
    retry or the sweep).
    """
    if not claim(row):
        return 0
    now = timezone.now()
    if not row.recipients or _bounces(row.recipients):
        # The address bounced since the row was written: keep the row, say why.
        OutboundMail.objects.filter(pk=row.pk).update(
            state=OutboundMail.State.SUPPRESSED, locked_until=None
        )
        return 0
    try:
        mail = compose(row)
        mail.send()
    except Exception as exc:
        OutboundMail.objects.filter(pk=row.pk).update(
            attempts=row.attempts + 1,
            last_attempt_at=now,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            locked_until=None,
        )
        raise
    OutboundMail.objects.filter(pk=row.pk).update(
        subject=mail.subject[:255],
        attempts=row.attempts + 1,
        last_attempt_at=now,
        state=OutboundMail.State.SENT,
        sent_at=timezone.now(),
        locked_until=None,
    )
    return 1


def _rows(queryset):
    return queryset.select_related(
        "ticket__requester",
        "ticket__assignee",
        "ticket__institution",
        "ticket__region",
        "ticket_message",
    )


def deliver(ids) -> int:
    """Send the given outbox rows (those still pending); return how many went out.

    Every row is tried; the last SMTP error is raised afterwards, so that the
    celery task retries what failed.
    """
    sent, error = 0, None
    rows = _rows(OutboundMail.objects.filter(pk__in=list(ids), state=OutboundMail.State.PENDING))
    for row in rows.order_by("pk"):
        try:
            sent += send_row(row)
        except Exception as exc:  # the others still go out; re-raised below
            error = exc
    if error is not None:
        raise error
    return sent


def deliver_pending(*, older_than=datetime.timedelta(minutes=1), limit: int = SWEEP_LIMIT) -> dict:
    """Send pending rows not attempted for `older_than`; return {"sent", "failed", "gave_up"}.

    The safety net behind the task of each change: a broker that was down,
    a worker that died, an SMTP server that was away. The claim keeps it
    from sending anything twice; the sweep stops at the first failure (the
    server is still away). Rows older than GIVE_UP_AFTER are marked failed
    for an administrator to see.
    """
    now = timezone.now()
    due = (
        OutboundMail.objects.filter(state=OutboundMail.State.PENDING)
        .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lte=now - older_than))
        .filter(created_at__lte=now - older_than)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("created_at")
    )
    result = {"sent": 0, "failed": 0, "gave_up": 0}
    for row in _rows(due)[:limit]:
        orphan = row.ticket is None and row.kind not in WHOLE_KINDS
        if orphan or row.created_at < now - GIVE_UP_AFTER:
            OutboundMail.objects.filter(pk=row.pk).update(state=OutboundMail.State.FAILED)
            result["gave_up"] += 1
            continue
        try:
            result["sent"] += send_row(row)
        except Exception as exc:  # logged; tried again on the next sweep
            log.warning("outbox: sending %s failed: %s", row.key, exc)
            result["failed"] += 1
            break
    return result
