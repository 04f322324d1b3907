"""The knowledge base in a real browser: a public article with its table of
contents, print view, feedback, and search with highlighted results.

Assertions use URLs, ids and data-test attributes rather than translated text.
"""

import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _live_server_follows_test_settings(live_server, _test_settings):
    # live_server is session-scoped: its handlers loaded the middleware before
    # the test settings turned the HTTPS redirect off. Load it again.
    handler = live_server.thread.httpd.get_app()
    while handler is not None:
        handler.load_middleware()
        handler = getattr(handler, "application", None)


@pytest.fixture
def content(transactional_db):
    call_command("load_kb", verbosity=0)


def test_public_article_renders_with_a_table_of_contents(live_server, content, page, screenshot):
    base = live_server.url
    page.goto(f"{base}/kb/bg/helpdesk-overview/")
    toc = page.locator("[data-test=kb-toc]")
    toc.wait_for()
    links = toc.locator("a")
    assert links.count() >= 3
    # Every entry points at a heading of the article.
    for index in range(links.count()):
        anchor = links.nth(index).get_attribute("href")
        assert (
            page.locator(f"[data-test=kb-body] h2{anchor}, [data-test=kb-body] h3{anchor}").count()
            == 1
        )
    target = links.nth(links.count() - 1)
    anchor = target.get_attribute("href")
    target.click()
    page.wait_for_url(re.compile(re.escape(anchor) + "$"))
    heading = page.locator(anchor)
    box = heading.bounding_box()
    assert box is not None and 0 <= box["y"] < 900
    # The language switch leads to the English version of the same article.
    assert (
        page.locator("[data-test=translation]").get_attribute("href") == "/kb/en/helpdesk-overview/"
    )
    screenshot(page, "kb-article-toc")

    # Print view: no header, footer or feedback form; the text and contents stay.
    page.emulate_media(media="print")
    assert not page.locator("header.site-header").is_visible()
    assert not page.locator("#feedback").is_visible()
    assert page.locator("[data-test=kb-toc]").is_visible()
    assert page.locator("[data-test=kb-body]").is_visible()
    page.emulate_media(media="screen")


def test_feedback_and_search_in_the_browser(live_server, content, page, screenshot):
    from kb.models import ArticleFeedback

    base = live_server.url
    page.goto(f"{base}/kb/bg/scanned-image-rejected/")
    page.check("#feedback input[name=helpful][value=no]")
    page.fill("#feedback-comment", "Липсва пример за размера.")
    page.click("#feedback button")
    page.locator("[data-test=feedback-thanks]").wait_for()
    feedback = ArticleFeedback.objects.get()
    assert (feedback.helpful, feedback.comment) == (False, "Липсва пример за размера.")

    page.goto(f"{base}/kb/")
    page.fill("#kb-q", "дипломите")
    page.press("#kb-q", "Enter")
    hits = page.locator("[data-test=kb-hits] li")
    hits.first.wait_for()
    assert page.locator("[data-test=kb-hits] mark").count() > 0
    hrefs = [hits.nth(i).locator("a").first.get_attribute("href") for i in range(hits.count())]
    assert "/kb/bg/scanned-image-rejected/" in hrefs
    assert "/kb/bg/campaign-peak-handling/" not in hrefs
    screenshot(page, "kb-search")
