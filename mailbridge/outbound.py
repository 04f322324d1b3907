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
import contextlib
import contextvars
import datetime
import logging
import smtplib
import threading
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connections, router
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Institution, Region
from helpdesk.rowsql import ModelColumns, composed
from mailbridge.models import UndeliverableAddress
from mailbridge.reference import format_subject_tag
from tickets import rating_links
from tickets.models import AgentSettings, MailThreadKey, Message, OutboundMail, Ticket
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
    # The latest ten, newest first: when there are no more, the last of them is
    # the thread's first; only a longer thread needs the first read on its own.
    read = _batch_keys.get()
    if read is not None and ticket.pk in read:
        latest = [key for key in read[ticket.pk] if key[0] != own_message_id][:10]
    else:
        latest = list(keys.order_by("-created_at", "-id").values_list("mail_id", "direction")[:10])
    if not latest:
        return {}
    if len(latest) < 10:
        first = latest[-1][0]
    else:
        first = keys.order_by("created_at", "id").values_list("mail_id", flat=True).first()
    latest = latest[:9]
    chain = [first] + [mail_id for mail_id, _direction in reversed(latest)]
    refs = list(dict.fromkeys(chain))
    received = [mail_id for mail_id, direction in latest if direction == "in"]
    parent = received[0] if received else latest[0][0]
    return {"In-Reply-To": f"<{parent}>", "References": " ".join(f"<{r}>" for r in refs)}


# The latest thread keys of the tickets of the batch being sent, read in one
# statement (``batch_thread_keys``): {ticket id: [(mail_id, direction), …]}.
_batch_keys: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "outbound_batch_keys", default=None
)


