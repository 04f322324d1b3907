"""The REST API: same visibility and the same services as the pages."""

import pytest
from django.urls import reverse

from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def test_anonymous_gets_nothing(client, cast, make_ticket):
    make_ticket()
    assert client.get(reverse("api:ticket-list")).status_code == 403


def test_list_is_visible_to_and_filters_apply(client, cast, make_ticket):
    ours = make_ticket(subject="Дипломата не се качва", priority="high", actor=cast.director_a)
    theirs = make_ticket(actor=cast.teacher_b, institution=cast.school_b)
    client.force_login(cast.expert_x)
    body = client.get(reverse("api:ticket-list")).json()
    assert [t["reference"] for t in body["results"]] == [ours.reference]
    assert body["results"][0]["institution"] == cast.school_a.code
    body = client.get(reverse("api:ticket-list") + "?priority=low").json()
    assert body["results"] == []
    body = client.get(reverse("api:ticket-list") + "?q=дипломата").json()
    assert len(body["results"]) == 1
    client.force_login(cast.teacher_b)
    body = client.get(reverse("api:ticket-list")).json()
    assert [t["reference"] for t in body["results"]] == [theirs.reference]


def test_cursor_pages(client, cast, make_ticket):
    for _ in range(5):
        make_ticket()
    client.force_login(cast.expert_x)
    seen, url = [], reverse("api:ticket-list") + "?page_size=2"
    while url:
        body = client.get(url).json()
        seen += [t["reference"] for t in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 5


def test_detail_hides_internal_notes_from_requesters(client, cast, make_ticket):
    ticket = make_ticket()
    services.add_message(ticket=ticket, actor=cast.expert_x, text="Вътрешно", kind="internal")
    services.add_message(ticket=ticket, actor=cast.expert_x, text="Публично")
    url = reverse("api:ticket-detail", args=[ticket.reference])
    client.force_login(cast.teacher_a)
    texts = [m["body_text"] for m in client.get(url).json()["messages"]]
    assert "Публично" in texts and "Вътрешно" not in texts
    client.force_login(cast.expert_x)
    texts = [m["body_text"] for m in client.get(url).json()["messages"]]
    assert "Вътрешно" in texts
    client.force_login(cast.expert_y)
    assert client.get(url).status_code == 404


def test_create_and_reply(client, cast):
    client.force_login(cast.teacher_a)
    response = client.post(
        reverse("api:ticket-list"),
        {"subject": "Не мога да вляза", "text": "Паролата не работи.", "institution": "2206409"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(reference=response.json()["reference"])
    assert ticket.channel == "api" and ticket.requester_id == cast.teacher_a.pk
    response = client.post(
        reverse("api:ticket-list"),
        {"subject": "Чужда", "text": "x", "institution": cast.school_b.code},
        content_type="application/json",
    )
    assert response.status_code == 403
    reply_url = reverse("api:ticket-reply", args=[ticket.reference])
    response = client.post(reply_url, {"text": "Още нещо"}, content_type="application/json")
    assert response.status_code == 201
    response = client.post(
        reply_url, {"text": "Тайно", "kind": "internal"}, content_type="application/json"
    )
    assert response.status_code == 403
    client.force_login(cast.expert_x)
    response = client.post(
        reply_url,
        {"text": "Отговор", "last_message_id": 1},
        content_type="application/json",
    )
    assert response.status_code == 409 and response.json()["code"] == "stale"
    response = client.post(
        reply_url,
        {"text": "Отговор", "last_message_id": Ticket.objects.get(pk=ticket.pk).last_message_id},
        content_type="application/json",
    )
    assert response.status_code == 201
