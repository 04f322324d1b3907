"""Watchers through the API: list, add, remove, scopes, who may add whom, bad input."""

import pytest

from tests.api.conftest import V1
from tickets.models import TicketEvent, Watcher

pytestmark = pytest.mark.django_db


def url(ticket, watcher=None):
    base = f"{V1}/tickets/{ticket.reference}/watchers/"
    return f"{base}{watcher.pk}/" if watcher is not None else base


def post(client, ticket, body):
    return client.post(url(ticket), body, content_type="application/json")


def test_an_agent_adds_lists_and_removes(cast, make_ticket, token_for):
    ticket = make_ticket()
    client, _token, _secret = token_for(cast.expert_x)
    added = post(client, ticket, {"email": "Parent@Example.org"})
    assert added.status_code == 201, added.content
    assert added.json()["email"] == "parent@example.org" and not added.json()["has_account"]
    again = post(client, ticket, {"email": "parent@example.org"})
    assert again.status_code == 200 and again.json()["id"] == added.json()["id"]
    person = post(client, ticket, {"email": cast.director_a.email})
    assert person.status_code == 201 and person.json()["has_account"]
    listed = client.get(url(ticket)).json()
    assert [w["email"] for w in listed] == ["parent@example.org", cast.director_a.email]
    assert {w["source"] for w in listed} == {"api"}
    watcher = Watcher.objects.get(email="parent@example.org")
    assert client.delete(url(ticket, watcher)).status_code == 204
    assert client.delete(url(ticket, watcher)).status_code == 404
    history = TicketEvent.objects.filter(ticket=ticket, kind="watcher", channel="api")
    assert history.count() == 3


def test_scopes_read_to_list_act_to_change(cast, make_ticket, token_for):
    ticket = make_ticket()
    reader, _token, _secret = token_for(cast.expert_x, scopes=["read"])
    assert reader.get(url(ticket)).status_code == 200
    refused = post(reader, ticket, {"email": "a@example.org"})
    assert refused.status_code == 403 and refused.json()["code"] == "scope"
    watcher = Watcher.objects.create(ticket=ticket, email="b@example.org", source="console")
    assert reader.delete(url(ticket, watcher)).status_code == 403
    assert Watcher.objects.count() == 1


def test_staff_add_only_colleagues_of_the_institution(cast, make_ticket, token_for):
    ticket = make_ticket()
    teacher, _token, _secret = token_for(cast.teacher_a)
    assert post(teacher, ticket, {"email": cast.teacher_a_colleague.email}).status_code == 201
    stranger = post(teacher, ticket, {"email": cast.teacher_b.email})
    assert stranger.status_code == 400
    assert post(teacher, ticket, {"email": "someone@example.org"}).status_code == 403
    other, _token, _secret = token_for(cast.teacher_b)
    assert other.get(url(ticket)).status_code == 404
    assert post(other, ticket, {"email": cast.teacher_b.email}).status_code == 404
    assert [w.user for w in Watcher.objects.all()] == [cast.teacher_a_colleague]


@pytest.mark.parametrize(
    "body",
    [{}, {"email": ""}, {"email": "not-an-address"}, {"email": "a@b.bg", "extra": 1}, ["a@b.bg"]],
)
def test_bad_input_is_a_400_with_a_message(cast, make_ticket, token_for, body):
    ticket = make_ticket()
    client, _token, _secret = token_for(cast.expert_x)
    response = post(client, ticket, body)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert not Watcher.objects.exists()
