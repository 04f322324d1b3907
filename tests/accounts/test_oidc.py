"""Login with edu.mon.bg profiles: the pure rules, the role sync, and the real flow.

The last group starts the provider project in tests/oidc_provider as a real
server on 127.0.0.1 and logs in through it against pytest-django's live_server,
with requests following the redirects between the two (and one browser test).
"""

import logging
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import SuspiciousOperation
from django.test import RequestFactory, override_settings
from django.utils import timezone

from accounts import oidc
from accounts.models import AccountEvent, Delegation, Membership, User
from tests.testservers import free_port, require_service

PASSWORD = "idp-Secret-42"


def roles(*pairs):
    return [{"institution": code, "role": role} for code, role in pairs]


# --------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    ("raw", "expected", "problem_count"),
    [
        (None, {}, 0),
        ([], {}, 0),
        (roles(("2206409", "director")), {"2206409": "director"}, 0),
        (
            roles(("2206409", "teacher"), ("1600101", "ict_lead")),
            {"2206409": "teacher", "1600101": "ict_lead"},
            0,
        ),
        ([{"institution": 2206409, "role": "Teacher"}], {"2206409": "teacher"}, 0),
        (roles(("2206409", "admin")), {}, 1),
        (roles(("2206409", "superuser"), ("1600101", "teacher")), {"1600101": "teacher"}, 1),
        (roles(("ABC", "teacher"), ("", "teacher"), ("12345678", "teacher")), {}, 3),
        (["2206409:director", 7], {}, 2),
        ({"institution": "2206409", "role": "director"}, {}, 1),
        ("director", {}, 1),
        (roles(("2206409", "teacher"), ("2206409", "director")), {"2206409": "director"}, 1),
        (roles(("2206409", "director"), ("2206409", "secretary")), {"2206409": "director"}, 1),
        (roles(("2206409", "teacher"), ("2206409", "teacher")), {"2206409": "teacher"}, 0),
    ],
)
def test_parse_role_claim(raw, expected, problem_count):
    parsed = oidc.parse_role_claim(raw)
    assert parsed.roles == expected
    assert len(parsed.problems) == problem_count


KNOWN = {"2206409", "2200777", "1600101"}


@pytest.mark.parametrize(
    ("current", "claimed", "add", "change", "remove", "unknown"),
    [
        ({}, {}, {}, {}, {}, ()),
        ({}, {"2206409": "director"}, {"2206409": "director"}, {}, {}, ()),
        ({"2206409": "teacher"}, {"2206409": "teacher"}, {}, {}, {}, ()),
        (
            {"2206409": "teacher"},
            {"2206409": "ict_lead"},
            {},
            {"2206409": ("teacher", "ict_lead")},
            {},
            (),
        ),
        ({"2206409": "teacher"}, {}, {}, {}, {"2206409": "teacher"}, ()),
        (
            {"2206409": "teacher", "1600101": "director"},
            {"1600101": "director", "2200777": "secretary", "9999999": "director"},
            {"2200777": "secretary"},
            {},
            {"2206409": "teacher"},
            ("9999999",),
        ),
        # An unknown code never removes anything and never adds anything.
        ({"2206409": "teacher"}, {"2206409": "teacher", "0000001": "x"}, {}, {}, {}, ("0000001",)),
    ],
)
def test_plan_memberships(current, claimed, add, change, remove, unknown):
    plan = oidc.plan_memberships(current, claimed, KNOWN)
    assert (plan.add, plan.change, plan.remove, plan.unknown) == (add, change, remove, unknown)
    assert plan.is_empty == (not (add or change or remove))


