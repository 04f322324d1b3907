"""Content-Security-Policy from django-csp: the same policy on every page, the admin too."""

import pytest


def directives(header: str) -> dict[str, list[str]]:
    parts = [part.strip().split() for part in header.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/kb/", "/admin/login/"])
def test_every_page_carries_the_policy(client, db, path):
    response = client.get(path)
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["object-src"] == ["'self'"]


def test_websockets_only_to_our_own_host(client, db, settings):
    policy = directives(client.get("/")["Content-Security-Policy"])
    # The test settings' SITE_URL is http://127.0.0.1:8000.
    assert policy["connect-src"] == ["'self'", "ws://127.0.0.1:8000"]
    assert "ws:" not in policy["connect-src"] and "wss:" not in policy["connect-src"]


def test_the_admin_pages_of_a_logged_in_administrator_have_it_too(client, cast):
    client.force_login(cast.admin)
    response = client.get("/admin/accounts/accountevent/")
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"])["script-src"] == ["'self'"]


def test_https_sites_allow_wss_to_their_host_only(monkeypatch):
    import importlib

    import helpdesk.settings as live_settings

    monkeypatch.setenv("SITE_URL", "https://helpdesk.mon.bg")
    fresh = importlib.reload(live_settings)
    try:
        assert fresh.CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"][1] == (
            "wss://helpdesk.mon.bg"
        )
    finally:
        monkeypatch.delenv("SITE_URL")
        importlib.reload(live_settings)
