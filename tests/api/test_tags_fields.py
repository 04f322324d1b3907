"""Tags and competence fields through the API: shown, filtered, filed and changed."""

import pytest
from django.urls import reverse

from tickets import actions
from tickets.models import CompetenceField, Tag, Ticket, TicketFieldValue

pytestmark = pytest.mark.django_db


@pytest.fixture
def fields(cast):
    number = CompetenceField.objects.create(
        competence=cast.diplomas, key="reg_number", label="Рег. номер", required=True
    )
    vendor = CompetenceField.objects.create(
        competence=cast.diplomas, key="vendor", label="Доставчик", kind="choice", choices="А\nБ"
    )
    return number, vendor


def create(client, **extra):
    body = {
        "subject": "Диплома",
        "text": "Не се качва.",
        "institution": "2206409",
        "competence": "diplomas",
        **extra,
    }
    return client.post(reverse("api:ticket-list"), body, content_type="application/json")


def test_filing_checks_and_stores_the_fields(client, cast, fields):
    client.force_login(cast.teacher_a)
    response = create(client, custom_fields={"reg_number": 17, "vendor": "Б"})
    assert response.status_code == 201, response.content
    assert response.json()["custom_fields"] == {"reg_number": "17", "vendor": "Б"}
    assert response.json()["tags"] == []  # a requester never sees the staff's tags


@pytest.mark.parametrize(
    "extra",
    [
        {},  # required field missing
        {"custom_fields": {"reg_number": "1", "vendor": "В"}},
        {"custom_fields": {"reg_number": "1", "nope": "x"}},
        {"custom_fields": {"reg_number": {"a": 1}}},
        {"custom_fields": ["reg_number"]},
        {"custom_fields": {f"k{i}": "x" for i in range(60)}},
    ],
)
def test_bad_fields_are_a_400_and_nothing_is_filed(client, cast, fields, extra):
    client.force_login(cast.teacher_a)
    response = create(client, **extra)
    assert response.status_code == 400, response.content
    assert response.json()["detail"]
    assert not Ticket.objects.exists() and not TicketFieldValue.objects.exists()


def test_staff_see_tags_filter_by_tag_and_field_and_change_both(client, cast, make_ticket, fields):
    tagged = make_ticket(field_values={"reg_number": "РН-1", "vendor": "А"})
    other = make_ticket(field_values={"reg_number": "РН-2", "vendor": "Б"})
    actions.change_tags(ticket=tagged, actor=cast.expert_x, add=["Зрелост"])
    client.force_login(cast.expert_x)
    url = reverse("api:ticket-list")
    body = client.get(url, {"tag": "ЗРЕЛОСТ"}).json()
    assert [t["reference"] for t in body["results"]] == [tagged.reference]
    assert body["results"][0]["tags"] == ["Зрелост"]
    body = client.get(url, {"cf_vendor": "Б"}).json()
    assert [t["reference"] for t in body["results"]] == [other.reference]
    detail = reverse("api:ticket-detail", args=[other.reference])
    response = client.patch(
        detail,
        {"tags": ["a", "b"], "custom_fields": {"vendor": "А"}},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["tags"] == ["a", "b"]
    assert response.json()["custom_fields"]["vendor"] == "А"
    # A bad field in the same change: 400 and neither the tags nor the fields move.
    response = client.patch(
        detail,
        {"tags": ["c"], "custom_fields": {"vendor": "Z"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert sorted(t.name for t in Ticket.objects.get(pk=other.pk).tags.all()) == ["a", "b"]


def test_requesters_cannot_filter_by_tag(client, cast, make_ticket):
    ticket = make_ticket()
    actions.change_tags(ticket=ticket, actor=cast.expert_x, add=["secret"])
    client.force_login(cast.teacher_a)
    body = client.get(reverse("api:ticket-list"), {"tag": "nothing-like-it"}).json()
    # The filter does not exist for them: the list is their requests, unfiltered.
    assert [t["reference"] for t in body["results"]] == [ticket.reference]
    assert Tag.objects.count() == 1
