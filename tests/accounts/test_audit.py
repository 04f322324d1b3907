"""The access audit: a row for every kind, append-only, filters and the CSV export."""

import csv
import datetime
import io

import pytest
from django.contrib.auth.models import Group
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts import audit, directory, oidc, services
from accounts.models import AccountEvent, AgentProfile, Membership
from tests.accounts.test_login_hardening import code_for, enrolled, post_login

Kind = AccountEvent.Kind
PASSWORD = "pw-Secret-123"


@pytest.fixture(autouse=True)
def _otp_on(settings):
    settings.HELPDESK_OTP_REQUIRED = True
    settings.HELPDESK_LOCAL_LOGIN = "everyone"


@pytest.fixture
def admin_client(cast):
    client = Client()
    client.force_login(cast.admin)
    return client


def kinds_of(**filters) -> list[str]:
    return list(
        AccountEvent.objects.filter(**filters).order_by("pk").values_list("kind", flat=True)
    )


# --------------------------------------------------------------------------- every kind


def test_logins_failures_lockouts_and_codes_are_recorded(client, cast):
    post_login(client, "teacher.a@edu.mon.bg", "wrong")
    post_login(client, "teacher.a@edu.mon.bg", PASSWORD)
    login = AccountEvent.objects.get(kind=Kind.LOGIN, subject=cast.teacher_a)
    assert login.ip == "10.1.2.3"
    assert login.detail["method"] == "password" and login.detail["second_factor"] == "not asked"
    failed = AccountEvent.objects.get(kind=Kind.LOGIN_FAILED)
    assert failed.subject == cast.teacher_a and failed.detail["username"] == "teacher.a@edu.mon.bg"
    assert set(failed.detail) == {"username", "method"}  # never the password typed

    other = Client()
    for _ in range(5):
        post_login(other, "nobody@edu.mon.bg", "wrong")
    lockout = AccountEvent.objects.get(kind=Kind.LOCKOUT)
    assert lockout.subject is None and lockout.detail["username"] == "nobody@edu.mon.bg"

    agent = Client()
    device = enrolled(cast.expert_x)
    post_login(agent, "expert.x@ruo.bg", PASSWORD)
    agent.post("/accounts/second-factor/", {"code": "123456"})
    device.refresh_from_db()
    device.throttle_reset()
    agent.post("/accounts/second-factor/", {"code": code_for(device)})
    assert kinds_of(subject=cast.expert_x) == ["login", "otp_failed", "otp_verified"]


def test_oidc_logins_are_recorded_with_their_method(cast, settings):
    settings.OIDC_ENABLED = True
    request = RequestFactory().get("/oidc/callback/", REMOTE_ADDR="192.0.2.7")
    request.session = Client().session
    cast.teacher_a.backend = "accounts.oidc.EduMonBackend"
    audit.on_user_logged_in(sender=None, request=request, user=cast.teacher_a)
    event = AccountEvent.objects.get(kind=Kind.LOGIN)
    assert event.detail == {"email": "teacher.a@edu.mon.bg", "method": "oidc"}
    assert event.ip == "192.0.2.7" and event.subject == cast.teacher_a


def test_delegations_memberships_and_unknown_institutions_name_the_person(cast):
    now = timezone.now()
    delegation = services.grant_delegation(
        actor=cast.director_a,
        institution=cast.school_a,
        delegate=cast.teacher_a,
        valid_from=now,
        valid_until=now + datetime.timedelta(days=7),
    )
    services.revoke_delegation(actor=cast.director_a, delegation=delegation)
    oidc.sync_memberships(
        cast.teacher_b, {"neispuo_roles": [{"institution": "1600101", "role": "ict_lead"}]}
    )
    directory.record_unknown_institutions(cast.teacher_b, {"7777777": "teacher"}, ["7777777"])
    assert kinds_of(subject=cast.teacher_a) == ["delegation_granted", "delegation_revoked"]
    assert set(kinds_of(detail__person="teacher.b@edu.mon.bg")) == {
        "membership_changed",
        "login_unknown_institution",
    }
    assert kinds_of(subject=cast.teacher_b) == ["membership_changed"]


