"""Dashboard counters: the tickets counted by day, region, competence and state, kept in step.

The dashboard (console/dashboard/) used to count every ticket of its period
on each view; at a million tickets that took a third of a second. These
counters are what those GROUP BY queries would return, maintained in the same
transaction as every ticket change, so the dashboard reads a few hundred rows.

* DayFigure: per local day of creation, region and competence: the open
  tickets, and for tickets not merged into another the SLA states (first
  response given / given in time / without a due time; the same for the
  resolution). What depends on the clock ("past its due time") is not stored:
  the dashboard counts the few tickets whose due time is still ahead.
* ChannelFigure: per local day of creation, region and channel: created.
* LoadFigure: per region, assignee, competence and tier: all tickets, open,
  open and not merged, waiting, breached (in work); the dashboard's load
  per agent and backlog totals, and the queue counts of a national reader.

How they stay right: every Ticket keeps, from the moment it is read
(post_init), the state the counters hold for it; post_save and post_delete
apply the difference between that and the new state (an upsert adding +1 or
-1, safe under concurrent changes). A queryset update of a counted field
calls sync() (tickets/actions/conversation.py). `manage.py
rebuild_dashboard_counters` recounts everything from the tickets (after
bulk loads by SQL, e.g. the benchmark generator); the beat task
tickets.tasks.reconcile_counters compares nightly and rebuilds on any drift.
"""

import datetime
import logging
from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Count, F, IntegerField, Q, Value
from django.db.models.functions import Coalesce, TruncDate
from django.db.models.signals import post_delete, post_init, post_save, pre_delete, pre_save
from django.utils import timezone

from tickets.models import (
    OPEN_STATUSES,
    ChannelFigure,
    DayFigure,
    LoadFigure,
    Status,
    Ticket,
)

logger = logging.getLogger(__name__)

# The ticket fields the counters depend on (attnames).
FIELDS = (
    "created_at",
    "region_id",
    "competence_id",
    "channel",
    "merged_into_id",
    "status",
    "first_response_at",
    "first_response_due",
    "resolved_at",
    "resolution_due",
    "assignee_id",
    "sla_breached",
    "tier",
)
DAY_COLUMNS = (
    "open_count",
    "counted",
    "first_done",
    "first_met",
    "first_nodue",
    "res_done",
    "res_met",
    "res_nodue",
)
LOAD_COLUMNS = ("total", "open_count", "open_unmerged", "waiting", "breached")

# table: (model, key columns, value columns)
TABLES = {
    "day": (DayFigure, ("day", "region_id", "competence_id"), DAY_COLUMNS),
    "channel": (ChannelFigure, ("day", "region_id", "channel"), ("created",)),
    "load": (LoadFigure, ("region_id", "assignee_id", "competence_id", "tier"), LOAD_COLUMNS),
}


def local_day(value: datetime.datetime) -> datetime.date:
    """The day of `value` in the site's time zone (the dashboard's days)."""
    return timezone.localtime(value, timezone.get_default_timezone()).date()


# --- the conditions, once in Python and once as SQL (for rebuilds) -----------------------


def _met(done, due) -> int:
    return int(done is not None and due is not None and done <= due)


def contributions(state: dict) -> dict:
    """Return {(table, key): {column: 1}} for one ticket state (the FIELDS)."""
    day = local_day(state["created_at"])
    region = state["region_id"] or 0
    competence = state["competence_id"] or 0
    status = state["status"]
    is_open = status in OPEN_STATUSES
    figures = {"open_count": int(is_open)}
    if state["merged_into_id"] is None:
        first_at, first_due = state["first_response_at"], state["first_response_due"]
        resolved_at, resolution_due = state["resolved_at"], state["resolution_due"]
        figures.update(
            counted=1,
            first_done=int(first_at is not None),
            first_met=_met(first_at, first_due),
            first_nodue=int(first_at is None and first_due is None),
            res_done=int(resolved_at is not None),
            res_met=_met(resolved_at, resolution_due),
            res_nodue=int(resolved_at is None and resolution_due is None),
        )
    load = {
        "total": 1,
        "open_count": int(is_open),
        "open_unmerged": int(is_open and state["merged_into_id"] is None),
        "waiting": int(status == Status.WAITING),
        "breached": int(is_open and bool(state["sla_breached"]) and status != Status.WAITING),
    }
    return {
        ("day", (day, region, competence)): figures,
        ("channel", (day, region, state["channel"])): {"created": 1},
        ("load", (region, state["assignee_id"] or 0, competence, state["tier"])): load,
    }


