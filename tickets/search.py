"""Full-text search over tickets, with the knowledge base's Bulgarian stemming.

One entry point, filter_by_text(queryset, text), used by the console and the
API. What the text means is decided by the pure parse_query():

* a reference ("26-000123", "26-123", "HD#26-123") finds that ticket;
* an e-mail address finds the requests of that requester;
* a НЕИСПУО institution code (5 to 7 digits) finds the institution's
  tickets, or any ticket mentioning the number;
* words are stemmed (helpdesk.stemming: "дипломи", "дипломите" and
  "дипломата" share the stem "диплом") and each stem also matches as a
  prefix; all words must be found in the request: its subject and its
  messages together (a word in the subject and another in a reply match);
* "words in quotes" must appear together in that order.

Case folding and stemming happen here, in Python, for the documents and for
the queries alike, so the answer never depends on the database server's
locale (a PostgreSQL database created with LC_CTYPE=C does not lower-case
Cyrillic; it is never asked to).

Documents: one per ticket, the stems of its subject and public messages
(`public_text`) and of its internal notes (`note_text`). Requesters are
matched against the public part only, so a note never shows through as a
hit. refresh()/append_message() keep the documents in step with the tables
(tickets.apps connects them to the models' signals; merges call refresh()).
PostgreSQL stores them in tickets_search with generated tsvector columns and
GIN indexes; SQLite in the FTS5 table tickets_search_fts. A SQLite without
FTS5 falls back to LIKE over the plain texts (no stemming).
"""

import re
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import BooleanField, F, Func, Q, Value
from django.db.models.expressions import RawSQL

from accounts.models import Institution, User
from helpdesk.stemming import STOPWORDS, WORD, normalize, stem
from tickets.models import Message, Ticket

# Bounds: a search box text is cut to MAX_QUERY_CHARS, then to MAX_WORDS
# words (phrases included), each at most MAX_WORD_CHARS long.
MAX_QUERY_CHARS = 200
MAX_WORDS = 8
MAX_WORD_CHARS = 40
# A document keeps at most this many characters of stems per part (a
# PostgreSQL tsvector holds at most 1 MB).
MAX_DOCUMENT_CHARS = 200_000
ID_LIST_LIMIT = 20000
_REFERENCE = re.compile(r"^(?:\[?HD#)?(\d{2})-(\d{1,6})\]?$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s\"]{1,64}@[^@\s\"]{1,255}\.[^@\s\"]{1,63}$")
_QUOTED = re.compile(r'"([^"]*)"')
_CODE = re.compile(r"^\d{5,7}$")


@dataclass(frozen=True)
class SearchTerms:
    """What a search box text asks for.

    words: stems of the loose words (each also a prefix), all required;
    phrases: stems of each quoted phrase, in order, each required as written.
    """

    reference: str = ""
    email: str = ""
    number: str = ""
    words: tuple[str, ...] = field(default_factory=tuple)
    phrases: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not (self.reference or self.email or self.number or self.words or self.phrases)

    @property
    def has_text(self) -> bool:
        return bool(self.words or self.phrases)


def _stem(word: str) -> str:
    return stem(word[:MAX_WORD_CHARS])


def parse_query(text: str) -> SearchTerms:
    """Return what a search box text asks for (pure)."""
    text = " ".join((text or "")[:MAX_QUERY_CHARS].split())
    if not text:
        return SearchTerms()
    match = _REFERENCE.match(text)
    if match:
        return SearchTerms(reference=f"{match.group(1)}-{int(match.group(2)):06d}")
    if _EMAIL.match(text):
        return SearchTerms(email=text.lower())
    budget = MAX_WORDS
    phrases = []
    for chunk in _QUOTED.findall(text):
        phrase = tuple(_stem(w) for w in WORD.findall(chunk))[:budget]
        if phrase:
            # A quoted word is matched as written (its stem, not as a prefix).
            phrases.append(phrase)
            budget -= len(phrase)
    loose = _QUOTED.sub(" ", text).replace('"', " ")
    candidates = WORD.findall(loose)
    # One-letter words would match half the database as prefixes; common
    # words narrow nothing. If nothing else is left, the words are kept.
    meaningful = [
        w for w in candidates if (len(w) >= 2 or w.isdigit()) and normalize(w) not in STOPWORDS
    ]
    if not meaningful and not phrases:
        meaningful = [w for w in candidates if len(w) >= 2 or w.isdigit()]
    words: list[str] = []
    for word in meaningful:
        stemmed = _stem(word)
        if stemmed not in words and len(words) < budget:
            words.append(stemmed)
    number = text if _CODE.match(text) else ""
    return SearchTerms(number=number, words=tuple(words), phrases=tuple(phrases))


