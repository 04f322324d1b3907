"""The console in a real browser: on a phone, on a desktop, by keyboard, with axe-core.

A queue of forty requests, a ticket page and the dashboard are drawn at
375 × 800 and 320 × 800 (nothing wider than the screen), and at 1440 × 900
(at least twenty requests visible at once); screenshots go to test-artifacts/.
By keyboard: the single-key shortcuts can be turned off and stay off after a
reload, and Enter on a control does that control's action, never opening the
selected request. Every page is checked with axe-core (WCAG 2.1 A and AA): no
serious or critical violation.
"""

import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.console import asgi_server as server_fixtures
from tests.testservers import ARTIFACTS_DIR, require_service
from tickets import actions
from tickets.models import Ticket

# The real ASGI server and logged-in pages (see tests/console/asgi_server.py).
asgi_server = server_fixtures.asgi_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QUEUE_SIZE = 40
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _fill_queue(cast, n=QUEUE_SIZE):
    """File n requests of the София school (the last one with long words), return them."""
    made = []
    for i in range(n):
        subject = f"Дипломата на ученик {i} не се качва в регистъра"
        if i == n - 1:
            subject = "Грешка" + "ДълъгНепрекъснатТекстБезИнтервали" * 4
        made.append(
            actions.create_ticket(
                actor=cast.teacher_a,
                institution=cast.school_a,
                competence=cast.diplomas,
                subject=subject,
                text="Сканираното изображение се отхвърля. " * 3,
                channel="portal",
            )
        )
    return made


@pytest.fixture
def open_page(browser, asgi_server):
    """Return a function making a logged-in page of a user at a viewport size."""
    contexts = []

    def make(user, width, height):
        context = browser.new_context(locale="bg-BG", viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        asgi_server.login(context, user)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def _axe_source() -> str:
    try:
        import axe_playwright_python
    except ImportError:
        require_service("axe-core", "the axe-playwright-python package is not installed")
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def _axe(page, name) -> list[str]:
    """Run axe-core on the page; save its report; return the serious and critical violations."""
    page.evaluate(_axe_source())
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    report = {
        "url": page.url,
        "violations": [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in result["violations"]
        ],
        "needs_review": [
            {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:10]}
            for v in result["incomplete"]
        ],
    }
    (ARTIFACTS_DIR / f"axe-{name}.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1)
    )
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _widths(page) -> tuple[int, int]:
    return tuple(page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]"))


def _pages(cast, tickets):
    return {
        "queue": reverse("console:queue_key", args=["all"]),
        "ticket": reverse("console:ticket", args=[tickets[-1].reference]),
        "dashboard": reverse("console:dashboard"),
    }


def test_console_on_a_phone_fits_the_screen(cast, asgi_server, open_page, screenshot):
    tickets = asgi_server.call(_fill_queue, cast)
    for width in (375, 320):
        page = open_page(cast.supervisor_x, width, 800)
        for name, path in _pages(cast, tickets).items():
            page.goto(asgi_server.url + path)
            screenshot(page, f"console-{name}-{width}")
            scroll_width, inner_width = _widths(page)
            assert scroll_width <= inner_width, f"{name} at {width} px is {scroll_width} px wide"
            assert _axe(page, f"console-{name}-{width}") == [], name
        # The list is cards: every request's reference is on screen, not cut off.
        page.goto(asgi_server.url + _pages(cast, tickets)["queue"])
        box = page.locator("#rows tr[data-id] a.ref").first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        # The confirmation of a bulk close fits too.
        for ticket in tickets[-3:]:
            page.check(f'#rows tr[data-id="{ticket.pk}"] input[type=checkbox]')
        page.select_option("#bulk_action", "close")
        page.fill("#bulk_text", "Решено.")
        page.click("#bulk-apply")
        page.locator("[data-test=confirm-bulk]").wait_for()
        screenshot(page, f"console-bulk-confirm-{width}")
        scroll_width, inner_width = _widths(page)
        assert scroll_width <= inner_width
        assert _axe(page, f"console-bulk-confirm-{width}") == []
        # And the page that asks before a merge (the one a browser without
        # script gets: the form is sent without the script's own question).
        page.goto(asgi_server.url + reverse("console:ticket", args=[tickets[-1].reference]))
        page.fill('#merge-form input[name="reference"]', tickets[-2].reference)
        with page.expect_navigation():
            page.eval_on_selector("#merge-form", "f => HTMLFormElement.prototype.submit.call(f)")
        page.locator("[data-test=confirm-merge]").wait_for()
        screenshot(page, f"console-merge-confirm-{width}")
        scroll_width, inner_width = _widths(page)
        assert scroll_width <= inner_width
        assert _axe(page, f"console-merge-confirm-{width}") == []


