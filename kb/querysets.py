"""Every "who may read which article" decision of the knowledge base lives here."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


def audience_of(user) -> str:
    """Return the widest article audience `user` belongs to.

    "agents" for agents and administrators, "staff" for people with a role at
    an institution, "public" for everyone else (anonymous visitors included).
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return "public"
    if user.is_superuser or user.is_agent:
        return "agents"
    if user.memberships.exists():
        return "staff"
    return "public"


AUDIENCE_VISIBILITIES = {
    "public": ("public",),
    "staff": ("public", "staff"),
    "agents": ("public", "staff", "agents"),
}


class ArticleQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Return the articles `user` may read.

        Public published articles for everyone, anonymous visitors included;
        staff articles also for institution staff (a Membership) and agents;
        agents-only articles for agents and administrators. Drafts only for
        agents and administrators. Pages, search, suggestions, file downloads
        and the sitemap all call this.
        """
        audience = audience_of(user)
        condition = Q(visibility__in=AUDIENCE_VISIBILITIES[audience])
        if audience != "agents":
            condition &= Q(status="published")
        return self.filter(condition)

    def published(self):
        return self.filter(status="published")

    def public(self):
        """Return what an anonymous visitor may read (the sitemap's list)."""
        return self.filter(status="published", visibility="public")


class AnnouncementQuerySet(models.QuerySet):
    def active(self, at=None):
        """Return announcements shown at `at` (now by default)."""
        at = at or timezone.now()
        return self.filter(starts_at__lte=at, ends_at__gt=at)