# --- documents ---------------------------------------------------------------------------


def document_text(text: str) -> str:
    """Return `text` as the space-separated, lower-case stems a document holds."""
    out = " ".join(_stem(w) for w in WORD.findall(text or ""))
    return out[:MAX_DOCUMENT_CHARS]


def build_document(subject: str, messages) -> tuple[str, str]:
    """Return (public_text, note_text) of a ticket from its subject and [(kind, text)]."""
    public = [document_text(subject)]
    notes = []
    for kind, text in messages:
        (notes if kind == Message.Kind.INTERNAL else public).append(document_text(text))
    return (
        " ".join(p for p in public if p)[:MAX_DOCUMENT_CHARS],
        " ".join(n for n in notes if n)[:MAX_DOCUMENT_CHARS],
    )


def _has_table() -> bool:
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and _sqlite_fts_ready()


def _write(ticket_id: int, public: str, notes: str, *, fresh: bool = False) -> None:
    """Write a ticket's document; `fresh` when it cannot have one yet (a new ticket)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "INSERT INTO tickets_search (ticket_id, public_text, note_text) "
                "VALUES (%s, %s, %s) ON CONFLICT (ticket_id) DO UPDATE "
                "SET public_text = EXCLUDED.public_text, note_text = EXCLUDED.note_text",
                [ticket_id, public, notes],
            )
        else:
            if not fresh:
                cursor.execute("DELETE FROM tickets_search_fts WHERE rowid = %s", [ticket_id])
            cursor.execute(
                "INSERT INTO tickets_search_fts (rowid, public_text, note_text) "
                "VALUES (%s, %s, %s)",
                [ticket_id, public, notes],
            )


def refresh(ticket_ids) -> None:
    """Rebuild the search documents of the given tickets from their subjects and messages."""
    ids = sorted({int(i) for i in ticket_ids if i is not None})
    if not ids or not _has_table():
        return
    subjects = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "subject"))
    texts: dict[int, list] = {pk: [] for pk in subjects}
    rows = (
        Message.objects.filter(ticket_id__in=list(subjects))
        .order_by("ticket_id", "created_at", "id")
        .values_list("ticket_id", "kind", "body_text")
    )
    for ticket_id, kind, body in rows:
        texts[ticket_id].append((kind, body))
    for pk in ids:
        if pk in subjects:
            _write(pk, *build_document(subjects[pk], texts[pk]))
        else:
            remove(pk)


def start_document(ticket_id: int, subject: str, messages=()) -> None:
    """A new ticket's document, from its subject and the messages it has so far.

    Later messages are appended as they are saved (append_message).
    `messages` is [(kind, text)].
    """
    if _has_table():
        _write(ticket_id, *build_document(subject, messages), fresh=True)


def append_message(ticket_id: int, kind: str, text: str) -> None:
    """Add one new message's stems to its ticket's document (a full refresh if there is none)."""
    if not _has_table():
        return
    column = "note_text" if kind == Message.Kind.INTERNAL else "public_text"
    stems = document_text(text)
    if not stems:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = (
                f"UPDATE tickets_search SET {column} = "
                f"left(trim({column} || ' ' || %s), {MAX_DOCUMENT_CHARS}) WHERE ticket_id = %s"
            )
        else:
            sql = (
                f"UPDATE tickets_search_fts SET {column} = "
                f"substr(trim({column} || ' ' || %s), 1, {MAX_DOCUMENT_CHARS}) WHERE rowid = %s"
            )
        cursor.execute(sql, [stems, ticket_id])
        updated = cursor.rowcount
    if not updated:
        refresh([ticket_id])


def remove(ticket_id: int) -> None:
    """Forget the search document of a deleted ticket."""
    if not _has_table():
        return
    table, key = (
        ("tickets_search", "ticket_id")
        if connection.vendor == "postgresql"
        else ("tickets_search_fts", "rowid")
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {key} = %s", [ticket_id])


def rebuild_all(batch: int = 500) -> int:
    """Rebuild every ticket's document (after an upgrade, or a stemmer change); return the count."""
    count = 0
    last = 0
    while True:
        ids = list(
            Ticket.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return count
        refresh(ids)
        count += len(ids)
        last = ids[-1]


# --- queries -----------------------------------------------------------------------------


def _lexeme(word: str) -> str:
    # Stems hold letters and digits only (helpdesk.stemming.WORD), so quoting
    # them as tsquery lexemes cannot inject operators.
    return f"'{word}'"


def tsquery(words, phrases=()) -> str:
    """Return a PostgreSQL to_tsquery() text: words as prefixes, phrases in order, all required."""
    parts = [f"{_lexeme(w)}:*" for w in words]
    for phrase in phrases:
        parts.append("(" + " <-> ".join(_lexeme(w) for w in phrase) + ")")
    return " & ".join(parts)


def fts5_query(words, phrases=(), *, column: str | None = None) -> str:
    """Return an SQLite FTS5 MATCH text: words as prefixes, phrases in order, all required."""
    parts = ['"{}"*'.format(w.replace('"', "")) for w in words]
    for phrase in phrases:
        parts.append('"' + " ".join(w.replace('"', "") for w in phrase) + '"')
    expression = " AND ".join(parts)
    if column:
        return f"{column} : ({expression})"
    return expression


class _DocumentMatches(Func):
    """The ticket's search document matches: tested row by row, never through the index."""

    output_field = BooleanField()

    def __init__(self, pk, query, *, column):
        self.template = (
            f"(SELECT s.{column} FROM tickets_search s WHERE s.ticket_id = %(expressions)s)"
        )
        super().__init__(pk, query)

    arg_joiner = ") @@ to_tsquery('simple', "


def _share_sql(words, phrases, column: str) -> tuple[str, list]:
    """SQL for the estimated number of documents matching, from the column's statistics.

    ANALYZE keeps, for a tsvector column, its most common lexemes and the
    share of documents holding each (pg_stats.most_common_elems). A word's
    share is the sum over the lexemes it is a prefix of (a phrase word: the
    lexeme itself); the words are taken as independent. A word not among the
    common lexemes counts 0, i.e. "rare": then the index is asked, as before.
    """
    parts, params = [], []
    exact = [w for phrase in phrases for w in phrase]
    for word, prefix in [*((w, True) for w in words), *((w, False) for w in exact)]:
        test = "left(u.e, %s) = %s" if prefix else "u.e = %s"
        parts.append(
            "(SELECT coalesce(sum(u.f), 0) FROM pg_stats st, "
            "unnest(st.most_common_elems::text::text[], st.most_common_elem_freqs) AS u(e, f) "
            "WHERE st.schemaname = current_schema() AND st.tablename = 'tickets_search' "
            f"AND st.attname = %s AND {test})"
        )
        params += [column, *([len(word), word] if prefix else [word])]
    reltuples = (
        "(SELECT greatest(c.reltuples, 0) FROM pg_class c "
        "WHERE c.oid = to_regclass('tickets_search'))"
    )
    return " * ".join([*parts, reltuples]), params


def _postgres_condition(terms: SearchTerms, column: str) -> Q:
    """Return the search condition for PostgreSQL, shaped by how common the words are.

    PostgreSQL cannot estimate prefix searches, so it is told. A search whose
    words are common (by the column's statistics, _share_sql) is tested row
    by row in the list's own order until a page is full: reading such a word
    from the GIN index means reading its whole posting list first (135 ms
    for "диплом" at a million requests) only to learn that it is common.
    Otherwise the matching tickets are read from the GIN index, at most
    ID_LIST_LIMIT of them: fewer (the usual, specific search) become a plain
    id list; more (a common word the statistics missed) and the row-by-row
    test is used after all. Both ways test the same document column, so the
    answers are the same. One query either way: the estimate and the index
    read are one statement, the index read skipped when the estimate is high.
    (Measured in docs/benchmarks.md; the slow case is a word common in the
    country but rare in the list at hand, which walks that whole list.)
    """
    query = tsquery(terms.words, terms.phrases)
    estimate, params = _share_sql(terms.words, terms.phrases, column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH common AS (SELECT ({estimate}) > %s AS yes) "
            "SELECT -1 FROM common WHERE common.yes "
            "UNION ALL (SELECT ticket_id FROM tickets_search "
            f"WHERE NOT (SELECT yes FROM common) AND {column} @@ to_tsquery('simple', %s) "
            "LIMIT %s)",
            [*params, ID_LIST_LIMIT, query, ID_LIST_LIMIT + 1],
        )
        ids = [row[0] for row in cursor.fetchall()]
    if ids != [-1] and len(ids) <= ID_LIST_LIMIT:
        return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [ids]))
    return Q(_DocumentMatches(F("pk"), Value(query), column=column))


