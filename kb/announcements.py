"""Announcement banners: which ones a person sees now, and hiding one.

Every page asks, so the announcements that have not ended yet are kept in the
cache for a minute as plain data; a page with no banner to show costs no
query. The admin clears the cache when an announcement is saved or deleted.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from kb.models import Announcement, AnnouncementDismissal, Article

PORTAL = "portal"
CONSOLE = "console"
CACHE_KEY = "kb:announcements:current"
CACHE_SECONDS = 60
MAX_SHOWN = 5


@dataclass(frozen=True)
class AnnouncementItem:
    """What templates/includes/announcements.html shows of one announcement."""

    pk: int
    title: str
    text: str
    article_url: str
    link_text: str
    dismiss_url: str


@dataclass(frozen=True)
class _Current:
    """An announcement that has not ended, as kept in the cache."""

    pk: int
    title: str
    text: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    region_ids: frozenset[int]
    on_portal: bool
    on_console: bool
    article_id: int | None
    article_url: str
    article_public: bool
    link_text: str


def forget_cached() -> None:
    """Drop the cached announcements (after an announcement changed)."""
    cache.delete(CACHE_KEY)


def _current() -> list[_Current]:
    current = cache.get(CACHE_KEY)
    if current is None:
        rows = (
            Announcement.objects.filter(ends_at__gt=timezone.now())
            .select_related("article")
            .prefetch_related("regions")
            .order_by("-starts_at", "-pk")
        )
        current = [
            _Current(
                pk=a.pk,
                title=a.title,
                text=a.text,
                starts_at=a.starts_at,
                ends_at=a.ends_at,
                region_ids=frozenset(r.pk for r in a.regions.all()),
                on_portal=a.show_on_portal,
                on_console=a.show_on_console,
                article_id=a.article_id,
                article_url=a.article.get_absolute_url() if a.article_id else "",
                article_public=bool(
                    a.article_id and a.article.is_published and a.article.visibility == "public"
                ),
                link_text=a.link_text,
            )
            for a in rows
        ]
        cache.set(CACHE_KEY, current, CACHE_SECONDS)
    return current


def region_ids_of(user) -> tuple[set[int], bool]:
    """Return (region ids, all_regions) for whom `user` should see announcements.

    Staff belong to the regions of their institutions, a regional agent to
    their region; central agents, national supervisors and administrators
    see the announcements of every region. Anonymous visitors get only
    those meant for all regions.
    """
    if user is None or not user.is_authenticated:
        return set(), False
    if user.is_superuser:
        return set(), True
    regions = set(user.memberships.values_list("institution__region_id", flat=True))
    agent = user.agent
    if agent is not None:
        if agent.region_id is None:
            return regions, True
        regions.add(agent.region_id)
    return regions, False


def announcements_for(user, place: str = PORTAL, at=None) -> list[AnnouncementItem]:
    """Return the announcements `user` sees on `place` ("portal" or "console") at `at`.

    Shown at that time, meant for one of the person's regions or for all, and
    not dismissed by them; newest first, at most five.
    """
    at = at or timezone.now()
    candidates = [
        a
        for a in _current()
        if a.starts_at <= at < a.ends_at and (a.on_console if place == CONSOLE else a.on_portal)
    ]
    if not candidates:
        return []
    if any(a.region_ids for a in candidates):
        regions, all_regions = region_ids_of(user)
        if not all_regions:
            candidates = [a for a in candidates if not a.region_ids or a.region_ids & regions]
    if candidates and user is not None and user.is_authenticated:
        dismissed = set(
            AnnouncementDismissal.objects.filter(
                user=user, announcement_id__in=[a.pk for a in candidates]
            ).values_list("announcement_id", flat=True)
        )
        candidates = [a for a in candidates if a.pk not in dismissed]
    candidates = candidates[:MAX_SHOWN]
    # A link to an article the person may not open would only lead to a 404.
    restricted = [a.article_id for a in candidates if a.article_id and not a.article_public]
    readable = set()
    if restricted:
        readable = set(
            Article.objects.visible_to(user)
            .published()
            .filter(pk__in=restricted)
            .values_list("pk", flat=True)
        )
    return [
        AnnouncementItem(
            pk=a.pk,
            title=a.title,
            text=a.text,
            article_url=a.article_url if a.article_public or a.article_id in readable else "",
            link_text=a.link_text,
            dismiss_url=reverse("kb:announcement_dismiss", args=[a.pk]),
        )
        for a in candidates
    ]


def dismiss(announcement: Announcement, user) -> None:
    """Hide `announcement` for `user` from now on (idempotent)."""
    AnnouncementDismissal.objects.get_or_create(announcement=announcement, user=user)


def publish(
    *, title: str, text: str, region_ids=(), actor=None, days: int = 3, at=None
) -> Announcement:
    """Publish a banner on the portal and in the console from now for `days` days.

    `region_ids` empty: every region. Used for the announcement of a mass
    incident created from a surge alert (console/surges.py).
    """
    at = at or timezone.now()
    announcement = Announcement.objects.create(
        title=title[:150],
        text=text[:500],
        starts_at=at,
        ends_at=at + datetime.timedelta(days=days),
        show_on_portal=True,
        show_on_console=True,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if region_ids:
        announcement.regions.set(list(region_ids))
    transaction.on_commit(forget_cached)
    return announcement


def shown_to_anyone(announcement: Announcement, at=None) -> bool:
    """Whether the announcement's own page may be shown: it has started (ended ones stay)."""
    return announcement.starts_at <= (at or timezone.now())
