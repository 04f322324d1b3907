"""The dashboard's reports as downloads: the rows behind each chart and figure.

Two formats, both in the reader's language:

* CSV the way that language's spreadsheet opens it: Bulgarian uses ";" between
  fields and a decimal comma, English "," and "."; UTF-8 with a BOM (so
  Excel reads Cyrillic), translated column names;
* XLSX (openpyxl): real numbers and dates in typed cells, a bold header row,
  column widths that fit, one sheet per report.

report_table() gives the header and rows of one report; the scheduled reports
(console/scheduled.py) attach the same tables.
"""

import csv
import datetime
import io

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from console.dashboard.figures import FIGURE_REPORTS, comments, csat, sla_weekly
from console.dashboard.queries import (
    AGE_BUCKETS,
    REPORTS,
    Scope,
    agent_load,
    backlog,
    per_day,
    sla_attainment,
)
from tickets.models import Channel

ALL_REPORTS = {**REPORTS, **FIGURE_REPORTS}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_SLA_COLUMNS = [
    ("created", _("Created")),
    ("first_due", _("First response due")),
    ("first_met", _("First response met")),
    ("first_pct", _("First response met, %")),
    ("resolution_due", _("Resolution due")),
    ("resolution_met", _("Resolution met")),
    ("resolution_pct", _("Resolution met, %")),
]
_CSAT_GROUPS = {
    "total": _("total"),
    "region": _("region"),
    "competence": _("competence"),
    "agent": _("agent"),
}


def _columns(name: str) -> list[tuple[str, object]]:
    if name == "backlog":
        return [
            ("competence", _("Competence")),
            *[(key, label) for key, label, _low, _high in AGE_BUCKETS],
            ("total", _("Total")),
        ]
    if name == "per_day":
        return [("day", _("Day")), ("channel", _("Channel")), ("count", _("Requests"))]
    if name == "sla":
        return [("competence", _("Competence")), *_SLA_COLUMNS]
    if name == "load":
        return [
            ("agent", _("Agent")),
            ("capacity", _("Capacity")),
            ("open", _("Open")),
            ("waiting", _("Waiting")),
            ("breached", _("Breached")),
        ]
    if name == "csat":
        return [
            ("group", _("By")),
            ("name", _("Name")),
            ("rated", _("Ratings")),
            ("average", _("Average rating (1–5)")),
            ("satisfied", _("Satisfied (4–5)")),
            ("csat_pct", _("CSAT, %")),
        ]
    if name == "csat_comments":
        return [
            ("reference", _("Reference")),
            ("resolved", _("Resolved")),
            ("score", _("Rating")),
            ("comment", _("Comment")),
            ("region", _("Region")),
            ("competence", _("Competence")),
            ("agent", _("Agent")),
        ]
    if name == "sla_weekly":
        return [("week_label", _("Week")), ("week", _("Week from")), *_SLA_COLUMNS]
    raise KeyError(name)


def _data(name: str, scope: Scope) -> list[dict]:
    if name == "backlog":
        return backlog(scope)
    if name == "per_day":
        channels = dict(Channel.choices)
        return [
            {**r, "channel": str(channels.get(r["channel"], r["channel"]))} for r in per_day(scope)
        ]
    if name == "sla":
        return sla_attainment(scope)
    if name == "load":
        return agent_load(scope)
    if name == "csat":
        return [{**r, "group": str(_CSAT_GROUPS[r["group"]])} for r in csat(scope)]
    if name == "csat_comments":
        return comments(scope)
    if name == "sla_weekly":
        return sla_weekly(scope)
    raise KeyError(name)


def report_table(name: str, scope: Scope) -> tuple[list[str], list[list]]:
    """Return (header, rows) of one report in the active language; values keep their types."""
    columns = _columns(name)
    header = [str(label) for _key, label in columns]
    rows = [[r.get(key) for key, _label in columns] for r in _data(name, scope)]
    return header, rows


# --- CSV ----------------------------------------------------------------------------------


def csv_dialect(language: str | None = None) -> tuple[str, str]:
    """Return (field separator, decimal mark) for a language: Bulgarian ";" and ","."""
    language = (language or get_language() or "bg").split("-")[0]
    return (";", ",") if language == "bg" else (",", ".")


def csv_value(value, decimal: str):
    """Return one cell as CSV text: decimals with the reader's mark, dates as dd.mm.yyyy or ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".") if not value.is_integer() else str(int(value))
        return text.replace(".", decimal)
    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return value.strftime("%d.%m.%Y") if decimal == "," else value.isoformat()
    return csv_safe(value)


def csv_bytes(header: list[str], rows: list[list], language: str | None = None) -> bytes:
    """Return a whole CSV file (UTF-8 with a BOM) in the dialect of `language`."""
    separator, decimal = csv_dialect(language)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=separator, lineterminator="\r\n")
    writer.writerow([csv_safe(h) for h in header])
    writer.writerows([[csv_value(v, decimal) for v in row] for row in rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _filename(name: str, scope: Scope, extension: str) -> str:
    return f"{name}-{scope.start.isoformat()}-{scope.end.isoformat()}.{extension}"


def csv_response(name: str, scope: Scope) -> HttpResponse:
    """Return the report as a CSV download in the reader's language and dialect."""
    header, rows = report_table(name, scope)
    response = HttpResponse(csv_bytes(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, scope, "csv")}"'
    return response


def csv_safe(value):
    """Return `value` so that a spreadsheet never reads it as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# --- XLSX ---------------------------------------------------------------------------------


def xlsx_bytes(sheets: list[tuple[str, list[str], list[list]]]) -> bytes:
    """Return an XLSX workbook with one sheet per (title, header, rows)."""
    # Imported here: openpyxl is only needed when someone downloads a spreadsheet.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(_sheet_title(title))
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in rows:
            sheet.append([_xlsx_value(v) for v in row])
        for column in sheet.columns:
            width = max((len(str(c.value)) for c in column if c.value is not None), default=8)
            letter = column[0].column_letter
            sheet.column_dimensions[letter].width = min(max(width + 2, 8), 60)
            for cell in column[1:]:
                if isinstance(cell.value, datetime.date):
                    cell.number_format = "DD.MM.YYYY"
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    cleaned = "".join(" " if c in "[]:*?/\\" else c for c in str(title))
    return cleaned[:31] or "Report"


def _xlsx_value(value):
    if isinstance(value, str):
        # A text cell is never a formula in openpyxl only if it does not start with "=".
        return csv_safe(value)
    if isinstance(value, datetime.datetime):
        return timezone_naive(value)
    return value


def timezone_naive(value: datetime.datetime) -> datetime.datetime:
    """Return a datetime a spreadsheet can hold (local time, no zone)."""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.replace(tzinfo=None)


def xlsx_response(name: str, scope: Scope) -> HttpResponse:
    """Return the report as an XLSX download in the reader's language."""
    header, rows = report_table(name, scope)
    data = xlsx_bytes([(str(ALL_REPORTS[name]), header, rows)])
    response = HttpResponse(data, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, scope, "xlsx")}"'
    return response
