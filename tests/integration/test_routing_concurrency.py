"""Routing and taking under real concurrency: threads, each with its own connection.

The PostgreSQL tests are the proof the issue asks for: 20 routing calls at
once never push an expert past capacity, and 10 agents taking one queued
ticket at once produce exactly one winner. They skip on SQLite (they run in
`make test-pg`, and must run there under CI=true). A smaller SQLite version
runs in a child process on an SQLite file, where IMMEDIATE transactions
serialise the same writers.

Each worker thread opens its own database connection, waits on a barrier so
that all start together, and closes its connection at the end.
"""

import datetime
import json
import os
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Absence, AgentProfile, User
from helpdesk.errors import Conflict
from tests.testservers import require_postgresql
from tickets import actions
from tickets.assignment import agent_infos, route_new_ticket
from tickets.models import OPEN_STATUSES, Ticket, TicketEvent

pytestmark = pytest.mark.slow
transactional = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgres(transactional_db):
    """Skip (before any data is built) unless the database is PostgreSQL."""
    require_postgresql(connection.vendor, "routing under concurrency")


def run_parallel(count: int, work) -> list[tuple[str, object]]:
    """Run work(i) in `count` threads started together; return ("ok"|"error", value) each."""
    barrier = threading.Barrier(count)
    results: list[tuple[str, object]] = [("missing", None)] * count

    def runner(i):
        try:
            # Connect before the barrier so that connecting does not stagger the start.
            connection.ensure_connection()
            barrier.wait(timeout=30)
            results[i] = ("ok", work(i))
        except BaseException as exc:  # reported to the main thread
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    return results


def errors(results):
    return [value for state, value in results if state != "ok"]


def expert(email, region, competences, capacity):
    # No password: hashing one per expert would only slow the tests down.
    user = User.objects.create_user(email=email, password=None, full_name=email)
    profile = AgentProfile.objects.create(
        user=user, tier="regional", region=region, capacity=capacity
    )
    profile.competences.set(competences)
    return user


@pytest.fixture
def diplomas_team(cast):
    """Region X's diploma experts with 5 free places in all, plus an absent one.

    expert_x already carries one open ticket of capacity 2 (1 place left),
    a second expert has capacity 4 (4 places); a third with a large capacity
    is absent and must get nothing.
    """
    AgentProfile.objects.filter(user=cast.expert_x).update(capacity=2)
    existing = actions.create_ticket(
        actor=cast.teacher_a,
        institution=cast.school_a,
        competence=cast.diplomas,
        subject="Стара заявка",
        text="Вече разпределена.",
        notify=False,
    )
    assert existing.assignee_id == cast.expert_x.pk
    second = expert("expert.x3@ruo.bg", cast.region_x, [cast.diplomas], capacity=4)
    away = expert("expert.x4@ruo.bg", cast.region_x, [cast.diplomas], capacity=50)
    now = timezone.now()
    Absence.objects.create(
        agent=away.agent_profile,
        starts_at=now - datetime.timedelta(days=1),
        ends_at=now + datetime.timedelta(days=7),
    )
    return {cast.expert_x.pk: 2, second.pk: 4, away.pk: 0}


def unrouted_tickets(cast, count):
    """Create `count` diploma requests of school A without routing them; return their ids."""
    ids = []
    for i in range(count):
        ticket = actions.create_ticket(
            actor=cast.teacher_a,
            institution=cast.school_a,
            competence=cast.diplomas,
            subject=f"Диплома №{i}",
            text="Сканираното изображение на дипломата се отхвърля.",
            route=False,
            notify=False,
        )
        ids.append(ticket.pk)
    return ids


def route_one(ticket_id):
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
        route_new_ticket(ticket, channel="system")
        ticket.save()
        return ticket.assignee_id


def assert_within_capacity(capacities):
    for user_id, capacity in capacities.items():
        load = Ticket.objects.filter(assignee_id=user_id, status__in=OPEN_STATUSES).count()
        assert load == capacity, (user_id, load, capacity)


