"""Dashboard and reports: a few aggregate queries, server-drawn SVG charts, CSV.

Every figure comes from one GROUP BY over Ticket.objects.visible_to(user)
(a regional supervisor sees the region, a national one the country), so the
cost grows with the number of groups, not of tickets. The chart functions
are pure: plain rows in, SVG text out.
"""

import csv
import datetime
from dataclasses import dataclass, field
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import AgentProfile, Region, User
from tickets.models import OPEN_STATUSES, Channel, Competence, Status, Ticket

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
PALETTE = ["#0b4f8a", "#3f88c5", "#8cb8e0", "#f0a202", "#c8102e", "#1c7c3a", "#6b4c9a", "#55606e"]

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

    @property
    def national(self) -> bool:
        agent = self.user.agent
        return self.user.is_superuser or (agent is not None and agent.region_id is None)

    @classmethod
    def from_request(cls, request) -> "Scope":
        today = timezone.localdate()
        end = parse_date(request.GET.get("to") or "") or today
        start = parse_date(request.GET.get("from") or "") or end - datetime.timedelta(
            days=DEFAULT_DAYS - 1
        )
        if start > end:
            start, end = end, start
        if (end - start).days >= MAX_DAYS:
            start = end - datetime.timedelta(days=MAX_DAYS - 1)
        scope = cls(user=request.user, start=start, end=end)
        if scope.national:
            scope.regions = list(Region.objects.order_by("code"))
            region_id = request.GET.get("region") or ""
            if region_id.isdigit():
                scope.region = next((r for r in scope.regions if r.pk == int(region_id)), None)
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


def backlog(scope: Scope, now=None) -> list[dict]:
    """Return open tickets per competence, split by age: [{competence, d1, ..., total}]."""
    now = now or timezone.now()
    aggregates = {"total": Count("id")}
    for key, _label, low, high in AGE_BUCKETS:
        condition = Q(created_at__lte=now - datetime.timedelta(days=low))
        if high is not None:
            condition &= Q(created_at__gt=now - datetime.timedelta(days=high))
        aggregates[key] = Count("id", filter=condition)
    rows = (
        scope.tickets()
        .filter(status__in=OPEN_STATUSES)
        .values("competence_id")
        .annotate(**aggregates)
        .order_by()
    )
    names = dict(Competence.objects.values_list("id", "name"))
    out = [
        {"competence": names.get(r["competence_id"], _("not set")), **_without(r, "competence_id")}
        for r in rows
    ]
    return sorted(out, key=lambda r: -r["total"])


def per_day(scope: Scope) -> list[dict]:
    """Return [{day, channel, count}] of tickets created in the scope's dates."""
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


def sla_attainment(scope: Scope, now=None) -> list[dict]:
    """Return per competence: tickets created, first responses due/met, resolutions due/met.

    "Due" counts the tickets whose target has come: answered (or resolved),
    or not yet but past the due time. Met means done by the due time.
    """
    now = now or timezone.now()
    start, end = scope.bounds()
    rows = (
        scope.tickets()
        .filter(created_at__gte=start, created_at__lt=end, merged_into__isnull=True)
        .values("competence_id")
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
    return sorted(out, key=lambda r: -r["created"])


def agent_load(scope: Scope) -> list[dict]:
    """Return per assignee: open, waiting and breached tickets, and capacity."""
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
    people = {
        p.user_id: p
        for p in AgentProfile.objects.filter(
            user_id__in=[r["assignee_id"] for r in rows]
        ).select_related("user")
    }
    out = []
    for r in rows:
        profile = people.get(r["assignee_id"])
        out.append(
            {
                "agent": str(profile.user) if profile else str(r["assignee_id"]),
                "capacity": profile.capacity if profile else 0,
                "open": r["open"],
                "waiting": r["waiting"],
                "breached": r["breached"],
            }
        )
    return sorted(out, key=lambda r: (-r["open"], r["agent"]))


def collect(scope: Scope) -> DashboardData:
    """Return everything the dashboard shows (four aggregate queries plus two lookups)."""
    now = timezone.now()
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


# --- charts (pure) -------------------------------------------------------------------------


@dataclass
class Chart:
    key: str
    title: str
    svg: str


def _svg_open(width, height, title, desc) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}" '
        f'class="chart" font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>",
    ]


