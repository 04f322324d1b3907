"""The helpdesk on several processes (make run-scaled): what one does, the others see.

Real uvicorn processes and celery workers on the PostgreSQL test database
and Redis (tests/scaling/conftest.py).
"""

import concurrent.futures
import json
import threading
import time
import urllib.error
import urllib.request
import uuid

import psycopg
import pytest
from django.db import connection, connections
from websockets.sync.client import connect as ws_connect

from tests.scaling.conftest import session_cookie
from tests.testservers import require_postgresql
from tickets.models import Ticket, TicketEvent

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _get(url, cookie="", headers=None):
    request = urllib.request.Request(url, headers={"Cookie": cookie, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _post(url, cookie, csrf, data=b""):
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "Cookie": f"{cookie}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _ticket_event(socket, reference, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            break
        if event.get("type") == "ticket" and event.get("reference") == reference:
            return event
    return None


def _ws(url, cookie):
    return ws_connect(
        url.replace("http://", "ws://") + "/ws/live/",
        additional_headers={"Cookie": cookie},
        origin="http://127.0.0.1",
        open_timeout=20,
    )


def test_a_change_through_process_b_reaches_a_websocket_on_process_a(
    processes, processes_env, cast, make_ticket
):
    (_a, url_a), (_b, url_b) = (
        processes.asgi(processes_env, "a"),
        processes.asgi(processes_env, "b"),
    )
    ticket = make_ticket()
    watcher = session_cookie(cast.supervisor_x)
    actor = session_cookie(cast.expert_x)
    csrf = "c" * 32
    with _ws(url_a, watcher) as socket:
        time.sleep(0.5)  # the consumer joins its groups after accepting
        action = "release" if ticket.assignee_id == cast.expert_x.pk else "take"
        status = _post(
            f"{url_b}/console/tickets/{ticket.reference}/{action}/",
            actor,
            csrf,
            b"reason=scaling+test",
        )
        assert status in (200, 302), status
        event = _ticket_event(socket, ticket.reference)
    assert event is not None, "process A's WebSocket heard nothing of process B's change"
    assert event["ticket_id"] == ticket.pk


def test_the_proxy_spreads_requests_and_carries_websockets(processes, processes_env, cast):
    a, url_a = processes.asgi(processes_env, "a", BEHIND_PROXY="true")
    _b, url_b = processes.asgi(processes_env, "b", BEHIND_PROXY="true")
    front = processes.proxy([url_a, url_b])
    for _ in range(6):
        status, headers, body = _get(f"{front}/health/live", headers={"X-Request-ID": "via-proxy"})
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        assert headers["X-Request-ID"] == "via-proxy"
    with _ws(front, session_cookie(cast.expert_x)) as socket:
        socket.send(json.dumps({"action": "ping"}))
    # A client's claim to have come over HTTPS is not passed on.
    status, _headers, _body = _get(f"{front}/health/live", headers={"X-Forwarded-Proto": "https"})
    assert status == 200
    # With one backend gone every request is served by the other.
    a.terminate()
    a.wait(20)
    for _ in range(4):
        assert _get(f"{front}/health/live")[0] == 200


def _backends(app_name):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s",
            [app_name],
        )
        return cursor.fetchone()[0]


def test_300_requests_and_20_websockets_stay_within_the_pool(
    processes, processes_env, cast, make_ticket
):
    pool = 4
    app_name = f"hd-bound-{uuid.uuid4().hex[:6]}"
    db_url = processes_env["DATABASE_URL"] + f"?application_name={app_name}"
    _web, url = processes.asgi(
        processes_env, "web", DATABASE_URL=db_url, DATABASE_POOL_SIZE=str(pool)
    )
    tickets = [make_ticket() for _ in range(5)]
    agent = session_cookie(cast.expert_x)
    teacher = session_cookie(cast.teacher_a)
    pages = [
        ("/console/", agent),
        (f"/console/tickets/{tickets[0].reference}/", agent),
        ("/portal/", teacher),
        ("/kb/", ""),
        ("/health/live", ""),
        ("/kb/search/?q=%D0%B4%D0%B8%D0%BF%D0%BB%D0%BE%D0%BC%D0%B0", ""),
    ]
    peak, stop = [0], threading.Event()
    sampler_connection = psycopg.connect(
        processes_env["DATABASE_URL"].replace("postgres://", "postgresql://"), autocommit=True
    )

    def sample():
        while not stop.is_set():
            row = sampler_connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [app_name]
            ).fetchone()
            peak[0] = max(peak[0], row[0])
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    sockets = []
    try:
        for i in range(20):
            sockets.append(_ws(url, agent if i % 2 else teacher))

        def one(i):
            path, cookie = pages[i % len(pages)]
            return _get(url + path, cookie)[0]

        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool_threads:
            statuses = list(pool_threads.map(one, range(300)))
        for socket in sockets:
            socket.send(json.dumps({"action": "ping"}))
    finally:
        for socket in sockets:
            socket.close()
        stop.set()
        sampler.join(5)
        sampler_connection.close()
    assert statuses.count(200) == 300, {code: statuses.count(code) for code in set(statuses)}
    assert len(sockets) == 20
    assert 1 <= peak[0] <= pool, f"{peak[0]} connections open, pool of {pool}"


