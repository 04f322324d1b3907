"""tickets/candidates.py: the hand-composed candidate read gives what the ORM would read."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext

from accounts.models import Absence, AgentProfile
from tickets import candidates
from tickets.assignment import agent_infos
from tickets.models import OPEN_STATUSES, AgentSettings, Ticket

pytestmark = pytest.mark.django_db


def _orm_profiles(region_id):
    """The same candidates read the plain ORM way, for comparison."""
    scope = Q(tier="central") | Q(tier="regional", region_id=region_id)
    return {
        p.user_id: p
        for p in AgentProfile.objects.filter(scope, kind="expert", user__is_active=True)
        .select_related("user", "region")
        .prefetch_related("competences")
    }


def test_rows_hold_the_same_people_loads_and_settings_as_the_orm(cast, make_ticket, now):
    make_ticket()
    make_ticket()
    AgentSettings.objects.create(user=cast.expert_x, assigned_mail=True, signature_bg="Поздрави")
    AgentProfile.objects.filter(user=cast.expert_x2).update(last_assigned_at=now)
    Absence.objects.create(
        agent=cast.central.agent_profile,
        starts_at=now - datetime.timedelta(minutes=5),
        ends_at=now + datetime.timedelta(minutes=5),
    )
    with transaction.atomic():
        rows = candidates.read(
            region_id=cast.region_x.pk, now=now, lock=True, previous_of=None, window_start=None
        )
    expected = _orm_profiles(cast.region_x.pk)
    assert sorted(r.user.pk for r in rows) == sorted(expected)
    loads = dict(
        Ticket.objects.filter(status__in=OPEN_STATUSES)
        .values_list("assignee_id")
        .annotate(n=Count("pk"))
    )
    User = get_user_model()
    for row in rows:
        profile = expected[row.user.pk]
        fresh = User.objects.get(pk=row.user.pk)
        for field in User._meta.concrete_fields:
            got, want = getattr(row.user, field.attname), getattr(fresh, field.attname)
            assert got == want and type(got) is type(want), field.name
        assert row.user._state.adding is False and row.user._state.db == "default"
        assert (row.tier, row.capacity) == (profile.tier, profile.capacity)
        assert row.last_assigned_at == profile.last_assigned_at
        assert row.region_code == (profile.region.code if profile.region_id else None)
        assert candidates_codes(row) == {c.code for c in profile.competences.all()}
        assert row.open_load == loads.get(row.user.pk, 0)
        assert row.is_absent is (row.user.pk == cast.central.pk)
        assert row.previous_assignee is None
    by_id = {r.user.pk: r for r in rows}
    assert isinstance(by_id[cast.expert_x2.pk].last_assigned_at, datetime.datetime)
    assert by_id[cast.expert_x2.pk].last_assigned_at == now
    # Settings come cached (or cached as missing): telling them reads nothing.
    with CaptureQueriesContext(connection) as queries:
        settings = by_id[cast.expert_x.pk].user.agent_settings
        assert (settings.assigned_mail, settings.signature_bg) == (True, "Поздрави")
        assert settings.user is by_id[cast.expert_x.pk].user
        with pytest.raises(AgentSettings.DoesNotExist):
            _ = by_id[cast.expert_x2.pk].user.agent_settings
    assert queries.captured_queries == []


def candidates_codes(row):
    from tickets.assignment import _codes

    return set(_codes(row.competence_codes))


def test_without_a_region_only_central_support_is_read(cast, now):
    rows = candidates.read(region_id=None, now=now, lock=False, previous_of=None, window_start=None)
    assert [r.user.pk for r in rows] == [cast.central.pk]


def test_inactive_people_and_supervisors_are_not_candidates(cast, now):
    get_user_model().objects.filter(pk=cast.expert_x2.pk).update(is_active=False)
    AgentProfile.objects.filter(user=cast.central).update(kind="supervisor")
    rows = candidates.read(
        region_id=cast.region_x.pk, now=now, lock=False, previous_of=None, window_start=None
    )
    assert [r.user.pk for r in rows] == [cast.expert_x.pk]


def test_the_follow_up_expert_by_account_by_address_and_not_the_ticket_itself(
    cast, make_ticket, now
):
    earlier = make_ticket()
    window = now - datetime.timedelta(days=30)
    # By account: a new ticket (no id yet) of the same requester.
    _agents, previous = agent_infos(
        region_id=cast.region_x.pk,
        now=now,
        lock=False,
        previous_of=Ticket(requester=cast.teacher_a),
    )
    assert previous == earlier.assignee_id is not None
    # The ticket itself is not its own earlier request (an existing ticket handed over).
    rows = candidates.read(
        region_id=cast.region_x.pk,
        now=now,
        lock=False,
        previous_of=earlier,
        window_start=window,
    )
    assert {r.previous_assignee for r in rows} == {None}
    # By address: a sender without an account.
    Ticket.objects.filter(pk=earlier.pk).update(
        requester=None, requester_email="someone@example.bg"
    )
    rows = candidates.read(
        region_id=cast.region_x.pk,
        now=now,
        lock=False,
        previous_of=Ticket(requester_email="someone@example.bg"),
        window_start=window,
    )
    assert {r.previous_assignee for r in rows} == {earlier.assignee_id}
    # Outside the window: nobody.
    rows = candidates.read(
        region_id=cast.region_x.pk,
        now=now,
        lock=False,
        previous_of=Ticket(requester_email="someone@example.bg"),
        window_start=now + datetime.timedelta(seconds=1),
    )
    assert {r.previous_assignee for r in rows} == {None}


def test_each_shape_is_composed_once(cast, now):
    from helpdesk import rowsql

    rowsql._composed.clear()
    for _ in range(3):
        candidates.read(
            region_id=cast.region_x.pk, now=now, lock=False, previous_of=None, window_start=None
        )
        candidates.read(region_id=None, now=now, lock=False, previous_of=None, window_start=None)
    shapes = [key for key in rowsql._composed if key[0] is candidates._Shape]
    assert len(shapes) == 2
