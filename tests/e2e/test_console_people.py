"""People in the console through a real browser: a phone request, a watcher who gets the reply.

Mail goes through the outbox to the real SMTP peer (aiosmtpd, tests/testservers.py).
"""

import pytest
from django.urls import reverse

from tests.console import asgi_server as server_fixtures
from tickets import actions
from tickets.models import Ticket, Watcher

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


def _text(received) -> str:
    return received.message.get_body(("plain",)).get_content()


def _to(address, reference, text=""):
    return lambda m: (
        address in m.rcpt_tos and reference in str(m.message["Subject"]) and text in _text(m)
    )


def test_a_phone_request_filed_for_a_teacher_is_acknowledged_by_mail(
    cast, asgi_server, agent_page, smtp_peer
):
    page = agent_page(cast.expert_x)
    page.goto(asgi_server.url + reverse("console:queue"))
    page.click("#nav-new-request")
    page.check('input[name="channel"][value="phone"]')
    # Found by part of the name; the teacher's only institution fills itself in.
    page.fill("#person-q", "Учител А")
    page.locator("[data-picker-results] li", has_text=cast.teacher_a.email).locator(
        "button"
    ).click()
    assert page.input_value("#id_institution") == cast.school_a.code
    page.fill("#id_subject", "Паролата за дневника не се приема")
    page.fill("#id_text", "Обади се по телефона: от сутринта не може да влезе.")
    page.click("#file-request")
    page.locator(".msg-success").wait_for()

    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.requester, ticket.institution) == (
        "phone",
        cast.teacher_a,
        cast.school_a,
    )
    assert ticket.reference in page.url
    received = smtp_peer.wait_for(_to(cast.teacher_a.email, ticket.reference))
    assert received.rcpt_tos == [cast.teacher_a.email]


def test_a_name_typed_before_the_picker_script_ran_is_still_searched(cast, asgi_server, agent_page):
    """A slow page or a quick typist: what was typed before people.js ran gets its search."""
    page = agent_page(cast.expert_x)
    held = []
    page.route("**/js/people.js*", lambda route: held.append(route))  # held until released
    page.goto(asgi_server.url + reverse("console:new_request"), wait_until="commit")
    page.fill("#person-q", "Учител А")
    page.wait_for_timeout(400)  # longer than the picker's typing pause
    assert held and not page.locator("[data-picker-results] li").count()
    held[0].continue_()
    page.locator("[data-picker-results] li", has_text=cast.teacher_a.email).wait_for()


def test_a_watcher_added_in_the_console_gets_the_next_public_reply(
    cast, asgi_server, agent_page, smtp_peer
):
    ticket = asgi_server.call(
        actions.create_ticket,
        actor=cast.teacher_a,
        institution=cast.school_a,
        competence=cast.diplomas,
        subject="Дипломата не се качва",
        text="Моля за помощ.",
        channel="portal",
    )
    page = agent_page(cast.expert_x)
    page.goto(asgi_server.url + reverse("console:ticket", args=[ticket.reference]))
    # A person from the search, then a bare address typed in.
    page.fill("#watcher-q", "Директор")
    page.locator("#people [data-picker-results] li", has_text=cast.director_a.email).locator(
        "button"
    ).click()
    page.click("#watcher-add")
    page.locator(".msg-success").wait_for()
    page.fill("#watcher-q", "parent@example.org")
    page.click("#watcher-add")
    page.locator("#people li", has_text="parent@example.org").wait_for()
    assert {w.address for w in Watcher.objects.filter(ticket=ticket)} == {
        cast.director_a.email,
        "parent@example.org",
    }

    press_r_until_the_reply_box_has_focus(page)
    page.keyboard.type("Качете файла като PDF до 5 MB.")
    page.click("#send")
    page.locator(".msg-success").wait_for()
    for address in (cast.director_a.email, "parent@example.org", cast.teacher_a.email):
        smtp_peer.wait_for(_to(address, ticket.reference, "като PDF"))
