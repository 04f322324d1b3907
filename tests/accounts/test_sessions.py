"""Sessions: idle expiry, and deactivation that ends a person's sessions at once."""

import time
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from accounts import services
from accounts.models import AccountEvent
from accounts.signals import user_deactivated
from helpdesk.middleware import LAST_SEEN_KEY


def _age_session(client, seconds):
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - seconds
    session.save()


def test_a_session_idle_longer_than_the_setting_is_logged_out(client, cast, settings):
    settings.SESSION_IDLE_MINUTES = 60
    client.force_login(cast.teacher_a)
    assert client.get("/portal/").status_code == 200
    assert isinstance(client.session[LAST_SEEN_KEY], int)

    _age_session(client, 59 * 60)
    assert client.get("/portal/").status_code == 200  # still inside the hour, and renewed
    assert time.time() - client.session[LAST_SEEN_KEY] < 5

    _age_session(client, 61 * 60)
    response = client.get("/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_the_cookie_and_the_stored_session_expire_with_the_idle_time(client, cast, settings):
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_MINUTES * 60
    client.force_login(cast.teacher_a)
    client.get("/portal/")
    stored = Session.objects.get(session_key=client.session.session_key)
    remaining = (stored.expire_date.timestamp() - time.time()) / 60
    assert settings.SESSION_IDLE_MINUTES - 2 < remaining <= settings.SESSION_IDLE_MINUTES


def test_deactivation_deletes_every_session_of_the_person_and_no_other(cast):
    phone, laptop, colleague = Client(), Client(), Client()
    phone.force_login(cast.expert_x)
    laptop.force_login(cast.expert_x)
    colleague.force_login(cast.expert_y)
    assert phone.get("/console/").status_code == 200
    heard = []

    def listener(sender, user, actor, **kwargs):
        heard.append((user.pk, actor.pk))

    user_deactivated.connect(listener)
    try:
        ended = services.deactivate_user(cast.expert_x, actor=cast.admin)
    finally:
        user_deactivated.disconnect(listener)
    assert ended == 2
    assert heard == [(cast.expert_x.pk, cast.admin.pk)]
    assert not Session.objects.filter(session_key=phone.session.session_key).exists()
    # Nor does a cached copy survive (the cached_db engine reads the cache first).
    store = import_module(settings.SESSION_ENGINE).SessionStore
    assert store(session_key=laptop.session.session_key).load() == {}
    for client in (phone, laptop):
        response = client.get("/console/")
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert colleague.get("/console/").status_code == 200
    event = AccountEvent.objects.get(kind=AccountEvent.Kind.DEACTIVATED)
    assert event.subject == cast.expert_x and event.actor == cast.admin
    assert event.detail["sessions_ended"] == 2


@pytest.mark.parametrize("how", ["form", "action"])
def test_the_admin_deactivation_ends_sessions_at_once(cast, how):
    victim = Client()
    victim.force_login(cast.teacher_a)
    assert victim.get("/portal/").status_code == 200
    admin = Client()
    admin.force_login(cast.admin)
    if how == "form":
        page = admin.get(f"/admin/accounts/user/{cast.teacher_a.pk}/change/")
        form = page.context["adminform"].form
        data = {
            name: value
            for name, value in form.initial.items()
            if name in form.fields and value is not None and name != "password"
        }
        data.update(
            {
                "is_active": "",
                "date_joined_0": "2026-01-01",
                "date_joined_1": "10:00:00",
                "last_login_0": "",
                "last_login_1": "",
                "groups": [],
                "user_permissions": [],
                "memberships-TOTAL_FORMS": "1",
                "memberships-INITIAL_FORMS": "1",
                "memberships-MIN_NUM_FORMS": "0",
                "memberships-MAX_NUM_FORMS": "1000",
                "memberships-0-id": str(cast.teacher_a.memberships.get().pk),
                "memberships-0-user": str(cast.teacher_a.pk),
                "memberships-0-institution": str(cast.school_a.pk),
                "memberships-0-role": "teacher",
            }
        )
        data.pop("is_active")
        response = admin.post(f"/admin/accounts/user/{cast.teacher_a.pk}/change/", data)
        assert response.status_code == 302, response.context["adminform"].form.errors
    else:
        response = admin.post(
            "/admin/accounts/user/",
            {"action": "deactivate", "_selected_action": [str(cast.teacher_a.pk)]},
        )
        assert response.status_code == 302
    cast.teacher_a.refresh_from_db()
    assert not cast.teacher_a.is_active
    response = victim.get("/portal/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert AccountEvent.objects.filter(
        kind=AccountEvent.Kind.DEACTIVATED, subject=cast.teacher_a, actor=cast.admin
    ).exists()


def test_reactivation_is_recorded(cast):
    services.deactivate_user(cast.teacher_a, actor=cast.admin)
    services.reactivate_user(cast.teacher_a, actor=cast.admin)
    cast.teacher_a.refresh_from_db()
    assert cast.teacher_a.is_active
    assert list(
        AccountEvent.objects.filter(subject=cast.teacher_a)
        .order_by("pk")
        .values_list("kind", flat=True)
    ) == ["deactivated", "reactivated"]
