"""The dashboard's reports as CSV downloads: the rows behind each chart."""

import csv

from django.http import HttpResponse

from console.dashboard.queries import (
    AGE_BUCKETS,
    Scope,
    agent_load,
    backlog,
    per_day,
    sla_attainment,
)


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
