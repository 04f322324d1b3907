"""accounts.models: users, institutions, agents, absences and delegations."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import (
    Absence,
    AgentProfile,
    Delegation,
    Institution,
    InstitutionDomain,
    Membership,
    Role,
    User,
)

pytestmark = pytest.mark.django_db

H = datetime.timedelta(hours=1)
D = datetime.timedelta(days=1)


def assert_accepted(check):
    """Call a model's `clean`/`full_clean` and fail with its messages if it refuses."""
    try:
        check()
    except ValidationError as error:
        pytest.fail(f"refused: {error}")


# Unique and check constraints as SQLite and PostgreSQL word their errors.
UNIQUE_EMAIL = r"(?i)unique.*email"
UNIQUE_CODE = r"(?i)unique.*code"


# --- users ----------------------------------------------------------------------------


def test_manager_lowercases_the_whole_email():
    user = User.objects.create_user(email="Maria.Petrova@EDU.MON.BG", password="pw-Secret-123")
    assert user.email == "maria.petrova@edu.mon.bg"
    assert user.check_password("pw-Secret-123")
    assert not user.is_staff and not user.is_superuser
    assert User.objects.get_by_natural_key("maria.petrova@edu.mon.bg") == user


def test_saving_lowercases_and_the_address_stays_unique():
    User.objects.create_user(email="a@edu.mon.bg")
    user = User(email="B@Edu.Mon.Bg")
    user.save()
    assert User.objects.filter(email="b@edu.mon.bg").exists()
    with pytest.raises(IntegrityError, match=UNIQUE_EMAIL), transaction.atomic():
        User.objects.create_user(email="A@EDU.MON.BG")


def test_email_is_required():
    with pytest.raises(ValueError, match="e-mail address is required"):
        User.objects.create_user(email="")


def test_superuser():
    admin = User.objects.create_superuser(email="Admin@MON.bg", password="pw-Secret-123")
    assert admin.is_staff and admin.is_superuser and admin.email == "admin@mon.bg"
    assert not admin.is_agent


def test_names():
    user = User(email="x@edu.mon.bg", full_name="Мария Петрова")
    assert (str(user), user.get_short_name()) == ("Мария Петрова", "Мария")
    nameless = User(email="x@edu.mon.bg")
    assert str(nameless) == nameless.get_full_name() == nameless.get_short_name() == "x@edu.mon.bg"


def test_is_agent_needs_a_profile_and_an_active_account(cast):
    assert cast.expert_x.is_agent and not cast.teacher_a.is_agent
    assert cast.teacher_a.agent is None
    cast.expert_x.is_active = False
    assert not cast.expert_x.is_agent


# --- institutions -----------------------------------------------------------------------


@pytest.mark.parametrize("code", ["12a4567", "22-0640", " 220640", "220640x", ""])
def test_institution_code_must_be_digits(cast, code):
    institution = Institution(code=code, name="Училище", region=cast.region_x)
    with pytest.raises(ValidationError, match="'code'") as info:
        institution.full_clean()
    assert list(info.value.message_dict) == ["code"]


@pytest.mark.parametrize("code", ["2200999", "0", "1234567"])
def test_institution_code_digits_pass(cast, code):
    assert_accepted(Institution(code=code, name="Училище", region=cast.region_x).full_clean)


def test_institution_code_is_unique(cast):
    with pytest.raises(IntegrityError, match=UNIQUE_CODE), transaction.atomic():
        Institution.objects.create(code="2206409", name="Друго", region=cast.region_y)


def test_institution_domain_is_normalised(cast):
    domain = InstitutionDomain.objects.create(institution=cast.school_a, domain=" @138SOU.Bg ")
    assert domain.domain == "138sou.bg"


def test_one_role_per_person_and_institution(cast):
    unique_role = r"(?i)unique.*(one_role_per_institution|membership)"
    with pytest.raises(IntegrityError, match=unique_role), transaction.atomic():
        Membership.objects.create(
            user=cast.teacher_a, institution=cast.school_a, role=Role.DIRECTOR
        )


# --- agents and absences ----------------------------------------------------------------------


def test_regional_agent_needs_a_region(cast):
    profile = AgentProfile(user=cast.outsider, tier="regional", kind="expert")
    with pytest.raises(ValidationError, match="'region'") as info:
        profile.clean()
    assert list(info.value.message_dict) == ["region"]
    profile.region = cast.region_x
    assert_accepted(profile.clean)