@pytest.mark.parametrize(
    ("email", "allowed"),
    [
        ("ivan.petrov@edu.mon.bg", True),
        ("Ivan.Petrov@EDU.MON.BG", True),
        ("  ivan@edu.mon.bg ", True),
        ("ivan@gmail.com", False),
        ("ivan@sub.edu.mon.bg", False),
        ("ivan@edu.mon.bg.evil.com", False),
        ("ivan@evilEdu.mon.bg", False),
        ("edu.mon.bg@gmail.com", False),
        ("ivan@gmail.com@edu.mon.bg", False),
        ("ivan@edu.mon.bg\n", True),
        ("ivan@edu.mon.bg\nx@gmail.com", False),
        ("", False),
        ("edu.mon.bg", False),
    ],
)
def test_email_domain_allowed(email, allowed):
    assert oidc.email_domain_allowed(email, ["edu.mon.bg"]) is allowed


def test_email_domain_allowed_with_several_domains():
    assert oidc.email_domain_allowed("a@mon.bg", ["edu.mon.bg", "mon.bg"])
    assert not oidc.email_domain_allowed("a@ruo.bg", ["edu.mon.bg", "mon.bg"])


@pytest.mark.parametrize(
    ("claims", "refused", "mentions"),
    [
        ({"email": "a@edu.mon.bg"}, False, ""),
        ({"email": "a@edu.mon.bg", "email_verified": True}, False, ""),
        ({"email": "a@edu.mon.bg", "email_verified": False}, True, ""),
        ({"email": "a@gmail.com", "email_verified": True}, True, "a@gmail.com"),
        ({"email": ""}, True, ""),
        ({"sub": "42"}, True, ""),
        ({"email": ["a@edu.mon.bg"]}, True, ""),
    ],
)
def test_refusal_reason(claims, refused, mentions):
    reason = oidc.refusal_reason(claims, ["edu.mon.bg"])
    assert (reason is not None) is refused
    if mentions:
        assert mentions in str(reason) and "edu.mon.bg" in str(reason)


@pytest.mark.parametrize(
    ("claims", "name"),
    [
        ({"name": "Иван Петров"}, "Иван Петров"),
        ({"name": "  Иван   Петров "}, "Иван Петров"),
        ({"given_name": "Иван", "family_name": "Петров"}, "Иван Петров"),
        ({"given_name": "Иван", "middle_name": "Г.", "family_name": "Петров"}, "Иван Г. Петров"),
        ({"name": "", "given_name": "Мария"}, "Мария"),
        ({}, ""),
        ({"name": None, "family_name": 5}, ""),
        ({"name": "Я" * 400}, "Я" * 150),
    ],
)
def test_full_name_from_claims(claims, name):
    assert oidc.full_name_from_claims(claims) == name


# --------------------------------------------------------------------------- database


def memberships_of(user):
    return dict(Membership.objects.filter(user=user).values_list("institution__code", "role"))


def test_sync_adds_changes_and_removes_and_keeps_delegations(cast, caplog):
    delegation = Delegation.objects.create(
        institution=cast.school_a,
        granted_by=cast.director_a,
        delegate=cast.teacher_a,
        rights=["file", "follow"],
        valid_from=timezone.now(),
        valid_until=timezone.now() + timedelta(days=30),
    )
    claims = {
        "neispuo_roles": roles(
            ("2206409", "ict_lead"), ("1600101", "teacher"), ("9999999", "director")
        )
    }
    with caplog.at_level(logging.WARNING, logger="accounts.oidc"):
        plan = oidc.sync_memberships(cast.teacher_a, claims)
    assert plan.change == {"2206409": ("teacher", "ict_lead")}
    assert plan.add == {"1600101": "teacher"}
    assert plan.unknown == ("9999999",)
    assert memberships_of(cast.teacher_a) == {"2206409": "ict_lead", "1600101": "teacher"}
    assert "unknown institution 9999999" in caplog.text
    kinds = set(AccountEvent.objects.values_list("kind", flat=True))
    assert {"membership_added", "membership_changed"} <= kinds

    oidc.sync_memberships(cast.teacher_a, {"neispuo_roles": []})
    assert memberships_of(cast.teacher_a) == {}
    assert AccountEvent.objects.filter(kind="membership_removed").count() == 2
    delegation.refresh_from_db()
    assert delegation.revoked_at is None and delegation.delegate_id == cast.teacher_a.pk


