"""Two reads every received mail makes, as statements composed once per database.

Which request the mail's Message-IDs lead to (with that request and its
requester) and how many mails its sender had processed in the last hour: the
ORM composing them took more CPU than the database answering them, once per
mail (docs/architecture.md, "Statements composed once").
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connections, router

from helpdesk.rowsql import ModelColumns, composed
from mailbridge.models import InboundMessage
from tickets.models import MailThreadKey, Ticket


class _KeysRead:
    def __init__(self, conn):
        qn = conn.ops.quote_name
        User = get_user_model()
        self.keys = ModelColumns(MailThreadKey, "k", conn)
        self.tickets = ModelColumns(Ticket, "t", conn)
        self.users = ModelColumns(User, "rq", conn)
        self.sql = (
            f"SELECT {self.keys.sql}, {self.tickets.sql}, {self.users.sql}"
            f" FROM {qn(MailThreadKey._meta.db_table)} k"
            f" INNER JOIN {qn(Ticket._meta.db_table)} t"
            f" ON {self.tickets.column('id', 't')} = {self.keys.column('ticket', 'k')}"
            f" LEFT OUTER JOIN {qn(User._meta.db_table)} rq"
            f" ON {self.users.column('id', 'rq')} = {self.tickets.column('requester', 't')}"
            f" WHERE {self.keys.column('mail_id', 'k')} IN (%s)"
        )
        self.key_ticket = MailThreadKey._meta.get_field("ticket")
        self.requester = Ticket._meta.get_field("requester")

    def run(self, conn, mail_ids) -> list[MailThreadKey]:
        with conn.cursor() as cursor:
            cursor.execute(self.sql % ", ".join(["%s"] * len(mail_ids)), list(mail_ids))
            raw = cursor.fetchall()
        found = []
        for values in raw:
            key = self.keys.build(values)
            ticket = self.tickets.build(values, self.keys.width)
            requester = self.users.build(values, self.keys.width + self.tickets.width)
            self.requester.set_cached_value(ticket, requester)
            self.key_ticket.set_cached_value(key, ticket)
            found.append(key)
        return found


class _SenderCount:
    def __init__(self, conn):
        qn = conn.ops.quote_name
        meta = InboundMessage._meta

        def col(name):
            return qn(meta.get_field(name).column)

        self.sql = (
            f"SELECT COUNT(*) FROM {qn(meta.db_table)}"
            f" WHERE {col('sender')} = %s AND {col('created_at')} >= %s AND {col('state')} = %s"
        )


def thread_keys(mail_ids) -> list[MailThreadKey]:
    """The thread keys of these Message-IDs, each with its ticket and the ticket's
    requester cached (what ``select_related("ticket__requester")`` gives)."""
    mail_ids = [str(m) for m in mail_ids]
    if not mail_ids:
        return []
    conn = connections[router.db_for_read(MailThreadKey)]
    return composed(_KeysRead, conn).run(conn, mail_ids)


def processed_since(sender: str, since) -> int:
    """How many mails from `sender` were processed since `since`."""
    conn = connections[router.db_for_read(InboundMessage)]
    statement = composed(_SenderCount, conn)
    params = [
        sender,
        conn.ops.adapt_datetimefield_value(since),
        InboundMessage.State.PROCESSED.value,
    ]
    with conn.cursor() as cursor:
        cursor.execute(statement.sql, params)
        return cursor.fetchone()[0]
