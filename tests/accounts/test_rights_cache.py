"""The per-person rights cache (accounts.rights_cache).

A warm request reads no memberships, institutions or delegations from the
database; every way they change (a revoked delegation, a removed membership,
the directory import, an institution moved or deactivated, a delegation that
simply ends) is honoured on the very next request, through the real views.
"""

import datetime
import types

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import directory, permissions, rights_cache
from accounts import services as account_services
from accounts.models import Delegation, Institution, Membership, Role
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
RIGHTS_TABLES = ("accounts_membership", "accounts_delegation", "accounts_institution")


def rights_queries(queries) -> list[str]:
    """The statements that read rights (not a join from a ticket to its institution)."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if any(f'FROM "{table}"' in q["sql"] for table in RIGHTS_TABLES)
    ]


def get(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response, queries


def filing(cast, **extra):
    return {
        "institution": cast.school_a.pk,
        "competence": cast.diplomas.pk,
        "subject": "Диплома не се качва",
        "description": "Сканираното изображение на дипломата се отхвърля.",
        **extra,
    }


def grant(cast, **kw):
    now = timezone.now()
    kw.setdefault("actor", cast.director_a)
    kw.setdefault("institution", cast.school_a)
    kw.setdefault("delegate", cast.teacher_a)
    kw.setdefault("valid_from", now)
    kw.setdefault("valid_until", now + 7 * DAY)
    return account_services.grant_delegation(**kw)


@pytest.fixture
def colleague_ticket(cast, make_ticket):
    return make_ticket(actor=cast.teacher_a_colleague, subject="Заявка на колегата")


def institution_list(client) -> str:
    return client.get("/portal/?scope=institution").content.decode()


# --- warm requests ---------------------------------------------------------------------


def test_a_warm_request_reads_no_rights_from_the_database(client, cast, make_ticket):
    make_ticket()
    grant(cast)
    client.force_login(cast.teacher_a)
    response, cold = get(client, "/portal/new/")
    assert response.status_code == 200
    assert rights_queries(cold), "the first request fills the cache from the database"

    for url in ("/portal/new/", "/portal/", "/portal/?scope=institution"):
        response, warm = get(client, url)
        assert response.status_code == 200
        assert rights_queries(warm) == [], url
    with CaptureQueriesContext(connection) as posted:
        assert client.post("/portal/new/", filing(cast)).status_code == 302
    assert rights_queries(posted) == []
    # The delegation (file + follow) still counts: the priority choice shows.
    assert 'name="priority"' in client.get("/portal/new/").content.decode()


def test_cached_institutions_are_whole_rows_with_their_region(client, cast):
    client.force_login(cast.teacher_a)
    client.get("/portal/new/")
    response, warm = get(client, "/portal/new/")
    assert rights_queries(warm) == []
    (institution,) = response.context["form"].institutions
    fresh = Institution.objects.select_related("region").get(pk=cast.school_a.pk)
    for field in Institution._meta.concrete_fields:
        assert getattr(institution, field.attname) == getattr(fresh, field.attname)
    with CaptureQueriesContext(connection) as queries:
        assert institution.region.code == fresh.region.code
        assert institution.region.name == fresh.region.name
    assert len(queries) == 0
    assert institution._state.adding is False


# --- every change is seen on the next request -----------------------------------------


def test_a_revoked_delegation_is_gone_on_the_next_request(client, cast, colleague_ticket):
    delegation = grant(cast)
    client.force_login(cast.teacher_a)
    assert colleague_ticket.reference in institution_list(client)
    assert 'name="priority"' in client.get("/portal/new/").content.decode()

    account_services.revoke_delegation(actor=cast.director_a, delegation=delegation)

    assert colleague_ticket.reference not in institution_list(client)
    assert 'name="priority"' not in client.get("/portal/new/").content.decode()
    url = f"/portal/requests/{colleague_ticket.reference}/"
    assert client.get(url).status_code == 404


def test_a_delegation_that_ends_needs_no_invalidation(client, cast, colleague_ticket, monkeypatch):
    delegation = grant(cast)
    client.force_login(cast.teacher_a)
    assert colleague_ticket.reference in institution_list(client)

    later = delegation.valid_until + datetime.timedelta(microseconds=1)
    monkeypatch.setattr(permissions, "timezone", types.SimpleNamespace(now=lambda: later))
    with CaptureQueriesContext(connection) as queries:
        listed = institution_list(client)
    assert rights_queries(queries) == [], "decided from the cached delegation, by the clock"
    assert colleague_ticket.reference not in listed


def test_a_scheduled_delegation_starts_without_invalidation(
    client, cast, colleague_ticket, monkeypatch
):
    start = timezone.now() + DAY
    grant(cast, valid_from=start, valid_until=start + DAY)
    client.force_login(cast.teacher_a)
    assert colleague_ticket.reference not in institution_list(client)

    monkeypatch.setattr(permissions, "timezone", types.SimpleNamespace(now=lambda: start))
    assert colleague_ticket.reference in institution_list(client)


def test_a_removed_membership_is_gone_on_the_next_request(client, cast):
    client.force_login(cast.teacher_a)
    assert client.post("/portal/new/", filing(cast)).status_code == 302

    Membership.objects.get(user=cast.teacher_a, institution=cast.school_a).delete()

    response = client.post("/portal/new/", filing(cast, subject="Втори опит"))
    assert response.status_code == 200
    assert "portal/no_institution.html" in [t.name for t in response.templates]
    assert Ticket.objects.filter(requester=cast.teacher_a).count() == 1


def test_a_changed_role_counts_on_the_next_request(client, cast, colleague_ticket):
    client.force_login(cast.teacher_a)
    assert colleague_ticket.reference not in institution_list(client)
    membership = Membership.objects.get(user=cast.teacher_a, institution=cast.school_a)
    membership.role = Role.ICT_LEAD
    membership.save()
    assert colleague_ticket.reference in institution_list(client)


def test_a_membership_moved_to_someone_else_is_gone_for_both(client, cast):
    client.force_login(cast.teacher_a)
    client.get("/portal/new/")
    # The administration's membership page lets the person be changed.
    membership = Membership.objects.get(user=cast.teacher_a, institution=cast.school_a)
    membership.user = cast.teacher_b
    membership.save()
    response = client.get("/portal/new/")
    assert "portal/no_institution.html" in [t.name for t in response.templates]
    client.force_login(cast.teacher_b)
    choices = client.get("/portal/new/").context["form"].institutions
    assert {i.pk for i in choices} == {cast.school_a.pk, cast.school_b.pk}


def test_a_membership_of_another_person_leaves_the_entry_alone(client, cast):
    client.force_login(cast.teacher_a)
    client.get("/portal/new/")
    Membership.objects.create(user=cast.teacher_b, institution=cast.school_a, role=Role.TEACHER)
    _response, queries = get(client, "/portal/new/")
    assert rights_queries(queries) == []


def test_an_institution_moved_to_another_region_files_there_next(client, cast):
    client.force_login(cast.teacher_a)
    assert client.post("/portal/new/", filing(cast)).status_code == 302
    assert Ticket.objects.get(requester=cast.teacher_a).region_id == cast.region_x.pk

    cast.school_a.region = cast.region_y
    cast.school_a.name = "138 СУ „Васил Левски“"
    cast.school_a.save()

    response = client.get("/portal/new/")
    (institution,) = response.context["form"].institutions
    assert institution.name == "138 СУ „Васил Левски“"
    assert institution.region.code == cast.region_y.code
    assert client.post("/portal/new/", filing(cast, subject="Втора")).status_code == 302
    latest = Ticket.objects.filter(requester=cast.teacher_a).latest("id")
    assert latest.region_id == cast.region_y.pk


def test_a_deactivated_institution_is_seen_on_the_next_request(client, cast):
    client.force_login(cast.teacher_a)
    client.get("/portal/new/")
    # The directory import deactivates in bulk (a queryset update, no signal).
    directory.run_import(
        "institutions",
        [
            "code,name,kind,region,municipality,email_domains",
            "2200777,ДГ Слънце,kindergarten,22,Столична,",
            "1600101,ОУ Христо Ботев,school,16,Пловдив,",
        ],
        prune=True,
    )
    assert Institution.objects.get(pk=cast.school_a.pk).is_active is False
    (institution,) = client.get("/portal/new/").context["form"].institutions
    assert institution.is_active is False


def test_the_directory_import_removes_rights_on_the_next_request(client, cast, colleague_ticket):
    grant(cast)
    client.force_login(cast.teacher_a)
    assert colleague_ticket.reference in institution_list(client)
    assert client.get("/portal/new/").context["form"].institutions

    # The file names school A's people except teacher A: pruned, and the
    # delegation ends with the membership (bulk delete, bulk update).
    keep = [
        (cast.director_a, Role.DIRECTOR),
        (cast.deputy_a, Role.DEPUTY_DIRECTOR),
        (cast.ict_a, Role.ICT_LEAD),
        (cast.teacher_a_colleague, Role.TEACHER),
        (cast.secretary_a, Role.SECRETARY),
    ]
    lines = ["email,full_name,institution_code,role"]
    lines += [f"{u.email},{u.full_name},{cast.school_a.code},{role}" for u, role in keep]
    report = directory.run_import("memberships", lines, prune=True)
    assert report.written
    assert not Membership.objects.filter(user=cast.teacher_a).exists()
    assert Delegation.objects.get(delegate=cast.teacher_a).revoked_at is not None

    assert colleague_ticket.reference not in institution_list(client)
    response = client.get("/portal/new/")
    assert "portal/no_institution.html" in [t.name for t in response.templates]


def test_a_role_changed_by_the_directory_import_counts_on_the_next_request(
    client, cast, colleague_ticket
):
    client.force_login(cast.teacher_a)
    assert colleague_ticket.reference not in institution_list(client)
    lines = [
        "email,full_name,institution_code,role",
        f"{cast.teacher_a.email},{cast.teacher_a.full_name},{cast.school_a.code},director",
    ]
    directory.run_import("memberships", lines)  # a bulk update of the role
    assert colleague_ticket.reference in institution_list(client)


# --- the versions ----------------------------------------------------------------------


def roles_read(user_id):
    with CaptureQueriesContext(connection) as queries:
        roles = rights_cache.load(user_id)["roles"]
    return roles, bool(rights_queries(queries))


def test_an_entry_stored_late_under_an_old_version_is_not_used(cast):
    uid = cast.teacher_a.pk
    assert roles_read(uid) == ({cast.school_a.pk: Role.TEACHER}, True)
    entry_key = f"rights:e:{uid}"
    stale = cache.get(entry_key)
    # A slow request read the rows before the change and stores them after it.
    Membership.objects.filter(user_id=uid).get().delete()
    cache.set(entry_key, stale)
    assert roles_read(uid) == ({}, True)
    assert roles_read(uid) == ({}, False)


def test_an_evicted_version_never_matches_an_old_entry(cast):
    uid = cast.teacher_a.pk
    roles_read(uid)
    cache.delete(f"rights:v:{uid}")
    assert roles_read(uid) == ({cast.school_a.pk: Role.TEACHER}, True)
    cache.delete("rights:directory")
    assert roles_read(uid) == ({cast.school_a.pk: Role.TEACHER}, True)
    assert roles_read(uid)[1] is False


def test_the_version_is_bumped_again_when_the_transaction_commits(
    cast, django_capture_on_commit_callbacks
):
    uid = cast.teacher_a.pk
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Membership.objects.filter(user_id=uid).get().delete()
        at_once = cache.get(f"rights:v:{uid}")
        assert at_once is not None
    assert callbacks
    assert cache.get(f"rights:v:{uid}") not in (None, at_once)


def test_a_change_in_another_process_is_seen_through_the_stamp_file(cast, settings, tmp_path):
    settings.HELPDESK_RIGHTS_STAMP_FILE = str(tmp_path / "rights.stamp")
    uid = cast.teacher_a.pk
    roles_read(uid)
    assert roles_read(uid)[1] is False
    # Another process (its own local-memory cache) changed the role: its
    # bump reached this process only through the stamp file.
    Membership.objects.filter(user_id=uid).update(role=Role.DIRECTOR)
    rights_cache._write_stamp()
    assert roles_read(uid) == ({cast.school_a.pk: Role.DIRECTOR}, True)


def test_the_database_answers_when_the_cache_fails(cast, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(rights_cache.cache, "get_many", broken)
    assert roles_read(cast.teacher_a.pk) == ({cast.school_a.pk: Role.TEACHER}, True)


def test_permission_helpers_agree_with_the_database(cast):
    grant(cast, rights=[Delegation.Right.FOLLOW])
    for user in (cast.teacher_a, cast.director_a, cast.teacher_b):
        for _round in range(2):  # cold, then warm
            fresh = type(user).objects.get(pk=user.pk)
            roles = dict(Membership.objects.filter(user=user).values_list("institution_id", "role"))
            assert permissions.member_roles(fresh) == roles
            active = Delegation.objects.active().filter(delegate=user)
            assert {d.pk for d in permissions.active_delegations(fresh)} == {d.pk for d in active}
            assert [i.pk for i in permissions.member_institutions(fresh)] == list(
                Institution.objects.filter(memberships__user=user)
                .order_by("name")
                .values_list("pk", flat=True)
            )
