"""Benchmarks over HTTP against `make run-scaled`: start it, log people in, watch it.

* `RunScaled` starts scripts/run-scaled.sh itself (two uvicorn processes behind
  scripts/proxy.py, two celery workers, beat, the mailbox poller) on a
  database and port of the benchmark's choosing, waits until the proxy says
  ready, and stops the whole process group afterwards.
* `session_cookie` logs a person in the way the test client's force_login
  does: a session row written through the cached_db engine (database and
  Redis), so no password form, no lockout counter and no second factor is
  involved. Staff log in through edu.mon.bg in production; the benchmark
  measures the helpdesk, not the login.
* `ConnectionWatch` samples pg_stat_activity every 0.5 s for one database and
  keeps the highest total (and per application_name: run-scaled names each
  process's connections).
* `cpu_seconds` sums the CPU time of run-scaled's processes by kind, to see
  which one was the bottleneck.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port_run(count: int = 3, start: int = 18300) -> int:
    """Return a port P such that P .. P+count-1 are all free on 127.0.0.1."""
    port = start
    while port < 60000:
        sockets = []
        try:
            for offset in range(count):
                s = socket.socket()
                s.bind(("127.0.0.1", port + offset))
                sockets.append(s)
            return port
        except OSError:
            port += count + 7
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free ports")


def session_cookie(user) -> str:
    """A logged-in session for `user` (as Client.force_login makes it); return its key."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore

    from helpdesk.middleware import LAST_SEEN_KEY

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "accounts.backends.PasswordBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[LAST_SEEN_KEY] = int(time.time())
    session.create()
    return session.session_key


def clear_rate_counters(redis_url: str) -> int:
    """Forget the filing counters (tickets/ratelimit.py) a previous benchmark run left.

    Each run then starts as the first hour of a working day; the limits still
    apply to everything the run itself files.
    """
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match="*hd:rate:file:*", count=1000))
    if keys:
        client.delete(*keys)
    return len(keys)


def purge_task_queue(redis_url: str) -> int:
    """Drop celery tasks a previous run left queued in the benchmark's Redis database.

    They name rows of whichever database that run used; the workers started
    next would otherwise run them against this one.
    """
    import redis

    return int(redis.Redis.from_url(redis_url).delete("celery"))


class RunScaled:
    """scripts/run-scaled.sh on `database` (a name on BENCH_PG) and `port`, until stop()."""

    def __init__(self, *, database: str, port: int, pg_base: str, redis_url: str, log: Path):
        self.database, self.port = database, port
        self.url = f"http://127.0.0.1:{port}"
        self.backends = [f"http://127.0.0.1:{port + 1}", f"http://127.0.0.1:{port + 2}"]
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_", "HELPDESK_TESTING", "DJANGO_SETTINGS"))
        }
        env.update(
            PORT=str(port),
            PG_URL=f"{pg_base}/postgres",
            SCALED_DB=database,
            REDIS_URL=redis_url,
            HELPDESK_VAR_DIR=str(ROOT / "var" / f"bench-{database}"),
            # Local addresses only: the demo's outbound mail goes to files.
            HELPDESK_DEMO="true",
        )
        self.env, self.log_path = env, log
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 300.0) -> RunScaled:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        purge_task_queue(self.env["REDIS_URL"])
        log = open(self.log_path, "wb")  # closed in stop()
        self._log = log
        self.process = subprocess.Popen(
            ["scripts/run-scaled.sh"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"run-scaled stopped; see {self.log_path}")
            if all(_ready(u) for u in [self.url, *self.backends]):
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"run-scaled not ready after {timeout:.0f} s; see {self.log_path}")

    def processes(self) -> dict[str, list]:
        """run-scaled's processes by kind: proxy, web, worker, beat, poller."""
        import psutil

        kinds: dict[str, list] = {}
        if self.process is None:
            return kinds
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                line = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if "proxy.py" in line:
                kind = "proxy"
            elif "uvicorn" in line:
                kind = "web"
            elif " beat" in line:
                kind = "beat"
            elif "worker" in line:
                kind = "worker"
            elif "mailbridge_poll" in line:
                kind = "poller"
            else:
                continue
            kinds.setdefault(kind, []).append(child)
        return kinds

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health/ready", timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def cpu_seconds(processes: dict[str, list], extra: dict[str, list] | None = None) -> Counter:
    """User + system CPU seconds used so far, summed by kind (children included)."""
    import psutil

    totals: Counter = Counter()
    for kind, members in {**processes, **(extra or {})}.items():
        for process in members:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            totals[kind] += times.user + times.system + times.children_user + times.children_system
    return totals


def cpu_of(process) -> float:
    """User + system CPU seconds of one process so far (0 if it is gone)."""
    import psutil

    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def postgres_backends(conninfo: str, database: str) -> list:
    """The PostgreSQL server processes serving `database` now (for their CPU time)."""
    import psutil
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [database]
            )
        ]
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.Error:
            pass
    return found


class ConnectionWatch(threading.Thread):
    """Sample pg_stat_activity for `database` every `interval` s; keep the maxima."""

    def __init__(self, conninfo: str, database: str, interval: float = 0.5):
        super().__init__(daemon=True)
        self.conninfo, self.database, self.interval = conninfo, database, interval
        self.max_total = 0
        self.max_by_app: Counter = Counter()
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psycopg

        # The watcher's own session is on the `postgres` database: not counted.
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            while not self._stop_event.is_set():
                rows = conn.execute(
                    "SELECT coalesce(application_name, ''), count(*) FROM pg_stat_activity "
                    "WHERE datname = %s GROUP BY 1",
                    [self.database],
                ).fetchall()
                self.samples += 1
                self.max_total = max(self.max_total, sum(n for _app, n in rows))
                for app, n in rows:
                    key = app.split("@")[0] or "(unnamed)"
                    self.max_by_app[key] = max(self.max_by_app[key], n)
                self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)