_fts5_ready: dict[str, bool] = {}


def _sqlite_fts_ready() -> bool:
    key = str(connection.settings_dict.get("NAME"))
    if key not in _fts5_ready:
        _fts5_ready[key] = "tickets_search_fts" in connection.introspection.table_names()
    return _fts5_ready[key]


def _text_condition(terms: SearchTerms, *, include_internal: bool, within) -> Q:
    vendor = connection.vendor
    if vendor == "postgresql":
        column = "all_vector" if include_internal else "public_vector"
        return _postgres_condition(terms, column)
    if vendor == "sqlite" and _sqlite_fts_ready():
        query = fts5_query(
            terms.words, terms.phrases, column=None if include_internal else "public_text"
        )
        return Q(
            pk__in=RawSQL(
                "SELECT rowid FROM tickets_search_fts WHERE tickets_search_fts MATCH %s", [query]
            )
        )
    # No index (a SQLite without FTS5): plain substrings, all in the subject
    # or all in one message; no stemming beyond the stems as substrings.
    subject_q = Q()
    message_q = Q()
    for word in (*terms.words, *(w for phrase in terms.phrases for w in phrase)):
        subject_q &= Q(subject__icontains=word)
        message_q &= Q(body_text__icontains=word)
    messages = Message.objects.filter(message_q, ticket__in=within.values("pk"))
    if not include_internal:
        messages = messages.filter(kind=Message.Kind.PUBLIC)
    return Q(subject_q) | Q(pk__in=messages.values("ticket_id"))


def _email_condition(address: str) -> Q:
    user_ids = list(User.objects.filter(email__iexact=address).values_list("pk", flat=True)[:5])
    condition = Q(requester_email__in={address, address.lower()})
    if user_ids:
        condition |= Q(requester_id__in=user_ids)
    return condition


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
    if terms.email:
        return queryset.filter(_email_condition(terms.email))
    condition = Q()
    if terms.has_text:
        condition = _text_condition(terms, include_internal=include_internal, within=queryset)
    if terms.number:
        # The institution's id, not a join on its code: "institution = X OR
        # <text match>" can then be answered from two indexes.
        institution_id = (
            Institution.objects.filter(code=terms.number).values_list("pk", flat=True).first()
        )
        if institution_id is not None:
            condition |= Q(institution_id=institution_id)
    return queryset.filter(condition)
