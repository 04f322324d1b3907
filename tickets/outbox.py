"""The outbox: mail the helpdesk owes people, written in the transaction of the change.

An action that should mail someone (an acknowledgement, a reply, an SLA
warning) calls ``notify`` inside its transaction. That writes one
OutboundMail row per recipient, with a fixed Message-ID that is remembered
as a thread key at once, so an answer threads to the ticket even if we crash
right after sending. Once the transaction commits, ``outbox_written`` tells
whoever delivers mail (mailbridge/outbound.py) to send the new rows; if that
hand-over fails (a broker that is down), the rows wait, and the delivery
sweep sends them later. The same change never mails one address twice: each
row has a unique key.
"""

import base64
from email.utils import make_msgid

from django.conf import settings
from django.db import IntegrityError, connection, connections, router, transaction
from django.db.models import Q
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.utils import timezone

from accounts.models import AgentProfile
from tickets.models import AgentSettings, MailThreadKey, Message, OutboundMail, Ticket
from tickets.signals import outbox_written

# Who hears about what: the requester (and copies) about answers and
# outcomes; the assignee about the requester's replies; the assignee and
# supervisors about SLA targets.
REQUESTER_KINDS = frozenset(
    {"created", "reply", "resolved", "merged", "autoclosed", "incident_reply"}
)
COPIED_KINDS = frozenset({"reply", "incident_reply"})
SLA_KINDS = frozenset({"sla_warning", "sla_breach"})
# Mail to people the caller names (`to=`), not derived from the ticket.
ADDRESSED_KINDS = frozenset({"mail_held", "assigned", "mention"})
KINDS = REQUESTER_KINDS | SLA_KINDS | ADDRESSED_KINDS | {"requester_replied"}


def recipients_for(kind: str, ticket: Ticket, message: Message | None) -> list[tuple[str, str]]:
    """Return [(address, language)] who should receive mail of `kind` about `ticket`.

    People whose address bounced (User.email_undeliverable) are left out until
    they write to us again; the delivery also skips addresses it knows bounce.
    """
    out: list[tuple[str, str]] = []
    if kind in REQUESTER_KINDS:
        requester = ticket.requester
        if requester is not None:
            if not requester.email_undeliverable:
                out.append((requester.email, requester.language))
        elif ticket.requester_email:
            out.append((ticket.requester_email, "bg"))
        if kind in COPIED_KINDS:
            out.extend(watchers_of(ticket))
    elif kind == "requester_replied":
        if ticket.assignee_id and agent_wants_mail(ticket.assignee, "reply"):
            out.append((ticket.assignee.email, ticket.assignee.language))
    elif kind in SLA_KINDS:
        # A breach is not a warning: the assignee hears of it whatever they chose.
        if ticket.assignee_id and (
            kind == "sla_breach" or agent_wants_mail(ticket.assignee, "sla")
        ):
            out.append((ticket.assignee.email, ticket.assignee.language))
        if kind == "sla_breach" or not ticket.assignee_id:
            out.extend(supervisors_of(ticket))
    seen, unique = set(), []
    for address, language in out:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            unique.append((address, language))
    return unique


def agent_wants_mail(user, kind: str) -> bool:
    """Whether the agent chose to get notifications of `kind` by mail (AgentSettings)."""
    found = AgentSettings.objects.filter(user=user).first()
    return (found or AgentSettings(user=user)).wants(kind, "mail")


def watchers_of(ticket: Ticket) -> list[tuple[str, str]]:
    """Return [(address, language)] of the people and addresses following `ticket`."""
    out = []
    for watcher in ticket.watchers.select_related("user"):
        user = watcher.user
        if user is None:
            out.append((watcher.email, "bg"))
        elif user.is_active and not user.email_undeliverable:
            out.append((user.email, user.language))
    return out


