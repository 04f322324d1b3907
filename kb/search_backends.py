"""Full-text search over SearchDocument stems: SQLite FTS5 or PostgreSQL tsvector.

Both backends index the same stemmed text (helpdesk.stemming) and answer the same
ParsedQuery, so Bulgarian inflection is handled identically; each uses its own
engine for matching, phrase order and scoring, and its own trigram source for
typo tolerance. kb.search is the only caller.
"""

from __future__ import annotations

from dataclasses import replace

from django.core.cache import cache
from django.db import connection

from kb.models import SearchDocument
from kb.text import ParsedQuery, closest_terms

VOCABULARY_CACHE_KEY = "kb:search:vocabulary"
VOCABULARY_SECONDS = 300
MAX_ALTERNATIVES = 2


class SqliteBackend:
    """FTS5 table kb_fts (rowid = article id), bm25 weighted title 10, summary 4, body 1."""

    def write(self, article_id: int, title: str, summary: str, body: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM kb_fts WHERE rowid = %s", [article_id])
            cursor.execute(
                "INSERT INTO kb_fts (rowid, title, summary, body) VALUES (%s, %s, %s, %s)",
                [article_id, title, summary, body],
            )
        cache.delete(VOCABULARY_CACHE_KEY)

    def remove(self, article_id: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM kb_fts WHERE rowid = %s", [article_id])
        cache.delete(VOCABULARY_CACHE_KEY)

    def with_alternatives(self, parsed: ParsedQuery) -> ParsedQuery:
        vocabulary = self._vocabulary()
        alternatives = {}
        for index, term in enumerate(parsed.terms):
            if term in vocabulary or (parsed.prefix and index == len(parsed.terms) - 1):
                continue
            found = closest_terms(term, vocabulary, limit=MAX_ALTERNATIVES)
            if found:
                alternatives[term] = found
        return replace(parsed, alternatives=alternatives)

    def _vocabulary(self) -> frozenset[str]:
        vocabulary = cache.get(VOCABULARY_CACHE_KEY)
        if vocabulary is None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT term FROM kb_fts_vocab")
                vocabulary = frozenset(row[0] for row in cursor.fetchall())
            cache.set(VOCABULARY_CACHE_KEY, vocabulary, VOCABULARY_SECONDS)
        return vocabulary

    def match(self, parsed: ParsedQuery, *, any_term: bool, candidates) -> dict[int, float]:
        expression = self._expression(parsed, any_term=any_term)
        if not expression:
            return {}
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT rowid, bm25(kb_fts, 10.0, 4.0, 1.0) FROM kb_fts WHERE kb_fts MATCH %s",
                [expression],
            )
            rows = cursor.fetchall()
        if not rows:
            return {}
        allowed = set(candidates.filter(pk__in=[r[0] for r in rows]).values_list("pk", flat=True))
        # bm25() is lower for better matches.
        return {rowid: -score for rowid, score in rows if rowid in allowed}

    @staticmethod
    def _expression(parsed: ParsedQuery, *, any_term: bool) -> str:
        parts = []
        groups = parsed.groups()
        for index, group in enumerate(groups):
            last = index == len(groups) - 1
            options = [f'"{word}"' for word in group]
            if parsed.prefix and last:
                options = [f'"{group[0]}"*']
            parts.append(options[0] if len(options) == 1 else "(" + " OR ".join(options) + ")")
        for phrase in parsed.phrases:
            parts.append('"' + " ".join(phrase) + '"')
        return (" OR " if any_term else " AND ").join(parts)


class PostgresBackend:
    """tsvector ('simple' config over stems) weighted A/B/C; pg_trgm for typos."""

    def write(self, article_id: int, title: str, summary: str, body: str) -> None:
        """Nothing beyond SearchDocument: vectors are computed at query time."""

    def remove(self, article_id: int) -> None:
        """Nothing beyond SearchDocument (deleted with its article)."""

    def with_alternatives(self, parsed: ParsedQuery) -> ParsedQuery:
        terms = [
            term
            for index, term in enumerate(parsed.terms)
            if not (parsed.prefix and index == len(parsed.terms) - 1)
        ]
        if not terms:
            return parsed
        sql = """
            WITH vocabulary AS (
                SELECT word FROM ts_stat(
                    'SELECT to_tsvector(''simple'', title || '' '' || summary || '' '' || body)
                     FROM kb_searchdocument'
                )
            ), wanted AS (SELECT unnest(%s::text[]) AS term)
            SELECT wanted.term, vocabulary.word, similarity(wanted.term, vocabulary.word) AS s
            FROM wanted JOIN vocabulary ON similarity(wanted.term, vocabulary.word) >= 0.3
            ORDER BY wanted.term, s DESC, vocabulary.word
        """
        with connection.cursor() as cursor:
            cursor.execute(sql, [terms])
            rows = cursor.fetchall()
        known = {term for term, word, _s in rows if term == word}
        alternatives: dict[str, list[str]] = {}
        for term, word, _s in rows:
            if term in known or term == word or abs(len(term) - len(word)) > 3:
                continue
            found = alternatives.setdefault(term, [])
            if len(found) < MAX_ALTERNATIVES:
                found.append(word)
        return replace(parsed, alternatives={t: tuple(w) for t, w in alternatives.items()})

    def match(self, parsed: ParsedQuery, *, any_term: bool, candidates) -> dict[int, float]:
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        expression = self._expression(parsed, any_term=any_term)
        if not expression:
            return {}
        vector = (
            SearchVector("title", weight="A", config="simple")
            + SearchVector("summary", weight="B", config="simple")
            + SearchVector("body", weight="C", config="simple")
        )
        query = SearchQuery(expression, search_type="raw", config="simple")
        rows = (
            SearchDocument.objects.filter(article__in=candidates)
            .annotate(document=vector, rank=SearchRank(vector, query))
            .filter(document=query)
            .values_list("article_id", "rank")
        )
        return {article_id: float(rank) for article_id, rank in rows}

    @staticmethod
    def _expression(parsed: ParsedQuery, *, any_term: bool) -> str:
        # Stems hold letters and digits only (helpdesk.stemming.WORD), so quoting them
        # as tsquery lexemes cannot inject operators.
        parts = []
        groups = parsed.groups()
        for index, group in enumerate(groups):
            last = index == len(groups) - 1
            if parsed.prefix and last:
                parts.append(f"'{group[0]}':*")
                continue
            options = [f"'{word}'" for word in group]
            parts.append(options[0] if len(options) == 1 else "(" + " | ".join(options) + ")")
        for phrase in parsed.phrases:
            parts.append("(" + " <-> ".join(f"'{word}'" for word in phrase) + ")")
        return (" | " if any_term else " & ").join(parts)


def get_backend():
    """Return the search backend of the default database."""
    if connection.vendor == "postgresql":
        return PostgresBackend()
    if connection.vendor == "sqlite":
        return SqliteBackend()
    raise NotImplementedError(f"knowledge-base search does not support {connection.vendor}")
