"""The administrator's side: merging and renaming tags, defining fields per competence."""

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from tickets import actions
from tickets.models import CompetenceField, Tag

pytestmark = pytest.mark.django_db


def changelist():
    return reverse("admin:tickets_tag_changelist")


def test_merge_asks_which_tag_stays_then_merges(client, cast, make_ticket):
    first, second = make_ticket(), make_ticket()
    actions.change_tags(ticket=first, actor=cast.expert_x, add=["matura"])
    actions.change_tags(ticket=second, actor=cast.expert_x, add=["Зрелост"])
    ids = [t.pk for t in Tag.objects.all()]
    target = Tag.objects.get(key="зрелост")
    client.force_login(cast.admin)
    chosen = {"action": "merge_tags", helpers.ACTION_CHECKBOX_NAME: ids}
    page = client.post(changelist(), chosen)
    assert page.status_code == 200 and 'name="target"' in page.content.decode()
    assert Tag.objects.count() == 2  # nothing happens before the confirmation
    response = client.post(changelist(), {**chosen, "apply": "1", "target": target.pk})
    assert response.status_code == 302
    assert list(Tag.objects.values_list("name", flat=True)) == ["Зрелост"]
    assert [t.name for t in first.tags.all()] == ["Зрелост"]
    assert first.events.filter(kind="tag", old_value="matura", new_value="Зрелост").exists()


def test_rename_refuses_another_tags_name_on_the_confirmation_page(client, cast, make_ticket):
    ticket = make_ticket()
    actions.change_tags(ticket=ticket, actor=cast.expert_x, add=["matura", "other"])
    tag = Tag.objects.get(key="matura")
    client.force_login(cast.admin)
    chosen = {"action": "rename_tag", helpers.ACTION_CHECKBOX_NAME: [tag.pk]}
    page = client.post(changelist(), {**chosen, "apply": "1", "name": "OTHER"})
    assert page.status_code == 200 and "errorlist" in page.content.decode()
    response = client.post(changelist(), {**chosen, "apply": "1", "name": "Матура"})
    assert response.status_code == 302
    assert Tag.objects.get(pk=tag.pk).name == "Матура"


def test_agents_cannot_open_the_tag_admin(client, cast):
    client.force_login(cast.expert_x)
    assert client.get(changelist()).status_code == 302  # to the admin login


def field_form(cast, **extra):
    return {
        "competence": cast.diplomas.pk,
        "key": "vendor",
        "label": "Доставчик",
        "kind": "choice",
        "choices": "",
        "order": "100",
        "is_active": "on",
        **extra,
    }


def test_a_choice_field_without_options_is_refused(client, cast):
    client.force_login(cast.admin)
    url = reverse("admin:tickets_competencefield_add")
    response = client.post(url, field_form(cast))
    assert response.status_code == 200 and not CompetenceField.objects.exists()
    response = client.post(url, field_form(cast, choices="Школо | Shkolo\nДруг"))
    assert response.status_code == 302
    assert CompetenceField.objects.get().choice_list() == [("Школо", "Shkolo"), ("Друг", "Друг")]


def test_an_answered_fields_key_and_kind_stay_and_it_is_not_deleted(client, cast, make_ticket):
    field = CompetenceField.objects.create(
        competence=cast.diplomas, key="vendor", label="Доставчик", kind="choice", choices="А\nБ"
    )
    make_ticket(field_values={"vendor": "А"})
    client.force_login(cast.admin)
    url = reverse("admin:tickets_competencefield_change", args=[field.pk])
    response = client.post(url, field_form(cast, kind="text", choices="А\nБ"))
    assert response.status_code == 200
    response = client.post(url, field_form(cast, key="other", choices="А\nБ"))
    assert response.status_code == 200
    assert CompetenceField.objects.get().kind == "choice"
    response = client.post(url, field_form(cast, label="Нов надпис", choices="А\nБ\nВ"))
    assert response.status_code == 302
    assert CompetenceField.objects.get().label == "Нов надпис"
    delete = reverse("admin:tickets_competencefield_delete", args=[field.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert CompetenceField.objects.exists()
