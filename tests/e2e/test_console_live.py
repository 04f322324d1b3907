"""The live console in a real browser, against a real ASGI server (see tests/console/asgi_server.py).

An agent sees a new request appear in their queue without reloading, two
agents on one ticket see each other, and an open ticket shows a newer reply
as it arrives and warns before sending over it.
"""

import re

import pytest
from django.urls import reverse

from tests.console import asgi_server as server_fixtures
from tickets import actions
from tickets.models import Message

# The real ASGI server and logged-in pages (see tests/console/asgi_server.py).
asgi_server = server_fixtures.asgi_server
agent_page = server_fixtures.agent_page
press_r_until_the_reply_box_has_focus = server_fixtures.press_r_until_the_reply_box_has_focus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _wait_live(page):
    page.wait_for_function("() => document.documentElement.dataset.live === 'on'", timeout=10_000)


def _file(cast, subject):
    return actions.create_ticket(
        actor=cast.teacher_a,
        institution=cast.school_a,
        competence=cast.diplomas,
        subject=subject,
        text="Сканираното изображение се отхвърля.",
        channel="portal",
    )


def test_new_request_appears_in_the_queue_without_reload(cast, asgi_server, agent_page, screenshot):
    for i in range(3):
        asgi_server.call(_file, cast, f"По-стара заявка {i}")
    page = agent_page(cast.expert_x)
    page.goto(asgi_server.url + reverse("console:queue_key", args=["all"]))
    _wait_live(page)
    page.evaluate("window.__marker = 'not reloaded'")

    ticket = asgi_server.call(_file, cast, "Дипломата на Иван не се качва")

    row = page.locator(f'#rows tr[data-id="{ticket.pk}"]')
    row.wait_for(timeout=10_000)
    assert "Дипломата на Иван" in row.inner_text()
    assert page.evaluate("window.__marker") == "not reloaded"
    # The queue counts follow (one aggregate request, at most every ten seconds).
    page.wait_for_function(
        "() => document.querySelector('[data-count=all]').textContent.trim() === '4'",
        timeout=15_000,
    )
    # An agent of another region hears nothing and shows nothing.
    other = agent_page(cast.expert_y)
    other.goto(asgi_server.url + reverse("console:queue_key", args=["all"]))
    _wait_live(other)
    asgi_server.call(_file, cast, "Още една")
    page.locator("#rows tr", has_text="Още една").wait_for(timeout=10_000)
    assert other.locator("#rows tr", has_text="Още една").count() == 0
    assert other.locator("#rows tr", has_text="Дипломата на Иван").count() == 0
    # j/k move the selection, Enter opens it.
    page.keyboard.press("j")
    assert page.locator("#rows tr.selected").count() == 1
    screenshot(page, "console-queue")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/tickets/"))


def test_request_filed_in_the_portal_appears_in_the_queue(cast, asgi_server, agent_page):
    agent = agent_page(cast.expert_x)
    agent.goto(asgi_server.url + reverse("console:queue_key", args=["all"]))
    _wait_live(agent)
    teacher = agent_page(cast.teacher_a)
    response = teacher.goto(asgi_server.url + reverse("portal:new"))
    assert response.status == 200
    teacher.fill("#id_subject", "Заявка от портала за диплома")
    teacher.fill("#id_description", "Не мога да кача сканираната диплома на ученик.")
    teacher.check(f'input[name="competence"][value="{cast.diplomas.pk}"]')
    teacher.click("#submit-ticket")
    teacher.wait_for_url(re.compile(r"/portal/requests/\d{2}-\d{6}/"))
    agent.locator("#rows tr", has_text="Заявка от портала за диплома").wait_for(timeout=10_000)


def test_two_agents_on_one_ticket_see_each_other_and_new_replies(
    cast, asgi_server, agent_page, screenshot
):
    ticket = asgi_server.call(_file, cast, "Грешка при печат на диплома")
    url = asgi_server.url + reverse("console:ticket", args=[ticket.reference])
    first = agent_page(cast.expert_x)
    first.goto(url)
    _wait_live(first)
    second = agent_page(cast.supervisor_x)
    second.goto(url)
    _wait_live(second)
    first.locator("#presence", has_text="Началник X").wait_for(timeout=10_000)
    second.locator("#presence", has_text="Експерт X").wait_for(timeout=10_000)

    # The first agent starts typing; meanwhile the requester writes again.
    press_r_until_the_reply_box_has_focus(first)
    first.keyboard.type("Моля, изпратете ни сканираното изображение.")
    asgi_server.call(
        actions.add_message,
        ticket=ticket,
        actor=cast.teacher_a,
        text="Допълнение: печатът също липсва.",
    )
    for page in (first, second):
        page.locator("#conversation li", has_text="печатът също липсва").wait_for(timeout=10_000)
    first.locator("#newer-warning").wait_for(state="visible")
    screenshot(first, "console-ticket")

    # Sending anyway needs the confirmation box; without it nothing is sent.
    first.click("#send")
    first.locator("#newer-warning ul").wait_for()
    assert Message.objects.filter(body_text__startswith="Моля, изпратете").count() == 0
    first.check("#id_confirm_stale")
    first.click("#send")
    first.locator("#conversation li", has_text="Моля, изпратете").wait_for()
    second.locator("#conversation li", has_text="Моля, изпратете").wait_for(timeout=10_000)

    first.close()
    # Normally the "left" event hides it at once; if the closing socket's
    # event is lost (the page navigated after sending), the 45 s expiry does.
    second.locator("#presence").wait_for(state="hidden", timeout=60_000)
