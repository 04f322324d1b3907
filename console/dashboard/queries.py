"""The dashboard's figures: a few aggregate queries over what the reader may see.

Every figure is what one GROUP BY over Ticket.objects.visible_to(user) would
give (a regional supervisor sees the region, a national one the country).
When the reader sees every ticket, or every ticket of a region, the figures
are read from the counters kept with the tickets (counted.py,
tickets/counters.py), so the cost does not grow with the number of tickets;
anyone else's are counted from the tickets. `counters=False` counts from the
tickets always (the tests compare the two).
"""

import datetime
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.core.exceptions import BadRequest
from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import AgentProfile, Region, User
from console.dashboard import counted
from helpdesk.bounds import OutOfBounds, parse_bounded_date, parse_id
from tickets.models import OPEN_STATUSES, Competence, Status, Ticket

MAX_DAYS = 366
CACHE_SECONDS = 60
DEFAULT_DAYS = 30
AGE_BUCKETS = [
    ("d1", gettext_lazy("under 1 day"), 0, 1),
    ("d3", gettext_lazy("1–3 days"), 1, 3),
    ("d7", gettext_lazy("3–7 days"), 3, 7),
    ("d30", gettext_lazy("7–30 days"), 7, 30),
    ("older", gettext_lazy("over 30 days"), 30, None),
]

REPORTS = {
    "backlog": gettext_lazy("Open backlog by competence and age"),
    "per_day": gettext_lazy("Requests per day by channel"),
    "sla": gettext_lazy("SLA attainment by competence"),
    "load": gettext_lazy("Load per agent"),
}


# --- scope ----------------------------------------------------------------------------


@dataclass
class Scope:
    """Whose tickets and which dates a dashboard shows."""

    user: User
    start: datetime.date
    end: datetime.date
    region: Region | None = None
    regions: list = field(default_factory=list)
    _moment: datetime.datetime | None = field(default=None, repr=False, compare=False)

    def moment(self) -> datetime.datetime:
        """The one "now" of this scope's figures (the table and the weekly figures agree)."""
        if self._moment is None:
            self._moment = timezone.now()
        return self._moment

    @property
    def national(self) -> bool:
        agent = self.user.agent
        return self.user.is_superuser or (agent is not None and agent.region_id is None)

    @classmethod
    def from_request(cls, request) -> "Scope":
        today = timezone.localdate()
        try:
            end = parse_bounded_date(request.GET.get("to") or "") or today
            start = parse_bounded_date(request.GET.get("from") or "")
        except OutOfBounds as error:
            raise BadRequest(str(error)) from None
        start = start or end - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            start, end = end, start
        if (end - start).days >= MAX_DAYS:
            start = end - datetime.timedelta(days=MAX_DAYS - 1)
        scope = cls(user=request.user, start=start, end=end)
        if scope.national:
            scope.regions = list(Region.objects.order_by("code"))
            region_id = parse_id(request.GET.get("region"))
            if region_id is not None:
                scope.region = next((r for r in scope.regions if r.pk == region_id), None)
        else:
            agent = request.user.agent
            scope.region = agent.region if agent is not None else None
        return scope

    def tickets(self):
        qs = Ticket.objects.visible_to(self.user)
        if self.region is not None:
            qs = qs.filter(region=self.region)
        return qs

    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        zone = timezone.get_current_timezone()
        start = datetime.datetime.combine(self.start, datetime.time.min, tzinfo=zone)
        end = datetime.datetime.combine(
            self.end + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
        )
        return start, end

    def query(self) -> str:
        params = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.region is not None and self.national:
            params["region"] = self.region.pk
        return urlencode(params)

    @property
    def label(self) -> str:
        if self.region is not None:
            return str(self.region)
        return _("the whole country") if self.national else _("what I may see")


# --- data -------------------------------------------------------------------------------


@dataclass
class DashboardData:
    backlog: list[dict]
    per_day: list[dict]
    sla: list[dict]
    load: list[dict]
    channels: list[str]


def backlog_aggregates(now) -> dict:
    """The counts of the backlog, for .annotate(): every open ticket, and one per age bucket.

    Counted by created_at (never null), which the index dash_open_created holds: no table
    row needs reading.
    """
    aggregates = {"total": Count("created_at")}
    for key, _label, low, high in AGE_BUCKETS:
        condition = Q(created_at__lte=now - datetime.timedelta(days=low))
        if high is not None:
            condition &= Q(created_at__gt=now - datetime.timedelta(days=high))
        aggregates[key] = Count("created_at", filter=condition)
    return aggregates


def backlog(scope: Scope, now=None, *, counters: bool = True) -> list[dict]:
    """Return open tickets per competence, split by age: [{competence, d1, ..., total}].

    From the counters when they can answer for the scope (counted.py), else
    (or with counters=False) counted from the tickets.
    """
    now = now or scope.moment()
    region_id = counted.counted_region(scope) if counters else counted.NOT_COUNTED
    if region_id is not counted.NOT_COUNTED:
        figures = counted.backlog(scope, region_id, now, AGE_BUCKETS, backlog_aggregates(now))
        rows = [{"competence_id": c, **values} for c, values in figures.items()]
    else:
        rows = (
            scope.tickets()
            .filter(status__in=OPEN_STATUSES)
            .values("competence_id")
            .annotate(**backlog_aggregates(now))
            .order_by()
        )
    names = dict(Competence.objects.values_list("id", "name"))
    out = [
        {"competence": names.get(r["competence_id"], _("not set")), **_without(r, "competence_id")}
        for r in rows
    ]
    return sorted(out, key=lambda r: (-r["total"], str(r["competence"])))


