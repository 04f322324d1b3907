"""Tokens: made on the API's page, stored hashed, refused at once when revoked or deactivated."""

import datetime
import hashlib

import pytest
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken
from tests.api.conftest import V1, TokenClient

pytestmark = pytest.mark.django_db


def test_a_bearer_token_is_the_person(cast, token_for):
    client, token, secret = token_for(cast.teacher_a)
    body = client.get(f"{V1}/me/").json()
    assert body["email"] == cast.teacher_a.email
    assert body["token"]["prefix"] == secret[:10]
    token.refresh_from_db()
    assert token.last_used_at is not None
    # The keyword "Token" works as well.
    other = TokenClient("x")
    other.defaults["HTTP_AUTHORIZATION"] = f"Token {secret}"
    assert other.get(f"{V1}/me/").status_code == 200


def test_only_the_hash_is_stored(cast):
    token, secret = ApiToken.issue(user=cast.teacher_a, name="sync")
    assert secret.startswith("hd_") and len(secret) > 40
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.filter(pk=token.pk).values().get())


@pytest.mark.parametrize(
    "header", ["Bearer nonsense", "Bearer", "Bearer a b", "Token " + "x" * 300, "Bearer \u0436"]
)
def test_bad_tokens_get_401_with_the_error_body(client, header):
    response = client.get(f"{V1}/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert set(response.json()) == {"code", "detail", "fields"}


def test_anonymous_v1_gets_401_and_the_first_api_keeps_403(client):
    response = client.get(f"{V1}/tickets/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert client.get(reverse("api:ticket-list")).status_code == 403


def test_revoked_and_expired_tokens_stop(cast, token_for):
    client, token, _secret = token_for(cast.teacher_a)
    assert client.get(f"{V1}/me/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert client.get(f"{V1}/me/").status_code == 401
    client, token, _secret = token_for(
        cast.teacher_a, expires_at=timezone.now() + datetime.timedelta(seconds=-1)
    )
    assert client.get(f"{V1}/me/").status_code == 401


def test_deactivating_the_person_stops_their_tokens_on_the_next_request(cast, token_for):
    client, _token, _secret = token_for(cast.teacher_a)
    assert client.get(f"{V1}/tickets/").status_code == 200
    type(cast.teacher_a).objects.filter(pk=cast.teacher_a.pk).update(is_active=False)
    response = client.get(f"{V1}/tickets/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_deactivating_a_service_account_stops_its_tokens(cast, service_account):
    account, client, _token = service_account(institution=cast.school_a)
    assert client.get(f"{V1}/tickets/").status_code == 200
    type(account).objects.filter(pk=account.pk).update(is_active=False)
    assert client.get(f"{V1}/tickets/").status_code == 401


def test_a_token_without_the_scope_is_refused(cast, token_for, make_ticket):
    ticket = make_ticket()
    client, _token, _secret = token_for(cast.teacher_a, scopes=["read"])
    assert client.get(f"{V1}/tickets/{ticket.reference}/").status_code == 200
    response = client.post(
        f"{V1}/tickets/{ticket.reference}/messages/", {"text": "x"}, "application/json"
    )
    assert response.status_code == 403 and response.json()["code"] == "scope"
    response = client.post(
        f"{V1}/tickets/",
        {"subject": "s", "text": "t", "institution": cast.school_a.code},
        "application/json",
    )
    assert response.status_code == 403 and response.json()["code"] == "scope"
    assert ticket.messages.count() == 1


def test_the_token_page_makes_lists_and_revokes(client, cast):
    client.force_login(cast.teacher_a)
    page = client.get(reverse("accounts:profile")).content.decode()
    assert reverse("api:v1:tokens") in page
    response = client.post(
        reverse("api:v1:tokens"), {"name": "e-diary", "expires": "30", "scopes": ["read", "reply"]}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "{% extends" not in html and 'class="site-header"' in html  # the site's layout
    token = ApiToken.objects.get(user=cast.teacher_a)
    secret = html.split('data-test="token-secret">')[1].split("<")[0]
    assert hashlib.sha256(secret.encode()).hexdigest() == token.key_hash
    assert token.scopes == ["read", "reply"]
    assert token.expires_at > timezone.now() + datetime.timedelta(days=29)
    # Listed again without the secret.
    again = client.get(reverse("api:v1:tokens")).content.decode()
    assert "e-diary" in again and secret not in again
    assert TokenClient(secret).get(f"{V1}/me/").status_code == 200
    client.post(reverse("api:v1:token_revoke", args=[token.pk]))
    assert TokenClient(secret).get(f"{V1}/me/").status_code == 401


def test_nobody_revokes_someone_elses_token(client, cast):
    token, secret = ApiToken.issue(user=cast.teacher_b, name="theirs")
    client.force_login(cast.teacher_a)
    client.post(reverse("api:v1:token_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_session_works_for_the_pages_own_javascript(client, cast):
    client.force_login(cast.teacher_a)
    body = client.get(f"{V1}/me/").json()
    assert body["token"] is None and body["scopes"] == ["act", "file", "read", "reply"]
