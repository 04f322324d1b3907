"""Accounts in a real browser (Chromium) against the real ASGI server.

An agent logs in with a password, is asked for the TOTP code, gives it and
works in the live console (its WebSocket allowed by the Content-Security-
Policy); an administrator deactivates the agent in the admin, and the agent's
open page loses access on its next request. See tests/console/asgi_server.py
for the server and the logged-in pages.
"""

import re

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.console import asgi_server as server_fixtures

asgi_server = server_fixtures.asgi_server
agent_page = server_fixtures.agent_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"


@pytest.fixture(autouse=True)
def _second_factor_on(settings):
    settings.HELPDESK_OTP_REQUIRED = True
    settings.HELPDESK_LOCAL_LOGIN = "everyone"


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_agent_logs_in_with_a_code_and_loses_the_page_when_deactivated(
    cast, asgi_server, agent_page, browser, screenshot
):
    device = asgi_server.call(
        TOTPDevice.objects.create, user=cast.expert_x, name="authenticator", confirmed=True
    )
    base = asgi_server.url
    context = browser.new_context(locale="bg-BG", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        queue = reverse("console:queue_key", args=["all"])
        page.goto(f"{base}/accounts/login/?next={queue}")
        page.fill("#id_username", cast.expert_x.email)
        page.fill("#id_password", PASSWORD)
        page.click("form button[type=submit]")
        # The password alone leads to the code page, not to the console.
        page.wait_for_url(re.compile(r".*/accounts/second-factor/\?next="))
        page.goto(f"{base}{queue}")
        page.wait_for_url(re.compile(r".*/accounts/second-factor/"))
        screenshot(page, "second-factor")
        page.fill("#id_code", _code(device))
        page.click("[data-test=verify-code]")
        page.wait_for_url(f"{base}{queue}")
        # The console's WebSocket connects under the Content-Security-Policy.
        page.wait_for_function(
            "() => document.documentElement.dataset.live === 'on'", timeout=10_000
        )

        admin = agent_page(cast.admin)
        admin.goto(f"{base}/admin/accounts/user/{cast.expert_x.pk}/change/")
        admin.uncheck("#id_is_active")
        admin.click("input[name=_save]")
        admin.wait_for_url(re.compile(r".*/admin/accounts/user/(\?.*)?$"))
        screenshot(admin, "admin-deactivated")

        # The agent's next request finds no session.
        page.reload()
        page.wait_for_url(re.compile(r".*/accounts/login/"))
        assert page.locator("#id_password").count() == 1
        screenshot(page, "deactivated-agent-at-login")
    finally:
        context.close()

    from accounts.models import AccountEvent

    kinds = set(
        asgi_server.call(
            lambda: list(
                AccountEvent.objects.filter(subject=cast.expert_x).values_list("kind", flat=True)
            )
        )
    )
    assert {"login", "otp_verified", "deactivated"} <= kinds
