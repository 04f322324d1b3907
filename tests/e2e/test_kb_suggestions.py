"""Suggestions on the portal's filing form while a person types (real browser).

The contract with the portal: /portal/new/ (portal:new) has a subject input
#id_subject and a container #kb-suggestions that lists links to articles found
by kb.search.suggest_articles().
"""

import re

import pytest
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.e2e

PASSWORD = "pw-Secret-123"


@pytest.fixture(autouse=True)
def _live_server_follows_test_settings(live_server, _test_settings):
    # See tests/e2e/test_kb_pages.py: reload the session server's middleware.
    handler = live_server.thread.httpd.get_app()
    while handler is not None:
        handler.load_middleware()
        handler = getattr(handler, "application", None)


@pytest.fixture
def filing_form_url(live_server):
    return live_server.url + reverse("portal:new")


def log_in(page, base, user):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/(portal|console)/.*"))


def suggestion_links(page):
    return [link.get_attribute("href") for link in page.locator("#kb-suggestions a").all()]


def test_suggestions_appear_while_the_subject_is_typed(
    live_server, cast, filing_form_url, page, screenshot
):
    call_command("load_kb", verbosity=0)
    log_in(page, live_server.url, cast.teacher_a)
    page.goto(filing_form_url)
    box = page.locator("#kb-suggestions")
    assert not box.is_visible()

    page.locator("#id_subject").press_sequentially("Сканираното изображение на диплом", delay=30)
    box.wait_for(state="visible")
    page.wait_for_function("() => document.querySelectorAll('#kb-suggestions a').length > 0")
    links = suggestion_links(page)
    assert any(
        href.endswith("/kb/bg/scanned-image-rejected/") or "/kb/bg/scanned-image-rejected/?" in href
        for href in links
    ), links
    screenshot(page, "kb-suggestions-filing-form")

    # Changing the subject changes the suggestions.
    page.fill("#id_subject", "")
    page.locator("#id_subject").press_sequentially("Не мога да вляза в профила си", delay=30)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#kb-suggestions a'))"
        ".some(a => a.getAttribute('href').includes('/kb/bg/cannot-log-in/'))"
    )

    # A suggestion opens the article.
    with page.context.expect_page() as opened:
        page.locator("#kb-suggestions a[href*='/kb/bg/cannot-log-in/']").first.click()
    article = opened.value
    article.wait_for_load_state()
    assert "/kb/bg/cannot-log-in/" in article.url
    assert article.locator("[data-test=kb-article]").is_visible()


def test_a_teacher_is_never_suggested_agents_only_articles(
    live_server, cast, filing_form_url, page
):
    call_command("load_kb", verbosity=0)
    log_in(page, live_server.url, cast.teacher_a)
    page.goto(filing_form_url)
    # Words of the agents-only handbook article, plus one public word so that
    # something is suggested and the answer has arrived.
    page.locator("#id_subject").press_sequentially(
        "шаблонни отговори при пиково натоварване заявка", delay=20
    )
    page.wait_for_function("() => document.querySelectorAll('#kb-suggestions a').length > 0")
    links = suggestion_links(page)
    assert links and not any("campaign-peak-handling" in href for href in links), links
    assert not any("technical-fault-escalation" in href for href in links), links
