"""A macro in a real browser: one click answers the requester and changes the status,
as one change with one history line; the reply reaches the SMTP peer. Also the
notification bell, updated live when a colleague mentions the agent."""

import re

import pytest
from django.urls import reverse

from tests.console import asgi_server as server_fixtures
from tickets import actions
from tickets.models import Macro, Message, OutboundMail, Ticket, TicketEvent

asgi_server = server_fixtures.asgi_server
agent_page = server_fixtures.agent_page

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


def _file(cast, subject):
    return actions.create_ticket(
        actor=cast.teacher_a,
        institution=cast.school_a,
        competence=cast.diplomas,
        subject=subject,
        text="Дипломата не се качва.",
        channel="portal",
    )


def _text(received) -> str:
    return received.message.get_body(("plain",)).get_content()


def test_macro_changes_status_and_replies_in_one_step(cast, asgi_server, agent_page, smtp_peer):
    Macro.objects.create(
        title="Поискай скан",
        body="Здравейте, {{requester}}! Изпратете сканираната диплома по заявка {{reference}}.",
        status="waiting",
    )
    ticket = asgi_server.call(_file, cast, "Диплома без скан")
    events_before = TicketEvent.objects.filter(ticket=ticket).count()
    page = agent_page(cast.expert_x)
    page.goto(asgi_server.url + reverse("console:ticket", args=[ticket.reference]))
    page.click('[data-test="macro"]:has-text("Поискай скан")')
    page.locator(".msg-success").wait_for()

    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.status == "waiting"
    new_events = list(TicketEvent.objects.filter(ticket=ticket).order_by("pk")[events_before:])
    assert [e.kind for e in new_events] == ["macro"]
    reply = Message.objects.filter(ticket=ticket, author=cast.expert_x).get()
    expected = f"Здравейте, Учител А! Изпратете сканираната диплома по заявка {ticket.reference}."
    assert reply.body_text == expected
    assert OutboundMail.objects.filter(kind="reply", ticket_message=reply).count() == 1
    received = smtp_peer.wait_for(
        lambda m: cast.teacher_a.email in m.rcpt_tos and "сканираната диплома" in _text(m)
    )
    assert ticket.reference in str(received.message["Subject"])
    # The page shows the new status and the reply after the redirect.
    assert page.locator("#status-badge").inner_text().strip() == str(
        Ticket.objects.get(pk=ticket.pk).get_status_display()
    )
    assert page.locator("#conversation li", has_text="сканираната диплома").count() == 1


def test_bell_counts_a_mention_live(cast, asgi_server, agent_page):
    ticket = asgi_server.call(_file, cast, "Въпрос към колега")
    page = agent_page(cast.expert_x2)
    page.goto(asgi_server.url + reverse("console:queue"))
    page.locator("html[data-live=on]").wait_for(state="attached")  # (no eval: the CSP forbids it)
    assert page.locator('[data-test="bell-count"]').inner_text() == "0"
    asgi_server.call(
        actions.add_message,
        ticket=ticket,
        actor=cast.expert_x,
        kind="internal",
        text="@expert.x2 можеш ли да погледнеш?",
    )
    page.locator('[data-test="bell-count"]', has_text=re.compile(r"^1$")).wait_for()
    page.click("#bell")
    page.locator('[data-test="notification"]', has_text=ticket.reference).wait_for()
