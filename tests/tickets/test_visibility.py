"""Ticket.objects.visible_to(): who sees which request, and above all who does not.

A fixed set of tickets spans two institutions of region X (school A, school A2),
one of region Y (school B), the central tier and the triage queue. Every case
compares the visible set with the exact expected set, so a ticket that leaks to
the wrong person fails the test as surely as one that goes missing.
"""

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.models import Delegation, Membership, Role, User
from accounts.services import revoke_delegation
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


# name -> what the ticket is (see the `tickets` fixture)
SCHOOL_A = {"a_teacher", "a_colleague", "a_director", "a_secretary", "a_central"}
REGION_X = SCHOOL_A | {"a2_console"}
REGION_Y = {"b_teacher", "b_director_central", "b_assigned_central"}
TRIAGE = {"triage"}
ALL = REGION_X | REGION_Y | TRIAGE


@pytest.fixture
def tickets(cast, make_ticket):
    c = cast
    t = {
        "a_teacher": make_ticket(actor=c.teacher_a),
        "a_colleague": make_ticket(actor=c.teacher_a_colleague, competence=c.competences["login"]),
        "a_director": make_ticket(actor=c.director_a, competence=c.competences["general"]),
        "a_secretary": make_ticket(actor=c.secretary_a, competence=c.competences["general"]),
        # A technical fault of school A: central tier, still region X.
        "a_central": make_ticket(actor=c.teacher_a, competence=c.technical),
        # Filed by an expert on the phone for school A2 (region X): no requester.
        "a2_console": make_ticket(actor=c.expert_x, channel="console", institution=c.school_a2),
        "b_teacher": make_ticket(actor=c.teacher_b, institution=c.school_b),
        "b_director_central": make_ticket(
            actor=c.director_b, institution=c.school_b, competence=c.technical
        ),
        "b_assigned_central": make_ticket(
            actor=c.teacher_b, institution=c.school_b, competence=c.competences["general"]
        ),
        # An e-mail from an unknown sender about nothing recognisable: triage.
        "triage": make_ticket(
            actor=None,
            channel="email",
            institution=None,
            competence=None,
            requester_email="someone@abv.bg",
            subject="Здравейте",
            text="Имам въпрос.",
        ),
    }
    # A regional ticket of region Y handed to central support personally.
    Ticket.objects.filter(pk=t["b_assigned_central"].pk).update(assignee=c.central)
    return t


def visible_names(user, tickets, at=None):
    ids = set(Ticket.objects.visible_to(user, at=at).values_list("pk", flat=True))
    return {name for name, ticket in tickets.items() if ticket.pk in ids}


def fresh(user):
    # permissions memoise rights on the user object for one request; a new
    # request means a new object.
    return User.objects.get(pk=user.pk)


def test_the_ticket_set_is_what_the_cases_assume(cast, tickets):
    t = tickets
    assert {n for n, x in t.items() if x.region_id == cast.region_x.pk} == REGION_X
    assert {n for n, x in t.items() if x.region_id == cast.region_y.pk} == REGION_Y
    assert t["triage"].region_id is None
    assert t["a_central"].tier == "central" and t["b_director_central"].tier == "central"
    assert t["b_assigned_central"].tier == "regional"
    assert t["a2_console"].requester_id is None


@pytest.mark.parametrize(
    "who, expected",
    [
        # institution staff: wide roles see the institution, others their own
        ("director_a", SCHOOL_A),
        ("deputy_a", SCHOOL_A),
        ("ict_a", SCHOOL_A),
        ("teacher_a", {"a_teacher", "a_central"}),
        ("teacher_a_colleague", {"a_colleague"}),
        ("secretary_a", {"a_secretary"}),
        ("teacher_b", {"b_teacher", "b_assigned_central"}),
        ("director_b", REGION_Y),
        # regional experts: their region, whatever the institution or tier
        ("expert_x", REGION_X),
        ("expert_x2", REGION_X),
        ("expert_y", REGION_Y),
        # central support: the central tier, triage, and what is assigned to them
        ("central", {"a_central", "b_director_central", "b_assigned_central", "triage"}),
        # supervisors: their region, or everything without a region
        ("supervisor_x", REGION_X),
        ("supervisor_all", ALL),
        ("admin", ALL),
        ("outsider", set()),
    ],
)
def test_each_role_sees_exactly_its_tickets(cast, tickets, who, expected):
    user = getattr(cast, who)
    seen = visible_names(user, tickets)
    assert seen == expected
    must_not_see = ALL - expected
    assert not seen & must_not_see, f"{who} sees {sorted(seen & must_not_see)}"


def test_anonymous_and_none_see_nothing(tickets):
    assert not Ticket.objects.visible_to(AnonymousUser()).exists()
    assert not Ticket.objects.visible_to(None).exists()


