"""Following a colleague's request instead of filing a duplicate (real browser).

A teacher starts writing what a colleague of the same school filed; the
filing form shows that request with "follow that one instead"; one click
makes the teacher its watcher, files nothing and shows the request.
"""

import re

import pytest
from django.urls import reverse

from tickets.models import Ticket, Watcher

pytestmark = pytest.mark.e2e

PASSWORD = "pw-Secret-123"


@pytest.fixture(autouse=True)
def _live_server_follows_test_settings(live_server, _test_settings):
    # See tests/e2e/test_kb_pages.py: reload the session server's middleware.
    handler = live_server.thread.httpd.get_app()
    while handler is not None:
        handler.load_middleware()
        handler = getattr(handler, "application", None)


def log_in(page, base, user):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/(portal|console)/.*"))


def test_a_teacher_follows_a_colleagues_request_instead_of_filing(
    live_server, cast, make_ticket, page, screenshot
):
    filed = make_ticket(
        actor=cast.teacher_a,
        subject="Липсват преместените ученици",
        text="Учениците, преместени при нас от друго училище, не се виждат в списъка.",
    )
    before = Ticket.objects.count()
    log_in(page, live_server.url, cast.teacher_a_colleague)
    page.goto(live_server.url + reverse("portal:new"))
    box = page.locator("[data-test=similar-requests]")
    assert not box.is_visible()

    page.locator("#id_subject").press_sequentially("Преместените ученици липсват", delay=20)
    box.wait_for(state="visible")
    assert filed.reference in box.inner_text()
    screenshot(page, "similar-requests-filing-form")

    page.locator("[data-test=follow-similar]").first.click()
    page.wait_for_url(re.compile(rf".*/portal/requests/{filed.reference}/$"))
    assert filed.subject in page.content()

    assert Ticket.objects.count() == before
    watcher = Watcher.objects.get(ticket=filed)
    assert watcher.user == cast.teacher_a_colleague
    assert watcher.source == Watcher.Source.FOLLOW
