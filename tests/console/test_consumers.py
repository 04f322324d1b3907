"""WebSocket permissions: an event reaches exactly the people visible_to() lets see it.

Runs with the in-memory channel layer, and with Redis when REDIS_URL is set
(the layer then gets a prefix of its own, so parallel test runs on the same
Redis never hear each other).
"""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from tests.aio import run_coroutine
from tests.console.channel_layer import private_redis_layer
from tickets import actions

pytestmark = pytest.mark.django_db(transaction=True)

QUIET = 0.4  # seconds to listen for what must not arrive


@pytest.fixture(autouse=True)
def _own_channel_layer(settings):
    private_redis_layer(settings)


@pytest.fixture(autouse=True)
def _short_lived_connections():
    # The consumers query from worker threads; with the usual CONN_MAX_AGE
    # their connections would outlive the test and block dropping the test
    # database on PostgreSQL.
    from django import db

    database = db.connections.settings["default"]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    yield
    database["CONN_MAX_AGE"] = max_age


def run_async(function):
    """Run the coroutine function `function` to its end (tests.aio.run_coroutine)."""
    return run_coroutine(function())


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def _connect(user):
    from helpdesk.asgi import application

    cookie = await database_sync_to_async(_session_cookie)(user)
    communicator = WebsocketCommunicator(
        application,
        "/ws/live/",
        headers=[(b"origin", b"http://127.0.0.1"), (b"cookie", cookie.encode())],
    )
    connected, _code = await communicator.connect(timeout=5)
    assert connected, user
    return communicator


async def _receive_ticket(communicator, reference, change=None, timeout=5):
    """Return the next "ticket" event about `reference` (and `change`), skipping others."""
    while True:
        event = await communicator.receive_json_from(timeout=timeout)
        if event.get("type") != "ticket" or event.get("reference") != reference:
            continue
        if change is None or event.get("change") == change:
            return event


async def _receive_presence(communicator, timeout=5):
    """Return the next presence event, skipping ticket events still on their way."""
    while True:
        event = await communicator.receive_json_from(timeout=timeout)
        if event.get("type") != "ticket":
            return event


async def _drain(*communicators):
    """Throw away whatever already arrived."""
    for communicator in communicators:
        while not await communicator.receive_nothing(timeout=QUIET):
            await communicator.receive_output()


async def _nothing(*communicators):
    for communicator in communicators:
        assert await communicator.receive_nothing(timeout=QUIET), communicator


def test_anonymous_connection_is_refused(cast):
    async def run():
        from helpdesk.asgi import application

        communicator = WebsocketCommunicator(
            application, "/ws/live/", headers=[(b"origin", b"http://127.0.0.1")]
        )
        connected, _code = await communicator.connect(timeout=5)
        assert not connected
        await communicator.disconnect()

    run_async(run)


def test_new_ticket_reaches_exactly_those_who_may_see_it(cast, make_ticket):
    async def run():
        may = {
            "expert_x": await _connect(cast.expert_x),
            "supervisor_x": await _connect(cast.supervisor_x),
            "supervisor_all": await _connect(cast.supervisor_all),
            "director_a": await _connect(cast.director_a),
            "requester": await _connect(cast.teacher_a),
        }
        may_not = {
            "expert_y": await _connect(cast.expert_y),
            "teacher_b": await _connect(cast.teacher_b),
            "colleague": await _connect(cast.teacher_a_colleague),
            "central": await _connect(cast.central),
        }
        ticket = await database_sync_to_async(make_ticket)()
        for name, communicator in may.items():
            event = await _receive_ticket(communicator, ticket.reference)
            assert event["change"] == "created", name
            assert event["ticket_id"] == ticket.pk
        await _nothing(*may_not.values())

        # A watch on a ticket one may not see is refused and changes nothing.
        for communicator in (may_not["expert_y"], may_not["teacher_b"]):
            await communicator.send_json_to({"action": "watch", "ticket_id": ticket.pk})
            answer = await communicator.receive_json_from(timeout=5)
            assert answer == {"type": "error", "error": "not_found", "ticket_id": ticket.pk}
        await database_sync_to_async(actions.add_message)(
            ticket=ticket, actor=cast.expert_x, text="Отговор", channel="console"
        )
        event = await _receive_ticket(may["requester"], ticket.reference, "message")
        assert event["message_id"]
        # The ticket's last message id counts internal notes: never sent to requesters.
        assert "last_message_id" not in event
        staff_event = await _receive_ticket(may["expert_x"], ticket.reference, "message")
        assert staff_event["last_message_id"] == staff_event["message_id"]
        await _nothing(*may_not.values())

        # An internal note is news for the staff, not for the requester.
        await _drain(*may.values())
        await database_sync_to_async(actions.add_message)(
            ticket=ticket, actor=cast.expert_x, text="Бележка", kind="internal"
        )
        await _receive_ticket(may["expert_x"], ticket.reference, "message")
        await _nothing(may["requester"], may["director_a"], *may_not.values())
        for communicator in [*may.values(), *may_not.values()]:
            await communicator.disconnect()

    run_async(run)