def assert_routed(ticket_ids, *, assigned, queued, cast):
    tickets = Ticket.objects.filter(pk__in=ticket_ids)
    assert tickets.exclude(assignee=None).count() == assigned
    in_queue = tickets.filter(assignee=None)
    assert in_queue.count() == queued
    assert set(in_queue.values_list("region_id", "competence_id")) <= {
        (cast.region_x.pk, cast.diplomas.pk)
    }
    queue_events = TicketEvent.objects.filter(
        ticket__in=in_queue, kind=TicketEvent.Kind.ROUTED, new_value="competence_queue"
    )
    assert queue_events.count() == queued
    for event in queue_events:
        assert "at capacity" in event.note and "1 absent" in event.note, event.note


# --- PostgreSQL ---------------------------------------------------------------


@transactional
def test_twenty_parallel_routings_never_exceed_capacity(postgres, cast, diplomas_team):
    ticket_ids = unrouted_tickets(cast, 20)

    results = run_parallel(20, lambda i: route_one(ticket_ids[i]))

    assert errors(results) == []
    assert_within_capacity(diplomas_team)
    assert_routed(ticket_ids, assigned=5, queued=15, cast=cast)


@transactional
def test_twenty_parallel_new_requests_never_exceed_capacity(postgres, cast, diplomas_team):
    before = set(Ticket.objects.values_list("pk", flat=True))

    def file_request(i):
        return actions.create_ticket(
            actor=cast.teacher_a,
            institution=cast.school_a,
            competence=cast.diplomas,
            subject=f"Диплома №{i}",
            text="Сканираното изображение на дипломата се отхвърля.",
            notify=False,
        ).pk

    results = run_parallel(20, file_request)

    assert errors(results) == []
    new_ids = set(Ticket.objects.values_list("pk", flat=True)) - before
    assert len(new_ids) == 20
    assert_within_capacity(diplomas_team)
    assert_routed(new_ids, assigned=5, queued=15, cast=cast)


def ten_colleagues(cast):
    return [
        expert(f"taker{i}@ruo.bg", cast.region_x, [cast.diplomas], capacity=10) for i in range(10)
    ]


def queued_ticket(cast):
    ticket = actions.create_ticket(
        actor=cast.teacher_a,
        institution=cast.school_a,
        competence=cast.diplomas,
        subject="Чака в опашката",
        text="Диплома.",
        route=False,
        notify=False,
    )
    assert ticket.assignee_id is None
    return ticket


def take_in_parallel(cast, takers, ticket):
    def take(i):
        # Each agent works from the copy they loaded, as a console page would.
        seen = Ticket.objects.get(pk=ticket.pk)
        try:
            actions.take(ticket=seen, actor=takers[i])
        except Conflict as exc:
            return ("conflict", exc.message)
        return ("won", takers[i].pk)

    results = run_parallel(len(takers), take)
    assert errors(results) == []
    outcomes = [value for _state, value in results]
    winners = [who for kind, who in outcomes if kind == "won"]
    conflicts = [message for kind, message in outcomes if kind == "conflict"]
    return winners, conflicts


@transactional
def test_ten_parallel_takes_have_exactly_one_winner(postgres, cast):
    takers = ten_colleagues(cast)
    ticket = queued_ticket(cast)

    winners, conflicts = take_in_parallel(cast, takers, ticket)

    assert len(winners) == 1
    assert len(conflicts) == 9
    ticket.refresh_from_db()
    assert ticket.assignee_id == winners[0]
    winner = User.objects.get(pk=winners[0])
    assert all(str(winner) in message for message in conflicts)
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ASSIGNED).count() == 1


