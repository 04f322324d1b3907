"""Acting in the console through a real browser: reply, bulk close, merge, mass incident.

Mail goes to the real SMTP peer (tests/testservers.py); the requesters' side is
checked on their portal pages.
"""

import io
import re

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from tests.console import asgi_server as server_fixtures
from tickets import actions
from tickets.models import Ticket

# The real ASGI server and logged-in pages (see tests/console/asgi_server.py).
asgi_server = server_fixtures.asgi_server
agent_page = server_fixtures.agent_page
press_r_until_the_reply_box_has_focus = server_fixtures.press_r_until_the_reply_box_has_focus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _settings(settings, smtp_peer):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_peer.host
    settings.EMAIL_PORT = smtp_peer.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    smtp_peer.clear()


def _file(cast, requester, subject, **extra):
    extra.setdefault("institution", cast.school_a)
    return actions.create_ticket(
        actor=requester,
        competence=cast.diplomas,
        subject=subject,
        text="Моля за помощ.",
        channel="portal",
        **extra,
    )


def _text(received) -> str:
    return received.message.get_body(("plain",)).get_content()


def _to(address, reference, text=""):
    """Match a mail to `address` about `reference` whose text contains `text`."""
    return lambda m: (
        address in m.rcpt_tos and reference in str(m.message["Subject"]) and text in _text(m)
    )


def _portal_shows(page, url, ticket, text):
    response = page.goto(url + reverse("portal:ticket", args=[ticket.reference]))
    assert response.status == 200
    assert text in page.content()


def test_reply_reaches_the_portal_page_and_the_smtp_peer(cast, asgi_server, agent_page, smtp_peer):
    ticket = asgi_server.call(_file, cast, cast.teacher_a, "Не мога да кача диплома")
    agent = agent_page(cast.expert_x)
    agent.goto(asgi_server.url + reverse("console:ticket", args=[ticket.reference]))
    press_r_until_the_reply_box_has_focus(agent)
    agent.keyboard.type("Намалете размера на файла до 5 MB и опитайте пак.")
    agent.select_option("#id_new_status", "waiting")
    agent.click("#send")
    agent.locator(".msg-success").wait_for()

    received = smtp_peer.wait_for(_to(cast.teacher_a.email, ticket.reference, "Намалете"))
    assert received.message["In-Reply-To"]  # threaded under the acknowledgement
    teacher = agent_page(cast.teacher_a)
    _portal_shows(teacher, asgi_server.url, ticket, "Намалете размера на файла")
    assert Ticket.objects.get(pk=ticket.pk).status == "waiting"


def test_bulk_close_with_a_reply(cast, asgi_server, agent_page, smtp_peer):
    tickets = [asgi_server.call(_file, cast, cast.teacher_a, f"Дубликат {i}") for i in range(3)]
    keep = asgi_server.call(_file, cast, cast.teacher_a, "Да остане отворена")
    page = agent_page(cast.expert_x)
    page.goto(asgi_server.url + reverse("console:queue_key", args=["mine"]))
    for ticket in tickets:
        page.check(f'#rows tr[data-id="{ticket.pk}"] input[type=checkbox]')
    page.select_option("#bulk_action", "close")
    page.fill("#bulk_text", "Проблемът е решен с днешното обновление.")
    page.click("#bulk-apply")
    # Closing asks once more, listing what will be closed.
    page.locator("[data-test=confirm-bulk]").wait_for()
    assert page.locator("[data-test=bulk-tickets] li").count() == len(tickets)
    page.click("[data-test=confirm-bulk]")
    page.locator(".msg-success").wait_for()
    for ticket in tickets:
        assert Ticket.objects.get(pk=ticket.pk).status == "closed"
        smtp_peer.wait_for(_to(cast.teacher_a.email, ticket.reference, "днешното обновление"))
    assert Ticket.objects.get(pk=keep.pk).status != "closed"
    # Closed requests leave the list of open ones.
    assert page.locator(f'#rows tr[data-id="{tickets[0].pk}"]').count() == 0
    assert page.locator(f'#rows tr[data-id="{keep.pk}"]').count() == 1


