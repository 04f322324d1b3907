"""Bad input: oversized and disguised files, scripts in text, tampered requests."""

import pytest

from tests.portal.helpers import EXE_BYTES, SCRIPT_BYTES, png_bytes, upload
from tickets import actions
from tickets.models import Attachment, Message, Ticket

NEW = "/portal/new/"


@pytest.fixture
def small_files(settings):
    settings.HELPDESK = {**settings.HELPDESK, "MAX_FILE_BYTES": 1024}


def form_data(cast, **extra):
    data = {
        "institution": cast.school_a.pk,
        "competence": cast.diplomas.pk,
        "subject": "Качване на диплома",
        "description": "Текст, който трябва да остане след грешката.",
    }
    data.update(extra)
    return data


def test_an_oversized_file_is_refused_and_the_text_is_kept(client, cast, small_files):
    client.force_login(cast.teacher_a)
    big = png_bytes() + b"\x00" * 4096
    response = client.post(NEW, form_data(cast, attachments=[upload("скан.png", big)]))
    html = response.content.decode()
    assert response.status_code == 200
    assert not Ticket.objects.exists()
    assert 'href="#id_attachments"' in html
    assert "скан.png" in html
    assert 'id="id_attachments_error"' in html
    # Everything typed is still there, and the person is told to choose the files again.
    assert 'value="Качване на диплома"' in html
    assert "Текст, който трябва да остане след грешката." in html
    assert 'data-test="files-lost"' in html


def test_the_whole_request_size_is_limited(client, cast, settings):
    settings.HELPDESK = {**settings.HELPDESK, "MAX_REQUEST_BYTES": 1500}
    client.force_login(cast.teacher_a)
    files = [upload(f"{n}.txt", b"a" * 1000, "text/plain") for n in range(2)]
    response = client.post(NEW, form_data(cast, attachments=files))
    assert 'id="id_attachments_error"' in response.content.decode()
    assert not Ticket.objects.exists()


def test_too_many_files_are_refused(client, cast, settings):
    settings.HELPDESK = {**settings.HELPDESK, "MAX_FILES": 2}
    client.force_login(cast.teacher_a)
    files = [upload(f"{n}.png", png_bytes()) for n in range(3)]
    response = client.post(NEW, form_data(cast, attachments=files))
    assert 'id="id_attachments_error"' in response.content.decode()
    assert not Ticket.objects.exists()


def test_an_executable_named_png_is_refused(client, cast):
    client.force_login(cast.teacher_a)
    response = client.post(
        NEW, form_data(cast, attachments=[upload("снимка.png", EXE_BYTES, "image/png")])
    )
    html = response.content.decode()
    assert not Ticket.objects.exists()
    assert "снимка.png" in html
    assert 'id="id_attachments_error"' in html


def test_a_script_named_png_is_stored_as_text_not_as_an_image(client, cast):
    client.force_login(cast.teacher_a)
    response = client.post(
        NEW, form_data(cast, attachments=[upload("снимка.png", SCRIPT_BYTES, "image/png")])
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    # The type comes from the content: it is plain text, whatever the name says.
    assert attachment.content_type == "text/plain"
    download = client.get(f"/portal/attachments/{attachment.pk}/")
    assert download["Content-Type"].startswith("text/plain")
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"


def test_html_named_as_an_image_is_only_ever_downloaded(client, cast):
    client.force_login(cast.teacher_a)
    payload = b"<html><script>alert(document.cookie)</script></html>"
    client.post(NEW, form_data(cast, attachments=[upload("x.png", payload, "image/png")]))
    attachment = Attachment.objects.get()
    assert attachment.content_type != "text/html"
    download = client.get(f"/portal/attachments/{attachment.pk}/")
    assert download["Content-Disposition"].startswith("attachment")
    assert "sandbox" in download["Content-Security-Policy"]


def test_a_path_in_the_file_name_is_dropped(client, cast):
    client.force_login(cast.teacher_a)
    client.post(NEW, form_data(cast, attachments=[upload("../../etc/passwd.png", png_bytes())]))
    attachment = Attachment.objects.get()
    assert attachment.original_name == "passwd.png"
    assert ".." not in attachment.file.name


def test_a_rejected_reply_file_adds_nothing(client, cast, make_ticket, small_files):
    ticket = make_ticket()
    client.force_login(cast.teacher_a)
    response = client.post(
        f"/portal/requests/{ticket.reference}/reply/",
        {"text": "Ето файла", "attachments": [upload("big.png", png_bytes() + b"\0" * 4096)]},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_attachments_error"' in html
    assert "Ето файла" in html
    assert Message.objects.filter(ticket=ticket).count() == 1


SCRIPT = '<script>alert("xss")</script>'


def test_a_script_in_the_subject_and_text_is_shown_as_text(client, cast):
    client.force_login(cast.teacher_a)
    client.post(NEW, form_data(cast, subject=f"Помощ {SCRIPT}", description=f"Текст {SCRIPT}"))
    ticket = Ticket.objects.get()
    for url in (f"/portal/requests/{ticket.reference}/", "/portal/"):
        html = client.get(url).content.decode()
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;" in html


def test_html_from_mail_is_rendered_through_the_sanitiser(client, cast, make_ticket):
    ticket = make_ticket()
    actions.add_message(
        ticket=ticket,
        actor=cast.expert_x,
        text="Отговор",
        html='<p>Отговор <img src="x" onerror="alert(1)"><a href="javascript:alert(2)">връзка</a>'
        "<script>alert(3)</script></p>",
        channel="console",
    )
    # Sanitised once, when stored: what the page shows is the stored text.
    stored = Message.objects.get(ticket=ticket, from_staff=True).body_html
    for bad in ("onerror", "javascript:", "alert(3)", "<script"):
        assert bad not in stored
    client.force_login(cast.teacher_a)
    html = client.get(f"/portal/requests/{ticket.reference}/").content.decode()
    assert "Отговор" in html and stored in html
    for bad in ("onerror", "javascript:", "alert(3)"):
        assert bad not in html


def test_a_tampered_rating_is_refused(client, cast, make_ticket):
    ticket = make_ticket()
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved")
    client.force_login(cast.teacher_a)
    for score in ("0", "6", "abc", ""):
        response = client.post(f"/portal/requests/{ticket.reference}/rate/", {"score": score})
        assert response.status_code == 200
        assert 'data-test="error-summary"' in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.satisfaction is None


def test_malformed_references_are_404(client, cast):
    client.force_login(cast.teacher_a)
    for ref in ("abc", "26-1", "../../etc", "26-000001x"):
        assert client.get(f"/portal/requests/{ref}/").status_code == 404