def _legend(parts: list[str], names: list[str], x: int, y: int, colours=PALETTE) -> None:
    for i, name in enumerate(names):
        colour = colours[i % len(colours)]
        parts.append(
            f'<rect x="{x}" y="{y + i * 18}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 18}" y="{y + i * 18 + 10}">{escape(name)}</text>'
        )


LABEL_CHARS = 30


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def horizontal_stacked_svg(
    title: str,
    labels: list[str],
    series: list[tuple[str, list[float]]],
    unit: str = "",
    colours: list[str] | None = None,
) -> str:
    """Return horizontal stacked bars: one bar per label, one colour per series."""
    colours = colours or PALETTE
    width, label_w, legend_w, bar_h, gap = 780, 250, 160, 18, 8
    plot_w = width - label_w - legend_w - 20
    height = max(60, 30 + len(labels) * (bar_h + gap), 30 + len(series) * 18)
    totals = [sum(values[i] for _name, values in series) for i in range(len(labels))]
    top = max(totals, default=0) or 1
    parts = _svg_open(width, height, title, f"{len(labels)} bars")
    for row, label in enumerate(labels):
        y = 20 + row * (bar_h + gap)
        short = _short(label)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h - 5}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(short)}</text>"
        )
        x = float(label_w)
        for index, (name, values) in enumerate(series):
            value = values[row]
            if not value:
                continue
            w = plot_w * value / top
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{colours[index % len(colours)]}"><title>{escape(label)} — '
                f"{escape(name)}: {_fmt(value)}{unit}</title></rect>"
            )
            x += w
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + bar_h - 5}" fill="#55606e">{_fmt(totals[row])}</text>'
        )
    if not labels:
        parts.append(f'<text x="{label_w}" y="35">{escape(_("No data."))}</text>')
    _legend(parts, [name for name, _values in series], width - legend_w, 20, colours)
    parts.append("</svg>")
    return "".join(parts)


def columns_svg(title: str, labels: list[str], series: list[tuple[str, list[float]]]) -> str:
    """Return stacked columns (e.g. one per day), one colour per series, with a y scale."""
    width, height, left, bottom, legend_w = 780, 260, 40, 40, 140
    plot_w, plot_h = width - left - legend_w - 10, height - bottom - 20
    totals = [sum(values[i] for _name, values in series) for i in range(len(labels))]
    top = max(totals, default=0) or 1
    parts = _svg_open(width, height, title, f"{len(labels)} columns")
    parts.append(
        f'<line x1="{left}" y1="{20 + plot_h}" x2="{left + plot_w}" y2="{20 + plot_h}" '
        'stroke="#8a96a3"/>'
    )
    for fraction in (0.5, 1.0):
        y = 20 + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e6ebf1"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(top * fraction)}</text>'
        )
    step = plot_w / max(len(labels), 1)
    col_w = max(2.0, step * 0.8)
    every = max(1, len(labels) // 10)
    for i, label in enumerate(labels):
        x = left + i * step + (step - col_w) / 2
        y = 20.0 + plot_h
        for index, (name, values) in enumerate(series):
            value = values[i]
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{col_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(label)} — '
                f"{escape(name)}: {_fmt(value)}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + col_w / 2:.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle" font-size="10">{escape(label)}</text>'
            )
    if not labels:
        parts.append(f'<text x="{left + 10}" y="40">{escape(_("No data."))}</text>')
    _legend(parts, [name for name, _values in series], width - legend_w, 20)
    parts.append("</svg>")
    return "".join(parts)


def grouped_percent_svg(title: str, labels: list[str], series: list[tuple[str, list]]) -> str:
    """Return horizontal grouped bars on a 0–100 % scale (None shows as "—")."""
    width, label_w, legend_w, bar_h = 780, 250, 160, 12
    group_h = bar_h * len(series) + 10
    plot_w = width - label_w - legend_w - 40
    height = max(60, 30 + len(labels) * group_h, 30 + len(series) * 18)
    parts = _svg_open(width, height, title, f"{len(labels)} groups")
    for row, label in enumerate(labels):
        y0 = 20 + row * group_h
        short = _short(label)
        parts.append(
            f'<text x="{label_w - 6}" y="{y0 + bar_h}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(short)}</text>"
        )
        for index, (name, values) in enumerate(series):
            value = values[row]
            y = y0 + index * bar_h
            w = 0 if value is None else plot_w * min(value, 100) / 100
            shown = "—" if value is None else f"{_fmt(value)} %"
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(label)} — '
                f"{escape(name)}: {shown}</title></rect>"
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" font-size="10" '
                f'fill="#55606e">{shown}</text>'
            )
    if not labels:
        parts.append(f'<text x="{label_w}" y="35">{escape(_("No data."))}</text>')
    _legend(parts, [name for name, _values in series], width - legend_w, 20)
    parts.append("</svg>")
    return "".join(parts)


