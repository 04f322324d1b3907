"""Figures for the people who run the offices: satisfaction (CSAT) and SLA per week.

Like the dashboard's other figures (queries.py), each is one GROUP BY over
the tickets the reader may see (Scope.tickets()); a rating counts in the
period in which its request was resolved. The weekly SLA figures come from
the counters when they can answer (counted.py); the ratings are read through
a partial index of the rated tickets (dash_rated).
"""

import datetime
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from console.dashboard import counted
from console.dashboard.queries import CACHE_SECONDS, Scope, attainment_counts, percent

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


def _csat_row(group: str, name: str, rated: int, total_score, satisfied: int) -> dict:
    return {
        "group": group,
        "name": name,
        "rated": rated,
        "average": round(total_score / rated, 2) if rated else None,
        "satisfied": satisfied,
        "csat_pct": percent(satisfied, rated),
    }


def csat(scope: Scope) -> list[dict]:
    """Return CSAT rows: the total, then per region, competence and agent.

    Each row: group ("total", "region", "competence", "agent"), name, rated
    (how many ratings), average (1–5), satisfied (4 or 5), csat_pct. Three
    GROUP BY queries; the names come with them, the total from the regions.
    """
    rated = _rated(scope)
    aggregates = {
        "rated": Count("id"),
        "score": Sum("satisfaction"),
        "satisfied": Count("id", filter=Q(satisfaction__gte=SATISFIED_FROM)),
    }
    groups = {
        "region": (("region_id", "region__name"), _("no region")),
        "competence": (("competence_id", "competence__name"), _("not set")),
        "agent": (("assignee_id", "assignee__full_name", "assignee__email"), _("nobody")),
    }
    out: list[dict] = []
    total = {"rated": 0, "score": 0, "satisfied": 0}
    for group, (columns, missing) in groups.items():
        rows = rated.values(*columns).annotate(**aggregates).order_by()
        group_rows = []
        for r in rows:
            name = next((r[c] for c in columns[1:] if r[c]), None) or str(missing)
            group_rows.append(_csat_row(group, name, r["rated"], r["score"], r["satisfied"]))
            if group == "region":
                for key in total:
                    total[key] += r[key] or 0
        out += sorted(group_rows, key=lambda r: (-r["rated"], r["name"]))
    if total["rated"]:
        out.insert(
            0,
            _csat_row(
                "total", str(scope.label), total["rated"], total["score"], total["satisfied"]
            ),
        )
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


def sla_weekly(scope: Scope, now=None, *, counters: bool = True) -> list[dict]:
    """Return first-response and resolution attainment per week of creation (Monday first).

    "Due" and "met" mean what they mean in queries.sla_attainment.
    """
    now = now or scope.moment()
    region_id = counted.counted_region(scope) if counters else counted.NOT_COUNTED
    if region_id is not counted.NOT_COUNTED:
        by_week = counted.sum_by(
            counted.sla_by_day(scope, region_id, now),
            lambda day, _competence: day - datetime.timedelta(days=day.weekday()),
        )
        rows = [{"week": week, **values} for week, values in sorted(by_week.items())]
    else:
        start, end = scope.bounds()
        rows = (
            scope.tickets()
            .filter(created_at__gte=start, created_at__lt=end, merged_into__isnull=True)
            .annotate(week=TruncWeek("created_at", tzinfo=timezone.get_current_timezone()))
            .values("week")
            .annotate(
                **attainment_counts(now),
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
    """Return the CSAT, comment and weekly SLA figures of the scope (five queries)."""
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
