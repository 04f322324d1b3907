"""Filing a request in the portal: the form, the write, the acknowledgement."""

import pytest
from django.urls import reverse

from accounts.models import Membership, Role
from helpdesk.errors import DomainError
from tests.portal.helpers import png_bytes, upload
from tickets.models import Attachment, MailThreadKey, OutboundMail, Ticket

NEW = "/portal/new/"


def form_data(cast, **extra):
    data = {
        "institution": cast.school_a.pk,
        "competence": cast.diplomas.pk,
        "subject": "Диплома не се качва",
        "description": "Сканираното изображение се отхвърля с грешка.",
    }
    data.update(extra)
    return data


def test_url_names_resolve():
    assert reverse("portal:list") == "/portal/"
    assert reverse("portal:new") == NEW
    assert reverse("portal:ticket", args=["26-000001"]) == "/portal/requests/26-000001/"
    assert reverse("portal:attachment", args=[5]) == "/portal/attachments/5/"
    assert reverse("portal:suggest") == "/portal/suggest/"
    assert reverse("portal:delegations") == "/portal/delegations/"


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(NEW)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_form_shows_the_institution_and_areas_with_hints(client, cast):
    client.force_login(cast.teacher_a)
    response = client.get(NEW)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-test="institution-name"' in html and "138 СУ" in html
    assert f'type="hidden" name="institution" value="{cast.school_a.pk}"' in html
    # Areas in the reader's language (Bulgarian by default), each with its hint.
    assert cast.diplomas.name in html
    assert cast.diplomas.hint in html
    assert 'type="file" name="attachments"' in html and "multiple" in html
    assert 'enctype="multipart/form-data"' in html
    assert "csrfmiddlewaretoken" in html
    # A teacher may not set the priority.
    assert 'name="priority"' not in html


def test_areas_follow_the_interface_language(client, cast):
    client.force_login(cast.teacher_a)
    response = client.get(NEW, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert cast.diplomas.name_en in html
    assert cast.diplomas.hint_en in html


def test_director_may_set_the_priority(client, cast):
    client.force_login(cast.director_a)
    assert 'name="priority"' in client.get(NEW).content.decode()
    response = client.post(NEW, form_data(cast, priority="high"))
    assert response.status_code == 302
    assert Ticket.objects.get().priority == "high"


def test_teacher_cannot_smuggle_a_priority(client, cast):
    client.force_login(cast.teacher_a)
    response = client.post(NEW, form_data(cast, priority="urgent"))
    assert response.status_code == 302
    assert Ticket.objects.get().priority == "normal"


def test_several_institutions_give_a_choice(client, cast):
    Membership.objects.create(user=cast.teacher_a, institution=cast.school_a2, role=Role.TEACHER)
    client.force_login(cast.teacher_a)
    html = client.get(NEW).content.decode()
    assert '<select name="institution"' in html
    assert "ДГ Слънце" in html and "138 СУ" in html
    response = client.post(NEW, form_data(cast, institution=cast.school_a2.pk))
    assert response.status_code == 302
    assert Ticket.objects.get().institution == cast.school_a2


def test_cannot_file_for_another_institution(client, cast):
    client.force_login(cast.teacher_a)
    response = client.post(NEW, form_data(cast, institution=cast.school_b.pk))
    assert response.status_code == 200
    assert 'data-test="error-summary"' in response.content.decode()
    assert not Ticket.objects.exists()


def test_person_without_institution_sees_an_explanation(client, cast):
    client.force_login(cast.outsider)
    response = client.get(NEW)
    assert 'data-test="no-institution"' in response.content.decode()
    assert 'name="subject"' not in response.content.decode()
    response = client.post(NEW, form_data(cast))
    assert not Ticket.objects.exists()


def test_files_a_request_with_an_attachment_and_acknowledges_it(
    client, cast, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(cast.teacher_a)
    image = png_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            NEW, form_data(cast, attachments=[upload("диплома.png", image, "image/png")])
        )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/portal/requests/{ticket.reference}/"
    assert ticket.channel == "portal"
    assert ticket.requester == cast.teacher_a
    assert ticket.institution == cast.school_a
    assert ticket.competence == cast.diplomas
    attachment = Attachment.objects.get(ticket=ticket)
    assert attachment.original_name == "диплома.png"
    assert attachment.content_type == "image/png"
    assert attachment.size == len(image)
    assert attachment.file.read() == image

    # The acknowledgement: to the requester, reference tag in the subject,
    # a Message-ID that the helpdesk remembers for threading.
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [cast.teacher_a.email]
    assert f"[HD#{ticket.reference}]" in mail.subject
    message_id = mail.extra_headers["Message-ID"]
    assert message_id.startswith("<") and message_id.endswith(">")
    assert MailThreadKey.objects.filter(
        ticket=ticket, direction="out", mail_id=message_id.strip("<>")
    ).exists()
    assert OutboundMail.objects.get(ticket=ticket).state == "sent"
    assert f"/portal/requests/{ticket.reference}/" in mail.body


def test_the_ticket_page_confirms_the_filing(client, cast):
    client.force_login(cast.teacher_a)
    response = client.post(NEW, form_data(cast), follow=True)
    ticket = Ticket.objects.get()
    html = response.content.decode()
    assert ticket.reference in html
    assert "Сканираното изображение се отхвърля" in html


def test_a_failed_submit_keeps_what_was_typed(client, cast):
    client.force_login(cast.teacher_a)
    response = client.post(
        NEW,
        form_data(cast, subject="", description="Дълъг текст, който не трябва да се губи."),
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-test="error-summary"' in html
    assert 'href="#id_subject"' in html
    assert "Дълъг текст, който не трябва да се губи." in html
    assert f'value="{cast.diplomas.pk}" id="id_competence_' in html
    assert 'aria-invalid="true"' in html
    assert not Ticket.objects.exists()


def test_description_or_file_is_required(client, cast):
    client.force_login(cast.teacher_a)
    response = client.post(NEW, form_data(cast, description=""))
    assert 'href="#id_description"' in response.content.decode()
    assert not Ticket.objects.exists()
    # A screenshot alone is enough.
    response = client.post(
        NEW, form_data(cast, description="", attachments=[upload("a.png", png_bytes())])
    )
    assert response.status_code == 302


def test_a_domain_error_lands_on_its_field(client, cast, monkeypatch):
    from tickets import actions

    def refuse(**kwargs):
        raise DomainError("Текстът е твърде дълъг.", field="text")

    monkeypatch.setattr(actions, "file_from_portal", refuse)
    client.force_login(cast.teacher_a)
    response = client.post(NEW, form_data(cast))
    html = response.content.decode()
    assert 'href="#id_description"' in html
    assert "Текстът е твърде дълъг." in html
    assert 'id="id_description_error"' in html


def test_csrf_is_required(cast):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.teacher_a)
    response = client.post(NEW, form_data(cast))
    assert response.status_code == 403
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("name", ["new.html", "ticket.html", "list.html", "delegations.html"])
def test_templates_never_mark_user_text_safe(name):
    from pathlib import Path

    text = (
        Path(__file__).resolve().parents[2] / "portal" / "templates" / "portal" / name
    ).read_text()
    assert "|safe" not in text
    assert "autoescape off" not in text
