"""The dashboard's counters give exactly the figures counted from the tickets.

After each change through the domain (filing, replying, assigning, moving
between statuses, reopening, merging, changing the competence, breaching the
SLA, deleting), the counters must equal a recount, and every figure the
dashboard reads from them must equal the same figure counted the slow way
(`counters=False`), for every reader the counters serve, at several moments.
"""

import datetime

import pytest
from django.utils import timezone

from console.dashboard import counted, figures, queries
from console.filters import queue_counts
from tickets import actions, counters
from tickets.actions import sla as sla_actions
from tickets.models import DayFigure, Ticket


def _scope(user, region=None, days=30):
    class Request:
        GET = {"region": str(region.pk)} if region is not None else {}

    Request.user = user
    scope = queries.Scope.from_request(Request)
    if days != 30:
        scope.start = scope.end - datetime.timedelta(days=days - 1)
    return scope


def _readers(cast):
    return [
        (cast.admin, None),
        (cast.supervisor_all, None),
        (cast.supervisor_all, cast.region_x),
        (cast.supervisor_all, cast.region_y),
        (cast.supervisor_x, None),
        (cast.expert_x, None),
        (cast.expert_y, None),
    ]


def assert_counters_right():
    assert counters.stored() == counters._nonzero(counters.expected())


def assert_same_figures(cast, moments=None):
    """Every reader the counters serve sees the same figures both ways, at each moment."""
    assert_counters_right()
    base = timezone.now()
    moments = moments or [
        base,
        base + datetime.timedelta(hours=3),
        base + datetime.timedelta(days=2),
        base + datetime.timedelta(days=8),
    ]
    for user, region in _readers(cast):
        for days in (30, 90):
            scope = _scope(user, region, days)
            assert counted.counted_region(scope) is not counted.NOT_COUNTED
            for now in moments:
                assert queries.backlog(scope, now) == queries.backlog(scope, now, counters=False)
                assert queries.sla_attainment(scope, now) == queries.sla_attainment(
                    scope, now, counters=False
                )
                assert figures.sla_weekly(scope, now) == figures.sla_weekly(
                    scope, now, counters=False
                )
            assert queries.per_day(scope) == queries.per_day(scope, counters=False)
            assert queries.agent_load(scope) == queries.agent_load(scope, counters=False)
    # The queue counts of the readers who see every ticket come from the counters too.
    for user in (cast.admin, cast.supervisor_all):
        for now in moments:
            assert queue_counts(user, now) == queue_counts(user, now, counters=False)


@pytest.fixture
def history(cast, make_ticket):
    """Requests filed over the last weeks in two regions, three competences and channels."""
    now = timezone.now()
    made = []
    for index, age in enumerate([0, 0.3, 0.9, 1.1, 2.5, 3.2, 6.9, 7.4, 12, 29.9, 30.2, 45, 80]):
        at = now - datetime.timedelta(days=age)
        if index % 3 == 0:
            ticket = make_ticket(
                actor=cast.teacher_b, institution=cast.school_b, now=at, subject=f"Б {index}"
            )
        elif index % 3 == 1:
            ticket = make_ticket(
                competence=cast.competences["general"], now=at, subject=f"А {index}"
            )
        else:
            ticket = make_ticket(
                channel="email",
                actor=None,
                requester_email=f"someone{index}@example.com",
                institution=None,
                competence=cast.technical,
                now=at,
            )
        made.append(ticket)
    return made