def test_admin_changes_of_roles_memberships_and_agents_are_recorded(admin_client, cast):
    # A membership added, changed and removed in the memberships admin.
    response = admin_client.post(
        "/admin/accounts/membership/add/",
        {"user": cast.teacher_b.pk, "institution": cast.school_a.pk, "role": "teacher"},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=cast.teacher_b, institution=cast.school_a)
    admin_client.post(
        f"/admin/accounts/membership/{membership.pk}/change/",
        {"user": cast.teacher_b.pk, "institution": cast.school_a.pk, "role": "ict_lead"},
    )
    admin_client.post(f"/admin/accounts/membership/{membership.pk}/delete/", {"post": "yes"})
    assert kinds_of(subject=cast.teacher_b, institution=cast.school_a) == [
        "membership_added",
        "membership_changed",
        "membership_removed",
    ]
    changed = AccountEvent.objects.get(kind=Kind.MEMBERSHIP_CHANGED, subject=cast.teacher_b)
    assert changed.actor == cast.admin
    assert changed.detail["from"] == "teacher" and changed.detail["to"] == "ict_lead"

    # An agent profile added, changed and removed.
    response = admin_client.post(
        "/admin/accounts/agentprofile/add/",
        {
            "user": cast.teacher_b.pk,
            "tier": "central",
            "kind": "expert",
            "region": "",
            "competences": [cast.technical.pk],
            "capacity": 5,
            "absences-TOTAL_FORMS": "0",
            "absences-INITIAL_FORMS": "0",
            "absences-MIN_NUM_FORMS": "0",
            "absences-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    profile = AgentProfile.objects.get(user=cast.teacher_b)
    admin_client.post(
        f"/admin/accounts/agentprofile/{profile.pk}/change/",
        {
            "user": cast.teacher_b.pk,
            "tier": "regional",
            "kind": "expert",
            "region": cast.region_x.pk,
            "competences": [cast.technical.pk, cast.diplomas.pk],
            "capacity": 5,
            "absences-TOTAL_FORMS": "0",
            "absences-INITIAL_FORMS": "0",
            "absences-MIN_NUM_FORMS": "0",
            "absences-MAX_NUM_FORMS": "1000",
        },
    )
    admin_client.post(f"/admin/accounts/agentprofile/{profile.pk}/delete/", {"post": "yes"})
    assert [k for k in kinds_of(subject=cast.teacher_b) if k.startswith("agent")] == [
        "agent_added",
        "agent_changed",
        "agent_removed",
    ]
    change = AccountEvent.objects.get(kind=Kind.AGENT_CHANGED)
    assert change.detail["tier"] == {"from": "central", "to": "regional"}
    assert change.detail["region"] == {"from": None, "to": "22"}
    assert change.detail["competences"]["to"] == sorted(["technical", "diplomas"])

    # Administration rights (staff flag, groups) changed in the person form.
    group = Group.objects.create(name="Поддръжка")
    page = admin_client.get(f"/admin/accounts/user/{cast.teacher_a.pk}/change/")
    form = page.context["adminform"].form
    data = {
        "email": cast.teacher_a.email,
        "full_name": cast.teacher_a.full_name,
        "language": "bg",
        "is_active": "on",
        "is_staff": "on",
        "groups": [group.pk],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(cast.teacher_a.memberships.get().pk),
        "memberships-0-user": str(cast.teacher_a.pk),
        "memberships-0-institution": str(cast.school_a.pk),
        "memberships-0-role": "secretary",
    }
    assert "email" in form.fields
    response = admin_client.post(f"/admin/accounts/user/{cast.teacher_a.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    rights = AccountEvent.objects.get(kind=Kind.ADMIN_RIGHTS_CHANGED)
    assert rights.subject == cast.teacher_a
    assert rights.detail["is_staff"] == {"from": False, "to": True}
    assert rights.detail["groups"] == {"from": [], "to": ["Поддръжка"]}
    inline = AccountEvent.objects.get(kind=Kind.MEMBERSHIP_CHANGED, subject=cast.teacher_a)
    assert inline.detail["from"] == "teacher" and inline.detail["to"] == "secretary"


def test_imports_and_deactivations_are_recorded(cast, tmp_path):
    from django.core.management import call_command

    csv_file = tmp_path / "staff.csv"
    csv_file.write_text(
        "email,full_name,institution_code,role\nnew.teacher@edu.mon.bg,Нов Учител,2206409,teacher\n",
        encoding="utf-8",
    )
    call_command(
        "import_directory", "memberships", str(csv_file), "--dry-run", stdout=io.StringIO()
    )
    assert not AccountEvent.objects.filter(kind=Kind.DIRECTORY_IMPORT).exists()
    call_command("import_directory", "memberships", str(csv_file), stdout=io.StringIO())
    event = AccountEvent.objects.get(kind=Kind.DIRECTORY_IMPORT)
    assert event.detail["kind"] == "memberships" and event.detail["created"] == 1
    assert event.detail["source"] == "command" and event.detail["file"] == "staff.csv"

    services.deactivate_user(cast.teacher_b, actor=cast.admin)
    assert kinds_of(subject=cast.teacher_b) == ["deactivated"]


def test_a_password_reset_is_recorded(client, cast):
    client.post("/accounts/password-reset/", {"email": "teacher.a@edu.mon.bg"})
    assert kinds_of(subject=cast.teacher_a) == ["password_reset_requested"]


def test_every_kind_has_a_writer(cast):
    """Each kind in the list is written somewhere in the project (not only declared)."""
    from pathlib import Path

    packages = ("accounts", "tickets", "kb", "portal", "console", "api", "mailbridge")
    source = "".join(
        path.read_text(encoding="utf-8")
        for package in packages
        for path in Path(package).rglob("*.py")
        if "migrations" not in path.parts
    )
    for value, _label in Kind.choices:
        name = Kind(value).name
        declared = f'{name} = "{value}"'
        assert f"Kind.{name}" in source or f'"{value}"' in source.replace(declared, ""), value


# --------------------------------------------------------------------------- append-only


def test_rows_cannot_be_changed_or_deleted(cast):
    event = audit.record(Kind.LOGIN, subject=cast.teacher_a)
    event.kind = Kind.LOGIN_FAILED
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AccountEvent.objects.filter(pk=event.pk).update(kind="x")
    with pytest.raises(TypeError):
        AccountEvent.objects.all().delete()
    assert AccountEvent.objects.get(pk=event.pk).kind == Kind.LOGIN


def test_deleting_a_person_keeps_their_history(cast):
    audit.record(Kind.LOGIN, subject=cast.outsider, detail={"email": cast.outsider.email})
    cast.outsider.delete()
    event = AccountEvent.objects.get(kind=Kind.LOGIN)
    assert event.subject is None and event.detail["email"] == "outsider@example.com"


def test_the_admin_shows_but_neither_adds_changes_nor_deletes(admin_client, cast):
    event = audit.record(Kind.LOGIN, subject=cast.teacher_a)
    assert admin_client.get("/admin/accounts/accountevent/").status_code == 200
    assert admin_client.get(f"/admin/accounts/accountevent/{event.pk}/change/").status_code == 200
    assert admin_client.get("/admin/accounts/accountevent/add/").status_code == 403
    assert (
        admin_client.post(
            f"/admin/accounts/accountevent/{event.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    admin_client.post(f"/admin/accounts/accountevent/{event.pk}/change/", {"kind": "login_failed"})
    event.refresh_from_db()
    assert event.kind == Kind.LOGIN


# --------------------------------------------------------------------------- filters and CSV


@pytest.fixture
def history(cast):
    AccountEvent.objects.create(
        kind=Kind.LOGIN,
        subject=cast.teacher_a,
        detail={"email": cast.teacher_a.email},
        created_at=timezone.now() - datetime.timedelta(days=40),
    )
    audit.record(Kind.LOGIN, subject=cast.teacher_a, detail={"email": cast.teacher_a.email})
    audit.record(
        Kind.LOGIN_FAILED, subject=cast.teacher_b, detail={"username": "=cmd|' /C calc'!A0"}
    )
    audit.record(
        Kind.MEMBERSHIP_ADDED,
        actor=cast.admin,
        subject=cast.teacher_b,
        institution=cast.school_b,
        detail={"person": cast.teacher_b.email, "role": "учител"},
    )


def listed(admin_client, query: str) -> list[str]:
    response = admin_client.get(f"/admin/accounts/accountevent/?{query}")
    assert response.status_code == 200
    # Leave out the administrator's own login (force_login records one too).
    return sorted(
        e.kind for e in response.context["cl"].result_list if e.subject.email != "admin@mon.bg"
    )


def test_the_list_filters_by_person_institution_kind_and_date(admin_client, history):
    assert listed(admin_client, "person=teacher.a@edu.mon.bg") == ["login", "login"]
    assert listed(admin_client, "person=TEACHER.B@edu.mon.bg") == [
        "login_failed",
        "membership_added",
    ]
    assert listed(admin_client, "institution_code=1600101") == ["membership_added"]
    assert listed(admin_client, "kind__exact=login") == ["login", "login"]
    assert listed(
        admin_client,
        "created_at__gte=" + (timezone.localdate() - datetime.timedelta(days=7)).isoformat(),
    ) == [
        "login",
        "login_failed",
        "membership_added",
    ]
    page = admin_client.get(
        "/admin/accounts/accountevent/?person=teacher.a@edu.mon.bg"
    ).content.decode()
    assert 'data-test="audit-export"' in page
    assert "export.csv?person=teacher.a%40edu.mon.bg" in page


def test_the_csv_export_is_for_bulgarian_excel_and_follows_the_filters(admin_client, history):
    response = admin_client.get(
        "/admin/accounts/accountevent/export.csv?person=teacher.b@edu.mon.bg"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = response.content
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == list(audit.CSV_COLUMNS)
    assert len(rows) == 3
    by_kind = {row[1].split(" ")[0]: row for row in rows[1:]}
    member = by_kind["membership_added"]
    assert member[2] == "admin@mon.bg" and member[3] == "teacher.b@edu.mon.bg"
    assert member[4] == "1600101" and "role=учител" in member[6]
    # A username typed at the login form is never a formula in Excel.
    assert by_kind["login_failed"][6].startswith("'") or "username==" in by_kind["login_failed"][6]
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_only_those_who_may_see_the_audit_export_it(cast, history):
    client = Client()
    client.force_login(cast.expert_x)
    assert client.get("/admin/accounts/accountevent/export.csv").status_code == 302
