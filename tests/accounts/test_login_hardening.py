"""Local password logins: lockout after failures, the TOTP second factor, admins-only mode."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AccountEvent
from accounts.second_factor import PASSWORD_LOGIN_KEY

PASSWORD = "pw-Secret-123"
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _hardening(settings):
    settings.HELPDESK_OTP_REQUIRED = True
    settings.HELPDESK_LOCAL_LOGIN = "everyone"
    settings.AXES_FAILURE_LIMIT = 5


def post_login(client, email, password, **extra):
    return client.post(LOGIN, {"username": email, "password": password, **extra}, **extra_meta())


def extra_meta(ip="10.1.2.3"):
    return {"REMOTE_ADDR": ip}


def code_for(device: TOTPDevice) -> str:
    """The code an authenticator app shows now."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


# --------------------------------------------------------------------------- lockout


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(client, cast):
    for _ in range(4):
        response = post_login(client, "teacher.a@edu.mon.bg", "wrong")
        assert response.status_code == 200
        assert "_auth_user_id" not in client.session
    fifth = post_login(client, "teacher.a@edu.mon.bg", "wrong")
    assert fifth.status_code == 429
    assert fifth.context["locked_out"] is True

    right = post_login(client, "teacher.a@edu.mon.bg", PASSWORD)
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    page = right.content.decode()
    assert 'data-test="locked-out"' in page
    assert "30" in page  # the minutes

    # One lockout row in the audit however often the locked login is tried.
    lockouts = AccountEvent.objects.filter(kind=AccountEvent.Kind.LOCKOUT)
    assert lockouts.count() == 1
    assert lockouts.get().subject == cast.teacher_a
    assert lockouts.get().ip == "10.1.2.3"
    assert (
        AccountEvent.objects.filter(
            kind=AccountEvent.Kind.LOGIN_FAILED, subject=cast.teacher_a
        ).count()
        >= 5
    )