def test_escalation_moves_the_audience(cast, make_ticket):
    async def run():
        central = await _connect(cast.central)
        expert_y = await _connect(cast.expert_y)
        ticket = await database_sync_to_async(make_ticket)()
        await _nothing(central, expert_y)
        await database_sync_to_async(actions.escalate)(
            ticket=ticket, actor=cast.expert_x, tier="central", reason="Грешка в модула"
        )
        await _receive_ticket(central, ticket.reference, "escalated")
        await _nothing(expert_y)
        await central.disconnect()
        await expert_y.disconnect()

    run_async(run)


def test_presence_between_two_agents_and_not_to_others(cast, make_ticket):
    async def run():
        ticket = await database_sync_to_async(make_ticket)()
        first = await _connect(cast.expert_x)
        second = await _connect(cast.supervisor_x)
        requester = await _connect(cast.teacher_a)
        await requester.send_json_to({"action": "watch", "ticket_id": ticket.pk})
        await first.send_json_to({"action": "watch", "ticket_id": ticket.pk})
        await second.send_json_to({"action": "watch", "ticket_id": ticket.pk})
        seen_by_first = await _receive_presence(first)
        assert seen_by_first["type"] == "presence"
        assert (seen_by_first["user_id"], seen_by_first["state"]) == (
            cast.supervisor_x.pk,
            "viewing",
        )
        seen_by_second = await _receive_presence(second)
        assert seen_by_second["type"] == "presence"
        assert (seen_by_second["user_id"], seen_by_second["state"]) == (cast.expert_x.pk, "viewing")
        await first.disconnect()
        # A "viewing" may come twice (announcement and echo cross); the page
        # keeps a set of viewers, so only the order matters.
        left = await _receive_presence(second)
        while left["state"] == "viewing":
            left = await _receive_presence(second)
        assert (left["user_id"], left["state"]) == (cast.expert_x.pk, "left")
        # The requester watching the same ticket learns nothing about the staff.
        while not await requester.receive_nothing(timeout=QUIET):
            assert (await requester.receive_json_from())["type"] == "ticket"
        # Another region's expert cannot join the ticket's presence.
        other = await _connect(cast.expert_y)
        await other.send_json_to({"action": "watch", "ticket_id": ticket.pk})
        assert (await _receive_presence(other))["type"] == "error"
        await _nothing(second)
        await second.disconnect()
        await requester.disconnect()
        await other.disconnect()

    run_async(run)


def test_a_bad_frame_gets_an_error_and_the_socket_stays(cast, make_ticket):
    ticket = make_ticket()

    async def scenario():
        expert = await _connect(cast.expert_x)
        for frame in ("not json", "[1, 2]", '"text"', "{" * 5000, '{"action": "watch"'):
            await expert.send_to(text_data=frame)
            assert await expert.receive_json_from(timeout=5) == {
                "type": "error",
                "error": "bad_frame",
            }
        await expert.send_to(bytes_data=b"\x00\x01")
        assert (await expert.receive_json_from(timeout=5))["error"] == "bad_frame"
        # Ids beyond 64 bits, negative, or not numbers are no ticket at all.
        for ticket_id in (2**70, -1, True, "1"):
            await expert.send_json_to({"action": "watch", "ticket_id": ticket_id})
        assert await expert.receive_nothing(timeout=QUIET)
        # Still alive and useful.
        await expert.send_json_to({"action": "ping"})
        assert (await expert.receive_json_from(timeout=5))["type"] == "pong"
        await expert.send_json_to({"action": "watch", "ticket_id": ticket.pk})
        await expert.disconnect()

    run_async(scenario)


def test_one_socket_cannot_watch_without_limit(cast, make_ticket):
    from console.consumers import WATCHES_PER_MINUTE

    ticket = make_ticket()

    async def scenario():
        expert = await _connect(cast.expert_x)
        errors = 0
        for _ in range(WATCHES_PER_MINUTE + 5):
            await expert.send_json_to({"action": "watch", "ticket_id": 10**12})
            event = await expert.receive_json_from(timeout=5)
            errors += event["error"] == "too_many_watches"
        assert errors == 5
        await expert.send_json_to({"action": "ping"})
        assert (await expert.receive_json_from(timeout=5))["type"] == "pong"
        await expert.disconnect()

    run_async(scenario)
    assert ticket.pk


def test_a_surge_alert_reaches_the_supervisors_concerned_only(cast, now):
    from tickets.models import SurgeAlert
    from tickets.signals import surge_alerted

    alert = SurgeAlert.objects.create(
        terms="вход профил", label="вход", region_ids=[cast.region_x.pk], first_at=now, last_at=now
    )

    async def scenario():
        supervisor = await _connect(cast.supervisor_x)
        expert = await _connect(cast.expert_x)
        other = await _connect(cast.expert_y)
        await database_sync_to_async(surge_alerted.send)(sender=SurgeAlert, alert_id=alert.pk)
        event = await supervisor.receive_json_from(timeout=5)
        assert event == {"type": "surge", "alert_id": alert.pk}
        assert await expert.receive_nothing(timeout=QUIET)
        assert await other.receive_nothing(timeout=QUIET)
        for communicator in (supervisor, expert, other):
            await communicator.disconnect()

    run_async(scenario)
