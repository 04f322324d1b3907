"""Dashboard: the pure chart and series functions, and the aggregates on the database."""

import datetime
import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone

from console.dashboard import charts as drawing
from console.dashboard import queries
from tickets import actions, counters
from tickets.models import Ticket


def _parse(svg: str):
    return ET.fromstring(svg)


NS = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(0, 0, None), (0, 5, 0.0), (5, 5, 100.0), (1, 3, 33.3), (2, 3, 66.7)],
)
def test_percent(part, whole, expected):
    assert queries.percent(part, whole) == expected


def test_day_series_fills_missing_days_and_sums_per_channel():
    d = datetime.date(2026, 1, 30)
    rows = [
        {"day": d, "channel": "portal", "count": 3},
        {"day": d + datetime.timedelta(days=2), "channel": "email", "count": 2},
        {"day": d + datetime.timedelta(days=2), "channel": "portal", "count": 1},
        {"day": d + datetime.timedelta(days=9), "channel": "portal", "count": 7},  # outside
    ]
    labels, series = drawing.day_series(
        rows, d, d + datetime.timedelta(days=3), ["email", "portal"]
    )
    assert labels == ["30.01", "31.01", "01.02", "02.02"]
    assert [list(values) for _name, values in series] == [[0, 0, 2, 0], [3, 0, 1, 0]]


@pytest.mark.parametrize(
    ("labels", "series", "bars"),
    [
        ([], [("a", [])], 0),
        (["Диплома"], [("под 1 ден", [2]), ("1–3", [0])], 1),
        (["A", "B <&>"], [("x", [1, 2]), ("y", [3, 0])], 3),
    ],
)
def test_horizontal_stacked_svg_is_valid_and_draws_one_rect_per_nonzero_value(labels, series, bars):
    svg = drawing.horizontal_stacked_svg("Заглавие", labels, series)
    root = _parse(svg)
    rects = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert len(rects) == bars
    assert root.get("role") == "img" and root.find(f"{NS}title").text == "Заглавие"


def test_stacked_widths_are_proportional():
    svg = drawing.horizontal_stacked_svg("t", ["a", "b"], [("x", [10, 5])])
    widths = [
        float(r.get("width"))
        for r in _parse(svg).iter(f"{NS}rect")
        if r.find(f"{NS}title") is not None
    ]
    assert widths[0] == pytest.approx(2 * widths[1])


def test_columns_and_percent_charts_parse():
    svg = drawing.columns_svg("t", ["01.01", "02.01"], [("portal", [1, 0]), ("email", [2, 3])])
    assert len([r for r in _parse(svg).iter(f"{NS}rect") if r.find(f"{NS}title") is not None]) == 3
    svg = drawing.grouped_percent_svg("t", ["a"], [("first", [None]), ("resolution", [150.0])])
    texts = [t.text for t in _parse(svg).iter(f"{NS}text")]
    assert "—" in texts and "150 %" in texts


@pytest.mark.django_db
def test_aggregates(cast, make_ticket):
    now = timezone.now()
    old = make_ticket(subject="Стара")
    Ticket.objects.filter(pk=old.pk).update(created_at=now - datetime.timedelta(days=10))
    counters.rebuild()  # the update above bypasses the domain, and so the counters
    answered = make_ticket(subject="Отговорена")
    actions.add_message(ticket=answered, actor=cast.expert_x, text="Ето")
    actions.change_status(ticket=answered, actor=cast.expert_x, status="resolved")
    make_ticket(
        channel="email",
        actor=None,
        requester_email="someone@example.com",
        institution=None,
        competence=cast.competences["general"],
    )

    class Request:
        GET = {}
        user = cast.supervisor_all

    scope = queries.Scope.from_request(Request)
    data = queries.collect(scope)
    backlog = {r["competence"]: r for r in data.backlog}
    diplomas = backlog[cast.diplomas.name]
    assert (diplomas["d1"], diplomas["d30"], diplomas["total"]) == (0, 1, 1)
    assert backlog[cast.competences["general"].name]["d1"] == 1
    by_channel = {}
    for r in data.per_day:
        by_channel[r["channel"]] = by_channel.get(r["channel"], 0) + r["count"]
    assert by_channel == {"portal": 2, "email": 1}
    sla = {r["competence"]: r for r in data.sla}
    assert sla[cast.diplomas.name]["first_met"] == 1
    assert sla[cast.diplomas.name]["resolution_met"] == 1
    load = {r["agent"]: r for r in data.load}
    assert load["Експерт X"]["open"] >= 1
    charts = drawing.charts(data, scope)
    assert [c.key for c in charts] == ["backlog", "per_day", "sla", "load"]
    for chart in charts:
        _parse(chart.svg)
