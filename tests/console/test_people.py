"""People in the console: the staff search, a request by phone or in person, people on a request."""

import pytest
from django.urls import reverse

from mailbridge.ingest import process_message
from tests.mailbridge.test_ingest import make_mail
from tickets.models import (
    CompetenceField,
    OutboundMail,
    Ticket,
    TicketEvent,
    TicketFieldValue,
    Watcher,
)

pytestmark = pytest.mark.django_db

SEARCH = reverse("console:person_search")
NEW = reverse("console:new_request")
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def search(client, **params):
    return client.get(SEARCH, params, **EN)


# --- the search --------------------------------------------------------------------------


def test_search_is_for_agents_only(client, cast, login):
    assert client.get(SEARCH, {"q": "учител"}).status_code == 302  # to the login page
    login(cast.director_a)
    assert client.get(SEARCH, {"q": "учител"}).status_code == 403
    login(cast.expert_x)
    assert client.post(SEARCH, {"q": "учител"}).status_code == 405


def test_search_by_name_code_and_email_returns_people_with_their_institutions(
    client, cast, login, django_assert_max_num_queries
):
    login(cast.expert_x)
    with django_assert_max_num_queries(8):
        data = search(client, q="учител").json()
    found = {p["email"]: p for p in data["people"]}
    assert set(found) == {
        cast.teacher_a.email,
        cast.teacher_a_colleague.email,
        cast.teacher_b.email,
    }
    assert found[cast.teacher_a.email]["institutions"] == [
        {"code": "2206409", "name": "138 СУ", "role": "teacher"}
    ]
    by_code = {p["email"] for p in search(client, q="2206409").json()["people"]}
    assert cast.director_a.email in by_code and cast.teacher_b.email not in by_code
    assert search(client, q="2206409").json()["institutions"] == [
        {"code": "2206409", "name": "138 СУ"}
    ]
    by_mail = search(client, q="director.b@").json()["people"]
    assert [p["email"] for p in by_mail] == [cast.director_b.email]
    # Support staff and people of no institution are not in the directory of staff.
    assert search(client, q="expert").json()["people"] == []
    assert search(client, q="outsider").json()["people"] == []


def test_search_is_paged(client, cast, login):
    from accounts.models import Membership, Role, User

    for i in range(12):
        person = User.objects.create_user(email=f"p{i:02d}@school.bg", full_name=f"Иван {i:02d}")
        Membership.objects.create(user=person, institution=cast.school_a2, role=Role.TEACHER)
    login(cast.expert_x)
    first = search(client, q="иван").json()
    second = search(client, q="иван", page="2").json()
    assert len(first["people"]) == 10 and first["has_next"]
    assert len(second["people"]) == 2 and not second["has_next"]
    assert not {p["id"] for p in first["people"]} & {p["id"] for p in second["people"]}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "a"},
        {"q": "   "},
        {"q": "x" * 101},
        {"q": "иван", "page": "0"},
        {"q": "иван", "page": "x"},
        {"q": "иван", "page": "99"},
    ],
)
def test_search_refuses_bad_input_with_400_and_a_message(client, cast, login, params):
    login(cast.expert_x)
    response = search(client, **params)
    assert response.status_code == 400
    assert response.json()["error"]


# --- a request by phone or in person -------------------------------------------------------


def form(**values):
    data = {
        "channel": "phone",
        "subject": "Не мога да вляза в дневника",
        "text": "Обади се учителката: паролата не се приема.",
        "priority": "normal",
    }
    data.update(values)
    return data