@pytest.mark.parametrize(
    "who", ["director_a", "teacher_a", "expert_x", "central", "supervisor_all", "admin"]
)
def test_inactive_user_sees_nothing(cast, tickets, who):
    user = getattr(cast, who)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert visible_names(fresh(user), tickets) == set()


def test_roles_at_two_institutions_add_up(cast, tickets):
    # Teacher at school A, director at school A2: own A tickets plus all of A2.
    Membership.objects.create(user=cast.teacher_a, institution=cast.school_a2, role=Role.DIRECTOR)
    seen = visible_names(fresh(cast.teacher_a), tickets)
    assert seen == {"a_teacher", "a_central", "a2_console"}
    assert "a_director" not in seen and "b_teacher" not in seen


# --- delegations ----------------------------------------------------------------


def delegate(cast, *, rights=("follow",), starts=-1, ends=1, revoked=False, institution=None):
    """Give teacher A's colleague a delegation from director A; offsets in days from now."""
    now = timezone.now()
    return Delegation.objects.create(
        institution=institution or cast.school_a,
        granted_by=cast.director_a,
        delegate=cast.teacher_a_colleague,
        rights=list(rights),
        valid_from=now + datetime.timedelta(days=starts),
        valid_until=now + datetime.timedelta(days=ends),
        revoked_at=now if revoked else None,
        revoked_by=cast.director_a if revoked else None,
    )


OWN = {"a_colleague"}


@pytest.mark.parametrize(
    "state, kwargs, expected",
    [
        ("active", {}, SCHOOL_A),
        ("not yet started", {"starts": 1, "ends": 5}, OWN),
        ("expired", {"starts": -5, "ends": -1}, OWN),
        ("revoked", {"revoked": True}, OWN),
        # The right to file does not bring the right to follow the others' requests.
        ("active, file only", {"rights": ("file",)}, OWN),
    ],
)
def test_delegation_to_follow_counts_only_while_in_force(cast, tickets, state, kwargs, expected):
    delegation = delegate(cast, **kwargs)
    assert delegation.state == state.split(",")[0].replace("not yet started", "scheduled")
    seen = visible_names(fresh(cast.teacher_a_colleague), tickets)
    assert seen == expected
    # Never beyond the delegating institution.
    assert not seen & (REGION_Y | TRIAGE | {"a2_console"})


def test_delegation_is_judged_at_the_moment_asked(cast, tickets):
    delegate(cast, starts=1, ends=5)
    colleague = fresh(cast.teacher_a_colleague)
    later = timezone.now() + datetime.timedelta(days=2)
    much_later = timezone.now() + datetime.timedelta(days=6)
    assert visible_names(colleague, tickets) == OWN
    assert visible_names(colleague, tickets, at=later) == SCHOOL_A
    assert visible_names(colleague, tickets, at=much_later) == OWN


def test_revoking_takes_effect_on_the_next_request(cast, tickets):
    delegation = delegate(cast)
    assert visible_names(fresh(cast.teacher_a_colleague), tickets) == SCHOOL_A
    # Through the service, as the portal, the API and the admin revoke: it
    # bumps the person's cached rights (a raw queryset update would not, and
    # is not a way the application revokes).
    revoke_delegation(actor=cast.director_a, delegation=delegation)
    assert visible_names(fresh(cast.teacher_a_colleague), tickets) == OWN


def test_delegation_counts_only_for_a_colleague_of_the_institution(cast, tickets):
    # Director B cannot lend school B's requests to someone who does not work there.
    Delegation.objects.create(
        institution=cast.school_b,
        granted_by=cast.director_b,
        delegate=cast.teacher_a_colleague,
        rights=["follow"],
        valid_from=timezone.now() - datetime.timedelta(days=1),
        valid_until=timezone.now() + datetime.timedelta(days=1),
    )
    assert visible_names(fresh(cast.teacher_a_colleague), tickets) == OWN


def test_delegation_ends_with_the_membership(cast, tickets):
    delegate(cast)
    Membership.objects.filter(user=cast.teacher_a_colleague, institution=cast.school_a).delete()
    # The colleague left school A: own requests only, the delegation notwithstanding.
    assert visible_names(fresh(cast.teacher_a_colleague), tickets) == OWN


def test_agent_reassigned_away_from_a_region_stops_seeing_it(cast, tickets):
    profile = cast.expert_x.agent_profile
    profile.region = cast.region_y
    profile.save()
    assigned = {n for n, t in tickets.items() if t.assignee_id == cast.expert_x.pk}
    assert assigned  # routing gave expert X some of region X's tickets
    seen = visible_names(fresh(cast.expert_x), tickets)
    # What is still assigned to expert X stays visible; the rest of region X does not.
    assert seen == REGION_Y | assigned
    assert not seen & (REGION_X - assigned)
