"""Full-text search indexes for the console (tickets.search).

PostgreSQL: GIN indexes over to_tsvector('simple', ...) of subjects and
message texts ('simple' only lower-cases, which suits Bulgarian: there is no
Bulgarian stemmer, so search uses prefix matching instead).
SQLite: FTS5 tables kept in step with the tables by triggers.
Other databases get nothing and search falls back to LIKE.
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE INDEX IF NOT EXISTS tickets_ticket_subject_fts ON tickets_ticket "
    "USING gin (to_tsvector('simple', subject))",
    "CREATE INDEX IF NOT EXISTS tickets_message_body_fts ON tickets_message "
    "USING gin (to_tsvector('simple', body_text))",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS tickets_ticket_subject_fts",
    "DROP INDEX IF EXISTS tickets_message_body_fts",
]


def _fts5_table(table, column):
    fts = f"{table}_fts"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({column}, content='{table}', "
        f"content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {column} ON {table} "
        f"WHEN old.{column} IS NOT new.{column} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


SQLITE_FORWARD = _fts5_table("tickets_ticket", "subject") + _fts5_table(
    "tickets_message", "body_text"
)
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {t}_fts_{s}"
    for t in ("tickets_ticket", "tickets_message")
    for s in ("ai", "ad", "au")
] + ["DROP TABLE IF EXISTS tickets_ticket_fts", "DROP TABLE IF EXISTS tickets_message_fts"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor, [])
        if schema_editor.connection.vendor == "sqlite" and statements:
            # SQLite builds without FTS5 exist; search then falls back to LIKE.
            with schema_editor.connection.cursor() as cursor:
                try:
                    cursor.execute("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x)")
                    cursor.execute("DROP TABLE temp.fts5_probe")
                except Exception:
                    return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_console")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
            elidable=False,
        )
    ]
