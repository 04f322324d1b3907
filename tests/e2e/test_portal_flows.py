"""The portal in a real browser (Debian's Chromium through Playwright).

A teacher files a request with a scanned image and answers in it, while the
acknowledgement travels to a real SMTP peer; a director lends a teacher the
institution's rights and takes them back; a teacher of another school finds
nothing by URL. Assertions use URLs, ids and data-test attributes, not
translated text.
"""

import re

import pytest

from tests.portal.helpers import png_bytes

pytestmark = pytest.mark.e2e

PASSWORD = "pw-Secret-123"


@pytest.fixture(autouse=True)
def _live_server_with_test_settings(live_server, _test_settings):
    """Rebuild the live server's middleware after the test settings apply.

    live_server is session-scoped, so its handlers (the static and media
    wrappers are full WSGI handlers too) loaded the middleware before
    tests/conftest.py turned SECURE_SSL_REDIRECT off; the browser would then
    be sent to https:// and fail.
    """
    handler = live_server.thread.httpd.get_app()
    while handler is not None:
        handler.load_middleware()
        handler = getattr(handler, "application", None)


@pytest.fixture
def smtp_mail(settings, smtp_peer):
    """Send the helpdesk's mail to the SMTP peer for this test."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_peer.host
    settings.EMAIL_PORT = smtp_peer.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    smtp_peer.clear()
    return smtp_peer


def log_in(page, base_url, user):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/portal/.*"))


def new_page(browser):
    context = browser.new_context(locale="bg-BG", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    return context, context.new_page()


def test_teacher_files_a_request_with_a_scan_and_replies(
    live_server, cast, page, smtp_mail, screenshot, tmp_path
):
    from tickets.models import Attachment, Ticket

    base = live_server.url
    scan = tmp_path / "diploma-scan.png"
    scan.write_bytes(png_bytes(40, 30))

    log_in(page, base, cast.teacher_a)
    page.click("[data-test=new-request]")
    page.wait_for_url(f"{base}/portal/new/")
    page.check(f"input[name=competence][value='{cast.diplomas.pk}']")
    page.fill("#id_subject", "Сканираната диплома се отхвърля")
    page.fill("#id_description", "При качване на изображението системата връща грешка.")
    page.set_input_files("#id_attachments", str(scan))
    # The page lists the chosen file (portal.js is loaded and working).
    page.wait_for_selector("[data-file-list] li")
    assert "diploma-scan.png" in page.inner_text("[data-file-list]")
    screenshot(page, "portal-filing-form")

    page.click("[data-test=submit-ticket]")
    page.wait_for_url(re.compile(r".*/portal/requests/\d{2}-\d{6}/$"))
    ticket = Ticket.objects.get()
    assert page.url == f"{base}/portal/requests/{ticket.reference}/"
    assert page.inner_text("[data-test=reference]") == ticket.reference
    assert page.locator("[data-test=attachment]").inner_text() == "diploma-scan.png"
    attachment = Attachment.objects.get(ticket=ticket)
    assert attachment.content_type == "image/png"

    # The acknowledgement reached the SMTP peer, tagged and with a Message-ID.
    received = smtp_mail.wait_for(lambda m: ticket.reference in str(m.message["Subject"]))
    assert f"[HD#{ticket.reference}]" in str(received.message["Subject"])
    assert received.message["Message-ID"]
    assert cast.teacher_a.email in received.rcpt_tos

    # It is in the list.
    page.goto(f"{base}/portal/")
    row = page.locator(f"[data-test=ticket-row][data-reference='{ticket.reference}']")
    assert row.count() == 1
    screenshot(page, "portal-list")

    # The teacher answers in the request.
    row.locator("[data-test=ticket-link]").click()
    page.wait_for_url(f"{base}/portal/requests/{ticket.reference}/")
    page.fill("#id_text", "Прилагам и номера на дипломата: 123456.")
    page.click("[data-test=send-reply]")
    page.wait_for_url(re.compile(rf".*/portal/requests/{ticket.reference}/#m-\d+$"))
    assert page.locator("[data-test=message]").count() == 2
    assert "123456" in page.locator("[data-test=message]").nth(1).inner_text()
    assert ticket.messages.count() == 2
    screenshot(page, "portal-request-page")


def test_director_delegates_and_revokes(live_server, cast, make_ticket, page, browser, screenshot):
    from accounts.models import Delegation

    base = live_server.url
    colleague_ticket = make_ticket(actor=cast.teacher_a_colleague, subject="Дневник на 5 а клас")
    ticket_url = f"{base}/portal/requests/{colleague_ticket.reference}/"

    teacher_context, teacher = new_page(browser)
    try:
        log_in(teacher, base, cast.teacher_a)
        # Before: the colleague's request is not theirs to see, no institution tab,
        # no delegation menu.
        assert teacher.goto(ticket_url).status == 404
        teacher.goto(f"{base}/portal/")
        assert teacher.locator("[data-test=tab-institution]").count() == 0
        assert teacher.locator("a[href='/portal/delegations/']").count() == 0

        # The director grants the teacher the institution's rights from now.
        log_in(page, base, cast.director_a)
        page.click("a[href='/portal/delegations/']")
        page.wait_for_url(f"{base}/portal/delegations/")
        assert page.locator(f"[data-test=colleague][data-email='{cast.teacher_a.email}']").count()
        page.select_option("#id_delegate", str(cast.teacher_a.pk))
        page.click("[data-test=grant]")
        page.wait_for_url(f"{base}/portal/delegations/")
        row = page.locator(
            f"[data-test=current-delegations] [data-test=delegation-row]"
            f"[data-delegate='{cast.teacher_a.email}']"
        )
        assert row.get_attribute("data-state") == "active"
        screenshot(page, "portal-delegations")

        # The teacher acts for the institution at once.
        teacher.goto(f"{base}/portal/?scope=institution")
        assert teacher.locator(
            f"[data-test=ticket-row][data-reference='{colleague_ticket.reference}']"
        ).count()
        assert teacher.goto(ticket_url).status == 200
        # ...and may file with a priority, which only the delegated rights allow.
        teacher.goto(f"{base}/portal/new/")
        teacher.check(f"input[name=competence][value='{cast.technical.pk}']")
        teacher.fill("#id_subject", "Модулът за документи не отваря")
        teacher.fill("#id_description", "Грешка 500 при отваряне.")
        teacher.select_option("#id_priority", "high")
        teacher.click("[data-test=submit-ticket]")
        teacher.wait_for_url(re.compile(r".*/portal/requests/\d{2}-\d{6}/$"))
        # Delegates never manage delegations.
        assert teacher.locator("a[href='/portal/delegations/']").count() == 0
        assert teacher.goto(f"{base}/portal/delegations/").status == 404

        # The director revokes; the teacher loses access on the very next request.
        row.locator("[data-test=revoke]").click()
        page.click("[data-test=confirm-revoke]")
        page.wait_for_url(f"{base}/portal/delegations/")
        revoked = page.locator(
            f"[data-test=past-delegations] [data-test=delegation-row]"
            f"[data-delegate='{cast.teacher_a.email}']"
        )
        assert revoked.get_attribute("data-state") == "revoked"
        assert teacher.goto(ticket_url).status == 404
        teacher.goto(f"{base}/portal/")
        assert teacher.locator("[data-test=tab-institution]").count() == 0
        delegation = Delegation.objects.get()
        assert delegation.revoked_by == cast.director_a
        assert list(delegation.events.values_list("kind", "actor")) == [
            ("delegation_revoked", cast.director_a.pk),
            ("delegation_granted", cast.director_a.pk),
        ]
    finally:
        teacher_context.close()


def test_teacher_of_another_school_finds_nothing_by_url(live_server, cast, make_ticket, page):
    from helpdesk.uploads import check_file

    base = live_server.url
    ticket = make_ticket(files=[check_file("diploma.png", png_bytes())])
    attachment = ticket.attachments.get()
    ticket_url = f"{base}/portal/requests/{ticket.reference}/"
    file_url = f"{base}/portal/attachments/{attachment.pk}/"

    log_in(page, base, cast.teacher_b)
    assert page.goto(ticket_url).status == 404
    assert page.request.get(file_url).status == 404
    assert page.request.post(f"{ticket_url}reply/", form={"text": "x"}).status in (403, 404)
    page.goto(f"{base}/portal/")
    assert page.locator(f"[data-reference='{ticket.reference}']").count() == 0

    # The same URLs work for the requester, and the file comes as a download.
    page.context.clear_cookies()
    log_in(page, base, cast.teacher_a)
    assert page.goto(ticket_url).status == 200
    download = page.request.get(file_url)
    assert download.status == 200
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.body() == png_bytes()


def test_on_a_phone_the_filters_fold_away_until_asked_for(
    live_server, cast, make_ticket, browser, screenshot
):
    """At 375 px the list starts on the first screen; the filters open on a tap, and stay
    open while one of them is set."""
    for n in range(3):
        make_ticket(subject=f"Заявка {n}")
    context = browser.new_context(locale="bg-BG", viewport={"width": 375, "height": 700})
    context.set_default_timeout(10_000)
    page = context.new_page()
    base = live_server.url
    log_in(page, base, cast.teacher_a)
    page.goto(f"{base}/portal/")
    box = page.locator("[data-test=filters-box]")
    assert box.get_attribute("open") is None
    assert not page.locator("#id_q").is_visible()
    first_row = page.locator("#ticket-list tbody tr").first.bounding_box()
    assert first_row["y"] + first_row["height"] <= 700
    screenshot(page, "portal-list-phone-filters-folded")

    page.locator("[data-test=filters-box] > summary").click()
    page.fill("#id_q", "Заявка")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(re.compile(r".*q=.*"))
    assert page.locator("[data-test=filters-box]").get_attribute("open") is not None
    assert page.locator("#id_q").input_value() == "Заявка"

    # On a wide screen the filters are simply there, with no heading to open.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/portal/")
    assert page.locator("#id_q").is_visible()
    assert not page.locator("[data-test=filters-box] > summary").is_visible()
    context.close()
