"""Figures for the offices: CSAT per region, competence and agent, weekly SLA, exports.

A known data set: three resolved requests rated 5 and 2 (region X) and 4
(region Y). The national supervisor sees all three, the regional one two.
"""

import csv
import datetime
import io

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from console.dashboard import figures, queries
from console.dashboard.reports import csv_bytes, csv_dialect, csv_value
from tickets import actions, counters

pytestmark = pytest.mark.django_db


class _Request:
    def __init__(self, user, **params):
        self.user = user
        self.GET = params


@pytest.fixture
def rated(cast, make_ticket):
    def resolve_and_rate(ticket, agent, requester, score, comment=""):
        actions.add_message(ticket=ticket, actor=agent, text="Ето решението.", channel="console")
        actions.change_status(ticket=ticket, actor=agent, status="resolved")
        ticket.refresh_from_db()
        actions.rate(ticket=ticket, actor=requester, score=score, comment=comment)

    fast = make_ticket(subject="Диплома")
    slow = make_ticket(subject="Вход", competence=cast.competences["general"])
    other = make_ticket(actor=cast.teacher_b, institution=cast.school_b, subject="Оценки")
    resolve_and_rate(fast, cast.expert_x, cast.teacher_a, 5, "Бърз и ясен отговор.")
    resolve_and_rate(slow, cast.expert_x, cast.teacher_a, 2, "=HYPERLINK(бавно)")
    resolve_and_rate(other, cast.expert_y, cast.teacher_b, 4)
    # A resolved request without a rating does not count.
    unrated = make_ticket(subject="Без оценка")
    actions.change_status(ticket=unrated, actor=cast.expert_x, status="resolved")
    return fast, slow, other


def _by(rows, group):
    return {r["name"]: r for r in rows if r["group"] == group}


def test_csat_per_region_competence_and_agent(cast, rated):
    fast, slow, other = rated
    rows = figures.csat(queries.Scope.from_request(_Request(cast.supervisor_all)))
    total = next(r for r in rows if r["group"] == "total")
    assert (total["rated"], total["satisfied"], total["csat_pct"]) == (3, 2, 66.7)
    assert total["average"] == pytest.approx(3.67)
    regions = _by(rows, "region")
    assert (regions[cast.region_x.name]["rated"], regions[cast.region_x.name]["csat_pct"]) == (
        2,
        50.0,
    )
    assert regions[cast.region_y.name]["csat_pct"] == 100.0
    competences = _by(rows, "competence")
    assert competences[cast.diplomas.name]["average"] == 4.5
    assert competences[cast.competences["general"].name]["csat_pct"] == 0.0
    agents = {r["rated"] for r in rows if r["group"] == "agent"}
    assert sum(agents) >= 1

    regional = figures.csat(queries.Scope.from_request(_Request(cast.supervisor_x)))
    assert next(r for r in regional if r["group"] == "total")["rated"] == 2
    assert cast.region_y.name not in _by(regional, "region")


def test_comments_are_listed_newest_first_within_scope(cast, rated):
    fast, slow, other = rated
    listed = figures.comments(queries.Scope.from_request(_Request(cast.supervisor_x)))
    assert [c["reference"] for c in listed] == [slow.reference, fast.reference]
    assert listed[1]["comment"] == "Бърз и ясен отговор."
    assert listed[1]["score"] == 5


def test_sla_per_week(cast, make_ticket, rated):
    late = make_ticket(subject="Закъсняла")
    two_weeks_ago = timezone.now() - datetime.timedelta(days=14)
    from tickets.models import Ticket

    Ticket.objects.filter(pk=late.pk).update(
        created_at=two_weeks_ago,
        first_response_due=two_weeks_ago + datetime.timedelta(hours=1),
        resolution_due=two_weeks_ago + datetime.timedelta(days=1),
    )
    counters.rebuild()  # the update above bypasses the domain, and so the counters
    weeks = figures.sla_weekly(queries.Scope.from_request(_Request(cast.supervisor_all)))
    assert len(weeks) == 2
    first, last = weeks
    assert first["week"].weekday() == 0  # weeks start on Monday
    assert (first["created"], first["first_due"], first["first_met"], first["first_pct"]) == (
        1,
        1,
        0,
        0.0,
    )
    assert last["created"] == 4
    assert last["first_met"] == 3
    assert last["resolution_pct"] == 100.0


