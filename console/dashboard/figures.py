"""Figures for the people who run the offices: satisfaction (CSAT) and SLA per week.

Like the dashboard's other figures (queries.py), each is one GROUP BY over
the tickets the reader may see (Scope.tickets()); a rating counts in the
period in which its request was resolved.
"""

import datetime
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Avg, Count, F, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Region, User
from console.dashboard.queries import CACHE_SECONDS, Scope, percent
from tickets.models import Competence

# Ratings of 4 and 5 count as satisfied (the usual CSAT definition).
SATISFIED_FROM = 4
COMMENTS_LIMIT = 50

FIGURE_REPORTS = {
    "csat": gettext_lazy("Satisfaction by region, competence and agent"),
    "csat_comments": gettext_lazy("Satisfaction comments"),
    "sla_weekly": gettext_lazy("SLA attainment per week"),
}


@dataclass
class Figures:
    csat: list[dict]
    comments: list[dict]
    sla_weekly: list[dict]

    @property
    def csat_total(self) -> dict | None:
        return next((r for r in self.csat if r["group"] == "total"), None)


def _rated(scope: Scope):
    start, end = scope.bounds()
    return scope.tickets().filter(
        satisfaction__isnull=False, resolved_at__gte=start, resolved_at__lt=end
    )


def _csat_rows(rows, group: str, names: dict, missing: str) -> list[dict]:
    out = []
    for r in rows:
        key = r["key"]
        out.append(
            {
                "group": group,
                "name": names.get(key, missing) if key is not None else missing,
                "rated": r["rated"],
                "average": round(r["average"], 2) if r["average"] is not None else None,
                "satisfied": r["satisfied"],
                "csat_pct": percent(r["satisfied"], r["rated"]),
            }
        )
    return sorted(out, key=lambda r: (-r["rated"], r["name"]))


def csat(scope: Scope) -> list[dict]:
    """Return CSAT rows: the total, then per region, competence and agent.

    Each row: group ("total", "region", "competence", "agent"), name, rated
    (how many ratings), average (1–5), satisfied (4 or 5), csat_pct.
    """
    rated = _rated(scope)
    aggregates = {
        "rated": Count("id"),
        "average": Avg("satisfaction"),
        "satisfied": Count("id", filter=Q(satisfaction__gte=SATISFIED_FROM)),
    }
    total = rated.aggregate(**aggregates)
    out = []
    if total["rated"]:
        out.append(
            {
                "group": "total",
                "name": str(scope.label),
                "rated": total["rated"],
                "average": round(total["average"], 2),
                "satisfied": total["satisfied"],
                "csat_pct": percent(total["satisfied"], total["rated"]),
            }
        )
    by = {
        "region": ("region_id", dict(Region.objects.values_list("id", "name")), _("no region")),
        "competence": (
            "competence_id",
            dict(Competence.objects.values_list("id", "name")),
            _("not set"),
        ),
    }
    for group, (column, names, missing) in by.items():
        rows = rated.values(key=F(column)).annotate(**aggregates).order_by()
        out += _csat_rows(rows, group, names, missing)
    agent_rows = list(rated.values(key=F("assignee_id")).annotate(**aggregates).order_by())
    people = {
        u.pk: str(u) for u in User.objects.filter(pk__in=[r["key"] for r in agent_rows if r["key"]])
    }
    out += _csat_rows(agent_rows, "agent", people, _("nobody"))
    return out


def comments(scope: Scope, limit: int = COMMENTS_LIMIT) -> list[dict]:
    """Return the latest rating comments: reference, score, comment, competence, agent, date."""
    rows = (
        _rated(scope)
        .exclude(satisfaction_comment="")
        .select_related("competence", "assignee", "region")
        .order_by("-resolved_at", "-id")[:limit]
    )
    return [
        {
            "reference": t.reference,
            "score": t.satisfaction,
            "comment": t.satisfaction_comment,
            "region": t.region.name if t.region_id else "",
            "competence": t.competence.name if t.competence_id else "",
            "agent": str(t.assignee) if t.assignee_id else "",
            "resolved": timezone.localtime(t.resolved_at).date(),
        }
        for t in rows
    ]


def sla_weekly(scope: Scope, now=None) -> list[dict]:
    """Return first-response and resolution attainment per week of creation (Monday first).

    "Due" and "met" mean what they mean in queries.sla_attainment.
    """
    now = now or timezone.now()
    start, end = scope.bounds()
    rows = (
        scope.tickets()
        .filter(created_at__gte=start, created_at__lt=end, merged_into__isnull=True)
        .annotate(week=TruncWeek("created_at", tzinfo=timezone.get_current_timezone()))
        .values("week")
        .annotate(
            created=Count("id"),
            first_due=Count(
                "id",
                filter=Q(first_response_at__isnull=False) | Q(first_response_due__lt=now),
            ),
            first_met=Count(
                "id",
                filter=Q(first_response_at__isnull=False)
                & Q(first_response_at__lte=F("first_response_due")),
            ),
            res_due=Count("id", filter=Q(resolved_at__isnull=False) | Q(resolution_due__lt=now)),
            res_met=Count(
                "id",
                filter=Q(resolved_at__isnull=False) & Q(resolved_at__lte=F("resolution_due")),
            ),
        )
        .order_by("week")
    )
    out = []
    for r in rows:
        week = r["week"]
        if isinstance(week, datetime.datetime):
            week = timezone.localtime(week).date() if timezone.is_aware(week) else week.date()
        out.append(
            {
                "week": week,
                "week_label": f"{week.isocalendar().year}-W{week.isocalendar().week:02d}",
                "created": r["created"],
                "first_due": r["first_due"],
                "first_met": r["first_met"],
                "first_pct": percent(r["first_met"], r["first_due"]),
                "resolution_due": r["res_due"],
                "resolution_met": r["res_met"],
                "resolution_pct": percent(r["res_met"], r["res_due"]),
            }
        )
    return out


def collect_figures(scope: Scope) -> Figures:
    """Return the CSAT, comment and weekly SLA figures of the scope (five aggregate queries)."""
    return Figures(csat=csat(scope), comments=comments(scope), sla_weekly=sla_weekly(scope))


def collect_figures_cached(scope: Scope) -> Figures:
    """Return collect_figures(scope), kept as long as the dashboard's other figures."""
    key = "dashboard-figures:{}:{}:{}:{}".format(
        scope.user.pk, scope.region.pk if scope.region else "-", scope.start, scope.end
    )
    figures = cache.get(key)
    if figures is None:
        figures = collect_figures(scope)
        cache.set(key, figures, CACHE_SECONDS)
    return figures