def _sql_day_aggregates() -> dict:
    not_merged = Q(merged_into__isnull=True)
    return {
        "open_count": Count("id", filter=Q(status__in=OPEN_STATUSES)),
        "counted": Count("id", filter=not_merged),
        "first_done": Count("id", filter=not_merged & Q(first_response_at__isnull=False)),
        "first_met": Count(
            "id",
            filter=not_merged
            & Q(first_response_at__isnull=False, first_response_due__isnull=False)
            & Q(first_response_at__lte=F("first_response_due")),
        ),
        "first_nodue": Count(
            "id",
            filter=not_merged & Q(first_response_at__isnull=True, first_response_due__isnull=True),
        ),
        "res_done": Count("id", filter=not_merged & Q(resolved_at__isnull=False)),
        "res_met": Count(
            "id",
            filter=not_merged
            & Q(resolved_at__isnull=False, resolution_due__isnull=False)
            & Q(resolved_at__lte=F("resolution_due")),
        ),
        "res_nodue": Count(
            "id", filter=not_merged & Q(resolved_at__isnull=True, resolution_due__isnull=True)
        ),
    }


def _zero(name: str):
    return Coalesce(name, Value(0), output_field=IntegerField())


def expected(tickets=None) -> dict:
    """Return {(table, key): {column: n}} counted from the tickets themselves (the slow way)."""
    tickets = Ticket.objects.all() if tickets is None else tickets
    zone = timezone.get_default_timezone()
    out: dict = {}
    day_rows = (
        tickets.annotate(
            day=TruncDate("created_at", tzinfo=zone),
            r=_zero("region_id"),
            c=_zero("competence_id"),
        )
        .values("day", "r", "c")
        .annotate(**_sql_day_aggregates())
        .order_by()
    )
    for row in day_rows:
        out[("day", (row["day"], row["r"], row["c"]))] = {k: row[k] for k in DAY_COLUMNS}
    channel_rows = (
        tickets.annotate(day=TruncDate("created_at", tzinfo=zone), r=_zero("region_id"))
        .values("day", "r", "channel")
        .annotate(created=Count("id"))
        .order_by()
    )
    for row in channel_rows:
        out[("channel", (row["day"], row["r"], row["channel"]))] = {"created": row["created"]}
    open_q = Q(status__in=OPEN_STATUSES)
    load_rows = (
        tickets.annotate(r=_zero("region_id"), a=_zero("assignee_id"), c=_zero("competence_id"))
        .values("r", "a", "c", "tier")
        .annotate(
            total=Count("id"),
            open_count=Count("id", filter=open_q),
            open_unmerged=Count("id", filter=open_q & Q(merged_into__isnull=True)),
            waiting=Count("id", filter=Q(status=Status.WAITING)),
            breached=Count("id", filter=open_q & Q(sla_breached=True) & ~Q(status=Status.WAITING)),
        )
        .order_by()
    )
    for row in load_rows:
        out[("load", (row["r"], row["a"], row["c"], row["tier"]))] = {
            k: row[k] for k in LOAD_COLUMNS
        }
    return out