def test_sync_without_the_claim_changes_nothing(cast, caplog):
    with caplog.at_level(logging.WARNING, logger="accounts.oidc"):
        assert oidc.sync_memberships(cast.director_a, {"email": "director.a@edu.mon.bg"}) is None
    assert memberships_of(cast.director_a) == {"2206409": "director"}
    assert "no neispuo_roles claim" in caplog.text


def test_sync_uses_the_configured_claim_name(cast, settings):
    settings.OIDC_ROLES_CLAIM = "roles"
    oidc.sync_memberships(cast.teacher_b, {"roles": roles(("1600101", "secretary"))})
    assert memberships_of(cast.teacher_b) == {"1600101": "secretary"}


@pytest.fixture
def backend(settings):
    settings.OIDC_ENABLED = True
    settings.OIDC_RP_CLIENT_ID = "helpdesk"
    settings.OIDC_RP_CLIENT_SECRET = "secret"
    settings.OIDC_OP_TOKEN_ENDPOINT = "http://127.0.0.1:9/token/"
    settings.OIDC_OP_USER_ENDPOINT = "http://127.0.0.1:9/userinfo/"
    settings.OIDC_OP_JWKS_ENDPOINT = "http://127.0.0.1:9/jwks/"
    settings.OIDC_RP_SIGN_ALGO = "RS256"
    instance = oidc.EduMonBackend()
    instance.request = RequestFactory().get("/oidc/callback/")
    return instance


def test_backend_creates_a_person_who_is_never_superuser(cast, backend):
    claims = {
        "email": "Nova.Uchitelka@Edu.Mon.Bg",
        "given_name": "Нова",
        "family_name": "Учителка",
        "is_superuser": True,
        "is_staff": True,
        "groups": ["admin"],
        "neispuo_roles": roles(("2206409", "teacher")),
    }
    assert backend.verify_claims(claims)
    user = backend.create_user(claims)
    assert user.email == "nova.uchitelka@edu.mon.bg"
    assert user.full_name == "Нова Учителка"
    assert not user.is_superuser and not user.is_staff and not user.has_usable_password()
    assert user.agent is None
    assert memberships_of(user) == {"2206409": "teacher"}


def test_backend_refuses_other_domains_with_a_reason(cast, backend, caplog):
    with (
        caplog.at_level(logging.WARNING, logger="accounts.oidc"),
        pytest.raises(SuspiciousOperation),
    ):
        backend.verify_claims({"email": "someone@gmail.com", "sub": "7"})
    assert "someone@gmail.com" in getattr(backend.request, oidc.REFUSAL_ATTRIBUTE)
    assert "login refused" in caplog.text


def test_backend_matches_by_email_ignoring_case_and_keeps_flags(cast, backend, settings):
    settings.OIDC_ALLOWED_DOMAINS = ["edu.mon.bg", "mon.bg"]
    found = backend.filter_users_by_claims({"email": "ADMIN@MON.BG"})
    assert list(found) == [cast.admin]
    user = backend.update_user(cast.admin, {"email": "admin@mon.bg", "neispuo_roles": []})
    user.refresh_from_db()
    assert user.is_superuser  # the admin keeps what the admin pages gave them
    staff = backend.update_user(cast.director_a, {"is_superuser": True, "name": "Д. А."})
    staff.refresh_from_db()
    assert not staff.is_superuser and staff.full_name == "Д. А."
    assert memberships_of(staff) == {"2206409": "director"}  # no claim: unchanged


def test_backend_refuses_deactivated_people_and_drops_their_sessions(cast, backend):
    cast.teacher_a.is_active = False
    cast.teacher_a.save()
    with pytest.raises(SuspiciousOperation):
        backend.update_user(cast.teacher_a, {"email": "teacher.a@edu.mon.bg"})
    assert backend.get_user(cast.teacher_a.pk) is None
    assert backend.get_user(cast.teacher_b.pk) == cast.teacher_b


