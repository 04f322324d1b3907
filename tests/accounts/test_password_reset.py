"""Password reset by e-mail: local accounts only, through a real SMTP peer, rate-limited."""

import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import make_password
from django.core import mail

from accounts.models import AccountEvent, User

RESET = "/accounts/password-reset/"
NEW_PASSWORD = "Ново-Силно-Парола-2026"


@pytest.fixture
def smtp(settings, smtp_peer):
    """The helpdesk's mail goes to the real SMTP peer for this test."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_peer.host
    settings.EMAIL_PORT = smtp_peer.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.SITE_URL = "https://helpdesk.example"
    smtp_peer.clear()
    return smtp_peer


def link_in(text: str) -> str:
    match = re.search(r"https://helpdesk\.example(/accounts/reset/[^/\s]+/[^/\s]+/)", text)
    assert match, text
    return match.group(1)


def test_the_reset_mail_reaches_the_smtp_peer_and_the_link_sets_a_new_password(client, cast, smtp):
    for _ in range(5):  # locked out first: the reset lifts the lock
        client.post("/accounts/login/", {"username": "teacher.a@edu.mon.bg", "password": "wrong"})
    assert AccessAttempt.objects.filter(username="teacher.a@edu.mon.bg").exists()

    response = client.post(RESET, {"email": "Teacher.A@edu.mon.bg"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"

    received = smtp.wait_for(lambda m: "teacher.a@edu.mon.bg" in m.rcpt_tos)
    body = received.message.get_body(preferencelist=("plain",)).get_content()
    assert "НЕИСПУО" in str(received.message["Subject"])
    assert "нова парола" in body  # Bulgarian, the person's language
    path = link_in(body)

    form = client.get(path, follow=True)
    assert form.context["validlink"] is True
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert done["Location"] == "/accounts/reset/done/"
    cast.teacher_a.refresh_from_db()
    assert cast.teacher_a.check_password(NEW_PASSWORD)
    assert not AccessAttempt.objects.filter(username="teacher.a@edu.mon.bg").exists()
    # The link works once.
    assert client.get(path, follow=True).context["validlink"] is False
    kinds = set(AccountEvent.objects.filter(subject=cast.teacher_a).values_list("kind", flat=True))
    assert {"password_reset_requested", "password_reset_done"} <= kinds


def test_the_mail_is_in_the_persons_language(client, cast, smtp):
    cast.expert_y.language = "en"
    cast.expert_y.save()
    client.post(RESET, {"email": "expert.y@ruo.bg"})
    received = smtp.wait_for(lambda m: "expert.y@ruo.bg" in m.rcpt_tos)
    body = received.message.get_body(preferencelist=("plain",)).get_content()
    assert "asked for a new password" in body


def test_no_mail_for_edu_mon_bg_accounts_or_unknown_addresses_and_the_same_page(client, cast):
    oidc_person = User.objects.create_user(email="oidc@edu.mon.bg")  # no usable password
    assert not oidc_person.has_usable_password()
    for address in ("oidc@edu.mon.bg", "nobody@edu.mon.bg"):
        response = client.post(RESET, {"email": address})
        assert response.status_code == 302
        assert response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []


def test_admins_only_mode_sends_links_to_administrators_only(client, cast, settings):
    settings.HELPDESK_LOCAL_LOGIN = "admins-only"
    client.post(RESET, {"email": "teacher.a@edu.mon.bg"})
    assert mail.outbox == []
    client.post(RESET, {"email": "admin@mon.bg"})
    assert [m.to for m in mail.outbox] == [["admin@mon.bg"]]


def test_requests_are_limited_per_address_and_per_client(client, cast, settings):
    settings.HELPDESK_PASSWORD_RESETS_PER_ADDRESS_HOUR = 2
    settings.HELPDESK_PASSWORD_RESETS_PER_CLIENT_HOUR = 4
    for _ in range(3):
        response = client.post(RESET, {"email": "teacher.a@edu.mon.bg"})
        assert response.status_code == 302
    assert len(mail.outbox) == 2  # the third asked for the same address: nothing sent
    client.post(RESET, {"email": "teacher.b@edu.mon.bg"})
    assert len(mail.outbox) == 3
    refused = client.post(RESET, {"email": "director.a@edu.mon.bg"})
    assert refused.status_code == 200
    assert refused.context["form"].non_field_errors()
    assert len(mail.outbox) == 3


def test_the_login_page_links_to_the_reset(client, db):
    page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password-reset/"' in page


def test_a_reset_password_is_checked_by_the_validators(client, cast):
    cast.teacher_a.password = make_password("pw-Secret-123")
    cast.teacher_a.save()
    client.post(RESET, {"email": "teacher.a@edu.mon.bg"})
    path = link_in(mail.outbox[0].body.replace("http://127.0.0.1:8000", "https://helpdesk.example"))
    form = client.get(path, follow=True)
    weak = client.post(form.redirect_chain[-1][0], {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 200
    assert weak.context["form"].errors