def stored() -> dict:
    """Return the counters as stored, {(table, key): {column: n}}, rows of zeros left out."""
    out = {}
    for table, (model, keys, columns) in TABLES.items():
        for row in model.objects.values(*keys, *columns):
            values = {c: row[c] for c in columns}
            if any(values.values()):
                out[(table, tuple(row[k] for k in keys))] = values
    return out


def _nonzero(figures: dict) -> dict:
    return {key: values for key, values in figures.items() if any(values.values())}


# --- keeping them in step ----------------------------------------------------------------


def state_of(instance) -> dict | None:
    """The counted fields of a ticket as loaded, or None if some were not loaded (deferred)."""
    values = instance.__dict__
    if any(name not in values for name in FIELDS) or values.get("created_at") is None:
        return None
    return {name: values[name] for name in FIELDS}


def _read_state(pk) -> dict | None:
    return Ticket.objects.filter(pk=pk).values(*FIELDS).first()


def apply(old: dict | None, new: dict | None) -> None:
    """Move the counters from ticket state `old` to `new` (None: no ticket)."""
    delta: dict = defaultdict(lambda: defaultdict(int))
    for state, sign in ((old, -1), (new, 1)):
        if state is None:
            continue
        for key, values in contributions(state).items():
            for column, value in values.items():
                if value:
                    delta[key][column] += sign * value
    write({k: {c: v for c, v in cols.items() if v} for k, cols in delta.items()})


def write(delta: dict) -> None:
    """Add `delta` ({(table, key): {column: n}}) to the counters, one upsert per row."""
    # Sorted, so that two transactions touching the same rows take their locks in one order.
    items = sorted(
        ((k, v) for k, v in delta.items() if v), key=lambda kv: (kv[0][0], str(kv[0][1]))
    )
    if not items:
        return
    statements = []
    for (table, key), values in items:
        model, key_columns, all_columns = TABLES[table]
        name = model._meta.db_table
        # Every column in the insert (they have no database default), only
        # the changed ones in the update.
        columns = list(all_columns)
        sql = (
            f"INSERT INTO {name} ({', '.join(key_columns + tuple(columns))}) "
            f"VALUES ({', '.join(['%s'] * (len(key_columns) + len(columns)))}) "
            f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET "
            + ", ".join(f"{c} = {name}.{c} + EXCLUDED.{c}" for c in values)
        )
        statements.append((sql, [*key, *(values.get(c, 0) for c in columns)]))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(statements) > 1:
            # One round trip: the other upserts ride along as data-modifying
            # CTEs. The statement is built from the sorted rows, so two
            # transactions touching the same rows still lock them in one
            # order (whatever order PostgreSQL runs the parts in, it is the
            # same for the same statement shape).
            (main_sql, main_params), rest = statements[0], statements[1:]
            ctes = ", ".join(f"u{n} AS ({sql})" for n, (sql, _p) in enumerate(rest))
            params = [p for _sql, ps in rest for p in ps] + main_params
            cursor.execute(f"WITH {ctes} {main_sql}", params)
        else:
            for sql, params in statements:
                cursor.execute(sql, params)


def remember(sender, instance, **kwargs):
    # What the counters hold for this ticket: it was just read (or is new, pk None).
    instance._counted_state = state_of(instance) if instance.pk is not None else None


def saving(sender, instance, raw=False, **kwargs):
    # Read with some counted fields deferred (.only()): what the counters hold
    # for it is the row as it still is; one query, in this rare case only.
    if instance.pk is not None and getattr(instance, "_counted_state", None) is None:
        instance._counted_state = _read_state(instance.pk)


def saved(sender, instance, created, raw=False, **kwargs):
    old = None if created else getattr(instance, "_counted_state", None)
    new = state_of(instance) or _read_state(instance.pk)
    if old != new:
        apply(old, new)
    instance._counted_state = new


def deleting(sender, instance, **kwargs):
    # The requests merged into this one lose their link (SET_NULL, a queryset
    # update without signals) in the same deletion: they count as not merged.
    for state in Ticket.objects.filter(merged_into_id=instance.pk).values(*FIELDS):
        apply(state, {**state, "merged_into_id": None})