def second_router_waits(region_id) -> list[str]:
    """Hold the region's experts locked in one thread and route in another.

    Return what went wrong (empty when the second router waited for the
    first transaction to end and then went on).
    """
    holding = threading.Event()
    release = threading.Event()
    second_done = threading.Event()
    problems: list[str] = []

    def holder():
        try:
            with transaction.atomic():
                agent_infos(region_id=region_id, now=timezone.now())
                holding.set()
                release.wait(timeout=30)
        except BaseException as exc:
            problems.append(f"holder: {exc!r}")
        finally:
            holding.set()
            connection.close()

    def second_router():
        try:
            with transaction.atomic():
                agent_infos(region_id=region_id, now=timezone.now())
                second_done.set()
        except BaseException as exc:
            problems.append(f"second router: {exc!r}")
        finally:
            connection.close()

    first = threading.Thread(target=holder, daemon=True)
    second = threading.Thread(target=second_router, daemon=True)
    first.start()
    holding.wait(timeout=30)
    second.start()
    if second_done.wait(timeout=1.0):
        problems.append("the second router read the experts while the first held them")
    release.set()
    if not second_done.wait(timeout=30):
        problems.append("the second router never finished")
    first.join(timeout=30)
    second.join(timeout=30)
    return problems


@transactional
def test_locked_experts_make_a_second_router_wait(postgres, cast):
    """agent_infos(lock=True) holds the experts' rows until the transaction ends."""
    assert second_router_waits(cast.region_x.pk) == []


# --- SQLite ---------------------------------------------------------------------
#
# The test database of an SQLite run lives in memory with a shared cache,
# where a second writer fails at once ("database table is locked") instead of
# waiting. So the SQLite variant runs in a child process on a database file
# with the settings the embedded deployment uses (WAL, IMMEDIATE
# transactions, a 20 s busy timeout), which is what production SQLite sees.


def sqlite_race_main() -> None:
    """Child-process entry: migrate a fresh SQLite file, race, print a JSON summary."""
    import json
    from types import SimpleNamespace

    from django.core.management import call_command

    from accounts.models import Institution, Membership, Role
    from accounts.regions import ensure_regions
    from tickets.catalogue import ensure_competences

    assert connection.vendor == "sqlite" and not connection.is_in_memory_db()
    call_command("migrate", verbosity=0, interactive=False)
    competences = ensure_competences()
    region = ensure_regions()["22"]
    cast = SimpleNamespace(region_x=region, diplomas=competences["diplomas"])
    cast.school_a = Institution.objects.create(code="2206409", name="138 СУ", region=region)
    cast.teacher_a = User.objects.create_user(email="teacher.a@edu.mon.bg", password=None)
    Membership.objects.create(user=cast.teacher_a, institution=cast.school_a, role=Role.TEACHER)
    only = expert("expert.x@ruo.bg", region, [cast.diplomas], capacity=3)

    ticket_ids = unrouted_tickets(cast, 6)
    routing = run_parallel(6, lambda i: route_one(ticket_ids[i]))
    routed = Ticket.objects.filter(pk__in=ticket_ids)
    takers = [expert(f"taker{i}@ruo.bg", region, [cast.diplomas], capacity=10) for i in range(4)]
    winners, conflicts = take_in_parallel(cast, takers, queued_ticket(cast))
    summary = {
        "routing_errors": [repr(e) for e in errors(routing)],
        "assigned": routed.exclude(assignee=None).count(),
        "queued": routed.filter(assignee=None).count(),
        "load": Ticket.objects.filter(assignee=only, status__in=OPEN_STATUSES).count(),
        "winners": len(winners),
        "conflicts": len(conflicts),
        "lock_problems": second_router_waits(region.pk),
    }
    print("SUMMARY " + json.dumps(summary))


def test_sqlite_file_serialises_parallel_routings_and_takes(tmp_path):
    """6 routings for 3 places and 4 takers of one ticket, on an SQLite file."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        HELPDESK_VAR_DIR=str(tmp_path),
        HELPDESK_TESTING="true",
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
    )
    code = (
        "import django; django.setup(); "
        "from tests.integration.test_routing_concurrency import sqlite_race_main; "
        "sqlite_race_main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("SUMMARY "))
    summary = json.loads(line.removeprefix("SUMMARY "))
    assert summary == {
        "routing_errors": [],
        "assigned": 3,
        "queued": 3,
        "load": 3,
        "winners": 1,
        "conflicts": 3,
        "lock_problems": [],
    }