def test_counters_follow_every_change(cast, history):
    assert DayFigure.objects.exists()
    assert_same_figures(cast)
    x_ticket = next(t for t in history if t.region_id == cast.region_x.pk)
    y_ticket = next(t for t in history if t.region_id == cast.region_y.pk)

    # A reply by staff: the first response (a queryset update in add_message).
    actions.add_message(ticket=x_ticket, actor=cast.expert_x, text="Ето отговор")
    assert_same_figures(cast)

    # Assigned, resolved, closed, reopened.
    actions.assign(ticket=y_ticket, actor=cast.expert_y, assignee=cast.expert_y)
    actions.change_status(ticket=y_ticket, actor=cast.expert_y, status="resolved")
    assert_same_figures(cast)
    actions.change_status(ticket=y_ticket, actor=cast.expert_y, status="open")
    assert_same_figures(cast)
    actions.change_status(ticket=y_ticket, actor=cast.expert_y, status="resolved")
    actions.change_status(ticket=y_ticket, actor=cast.expert_y, status="closed")
    assert_same_figures(cast)

    # Waiting on the requester pauses the SLA (no due time), then back.
    actions.change_status(ticket=x_ticket, actor=cast.expert_x, status="waiting")
    assert_same_figures(cast)
    actions.change_status(ticket=x_ticket, actor=cast.expert_x, status="open")
    assert_same_figures(cast)

    # Another competence.
    actions.change_competence(ticket=x_ticket, actor=cast.expert_x, competence=cast.technical)
    assert_same_figures(cast)


def test_counters_after_merge_breach_and_delete(cast, history):
    x_tickets = [t for t in history if t.region_id == cast.region_x.pk]
    source, target = x_tickets[0], x_tickets[1]
    actions.merge(source=source, target=target, actor=cast.expert_x)
    assert Ticket.objects.get(pk=source.pk).merged_into_id == target.pk
    assert_same_figures(cast)

    # The SLA sweep marks breaches (tickets past their due time).
    sla_actions.sweep(now=timezone.now() + datetime.timedelta(days=10))
    assert Ticket.objects.filter(sla_breached=True).exists()
    assert_same_figures(cast)

    Ticket.objects.get(pk=target.pk).delete()
    assert_same_figures(cast)


def test_rebuild_and_reconcile_repair_a_drift(cast, history):
    # A write that bypasses the domain (as the benchmark's SQL generator does).
    Ticket.objects.filter(pk=history[0].pk).update(status="closed", competence=None)
    assert counters.stored() != counters._nonzero(counters.expected())
    assert counters.reconcile() > 0
    assert_same_figures(cast)
    assert counters.reconcile() == 0
    counters.rebuild()
    assert_same_figures(cast)


def test_readers_with_a_mixed_view_are_counted_from_the_tickets(cast, history):
    # Central support sees the central tier, the triage queue and its own: not a region.
    assert counted.counted_region(_scope(cast.central)) is counted.NOT_COUNTED
    # A regional reader never reads another region's counters, whatever the scope says.
    scope = _scope(cast.expert_x)
    scope.region = cast.region_y
    assert counted.counted_region(scope) is counted.NOT_COUNTED
    scope = _scope(cast.supervisor_x)
    scope.region = None
    assert counted.counted_region(scope) is counted.NOT_COUNTED
    # And their figures are still the tickets' figures.
    scope = _scope(cast.central)
    assert queries.backlog(scope) == queries.backlog(scope, counters=False)


def test_an_inactive_reader_gets_nothing_from_the_counters(cast, history):
    cast.supervisor_all.is_active = False
    assert counted.counted_region(_scope(cast.supervisor_all)) is counted.NOT_COUNTED


def test_queue_counts_of_a_national_reader_use_the_ticket_total(
    cast, history, django_assert_max_num_queries
):
    for user in (cast.supervisor_all, cast.admin):
        with django_assert_max_num_queries(3):  # the profile, the open ones, the total
            fast = queue_counts(user)
        assert fast == queue_counts(user, counters=False)
        assert fast["all"] == Ticket.objects.count()
    for user in (cast.expert_x, cast.central, cast.supervisor_x):
        assert queue_counts(user) == queue_counts(user, counters=False)


def test_a_ticket_read_with_deferred_fields_still_counts_right(cast, history):
    ticket = Ticket.objects.only("pk", "competence").get(pk=history[1].pk)
    ticket.competence = cast.technical
    ticket.save()
    assert_counters_right()
    ticket = Ticket.objects.defer("status").get(pk=history[2].pk)
    ticket.status = "closed"
    ticket.save(update_fields=["status"])
    assert_counters_right()
