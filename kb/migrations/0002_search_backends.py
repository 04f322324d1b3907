"""Database parts of knowledge-base search that Django models cannot express.

SQLite: an FTS5 table of stemmed text (rowid = article id) and its vocabulary
view, kept in sync by kb.services. PostgreSQL: the pg_trgm extension for typo
tolerance. Each step is a no-op on the other database.
"""

from django.db import migrations

SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5("
    "title, summary, body, tokenize = 'unicode61 remove_diacritics 0')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts_vocab USING fts5vocab(kb_fts, 'row')",
]
SQLITE_DROP = ["DROP TABLE IF EXISTS kb_fts_vocab", "DROP TABLE IF EXISTS kb_fts"]
POSTGRES_CREATE = ["CREATE EXTENSION IF NOT EXISTS pg_trgm"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor, [])
        with schema_editor.connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("kb", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}),
            # The extension may serve other apps; leave it on the way back.
            _run({"sqlite": SQLITE_DROP}),
        ),
    ]
