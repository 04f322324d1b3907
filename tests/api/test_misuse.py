"""Misuse: malformed input never makes a 5xx, one error shape, idempotent retries, limits."""

import base64
import json
from urllib.parse import urlencode

import pytest
from django.core.cache import cache

from api.models import IdempotencyKey
from tests.api.conftest import V1
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

FILE = {"subject": "Не мога да вляза", "text": "Паролата не работи.", "institution": "2206409"}


def post(client, path, body, **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data, content_type="application/json", **headers)


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert isinstance(body["detail"], str) and body["detail"]
    if code:
        assert body["code"] == code
    return body


@pytest.mark.parametrize(
    "body",
    [
        "{bad json",
        "",
        "null",
        "[1, 2]",
        '"a string"',
        "1e999999",
        '{"subject": "\\ud800"}',
        b"\xff\xfe\x00garbage",
    ],
)
def test_malformed_bodies_are_400(cast, token_for, body):
    client, _token, _secret = token_for(cast.teacher_a)
    response = post(client, f"{V1}/tickets/", body)
    assert 400 <= response.status_code < 500, response.content
    assert set(response.json()) == {"code", "detail", "fields"}
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"subject": 12}, None),
        ({"subject": ["a"]}, "subject"),
        ({"subject": {"x": 1}}, "subject"),
        ({"text": None}, "text"),
        ({"institution": 10**40}, "institution"),
        ({"priority": "sky-high"}, "priority"),
        ({"competence": 7}, "competence"),
        ({"subject": "x" * 5000}, "subject"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_wrong_types_huge_values_and_unknown_fields(cast, token_for, change, field):
    client, _token, _secret = token_for(cast.teacher_a)
    response = post(client, f"{V1}/tickets/", {**FILE, **change})
    if field is None:  # a number where text is expected is read as text, as DRF does
        assert response.status_code in (201, 400, 403)
        return
    body = assert_error(response, 400, "invalid")
    assert field in body["fields"]


@pytest.mark.parametrize("value", [10**30, -1, "abc", 1.5, True, [1]])
def test_huge_numbers_in_a_reply(cast, make_ticket, token_for, value):
    ticket = make_ticket()
    client, _token, _secret = token_for(cast.teacher_a)
    response = post(
        client,
        f"{V1}/tickets/{ticket.reference}/messages/",
        {"text": "x", "last_message_id": value},
    )
    assert "last_message_id" in assert_error(response, 400, "invalid")["fields"]


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "garbage"},
        {"cursor": "cD05OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ=="},  # p=9999… (not a time)
        {"page_size": "10000000000000000000000"},
        {"page_size": "-3"},
        {"status": "nope"},
        {"created_from": "99999-01-01"},
        {"updated_since": "2026-13-45T99:00"},
        {"updated_since": "2020-01-01T00:00:00+23:59"},
        {"updated_since": "0001-01-01T00:00:00+14:00"},
        {"region": "10000000000000000000000"},
        {"assignee": "99999999999999999999999"},
        {"ordering": "password"},
    ],
)
def test_malformed_queries_never_5xx(cast, token_for, make_ticket, query):
    make_ticket()
    client, _token, _secret = token_for(cast.expert_x)
    response = client.get(f"{V1}/tickets/", query)
    assert response.status_code < 500, response.content
    if response.status_code != 200:
        assert set(response.json()) == {"code", "detail", "fields"}


@pytest.mark.parametrize(
    "path",
    [
        "/tickets/26-1/",
        "/tickets/00-0000000000000000/",
        "/attachments/99999999999999999999/download/",
        "/attachments/abc/",
        "/institutions/99999999/",
        "/kb/articles/999999999999999999/",
        "/kb/articles/search/?q=" + "ж" * 5000,
        "/kb/articles/search/?q=x&language=xx",
    ],
)
def test_odd_paths_are_4xx(cast, token_for, path):
    client, _token, _secret = token_for(cast.teacher_a)
    response = client.get(V1 + path)
    assert 400 <= response.status_code < 500 or response.status_code == 200


