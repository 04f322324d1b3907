"""Webhooks: written with the change, signed, retried with back-off, delivered exactly once.

A real HTTP receiver on 127.0.0.1 (http.server in a thread) checks each
signature as a subscriber would (with the few lines from docs/api.md).
"""

import datetime
import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from api import webhooks
from api.models import WebhookDelivery, WebhookSubscription
from tickets import actions

pytestmark = pytest.mark.django_db

ALL_EVENTS = ["ticket.created", "ticket.updated", "ticket.resolved", "message.added"]


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check, as docs/api.md shows it."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp, signature = int(parts["t"]), parts["v1"]
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), signature)


class Receiver:
    """An HTTP server on loopback that fails the first `fail` posts, then accepts."""

    def __init__(self, secret: str, fail: int = 0):
        self.secret, self.fail = secret, fail
        self.accepted: list[dict] = []
        self.attempts = 0
        self.bad_signatures = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if not verify(receiver.secret, self.headers["X-Helpdesk-Signature"], body):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                elif receiver.attempts <= receiver.fail:
                    self.send_response(503)
                else:
                    event = json.loads(body)
                    assert event["id"] == self.headers["X-Helpdesk-Delivery"]
                    receiver.accepted.append(event)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def subscribe(url, *, events=ALL_EVENTS, **scope):
    return WebhookSubscription.objects.create(name="e-дневник", url=url, events=events, **scope)


def test_a_new_request_reaches_the_receiver_signed(
    cast, make_ticket, django_capture_on_commit_callbacks
):
    with Receiver("") as receiver:
        subscription = subscribe(receiver.url, region=cast.region_x)
        receiver.secret = subscription.secret
        with django_capture_on_commit_callbacks(execute=True):
            ticket = make_ticket()
        assert receiver.bad_signatures == 0
        [event] = receiver.accepted
    assert event["event"] == "ticket.created"
    assert event["ticket"]["reference"] == ticket.reference
    assert event["ticket"]["institution"] == "2206409"
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "sent" and delivery.attempts == 1 and delivery.last_status == 204


def test_deliveries_are_written_in_the_changes_transaction(cast, make_ticket):
    subscribe("http://127.0.0.1:9/never", region=cast.region_x)
    with pytest.raises(RuntimeError), transaction.atomic():
        make_ticket()
        assert WebhookDelivery.objects.count() == 1  # written with the change ...
        raise RuntimeError("the change fails")
    assert WebhookDelivery.objects.count() == 0  # ... and gone with it


def test_only_matching_subscriptions_and_events(cast, make_ticket):
    region_x = subscribe("http://127.0.0.1:9/x", region=cast.region_x)
    school_b = subscribe("http://127.0.0.1:9/b", institution=cast.school_b)
    resolved_only = subscribe("http://127.0.0.1:9/all", events=["ticket.resolved"])
    ticket = make_ticket()
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Бележка", kind="internal")
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Отговор")
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved")
    events = list(
        WebhookDelivery.objects.filter(subscription=region_x)
        .order_by("id")
        .values_list("event", flat=True)
    )
    # The internal note is never sent; the first staff reply opens the request.
    assert events == [
        "ticket.created",
        "ticket.updated",
        "message.added",
        "ticket.resolved",
    ]
    assert not WebhookDelivery.objects.filter(subscription=school_b).exists()
    assert list(
        WebhookDelivery.objects.filter(subscription=resolved_only).values_list("event", flat=True)
    ) == ["ticket.resolved"]
    message = json.loads(
        WebhookDelivery.objects.get(subscription=region_x, event="message.added").body
    )["message"]
    assert message["body_text"] == "Отговор"


def test_a_receiver_that_fails_three_times_gets_the_event_exactly_once(cast, make_ticket):
    with Receiver("", fail=3) as receiver:
        subscription = subscribe(receiver.url, region=cast.region_x)
        receiver.secret = subscription.secret
        make_ticket()
        delivery = WebhookDelivery.objects.get()
        waits = []
        for _ in range(6):
            now = timezone.now()
            webhooks.deliver_pending(now=now)
            delivery.refresh_from_db()
            if delivery.state == "sent":
                break
            waits.append(delivery.next_attempt_at - delivery.last_attempt_at)
            # Time passes until the next attempt is due.
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now)
        # A late retry of the task and another sweep find nothing to send.
        webhooks.deliver([delivery.pk])
        webhooks.deliver_pending(now=timezone.now() + datetime.timedelta(hours=2))
    assert receiver.attempts == 4
    assert len(receiver.accepted) == 1
    assert delivery.state == "sent" and delivery.attempts == 4
    assert [round(w.total_seconds()) for w in waits] == [30, 60, 120]
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0


def test_a_claimed_delivery_is_not_sent_twice(cast, make_ticket):
    subscribe("http://127.0.0.1:9/x", region=cast.region_x)
    make_ticket()
    delivery = WebhookDelivery.objects.get()
    now = timezone.now()
    assert webhooks.claim(delivery, now)
    # Another worker (a retry, the sweep) finds the lease taken.
    assert not webhooks.claim(delivery, now)
    assert not webhooks.send(delivery)
    # A worker killed mid-delivery: the lease runs out and the sweep sends it.
    assert webhooks.claim(delivery, now + webhooks.SEND_LEASE + datetime.timedelta(seconds=1))


def test_given_up_after_a_day_and_resent_from_the_admin(cast, make_ticket, client):
    subscription = subscribe("http://127.0.0.1:9/x", region=cast.region_x)
    make_ticket()
    later = timezone.now() + datetime.timedelta(days=1, minutes=1)
    assert webhooks.deliver_pending(now=later)["gave_up"] == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed"
    client.force_login(cast.admin)
    page = client.get("/admin/api/webhookdelivery/")
    assert page.status_code == 200 and delivery.ticket_reference in page.content.decode()
    client.post(
        "/admin/api/webhookdelivery/",
        {"action": "resend", "_selected_action": [delivery.pk]},
    )
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.give_up_at > timezone.now()
    assert subscription.deliveries.count() == 1


def test_a_failing_subscription_is_paused_and_the_administrators_told(cast, make_ticket):
    subscription = subscribe(
        "http://127.0.0.1:9/down", region=cast.region_x, contact_email="ops@vendor.example"
    )
    for _ in range(webhooks.PAUSE_AFTER):
        make_ticket()
    webhooks.deliver_pending()
    subscription.refresh_from_db()
    assert subscription.paused_at is not None
    assert subscription.consecutive_failures == webhooks.PAUSE_AFTER
    [notice] = mail.outbox
    assert set(notice.to) == {"ops@vendor.example", cast.admin.email}
    # Paused: nothing more is tried, but events are still kept for when it resumes.
    make_ticket()
    assert webhooks.deliver_pending() == {"sent": 0, "failed": 0, "gave_up": 0}
    assert subscription.deliveries.filter(state="pending").count() == webhooks.PAUSE_AFTER + 1


def test_the_beat_task_sweeps_and_forgets_old_idempotency_keys(cast):
    from api.models import IdempotencyKey
    from api.tasks import deliver_pending_webhooks

    IdempotencyKey.objects.create(
        user=cast.teacher_a,
        key="old",
        fingerprint="x",
        status_code=201,
        body={},
        created_at=timezone.now() - datetime.timedelta(days=2),
    )
    result = deliver_pending_webhooks()
    assert result == {"sent": 0, "failed": 0, "gave_up": 0, "idempotency_keys_forgotten": 1}
