"""Fields per competence and tags in a real browser.

A teacher chooses a competence in the portal and its own question appears
(another competence's does not); the answer filed shows on the console's
ticket page, the console queue filters by it, and a tag put on the request
shows as a chip in the queue row.
"""

import re

import pytest
from django.urls import reverse

from tests.console import asgi_server as server_fixtures
from tickets import actions
from tickets.models import CompetenceField, Ticket, TicketFieldValue

asgi_server = server_fixtures.asgi_server
agent_page = server_fixtures.agent_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_a_competence_field_is_asked_shown_and_filtered(cast, asgi_server, agent_page, screenshot):
    CompetenceField.objects.create(
        competence=cast.diplomas,
        key="vendor",
        label="Доставчик на дневника",
        kind="choice",
        choices="Школо\nАдминистратор",
        required=True,
    )
    CompetenceField.objects.create(
        competence=cast.competences["login"], key="account", label="Профил"
    )
    other = asgi_server.call(
        actions.create_ticket,
        actor=cast.teacher_a,
        institution=cast.school_a,
        competence=cast.diplomas,
        subject="Друга заявка",
        text="Друг доставчик.",
        channel="portal",
        field_values={"vendor": "Администратор"},
    )

    teacher = agent_page(cast.teacher_a)
    teacher.goto(asgi_server.url + reverse("portal:new"))
    diplomas_group = teacher.locator(f"fieldset[data-competence='{cast.diplomas.pk}']")
    login_group = teacher.locator(f"fieldset[data-competence='{cast.competences['login'].pk}']")
    teacher.check(f"input[name=competence][value='{cast.competences['login'].pk}']")
    assert login_group.is_visible() and not diplomas_group.is_visible()
    teacher.check(f"input[name=competence][value='{cast.diplomas.pk}']")
    assert diplomas_group.is_visible() and not login_group.is_visible()
    teacher.select_option("#id_cf_vendor", "Школо")
    screenshot(teacher, "portal-competence-fields")
    teacher.fill("#id_subject", "Дневникът не зарежда дипломите")
    teacher.fill("#id_description", "От вчера списъкът е празен.")
    teacher.click("[data-test=submit-ticket]")
    teacher.wait_for_url(re.compile(r".*/portal/requests/\d{2}-\d{6}/$"))
    ticket = Ticket.objects.exclude(pk=other.pk).get()
    assert TicketFieldValue.objects.get(ticket=ticket).value == "Школо"

    agent = agent_page(cast.expert_x)
    agent.goto(asgi_server.url + reverse("console:ticket", args=[ticket.reference]))
    assert agent.locator("#id_cf_vendor").input_value() == "Школо"
    agent.fill("#tag-add", "Зрелост")
    agent.click("#tag-add-form button")
    agent.locator(".msg-success").wait_for()
    assert "Зрелост" in agent.inner_text("#ticket-tags")
    screenshot(agent, "console-tags-and-fields")

    agent.goto(asgi_server.url + reverse("console:queue_key", args=["all"]))
    agent.click("details.more-filters summary")
    agent.select_option("#id_cf_vendor", "Школо")
    agent.click("#filter-form button.button")
    agent.wait_for_url(re.compile(r".*cf_vendor=.*"))
    rows = agent.locator("#rows tr[data-id]")
    assert rows.count() == 1
    assert ticket.reference in rows.first.inner_text()
    assert other.reference not in agent.inner_text("#rows")
    assert rows.first.locator(".tag-chip").inner_text() == "Зрелост"
    screenshot(agent, "console-queue-filtered-by-field")