def _fmt(value) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}"
    return str(int(value))


def day_series(rows: list[dict], start: datetime.date, end: datetime.date, channels: list[str]):
    """Return (day labels, [(channel, counts per day)]) with every day present."""
    days = [start + datetime.timedelta(days=i) for i in range((end - start).days + 1)]
    index = {day: i for i, day in enumerate(days)}
    series = {channel: [0] * len(days) for channel in channels}
    for r in rows:
        i = index.get(r["day"])
        if i is not None and r["channel"] in series:
            series[r["channel"]][i] += r["count"]
    labels = [day.strftime("%d.%m") for day in days]
    names = dict(Channel.choices)
    return labels, [(str(names.get(c, c)), series[c]) for c in channels]


def charts(data: DashboardData, scope: Scope | None = None) -> list[Chart]:
    """Return the four dashboard charts as SVG."""
    backlog_svg = horizontal_stacked_svg(
        str(REPORTS["backlog"]),
        [r["competence"] for r in data.backlog],
        [(str(label), [r[key] for r in data.backlog]) for key, label, _low, _high in AGE_BUCKETS],
    )
    if data.per_day:
        start = min(r["day"] for r in data.per_day)
        end = max(r["day"] for r in data.per_day)
        if scope is not None:
            start, end = scope.start, scope.end
        labels, series = day_series(data.per_day, start, end, data.channels)
    else:
        labels, series = [], []
    per_day_svg = columns_svg(str(REPORTS["per_day"]), labels, series)
    sla_svg = grouped_percent_svg(
        str(REPORTS["sla"]),
        [r["competence"] for r in data.sla],
        [
            (_("first response"), [r["first_pct"] for r in data.sla]),
            (_("resolution"), [r["resolution_pct"] for r in data.sla]),
        ],
    )
    load_svg = horizontal_stacked_svg(
        str(REPORTS["load"]),
        [f"{r['agent']} ({r['open']}/{r['capacity']})" for r in data.load],
        [
            (_("in work"), [r["open"] - r["waiting"] - r["breached"] for r in data.load]),
            (_("waiting on requester"), [r["waiting"] for r in data.load]),
            (_("SLA breached"), [r["breached"] for r in data.load]),
        ],
        colours=["#0b4f8a", "#f0a202", "#c8102e"],
    )
    return [
        Chart("backlog", str(REPORTS["backlog"]), backlog_svg),
        Chart("per_day", str(REPORTS["per_day"]), per_day_svg),
        Chart("sla", str(REPORTS["sla"]), sla_svg),
        Chart("load", str(REPORTS["load"]), load_svg),
    ]


# --- CSV ---------------------------------------------------------------------------------


def report_rows(name: str, scope: Scope) -> tuple[list[str], list[list]]:
    """Return (header, rows) of one report: the rows behind one chart."""
    if name == "backlog":
        header = ["competence", *[key for key, *_rest in AGE_BUCKETS], "total"]
        rows = [
            [r["competence"], *[r[k] for k, *_rest in AGE_BUCKETS], r["total"]]
            for r in backlog(scope)
        ]
    elif name == "per_day":
        header = ["day", "channel", "count"]
        rows = [[r["day"].isoformat(), r["channel"], r["count"]] for r in per_day(scope)]
    elif name == "sla":
        header = [
            "competence",
            "created",
            "first_due",
            "first_met",
            "first_pct",
            "resolution_due",
            "resolution_met",
            "resolution_pct",
        ]
        rows = [[r[h] if r[h] is not None else "" for h in header] for r in sla_attainment(scope)]
    elif name == "load":
        header = ["agent", "capacity", "open", "waiting", "breached"]
        rows = [[r[h] for h in header] for r in agent_load(scope)]
    else:
        raise KeyError(name)
    return header, rows


def csv_response(name: str, scope: Scope) -> HttpResponse:
    """Return the report as a UTF-8 CSV download (with a BOM, so spreadsheets read Cyrillic)."""
    header, rows = report_rows(name, scope)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"{name}-{scope.start.isoformat()}-{scope.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows([[csv_safe(value) for value in row] for row in rows])
    return response


def csv_safe(value):
    """Return `value` so that a spreadsheet never reads it as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