def test_the_lock_is_per_address_and_client_and_case_does_not_help(client, cast):
    for _ in range(5):
        post_login(client, "Teacher.A@edu.mon.bg", "wrong")
    assert post_login(client, "teacher.a@EDU.mon.bg", PASSWORD).status_code == 429
    # Another person from the same address, and the same person elsewhere, are not locked.
    other = post_login(client, "teacher.b@edu.mon.bg", PASSWORD)
    assert other.status_code == 302
    client.logout()
    elsewhere = client.post(
        LOGIN, {"username": "teacher.a@edu.mon.bg", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9"
    )
    assert elsewhere.status_code == 302


def test_an_administrator_unlocks_by_deleting_the_attempt(client, cast):
    for _ in range(5):
        post_login(client, "teacher.a@edu.mon.bg", "wrong")
    attempt = AccessAttempt.objects.get(username="teacher.a@edu.mon.bg")
    admin_client = type(client)()
    admin_client.force_login(cast.admin)
    listing = admin_client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "teacher.a@edu.mon.bg" in listing.content.decode()
    deleted = admin_client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert post_login(client, "teacher.a@edu.mon.bg", PASSWORD).status_code == 302


def test_a_successful_login_resets_the_count(client, cast):
    for _ in range(4):
        post_login(client, "teacher.a@edu.mon.bg", "wrong")
    assert post_login(client, "teacher.a@edu.mon.bg", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        post_login(client, "teacher.a@edu.mon.bg", "wrong")
    assert post_login(client, "teacher.a@edu.mon.bg", PASSWORD).status_code == 302


# --------------------------------------------------------------------------- second factor


def test_an_agent_logging_in_with_a_password_must_give_a_code(client, cast):
    device = enrolled(cast.expert_x)
    response = post_login(client, "expert.x@ruo.bg", PASSWORD, next="/console/")
    assert response.status_code == 302
    assert client.session.get(PASSWORD_LOGIN_KEY) is True

    # Without the code the console and the admin send the agent to the code page.
    for path in ("/console/", "/admin/", "/portal/", "/accounts/profile/"):
        refused = client.get(path)
        assert refused.status_code == 302, path
        assert refused["Location"].startswith(reverse("accounts:second_factor")), path
    assert client.get("/api/me/").status_code == 403

    wrong = client.post(reverse("accounts:second_factor"), {"code": "000000", "next": "/console/"})
    assert wrong.status_code == 200
    assert wrong.context["form"].errors["code"]
    assert client.get("/console/").status_code == 302
    assert AccountEvent.objects.filter(kind=AccountEvent.Kind.OTP_FAILED).count() == 1

    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    right = client.post(
        reverse("accounts:second_factor"), {"code": code_for(device), "next": "/console/"}
    )
    assert right.status_code == 302
    assert right["Location"] == "/console/"
    assert client.get("/console/").status_code == 200
    assert client.get("/admin/").status_code == 302  # an expert is not staff: to admin login
    kinds = list(
        AccountEvent.objects.filter(subject=cast.expert_x)
        .order_by("pk")
        .values_list("kind", flat=True)
    )
    assert kinds == ["login", "otp_failed", "otp_verified"]
    login = AccountEvent.objects.get(kind="login", subject=cast.expert_x)
    assert login.detail == {
        "email": "expert.x@ruo.bg",
        "method": "password",
        "second_factor": "owed",
    }


def test_an_administrator_logging_in_at_the_admin_must_give_a_code_too(client, cast):
    device = enrolled(cast.admin)
    client.post(
        "/admin/login/?next=/admin/",
        {"username": "admin@mon.bg", "password": PASSWORD},
        REMOTE_ADDR="10.1.2.3",
    )
    assert client.session.get(PASSWORD_LOGIN_KEY) is True
    refused = client.get("/admin/")
    assert refused.status_code == 302
    assert refused["Location"].startswith(reverse("accounts:second_factor"))
    client.post(reverse("accounts:second_factor"), {"code": code_for(device), "next": "/admin/"})
    assert client.get("/admin/").status_code == 200


def test_first_login_sets_up_the_app_with_a_qr_code_and_the_key(client, cast):
    post_login(client, "central@mon.bg", PASSWORD)
    to_setup = client.get("/console/")
    assert to_setup["Location"].startswith(reverse("accounts:second_factor_setup"))
    page = client.get(to_setup["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "<script" not in html.split("<main", 1)[1]
    assert "otpauth://totp/" in html
    device = TOTPDevice.objects.get(user=cast.central, confirmed=False)
    secret = page.context["secret"].replace(" ", "")
    assert len(secret) == 32
    # Reloading the page keeps the same secret.
    assert client.get(to_setup["Location"]).context["secret"] == page.context["secret"]

    done = client.post(
        reverse("accounts:second_factor_setup"), {"code": code_for(device), "next": "/console/"}
    )
    assert done.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/console/").status_code == 200
    assert AccountEvent.objects.filter(
        kind=AccountEvent.Kind.OTP_ENROLLED, subject=cast.central
    ).exists()


def test_setting_up_a_second_device_needs_an_administrator(client, cast):
    enrolled(cast.expert_x)
    post_login(client, "expert.x@ruo.bg", PASSWORD)
    response = client.get(reverse("accounts:second_factor_setup"))
    assert response["Location"].startswith(reverse("accounts:second_factor"))
    assert not TOTPDevice.objects.filter(user=cast.expert_x, confirmed=False).exists()


def test_teachers_are_not_asked_and_neither_are_sessions_without_a_password_form(client, cast):
    response = post_login(client, "teacher.a@edu.mon.bg", PASSWORD)
    assert response.status_code == 302
    assert client.get("/portal/").status_code == 200
    client.logout()
    client.force_login(cast.expert_x)
    assert PASSWORD_LOGIN_KEY not in client.session
    assert client.get("/console/").status_code == 200


def test_a_teacher_made_an_agent_during_a_password_session_owes_a_code(client, cast):
    from accounts.models import AgentProfile

    post_login(client, "teacher.a@edu.mon.bg", PASSWORD)
    assert client.get("/portal/").status_code == 200
    AgentProfile.objects.create(user=cast.teacher_a, tier="central")
    assert client.get("/portal/").status_code == 302


def test_the_code_step_can_be_switched_off(client, cast, settings):
    settings.HELPDESK_OTP_REQUIRED = False
    post_login(client, "expert.x@ruo.bg", PASSWORD)
    assert client.get("/console/").status_code == 200


def test_logout_and_language_stay_open_while_a_code_is_owed(client, cast):
    enrolled(cast.expert_x)
    post_login(client, "expert.x@ruo.bg", PASSWORD)
    assert client.post("/i18n/setlang/", {"language": "en", "next": "/"}).status_code == 302
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


# --------------------------------------------------------------------------- admins-only


def test_admins_only_refuses_local_passwords_of_everyone_else(client, cast, settings):
    settings.HELPDESK_LOCAL_LOGIN = "admins-only"
    settings.HELPDESK_OTP_REQUIRED = False
    page = client.get(LOGIN)
    assert page.context["local_login_admins_only"] is True
    refused = post_login(client, "teacher.a@edu.mon.bg", PASSWORD)
    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session
    assert post_login(client, "admin@mon.bg", PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(cast.admin.pk)


# --------------------------------------------------------------------------- WebSocket


def test_a_websocket_scope_owes_the_code_like_the_pages(client, cast):
    from accounts.second_factor import scope_owes_code

    device = enrolled(cast.expert_x)
    post_login(client, "expert.x@ruo.bg", PASSWORD)
    session = client.session
    scope = {"type": "websocket", "session": session, "user": cast.expert_x}
    assert scope_owes_code(scope) is True
    client.post(reverse("accounts:second_factor"), {"code": code_for(device)})
    scope["session"] = client.session
    assert scope_owes_code(scope) is False
    forced = type(client)()
    forced.force_login(cast.expert_y)
    assert scope_owes_code({"session": forced.session, "user": cast.expert_y}) is False


@pytest.mark.django_db
def test_the_websocket_guard_refuses_the_handshake_of_a_session_owing_a_code(monkeypatch):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from accounts import second_factor

    def run(coroutine):
        # A thread of its own: a browser test may have left an event loop in this one.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    reached, sent = [], []

    async def inner(scope, receive, send):
        reached.append(scope)

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        sent.append(message)

    guard = second_factor.SecondFactorWebSocketGuard(inner)
    monkeypatch.setattr(second_factor, "scope_owes_code", lambda scope: scope["owes"])
    run(guard({"type": "websocket", "owes": True}, receive, send))
    assert reached == [] and sent == [{"type": "websocket.close", "code": 4403}]
    run(guard({"type": "websocket", "owes": False}, receive, send))
    assert len(reached) == 1