def deleted(sender, instance, **kwargs):
    apply(getattr(instance, "_counted_state", None) or state_of(instance), None)


def sync(ticket) -> None:
    """After a queryset update of the ticket and refresh_from_db(): count what changed."""
    new = state_of(ticket)
    old = getattr(ticket, "_counted_state", None)
    if new is not None and old is not None and old != new:
        apply(old, new)
    ticket._counted_state = new


def connect() -> None:
    post_init.connect(remember, sender=Ticket, dispatch_uid="counters-remember")
    pre_save.connect(saving, sender=Ticket, dispatch_uid="counters-saving")
    post_save.connect(saved, sender=Ticket, dispatch_uid="counters-saved")
    pre_delete.connect(deleting, sender=Ticket, dispatch_uid="counters-deleting")
    post_delete.connect(deleted, sender=Ticket, dispatch_uid="counters-deleted")


# --- rebuilding and reconciling ----------------------------------------------------------


def _lock_tables() -> None:
    # Ticket changes wait (at their counter upsert) until the rebuild commits;
    # a change that already wrote its counters is committed before we start.
    if connection.vendor == "postgresql":
        names = ", ".join(model._meta.db_table for model, _k, _c in TABLES.values())
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {names} IN EXCLUSIVE MODE")


def rebuild(apps=None) -> int:
    """Recount every counter from the tickets; return the number of counter rows.

    `apps`: a migration's historical models (the migration that made the tables fills them).
    """
    models = {
        table: (apps.get_model("tickets", model.__name__) if apps else model)
        for table, (model, _keys, _columns) in TABLES.items()
    }
    tickets = apps.get_model("tickets", "Ticket").objects.all() if apps else None
    with transaction.atomic():
        _lock_tables()
        figures = _nonzero(expected(tickets))
        for model in models.values():
            model.objects.all().delete()
        rows = defaultdict(list)
        # In key order (day first): a day's rows then sit together on disk.
        for (table, key), values in sorted(figures.items(), key=_order):
            key_columns = TABLES[table][1]
            rows[table].append(models[table](**dict(zip(key_columns, key, strict=True)), **values))
        for table, objects in rows.items():
            models[table].objects.bulk_create(objects, batch_size=5000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in models.values():
                cursor.execute(f"ANALYZE {model._meta.db_table}")
    return len(figures)


def _order(item):
    (table, key), _values = item
    return (table, tuple((value is None, str(value)) for value in key))


def reconcile() -> int:
    """Compare the counters with the tickets; rebuild if they drifted. Return the rows that did.

    A ticket changing while the tickets are counted makes its rows look
    different for a moment; a drift is a difference found twice, the same
    both times. Only then are the counters rebuilt (which holds ticket
    changes back for the seconds it takes).
    """
    first = _drift()
    if not first:
        return 0
    second = _drift()
    lasting = [key for key, delta in first.items() if second.get(key) == delta]
    if not lasting:
        return 0
    logger.warning("counters: %s rows differ from the tickets; rebuilding", len(lasting))
    rebuild()
    return len(lasting)


def _drift() -> dict:
    """{(table, key): {column: expected − stored}} where the counters differ from the tickets."""
    expected_figures, stored_figures = _nonzero(expected()), stored()
    out = {}
    for key in _differences(expected_figures, stored_figures):
        want, have = expected_figures.get(key, {}), stored_figures.get(key, {})
        out[key] = {c: want.get(c, 0) - have.get(c, 0) for c in set(want) | set(have)}
    return out


def _differences(expected_figures: dict, stored_figures: dict) -> list:
    keys = set(expected_figures) | set(stored_figures)
    return sorted(
        (k for k in keys if expected_figures.get(k) != stored_figures.get(k)),
        key=lambda k: (k[0], str(k[1])),
    )