def test_console_on_a_desktop_is_dense(cast, asgi_server, open_page, screenshot):
    tickets = asgi_server.call(_fill_queue, cast)
    page = open_page(cast.supervisor_x, 1440, 900)
    pages = _pages(cast, tickets)
    page.goto(asgi_server.url + pages["queue"])
    assert page.locator("#rows tr[data-id]").count() == 30  # one page of the forty
    visible = page.evaluate(
        """() => [...document.querySelectorAll('#rows tr[data-id]')]
             .filter(row => row.getBoundingClientRect().bottom <= window.innerHeight).length"""
    )
    assert visible >= 20, f"only {visible} requests fit the first screen"
    # A reference is one line: its box is as high as one line of its text.
    ref = page.locator("#rows a.ref").first
    assert ref.evaluate("a => a.getClientRects().length") == 1
    for name, path in pages.items():
        page.goto(asgi_server.url + path)
        screenshot(page, f"console-{name}-1440")
        scroll_width, inner_width = _widths(page)
        assert scroll_width <= inner_width, name
        assert _axe(page, f"console-{name}-1440") == [], name
    # The side panel's drop-downs are as wide as their longest choice.
    page.goto(asgi_server.url + pages["ticket"])
    for select in ("#id_assignee", "#id_status", "#id_priority", "#id_competence"):
        widths = page.eval_on_selector(
            select,
            """s => {
                 const probe = document.createElement('span');
                 probe.style.font = getComputedStyle(s).font;
                 probe.style.whiteSpace = 'pre';
                 document.body.append(probe);
                 let widest = 0;
                 for (const option of s.options) {
                   probe.textContent = option.text;
                   widest = Math.max(widest, probe.getBoundingClientRect().width);
                 }
                 probe.remove();
                 return [widest, s.clientWidth];
               }""",
        )
        # The arrow takes about 2rem of the box.
        assert widths[0] + 24 <= widths[1], f"{select}: {widths}"


def test_previous_and_next_follow_the_list_it_was_opened_from(cast, asgi_server, open_page):
    asgi_server.call(_fill_queue, cast, 5)
    page = open_page(cast.supervisor_x, 1440, 900)
    page.goto(asgi_server.url + reverse("console:queue_key", args=["all"]) + "?sort=created")
    order = page.locator("#rows a.ref").all_inner_texts()
    page.click(f"#rows a.ref >> text={order[1]}")
    steps = page.locator("#ticket-steps")
    steps.wait_for()
    assert "2" in steps.inner_text()
    steps.locator("a[rel=next]").click()
    page.wait_for_url(re.compile(re.escape(order[2])))
    # Back the other way, and to the list with its sort.
    page.locator("#ticket-steps a[rel=prev]").click()
    page.wait_for_url(re.compile(re.escape(order[1])))
    page.locator("#ticket-steps a:not([rel])").click()
    page.wait_for_url(re.compile(r"sort=created"))


def test_shortcuts_can_be_turned_off_and_stay_off(cast, asgi_server, open_page):
    tickets = asgi_server.call(_fill_queue, cast, 3)
    page = open_page(cast.supervisor_x, 1440, 900)
    queue_url = asgi_server.url + reverse("console:queue_key", args=["all"])
    page.goto(queue_url)
    page.keyboard.press("j")
    assert page.locator("#rows tr.selected").count() == 1
    switch = page.locator("#shortcuts-on")
    assert switch.is_visible() and switch.is_checked()
    switch.uncheck()
    page.reload()
    assert not page.locator("#shortcuts-on").is_checked()
    page.locator("h1").click()
    page.keyboard.press("j")
    page.keyboard.press("?")
    assert page.locator("#rows tr.selected").count() == 0
    assert not page.locator("dialog#shortcuts").evaluate("d => d.open")
    # On a request's page "t" takes nothing while the shortcuts are off.
    ticket = tickets[0]
    page.goto(asgi_server.url + reverse("console:ticket", args=[ticket.reference]))
    page.locator("h1").click()
    page.keyboard.press("t")
    page.wait_for_timeout(300)  # a submit would have left the page by now
    assert ticket.reference in page.url
    assert Ticket.objects.get(pk=ticket.pk).assignee_id != cast.supervisor_x.pk
    # Turned on again, they work, but never inside a form control.
    page.locator("#shortcuts-on").check()
    page.goto(queue_url)
    page.focus("#id_q")
    page.keyboard.press("j")
    assert page.input_value("#id_q") == "j"
    assert page.locator("#rows tr.selected").count() == 0
    page.locator("h1").click()
    page.keyboard.press("j")
    assert page.locator("#rows tr.selected").count() == 1


def test_enter_on_a_control_does_the_controls_action(cast, asgi_server, open_page):
    asgi_server.call(_fill_queue, cast, 3)
    page = open_page(cast.supervisor_x, 1440, 900)
    queue_url = asgi_server.url + reverse("console:queue_key", args=["all"])
    page.goto(queue_url)
    page.locator("h1").click()
    page.keyboard.press("j")  # a row is selected

    # The "more filters" toggle opens on Enter; the page stays.
    page.focus(".more-filters summary")
    page.keyboard.press("Enter")
    assert page.locator(".more-filters").evaluate("d => d.open")
    assert page.url == queue_url
    # A drop-down keeps the focus and the page.
    page.focus("#bulk_action")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    assert page.url == queue_url
    # The filter button filters (its form's action), it does not open the request.
    page.fill("#id_q", "ученик")
    page.focus("#filter-form button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/console/queue/all/" in page.url and "q=" in page.url

    # With the focus on the page itself, Enter opens the selected request.
    page.locator("#rows tr[data-id] td.c-updated").first.click()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/tickets/\d{2}-\d{6}/"))