def test_a_phone_request_for_a_teacher_is_routed_and_acknowledged(client, cast, login):
    login(cast.expert_x)
    assert client.get(NEW).status_code == 200
    response = client.post(NEW, form(requester=str(cast.teacher_a.pk)), **EN)
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert response["Location"] == reverse("console:ticket", args=[ticket.reference])
    assert (ticket.channel, ticket.requester, ticket.institution) == (
        "phone",
        cast.teacher_a,
        cast.school_a,
    )
    assert ticket.region == cast.region_x  # routed by the institution like any other
    assert TicketEvent.objects.filter(ticket=ticket, kind="routed").exists()
    created = TicketEvent.objects.get(ticket=ticket, kind="created")
    assert created.actor == cast.expert_x and created.channel == "phone"
    ack = OutboundMail.objects.get(ticket=ticket, kind="created")
    assert ack.recipients == [cast.teacher_a.email]
    # The teacher sees it among their requests in the portal.
    assert Ticket.objects.visible_to(cast.teacher_a).filter(pk=ticket.pk).exists()


def test_a_visit_for_an_institution_with_a_typed_name_and_address(client, cast, login):
    login(cast.expert_x)
    response = client.post(
        NEW,
        form(
            channel="in_person",
            institution="2200777",
            requester_name="Мария Петрова",
            requester_email="Maria@Example.org",
        ),
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.channel == "in_person" and ticket.requester is None
    assert (ticket.requester_name, ticket.requester_email) == ("Мария Петрова", "maria@example.org")
    assert ticket.institution == cast.school_a2
    assert OutboundMail.objects.get(ticket=ticket).recipients == ["maria@example.org"]


def test_a_typed_address_of_someone_in_the_directory_files_for_that_person(client, cast, login):
    login(cast.expert_x)
    response = client.post(NEW, form(requester_email=cast.teacher_a.email.upper()))
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.requester == cast.teacher_a and ticket.institution == cast.school_a


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"requester": "teacher_b", "institution": "2206409"}, "does not work at"),
        ({"institution": "9999999", "requester_email": "a@b.bg"}, "no institution with code"),
        ({"requester_email": "a@b.bg"}, "enter the institution"),
        ({"institution": "2206409"}, "type the name or e-mail"),
        ({"requester": "99999999", "institution": "2206409"}, "from the list again"),
        ({"requester": "expert_y"}, "from the list again"),
        ({"requester": "teacher_a", "channel": "email"}, "not one of the available choices"),
        ({"requester": "teacher_a", "subject": ""}, "required"),
        ({"requester": "teacher_a", "requester_email": "not-an-address"}, "valid email"),
    ],
)
def test_bad_input_is_refused_with_400_and_a_message(client, cast, login, values, message):
    login(cast.expert_x)
    for key in ("requester",):
        if key in values and not values[key].isdigit():
            values[key] = str(getattr(cast, values[key]).pk)
    response = client.post(NEW, form(**values), **EN)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Ticket.objects.exists()


def test_only_agents_file_on_someone_s_behalf(client, cast, login):
    login(cast.director_a)
    response = client.post(NEW, form(requester=str(cast.teacher_a.pk)))
    assert response.status_code == 403
    assert not Ticket.objects.exists()


def test_the_console_links_to_the_page(client, cast, login):
    login(cast.expert_x)
    page = client.get(reverse("console:queue")).content.decode()
    assert f'href="{NEW}"' in page


# --- people on a request ----------------------------------------------------------------


def add_url(ticket):
    return reverse("console:watcher_add", args=[ticket.reference])


