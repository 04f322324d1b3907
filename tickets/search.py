"""Full-text search over ticket subjects and message texts, Cyrillic included.

One entry point, filter_by_text(queryset, text), used by the console and the
API. What the text means is decided by the pure parse_query():

* a reference ("26-000123" or "26-123") finds that ticket;
* a НЕИСПУО institution code (digits) finds the institution's tickets, or
  any ticket mentioning the number;
* words are matched as prefixes ("диплом" finds "дипломата"), all of them in
  the subject or all of them in one message. There is no Bulgarian stemmer in
  either database, so prefix matching stands in for one.

Backends: PostgreSQL keeps one tsvector document per ticket (subject and all
messages, 'simple' configuration) in tickets_search with a GIN index; SQLite
uses FTS5 tables. Both are kept by triggers (migration 0003). Anything else,
or a SQLite without FTS5, falls back to LIKE.
"""

import re
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import BooleanField, F, Func, Q, Value
from django.db.models.expressions import RawSQL

from accounts.models import Institution
from tickets.models import Message

MAX_WORDS = 8
ID_LIST_LIMIT = 20000
_REFERENCE = re.compile(r"^(\d{2})-(\d{1,6})$")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class SearchTerms:
    reference: str = ""
    number: str = ""
    words: tuple[str, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not (self.reference or self.number or self.words)


def parse_query(text: str) -> SearchTerms:
    """Return what a search box text asks for (pure)."""
    text = " ".join((text or "").split())
    if not text:
        return SearchTerms()
    match = _REFERENCE.match(text)
    if match:
        return SearchTerms(reference=f"{match.group(1)}-{int(match.group(2)):06d}")
    words = [w.lower() for w in _WORD.findall(text)]
    # One-letter words would match half the database as prefixes.
    words = [w for w in words if len(w) >= 2 or w.isdigit()][:MAX_WORDS]
    number = text if text.isdigit() and len(text) <= 7 else ""
    return SearchTerms(number=number, words=tuple(words))


def tsquery(words) -> str:
    """Return a PostgreSQL to_tsquery() text: every word as a prefix, all required."""
    return " & ".join(f"{w}:*" for w in words)


def fts5_query(words) -> str:
    """Return an SQLite FTS5 MATCH text: every word a quoted prefix, all required."""
    return " ".join('"{}"*'.format(w.replace('"', "")) for w in words)


class _DocumentMatches(Func):
    """The ticket's search document matches: tested row by row, never through the index."""

    template = "(SELECT s.document FROM tickets_search s WHERE s.ticket_id = %(expressions)s)"
    arg_joiner = ") @@ to_tsquery('simple', "
    output_field = BooleanField()


def _postgres_condition(query: str) -> Q:
    """Return the search condition for PostgreSQL, shaped by how common the words are.

    PostgreSQL cannot estimate prefix searches, so it is told: first the
    matching tickets are read from the GIN index, at most ID_LIST_LIMIT of
    them. Fewer (the usual, specific search) become a plain id list. More (a
    word in a large share of all requests) and the list is better read in its
    sort order, testing each row's document until a page is full. (Measured in
    docs/benchmarks.md; the slow case is a word common in the country but rare
    in the list at hand, which walks that whole list.)
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ticket_id FROM tickets_search "
            "WHERE document @@ to_tsquery('simple', %s) LIMIT %s",
            [query, ID_LIST_LIMIT + 1],
        )
        ids = [row[0] for row in cursor.fetchall()]
    if len(ids) <= ID_LIST_LIMIT:
        return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [ids]))
    return Q(_DocumentMatches(F("pk"), Value(query)))


_fts5_ready: dict[str, bool] = {}


def _sqlite_fts_ready() -> bool:
    key = str(connection.settings_dict.get("NAME"))
    if key not in _fts5_ready:
        _fts5_ready[key] = "tickets_message_fts" in connection.introspection.table_names()
    return _fts5_ready[key]


def _word_condition(words, *, include_internal: bool, within) -> Q:
    vendor = connection.vendor
    if vendor == "postgresql" and include_internal:
        return _postgres_condition(tsquery(words))
    if vendor == "sqlite" and _sqlite_fts_ready():
        query = fts5_query(words)
        public_only = "" if include_internal else " AND m.kind = 'public'"
        subjects = RawSQL(
            "SELECT rowid FROM tickets_ticket_fts WHERE tickets_ticket_fts MATCH %s", [query]
        )
        messages = RawSQL(
            "SELECT m.ticket_id FROM tickets_message_fts f "
            "JOIN tickets_message m ON m.id = f.rowid WHERE tickets_message_fts MATCH %s"
            + public_only,
            [query],
        )
        return Q(pk__in=subjects) | Q(pk__in=messages)
    # PostgreSQL's search document holds every message, internal notes too,
    # so a requester's search reads the public messages of the tickets they
    # may see (a short list) instead.
    subject_q = Q()
    message_q = Q()
    for word in words:
        subject_q &= Q(subject__icontains=word)
        message_q &= Q(body_text__icontains=word)
    messages = Message.objects.filter(message_q)
    if not include_internal:
        messages = messages.filter(kind=Message.Kind.PUBLIC, ticket__in=within.values("pk"))
    return Q(subject_q) | Q(pk__in=messages.values("ticket_id"))


def filter_by_text(queryset, text: str, *, include_internal: bool = True):
    """Return `queryset` narrowed to the tickets matching the search `text`.

    Without `include_internal` (a requester searching), internal notes are
    not searched: a hit on a word that only a note holds would tell them the
    note exists and, prefix by prefix, what it says.
    """
    terms = parse_query(text)
    if terms.empty:
        return queryset
    if terms.reference:
        return queryset.filter(reference=terms.reference)
    condition = Q()
    if terms.words:
        condition = _word_condition(terms.words, include_internal=include_internal, within=queryset)
    if terms.number:
        # The institution's id, not a join on its code: "institution = X OR
        # <text match>" can then be answered from two indexes.
        institution_id = (
            Institution.objects.filter(code=terms.number).values_list("pk", flat=True).first()
        )
        if institution_id is not None:
            condition |= Q(institution_id=institution_id)
    return queryset.filter(condition)
