"""Tags and competence fields in the console: the ticket page, queue rows, filters, bulk."""

import pytest
from django.urls import reverse

from tickets import actions
from tickets.models import CompetenceField, Tag, TicketEvent, TicketFieldValue

pytestmark = pytest.mark.django_db


def ticket_url(ticket, action=None):
    if action:
        return reverse(f"console:{action}", args=[ticket.reference])
    return reverse("console:ticket", args=[ticket.reference])


def queue_url(key="all"):
    return reverse("console:queue_key", args=[key])


@pytest.fixture
def vendor(cast):
    return CompetenceField.objects.create(
        competence=cast.diplomas,
        key="vendor",
        label="Доставчик",
        kind="choice",
        choices="Школо\nАдминистратор",
    )


@pytest.fixture
def number(cast):
    return CompetenceField.objects.create(
        competence=cast.diplomas, key="reg_number", label="Регистрационен номер"
    )


# --- the ticket page -----------------------------------------------------------------


def test_an_agent_adds_and_removes_tags_on_the_ticket_page(login, cast, make_ticket):
    ticket = make_ticket()
    client = login(cast.expert_x)
    response = client.post(ticket_url(ticket, "tags"), {"add": "Зрелост, vendor-x"})
    assert response.status_code == 302
    page = client.get(ticket_url(ticket)).content.decode()
    assert 'id="tags-box"' in page and "Зрелост" in page and "vendor-x" in page
    client.post(ticket_url(ticket, "tags"), {"remove": "ЗРЕЛОСТ"})
    assert [t.name for t in ticket.tags.all()] == ["vendor-x"]
    assert TicketEvent.objects.filter(ticket=ticket, kind="tag").count() == 2


def test_a_bad_tag_is_reported_and_nothing_changes(login, cast, make_ticket):
    ticket = make_ticket()
    client = login(cast.expert_x)
    response = client.post(ticket_url(ticket, "tags"), {"add": "x" * 300}, follow=True)
    assert response.status_code == 200
    assert not Tag.objects.exists()
    assert list(response.context["messages"])[-1].level_tag == "error"


def test_tags_and_fields_of_an_invisible_request_are_404(login, cast, make_ticket, number):
    ticket = make_ticket()
    client = login(cast.expert_y)
    assert client.post(ticket_url(ticket, "tags"), {"add": "x"}).status_code == 404
    assert client.post(ticket_url(ticket, "fields"), {"cf_reg_number": "1"}).status_code == 404
    assert not Tag.objects.exists() and not TicketFieldValue.objects.exists()


def test_an_agent_sees_and_edits_the_fields_with_history(login, cast, make_ticket, vendor, number):
    ticket = make_ticket(field_values={"vendor": "Школо"})
    client = login(cast.expert_x)
    page = client.get(ticket_url(ticket)).content.decode()
    assert 'id="fields-box"' in page and "Доставчик" in page
    assert '<option value="Школо" selected>' in page
    client.post(ticket_url(ticket, "fields"), {"cf_vendor": "Администратор", "cf_reg_number": "7"})
    assert dict(
        TicketFieldValue.objects.filter(ticket=ticket).values_list("field__key", "value")
    ) == {
        "vendor": "Администратор",
        "reg_number": "7",
    }
    assert TicketEvent.objects.filter(ticket=ticket, kind="field").count() == 2
    response = client.post(ticket_url(ticket, "fields"), {"cf_vendor": "Друг"}, follow=True)
    assert list(response.context["messages"])[-1].level_tag == "error"
    assert TicketFieldValue.objects.get(ticket=ticket, field=vendor).value == "Администратор"


def test_tag_suggestions_are_bounded_and_for_agents_only(client, login, cast, make_ticket):
    ticket = make_ticket()
    actions.change_tags(
        ticket=ticket, actor=cast.expert_x, add=[f"зрелост {i:02d}" for i in range(15)] + ["друго"]
    )
    url = reverse("console:tag_suggestions")
    client.force_login(cast.teacher_a)
    assert client.get(url + "?q=з").status_code == 403
    client = login(cast.expert_x)
    tags = client.get(url, {"q": " ЗРЕЛ"}).json()["tags"]
    assert len(tags) == 10 and all(t.startswith("зрелост") for t in tags)
    assert client.get(url, {"q": "x" * 5000}).json() == {"tags": []}


