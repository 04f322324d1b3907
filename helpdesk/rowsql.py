"""A model's columns written into a hand-composed statement, and its rows read back.

The ORM composes every statement anew; for the few reads that every request
(the session's person) or every filing (routing's candidates) makes, composing
costs many times what the database takes to answer. Those reads are written
once from the models' metadata (no table or column name is spelled out, so a
renamed or added field follows) and their rows turned back into the instances
the ORM would have built: the same values, through the same database
converters (SQLite's text to datetimes, integers to booleans), marked as
loaded from that database.
"""

from __future__ import annotations


class ModelColumns:
    """The concrete columns of `model` under a table alias, for one connection."""

    def __init__(self, model, alias: str, connection):
        self.model = model
        self.connection = connection
        self.fields = list(model._meta.concrete_fields)
        qn = connection.ops.quote_name
        self.sql = ", ".join(f"{alias}.{qn(f.column)}" for f in self.fields)
        self.width = len(self.fields)
        self.attnames = [f.attname for f in self.fields]
        self.pk_index = [f.primary_key for f in self.fields].index(True)
        self.converters = []
        for field in self.fields:
            col = field.get_col(alias)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            self.converters.append((found, col))

    def column(self, name: str, alias: str) -> str:
        """One column of the model, quoted, under `alias` (for joins and filters)."""
        field = self.model._meta.get_field(name)
        return f"{alias}.{self.connection.ops.quote_name(field.column)}"

    def convert(self, values) -> list:
        return [
            self._convert(value, found, col)
            for value, (found, col) in zip(values, self.converters, strict=True)
        ]

    def convert_one(self, attname: str, value):
        """One column's value as the ORM would give it."""
        return self._convert(value, *self.converters[self.attnames.index(attname)])

    def _convert(self, value, found, col):
        for convert in found:
            value = convert(value, col, self.connection)
        return value

    def build(self, row, start: int = 0):
        """The instance held by row[start:start + width]; None when its key is NULL
        (the missing side of an outer join)."""
        values = row[start : start + self.width]
        if values[self.pk_index] is None:
            return None
        return self.model.from_db(self.connection.alias, self.attnames, self.convert(values))


def cache_one_to_one(field, owner, related) -> None:
    """Cache both sides of the one-to-one `field` (declared on related's model) as
    select_related would: `owner.<related name>` is `related` (or, when None,
    known to be missing), and related's forward side is `owner`. Asking for
    either then reads nothing."""
    field.remote_field.set_cached_value(owner, related)
    if related is not None:
        field.set_cached_value(related, owner)


_composed: dict[tuple, object] = {}


def composed(factory, conn, *key):
    """``factory(conn, *key)``, made once per database (alias and vendor) and key, then kept.

    The statements these helpers write depend only on the models and the
    database; two threads racing on the first call both compose, and one
    result is kept.
    """
    token = (factory, conn.alias, conn.vendor, *key)
    found = _composed.get(token)
    if found is None:
        found = _composed.setdefault(token, factory(conn, *key))
    return found