# --- two workers on the same rows ----------------------------------------------------


def _race(function, *args, threads=2):
    """Run `function(*args)` in `threads` threads at once, each with its own connection."""
    barrier = threading.Barrier(threads)

    def run():
        barrier.wait()
        try:
            return function(*args)
        finally:
            connections.close_all()

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        return [f.result(timeout=120) for f in [pool.submit(run) for _ in range(threads)]]


def test_two_workers_never_send_one_outbox_row_twice(
    transactional_db, cast, make_ticket, mailoutbox
):
    require_postgresql(connection.vendor, "Two senders racing for the same outbox rows")
    from mailbridge import outbound
    from tickets.models import OutboundMail

    for _ in range(10):
        make_ticket()
    rows = OutboundMail.objects.all()
    # As if their tasks were lost: pending again, nobody sent them.
    rows.update(state=OutboundMail.State.PENDING, sent_at=None, locked_until=None)
    mailoutbox.clear()
    ids = list(rows.values_list("pk", flat=True))
    assert len(ids) >= 10
    _race(outbound.deliver, ids, threads=3)
    import datetime

    _race(lambda: outbound.deliver_pending(older_than=datetime.timedelta(0)), threads=2)
    sent = [m.extra_headers["Message-ID"] for m in mailoutbox]
    assert sorted(sent) == sorted(set(sent)) and len(sent) == len(ids)
    assert set(rows.values_list("state", flat=True)) == {OutboundMail.State.SENT}


def test_two_sweeps_never_apply_one_breach_twice(transactional_db, cast, make_ticket, now):
    require_postgresql(connection.vendor, "Two sweeps racing for the same tickets")
    import datetime

    from tickets.actions import sla as sla_actions

    made = [make_ticket() for _ in range(12)]
    past = now - datetime.timedelta(hours=1)
    Ticket.objects.filter(pk__in=[t.pk for t in made]).update(
        first_response_due=past, resolution_due=past
    )
    results = _race(sla_actions.sweep, threads=3)
    assert sum(r["breached"] for r in results) == 12
    events = TicketEvent.objects.filter(
        ticket__in=made, kind=TicketEvent.Kind.SLA, new_value="breached"
    )
    assert events.count() == 12
    assert _race(sla_actions.mark_breach, made[0].pk, now) == [False, False]


def test_a_worker_killed_mid_task_leaves_nothing_half_done(
    processes, processes_env, cast, make_ticket, now
):
    """SIGKILL while the sweep's transaction has marked a breach but not yet written history."""
    import datetime
    import signal

    from helpdesk.celery import app
    from tickets.actions import sla as sla_actions
    from tickets.models import OutboundMail

    ticket = make_ticket()
    past = now - datetime.timedelta(hours=1)
    Ticket.objects.filter(pk=ticket.pk).update(first_response_due=past, resolution_due=past)
    queue = f"kill-{uuid.uuid4().hex[:8]}"
    worker = processes.worker(processes_env, "victim", queue)
    events_table = TicketEvent._meta.db_table
    dsn = processes_env["DATABASE_URL"].replace("postgres://", "postgresql://")
    blocker = psycopg.connect(dsn, autocommit=False)
    # pg_stat_activity is read from a connection outside the lock's
    # transaction (inside one it would be a snapshot).
    watcher = psycopg.connect(dsn, autocommit=True)
    try:
        # The sweep's INSERT of the history line waits behind this lock,
        # after it has set sla_breached in the same transaction.
        blocker.execute(f'LOCK TABLE "{events_table}" IN SHARE MODE')
        app.send_task("tickets.tasks.sla_sweep", queue=queue)
        deadline, waiting = time.monotonic() + 90, None
        while time.monotonic() < deadline and waiting is None:
            assert worker.poll() is None, processes.log(worker)
            waiting = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE %s",
                [f'%INSERT INTO "{events_table}"%'],
            ).fetchone()
            time.sleep(0.1)
        assert waiting is not None, "the worker never reached the history insert"
        worker.send_signal(signal.SIGKILL)
        worker.wait(20)
    finally:
        blocker.rollback()
    # PostgreSQL ends the dead worker's session and rolls its transaction back.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        gone = not watcher.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [waiting[0]]
        ).fetchone()
        if gone:
            break
        time.sleep(0.1)
    blocker.close()
    watcher.close()
    assert gone, "the killed worker's session is still open"
    ticket.refresh_from_db()
    assert ticket.sla_breached is False
    assert not TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.SLA).exists()
    assert not OutboundMail.objects.filter(ticket=ticket, kind="sla_breach").exists()
    # The next sweep (beat runs one a minute) does the whole thing, once.
    sla_actions.sweep()
    sla_actions.sweep()
    ticket.refresh_from_db()
    assert ticket.sla_breached is True
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.SLA).count() == 1
