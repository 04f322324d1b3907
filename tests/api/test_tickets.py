"""The REST API: same visibility and the same services as the pages."""

import pytest
from django.urls import reverse

from tickets import actions
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
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Вътрешно", kind="internal")
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Публично")
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


def test_a_teacher_counts_only_the_messages_they_can_read(client, cast, make_ticket):
    ticket = make_ticket(actor=cast.teacher_a)
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Отговор за учителя.")
    note = actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="Вътрешна бележка 4711", kind="internal"
    )
    client.force_login(cast.teacher_a)
    detail = client.get(reverse("api:ticket-detail", args=[ticket.reference])).json()
    listed = client.get(reverse("api:ticket-list")).json()["results"]
    [row] = [t for t in listed if t["reference"] == ticket.reference]
    for shown in (detail, row):
        assert shown["message_count"] == 2
        assert shown["last_message_id"] < note.pk
    assert [m["kind"] for m in detail["messages"]] == ["public", "public"]
    # Staff see the note, in the count and in the list.
    client.force_login(cast.expert_x)
    detail = client.get(reverse("api:ticket-detail", args=[ticket.reference])).json()
    assert (detail["message_count"], detail["last_message_id"]) == (3, note.pk)


def test_a_stale_reply_check_does_not_reveal_a_note(client, cast, make_ticket):
    ticket = make_ticket(actor=cast.teacher_a)
    client.force_login(cast.teacher_a)
    seen = client.get(reverse("api:ticket-detail", args=[ticket.reference])).json()
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="само за нас", kind="internal")
    response = client.post(
        reverse("api:ticket-reply", args=[ticket.reference]),
        {"text": "Добавям още.", "last_message_id": seen["last_message_id"]},
        content_type="application/json",
    )
    assert response.status_code == 201


@pytest.mark.parametrize("query", ["ЕГН7319", "егн73", "7319"])
def test_a_teachers_search_never_finds_a_word_only_in_an_internal_note(
    client, cast, make_ticket, query
):
    ticket = make_ticket(actor=cast.teacher_a, subject="Дипломата не се качва")
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Проверих ЕГН7319 на ученика.")
    actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="Бележка: ЕГН7319 7319", kind="internal"
    )
    url = reverse("api:ticket-list")
    client.force_login(cast.expert_x)
    assert [t["reference"] for t in client.get(url, {"q": query}).json()["results"]] == [
        ticket.reference
    ]
    note_only = make_ticket(actor=cast.teacher_a, subject="Друга заявка")
    actions.add_message(
        ticket=note_only, actor=cast.expert_x, text="Само в бележката: ЕГН7319", kind="internal"
    )
    client.force_login(cast.teacher_a)
    found = [t["reference"] for t in client.get(url, {"q": query}).json()["results"]]
    # The public reply holds the word; the other request has it only in a note.
    assert ticket.reference in found or query == "7319"
    assert note_only.reference not in found
