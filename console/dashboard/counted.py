"""The dashboard's figures read from the counters (tickets/counters.py) instead of the tickets.

Used when the reader's tickets are simply "every ticket" or "every ticket of
one region" (administrators, supervisors, regional experts), which is what
the counters are kept by. Anyone else (central support, whose view is a mix
of conditions) gets the same figures counted from the tickets, as before.

Each function returns exactly what its twin in queries.py / figures.py
returns from the tickets (tests/console/test_counted_figures.py compares
them after creating, changing, closing, reopening and merging tickets). The
parts that depend on the clock are counted from the few tickets concerned:

* SLA "due": answered (counted) plus not answered and past the due time,
  which is all unanswered (counted) less those without a due time (counted)
  less those whose due time is still ahead (a small indexed query);
* the age of open tickets: whole days from the counters, and the tickets of
  the five days on which an age bucket starts (now, 1, 3, 7 and 30 days ago)
  counted one by one.
"""

import datetime
from collections import defaultdict

from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from tickets.counters import DAY_COLUMNS, local_day
from tickets.models import OPEN_STATUSES, ChannelFigure, DayFigure, LoadFigure, Ticket

NOT_COUNTED = object()


def counted_region(scope):
    """Return None (every ticket), a region id, or NOT_COUNTED when the counters cannot answer.

    The counters answer when scope.tickets() is every ticket, or every ticket
    of scope.region: Ticket.objects.visible_to() gives a national supervisor
    and an administrator everything, and a regional supervisor or regional
    expert everything of their own region (Scope narrows them to it).
    """
    user = scope.user
    if not user.is_active:
        return NOT_COUNTED
    if timezone.get_current_timezone_name() != timezone.get_default_timezone_name():
        return NOT_COUNTED  # the counters' days are the site's days
    region_id = scope.region.pk if scope.region is not None else None
    if user.is_superuser:
        return region_id
    agent = user.agent
    if agent is None:
        return NOT_COUNTED
    if agent.kind == "supervisor":
        if agent.region_id is None or agent.region_id == region_id:
            return region_id
        return NOT_COUNTED
    if agent.tier != "central" and agent.region_id is not None and agent.region_id == region_id:
        return region_id
    return NOT_COUNTED


def _in_region(queryset, region_id):
    return queryset if region_id is None else queryset.filter(region_id=region_id)


def _tickets(region_id):
    """The reader's tickets for the live counts: each is read through a small partial index.

    The region is tested on the rows that index gives (coalesce() keeps the
    planner from intersecting it with the whole region's index, 35 000
    entries at 1M, six times the work).
    """
    tickets = Ticket.objects.all()
    if region_id is None:
        return tickets
    return tickets.alias(region_or_none=Coalesce("region_id", Value(0))).filter(
        region_or_none=region_id
    )


def _days(scope) -> tuple[datetime.date, datetime.date]:
    return scope.start, scope.end


# --- requests per day ------------------------------------------------------------------------


def per_day(scope, region_id) -> list[dict]:
    first, last = _days(scope)
    rows = (
        _in_region(ChannelFigure.objects.filter(day__gte=first, day__lte=last), region_id)
        .values("day", "channel")
        .annotate(count=Sum("created"))
        .filter(count__gt=0)
        .order_by("day", "channel")
    )
    return list(rows)


# --- SLA attainment --------------------------------------------------------------------------


def _pending(scope, region_id, now, done: str, due: str) -> dict:
    """{(day, competence id or None): tickets not merged, `done` unset, `due` still ahead}."""
    start, end = scope.bounds()
    zone = timezone.get_default_timezone()
    rows = (
        _tickets(region_id)
        .filter(
            Q(**{f"{done}__isnull": True, f"{due}__gte": now}),
            merged_into__isnull=True,
            created_at__gte=start,
            created_at__lt=end,
        )
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "competence_id")
        .annotate(n=Count("*"))
        .order_by()
    )
    return {(r["day"], r["competence_id"]): r["n"] for r in rows}


def _memo(scope) -> dict:
    # One page asks for the same counters several times (the SLA table, the
    # weekly SLA, the backlog): read once per Scope, i.e. per request.
    return scope.__dict__.setdefault("_counted_memo", {})


def day_rows(scope, region_id, first_day: datetime.date) -> list[dict]:
    """DayFigure summed over the regions, per (day, competence), for every day from first_day."""
    memo = _memo(scope)
    cached = memo.get(("days", region_id))
    if cached is None or cached[0] > first_day:
        rows = list(
            _in_region(DayFigure.objects.filter(day__gte=first_day), region_id)
            .values("day", "competence_id")
            .annotate(**{column: Sum(column) for column in DAY_COLUMNS})
            .order_by()
        )
        for row in rows:
            row["competence_id"] = row["competence_id"] or None
        cached = memo[("days", region_id)] = (first_day, rows)
    return [r for r in cached[1] if r["day"] >= first_day]


