"""The filing form asks the chosen competence's own fields; the server decides (no JS needed)."""

import pytest

from tickets.models import CompetenceField, Ticket, TicketFieldValue

NEW = "/portal/new/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def fields(cast):
    number = CompetenceField.objects.create(
        competence=cast.diplomas,
        key="reg_number",
        label="Регистрационен номер",
        label_en="Registration number",
        required=True,
    )
    issued = CompetenceField.objects.create(
        competence=cast.diplomas, key="issued", label="Издаден на", kind="date"
    )
    login_kind = CompetenceField.objects.create(
        competence=cast.competences["login"], key="account", label="Профил", required=True
    )
    return number, issued, login_kind


def form_data(cast, **extra):
    return {
        "institution": cast.school_a.pk,
        "competence": cast.diplomas.pk,
        "subject": "Диплома не се качва",
        "description": "Сканираното изображение се отхвърля.",
        **extra,
    }


def test_the_form_shows_each_competence_group_under_its_name(client, cast, fields):
    client.force_login(cast.teacher_a)
    html = client.get(NEW).content.decode()
    assert f'data-competence="{cast.diplomas.pk}"' in html
    assert f'data-competence="{cast.competences["login"].pk}"' in html
    assert 'name="cf_reg_number"' in html and 'name="cf_issued"' in html
    assert 'type="date"' in html
    assert "competence_fields.js" in html
    html = client.get(NEW, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Registration number" in html


def test_a_required_field_of_the_chosen_competence_is_asked_again(client, cast, fields):
    client.force_login(cast.teacher_a)
    response = client.post(NEW, form_data(cast))
    assert response.status_code == 200
    assert "cf_reg_number" in response.context["form"].errors
    # The other competence's required field does not matter here.
    assert "cf_account" not in response.context["form"].errors
    assert not Ticket.objects.exists()


def test_a_bad_value_is_a_form_error_and_nothing_is_filed(client, cast, fields):
    client.force_login(cast.teacher_a)
    response = client.post(NEW, form_data(cast, cf_reg_number="1", cf_issued="utre"))
    assert response.status_code == 200
    assert "cf_issued" in response.context["form"].errors
    assert not Ticket.objects.exists() and not TicketFieldValue.objects.exists()


def test_only_the_chosen_competences_answers_are_stored(client, cast, fields):
    client.force_login(cast.teacher_a)
    response = client.post(
        NEW, form_data(cast, cf_reg_number=" РН 17 ", cf_issued="2026-06-30", cf_account="x@y")
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    stored = dict(TicketFieldValue.objects.filter(ticket=ticket).values_list("field__key", "value"))
    assert stored == {"reg_number": "РН 17", "issued": "2026-06-30"}