@pytest.mark.parametrize(
    ("language", "separator", "decimal", "value"),
    [("bg", ";", ",", "66,7"), ("en", ",", ".", "66.7"), ("en-gb", ",", ".", "66.7")],
)
def test_csv_dialect(language, separator, decimal, value):
    assert csv_dialect(language) == (separator, decimal)
    assert csv_value(66.7, decimal) == value
    assert csv_value(3.6667, decimal) == f"3{decimal}67"
    assert csv_value(None, decimal) == ""
    assert csv_value(datetime.date(2026, 3, 9), decimal) == (
        "09.03.2026" if decimal == "," else "2026-03-09"
    )
    assert csv_value("=1+1", decimal) == "'=1+1"


def test_csv_bytes_has_a_bom_and_the_dialect():
    data = csv_bytes(["Име", "Дял"], [["а;б", 1.5]], "bg")
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows == [["Име", "Дял"], ["а;б", "1,5"]]


def _client_in(client, user, language):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def test_dashboard_shows_csat_and_comments(client, cast, rated):
    _client_in(client, cast.supervisor_all, "en")
    page = client.get(reverse("console:dashboard")).content.decode()
    assert "66.7 % satisfied" in page
    assert "Бърз и ясен отговор." in page
    assert reverse("console:report_xlsx", args=["csat"]) in page
    assert cast.region_y.name in page


def test_csat_csv_in_bulgarian_and_english(client, cast, rated):
    _client_in(client, cast.supervisor_all, "bg")
    response = client.get(reverse("console:report", args=["csat"]))
    assert response.status_code == 200
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["По", "Име", "Оценки", "Средна оценка (1–5)", "Доволни (4–5)", "CSAT, %"]
    assert rows[1][2:] == ["3", "3,67", "2", "66,7"]
    comments = client.get(reverse("console:report", args=["csat_comments"]))
    text = comments.content.decode("utf-8-sig")
    assert "Бърз и ясен отговор." in text
    assert "'=HYPERLINK(бавно)" in text

    _client_in(client, cast.supervisor_all, "en")
    response = client.get(reverse("console:report", args=["csat"]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "By",
        "Name",
        "Ratings",
        "Average rating (1–5)",
        "Satisfied (4–5)",
        "CSAT, %",
    ]
    assert rows[1][2:] == ["3", "3.67", "2", "66.7"]


def test_csat_xlsx_is_a_real_spreadsheet(client, cast, rated):
    from openpyxl import load_workbook

    _client_in(client, cast.supervisor_x, "bg")
    response = client.get(reverse("console:report_xlsx", args=["csat"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("По", "Име", "Оценки")
    assert rows[1][2:] == (2, 3.5, 1, 50.0)
    weekly = client.get(reverse("console:report_xlsx", args=["sla_weekly"]))
    week_rows = list(load_workbook(io.BytesIO(weekly.content)).worksheets[0].values)
    assert isinstance(week_rows[1][1], datetime.datetime)


def test_reports_are_for_support_staff_and_known_names(client, cast):
    client.force_login(cast.teacher_a)
    assert client.get(reverse("console:report_xlsx", args=["csat"])).status_code == 403
    client.force_login(cast.supervisor_x)
    assert client.get(reverse("console:report_xlsx", args=["nothing"])).status_code == 404
    assert client.get(reverse("console:report", args=["csat"]), {"from": "x"}).status_code == 400


def test_charts_carry_their_numbers_as_text():
    import xml.etree.ElementTree as ET

    from console.dashboard import charts

    svg = charts.grouped_percent_svg(
        "SLA", ["Дипломи", "Вход"], [("first", [50.0, None]), ("resolution", [100, 75.5])]
    )
    desc = ET.fromstring(svg).find("{http://www.w3.org/2000/svg}desc").text
    numbers = "Дипломи: first 50 %, resolution 100 %; Вход: first —, resolution 75.5 %."
    assert desc.startswith(numbers + " ")  # then the pointer to the table below
    assert desc != numbers
    empty = charts.horizontal_stacked_svg("Load", [], [("open", [])])
    assert "<desc>" in empty
