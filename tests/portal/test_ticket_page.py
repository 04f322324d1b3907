"""A request's page: conversation, reply, solve, reopen, rate, downloads, merges."""

import datetime

import pytest

from helpdesk.uploads import check_file
from tests.portal.helpers import png_bytes, upload
from tickets import actions
from tickets.models import Message, Ticket


def page_url(ticket):
    return f"/portal/requests/{ticket.reference}/"


def test_shows_public_messages_and_never_internal_notes(client, cast, make_ticket):
    ticket = make_ticket()
    actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="ТАЙНА-БЕЛЕЖКА", kind="internal", channel="console"
    )
    actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="ПУБЛИЧЕН-ОТГОВОР", channel="console"
    )
    client.force_login(cast.teacher_a)
    html = client.get(page_url(ticket)).content.decode()
    assert "ПУБЛИЧЕН-ОТГОВОР" in html
    assert "Сканираното изображение на дипломата се отхвърля." in html
    assert "ТАЙНА-БЕЛЕЖКА" not in html
    assert html.count('data-test="message"') == 2


def test_the_requester_replies_with_a_file(client, cast, make_ticket):
    ticket = make_ticket()
    client.force_login(cast.teacher_a)
    response = client.post(
        page_url(ticket) + "reply/",
        {"text": "Прилагам нова снимка", "attachments": [upload("nova.png", png_bytes())]},
    )
    message = Message.objects.filter(ticket=ticket).latest("id")
    assert response.status_code == 302
    assert response["Location"] == page_url(ticket) + f"#m-{message.pk}"
    assert message.body_text == "Прилагам нова снимка"
    assert message.author == cast.teacher_a
    assert message.channel == "portal"
    assert message.attachments.get().content_type == "image/png"
    html = client.get(page_url(ticket)).content.decode()
    assert "Прилагам нова снимка" in html and "nova.png" in html


def test_an_empty_reply_is_refused(client, cast, make_ticket):
    ticket = make_ticket()
    client.force_login(cast.teacher_a)
    response = client.post(page_url(ticket) + "reply/", {"text": "   "})
    assert 'href="#id_text"' in response.content.decode()
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_a_staff_reply_is_mailed_to_the_requester(
    cast, make_ticket, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    acknowledgement = mailoutbox[0].extra_headers["Message-ID"]
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_message(
            ticket=ticket, actor=cast.expert_x, text="Опитайте отново.", channel="console"
        )
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [cast.teacher_a.email]
    assert f"[HD#{ticket.reference}]" in mail.subject
    assert "Опитайте отново." in mail.body
    assert mail.extra_headers["Message-ID"] != acknowledgement
    # The reply threads under the acknowledgement the requester already has.
    assert acknowledgement in mail.extra_headers["References"]


def test_the_requester_marks_it_solved(client, cast, make_ticket):
    ticket = make_ticket()
    client.force_login(cast.teacher_a)
    assert 'data-test="solve-form"' in client.get(page_url(ticket)).content.decode()
    response = client.post(page_url(ticket) + "solve/")
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    assert ticket.events.filter(kind="status", new_value="resolved", channel="portal").exists()


def test_reopen_within_the_period_with_a_reason(client, cast, make_ticket):
    ticket = make_ticket()
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved")
    client.force_login(cast.teacher_a)
    html = client.get(page_url(ticket)).content.decode()
    assert 'data-test="reopen-form"' in html
    response = client.post(page_url(ticket) + "reopen/", {"reason": "Пак не работи."})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.messages.latest("id").body_text == "Пак не работи."


def test_no_reopen_after_the_period(client, cast, make_ticket, settings):
    settings.HELPDESK = {**settings.HELPDESK, "REOPEN_DAYS": 3}
    ticket = make_ticket()
    ticket = actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved")
    Ticket.objects.filter(pk=ticket.pk).update(
        resolved_at=ticket.resolved_at - datetime.timedelta(days=4)
    )
    client.force_login(cast.teacher_a)
    assert 'data-test="reopen-form"' not in client.get(page_url(ticket)).content.decode()
    response = client.post(page_url(ticket) + "reopen/", {"reason": "Пак"}, follow=True)
    assert 'class="msg msg-error"' in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    assert ticket.messages.count() == 1


def test_rating_after_resolution(client, cast, make_ticket):
    ticket = make_ticket()
    client.force_login(cast.teacher_a)
    # Not before resolution: no form, and a forced POST changes nothing.
    assert 'data-test="rate-form"' not in client.get(page_url(ticket)).content.decode()
    response = client.post(page_url(ticket) + "rate/", {"score": "5"}, follow=True)
    assert 'class="msg msg-error"' in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.satisfaction is None

    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved")
    assert 'data-test="rate-form"' in client.get(page_url(ticket)).content.decode()
    response = client.post(page_url(ticket) + "rate/", {"score": "4", "comment": "Бързо."})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.satisfaction, ticket.satisfaction_comment) == (4, "Бързо.")


