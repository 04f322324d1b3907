"""edu.mon.bg logins and the directory agree: unknown institution codes are recorded,
shown to administrators, and the person is told what to do."""

import io

import pytest
from django.core.management import call_command
from django.utils.translation import override

from accounts import directory, oidc
from accounts.models import AccountEvent, Institution, Membership, User
from accounts.regions import ensure_regions

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    # Pages are requested in English too: their text is checked by its English wording.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with override("en"):
        yield


@pytest.fixture
def school(db):
    regions = ensure_regions()
    return Institution.objects.create(code="2206409", name="138 СУ", region=regions["22"])


def roles(*pairs):
    return [{"institution": code, "role": role} for code, role in pairs]


def test_unknown_codes_are_recorded_once_per_situation(school):
    person = User.objects.create_user(email="t@edu.mon.bg")
    assert directory.record_unknown_institutions(person, {"7777777": "teacher"}, ["7777777"])
    assert not directory.record_unknown_institutions(person, {"7777777": "teacher"}, ["7777777"])
    assert directory.record_unknown_institutions(
        person, {"7777777": "teacher", "8888888": "director"}, ["8888888", "7777777"]
    )
    assert not directory.record_unknown_institutions(person, {}, [])
    events = AccountEvent.objects.filter(kind=directory.UNKNOWN_AT_LOGIN)
    assert events.count() == 2
    assert events.order_by("pk").last().detail == {
        "person": "t@edu.mon.bg",
        "codes": ["7777777", "8888888"],
        "roles": {"7777777": "teacher", "8888888": "director"},
        "source": "oidc",
    }


def test_unknown_login_codes_lists_who_named_them_until_the_institution_is_loaded(school):
    a = User.objects.create_user(email="a@edu.mon.bg")
    b = User.objects.create_user(email="b@edu.mon.bg")
    directory.record_unknown_institutions(a, {"7777777": "teacher"}, ["7777777"])
    directory.record_unknown_institutions(b, {"7777777": "director"}, ["7777777"])
    directory.record_unknown_institutions(b, {"2206409": "teacher"}, ["2206409"])  # loaded since
    [unknown] = directory.unknown_login_codes()
    assert unknown.code == "7777777"
    assert unknown.people == (("a@edu.mon.bg", "teacher"), ("b@edu.mon.bg", "director"))
    assert unknown.first_seen <= unknown.last_seen


def test_sync_records_the_unknown_codes(school):
    person = User.objects.create_user(email="t@edu.mon.bg")
    claims = {"neispuo_roles": roles(("2206409", "teacher"), ("7777777", "director"))}
    plan = oidc.sync_memberships(person, claims)
    assert plan.unknown == ("7777777",)
    event = AccountEvent.objects.get(kind=directory.UNKNOWN_AT_LOGIN)
    assert event.detail["codes"] == ["7777777"] and event.detail["roles"] == {"7777777": "director"}


@pytest.fixture
def login(client, settings, monkeypatch):
    """Log in through the callback as the provider would, with the given claims."""
    settings.OIDC_ENABLED = True
    settings.OIDC_RP_CLIENT_ID = "helpdesk"
    settings.OIDC_RP_CLIENT_SECRET = "secret"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "http://127.0.0.1:9/authorize/"
    settings.OIDC_OP_TOKEN_ENDPOINT = "http://127.0.0.1:9/token/"
    settings.OIDC_OP_USER_ENDPOINT = "http://127.0.0.1:9/userinfo/"
    settings.OIDC_OP_JWKS_ENDPOINT = "http://127.0.0.1:9/jwks/"
    settings.AUTHENTICATION_BACKENDS = [
        "accounts.oidc.EduMonBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    backend = oidc.EduMonBackend
    monkeypatch.setattr(backend, "get_token", lambda self, payload: {"id_token": "i"})
    monkeypatch.setattr(backend, "verify_token", lambda self, token, **kw: {"nonce": "n1"})

    def log_in(claims):
        monkeypatch.setattr(backend, "get_userinfo", lambda self, *args: claims)
        session = client.session
        session["oidc_states"] = {"s1": {"nonce": "n1", "code_verifier": "v" * 64}}
        session.save()
        return client.get("/oidc/callback/?code=c1&state=s1", follow=True)

    return log_in


def claims_of(email, *pairs):
    return {
        "email": email,
        "email_verified": True,
        "name": "Нов Учител",
        "neispuo_roles": roles(*pairs),
    }


def test_a_login_naming_only_unknown_institutions_gets_a_clear_page(
    school, login, client, settings, tmp_path
):
    response = login(claims_of("new@edu.mon.bg", ("7777777", "teacher")))
    assert response.redirect_chain[-1][0] == "/oidc/unknown-institution/"
    page = response.content.decode()
    assert "7777777" in page and settings.HELPDESK["SUPPORT_ADDRESS"] in page
    assert "does not know yet" in page
    person = User.objects.get(email="new@edu.mon.bg")
    assert not Membership.objects.filter(user=person).exists()
    assert AccountEvent.objects.filter(kind=directory.UNKNOWN_AT_LOGIN).count() == 1

    # Administrators see it on the institutions list and on its own page.
    client.force_login(User.objects.create_superuser(email="admin@mon.bg", password="x"))
    listing = client.get("/admin/accounts/institution/").content.decode()
    assert "1 institution code named at edu.mon.bg logins is not in the directory" in listing
    unknown = client.get("/admin/accounts/institution/unknown-at-login/")
    assert [u.code for u in unknown.context["codes"]] == ["7777777"]
    assert "new@edu.mon.bg (teacher)" in unknown.content.decode()

    # The institution is loaded: the list empties, and the next login gives the role.
    path = tmp_path / "new.csv"
    path.write_text("code,name,kind,region\n7777777,Ново училище,school,22\n", encoding="utf-8")
    call_command("import_directory", "institutions", str(path), stdout=io.StringIO())
    assert directory.unknown_login_codes() == []
    assert "not in the directory" not in client.get("/admin/accounts/institution/").content.decode()
    client.logout()
    again = login(claims_of("new@edu.mon.bg", ("7777777", "teacher")))
    assert again.redirect_chain[-1][0] != "/oidc/unknown-institution/"
    assert Membership.objects.get(user=person).institution.code == "7777777"
    assert client.get("/oidc/unknown-institution/").status_code == 302


def test_a_login_with_one_known_institution_gets_a_warning_only(school, login):
    response = login(claims_of("both@edu.mon.bg", ("2206409", "teacher"), ("7777777", "director")))
    assert response.redirect_chain[-1][0] != "/oidc/unknown-institution/"
    messages = [str(m) for m in response.context["messages"]]
    assert any("7777777" in m and "does not know yet" in m for m in messages)
    assert Membership.objects.filter(user__email="both@edu.mon.bg").count() == 1


def test_the_unknown_page_sends_others_home(school, client, settings):
    settings.OIDC_ENABLED = True
    person = User.objects.create_user(email="t@edu.mon.bg")
    client.force_login(person)
    assert client.get("/oidc/unknown-institution/").status_code == 302
    client.logout()
    assert "/accounts/login/" in client.get("/oidc/unknown-institution/")["Location"]
