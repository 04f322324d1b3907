"""Health checks: can this installation serve, and is its background work keeping up?

``run()`` runs every check named in settings.HEALTH_CHECKS at once, each in a
thread of its own with HEALTH_CHECK_TIMEOUT seconds; a check still running
then counts as failed ("timeout"), so a probe never hangs on a dead server.
A check is a function that returns a dict of details or raises (its error
becomes the detail); ``critical`` checks (the database, the cache) make the
installation unavailable (503), the others make it "degraded" (200, or 503
with ``strict``): a mail server that is down must not take the web
processes out of the load balancer.

Checks of door apps live with them (mailbridge/health.py) and are named in
settings, so this base module imports none of them.
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections, transaction
from django.utils.module_loading import import_string

# Shared by all probes of this process; a check that hangs past its timeout
# keeps a thread until its own socket timeout, so there are a few spare.
_executor = concurrent.futures.ThreadPoolExecutor(max_workers=12, thread_name_prefix="health")


def check(*, critical: bool):
    """Mark a function as a health check (critical or not)."""

    def mark(function):
        function.critical = critical
        return function

    return mark


@dataclass
class Result:
    name: str
    ok: bool
    critical: bool
    seconds: float
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "status": "ok" if self.ok else "fail",
            "critical": self.critical,
            "ms": round(self.seconds * 1000, 1),
            **self.detail,
        }


@dataclass
class Report:
    results: list[Result]

    @property
    def status(self) -> str:
        if any(not r.ok and r.critical for r in self.results):
            return "unavailable"
        if any(not r.ok for r in self.results):
            return "degraded"
        return "ok"

    def http_status(self, strict: bool = False) -> int:
        if self.status == "unavailable" or (strict and self.status != "ok"):
            return 503
        return 200


def timeout() -> float:
    return float(getattr(settings, "HEALTH_CHECK_TIMEOUT", 3))


def _call(function) -> tuple[bool, dict]:
    try:
        return True, dict(function() or {})
    except Exception as error:
        return False, {"error": f"{type(error).__name__}: {error}"[:300]}
    finally:
        # Each check's thread returns its database connection (to the pool).
        connections.close_all()


def run(names: list[str] | None = None) -> Report:
    """Run the checks (settings.HEALTH_CHECKS: {name: dotted path}) in parallel."""
    configured = getattr(settings, "HEALTH_CHECKS", {})
    chosen = {name: path for name, path in configured.items() if names is None or name in names}
    limit = timeout()
    started = time.monotonic()
    futures = {}
    for name, path in chosen.items():
        function = import_string(path)
        futures[name] = (function, _executor.submit(_timed, function))
    results = []
    for name, (function, future) in futures.items():
        remaining = max(0.0, limit - (time.monotonic() - started))
        critical = getattr(function, "critical", False)
        try:
            ok, detail, seconds = future.result(timeout=remaining)
        except concurrent.futures.TimeoutError:
            future.cancel()
            ok, detail, seconds = False, {"error": f"no answer within {limit:g} s"}, limit
        results.append(Result(name, ok, critical, seconds, detail))
    return Report(results)


def _timed(function):
    started = time.monotonic()
    ok, detail = _call(function)
    return ok, detail, time.monotonic() - started


# --- the base checks ------------------------------------------------------------------


def _limit_this_transaction(cursor) -> None:
    """Give the check's statements the health timeout, for this transaction only.

    A plain SET would stay on the connection, and with the connection pool
    (settings DATABASE_POOL_SIZE) the next request to borrow it would run
    under the health check's few seconds: filings waiting on the reference
    counter's row lock were cancelled that way under load ("canceling
    statement due to statement timeout", bench/bench_filing.py --http).
    """
    cursor.execute(
        "SELECT set_config('statement_timeout', %s, true)", [f"{int(timeout() * 1000)}ms"]
    )


@check(critical=True)
def database() -> dict:
    """The primary database answers a query."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        # No time limit to scope to a transaction here; and a transaction on
        # SQLite (BEGIN IMMEDIATE) would wait for the writer, which is not
        # what "does the database answer" asks.
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"vendor": connection.vendor}
    with transaction.atomic(using="default"), connection.cursor() as cursor:
        _limit_this_transaction(cursor)
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


@check(critical=True)
def cache() -> dict:
    """The cache (Redis in production) stores and returns a value."""
    # Imported here: the cache backend is built on first use, after settings.
    from django.core.cache import caches

    default_cache = caches["default"]

    key = f"health:{uuid.uuid4().hex}"
    default_cache.set(key, "1", 30)
    try:
        if default_cache.get(key) != "1":
            raise RuntimeError("a value written to the cache did not come back")
    finally:
        default_cache.delete(key)
    return {"backend": default_cache.__class__.__name__}


@check(critical=False)
def broker() -> dict:
    """The celery broker accepts a connection (tasks queued by the web can be handed over)."""
    # Imported here: the celery app reads the Django settings when it is created.
    from helpdesk.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout())
        transport = conn.transport_cls
    return {"transport": str(transport)}


@check(critical=False)
def worker() -> dict:
    """At least one celery worker answers a ping within a second."""
    # Imported here: the celery app reads the Django settings when it is created.
    from helpdesk.celery import app

    wait = min(1.0, timeout() / 2)
    replies = app.control.ping(timeout=wait)
    if not replies:
        raise RuntimeError(f"no worker answered within {wait:g} s")
    return {"workers": len(replies)}


@check(critical=False)
def replica() -> dict:
    """The read replica answers and is at most HEALTH_REPLICA_MAX_LAG seconds behind."""
    with transaction.atomic(using="replica"), connections["replica"].cursor() as cursor:
        _limit_this_transaction(cursor)
        # Caught up when everything received was replayed; else the age of
        # the last transaction it replayed (an idle primary is no lag).
        cursor.execute(
            "SELECT pg_is_in_recovery(), CASE WHEN pg_last_wal_receive_lsn() = "
            "pg_last_wal_replay_lsn() THEN 0 ELSE COALESCE(EXTRACT(EPOCH FROM "
            "now() - pg_last_xact_replay_timestamp()), 0) END"
        )
        in_recovery, lag = cursor.fetchone()
    lag = round(float(lag), 1)
    if not in_recovery:
        raise RuntimeError("DATABASE_REPLICA_URL names a server that is not a replica")
    if lag > settings.HEALTH_REPLICA_MAX_LAG:
        raise RuntimeError(f"{lag} s behind the primary")
    return {"lag_s": lag}
