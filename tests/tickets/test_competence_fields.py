"""Fields per competence: checked answers on filing and by agents, with history."""

import datetime
import decimal

import pytest
from django.core.exceptions import ValidationError

from helpdesk.errors import DomainError, NotAllowed
from tickets import actions, fields
from tickets.models import CompetenceField, Ticket, TicketEvent, TicketFieldValue

pytestmark = pytest.mark.django_db


@pytest.fixture
def diploma_fields(cast):
    number = CompetenceField.objects.create(
        competence=cast.diplomas, key="reg_number", label="Регистрационен номер", required=True
    )
    vendor = CompetenceField.objects.create(
        competence=cast.diplomas,
        key="kind",
        label="Вид документ",
        label_en="Document kind",
        kind="choice",
        choices="Диплома | Diploma\nСвидетелство | Certificate",
    )
    issued = CompetenceField.objects.create(
        competence=cast.diplomas, key="issued", label="Издаден на", kind="date"
    )
    count = CompetenceField.objects.create(
        competence=cast.diplomas, key="copies", label="Брой", kind="number"
    )
    return number, vendor, issued, count


def test_filing_stores_the_answers_typed(cast, make_ticket, diploma_fields):
    ticket = make_ticket(
        field_values={
            "reg_number": " 123-45 ",
            "kind": "Диплома",
            "issued": "2026-06-30",
            "copies": "2,50",
        }
    )
    stored = {v.field.key: v for v in TicketFieldValue.objects.filter(ticket=ticket)}
    assert stored["reg_number"].value == "123-45"
    assert stored["kind"].value == "Диплома"
    assert stored["issued"].date == datetime.date(2026, 6, 30)
    assert stored["copies"].number == decimal.Decimal("2.5") and stored["copies"].value == "2.5"


@pytest.mark.parametrize(
    "values",
    [
        {},  # the required number is missing
        {"reg_number": "1", "kind": "Паспорт"},
        {"reg_number": "1", "issued": "30.06.2026"},
        {"reg_number": "1", "issued": "9999-01-01"},
        {"reg_number": "1", "copies": "много"},
        {"reg_number": "1", "copies": "1e400"},
        {"reg_number": "1", "copies": "NaN"},
        {"reg_number": "x" * 256},
        {"reg_number": "1", "unknown": "x"},
        {"reg_number": ["1"]},
        ["reg_number"],
    ],
)
def test_bad_answers_on_filing_are_refused_and_nothing_is_written(
    cast, make_ticket, diploma_fields, values
):
    with pytest.raises(DomainError):
        make_ticket(field_values=values)
    assert not Ticket.objects.exists() and not TicketFieldValue.objects.exists()


def test_mail_and_filings_without_fields_of_a_competence_without_fields_pass(cast, make_ticket):
    ticket = make_ticket(competence=cast.technical)
    assert not TicketFieldValue.objects.filter(ticket=ticket).exists()


def test_an_agent_edits_answers_with_one_history_line_each(cast, make_ticket, diploma_fields):
    ticket = make_ticket(field_values={"reg_number": "1"})
    changed = actions.set_field_values(
        ticket=ticket, actor=cast.expert_x, values={"cf_reg_number": "2", "kind": "Свидетелство"}
    )
    assert sorted(changed) == ["kind", "reg_number"]
    lines = TicketEvent.objects.filter(ticket=ticket, kind="field").order_by("id")
    assert [(e.note, e.old_value, e.new_value) for e in lines] == [
        ("Регистрационен номер", "1", "2"),
        ("Вид документ", "", "Свидетелство"),
    ]
    # Clearing an answer removes it (an agent may leave a required one empty).
    actions.set_field_values(ticket=ticket, actor=cast.expert_x, values={"kind": ""})
    assert not TicketFieldValue.objects.filter(ticket=ticket, field__key="kind").exists()


def test_a_bad_edit_changes_nothing(cast, make_ticket, diploma_fields):
    ticket = make_ticket(field_values={"reg_number": "1"})
    with pytest.raises(DomainError):
        actions.set_field_values(
            ticket=ticket, actor=cast.expert_x, values={"reg_number": "2", "copies": "x"}
        )
    assert TicketFieldValue.objects.get(ticket=ticket).value == "1"
    assert not TicketEvent.objects.filter(ticket=ticket, kind="field").exists()


def test_only_agents_who_see_the_request_edit_answers(cast, make_ticket, diploma_fields):
    ticket = make_ticket(field_values={"reg_number": "1"})
    for person in (cast.teacher_a, cast.expert_y):
        with pytest.raises(NotAllowed):
            actions.set_field_values(ticket=ticket, actor=person, values={"reg_number": "2"})
    assert TicketFieldValue.objects.get(ticket=ticket).value == "1"


def test_inactive_fields_are_not_asked_and_the_cache_follows_the_admin(cast, diploma_fields):
    number = diploma_fields[0]
    assert number in fields.fields_for(cast.diplomas)
    number.is_active = False
    number.save()
    assert number not in fields.fields_for(cast.diplomas)
    assert fields.fields_for(cast.technical) == []


def test_form_fields_for_a_competence_in_the_readers_language(cast, diploma_fields):
    form_fields = fields.form_fields_for(cast.diplomas, "en")
    assert list(form_fields) == ["cf_reg_number", "cf_kind", "cf_issued", "cf_copies"]
    assert form_fields["cf_reg_number"].required is True
    assert form_fields["cf_kind"].label == "Document kind"
    assert ("Диплома", "Diploma") in form_fields["cf_kind"].choices
    loose = fields.form_fields_for(cast.diplomas, "bg", required=False)
    assert loose["cf_reg_number"].required is False


def test_a_choice_field_needs_options(cast):
    field = CompetenceField(competence=cast.diplomas, key="k", label="K", kind="choice")
    with pytest.raises(ValidationError, match="choices"):
        field.clean()


def test_the_process_keeps_the_fields_it_read_and_forgets_them_on_a_change(
    cast, diploma_fields, monkeypatch
):
    """One read of the shared cache per LOCAL_SECONDS; a save here is seen at once."""
    from django.core.cache import cache

    assert len(fields.active_fields()) == 4
    reads = []
    real_get = cache.get
    monkeypatch.setattr(cache, "get", lambda *a, **k: reads.append(a[0]) or real_get(*a, **k))
    for _ in range(5):
        assert len(fields.active_fields()) == 4
    assert fields.CACHE_KEY not in reads
    number = diploma_fields[0]
    number.is_active = False
    number.save()
    assert [f.key for f in fields.active_fields()] == ["kind", "issued", "copies"]
    # Another process's change (the shared cache emptied) is seen after LOCAL_SECONDS.
    CompetenceField.objects.filter(pk=number.pk).update(is_active=True)
    cache.delete(fields.CACHE_KEY)
    assert len(fields.active_fields()) == 3
    monkeypatch.setattr(fields, "LOCAL_SECONDS", 10**-9)
    assert len(fields.active_fields()) == 4
