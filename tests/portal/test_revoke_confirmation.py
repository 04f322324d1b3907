"""Revoking a delegation asks first, on a page of its own (no JavaScript needed)."""

import datetime

import pytest
from django.utils import timezone

from accounts import services

pytestmark = pytest.mark.django_db

PAGE = "/portal/delegations/"


@pytest.fixture
def delegation(cast):
    now = timezone.now()
    return services.grant_delegation(
        actor=cast.director_a,
        institution=cast.school_a,
        delegate=cast.teacher_a,
        valid_from=now,
        valid_until=now + datetime.timedelta(days=7),
        rights=["file", "follow"],
    )


def test_the_list_links_to_the_confirmation(client, cast, delegation):
    client.force_login(cast.director_a)
    html = client.get(PAGE).content.decode()
    assert f'href="{PAGE}{delegation.pk}/revoke/" data-test="revoke"' in html


@pytest.mark.parametrize(
    ("language", "question"),
    [("en", "Revoke the rights of"), ("bg", "Да се оттеглят ли правата на")],
)
def test_the_confirmation_says_who_loses_what(client, cast, delegation, language, question):
    client.force_login(cast.director_a)
    response = client.get(f"{PAGE}{delegation.pk}/revoke/", HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    assert response.status_code == 200
    assert question in html and "Учител А" in html and cast.teacher_a.email in html
    assert 'name="confirm" value="yes"' in html
    delegation.refresh_from_db()
    assert delegation.revoked_at is None


def test_only_a_confirmed_post_revokes(client, cast, delegation):
    client.force_login(cast.director_a)
    assert client.post(f"{PAGE}{delegation.pk}/revoke/", {"confirm": "no"}).status_code == 200
    delegation.refresh_from_db()
    assert delegation.revoked_at is None
    response = client.post(f"{PAGE}{delegation.pk}/revoke/", {"confirm": "yes"}, follow=True)
    delegation.refresh_from_db()
    assert delegation.revoked_by == cast.director_a
    assert "msg-success" in response.content.decode()


def test_nobody_else_reaches_the_confirmation(client, cast, delegation):
    for person in (cast.director_b, cast.teacher_a):
        client.force_login(person)
        assert client.get(f"{PAGE}{delegation.pk}/revoke/").status_code == 404
