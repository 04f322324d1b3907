"""Personal numbers (ЕГН) are masked on the way in, so no door ever shows them.

A teacher files through the portal with a valid ЕГН in the subject and the
text; the teacher's page, the expert's console page, the acknowledgement mail,
the API and the search results show only the mask. A mail with an ЕГН in its
subject, body, HTML and a file name is stored masked. The original is kept
only when HELPDESK_EGN_KEEP_ORIGINAL is on, and revealing it is audited.
"""

import pytest
from django.urls import reverse

from accounts.models import AccountEvent
from mailbridge.ingest import process_message
from mailbridge.models import InboundMessage
from tests.mailbridge.test_ingest import PDF, make_mail
from tests.portal.helpers import png_bytes, upload
from tickets import actions
from tickets.models import Attachment, Message, RedactedOriginal, Ticket, TicketEvent
from tickets.search import filter_by_text

pytestmark = pytest.mark.django_db

EGN = "7523169263"
EGN_GROUPED = "803205 603 1"  # 8032056031, written in groups after the word ЕГН
PHONE = "0888123456"
WRONG_CHECKSUM = "7523169264"


def _file(client, cast, **extra):
    data = {
        "institution": cast.school_a.pk,
        "competence": cast.diplomas.pk,
        "subject": f"Диплома на ученик с ЕГН {EGN}",
        "description": (
            f"Ученикът с ЕГН {EGN} (брат му е с ЕГН {EGN_GROUPED}) няма диплома. "
            f"Телефон {PHONE}, номер {WRONG_CHECKSUM}, код {cast.school_a.code}."
        ),
        **extra,
    }
    return client.post(reverse("portal:new"), data, follow=True)


def _assert_hidden(text: str):
    assert EGN not in text
    assert "8032056031" not in text
    assert EGN_GROUPED not in text


