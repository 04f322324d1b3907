"""accounts.permissions: roles and delegations in force, turned into rights."""

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.models import Delegation, User
from accounts.permissions import (
    can_set_priority,
    directed_institution_ids,
    filing_institution_ids,
    followed_institution_ids,
)

pytestmark = pytest.mark.django_db
D = datetime.timedelta(days=1)


def fresh(user):
    return User.objects.get(pk=user.pk)


def test_roles(cast):
    a, b = cast.school_a.pk, cast.school_b.pk
    for wide in (cast.director_a, cast.deputy_a, cast.ict_a):
        assert followed_institution_ids(wide) == {a}
        assert filing_institution_ids(wide) == {a}
        assert can_set_priority(wide, a) and not can_set_priority(wide, b)
    for narrow in (cast.teacher_a, cast.secretary_a):
        assert followed_institution_ids(narrow) == set()
        assert filing_institution_ids(narrow) == {a}
        assert not can_set_priority(narrow, a)
    assert directed_institution_ids(cast.director_a) == {a}
    assert directed_institution_ids(cast.deputy_a) == set()
    assert directed_institution_ids(cast.director_b) == {b}


def test_people_without_roles(cast):
    for user in (cast.outsider, AnonymousUser()):
        assert filing_institution_ids(user) == set()
        assert followed_institution_ids(user) == set()
        assert directed_institution_ids(user) == set()
    assert can_set_priority(cast.expert_x, cast.school_b.pk)
    assert can_set_priority(cast.admin, cast.school_b.pk)
    assert not can_set_priority(cast.outsider, cast.school_a.pk)


@pytest.mark.parametrize(
    "rights, follows, priority",
    [
        (["file"], False, True),
        (["follow"], True, False),
        (["file", "follow"], True, True),
        ([], False, False),
    ],
)
def test_delegated_rights_of_a_colleague(cast, rights, follows, priority):
    now = timezone.now()
    Delegation.objects.create(
        institution=cast.school_a,
        granted_by=cast.director_a,
        delegate=cast.teacher_a,
        rights=rights,
        valid_from=now - D,
        valid_until=now + D,
    )
    teacher = fresh(cast.teacher_a)
    a = cast.school_a.pk
    assert (a in followed_institution_ids(teacher)) is follows
    assert can_set_priority(teacher, a) is priority
    assert filing_institution_ids(teacher) == {a}
    assert directed_institution_ids(teacher) == set(), "a delegate never delegates further"


def test_delegation_to_someone_outside_the_institution_gives_nothing(cast):
    now = timezone.now()
    Delegation.objects.create(
        institution=cast.school_b,
        granted_by=cast.director_b,
        delegate=cast.teacher_a,
        rights=["file", "follow"],
        valid_from=now - D,
        valid_until=now + D,
    )
    teacher = fresh(cast.teacher_a)
    b = cast.school_b.pk
    assert b not in filing_institution_ids(teacher)
    assert b not in followed_institution_ids(teacher)
    assert not can_set_priority(teacher, b)


def test_delegation_out_of_force_gives_nothing(cast):
    now = timezone.now()
    for start, end, revoked in [(D, 2 * D, None), (-2 * D, -D, None), (-D, D, now)]:
        Delegation.objects.create(
            institution=cast.school_a,
            granted_by=cast.director_a,
            delegate=cast.teacher_a,
            rights=["file", "follow"],
            valid_from=now + start,
            valid_until=now + end,
            revoked_at=revoked,
            revoked_by=cast.director_a if revoked else None,
        )
    teacher = fresh(cast.teacher_a)
    a = cast.school_a.pk
    assert followed_institution_ids(teacher) == set()
    assert not can_set_priority(teacher, a)
    # ...but the scheduled one counts when asked about its period.
    assert a in followed_institution_ids(teacher, now + 1.5 * D)
