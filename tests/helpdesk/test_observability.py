"""Request ids, JSON logs and Sentry (helpdesk/observability.py)."""

import gzip
import json
import logging
import os
import re
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from helpdesk.observability import JsonFormatter, RequestIdFilter, request_id_var
from tests.testservers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_a_request_gets_an_id_in_its_answer(client):
    first = client.get("/health/live")["X-Request-ID"]
    second = client.get("/health/live")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_a_sane_id_from_the_caller_is_kept(client):
    response = client.get("/health/live", HTTP_X_REQUEST_ID="lb-7f3a.42:abc")
    assert response["X-Request-ID"] == "lb-7f3a.42:abc"


@pytest.mark.parametrize(
    "hostile", ["", "x" * 129, "a b", "<script>", "id\u0436", "-leading-dash", "a\tb"]
)
def test_an_unusable_id_from_the_caller_is_replaced(client, hostile):
    response = client.get("/health/live", HTTP_X_REQUEST_ID=hostile)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_every_log_record_of_a_request_carries_its_id(db, client, caplog):
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO):
        response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-1234")
    assert response.status_code == 404
    mine = [r for r in caplog.records if r.name in ("django.request", "helpdesk.access")]
    assert {r.name for r in mine} == {"django.request", "helpdesk.access"}
    assert {r.request_id for r in mine} == {"req-1234"}
    access = next(r for r in mine if r.name == "helpdesk.access")
    assert (access.method, access.path, access.status) == ("GET", "/no-such-page/", 404)
    # Outside a request the id is "-".
    assert request_id_var.get() == "-"


def test_a_task_logs_with_its_id_and_leaves_no_id_behind():
    from helpdesk.celery import _forget_task_id, _log_with_task_id

    _log_with_task_id(task_id="abc")
    assert request_id_var.get() == "task-abc"
    _forget_task_id(task_id="abc")
    assert request_id_var.get() == "-"
    # Run eagerly inside a request, a task keeps the request's id.
    token = request_id_var.set("req-9")
    try:
        _log_with_task_id(task_id="def")
        assert request_id_var.get() == "req-9"
        _forget_task_id(task_id="def")
        assert request_id_var.get() == "req-9"
    finally:
        request_id_var.reset(token)


def test_json_formatter_writes_one_object_with_extras_and_traceback():
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.LogRecord(
            "helpdesk.x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info()
        )
    record.status = 500
    record.request = object()  # not plain: left out
    RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line.split('"exception"')[0]
    data = json.loads(line)
    assert data["message"] == "failed here" and data["level"] == "ERROR"
    assert data["logger"] == "helpdesk.x" and data["request_id"] == "-"
    assert data["status"] == 500 and "request" not in data
    assert "ValueError: broken" in data["exception"]


def production_env(tmp_path, **extra):
    cleared = ("HELPDESK_", "SECRET_KEY", "DEBUG", "SENTRY_", "LOG_", "DATABASE_", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(cleared)}
    env.update(
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        HELPDESK_VAR_DIR=str(tmp_path / "var"),
        SECRET_KEY="k" * 20 + "3Xq9-Lm_Zt7" * 4,
        HTTPS="false",
        **extra,
    )
    return env


def test_log_format_json_makes_every_line_json(tmp_path):
    script = (
        "import django, logging; django.setup();"
        "logging.getLogger('helpdesk.probe').warning('hello %s', 'там')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=production_env(tmp_path, LOG_FORMAT="json"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    data = json.loads(line)
    assert (data["logger"], data["message"], data["request_id"]) == (
        "helpdesk.probe",
        "hello там",
        "-",
    )


class SentryCatcher(BaseHTTPRequestHandler):
    """A stand-in for Sentry: keeps the envelopes it is sent."""

    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            # sentry-sdk prefers brotli when the module is installed (locust's
            # HTTP client brings it into the test environment).
            import brotli  # only present, and only needed, when the SDK chose it

            body = brotli.decompress(body)
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_catcher():
    SentryCatcher.received = []
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), SentryCatcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, SentryCatcher.received
    finally:
        server.shutdown()
        server.server_close()


# A view that fails inside a real request: Sentry's Django integration must
# report it, tagged with the request's id.
FAILING_REQUEST = """
import django, sys
django.setup()
import sentry_sdk
from helpdesk import views
def boom(request):
    raise ZeroDivisionError("health boom")
views.health_live = boom
from django.test import Client
response = Client(raise_request_exception=False).get(
    "/health/live", HTTP_HOST="127.0.0.1", HTTP_X_REQUEST_ID="sentry-probe-1")
print(response.status_code, response["X-Request-ID"])
sentry_sdk.flush(10)
"""


def test_errors_reach_sentry_when_a_dsn_is_set(tmp_path, sentry_catcher):
    port, received = sentry_catcher
    result = subprocess.run(
        [sys.executable, "-c", FAILING_REQUEST],
        cwd=ROOT,
        env=production_env(tmp_path, SENTRY_DSN=f"http://publickey@127.0.0.1:{port}/42"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["500", "sentry-probe-1"]
    assert received, "no envelope reached the Sentry stand-in"
    assert {path for path, _ in received} == {"/api/42/envelope/"}
    events = []
    for _, body in received:
        for line in body.splitlines():
            if line.startswith(b"{"):
                item = json.loads(line)
                if item.get("exception"):
                    events.append(item)
    assert events, received
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "ZeroDivisionError"
    assert event["exception"]["values"][-1]["value"] == "health boom"
    assert event["tags"]["request_id"] == "sentry-probe-1"
    # No personal data: no cookies, no user.
    assert "cookies" not in event.get("request", {}) and "user" not in event


def test_without_a_dsn_nothing_is_initialised(tmp_path):
    script = "import django; django.setup(); import sys; print('sentry_sdk' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
