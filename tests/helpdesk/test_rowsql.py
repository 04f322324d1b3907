"""helpdesk/rowsql.py: statements composed once per database and key."""

from django.db import connection

from helpdesk import rowsql


def test_a_statement_is_composed_once_per_database_and_key():
    made = []

    def factory(conn, *key):
        made.append(key)
        return object()

    first = rowsql.composed(factory, connection, "id")
    assert rowsql.composed(factory, connection, "id") is first
    other = rowsql.composed(factory, connection, "email")
    assert other is not first
    assert made == [("id",), ("email",)]
