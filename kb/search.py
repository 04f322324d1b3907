"""Knowledge-base search: one entry for pages, the console and the filing form.

search_articles() answers the search page and the agents' lookup;
suggest_articles() answers the portal's filing form while a person types.
Both see only Article.objects.visible_to(user), only published articles, and
run on SQLite (FTS5) or PostgreSQL (tsvector + pg_trgm) through
kb.search_backends. Ranking: more query words in the title first, then in the
summary, then the engine's own score over title, summary and body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.safestring import SafeString

from helpdesk.stemming import stems
from kb.models import Article
from kb.rendering import plain_text
from kb.search_backends import get_backend
from kb.text import ParsedQuery, highlight, parse_query, snippet

MIN_SUGGEST_CHARS = 3
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


@dataclass(frozen=True)
class Hit:
    """One found article with its highlighted title and snippet (safe HTML)."""

    article: Article
    score: float
    title_html: SafeString
    snippet_html: SafeString

    @property
    def id(self) -> int:
        return self.article.pk

    @property
    def title(self) -> str:
        return self.article.title

    @property
    def summary(self) -> str:
        return self.article.summary

    @property
    def url(self) -> str:
        return self.article.get_absolute_url()


def search_articles(user, query: str, language: str | None = None, limit: int = 20) -> list[Hit]:
    """Return up to `limit` Hits for `query` among the articles `user` may read.

    Inflected Bulgarian forms find each other (a light stemmer), a word that
    is not in the knowledge base is matched to its nearest spellings
    (trigrams), and "double-quoted words" must appear together in that order.
    All words must match; when nothing does, any word may. `language` ("bg"
    or "en") narrows to one language; None searches both.
    """
    return _search(user, parse_query(query), language=language, limit=limit)


def suggest_articles(user, text: str, limit: int = 5) -> list[dict]:
    """Return up to `limit` articles for text typed into the filing form.

    Each item is a dict with title, url, summary and id. The last word counts
    as a prefix while it is still being typed; Cyrillic text is matched
    against Bulgarian articles only.
    """
    if len((text or "").strip()) < MIN_SUGGEST_CHARS:
        return []
    language = "bg" if _CYRILLIC.search(text) else None
    hits = _search(user, parse_query(text, prefix=True), language=language, limit=limit)
    return [
        {"id": hit.id, "title": hit.title, "url": hit.url, "summary": hit.summary} for hit in hits
    ]


def _search(user, parsed: ParsedQuery, *, language: str | None, limit: int) -> list[Hit]:
    if parsed.is_empty or limit <= 0:
        return []
    backend = get_backend()
    parsed = backend.with_alternatives(parsed)
    candidates = Article.objects.visible_to(user).published()
    if language:
        candidates = candidates.filter(language=language)
    scores = backend.match(parsed, any_term=False, candidates=candidates)
    if not scores and len(parsed.terms) + len(parsed.phrases) > 1:
        scores = backend.match(parsed, any_term=True, candidates=candidates)
    if not scores:
        return []
    articles = candidates.in_bulk(list(scores))
    wanted = parsed.match_stems()
    prefixes = parsed.prefixes()

    def field_hits(text: str) -> int:
        found = set(stems(text))
        exact = len(wanted & found)
        return exact + sum(1 for p in prefixes if any(s.startswith(p) for s in found - wanted))

    ranked = sorted(
        articles.values(),
        key=lambda a: (
            -field_hits(a.title),
            -field_hits(a.summary + " " + a.tags),
            -scores[a.pk],
            a.order,
            a.title,
        ),
    )
    return [_hit(a, scores[a.pk], wanted, prefixes) for a in ranked[:limit]]


def _hit(article: Article, score: float, wanted: set[str], prefixes: set[str]) -> Hit:
    summary = plain_text(article.summary)
    source = summary
    if not any(stem in wanted for stem in stems(summary)):
        body = plain_text(article.body)
        if any(stem in wanted for stem in stems(body)):
            source = body
    return Hit(
        article=article,
        score=score,
        title_html=highlight(article.title, wanted, prefixes),
        snippet_html=snippet(source, wanted, prefixes),
    )
