"""What needs real processes and concurrent transactions (PostgreSQL only).

- Two identical POSTs with one Idempotency-Key at the same moment file once.
- A worker killed with SIGKILL in the middle of posting a webhook loses
  nothing: once its lease runs out, the sweep posts the same event again.
"""

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from api import webhooks
from api.models import ApiToken, WebhookDelivery, WebhookSubscription
from tests.api.conftest import V1, TokenClient
from tests.testservers import require_postgresql
from tickets.models import Ticket

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgresql():
    require_postgresql(connection.vendor, "idempotency and delivery under concurrency")


def test_two_identical_posts_at_once_file_one_request(cast):
    _token, secret = ApiToken.issue(user=cast.teacher_a, name="race")
    both = threading.Barrier(2, timeout=20)
    answers = []
    body = {"subject": "Едновременно", "text": "Два опита.", "institution": "2206409"}

    def post():
        try:
            client = TokenClient(secret)
            both.wait()
            response = client.post(
                f"{V1}/tickets/", body, "application/json", HTTP_IDEMPOTENCY_KEY="same"
            )
            answers.append((response.status_code, response.json()["reference"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [status for status, _ref in answers] == [201, 201]
    assert answers[0][1] == answers[1][1]
    assert Ticket.objects.count() == 1


class HangingReceiver:
    """Hangs on the first post (the worker is killed meanwhile), accepts the next ones."""

    def __init__(self):
        self.seen: list[str] = []
        self.accepted: list[str] = []
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event_id = json.loads(body)["id"]
                receiver.seen.append(event_id)
                if len(receiver.seen) == 1:
                    receiver.first_arrived.set()
                    receiver.release.wait(30)
                    return  # the sender is gone; nobody reads an answer
                receiver.accepted.append(event_id)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


@pytest.mark.slow
def test_a_worker_killed_mid_delivery_loses_nothing(cast, make_ticket, monkeypatch):
    # The delivery goes to the worker process below, not to an eager task in this one.
    monkeypatch.setattr(webhooks, "schedule", lambda ids: None)
    with HangingReceiver() as receiver:
        port = receiver.server.server_port
        WebhookSubscription.objects.create(
            name="killed", url=f"http://127.0.0.1:{port}/hook", events=["ticket.created"]
        )
        make_ticket()
        delivery = WebhookDelivery.objects.get()
        env = {**os.environ, "DATABASE_URL": database_url(), "HELPDESK_TESTING": "true"}
        code = (
            "import django; django.setup(); from api import webhooks; "
            f"webhooks.deliver([{delivery.pk}])"
        )
        worker = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"},
        )
        try:
            assert receiver.first_arrived.wait(60), "the worker never posted"
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
        receiver.release.set()
        delivery.refresh_from_db()
        assert delivery.state == "pending" and delivery.locked_until is not None
        # While the dead worker's lease runs, nobody else posts the event ...
        assert webhooks.deliver_pending() == {"sent": 0, "failed": 0, "gave_up": 0}
        # ... after it, the sweep does, with the same event id.
        later = timezone.now() + webhooks.SEND_LEASE + webhooks.FIRST_RETRY
        assert webhooks.deliver_pending(now=later)["sent"] == 1
        time.sleep(0.1)
    delivery.refresh_from_db()
    assert delivery.state == "sent"
    assert receiver.accepted == [str(delivery.event_id)] == receiver.seen[1:]