def test_backend_ignores_password_logins(cast, backend):
    request = RequestFactory().post("/accounts/login/")
    assert backend.authenticate(request, username="teacher.a@edu.mon.bg", password="x") is None


@pytest.fixture
def callback(client, backend, settings):
    """A client whose session waits for the callback of state "s1" (provider not running)."""
    settings.AUTHENTICATION_BACKENDS = [
        "accounts.oidc.EduMonBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "http://127.0.0.1:9/authorize/"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"http://127.0.0.1:{free_port()}/token/"
    settings.OIDC_TIMEOUT = 5
    session = client.session
    session["oidc_states"] = {"s1": {"nonce": "n1", "code_verifier": "v" * 64}}
    session.save()
    return client


@pytest.mark.parametrize("query", ["code=c1&state=s1", "error=access_denied&state=s1"])
def test_failed_callback_returns_to_the_login_page_with_a_message(cast, callback, query):
    response = callback.get(f"/oidc/callback/?{query}", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert len(list(response.context["messages"])) == 1
    assert "_auth_user_id" not in callback.session


def test_authenticate_sends_the_person_to_the_provider_with_pkce(cast, callback):
    response = callback.get("/oidc/authenticate/?next=/accounts/profile/")
    target = urlparse(response["Location"])
    query = parse_qs(target.query)
    assert target.netloc == "127.0.0.1:9" and target.path == "/authorize/"
    assert query["client_id"] == ["helpdesk"]
    assert query["code_challenge_method"] == ["S256"] and query["nonce"]
    assert callback.session["oidc_login_next"] == "/accounts/profile/"


@pytest.mark.django_db
def test_oidc_urls_answer_404_while_disabled(client, settings):
    settings.OIDC_ENABLED = False
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404
    assert client.post("/oidc/logout/").status_code == 404
    assert "/oidc/authenticate/" not in client.get("/accounts/login/").content.decode()


# --------------------------------------------------------------------------- the real flow


@pytest.fixture(scope="session")
def plain_live_server(request, django_db_blocker):
    """pytest-django's live_server, answering plain HTTP.

    settings.py turns SECURE_SSL_REDIRECT on unless HTTPS=false, and
    SecurityMiddleware reads it once, when the live server loads its middleware;
    the per-test override in conftest comes too late for it.
    """
    with override_settings(SECURE_SSL_REDIRECT=False):
        server = request.getfixturevalue("live_server")
    with django_db_blocker.unblock():
        probe = requests.get(f"{server.url}/oidc/authenticate/", allow_redirects=False, timeout=10)
    if probe.headers.get("Location", "").startswith("https:"):
        pytest.fail(
            "live_server redirects to HTTPS (started earlier with SECURE_SSL_REDIRECT on); "
            "run the tests with HTTPS=false",
            pytrace=False,
        )
    return server


@pytest.fixture(scope="session")
def oidc_provider(plain_live_server, tmp_path_factory):
    """The test provider running on 127.0.0.1, with the live server registered as client."""
    site = plain_live_server.url
    try:
        import oauth2_provider  # noqa: F401
    except ImportError:
        require_service("OIDC provider", "django-oauth-toolkit is not installed")
    from tests.oidc_provider.server import start_provider

    provider = start_provider(
        tmp_path_factory.mktemp("oidc-provider"),
        redirect_uri=f"{site}/oidc/callback/",
        post_logout_uri=f"{site}/",
        port=free_port(),
    )
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def provider(oidc_provider, settings):
    """The provider, with the helpdesk's settings pointing at it for this test."""
    settings.OIDC_ENABLED = True
    settings.AUTHENTICATION_BACKENDS = [
        "accounts.oidc.EduMonBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    for name, value in oidc_provider.helpdesk_settings().items():
        setattr(settings, name, value)
    settings.OIDC_ALLOWED_DOMAINS = ["edu.mon.bg"]
    return oidc_provider


def log_in(provider, base_url, login, password=PASSWORD, session=None):
    """Start a login at the helpdesk and follow it through the provider's form.

    Returns (requests session, final response).
    """
    session = session or requests.Session()
    response = session.get(f"{base_url}/oidc/authenticate/", timeout=20)
    response.raise_for_status()
    if response.url.startswith(provider.base_url) and "/login/" in response.url:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)
        response = session.post(
            response.url,
            data={"csrfmiddlewaretoken": token, "username": login, "password": password},
            timeout=20,
        )
    return session, response


def helpdesk_session(session, base_url):
    """Return the helpdesk's SessionStore for this requests session (None if no cookie)."""
    host = urlparse(base_url).hostname
    for cookie in session.cookies:
        if cookie.name == "sessionid" and host in cookie.domain:
            return SessionStore(session_key=cookie.value)
    return None


@pytest.fixture
def site(plain_live_server):
    """The base URL of the helpdesk's live server."""
    return plain_live_server.url


def live(function):
    """Mark a test that runs the real flow: transactional database, slow."""
    return pytest.mark.slow(pytest.mark.django_db(transaction=True)(function))


@live
def test_first_login_creates_the_person_with_roles(cast, provider, site, caplog):
    provider.set_person(
        "nova",
        PASSWORD,
        email="Nova.Direktorka@edu.mon.bg",
        email_verified=True,
        name="Нова Директорка",
        is_superuser=True,
        is_staff=True,
        neispuo_roles=roles(
            ("2200777", "director"), ("1600101", "teacher"), ("9999999", "teacher")
        ),
    )
    with caplog.at_level(logging.INFO, logger="accounts.oidc"):
        session, response = log_in(provider, site, "nova")
    assert response.status_code == 200
    assert response.url.startswith(site)
    user = User.objects.get(email="nova.direktorka@edu.mon.bg")
    assert user.full_name == "Нова Директорка"
    assert not user.is_superuser and not user.is_staff and not user.has_usable_password()
    assert memberships_of(user) == {"2200777": "director", "1600101": "teacher"}
    assert "unknown institution 9999999" in caplog.text

    store = helpdesk_session(session, site)
    assert store is not None and str(store.get("_auth_user_id")) == str(user.pk)
    assert store.get("_auth_user_backend") == "accounts.oidc.EduMonBackend"
    assert abs(store.get_expiry_age() - 10 * 3600) < 120
    profile = session.get(f"{site}/accounts/profile/", timeout=20)
    assert profile.status_code == 200 and "/accounts/login/" not in profile.url


@live
def test_second_login_updates_roles_and_keeps_delegations(cast, provider, site):
    delegation = Delegation.objects.create(
        institution=cast.school_a,
        granted_by=cast.director_a,
        delegate=cast.teacher_a,
        rights=["file"],
        valid_from=timezone.now(),
        valid_until=timezone.now() + timedelta(days=10),
    )
    provider.set_person(
        "teacher-a",
        PASSWORD,
        email="Teacher.A@EDU.MON.BG",
        name="Учител А. Нов",
        neispuo_roles=roles(("2206409", "teacher")),
    )
    log_in(provider, site, "teacher-a")
    assert User.objects.filter(email__iexact="teacher.a@edu.mon.bg").count() == 1
    cast.teacher_a.refresh_from_db()
    assert cast.teacher_a.full_name == "Учител А. Нов"
    assert memberships_of(cast.teacher_a) == {"2206409": "teacher"}

    provider.set_person(
        "teacher-a",
        PASSWORD,
        email="teacher.a@edu.mon.bg",
        name="Учител А. Нов",
        neispuo_roles=roles(("2206409", "deputy_director"), ("2200777", "teacher")),
    )
    _session, response = log_in(provider, site, "teacher-a")
    assert response.url.startswith(site)
    assert memberships_of(cast.teacher_a) == {"2206409": "deputy_director", "2200777": "teacher"}

    provider.set_person("teacher-a", PASSWORD, email="teacher.a@edu.mon.bg", neispuo_roles=[])
    log_in(provider, site, "teacher-a")
    assert memberships_of(cast.teacher_a) == {}
    delegation.refresh_from_db()
    assert delegation.revoked_at is None and delegation.is_active()
    assert set(
        AccountEvent.objects.filter(detail__person="teacher.a@edu.mon.bg").values_list(
            "kind", flat=True
        )
    ) == {"membership_changed", "membership_added", "membership_removed"}


@live
def test_other_domains_are_refused_with_a_message(cast, provider, site, caplog):
    provider.set_person(
        "outsider",
        PASSWORD,
        email="outsider@gmail.com",
        email_verified=True,
        name="Външен Човек",
        neispuo_roles=roles(("2206409", "director")),
    )
    users_before = User.objects.count()
    with caplog.at_level(logging.WARNING, logger="accounts.oidc"):
        session, response = log_in(provider, site, "outsider")
    assert urlparse(response.url).path == "/accounts/login/"
    assert "outsider@gmail.com" in response.text and "edu.mon.bg" in response.text
    assert User.objects.count() == users_before
    assert helpdesk_session(session, site) is None or not helpdesk_session(session, site).get(
        "_auth_user_id"
    )
    assert "login refused for 'outsider@gmail.com'" in caplog.text


@live
def test_logout_ends_both_sessions(cast, provider, site):
    provider.set_person(
        "ict", PASSWORD, email="ict.a@edu.mon.bg", neispuo_roles=roles(("2206409", "ict_lead"))
    )
    session, _response = log_in(provider, site, "ict")
    profile = session.get(f"{site}/accounts/profile/", timeout=20)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', profile.text).group(1)

    first = session.post(
        f"{site}/oidc/logout/",
        data={"csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=20,
    )
    assert first.status_code == 302
    target = urlparse(first.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == provider.endpoint("logout")
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == [f"{site}/"]
    assert query["id_token_hint"][0].count(".") == 2

    final = session.get(first.headers["Location"], timeout=20)
    assert final.url.rstrip("/") == site
    again = session.get(f"{site}/accounts/profile/", timeout=20)
    assert "/accounts/login/" in again.url
    # The provider's session ended too: a new login shows its form again.
    relogin = session.get(f"{site}/oidc/authenticate/", timeout=20)
    assert relogin.url.startswith(f"{provider.base_url}/login/")


@live
def test_password_login_still_works_next_to_oidc(cast, provider, site):
    session = requests.Session()
    page = session.get(f"{site}/accounts/login/", timeout=20)
    assert "/oidc/authenticate/" in page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post(
        page.url,
        data={
            "csrfmiddlewaretoken": token,
            "username": "expert.x@ruo.bg",
            "password": "pw-Secret-123",
        },
        timeout=20,
    )
    store = helpdesk_session(session, site)
    assert store.get("_auth_user_backend") == "django.contrib.auth.backends.ModelBackend"
    # A local session logs out locally only.
    profile = session.get(f"{site}/accounts/profile/", timeout=20)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', profile.text).group(1)
    out = session.post(
        f"{site}/oidc/logout/",
        data={"csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=20,
    )
    assert out.headers["Location"] == f"{site}/"


@pytest.mark.e2e
@live
def test_browser_login_with_the_edu_mon_bg_button(cast, provider, site, page, screenshot):
    provider.set_person(
        "director-b",
        PASSWORD,
        email="director.b@edu.mon.bg",
        name="Директор Б",
        neispuo_roles=roles(("1600101", "director")),
    )
    page.goto(f"{site}/accounts/login/")
    page.click("a[href='/oidc/authenticate/']")
    page.wait_for_url(f"{provider.base_url}/login/**")
    page.fill("#username", "director-b")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(f"{site}/**")
    screenshot(page, "oidc-login-done")
    assert "/accounts/login/" not in page.url
    page.goto(f"{site}/accounts/profile/")
    assert page.url.endswith("/accounts/profile/")
    assert memberships_of(cast.director_b) == {"1600101": "director"}
