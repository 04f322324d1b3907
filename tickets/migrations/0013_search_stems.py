"""Ticket search with Bulgarian stems (tickets.search): documents built in Python.

The documents of 0003/0004 were built by database triggers from the raw
texts, so search could only match prefixes, lower-cased by the server's
locale (a database created with LC_CTYPE=C left Cyrillic as written). Now
each ticket has one document of stems, folded in Python, in two parts: the
subject and public messages, and the internal notes (requesters never
match the notes). The triggers and tables of 0003/0004 go; the documents of
the existing tickets are built here.

PostgreSQL: tickets_search (public_text, note_text) with generated tsvector
columns public_vector and all_vector, each with a GIN index.
SQLite: the FTS5 table tickets_search_fts (rowid = ticket id), when FTS5 exists.
"""

import importlib

from django.db import migrations

PG_DROP_OLD = [
    "DROP TRIGGER IF EXISTS tickets_search_ticket ON tickets_ticket",
    "DROP TRIGGER IF EXISTS tickets_search_message ON tickets_message",
    "DROP FUNCTION IF EXISTS tickets_search_on_ticket()",
    "DROP FUNCTION IF EXISTS tickets_search_on_message()",
    "DROP FUNCTION IF EXISTS tickets_search_refresh(bigint)",
    "DROP TABLE IF EXISTS tickets_search",
]
# No foreign key to tickets_ticket: Django's flush truncates tables without
# CASCADE. A deleted ticket's document goes with it (tickets.search_sync);
# a new ticket overwrites any stale row with its id.
PG_CREATE = [
    "CREATE TABLE tickets_search ("
    "ticket_id bigint PRIMARY KEY, "
    "public_text text NOT NULL DEFAULT '', "
    "note_text text NOT NULL DEFAULT '', "
    "public_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', public_text)) STORED, "
    "all_vector tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple', public_text || ' ' || note_text)) STORED)",
    "CREATE INDEX tickets_search_public ON tickets_search USING gin (public_vector)",
    "CREATE INDEX tickets_search_all ON tickets_search USING gin (all_vector)",
]
PG_DROP_NEW = ["DROP TABLE IF EXISTS tickets_search"]

SQLITE_DROP_OLD = [
    f"DROP TRIGGER IF EXISTS {t}_fts_{s}"
    for t in ("tickets_ticket", "tickets_message")
    for s in ("ai", "ad", "au")
] + ["DROP TABLE IF EXISTS tickets_ticket_fts", "DROP TABLE IF EXISTS tickets_message_fts"]
SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS tickets_search_fts USING fts5("
    "public_text, note_text, tokenize='unicode61 remove_diacritics 0')"
]
SQLITE_DROP_NEW = ["DROP TABLE IF EXISTS tickets_search_fts"]


def _fts5_available(connection) -> bool:
    with connection.cursor() as cursor:
        try:
            cursor.execute("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x)")
            cursor.execute("DROP TABLE temp.fts5_probe")
        except Exception:
            return False
    return True


def forward(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        statements = PG_DROP_OLD + PG_CREATE
        insert = (
            "INSERT INTO tickets_search (ticket_id, public_text, note_text) VALUES (%s, %s, %s)"
        )
    elif connection.vendor == "sqlite":
        for sql in SQLITE_DROP_OLD:
            schema_editor.execute(sql)
        if not _fts5_available(connection):
            return
        statements = SQLITE_CREATE
        insert = (
            "INSERT INTO tickets_search_fts (rowid, public_text, note_text) VALUES (%s, %s, %s)"
        )
    else:
        return
    for sql in statements:
        schema_editor.execute(sql)
    _build(apps, connection, insert)


def _build(apps, connection, insert, batch=500):
    # The pure document builder of tickets.search: the same stems as at run time.
    from tickets.search import build_document

    ticket_model = apps.get_model("tickets", "Ticket")
    message_model = apps.get_model("tickets", "Message")
    last = 0
    while True:
        subjects = dict(
            ticket_model.objects.filter(pk__gt=last).order_by("pk").values_list("pk", "subject")[
                :batch
            ]
        )
        if not subjects:
            return
        texts = {pk: [] for pk in subjects}
        rows = (
            message_model.objects.filter(ticket_id__in=list(subjects))
            .order_by("ticket_id", "created_at", "id")
            .values_list("ticket_id", "kind", "body_text")
        )
        for ticket_id, kind, body in rows:
            texts[ticket_id].append((kind, body))
        with connection.cursor() as cursor:
            cursor.executemany(
                insert, [(pk, *build_document(subjects[pk], texts[pk])) for pk in subjects]
            )
        last = max(subjects)


def backward(apps, schema_editor):
    # The trigger-built documents of 0003 (SQLite) and 0004 (PostgreSQL) come back.
    old_sqlite = importlib.import_module("tickets.migrations.0003_search_indexes")
    old_pg = importlib.import_module("tickets.migrations.0004_search_documents")
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = PG_DROP_NEW + old_pg.PG_FORWARD
    elif vendor == "sqlite":
        statements = SQLITE_DROP_NEW
        if _fts5_available(schema_editor.connection):
            statements = statements + old_sqlite.SQLITE_FORWARD
    else:
        return
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0012_event_kinds_merged")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
