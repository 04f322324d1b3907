"""accounts.backends.load_user: the session's person in one hand-composed statement."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.backends import PasswordBackend
from accounts.models import AgentProfile

pytestmark = pytest.mark.django_db


def test_the_person_is_what_the_orm_reads_with_the_profile_cached(cast):
    User = get_user_model()
    User.objects.filter(pk=cast.expert_x.pk).update(last_login=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        user = PasswordBackend().get_user(cast.expert_x.pk)
        profile = user.agent_profile  # cached with the person
    assert len(queries.captured_queries) == 1
    fresh = User.objects.get(pk=cast.expert_x.pk)
    for field in User._meta.concrete_fields:
        got, want = getattr(user, field.attname), getattr(fresh, field.attname)
        assert got == want and type(got) is type(want), field.name
    assert user._state.adding is False and user._state.db == "default"
    assert profile == AgentProfile.objects.get(user=cast.expert_x)
    assert (profile.tier, profile.region_id) == ("regional", cast.region_x.pk)
    assert profile.user is user
    # Saving the loaded person writes a normal update (it is a real row).
    user.full_name = "Нова Фамилия"
    user.save(update_fields=["full_name"])
    assert User.objects.get(pk=user.pk).full_name == "Нова Фамилия"


def test_someone_without_a_profile_is_known_to_have_none(cast):
    with CaptureQueriesContext(connection) as queries:
        user = PasswordBackend().get_user(cast.teacher_a.pk)
        assert not hasattr(user, "agent_profile")
    assert len(queries.captured_queries) == 1
    assert user == cast.teacher_a


def test_inactive_unknown_and_malformed_ids_are_nobody(cast):
    backend = PasswordBackend()
    get_user_model().objects.filter(pk=cast.teacher_a.pk).update(is_active=False)
    assert backend.get_user(cast.teacher_a.pk) is None
    assert backend.get_user(10**9) is None
    assert backend.get_user("not a number") is None
    assert backend.get_user(None) is None


def test_a_mail_sender_is_found_by_exact_address_with_the_profile(cast):
    from accounts.backends import read_person

    with CaptureQueriesContext(connection) as queries:
        user = read_person(email=cast.expert_x.email)
        assert user.agent_profile.tier == "regional"
    assert len(queries.captured_queries) == 1
    assert user == cast.expert_x
    assert read_person(email="nobody@example.org") is None
    with pytest.raises(ValueError, match="pk or email"):
        read_person()