@pytest.mark.parametrize(("kind", "capacity"), [("expert", 1), ("expert", 10), ("supervisor", 0)])
def test_central_agent_and_national_supervisor_need_no_region(cast, kind, capacity):
    profile = AgentProfile(user=cast.outsider, tier="central", kind=kind, capacity=capacity)
    assert profile.region_id is None
    assert_accepted(profile.clean)


def test_expert_capacity_must_be_positive(cast):
    profile = AgentProfile(user=cast.outsider, tier="central", kind="expert", capacity=0)
    with pytest.raises(ValidationError, match="'capacity'") as info:
        profile.clean()
    assert list(info.value.message_dict) == ["capacity"]


def test_is_absent(cast, now):
    profile = cast.expert_x.agent_profile
    Absence.objects.create(agent=profile, starts_at=now - H, ends_at=now + H)
    assert profile.is_absent(now)
    assert not profile.is_absent(now + H), "the end is exclusive"
    assert not profile.is_absent(now - 2 * H)
    assert not cast.expert_x2.agent_profile.is_absent(now)


def absence(cast, start, end, agent=None):
    return Absence(agent=agent or cast.expert_x.agent_profile, starts_at=start, ends_at=end)


def test_absence_must_end_after_it_starts(cast, now):
    with pytest.raises(ValidationError, match="'ends_at'") as info:
        absence(cast, now, now).full_clean()
    assert list(info.value.message_dict) == ["ends_at"]
    with pytest.raises(ValidationError, match="'ends_at'"):
        absence(cast, now, now - H).full_clean()


@pytest.mark.parametrize(
    "start, end",
    [
        (-1, 1),  # inside
        (-10, 10),  # around
        (-3, 0.5),  # over the start
        (1.5, 3),  # over the end
        (0, 2),  # the same
    ],
)
def test_overlapping_absences_are_refused(cast, now, start, end):
    absence(cast, now, now + 2 * D).save()
    with pytest.raises(ValidationError, match="'__all__'") as info:
        absence(cast, now + start * D, now + end * D).full_clean()
    assert list(info.value.message_dict) == ["__all__"]


@pytest.mark.parametrize("start, end", [(-3, 0), (2, 4), (-5, -1), (5, 6)])
def test_adjacent_or_separate_absences_are_fine(cast, now, start, end):
    absence(cast, now, now + 2 * D).save()
    assert_accepted(absence(cast, now + start * D, now + end * D).full_clean)


def test_another_agents_absence_or_editing_the_same_one_is_fine(cast, now):
    existing = absence(cast, now, now + 2 * D)
    existing.save()
    assert_accepted(absence(cast, now, now + 2 * D, agent=cast.expert_x2.agent_profile).full_clean)
    existing.ends_at = now + 3 * D
    assert_accepted(existing.full_clean)


# --- delegations -----------------------------------------------------------------------------


def delegation(cast, start, end, **extra):
    now = timezone.now()
    return Delegation.objects.create(
        institution=cast.school_a,
        granted_by=cast.director_a,
        delegate=cast.teacher_a,
        rights=["file", "follow"],
        valid_from=now + start,
        valid_until=now + end,
        **extra,
    )


@pytest.mark.parametrize(
    "start, end, revoked, state",
    [
        (-D, D, False, "active"),
        (D, 2 * D, False, "scheduled"),
        (-2 * D, -D, False, "expired"),
        (-D, D, True, "revoked"),
        (D, 2 * D, True, "revoked"),
        (-2 * D, -D, True, "revoked"),
    ],
)
def test_delegation_states(cast, start, end, revoked, state):
    extra = {"revoked_at": timezone.now(), "revoked_by": cast.director_a} if revoked else {}
    d = delegation(cast, start, end, **extra)
    assert d.state == state
    assert d.is_active() is (state == "active")
    assert Delegation.objects.active().filter(pk=d.pk).exists() is (state == "active")


def test_delegation_activity_at_a_given_moment(cast):
    d = delegation(cast, D, 3 * D)
    now = timezone.now()
    assert not d.is_active(now)
    assert d.is_active(now + 2 * D)
    assert not d.is_active(d.valid_until), "the end is exclusive"
    assert d.is_active(d.valid_from)
    assert Delegation.objects.active(now + 2 * D).filter(pk=d.pk).exists()
    assert not Delegation.objects.active(now + 4 * D).filter(pk=d.pk).exists()


def test_delegation_period_must_be_positive(cast):
    with pytest.raises(IntegrityError, match="delegation_period_positive"), transaction.atomic():
        delegation(cast, D, D)
    with pytest.raises(IntegrityError, match="delegation_period_positive"), transaction.atomic():
        delegation(cast, D, -D)