def test_an_agent_adds_a_person_and_an_address_and_removes_them(client, cast, login, make_ticket):
    ticket = make_ticket()
    login(cast.expert_x)
    assert client.post(add_url(ticket), {"user": cast.director_a.pk}).status_code == 302
    assert client.post(add_url(ticket), {"email": "Parent@Example.org"}).status_code == 302
    rows = {w.address: w for w in ticket.watchers.all()}
    assert set(rows) == {cast.director_a.email, "parent@example.org"}
    assert {w.source for w in rows.values()} == {"console"}
    page = client.get(reverse("console:ticket", args=[ticket.reference])).content.decode()
    assert "parent@example.org" in page and cast.director_a.email in page
    remove = reverse(
        "console:watcher_remove", args=[ticket.reference, rows["parent@example.org"].pk]
    )
    assert client.post(remove).status_code == 302
    assert [w.address for w in ticket.watchers.all()] == [cast.director_a.email]
    history = TicketEvent.objects.filter(ticket=ticket, kind="watcher")
    assert history.filter(new_value="parent@example.org").exists()
    assert history.filter(old_value="parent@example.org").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose a person or enter an e-mail address."),
        ({"email": "not-an-address"}, "is not an e-mail address"),
        ({"user": "abc"}, "from the list again"),
        ({"user": "99999999999999999999"}, "from the list again"),
        ({"email": "teacher.a@edu.mon.bg"}, "The requester already gets every reply."),
    ],
)
def test_adding_bad_input_is_refused_with_400_and_a_message(
    client, cast, login, make_ticket, data, message
):
    ticket = make_ticket()
    login(cast.expert_x)
    response = client.post(add_url(ticket), data, **EN)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Watcher.objects.exists()


def test_people_of_a_request_one_may_not_see_are_out_of_reach(client, cast, login, make_ticket):
    ticket = make_ticket()
    other = make_ticket()
    login(cast.expert_x)
    client.post(add_url(other), {"email": "a@example.org"})
    watcher = Watcher.objects.get()
    # Another request's watcher through this request's address: not found.
    wrong = reverse("console:watcher_remove", args=[ticket.reference, watcher.pk])
    assert client.post(wrong).status_code == 404
    # An expert of another region does not see the request at all.
    login(cast.expert_y)
    assert client.post(add_url(ticket), {"email": "b@example.org"}).status_code == 404
    right = reverse("console:watcher_remove", args=[other.reference, watcher.pk])
    assert client.post(right).status_code == 404
    assert Watcher.objects.count() == 1
    # Requesters do not use the console.
    login(cast.teacher_a)
    assert client.post(add_url(ticket), {"email": "c@example.org"}).status_code == 403


def test_a_copied_address_of_an_incoming_mail_is_added_in_one_click(client, cast, login):
    process_message(
        make_mail(sender="teacher.a@edu.mon.bg", cc=["deputy@example.org", "teacher.a@edu.mon.bg"])
    )
    ticket = Ticket.objects.get()
    login(cast.expert_x)
    page = client.get(reverse("console:ticket", args=[ticket.reference])).content.decode()
    assert 'name="email" value="deputy@example.org"' in page
    response = client.post(add_url(ticket), {"email": "deputy@example.org", "from_mail": "on"})
    assert response.status_code == 302
    watcher = Watcher.objects.get()
    assert (watcher.email, watcher.source) == ("deputy@example.org", "mail")
    page = client.get(reverse("console:ticket", args=[ticket.reference])).content.decode()
    assert 'name="email" value="deputy@example.org"' not in page  # no longer offered


def test_the_phone_page_asks_the_chosen_competences_questions(client, cast, login):
    CompetenceField.objects.create(
        competence=cast.diplomas, key="reg_number", label="Рег. номер", required=True
    )
    login(cast.expert_x)
    page = client.get(NEW).content.decode()
    assert 'name="cf_reg_number"' in page and "competence_fields.js" in page
    chosen = form(requester=str(cast.teacher_a.pk), competence=cast.diplomas.pk)
    refused = client.post(NEW, chosen, **EN)
    assert refused.status_code == 400 and "Answer this question" in refused.content.decode()
    assert not Ticket.objects.exists()
    # Another competence's questions are not asked of this one.
    other = form(requester=str(cast.teacher_a.pk), competence=cast.technical.pk)
    assert client.post(NEW, {**other, "cf_reg_number": ""}, **EN).status_code == 302
    assert client.post(NEW, {**chosen, "cf_reg_number": "РД-12/2026"}, **EN).status_code == 302
    answer = TicketFieldValue.objects.get()
    assert answer.value == "РД-12/2026" and answer.ticket.competence == cast.diplomas