def test_only_the_requester_rates(client, cast, make_ticket):
    ticket = make_ticket()
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved")
    client.force_login(cast.director_a)
    assert 'data-test="rate-form"' not in client.get(page_url(ticket)).content.decode()
    response = client.post(page_url(ticket) + "rate/", {"score": "1"}, follow=True)
    assert 'class="msg msg-error"' in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.satisfaction is None


def test_a_closed_request_takes_no_replies(client, cast, make_ticket):
    ticket = make_ticket()
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="closed")
    client.force_login(cast.teacher_a)
    html = client.get(page_url(ticket)).content.decode()
    assert 'data-test="reply-form"' not in html
    assert 'data-test="closed-notice"' in html
    response = client.post(page_url(ticket) + "reply/", {"text": "Още нещо"}, follow=True)
    assert 'class="msg msg-error"' in response.content.decode()
    assert ticket.reference in response.content.decode()
    assert ticket.messages.count() == 1


def test_download_headers(client, cast, make_ticket):
    image = png_bytes(3, 3)
    ticket = make_ticket(files=[check_file("Диплома 2024.png", image)])
    attachment = ticket.attachments.get()
    client.force_login(cast.teacher_a)
    response = client.get(f"/portal/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == image


def test_a_missing_stored_file_is_404(client, cast, make_ticket):
    ticket = make_ticket(files=[check_file("a.png", png_bytes())])
    attachment = ticket.attachments.get()
    attachment.file.storage.delete(attachment.file.name)
    client.force_login(cast.teacher_a)
    assert client.get(f"/portal/attachments/{attachment.pk}/").status_code == 404


def test_a_merged_reference_leads_to_the_surviving_request(client, cast, make_ticket):
    survivor = make_ticket(subject="Основна заявка")
    merged = make_ticket(subject="Дубликат")
    Ticket.objects.filter(pk=merged.pk).update(merged_into=survivor)
    client.force_login(cast.teacher_a)
    response = client.get(page_url(merged))
    assert response.status_code == 302
    assert response["Location"] == page_url(survivor)


def test_a_merge_into_a_hidden_request_does_not_leak_it(client, cast, make_ticket):
    hidden = make_ticket(actor=cast.teacher_b, institution=cast.school_b, subject="Чужда")
    merged = make_ticket()
    Ticket.objects.filter(pk=merged.pk).update(merged_into=hidden)
    client.force_login(cast.teacher_a)
    response = client.get(page_url(merged))
    assert response.status_code == 200
    assert 'data-test="reply-form"' not in response.content.decode()
    assert "Чужда" not in response.content.decode()


@pytest.mark.parametrize("language,word", [("bg", "Разговор"), ("en", "Conversation")])
def test_the_page_renders_in_both_languages(client, cast, make_ticket, language, word):
    ticket = make_ticket()
    client.force_login(cast.teacher_a)
    response = client.get(page_url(ticket), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    if language == "en":
        assert word in response.content.decode()