def sla_by_day(scope, region_id, now) -> dict:
    """{(day, competence id or None): {created, first_due, first_met, res_due, res_met}}."""
    memo = _memo(scope)
    if ("sla", region_id, now) not in memo:
        memo[("sla", region_id, now)] = _sla_by_day(scope, region_id, now)
    return memo[("sla", region_id, now)]


def _sla_by_day(scope, region_id, now) -> dict:
    first, last = _days(scope)
    rows = [r for r in day_rows(scope, region_id, first) if r["day"] <= last and r["counted"] > 0]
    first_ahead = _pending(scope, region_id, now, "first_response_at", "first_response_due")
    res_ahead = _pending(scope, region_id, now, "resolved_at", "resolution_due")
    out = {}
    for r in rows:
        key = (r["day"], r["competence_id"])
        counted = r["counted"]
        first_late = counted - r["first_done"] - r["first_nodue"] - first_ahead.get(key, 0)
        res_late = counted - r["res_done"] - r["res_nodue"] - res_ahead.get(key, 0)
        out[key] = {
            "created": counted,
            "first_due": r["first_done"] + first_late,
            "first_met": r["first_met"],
            "res_due": r["res_done"] + res_late,
            "res_met": r["res_met"],
        }
    return out


def sum_by(rows: dict, group) -> dict:
    """Add up sla_by_day() rows by group(day, competence id)."""
    out: dict = defaultdict(lambda: defaultdict(int))
    for (day, competence_id), values in rows.items():
        target = out[group(day, competence_id)]
        for key, value in values.items():
            target[key] += value
    return out


# --- open backlog by age ---------------------------------------------------------------------


def backlog(scope, region_id, now, buckets, aggregates) -> dict:
    """{competence id or None: {bucket key: n, ..., "total": n}} of the open tickets."""
    zone = timezone.get_default_timezone()
    totals = {
        r["competence_id"] or None: r["n"]
        for r in _in_region(LoadFigure.objects.all(), region_id)
        .values("competence_id")
        .annotate(n=Sum("open_count"))
        .filter(n__gt=0)
        .order_by()
    }
    if not totals:
        return {}
    # The days on which a bucket's edge falls: their tickets are counted one by one.
    edges = {local_day(now)} | {
        local_day(now - datetime.timedelta(days=low)) for _k, _l, low, _h in buckets
    }
    edges |= {
        local_day(now - datetime.timedelta(days=high)) for _k, _l, _low, high in buckets if high
    }
    oldest = min(edges)
    by_day = [
        {"day": r["day"], "competence_id": r["competence_id"], "n": r["open_count"]}
        for r in day_rows(scope, region_id, oldest + datetime.timedelta(days=1))
        if r["open_count"] and r["day"] not in edges
    ]
    edge_range = Q()
    for day in edges:
        start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
        end = datetime.datetime.combine(
            day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
        )
        edge_range |= Q(created_at__gte=start, created_at__lt=end)
    live = (
        _tickets(region_id)
        .filter(edge_range, status__in=OPEN_STATUSES)
        .values("competence_id")
        .annotate(**aggregates)
        .order_by()
    )
    keys = [key for key, _label, _low, _high in buckets]
    out = {c: {**dict.fromkeys(keys, 0), "total": n} for c, n in totals.items()}
    younger = defaultdict(int)  # open tickets newer than the oldest bucket's edge
    for r in live:
        row = out.setdefault(r["competence_id"], {**dict.fromkeys(keys, 0), "total": 0})
        for key in keys[:-1]:
            row[key] += r[key]
        younger[r["competence_id"]] += r["total"] - r[keys[-1]]
    # Each (day, competence) row falls in the bucket of its day: find it once a day.
    bounds = [
        (key, now - datetime.timedelta(days=high), now - datetime.timedelta(days=low))
        for key, _label, low, high in buckets[:-1]
    ]
    bucket_of_day: dict = {}
    for r in by_day:
        competence = r["competence_id"]
        row = out.setdefault(competence, {**dict.fromkeys(keys, 0), "total": 0})
        younger[competence] += r["n"]
        day = r["day"]
        if day not in bucket_of_day:
            moment = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
            bucket_of_day[day] = next(
                (key for key, older, newer in bounds if older < moment <= newer), None
            )
        if bucket_of_day[day] is not None:
            row[bucket_of_day[day]] += r["n"]
    for competence, row in out.items():
        row[keys[-1]] = row["total"] - younger[competence]
    return out


# --- load per agent --------------------------------------------------------------------------


def agent_load(region_id) -> list[dict]:
    rows = (
        _in_region(LoadFigure.objects.exclude(assignee_id=0), region_id)
        .values("assignee_id")
        .annotate(open=Sum("open_count"), waiting=Sum("waiting"), breached=Sum("breached"))
        .filter(open__gt=0)
        .order_by()
    )
    return list(rows)


def ticket_total(region_id) -> int:
    """How many tickets there are (in a region): the queue "everything" of a national reader."""
    figures = _in_region(LoadFigure.objects.all(), region_id).aggregate(n=Sum("total"))
    return figures["n"] or 0