def test_errors_speak_the_callers_language(cast, token_for):
    client, _token, _secret = token_for(cast.teacher_a)
    english = post(
        client, f"{V1}/tickets/", {**FILE, "institution": "9999999"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    bulgarian = post(
        client, f"{V1}/tickets/", {**FILE, "institution": "9999999"}, HTTP_ACCEPT_LANGUAGE="bg"
    )
    assert english.json()["detail"] == "There is no institution with code 9999999."
    assert bulgarian.json()["detail"] != english.json()["detail"]
    assert english.json()["fields"] == {"institution": [english.json()["detail"]]}


def test_a_retried_post_with_the_same_key_files_once(cast, token_for):
    client, _token, _secret = token_for(cast.teacher_a)
    first = post(client, f"{V1}/tickets/", FILE, HTTP_IDEMPOTENCY_KEY="k-1")
    again = post(client, f"{V1}/tickets/", FILE, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 1
    other = post(client, f"{V1}/tickets/", {**FILE, "subject": "друго"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert_error(other, 422, "idempotency_mismatch")
    # Another person's identical key is theirs alone.
    director, _t, _s = token_for(cast.director_a)
    assert post(director, f"{V1}/tickets/", FILE, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    assert Ticket.objects.count() == 2


def test_a_retried_reply_is_added_once(cast, make_ticket, token_for):
    ticket = make_ticket()
    client, _token, _secret = token_for(cast.teacher_a)
    url = f"{V1}/tickets/{ticket.reference}/messages/"
    for _ in range(3):
        response = post(client, url, {"text": "Още нещо"}, HTTP_IDEMPOTENCY_KEY="reply-7")
        assert response.status_code == 201
    assert ticket.messages.count() == 2


def test_a_refused_post_keeps_its_key_free(cast, token_for):
    client, _token, _secret = token_for(cast.teacher_a)
    refused = post(
        client, f"{V1}/tickets/", {**FILE, "institution": "1600101"}, HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert refused.status_code == 403
    assert not IdempotencyKey.objects.exists()
    assert post(client, f"{V1}/tickets/", FILE, HTTP_IDEMPOTENCY_KEY="k-2").status_code == 201


def test_a_bad_idempotency_key_is_400(cast, token_for):
    client, _token, _secret = token_for(cast.teacher_a)
    response = post(client, f"{V1}/tickets/", FILE, HTTP_IDEMPOTENCY_KEY="x" * 300)
    assert "Idempotency-Key" in assert_error(response, 400, "invalid")["fields"]


def test_throttled_per_token_with_retry_after(cast, token_for, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "100/min", "person": "100/min", "token": "2/min"},
    }
    cache.clear()
    client, _token, _secret = token_for(cast.teacher_a)
    assert client.get(f"{V1}/me/").status_code == 200
    assert client.get(f"{V1}/me/").status_code == 200
    response = client.get(f"{V1}/me/")
    assert_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    # A second token of the same person has its own allowance ...
    second, _t, _s = token_for(cast.teacher_a)
    assert second.get(f"{V1}/me/").status_code == 200


def test_throttled_per_person_across_tokens(cast, token_for, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "100/min", "person": "3/min", "token": "100/min"},
    }
    cache.clear()
    tokens = [token_for(cast.teacher_a)[0] for _ in range(4)]
    codes = [c.get(f"{V1}/me/").status_code for c in tokens]
    assert codes == [200, 200, 200, 429]
    other, _t, _s = token_for(cast.teacher_b)
    assert other.get(f"{V1}/me/").status_code == 200


def test_filing_limit_answers_429_with_retry_after(cast, token_for, settings):
    settings.HELPDESK = {**settings.HELPDESK, "RATE_PER_PERSON_HOUR": 1}
    client, _token, _secret = token_for(cast.teacher_a)
    assert post(client, f"{V1}/tickets/", FILE).status_code == 201
    response = post(client, f"{V1}/tickets/", FILE)
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0


def test_a_body_too_large_is_413(cast, token_for):
    client, _token, _secret = token_for(cast.teacher_a)
    response = post(client, f"{V1}/tickets/", {**FILE, "text": "ж" * 300_000})
    assert_error(response, 413, "too_large")
    assert Ticket.objects.count() == 0


def test_unsupported_media_type_and_method(cast, token_for, make_ticket):
    ticket = make_ticket()
    client, _token, _secret = token_for(cast.teacher_a)
    response = client.post(f"{V1}/tickets/", "a=b", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")
    response = client.delete(f"{V1}/tickets/{ticket.reference}/")
    assert_error(response, 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/tickets/", "/kb/articles/"])
@pytest.mark.parametrize(
    "position",
    [
        "2020-01-01T00:00:00+23:59",  # PostgreSQL refuses offsets beyond ±15:59
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
    ],
)
def test_cursor_times_the_database_cannot_hold_are_refused_before_the_query(
    cast, token_for, make_ticket, path, position
):
    """A refused cursor leaves the request's transaction usable (no failed query behind the 400)."""
    make_ticket()
    client, _token, _secret = token_for(cast.expert_x)
    cursor = base64.b64encode(urlencode({"p": position}).encode()).decode()
    response = client.get(f"{V1}{path}", {"cursor": cursor})
    assert assert_error(response, 400, "invalid_cursor")
    assert client.get(f"{V1}{path}").status_code == 200