# --- the queue -------------------------------------------------------------------------


def test_rows_show_tags_and_the_queue_filters_by_tag(login, cast, make_ticket):
    tagged, plain = make_ticket(subject="С етикет"), make_ticket(subject="Без етикет")
    actions.change_tags(ticket=tagged, actor=cast.expert_x, add=["Зрелост"])
    client = login(cast.expert_x)
    page = client.get(queue_url()).content.decode()
    assert 'class="tag-chip"' in page and "Зрелост" in page
    page = client.get(queue_url(), {"tag": "зрелост"}).content.decode()
    assert tagged.reference in page and plain.reference not in page
    # The live row (sent when a request changes) shows them too.
    live = client.get(reverse("console:row", args=[tagged.pk]), {"queue": "all"})
    assert live.status_code == 200 and "Зрелост" in live.content.decode()


def test_the_queue_filters_by_a_choice_and_by_text_contains(
    login, cast, make_ticket, vendor, number
):
    shkolo = make_ticket(field_values={"vendor": "Школо", "reg_number": "РН-2026-17"})
    admin = make_ticket(field_values={"vendor": "Администратор", "reg_number": "РН-2025-03"})
    client = login(cast.expert_x)
    page = client.get(queue_url(), {"cf_vendor": "Школо"}).content.decode()
    assert shkolo.reference in page and admin.reference not in page
    page = client.get(queue_url(), {"cf_reg_number": "2025"}).content.decode()
    assert admin.reference in page and shkolo.reference not in page
    page = client.get(queue_url(), {"cf_vendor": "нещо друго"})
    assert page.status_code == 200 and shkolo.reference not in page.content.decode()


def test_bulk_tags_from_the_queue(login, cast, make_ticket):
    first, second = make_ticket(), make_ticket()
    client = login(cast.expert_x)
    response = client.post(
        reverse("console:bulk"),
        {"ids": [first.pk, second.pk], "action": "tag", "tags": "кампания"},
    )
    assert response.status_code == 302
    assert {t.pk for t in Tag.objects.get(key="кампания").tickets.all()} == {first.pk, second.pk}
    client.post(reverse("console:bulk"), {"ids": [first.pk], "action": "untag", "tags": "Кампания"})
    assert [t.pk for t in Tag.objects.get(key="кампания").tickets.all()] == [second.pk]
    response = client.post(
        reverse("console:bulk"), {"ids": [first.pk], "action": "tag"}, follow=True
    )
    assert list(response.context["messages"])[-1].level_tag == "error"


def test_queue_query_count_is_the_same_with_tags_and_fields(
    login, cast, make_ticket, django_assert_num_queries, django_assert_max_num_queries
):
    tickets = [make_ticket(subject=f"Диплома {i}") for i in range(12)]
    client = login(cast.expert_x)
    url = queue_url()
    client.get(url)  # warms what is cached per process
    with django_assert_max_num_queries(30) as plain:
        assert client.get(url).status_code == 200
    baseline = len(plain)  # now: the next request clears the connection's query log
    field = CompetenceField.objects.create(
        competence=cast.diplomas, key="vendor", label="Доставчик", kind="choice", choices="А\nБ"
    )
    for i, ticket in enumerate(tickets):
        actions.change_tags(ticket=ticket, actor=cast.expert_x, add=[f"t{i}", "общ", "трети"])
        actions.set_field_values(ticket=ticket, actor=cast.expert_x, values={"vendor": "А"})
    client.get(url)  # the new field definition is read once, then cached
    assert baseline > 5  # the page was measured
    with django_assert_num_queries(baseline):
        response = client.get(url)
    assert response.content.decode().count('class="tag-chip"') == 36
    assert field.values.count() == 12
    # Filtering by a tag and a field is part of the list's one query, too.
    with django_assert_num_queries(baseline):
        response = client.get(url, {"tag": "общ", "cf_vendor": "А"})
    assert response.content.decode().count('class="tag-chip"') == 36
