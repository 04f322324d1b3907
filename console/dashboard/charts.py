"""The dashboard's charts, drawn on the server as SVG: plain rows in, SVG text out."""

import datetime
from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _

from console.dashboard.queries import AGE_BUCKETS, REPORTS, DashboardData, Scope
from tickets.models import Channel

# Every colour has at least 3:1 contrast on the white card (WCAG 1.4.11), and
# stacked parts are split by a white line, so neighbours stay apart too.
PALETTE = ["#0b4f8a", "#2f7bbf", "#0f7f8c", "#b86e00", "#c8102e", "#1c7c3a", "#6b4c9a", "#55606e"]
SEPARATOR = 'stroke="#fff" stroke-width="1"'


@dataclass
class Chart:
    key: str
    title: str
    svg: str


def _svg_open(width, height, title, numbers: str = "") -> list[str]:
    """The chart's opening: its title, and a description with its numbers (for screen readers)."""
    desc = " ".join(
        part for part in (numbers, _("The same numbers are in the table below the chart.")) if part
    )
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
# About how wide one character of the 12-unit font is, to fit the legend's names.
CHAR_W = 7.2


def _legend_width(series, least: int) -> int:
    """Return the width the legend needs for its longest name (a box, a gap, the text)."""
    longest = max((len(name) for name, _values in series), default=0)
    return max(least, int(24 + CHAR_W * longest))


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
    width, label_w, bar_h, gap = 780, 250, 18, 8
    legend_w = _legend_width(series, 160)
    plot_w = width - label_w - legend_w - 20
    height = max(60, 30 + len(labels) * (bar_h + gap), 30 + len(series) * 18)
    totals = [sum(values[i] for _name, values in series) for i in range(len(labels))]
    top = max(totals, default=0) or 1
    parts = _svg_open(width, height, title, _describe(labels, series, unit))
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
                f'fill="{colours[index % len(colours)]}" {SEPARATOR}><title>{escape(label)} — '
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
    width, height, left, bottom = 780, 260, 40, 40
    legend_w = _legend_width(series, 140)
    plot_w, plot_h = width - left - legend_w - 10, height - bottom - 20
    totals = [sum(values[i] for _name, values in series) for i in range(len(labels))]
    top = max(totals, default=0) or 1
    parts = _svg_open(width, height, title, _describe(labels, series))
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
                f'fill="{PALETTE[index % len(PALETTE)]}" {SEPARATOR}><title>{escape(label)} — '
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
    width, label_w, bar_h = 780, 250, 12
    legend_w = _legend_width(series, 160)
    group_h = bar_h * len(series) + 10
    plot_w = width - label_w - legend_w - 40
    height = max(60, 30 + len(labels) * group_h, 30 + len(series) * 18)
    parts = _svg_open(width, height, title, _describe(labels, series, " %"))
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
                f'fill="{PALETTE[index % len(PALETTE)]}" {SEPARATOR}><title>{escape(label)} — '
                f"{escape(name)}: {shown}</title></rect>"
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" font-size="10" '
                f'fill="#55606e">{shown}</text>'
            )
    if not labels:
        parts.append(f'<text x="{label_w}" y="35">{escape(_("No data."))}</text>')
    _legend(parts, [name for name, _values in series], width - legend_w, 20)
    parts.append("</svg>")
    return "".join(parts)


DESC_ITEMS = 40


def _describe(labels: list[str], series: list[tuple[str, list]], unit: str = "") -> str:
    """Return the chart's text alternative: every label with its values, as a sentence list.

    Screen readers read it from <desc>; the same numbers are in the table
    under each chart. Long charts are cut after DESC_ITEMS labels.
    """
    if not labels:
        return _("No data.")
    items = []
    for row, label in enumerate(labels[:DESC_ITEMS]):
        values = []
        for name, numbers in series:
            value = numbers[row]
            shown = "—" if value is None else f"{_fmt(value)}{unit}"
            values.append(f"{name} {shown}")
        items.append(f"{label}: " + ", ".join(values))
    if len(labels) > DESC_ITEMS:
        items.append("…")
    return "; ".join(items) + "."


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
        colours=["#0b4f8a", "#b86e00", "#c8102e"],
    )
    return [
        Chart("backlog", str(REPORTS["backlog"]), backlog_svg),
        Chart("per_day", str(REPORTS["per_day"]), per_day_svg),
        Chart("sla", str(REPORTS["sla"]), sla_svg),
        Chart("load", str(REPORTS["load"]), load_svg),
    ]
