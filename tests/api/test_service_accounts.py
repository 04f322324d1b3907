"""Service accounts: an integration bound to an institution or a region, within its scopes."""

import pytest

from tests.api.conftest import V1

pytestmark = pytest.mark.django_db


def refs(client, path=f"{V1}/tickets/"):
    return {t["reference"] for t in client.get(path).json()["results"]}


def test_an_institution_account_sees_and_files_for_its_institution_only(
    cast, make_ticket, service_account
):
    ours = make_ticket(actor=cast.teacher_a)
    theirs = make_ticket(actor=cast.teacher_b, institution=cast.school_b)
    _account, client, _token = service_account(institution=cast.school_a)
    assert refs(client) == {ours.reference}
    assert client.get(f"{V1}/tickets/{theirs.reference}/").status_code == 404
    created = client.post(
        f"{V1}/tickets/",
        {
            "subject": "Синхронизация",
            "text": "Дневникът не синхронизира.",
            "institution": "2206409",
        },
        "application/json",
    )
    assert created.status_code == 201, created.content
    refused = client.post(
        f"{V1}/tickets/",
        {"subject": "Чужда", "text": "x", "institution": cast.school_b.code},
        "application/json",
    )
    assert refused.status_code == 403


def test_a_region_account_sees_its_region_and_may_act_there(cast, make_ticket, service_account):
    in_region = make_ticket(actor=cast.teacher_a)
    elsewhere = make_ticket(actor=cast.teacher_b, institution=cast.school_b)
    account, client, _token = service_account(region=cast.region_x)
    assert refs(client) == {in_region.reference}
    response = client.post(
        f"{V1}/tickets/{in_region.reference}/status/", {"status": "waiting"}, "application/json"
    )
    assert response.status_code == 200 and response.json()["status"] == "waiting"
    assert client.get(f"{V1}/tickets/{elsewhere.reference}/").status_code == 404
    refused = client.post(
        f"{V1}/tickets/",
        {"subject": "Чужда", "text": "x", "institution": cast.school_b.code},
        "application/json",
    )
    assert refused.status_code == 403 and refused.json()["fields"] == {
        "institution": [refused.json()["detail"]]
    }
    assert account.user.has_usable_password() is False


def test_a_service_accounts_scopes_cap_its_tokens(cast, make_ticket, service_account):
    ticket = make_ticket(actor=cast.teacher_a)
    _account, client, _token = service_account(institution=cast.school_a, scopes=["read"])
    assert client.get(f"{V1}/tickets/{ticket.reference}/").status_code == 200
    response = client.post(
        f"{V1}/tickets/{ticket.reference}/messages/", {"text": "x"}, "application/json"
    )
    assert response.status_code == 403 and response.json()["code"] == "scope"


def test_the_admin_creates_a_service_account_and_issues_a_token(client, cast):
    from api.models import ApiToken, ServiceAccount

    client.force_login(cast.admin)
    response = client.post(
        "/admin/api/serviceaccount/add/",
        {
            "name": "Е-дневник АД",
            "institution": cast.school_a.pk,
            "region": "",
            "scopes": ["read", "file"],
            "contact_email": "ops@vendor.example",
            "note": "",
            "is_active": "on",
            "tokens-TOTAL_FORMS": "0",
            "tokens-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    account = ServiceAccount.objects.get(name="Е-дневник АД")
    assert account.user.memberships.get().institution == cast.school_a
    response = client.post(
        "/admin/api/serviceaccount/",
        {"action": "issue_token", "_selected_action": [account.pk]},
        follow=True,
    )
    assert ApiToken.objects.filter(service_account=account).count() == 1
    assert "hd_" in response.content.decode()
