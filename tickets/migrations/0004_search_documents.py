"""One search document per ticket on PostgreSQL (tickets.search).

Migration 0003 indexed subjects and message texts separately; a search then
had to be "subject matches OR some message matches", which PostgreSQL plans
badly (it hashes every matching message of the country first). Here each
ticket gets one tsvector (subject with weight A, plus every message) in
tickets_search, kept by triggers, with a GIN index, and the two indexes of
0003 go. SQLite keeps its FTS5 tables from 0003; other databases get nothing.
Also a partial index for the "due soon or breached" queue.
"""

from django.db import migrations

PG_DOCUMENT = (
    "setweight(to_tsvector('simple', t.subject), 'A') || to_tsvector('simple', "
    "coalesce((SELECT string_agg(m.body_text, ' ' ORDER BY m.id) FROM tickets_message m "
    "WHERE m.ticket_id = t.id), ''))"
)

PG_FORWARD = [
    "DROP INDEX IF EXISTS tickets_ticket_subject_fts",
    "DROP INDEX IF EXISTS tickets_message_body_fts",
    "CREATE TABLE IF NOT EXISTS tickets_search "
    "(ticket_id bigint PRIMARY KEY, document tsvector NOT NULL)",
    f"""CREATE OR REPLACE FUNCTION tickets_search_refresh(tid bigint) RETURNS void AS $$
        INSERT INTO tickets_search (ticket_id, document)
        SELECT t.id, {PG_DOCUMENT} FROM tickets_ticket t WHERE t.id = tid
        ON CONFLICT (ticket_id) DO UPDATE SET document = EXCLUDED.document
    $$ LANGUAGE sql""",
    """CREATE OR REPLACE FUNCTION tickets_search_on_ticket() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM tickets_search WHERE ticket_id = OLD.id;
        ELSE
            PERFORM tickets_search_refresh(NEW.id);
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION tickets_search_on_message() RETURNS trigger AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM tickets_search_refresh(OLD.ticket_id);
        END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.ticket_id <> OLD.ticket_id) THEN
            PERFORM tickets_search_refresh(NEW.ticket_id);
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS tickets_search_ticket ON tickets_ticket",
    "CREATE TRIGGER tickets_search_ticket AFTER INSERT OR DELETE OR UPDATE OF subject "
    "ON tickets_ticket FOR EACH ROW EXECUTE FUNCTION tickets_search_on_ticket()",
    "DROP TRIGGER IF EXISTS tickets_search_message ON tickets_message",
    "CREATE TRIGGER tickets_search_message AFTER INSERT OR DELETE OR UPDATE OF body_text, "
    "ticket_id ON tickets_message FOR EACH ROW EXECUTE FUNCTION tickets_search_on_message()",
    f"INSERT INTO tickets_search (ticket_id, document) SELECT t.id, {PG_DOCUMENT} "
    "FROM tickets_ticket t ON CONFLICT (ticket_id) DO NOTHING",
    "CREATE INDEX IF NOT EXISTS tickets_search_document ON tickets_search USING gin (document)",
]
PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS tickets_search_ticket ON tickets_ticket",
    "DROP TRIGGER IF EXISTS tickets_search_message ON tickets_message",
    "DROP FUNCTION IF EXISTS tickets_search_on_ticket()",
    "DROP FUNCTION IF EXISTS tickets_search_on_message()",
    "DROP FUNCTION IF EXISTS tickets_search_refresh(bigint)",
    "DROP TABLE IF EXISTS tickets_search",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


PG_BACKWARD_INDEXES = [
    "CREATE INDEX IF NOT EXISTS tickets_ticket_subject_fts ON tickets_ticket "
    "USING gin (to_tsvector('simple', subject))",
    "CREATE INDEX IF NOT EXISTS tickets_message_body_fts ON tickets_message "
    "USING gin (to_tsvector('simple', body_text))",
]


# The "due soon or breached" queue reads open requests in due order; without
# this index a national list sorts every open request on each page view.
OPEN_DUE_INDEX = (
    "CREATE INDEX IF NOT EXISTS tickets_open_due ON tickets_ticket (resolution_due, id) "
    "WHERE status IN ('new', 'open')"
)


def _open_due_index(apps, schema_editor):
    if schema_editor.connection.vendor in ("postgresql", "sqlite"):
        schema_editor.execute(OPEN_DUE_INDEX)


def _drop_open_due_index(apps, schema_editor):
    if schema_editor.connection.vendor in ("postgresql", "sqlite"):
        schema_editor.execute("DROP INDEX IF EXISTS tickets_open_due")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0003_search_indexes")]

    operations = [
        migrations.RunPython(
            _run(PG_FORWARD), _run(PG_BACKWARD + PG_BACKWARD_INDEXES), elidable=False
        ),
        migrations.RunPython(_open_due_index, _drop_open_due_index, elidable=False),
    ]
