"""Deflection: which articles the filing form suggested, which were opened, and
whether the person filed a request anyway ("the article did not help").

The portal calls record_suggestions_shown() when it shows suggestions and
keeps the returned token in the form; record_filed_anyway() when the request
is filed; the article page calls record_suggestion_clicked() when a
suggestion link (…?s=<token>) is opened. article_figures() sums it up.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from kb.models import Article, ArticleFeedback, DeflectionRecord, SuggestedArticle

MAX_ARTICLES = 20


def record_suggestions_shown(user, article_ids, query: str, token: str | None = None) -> str:
    """Record that `article_ids` were suggested for `query`; return the record's token.

    Pass the token of an earlier call from the same form as `token` to add to
    that record instead of starting a new one (people type in several
    steps). Returns "" when no article was shown and there is nothing to add to.
    """
    ids = [int(pk) for pk in list(article_ids)[:MAX_ARTICLES]]
    user = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        record = _open_record(token, user)
        if record is None:
            if not ids:
                return ""
            record = DeflectionRecord.objects.create(user=user, query=(query or "")[:500])
        elif query:
            record.query = query[:500]
            record.save(update_fields=["query"])
        known = set(record.items.values_list("article_id", flat=True))
        position = len(known)
        existing = set(Article.objects.filter(pk__in=ids).values_list("pk", flat=True))
        for pk in ids:
            if pk in known or pk not in existing:
                continue
            SuggestedArticle.objects.create(record=record, article_id=pk, position=position)
            known.add(pk)
            position += 1
    return record.token


def _open_record(token: str | None, user) -> DeflectionRecord | None:
    """Return the not yet filed record of `token` if it belongs to `user`."""
    if not token:
        return None
    record = DeflectionRecord.objects.filter(token=token, ticket__isnull=True).first()
    if record is None or record.user_id != (user.pk if user else None):
        return None
    return record


def record_filed_anyway(token: str, ticket) -> bool:
    """Link the suggestions of `token` to the request filed after them.

    Returns True when a record was linked; False for an unknown token, one
    already linked, or one that belongs to someone other than the requester.
    """
    if not token:
        return False
    record = DeflectionRecord.objects.filter(token=token, ticket__isnull=True).first()
    if record is None:
        return False
    if record.user_id and ticket.requester_id and record.user_id != ticket.requester_id:
        return False
    updated = DeflectionRecord.objects.filter(pk=record.pk, ticket__isnull=True).update(
        ticket=ticket, filed_at=timezone.now()
    )
    return bool(updated)


def record_suggestion_clicked(token: str, article_id: int) -> bool:
    """Note that the suggested article was opened; return True if it was suggested."""
    if not token:
        return False
    updated = SuggestedArticle.objects.filter(
        record__token=token, article_id=article_id, clicked_at__isnull=True
    ).update(clicked_at=timezone.now())
    return bool(updated)


@dataclass(frozen=True)
class ArticleFigures:
    """How an article does: readings, feedback, and its record as a suggestion."""

    article_id: int
    views: int
    helpful: int
    not_helpful: int
    shown: int
    clicked: int
    filed_anyway: int

    @property
    def helpful_rate(self) -> float | None:
        """Return the share of "helpful" answers (0..1), None without answers."""
        answers = self.helpful + self.not_helpful
        return self.helpful / answers if answers else None

    @property
    def filed_anyway_rate(self) -> float | None:
        """Return the share of suggestions after which a request was filed anyway."""
        return self.filed_anyway / self.shown if self.shown else None

    @property
    def click_rate(self) -> float | None:
        return self.clicked / self.shown if self.shown else None


def _count(model, filters, field="article"):
    return Coalesce(
        Subquery(
            model.objects.filter(**{field: OuterRef("pk")}, **filters)
            .order_by()
            .values(field)
            .annotate(n=Count("pk"))
            .values("n")[:1]
        ),
        0,
    )


def with_figures(queryset):
    """Return `queryset` of articles annotated with fig_* counts (one query, no joins)."""
    return queryset.annotate(
        fig_helpful=_count(ArticleFeedback, {"helpful": True}),
        fig_not_helpful=_count(ArticleFeedback, {"helpful": False}),
        fig_shown=_count(SuggestedArticle, {}),
        fig_clicked=_count(SuggestedArticle, {"clicked_at__isnull": False}),
        fig_filed_anyway=_count(SuggestedArticle, {"record__ticket__isnull": False}),
    )


def figures_of(article) -> ArticleFigures:
    """Return the ArticleFigures of an article annotated by with_figures()."""
    return ArticleFigures(
        article_id=article.pk,
        views=article.views,
        helpful=article.fig_helpful,
        not_helpful=article.fig_not_helpful,
        shown=article.fig_shown,
        clicked=article.fig_clicked,
        filed_anyway=article.fig_filed_anyway,
    )


def article_figures(article_ids=None) -> dict[int, ArticleFigures]:
    """Return ArticleFigures by article id (all articles, or those of `article_ids`)."""
    queryset = Article.objects.all()
    if article_ids is not None:
        queryset = queryset.filter(pk__in=list(article_ids))
    return {a.pk: figures_of(a) for a in with_figures(queryset)}


def failing_articles(min_answers: int = 3, limit: int = 20) -> list[tuple[Article, ArticleFigures]]:
    """Return articles that fail people, worst first.

    An article fails when most answers say "not helpful" or most people it
    was suggested to filed a request anyway; it needs `min_answers` answers
    or suggestions to count.
    """
    rows = with_figures(Article.objects.select_related("category"))
    failing = []
    for article in rows:
        figures = figures_of(article)
        answers = figures.helpful + figures.not_helpful
        bad_feedback = answers >= min_answers and (figures.helpful_rate or 0) < 0.5
        bad_deflection = figures.shown >= min_answers and (figures.filed_anyway_rate or 0) > 0.5
        if bad_feedback or bad_deflection:
            worst = max(
                1 - (figures.helpful_rate if figures.helpful_rate is not None else 1),
                figures.filed_anyway_rate or 0,
            )
            failing.append((worst, article, figures))
    failing.sort(key=lambda item: (-item[0], item[1].title))
    return [(article, figures) for _worst, article, figures in failing[:limit]]