def test_merge_moves_the_conversation_and_tells_the_requester(
    cast, asgi_server, agent_page, smtp_peer
):
    target = asgi_server.call(_file, cast, cast.teacher_a, "Дипломата не се качва")
    duplicate = asgi_server.call(_file, cast, cast.director_a, "Пак дипломата")
    page = agent_page(cast.expert_x)
    page.goto(asgi_server.url + reverse("console:ticket", args=[duplicate.reference]))
    page.fill('#merge-form input[name="reference"]', target.reference)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#merge-form button")
    page.wait_for_url(re.compile(re.escape(target.reference)))
    assert page.locator("#conversation li", has_text="Моля за помощ.").count() == 2
    smtp_peer.wait_for(_to(cast.director_a.email, duplicate.reference, target.reference))
    # The merged reference still resolves, for the agent and for the requester.
    page.goto(asgi_server.url + reverse("console:ticket", args=[duplicate.reference]))
    assert target.reference in page.url
    director = agent_page(cast.director_a)
    response = director.goto(asgi_server.url + reverse("portal:ticket", args=[duplicate.reference]))
    assert response.status == 200
    assert target.reference in director.content()


def test_mass_reply_on_an_incident_reaches_three_linked_requesters(
    cast, asgi_server, agent_page, smtp_peer, screenshot
):
    incident = asgi_server.call(_file, cast, cast.teacher_a, "Модулът за дипломи не работи")
    people = [cast.director_a, cast.ict_a, cast.director_b]
    children = [
        asgi_server.call(_file, cast, cast.director_a, "Не мога да вляза в модула"),
        asgi_server.call(_file, cast, cast.ict_a, "Грешка 500 при дипломи"),
        asgi_server.call(
            _file, cast, cast.director_b, "Модулът не отговаря", institution=cast.school_b
        ),
    ]
    page = agent_page(cast.supervisor_all)
    page.goto(asgi_server.url + reverse("console:ticket", args=[incident.reference]))
    page.click("#mark-incident button")
    page.locator(".msg-success").wait_for()
    for child in children:
        page.fill("#incident-add input[name=reference]", child.reference)
        page.click("#incident-add button")
        page.locator("#children", has_text=child.reference).wait_for()
    smtp_peer.clear()
    press_r_until_the_reply_box_has_focus(page)
    page.keyboard.type("Модулът работи отново. Благодарим за търпението!")
    page.select_option("#id_new_status", "resolved")
    assert page.is_checked("#id_to_children")
    page.click("#send")
    page.locator(".msg-success", has_text="3").wait_for()
    screenshot(page, "console-incident")

    for person, child in zip(people, children):
        smtp_peer.wait_for(_to(person.email, child.reference, "Модулът работи отново"))
        assert Ticket.objects.get(pk=child.pk).status == "resolved"
    smtp_peer.wait_for(_to(cast.teacher_a.email, incident.reference, "Модулът работи"))
    director_b = agent_page(cast.director_b)
    _portal_shows(director_b, asgi_server.url, children[2], "Модулът работи отново")


def test_dashboard_screenshot(cast, asgi_server, agent_page, screenshot):
    for i in range(4):
        asgi_server.call(_file, cast, cast.teacher_a, f"Заявка {i}")
    asgi_server.call(_file, cast, cast.teacher_b, "Заявка от Пловдив", institution=cast.school_b)
    page = agent_page(cast.supervisor_all)
    page.goto(asgi_server.url + reverse("console:dashboard"))
    assert page.locator("svg.chart").count() == 4
    screenshot(page, "console-dashboard")
    with page.expect_download() as download:
        page.click('a[href*="/reports/backlog.csv"]')
    text = open(download.value.path(), encoding="utf-8-sig").read()
    # The Bulgarian reader's format: Bulgarian headers, ";" between fields.
    assert text.startswith("Компетентност;под 1 ден;")
    with page.expect_download() as download:
        page.click('a[href*="/reports/backlog.xlsx"]')
    with open(download.value.path(), "rb") as handle:
        sheet = load_workbook(io.BytesIO(handle.read())).worksheets[0]
    assert [cell.value for cell in sheet[1]][:2] == ["Компетентност", "под 1 ден"]
    assert sheet.cell(row=2, column=7).value == 5
