"""Hostile mail ends in bounded time, in a defined state, with nothing lost."""

import time
from email.message import EmailMessage

import pytest
from django.test.utils import CaptureQueriesContext

from mailbridge.ingest import process_message
from mailbridge.models import InboundMessage
from tests.mailbridge.test_ingest import make_mail
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    # Reasons are checked by their English wording, whatever translations exist.
    from django.utils import translation

    with translation.override("en"):
        yield


DEPTH = 60_000


def nested_divs(depth=DEPTH) -> str:
    return "<div>" * depth + "<p>дълбоко <b>вътре</b></p>" + "</div>" * depth


def test_sixty_thousand_nested_divs_ingest_and_show_in_bounded_time(client, cast):
    raw = make_mail(subject="Дълбок HTML", html=nested_divs())
    started = time.process_time()
    outcome = process_message(raw)
    ingest_seconds = time.process_time() - started
    assert outcome.outcome == "created"
    # A complexity bound, not a benchmark: the old quadratic path took minutes.
    assert ingest_seconds <= 2.0
    ticket = Ticket.objects.get(reference=outcome.ticket)
    stored = Message.objects.get(ticket=ticket).body_html
    assert "вътре" in stored and stored.count("<div>") <= 200

    Ticket.objects.filter(pk=ticket.pk).update(assignee=cast.expert_x)
    for user, url in (
        (cast.expert_x, f"/console/tickets/{ticket.reference}/"),
        (cast.admin, f"/portal/requests/{ticket.reference}/"),
    ):
        client.force_login(user)
        started = time.process_time()
        response = client.get(url)
        assert response.status_code == 200
        assert time.process_time() - started <= 0.2 + 0.5  # page work; generous
    # The portal page never sanitises again: no bleach work per view.
    client.force_login(cast.admin)
    with CaptureQueriesContext(__import__("django.db").db.connection):
        html = client.get(f"/portal/requests/{ticket.reference}/").content.decode()
    assert "вътре" in html


def test_a_mail_whose_structure_cannot_be_read_is_quarantined_with_its_headers(cast):
    message = EmailMessage()
    message["From"] = "Иван <ivan@example.org>"
    message["To"] = "support@helpdesk.example"
    message["Subject"] = "Счупена структура"
    message["Message-ID"] = "<broken@example.org>"
    boundary = "b"
    body = ""
    for level in range(1000):
        body += f'--{boundary}{level}\r\nContent-Type: multipart/mixed; boundary="{boundary}{level + 1}"\r\n\r\n'
    head = (
        "From: Иван <ivan@example.org>\r\nTo: support@helpdesk.example\r\n"
        "Subject: =?utf-8?b?0KHRh9GD0L/QtdC90LAg0YHRgtGA0YPQutGC0YPRgNCw?=\r\n"
        "Message-ID: <broken@example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    )
    outcome = process_message((head + body).encode())
    row = InboundMessage.objects.get(pk=outcome.inbound_id)
    assert row.sender == "ivan@example.org"
    if outcome.outcome == "quarantined":
        assert row.subject == "Счупена структура"
        assert "structure" in row.reason
    else:
        # The parser read it after all (bounded): then it is a request like any other.
        assert outcome.outcome == "created"


def test_a_mail_with_two_thousand_parts_keeps_a_note_of_what_was_not_read(cast):
    message = EmailMessage()
    message["From"] = "Иван <ivan@example.org>"
    message["To"] = "support@helpdesk.example"
    message["Subject"] = "Много части"
    message.set_content("Текст")
    for i in range(2000):
        message.add_attachment(
            b"x", maintype="application", subtype="octet-stream", filename=f"f{i}.bin"
        )
    outcome = process_message(message.as_bytes())
    assert outcome.outcome == "created"
    ticket = Ticket.objects.get(reference=outcome.ticket)
    assert ticket.attachments.count() <= 60
    assert ticket.events.filter(note__contains="were not read").exists()