def per_day(scope: Scope, *, counters: bool = True) -> list[dict]:
    """Return [{day, channel, count}] of tickets created in the scope's dates."""
    region_id = counted.counted_region(scope) if counters else counted.NOT_COUNTED
    if region_id is not counted.NOT_COUNTED:
        return counted.per_day(scope, region_id)
    start, end = scope.bounds()
    rows = (
        scope.tickets()
        .filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "channel")
        .annotate(count=Count("id"))
        .order_by("day", "channel")
    )
    return list(rows)


def attainment_counts(now) -> dict:
    """The counts behind SLA attainment, for .annotate(): created, due and met per target.

    Due means answered (resolved) already, or not yet but past the due time;
    met means done by the due time. One definition for the dashboard's table
    by competence and its weekly figures.
    """
    return {
        "created": Count("id"),
        "first_due": Count(
            "id", filter=Q(first_response_at__isnull=False) | Q(first_response_due__lt=now)
        ),
        "first_met": Count(
            "id",
            filter=Q(first_response_at__isnull=False)
            & Q(first_response_at__lte=F("first_response_due")),
        ),
        "res_due": Count("id", filter=Q(resolved_at__isnull=False) | Q(resolution_due__lt=now)),
        "res_met": Count(
            "id", filter=Q(resolved_at__isnull=False) & Q(resolved_at__lte=F("resolution_due"))
        ),
    }


def sla_attainment(scope: Scope, now=None, *, counters: bool = True) -> list[dict]:
    """Return per competence: tickets created, first responses due/met, resolutions due/met.

    "Due" counts the tickets whose target has come: answered (or resolved),
    or not yet but past the due time. Met means done by the due time.
    """
    now = now or scope.moment()
    region_id = counted.counted_region(scope) if counters else counted.NOT_COUNTED
    if region_id is not counted.NOT_COUNTED:
        by_competence = counted.sum_by(
            counted.sla_by_day(scope, region_id, now), lambda _day, competence: competence
        )
        rows = [{"competence_id": c, **values} for c, values in by_competence.items()]
    else:
        start, end = scope.bounds()
        rows = (
            scope.tickets()
            .filter(created_at__gte=start, created_at__lt=end, merged_into__isnull=True)
            .values("competence_id")
            .annotate(
                **attainment_counts(now),
            )
            .order_by()
        )
    names = dict(Competence.objects.values_list("id", "name"))
    out = []
    for r in rows:
        # The annotations cannot be called resolution_* (a field has that name).
        row = {
            "competence": names.get(r["competence_id"], _("not set")),
            "created": r["created"],
            "first_due": r["first_due"],
            "first_met": r["first_met"],
            "first_pct": percent(r["first_met"], r["first_due"]),
            "resolution_due": r["res_due"],
            "resolution_met": r["res_met"],
            "resolution_pct": percent(r["res_met"], r["res_due"]),
        }
        out.append(row)
    return sorted(out, key=lambda r: (-r["created"], str(r["competence"])))


def agent_load(scope: Scope, *, counters: bool = True) -> list[dict]:
    """Return per assignee: open, waiting and breached tickets, and capacity."""
    region_id = counted.counted_region(scope) if counters else counted.NOT_COUNTED
    if region_id is not counted.NOT_COUNTED:
        rows = counted.agent_load(region_id)
    else:
        rows = list(
            scope.tickets()
            .filter(status__in=OPEN_STATUSES, assignee__isnull=False)
            .values("assignee_id")
            .annotate(
                open=Count("id"),
                waiting=Count("id", filter=Q(status=Status.WAITING)),
                # Breached among those in work, so that the three parts add up.
                breached=Count("id", filter=Q(sla_breached=True) & ~Q(status=Status.WAITING)),
            )
            .order_by()
        )
    # Names and capacities as plain tuples: a national page lists every
    # expert, and building a profile and a user object for each was most of
    # this function's time.
    people = {
        user_id: (full_name or email, capacity)
        for user_id, full_name, email, capacity in AgentProfile.objects.filter(
            user_id__in=[r["assignee_id"] for r in rows]
        ).values_list("user_id", "user__full_name", "user__email", "capacity")
    }
    out = []
    for r in rows:
        name, capacity = people.get(r["assignee_id"], (str(r["assignee_id"]), 0))
        out.append(
            {
                "agent": name,
                "capacity": capacity,
                "open": r["open"],
                "waiting": r["waiting"],
                "breached": r["breached"],
            }
        )
    return sorted(out, key=lambda r: (-r["open"], r["agent"]))


def collect(scope: Scope) -> DashboardData:
    """Return everything the dashboard shows (four aggregate queries plus two lookups)."""
    now = scope.moment()
    days = per_day(scope)
    return DashboardData(
        backlog=backlog(scope, now),
        per_day=days,
        sla=sla_attainment(scope, now),
        load=agent_load(scope),
        channels=sorted({r["channel"] for r in days}),
    )


def collect_cached(scope: Scope) -> DashboardData:
    """Return collect(scope), kept for CACHE_SECONDS: a dashboard needs no second-fresh data."""
    from django.core.cache import cache

    key = "dashboard:{}:{}:{}:{}".format(
        scope.user.pk, scope.region.pk if scope.region else "-", scope.start, scope.end
    )
    data = cache.get(key)
    if data is None:
        data = collect(scope)
        cache.set(key, data, CACHE_SECONDS)
    return data


def _without(row: dict, key: str) -> dict:
    return {k: v for k, v in row.items() if k != key}


def percent(part: int, whole: int) -> float | None:
    """Return part/whole in percent, one decimal; None when there is nothing to measure."""
    if not whole:
        return None
    return round(100.0 * part / whole, 1)
