"""/health/live and /health/ready: what they check, who sees the details, how long they take.

The readiness checks run in threads of their own (each with a timeout), so
these tests use committed data (transactional_db) where a check reads it.
"""

import datetime
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from helpdesk import health
from mailbridge import health as mail_health
from mailbridge.models import Mailbox
from tests.testservers import free_port, require_service
from tickets.models import OutboundMail

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "203.0.113.7"

BASE = {
    "database": "helpdesk.health.database",
    "cache": "helpdesk.health.cache",
    "mailbox": "mailbridge.health.mailbox_polled",
    "outbox": "mailbridge.health.outbox_backlog",
}


@pytest.fixture
def checks(settings):
    from helpdesk import views

    settings.HEALTH_CHECKS = dict(BASE)
    settings.HEALTH_TOKEN = ""
    views._public_cache.update(at=None, report=None)
    return settings.HEALTH_CHECKS


def test_liveness_answers_without_touching_the_database(client):
    # No db fixture: pytest-django makes any query here an error.
    response = client.get("/health/live", REMOTE_ADDR=PUBLIC)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_liveness_takes_only_get_and_head(client):
    assert client.post("/health/live").status_code == 405
    assert client.head("/health/live").status_code == 200


def test_ready_shows_each_check_to_a_caller_on_this_machine(transactional_db, client, checks):
    response = client.get("/health/ready", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == set(BASE)
    assert {c["status"] for c in body["checks"].values()} == {"ok"}
    assert body["checks"]["database"]["critical"] is True
    assert body["checks"]["outbox"] == {
        "status": "ok",
        "critical": False,
        "ms": body["checks"]["outbox"]["ms"],
        "pending": 0,
        "oldest_pending_age_s": 0,
    }


def test_the_public_learns_the_status_and_nothing_else(transactional_db, client, checks):
    response = client.get("/health/ready", REMOTE_ADDR=PUBLIC)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_public_answer_is_reused_for_a_few_seconds(
    transactional_db, client, checks, settings, monkeypatch
):
    runs = []
    real_run = health.run
    monkeypatch.setattr(health, "run", lambda *a: runs.append(1) or real_run(*a))
    settings.HEALTH_PUBLIC_CACHE_SECONDS = 3600
    for _ in range(3):
        assert client.get("/health/ready", REMOTE_ADDR=PUBLIC).json() == {"status": "ok"}
    assert len(runs) == 1
    # Callers who see the details always get a fresh run.
    client.get("/health/ready", REMOTE_ADDR="127.0.0.1")
    client.get("/health/ready", REMOTE_ADDR="127.0.0.1")
    assert len(runs) == 3
    settings.HEALTH_PUBLIC_CACHE_SECONDS = 0
    client.get("/health/ready", REMOTE_ADDR=PUBLIC)
    assert len(runs) == 4


def test_behind_a_proxy_the_forwarded_client_decides_not_the_proxy(
    transactional_db, client, checks, settings
):
    settings.BEHIND_PROXY = True
    response = client.get("/health/ready", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=PUBLIC)
    assert response.json() == {"status": "ok"}


def test_a_token_or_staff_see_the_details_from_anywhere(
    transactional_db, client, checks, cast, settings
):
    settings.HEALTH_TOKEN = "health-" + uuid.uuid4().hex
    with_token = client.get(
        "/health/ready", REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION=f"Bearer {settings.HEALTH_TOKEN}"
    )
    assert "checks" in with_token.json()
    wrong = client.get("/health/ready", REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION="Bearer nope")
    assert "checks" not in wrong.json()
    client.force_login(cast.teacher_a)
    assert "checks" not in client.get("/health/ready", REMOTE_ADDR=PUBLIC).json()
    client.force_login(cast.admin)
    assert "checks" in client.get("/health/ready", REMOTE_ADDR=PUBLIC).json()


def test_a_cache_that_is_down_makes_the_installation_unavailable(
    transactional_db, client, checks, settings
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"]["status"] == "fail"
    assert "ConnectionError" in body["checks"]["cache"]["error"]
    assert body["checks"]["database"]["status"] == "ok"


def test_a_broker_that_is_down_degrades_and_strict_makes_it_503(
    transactional_db, client, checks, monkeypatch
):
    from helpdesk.celery import app

    checks["broker"] = "helpdesk.health.broker"
    monkeypatch.setattr(app.conf, "broker_url", f"redis://127.0.0.1:{free_port()}/0")
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "fail"
    assert client.get("/health/ready?strict=1").status_code == 503


def test_no_worker_answering_is_reported(
    transactional_db, client, checks, settings, broker_folders
):
    checks["worker"] = "helpdesk.health.worker"
    settings.HEALTH_CHECK_TIMEOUT = 2
    body = client.get("/health/ready").json()
    assert body["checks"]["worker"]["status"] == "fail"
    # The ping waits a second; on a busy machine the check's own limit may come first.
    error = body["checks"]["worker"]["error"]
    assert error.startswith(("RuntimeError: no worker answered", "no answer within")), error


RELEASE = threading.Event()


@health.check(critical=True)
def hanging_check():
    RELEASE.wait(30)
    return {}


def test_a_check_that_hangs_counts_as_failed_after_the_timeout(transactional_db, client, settings):
    settings.HEALTH_CHECKS = {"database": BASE["database"], "hang": f"{__name__}.hanging_check"}
    settings.HEALTH_CHECK_TIMEOUT = 1
    RELEASE.clear()
    try:
        response = client.get("/health/ready")
    finally:
        RELEASE.set()
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["hang"]["status"] == "fail"
    assert body["checks"]["hang"]["error"] == "no answer within 1 s"
    assert body["checks"]["database"]["status"] == "ok"


# --- the mail bridge's checks, called directly -------------------------------------


def make_mailbox(name, **fields):
    return Mailbox.objects.create(
        name=name,
        address=f"{name}@helpdesk.example",
        host="127.0.0.1",
        username=name,
        password="x",
        **fields,
    )


def test_mailbox_check_reports_the_age_of_the_last_successful_poll(db, settings):
    settings.HEALTH_MAILBOX_MAX_AGE = 600
    now = timezone.now()
    make_mailbox("fresh", last_success_at=now - datetime.timedelta(seconds=30))
    make_mailbox("off", is_active=False)
    assert mail_health.mailbox_polled()["mailboxes"] == 1
    make_mailbox("stale", last_success_at=now - datetime.timedelta(seconds=900))
    make_mailbox("never", last_poll_at=now, last_state="error")
    with pytest.raises(RuntimeError, match="never, stale"):
        mail_health.mailbox_polled()


def test_outbox_check_fails_on_an_old_or_a_long_backlog(db, make_ticket, settings):
    settings.HEALTH_OUTBOX_MAX_AGE = 600
    settings.HEALTH_OUTBOX_MAX_PENDING = 3
    ticket = make_ticket()
    OutboundMail.objects.all().delete()
    old = timezone.now() - datetime.timedelta(seconds=700)

    def row(key, **fields):
        return OutboundMail.objects.create(
            key=key, ticket=ticket, kind="reply", recipients=["a@b.bg"], message_id=key, **fields
        )

    row("sent-long-ago", state=OutboundMail.State.SENT, created_at=old)
    row("new")
    detail = mail_health.outbox_backlog()
    assert detail["pending"] == 1 and detail["oldest_pending_age_s"] < 600
    old_row = row("waiting", created_at=old)
    with pytest.raises(RuntimeError, match="waits for 7"):
        mail_health.outbox_backlog()
    old_row.delete()
    for i in range(3):
        row(f"more{i}")
    with pytest.raises(RuntimeError, match="4 mails wait"):
        mail_health.outbox_backlog()


# --- a real worker answers the ping -------------------------------------------------


@pytest.fixture
def broker_folders(settings):
    """The embedded broker's folders (`make run` makes them), when it is the broker."""
    for option in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get(option)
        if folder:
            os.makedirs(folder, exist_ok=True)


@pytest.fixture
def celery_worker_process(broker_folders, tmp_path):
    """A real `celery worker` on this test's broker (Redis, or the filesystem one)."""
    celery = ROOT / ".venv" / "bin" / "celery"
    if not celery.exists():
        require_service("celery", f"{celery} is missing")
    log = open(tmp_path / "worker.log", "wb")  # closed below
    process = subprocess.Popen(
        [str(celery), "-A", "helpdesk", "worker", "--pool=solo", "--without-gossip"]
        + ["--without-mingle", "-n", f"health-{uuid.uuid4().hex[:8]}@%h", "-l", "WARNING"],
        cwd=ROOT,
        env={**os.environ, "HELPDESK_TESTING": "true", "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.slow
def test_a_running_worker_answers(transactional_db, client, checks, celery_worker_process):
    checks["worker"] = "helpdesk.health.worker"
    checks["broker"] = "helpdesk.health.broker"
    deadline = time.monotonic() + 60
    while True:
        body = client.get("/health/ready").json()
        if body["checks"]["worker"]["status"] == "ok" or time.monotonic() > deadline:
            break
        assert celery_worker_process.poll() is None, "the worker stopped"
        time.sleep(0.5)
    assert body["checks"]["worker"] == {
        "status": "ok",
        "critical": False,
        "ms": body["checks"]["worker"]["ms"],
        "workers": body["checks"]["worker"]["workers"],
    }
    assert body["checks"]["worker"]["workers"] >= 1
    assert body["checks"]["broker"]["status"] == "ok"
    assert body["status"] == "ok"


def test_the_database_check_leaves_no_timeout_on_the_connection(transactional_db, settings):
    """With a connection pool the next request borrows the check's connection: no leftover limit."""
    from django.db import connection

    from tests.testservers import require_postgresql

    require_postgresql(connection.vendor, "statement_timeout is PostgreSQL's")
    settings.HEALTH_CHECK_TIMEOUT = 2
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]
        assert health.database() == {"vendor": "postgresql"}
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == before
        assert before != "2s"
