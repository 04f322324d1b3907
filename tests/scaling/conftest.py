"""Several real processes on one PostgreSQL test database: ASGI servers, celery workers.

The processes are started from the test with DATABASE_URL pointing at the
test database, so what a test commits (transactional_db) they see, and what
they commit the test sees. They need PostgreSQL and Redis (the channel layer
and broker shared between processes): on SQLite runs these tests skip, under
CI=true with PostgreSQL configured a missing Redis fails them.
"""

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.testservers import free_port, require_postgresql, require_service

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def processes_env(transactional_db, tmp_path):
    """The environment for a helpdesk process on this test's database, Redis and layer prefix."""
    require_postgresql(connection.vendor, "Several processes on one database")
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        require_service("redis", "REDIS_URL is not set; several processes share Redis")
    db = connection.settings_dict
    name = connection.creation._get_test_db_name()
    auth = (db.get("USER") or "postgres") + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    url = f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "PYTEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        HELPDESK_TESTING="true",
        HELPDESK_OTP_REQUIRED="false",
        HELPDESK_MAIL_SENDER_AUTH="off",
        HELPDESK_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=url,
        REDIS_URL=redis_url,
        CHANNELS_PREFIX=f"t{uuid.uuid4().hex[:8]}",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        PYTHONPATH=str(ROOT),
    )
    return env


class Processes:
    """Started subprocesses, stopped (and their connections closed) after the test."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.running: list[subprocess.Popen] = []

    def _start(self, args, env, name):
        log = open(self.tmp_path / f"{name}.log", "wb")  # closed with the process
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        process.log_path = self.tmp_path / f"{name}.log"
        process.log_file = log
        self.running.append(process)
        return process

    def log(self, process) -> str:
        return process.log_path.read_text(errors="replace")[-4000:]

    def asgi(self, env, name="web", **extra) -> tuple[subprocess.Popen, str]:
        """Start uvicorn serving helpdesk.asgi; return (process, base URL) once it answers."""
        port = free_port()
        process = self._start(
            [sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1"]
            + ["--port", str(port), "--lifespan", "off", "--no-access-log"],
            {**env, **extra},
            name,
        )
        url = f"http://127.0.0.1:{port}"
        self.wait_for(f"{url}/health/live", process)
        return process, url

    def proxy(self, backends: list[str]) -> str:
        port = free_port()
        args = [sys.executable, str(ROOT / "scripts" / "proxy.py"), "--listen", f"127.0.0.1:{port}"]
        for backend in backends:
            args += ["--backend", backend.removeprefix("http://")]
        process = self._start(args, dict(os.environ), "proxy")
        url = f"http://127.0.0.1:{port}"
        self.wait_for(f"{url}/health/live", process)
        return url

    def worker(self, env, name, queue, pool=("--pool=solo",)) -> subprocess.Popen:
        celery = ROOT / ".venv" / "bin" / "celery"
        return self._start(
            [str(celery), "-A", "helpdesk", "worker", *pool, "--without-gossip"]
            + ["--without-mingle", "--without-heartbeat", "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h"]
            + ["-Q", queue, "-l", "INFO"],
            env,
            name,
        )

    def wait_for(self, url, process, timeout=90.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[:4]} stopped:\n{self.log(process)}")
            try:
                urllib.request.urlopen(url, timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer:\n{self.log(process)}")

    def stop_all(self):
        for process in self.running:
            if process.poll() is None:
                process.terminate()
        for process in self.running:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.log_file.close()


@pytest.fixture
def processes(processes_env, tmp_path):
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