def test_a_teacher_files_with_an_egn_and_no_door_shows_it(
    client, cast, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(cast.teacher_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = _file(
            client, cast, attachments=[upload(f"диплома_{EGN}.png", png_bytes(), "image/png")]
        )
    assert response.status_code == 200
    ticket = Ticket.objects.get()
    message = ticket.messages.get()

    # Stored masked: subject, text, file name; numbers that are no ЕГН as written.
    assert ticket.subject == "Диплома на ученик с ЕГН **********"
    assert "ЕГН ********** (брат му е с ЕГН ****** *** *)" in message.body_text
    assert PHONE in message.body_text
    assert WRONG_CHECKSUM in message.body_text
    assert cast.school_a.code in message.body_text
    assert Attachment.objects.get().original_name == "диплома_**********.png"
    # Not kept anywhere else by default.
    assert not RedactedOriginal.objects.exists()

    # The teacher is told why, on the page the filing leads to.
    page = response.content.decode()
    _assert_hidden(page)
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 1
    assert "ЕГН" in warnings[0] and "**********" in warnings[0]
    assert warnings[0] in page
    assert 'data-test="egn-hint"' in client.get(reverse("portal:new")).content.decode()
    # The teacher's page of the request, later.
    _assert_hidden(client.get(reverse("portal:ticket", args=[ticket.reference])).content.decode())
    _assert_hidden(client.get(reverse("portal:list")).content.decode())

    # The acknowledgement mail.
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    _assert_hidden(mail.subject)
    _assert_hidden(mail.body)
    for alternative, _type in getattr(mail, "alternatives", []):
        _assert_hidden(str(alternative))

    # The expert's console: the ticket page and the queue.
    assert ticket.assignee == cast.expert_x
    client.force_login(cast.expert_x)
    console_page = client.get(reverse("console:ticket", args=[ticket.reference]))
    assert console_page.status_code == 200
    _assert_hidden(console_page.content.decode())
    _assert_hidden(client.get(reverse("console:queue")).content.decode())

    # The API: list and detail.
    listing = client.get(reverse("api:ticket-list"))
    assert listing.status_code == 200
    assert ticket.reference in listing.content.decode()
    _assert_hidden(listing.content.decode())
    detail = client.get(reverse("api:ticket-detail", args=[ticket.reference]))
    assert detail.status_code == 200
    _assert_hidden(detail.content.decode())

    # Search: the words are found, the number is not there to be found.
    visible = Ticket.objects.visible_to(cast.expert_x)
    assert set(filter_by_text(visible, "диплома")) == {ticket}
    assert not filter_by_text(visible, EGN).exists()
    results = client.get(reverse("console:queue_key", args=["all"]) + "?q=диплома")
    assert ticket.reference in results.content.decode()
    _assert_hidden(results.content.decode())

    # History.
    for event in TicketEvent.objects.filter(ticket=ticket):
        _assert_hidden(f"{event.old_value} {event.new_value} {event.note}")


def test_replies_notes_and_history_are_masked(client, cast, make_ticket):
    ticket = make_ticket()
    message = actions.add_message(
        ticket=ticket, actor=cast.expert_x, text=f"Вътрешно: ЕГН {EGN}", kind="internal"
    )
    assert message.body_text == "Вътрешно: ЕГН **********"
    assert message.egn_masked == 1
    client.force_login(cast.teacher_a)
    response = client.post(
        reverse("portal:reply", args=[ticket.reference]), {"text": f"ЕГН {EGN}"}, follow=True
    )
    assert response.status_code == 200
    _assert_hidden(response.content.decode())
    assert "warning" in [m.level_tag for m in response.context["messages"]]
    actions.change_status(
        ticket=ticket, actor=cast.expert_x, status="resolved", reason=f"ЕГН {EGN} поправено"
    )
    for event in TicketEvent.objects.filter(ticket=ticket):
        _assert_hidden(event.note)
    assert not Message.objects.filter(body_text__contains=EGN).exists()


def test_a_mail_with_an_egn_is_stored_masked(cast):
    raw = make_mail(
        subject=f"Справка за ЕГН {EGN}",
        body=f"Здравейте, ЕГН на ученика е {EGN}.\n\n> ЕГН {EGN}\n",
        html=f"<p>ЕГН на ученика е <b>{EGN}</b>.</p>",
        attachments=[(f"справка_{EGN}.pdf", PDF, "application/pdf")],
    )
    outcome = process_message(raw)
    assert outcome.outcome == "created"
    ticket = Ticket.objects.get()
    message = ticket.messages.get()
    assert ticket.subject == "Справка за ЕГН **********"
    for text in (message.body_text, message.body_html, message.quoted_text):
        _assert_hidden(text)
    assert "**********" in message.body_text
    assert "**********" in message.body_html
    assert Attachment.objects.get().original_name == "справка_**********.pdf"
    # The admin's list of received mail shows the subject masked too.
    assert InboundMessage.objects.get().subject == "Справка за ЕГН **********"


def test_originals_are_kept_apart_only_when_the_setting_says_so(
    client, cast, make_ticket, settings
):
    settings.HELPDESK_EGN_KEEP_ORIGINAL = True
    ticket = make_ticket(subject=f"ЕГН {EGN}", text=f"Текст с {EGN}")
    assert ticket.egn_masked == 2
    kept = {r.field: r.original for r in RedactedOriginal.objects.filter(ticket=ticket)}
    assert kept == {"subject": f"ЕГН {EGN}", "body_text": f"Текст с {EGN}"}

    # Only superusers see the table, and a reveal is written to the access audit.
    row = RedactedOriginal.objects.get(field="subject")
    reveal = reverse("admin:tickets_redactedoriginal_reveal", args=[row.pk])
    change = reverse("admin:tickets_redactedoriginal_change", args=[row.pk])
    staff = cast.expert_x
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.get(change).status_code in (302, 403)
    assert client.post(reveal).status_code in (302, 403)
    client.force_login(cast.admin)
    page = client.get(change)
    assert page.status_code == 200
    assert EGN not in page.content.decode(), "shown only when revealed"
    assert not AccountEvent.objects.filter(kind="egn_revealed").exists()
    revealed = client.post(reveal)
    assert revealed.status_code == 200
    assert EGN in revealed.content.decode()
    event = AccountEvent.objects.get(kind="egn_revealed")
    assert event.actor == cast.admin
    assert event.subject == cast.teacher_a
    assert event.detail["reference"] == ticket.reference
    assert event.detail["field"] == "subject"
    assert EGN not in str(event.detail)