@contextlib.contextmanager
def batch_thread_keys(rows):
    """Inside this block ``thread_headers`` of the rows' tickets reads nothing.

    The latest eleven keys of each ticket (ten once a row's own Message-ID is
    left out), newest first, as ``thread_headers`` would read them one by one.
    """
    tickets = {row.ticket_id for row in rows if row.ticket_id}
    if len(rows) < 2 or not tickets:
        yield
        return
    ranked = (
        MailThreadKey.objects.filter(ticket_id__in=tickets)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("ticket_id")],
                order_by=[F("created_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=11)
        .values_list("ticket_id", "mail_id", "direction", "rank")
    )
    read: dict[int, list] = {pk: [] for pk in tickets}
    for ticket_id, mail_id, direction, _rank in sorted(ranked, key=lambda key: (key[0], key[3])):
        read[ticket_id].append((mail_id, direction))
    token = _batch_keys.set(read)
    try:
        yield
    finally:
        _batch_keys.reset(token)


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
    if not claim_ids([row.pk]):
        return False
    row.refresh_from_db(fields=["attempts"])
    return True


def claim_ids(ids) -> list[int]:
    """Take the sending lease on those of `ids` that are pending and free; return their ids.

    One statement whatever the number of rows (``UPDATE … RETURNING``, on
    PostgreSQL and SQLite alike): what another sender holds, or what went
    out already, is left alone.
    """
    ids = [int(i) for i in ids]
    if not ids:
        return []
    now = timezone.now()
    using = router.db_for_write(OutboundMail)
    conn = connections[using]
    qn, meta = conn.ops.quote_name, OutboundMail._meta

    def col(name):
        return qn(meta.get_field(name).column)

    marks = ", ".join(["%s"] * len(ids))
    sql = (
        f"UPDATE {qn(meta.db_table)} SET {col('locked_until')} = %s"
        f" WHERE {col('id')} IN ({marks}) AND {col('state')} = %s"
        f" AND ({col('locked_until')} IS NULL OR {col('locked_until')} < %s)"
        f" RETURNING {col('id')}"
    )
    adapt = conn.ops.adapt_datetimefield_value
    params = [adapt(now + SEND_LEASE), *ids, OutboundMail.State.PENDING.value, adapt(now)]
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _bounced(rows) -> set[str]:
    """The flagged addresses among the recipients of `rows`, in one query."""
    wanted = {a.lower() for row in rows for a in (row.recipients or [])}
    if not wanted:
        return set()
    return set(
        UndeliverableAddress.objects.filter(address__in=wanted).values_list("address", flat=True)
    )


# The SMTP connection a sending process keeps between mails (and tasks): the
# greeting, EHLO, TLS and login once instead of for every mail. Per thread,
# renewed when the mail settings change or after a minute without use (mail
# servers drop idle clients after a few minutes); a connection that turns
# out to be closed is opened again once before the mail counts as failed.
KEEP_SMTP_SECONDS = 60
_smtp = threading.local()


def _smtp_settings() -> tuple:
    return (
        settings.EMAIL_BACKEND,
        settings.EMAIL_HOST,
        settings.EMAIL_PORT,
        settings.EMAIL_HOST_USER,
        settings.EMAIL_USE_TLS,
        settings.EMAIL_USE_SSL,
    )


def _kept_connection():
    """The process's open SMTP backend, or None for the other backends (files, memory)."""
    if settings.EMAIL_BACKEND != "django.core.mail.backends.smtp.EmailBackend":
        return None
    key, now = _smtp_settings(), time.monotonic()
    kept = getattr(_smtp, "kept", None)
    if kept is not None and (kept[0] != key or now - kept[2] > KEEP_SMTP_SECONDS):
        close_kept_connection()
        kept = None
    if kept is None:
        backend = get_connection(fail_silently=False)
        backend.open()
        kept = (key, backend, now)
    _smtp.kept = (kept[0], kept[1], now)
    return kept[1]


def close_kept_connection() -> None:
    kept = getattr(_smtp, "kept", None)
    _smtp.kept = None
    if kept is not None:
        try:
            kept[1].close()
        except Exception:  # closing a connection that is gone already
            log.debug("outbox: closing the kept SMTP connection failed", exc_info=True)


def _send(mail) -> None:
    backend = _kept_connection()
    if backend is None:
        mail.send()
        return
    mail.connection = backend
    try:
        mail.send()
    except (smtplib.SMTPServerDisconnected, ConnectionError):
        # The server closed the kept connection: once more on a new one.
        close_kept_connection()
        mail.connection = _kept_connection()
        try:
            mail.send()
        except Exception:
            close_kept_connection()
            raise
    except Exception:
        close_kept_connection()  # the next mail starts a clean session
        raise


def send_row(row: OutboundMail, *, claimed: bool = False, bounced: set[str] | None = None) -> int:
    """Claim, compose and send one row; return 1 if this call sent it, else 0.

    `claimed`: the caller holds the lease already (claim_ids) and read the
    row after taking it. `bounced`: the flagged addresses, looked up by the
    caller for a batch of rows. Raises the SMTP error when sending fails
    (the row stays pending, for a retry or the sweep).
    """
    if not claimed and not claim(row):
        return 0
    now = timezone.now()
    recipients = row.recipients or []
    if bounced is None:
        bounced = _bounced([row])
    if not recipients or any(a.lower() in bounced for a in recipients):
        # The address bounced since the row was written: keep the row, say why.
        OutboundMail.objects.filter(pk=row.pk).update(
            state=OutboundMail.State.SUPPRESSED, locked_until=None
        )
        return 0
    try:
        mail = compose(row)
        _send(mail)
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


class _ClaimedRead:
    """Claimed rows with what composing them reads: their ticket with its requester,
    assignee, institution and region, and the message they carry.

    What ``_rows()`` selects, as one statement composed once per database
    (helpdesk/rowsql.py): composing that six-table join took the ORM more CPU
    than sending the mail.
    """

    def __init__(self, conn):
        qn = conn.ops.quote_name
        User = get_user_model()
        self.parts = [
            ("o", ModelColumns(OutboundMail, "o", conn)),
            ("t", ModelColumns(Ticket, "t", conn)),
            ("rq", ModelColumns(User, "rq", conn)),
            ("asg", ModelColumns(User, "asg", conn)),
            ("inst", ModelColumns(Institution, "inst", conn)),
            ("reg", ModelColumns(Region, "reg", conn)),
            ("msg", ModelColumns(Message, "msg", conn)),
        ]
        cols = dict(self.parts)
        o, t = cols["o"], cols["t"]

        def join(alias, model, on):
            return f" LEFT OUTER JOIN {qn(model._meta.db_table)} {alias} ON {alias}.{qn(model._meta.pk.column)} = {on}"

        self.sql = (
            "SELECT "
            + ", ".join(c.sql for _a, c in self.parts)
            + f" FROM {qn(OutboundMail._meta.db_table)} o"
            + join("t", Ticket, o.column("ticket", "o"))
            + join("rq", User, t.column("requester", "t"))
            + join("asg", User, t.column("assignee", "t"))
            + join("inst", Institution, t.column("institution", "t"))
            + join("reg", Region, t.column("region", "t"))
            + join("msg", Message, o.column("ticket_message", "o"))
            + f" WHERE {o.column('id', 'o')} IN (%s) ORDER BY {o.column('id', 'o')}"
        )
        self.fields = {
            "ticket": OutboundMail._meta.get_field("ticket"),
            "message": OutboundMail._meta.get_field("ticket_message"),
            "requester": Ticket._meta.get_field("requester"),
            "assignee": Ticket._meta.get_field("assignee"),
            "institution": Ticket._meta.get_field("institution"),
            "region": Ticket._meta.get_field("region"),
        }

    def rows(self, conn, ids) -> list[OutboundMail]:
        sql = self.sql % ", ".join(["%s"] * len(ids))
        with conn.cursor() as cursor:
            cursor.execute(sql, list(ids))
            raw = cursor.fetchall()
        result, f = [], self.fields
        for values in raw:
            built, start = {}, 0
            for alias, columns in self.parts:
                built[alias] = columns.build(values, start)
                start += columns.width
            row, ticket = built["o"], built["t"]
            f["ticket"].set_cached_value(row, ticket)
            f["message"].set_cached_value(row, built["msg"])
            if ticket is not None:
                for name, alias in (
                    ("requester", "rq"),
                    ("assignee", "asg"),
                    ("institution", "inst"),
                    ("region", "reg"),
                ):
                    f[name].set_cached_value(ticket, built[alias])
            result.append(row)
        return result


def _read_claimed(ids) -> list[OutboundMail]:
    """The rows `ids` (just claimed), as ``_rows()`` would select them, in id order."""
    conn = connections[router.db_for_write(OutboundMail)]
    return composed(_ClaimedRead, conn).rows(conn, ids)


def deliver(ids) -> int:
    """Send the given outbox rows (those still pending); return how many went out.

    Every row is tried; the last SMTP error is raised afterwards, so that the
    celery task retries what failed.
    """
    sent, error = 0, None
    # The leases first, then the rows as they are under them (their attempts).
    claimed = claim_ids(ids)
    if not claimed:
        return 0
    rows = _read_claimed(claimed)
    bounced = _bounced(rows)
    with batch_thread_keys(rows):
        for row in rows:
            try:
                sent += send_row(row, claimed=True, bounced=bounced)
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
