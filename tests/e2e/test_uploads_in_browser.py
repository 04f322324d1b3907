"""The filing form checks chosen files in the browser before anything is sent,
against the limits the server enforces and in the server's words; sizes read
as the server writes them ("2 МБ"). Nothing is sent while a file is refused.
"""

import re

import pytest
from django.utils import translation

from helpdesk.uploads import browser_rules
from tests.portal.helpers import png_bytes

pytestmark = pytest.mark.e2e

PASSWORD = "pw-Secret-123"
NBSP = "\u00a0"


@pytest.fixture(autouse=True)
def _live_server_with_test_settings(live_server, _test_settings, settings):
    handler = live_server.thread.httpd.get_app()
    while handler is not None:
        handler.load_middleware()
        handler = getattr(handler, "application", None)
    settings.HELPDESK = {
        **settings.HELPDESK,
        "MAX_FILE_BYTES": 1024 * 1024,
        "MAX_FILES": 2,
        "MAX_REQUEST_BYTES": 1536 * 1024,
    }


@pytest.fixture
def filing_form(live_server, cast, page):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", cast.teacher_a.email)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/portal/.*"))
    page.goto(f"{live_server.url}/portal/new/")
    page.check(f"input[name=competence][value='{cast.diplomas.pk}']")
    page.fill("#id_subject", "Сканираната диплома се отхвърля")
    page.fill("#id_description", "При качване системата връща грешка.")
    return page


def _problem(page) -> str:
    return page.locator("[data-test=upload-problem]").inner_text()


def test_a_file_over_the_limit_is_refused_before_sending(filing_form, tmp_path, screenshot):
    from tickets.models import Ticket

    page = filing_form
    big = tmp_path / "diploma.png"
    big.write_bytes(png_bytes(4, 4) + b"\0" * (2 * 1024 * 1024))
    page.set_input_files("#id_attachments", str(big))
    with translation.override("bg"):
        rules = browser_rules()
    reason = rules["reasons"]["tooBig"]
    # The portal's own sentence around the server's reason (portal/forms.py).
    assert _problem(page) == rules["oneFile"] % {"name": "diploma.png", "reason": reason}
    assert f"1{NBSP}МБ" in reason
    # The list gives the file's size the server's way.
    assert page.inner_text("[data-file-list]") == f"diploma.png (2{NBSP}МБ)"
    assert page.get_attribute("#id_attachments", "aria-invalid") == "true"
    screenshot(page, "portal-upload-refused")

    page.click("[data-test=submit-ticket]")
    assert page.evaluate("document.activeElement.id") == "id_attachments"
    assert page.url.endswith("/portal/new/")
    assert Ticket.objects.count() == 0

    # Another choice clears the message, and the form goes.
    small = tmp_path / "scan.png"
    small.write_bytes(png_bytes(20, 20))
    page.set_input_files("#id_attachments", str(small))
    assert not page.locator("[data-test=upload-problem]").is_visible()
    page.click("[data-test=submit-ticket]")
    page.wait_for_url(re.compile(r".*/portal/requests/\d{2}-\d{6}/$"))
    assert Ticket.objects.count() == 1


def test_too_many_files_and_a_wrong_type(filing_form, tmp_path):
    page = filing_form
    paths = []
    for name in ("a.png", "b.png", "c.exe"):
        path = tmp_path / name
        path.write_bytes(png_bytes(2, 2))
        paths.append(str(path))
    page.set_input_files("#id_attachments", paths)
    with translation.override("bg"):
        rules = browser_rules()
    text = _problem(page)
    assert rules["reasons"]["tooMany"] in text
    assert rules["reasons"]["type"] % {"type": ".exe"} in text
    assert "a.png" not in text  # an accepted file is not named in the problems
    page.click("[data-test=submit-ticket]")
    assert page.url.endswith("/portal/new/")


def test_files_that_fit_alone_but_not_together(filing_form, tmp_path):
    page = filing_form
    paths = []
    for name in ("front.png", "back.png"):
        path = tmp_path / name
        path.write_bytes(png_bytes(2, 2) + b"\0" * (900 * 1024))
        paths.append(str(path))
    page.set_input_files("#id_attachments", paths)
    with translation.override("bg"):
        rules = browser_rules()
    assert rules["reasons"]["tooMuch"].endswith(f"1,5{NBSP}МБ")
    assert _problem(page) == rules["allFiles"] % {"reason": rules["reasons"]["tooMuch"]}
    assert page.inner_text("[data-file-list]") == f"front.png (900{NBSP}КБ)\nback.png (900{NBSP}КБ)"
    page.click("[data-test=submit-ticket]")
    assert page.url.endswith("/portal/new/")
