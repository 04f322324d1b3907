"""Waves in a real browser: the similar-requests card and the surge alert box.

Both are fragments the console's script (waves.js) fetches after the page has
loaded, so only a browser shows that they arrive, that "reply with this
answer" fills the reply form, and that an alert box arrives and turns into
an incident with one click. (The live refresh of the box is tested at the
consumer: tests/console.)
"""

import datetime

import pytest
from django.urls import reverse

from tests.console import asgi_server as server_fixtures
from tests.console.test_waves import make_alert
from tickets import actions
from tickets.models import Message, Status, SurgeAlert, Ticket

asgi_server = server_fixtures.asgi_server
agent_page = server_fixtures.agent_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MOVED = "Липсват преместените ученици"
ANSWER = "Приемете ги от менюто „Движение на ученици“."


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _resolved_and_new(cast):
    resolved = actions.create_ticket(
        actor=cast.teacher_a,
        institution=cast.school_a,
        competence=cast.diplomas,
        subject=MOVED,
        text="Учениците от друго училище не се виждат.",
        channel="portal",
    )
    actions.add_message(
        ticket=resolved,
        actor=cast.expert_x,
        text=ANSWER,
        kind=Message.Kind.PUBLIC,
        new_status=Status.RESOLVED,
    )
    fresh = actions.create_ticket(
        actor=cast.teacher_a,
        institution=cast.school_a,
        competence=cast.diplomas,
        subject="Учениците, които преместихме, липсват",
        text="От вчера не ги виждаме.",
        channel="portal",
    )
    return resolved, fresh


def test_the_similar_card_arrives_and_replies_with_the_answer(
    cast, asgi_server, agent_page, screenshot
):
    resolved, fresh = asgi_server.call(_resolved_and_new, cast)
    page = agent_page(cast.expert_x)
    page.goto(asgi_server.url + reverse("console:ticket", args=[fresh.reference]))

    item = page.locator(f"[data-test=similar-list] li[data-reference='{resolved.reference}']")
    item.wait_for()
    item.locator("details > summary").click()
    item.locator("[data-reply-from-answer]").click()
    reply = page.locator("#reply-form textarea[name=text]")
    assert reply.input_value() == ANSWER
    assert reply.evaluate("element => element === document.activeElement")
    assert page.locator("#reply-form input[name=kind][value=public]").is_checked()
    screenshot(page, "console-similar-card")


def test_the_alert_box_arrives_and_becomes_an_incident_in_one_click(
    cast, asgi_server, agent_page, screenshot
):
    now = datetime.datetime.now(datetime.UTC)
    alert = asgi_server.call(make_alert, cast, now)
    page = agent_page(cast.supervisor_x)
    page.goto(asgi_server.url + reverse("console:queue"))
    box = page.locator(f"[data-test=surge-alert][data-alert='{alert.pk}']")
    box.wait_for()  # fetched by waves.js after the page
    screenshot(page, "console-surge-alert")

    box.locator("[data-test=surge-create-incident]").click()
    page.wait_for_url(f"{asgi_server.url}/console/tickets/**")
    alert.refresh_from_db()
    assert alert.state == SurgeAlert.State.INCIDENT
    assert page.url.endswith(reverse("console:ticket", args=[alert.incident.reference]))
    assert Ticket.objects.filter(parent=alert.incident).count() == 4