def supervisors_of(ticket: Ticket) -> list[tuple[str, str]]:
    """Return [(address, language)] of the supervisors responsible for `ticket`."""
    # Regional supervisors hear about their region; national ones only about
    # what has no region, or they would receive every breach in the country.
    scope = Q(region_id=ticket.region_id) if ticket.region_id else Q(region__isnull=True)
    rows = AgentProfile.objects.filter(
        scope,
        kind=AgentProfile.Kind.SUPERVISOR,
        user__is_active=True,
        # Bounced addresses, and the API's service accounts (which have none).
        user__email_undeliverable=False,
    ).values_list("user__email", "user__language")
    return list(rows)


def _domain() -> str:
    return settings.HELPDESK["SUPPORT_ADDRESS"].rpartition("@")[2] or "helpdesk.local"


def key_for(kind: str, ticket: Ticket, message: Message | None, address: str, round_="") -> str:
    """The idempotency key of one mail: the same change never mails one address twice.

    SLA mails repeat when a due time moves; `round_` (when the sweep claimed
    the warning) tells one round from the next.
    """
    message_id = message.pk if message is not None else 0
    return f"{kind}:{ticket.pk}:{message_id}:{round_}:{address.lower()}"[:200]


def notify(kind: str, ticket: Ticket, message: Message | None = None, *, round_="", to=None) -> int:
    """Write the outbox rows of one notification; return how many were written.

    Call inside the transaction of the change. Delivery starts after the
    commit; nothing is sent if the transaction rolls back. `to` names the
    [(address, language)] of an addressed kind (e.g. "mail_held").
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if (kind in ADDRESSED_KINDS) != (to is not None):
        raise ValueError(f"{kind!r} takes `to` if and only if it is an addressed kind")
    recipients = list(to) if to is not None else recipients_for(kind, ticket, message)
    ids = _write(kind, ticket, message, recipients, round_)
    if ids:
        transaction.on_commit(lambda: outbox_written.send_robust(sender=OutboundMail, ids=ids))
    return len(ids)


def _write(kind, ticket, message, recipients, round_) -> list[int]:
    """Insert one row per recipient whose key is new; return the ids of the rows inserted.

    Whatever the number of recipients: the rows (a key written before is
    skipped by the database, so two workers racing on one change write it
    once, and the insert returns only the rows it wrote), and the thread keys
    of the new rows, written before sending so an answer that arrives at once
    (or after a crash that lost the "sent" mark) still finds its ticket. One
    statement on PostgreSQL (_insert_with_thread_keys), two where the
    database returns rows from an insert but has no data-modifying CTEs
    (SQLite), three elsewhere (the ids found again by the fresh Message-IDs).
    """
    if not recipients:
        return []
    domain = _domain()
    rows = [
        OutboundMail(
            key=key_for(kind, ticket, message, address, round_),
            kind=kind,
            ticket=ticket,
            ticket_message=message,
            recipients=[address],
            language=language or "bg",
            message_id=make_msgid(idstring=ticket.reference, domain=domain).strip("<>"),
        )
        for address, language in recipients
    ]
    if connection.vendor == "postgresql":
        written = _insert_with_thread_keys(rows, ticket, message)
        return [written[row.message_id] for row in rows if row.message_id in written]
    if connection.features.can_return_rows_from_bulk_insert:
        sql, params = _insert_sql(rows)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            written = {message_id: pk for pk, message_id, _recipients in cursor.fetchall()}
    else:
        OutboundMail.objects.bulk_create(rows, ignore_conflicts=True)
        written = dict(
            OutboundMail.objects.filter(
                key__in=[r.key for r in rows], message_id__in=[r.message_id for r in rows]
            ).values_list("message_id", "pk")
        )
    MailThreadKey.objects.bulk_create(
        [
            MailThreadKey(
                mail_id=row.message_id[:255],
                ticket=ticket,
                message=message,
                direction=MailThreadKey.Direction.OUT,
                recipient=row.recipients[0],
            )
            for row in rows
            if row.message_id in written
        ],
        ignore_conflicts=True,
    )
    return [written[row.message_id] for row in rows if row.message_id in written]


def _insert_sql(rows, *, using=None) -> tuple[str, tuple]:
    """The rows' INSERT, a key written before skipped, returning (id, Message-ID, recipients).

    Only for a database that returns rows from an insert: it returns the rows
    it wrote, never the ones it skipped.
    """
    db = using or router.db_for_write(OutboundMail)
    fields = [f for f in OutboundMail._meta.concrete_fields if not f.primary_key]
    query = InsertQuery(OutboundMail, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, rows)
    compiler = query.get_compiler(using=db)
    compiler.returning_fields = [
        OutboundMail._meta.pk,
        OutboundMail._meta.get_field("message_id"),
        OutboundMail._meta.get_field("recipients"),
    ]
    [(sql, params)] = compiler.as_sql()
    return sql, params


def _insert_with_thread_keys(rows, ticket, message) -> dict[str, int]:
    """PostgreSQL: the rows and their thread keys in one statement; {Message-ID: id} of the new rows.

    The rows' INSERT (a key written before skipped, ON CONFLICT DO NOTHING)
    returns only the rows it wrote; a second data-modifying CTE writes their
    thread keys from what it returned. What _write does in three round trips.
    """
    db = router.db_for_write(OutboundMail)
    insert_sql, insert_params = _insert_sql(rows, using=db)
    ops = connections[db].ops
    key = MailThreadKey._meta
    columns = ", ".join(
        ops.quote_name(key.get_field(name).column)
        for name in ("mail_id", "ticket", "message", "direction", "recipient", "created_at")
    )
    mail_id = ops.quote_name(OutboundMail._meta.get_field("message_id").column)
    recipients = ops.quote_name(OutboundMail._meta.get_field("recipients").column)
    pk = ops.quote_name(OutboundMail._meta.pk.column)
    statement = (
        f"WITH new_rows AS ({insert_sql}), "
        f"new_keys AS (INSERT INTO {ops.quote_name(key.db_table)} ({columns}) "
        f"SELECT left(new_rows.{mail_id}, 255), %s, %s, %s, new_rows.{recipients} ->> 0, %s "
        f"FROM new_rows ON CONFLICT DO NOTHING) "
        f"SELECT new_rows.{mail_id}, new_rows.{pk} FROM new_rows"
    )
    params = (
        *insert_params,
        ticket.pk,
        message.pk if message is not None else None,
        MailThreadKey.Direction.OUT,
        timezone.now(),
    )
    with connections[db].cursor() as cursor:
        cursor.execute(statement, params)
        return dict(cursor.fetchall())


# --- mail about no ticket: scheduled reports ---------------------------------------------

# Kinds written whole by their caller (OutboundMail.content), not from templates.
WHOLE_KINDS = frozenset({"report"})


def report(
    *,
    key: str,
    address: str,
    language: str,
    subject: str,
    text: str,
    html: str,
    attachments=(),
) -> OutboundMail | None:
    """Write the outbox row of one scheduled report; None if `key` was written before.

    `attachments` are (file name, MIME type, bytes). Delivery is the same as
    for every other row (mailbridge/outbound.py), after the commit.
    """
    key = f"report:{key}:{address.lower()}"[:200]
    if OutboundMail.objects.filter(key=key).exists():
        return None
    content = {
        "subject": subject,
        "text": text,
        "html": html,
        "attachments": [
            {"name": name, "type": mime, "base64": base64.b64encode(data).decode("ascii")}
            for name, mime, data in attachments
        ],
    }
    try:
        with transaction.atomic():
            row = OutboundMail.objects.create(
                key=key,
                kind="report",
                ticket=None,
                recipients=[address],
                language=language or "bg",
                subject=subject[:255],
                message_id=make_msgid(idstring="report", domain=_domain()).strip("<>"),
                content=content,
            )
    except IntegrityError:
        return None
    ids = [row.pk]
    transaction.on_commit(lambda: outbox_written.send_robust(sender=OutboundMail, ids=ids))
    return row
