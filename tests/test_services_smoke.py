"""Smoke tests: each real-service fixture from tests/testservers.py works end to end."""

from __future__ import annotations

import http.server
import imaplib
import smtplib
import socket
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from tests.testservers import (
    ARTIFACTS_DIR,
    free_port,
    port_open,
    require_service,
)

ROOT = Path(__file__).resolve().parent.parent
REFUSED = "Connection refused"

RAW_MAIL = (
    b"From: parent@example.test\r\n"
    b"To: support@example.test\r\n"
    b"Subject: smoke\r\n"
    b"Message-ID: <smoke-1@example.test>\r\n"
    b"\r\n"
    b"Hello from the smoke test.\r\n"
)


# --------------------------------------------------------------------------- helpers


def test_free_port_is_bindable(free_port):
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert not port_open("127.0.0.1", port)


def test_require_service_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis unavailable: not listening"):
        require_service("redis", "not listening")


def test_require_service_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="redis unavailable: not listening"):
        require_service("redis", "not listening")


# --------------------------------------------------------------------------- IMAP


def test_imap_login_append_select(dovecot):
    user = dovecot.new_user()
    with dovecot.imap_client(user) as client:
        result = client.append("INBOX", RAW_MAIL)
        assert b"APPENDUID" in result
        info = client.select_folder("INBOX")
        assert info[b"EXISTS"] == 1
        uids = client.search(["ALL"])
        fetched = client.fetch(uids, ["BODY.PEEK[]"])
        assert fetched[uids[0]][b"BODY[]"].replace(b"\r\n", b"\n") == RAW_MAIL.replace(
            b"\r\n", b"\n"
        )


def test_imap_idle_sees_message_from_other_connection(dovecot):
    user = dovecot.new_user()
    with dovecot.imap_client(user) as watcher, dovecot.imap_client(user) as writer:
        watcher.select_folder("INBOX")
        watcher.idle()
        try:
            writer.append("INBOX", RAW_MAIL)
            responses = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                r[1] == b"EXISTS" for r in responses if len(r) > 1
            ):
                responses += watcher.idle_check(timeout=1)
        finally:
            watcher.idle_done()
    assert (1, b"EXISTS") in responses


def test_imap_starttls_with_cafile(dovecot):
    with dovecot.imap_client(tls="starttls") as client:
        assert client._imap.sock.version().startswith("TLS")
        assert "INBOX" in [name for _flags, _delimiter, name in client.list_folders()]


def test_imaps_with_cafile(dovecot):
    with dovecot.imap_client(tls="ssl") as client:
        assert client._imap.sock.version().startswith("TLS")
        assert b"READ-ONLY" in client.select_folder("INBOX", readonly=True)


def test_imap_wrong_password_is_rejected(dovecot):
    from imapclient.exceptions import LoginError

    with pytest.raises(LoginError, match="(?i)auth"):
        dovecot.imap_client(dovecot.user, "wrong")


def test_imap_added_user_can_log_in(dovecot):
    from imapclient.exceptions import LoginError

    dovecot.add_user("added@example.test", "second-secret")
    with dovecot.imap_client("added@example.test", "second-secret") as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    dovecot.add_user("added@example.test", "third-secret")  # same length, same second
    with dovecot.imap_client("added@example.test", "third-secret") as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    with pytest.raises(LoginError, match="(?i)auth"):
        dovecot.imap_client("added@example.test", "second-secret")


def test_imap_outage_and_restart(dovecot):
    old_pid = dovecot.pid
    open_session = dovecot.imap_client()
    open_session.select_folder("INBOX")
    dovecot.stop()
    assert not dovecot.running
    with pytest.raises(ConnectionRefusedError, match=REFUSED):
        imaplib.IMAP4(dovecot.host, dovecot.port, timeout=2)
    # Open sessions are cut off too.
    with pytest.raises((imaplib.IMAP4.error, OSError), match="(?i)eof|broken pipe|reset"):
        open_session.noop()
    dovecot.start()
    assert dovecot.pid != old_pid
    with dovecot.imap_client() as client:
        assert b"READ-ONLY" in client.select_folder("INBOX", readonly=True)


def test_imap_outage_context_restarts(dovecot):
    with dovecot.outage():
        assert not port_open(dovecot.host, dovecot.port)
        assert not port_open(dovecot.host, dovecot.ssl_port)
    with dovecot.imap_client(tls="ssl") as client:
        assert b"IMAP4REV1" in client.capabilities()


# --------------------------------------------------------------------------- SMTP


def _smoke_message(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Помощен център <helpdesk@example.test>"
    message["To"] = "parent@example.test"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.test")
    message["In-Reply-To"] = "<original@example.test>"
    message["References"] = "<root@example.test> <original@example.test>"
    message.set_content("Здравейте,\nзаявката ви е приета.\n")
    return message


def test_smtp_receives_message_with_headers_intact(smtp_peer):
    smtp_peer.clear()
    sent = _smoke_message("Заявка №42: прието")
    with smtplib.SMTP(smtp_peer.host, smtp_peer.port, timeout=10) as client:
        client.send_message(sent, to_addrs=["parent@example.test", "copy@example.test"])

    received = smtp_peer.wait_for(lambda m: m.message["Message-ID"] == sent["Message-ID"])
    assert received.mail_from == "helpdesk@example.test"
    assert received.rcpt_tos == ["parent@example.test", "copy@example.test"]
    assert received.message["Subject"] == "Заявка №42: прието"
    assert received.message["In-Reply-To"] == "<original@example.test>"
    assert received.message["References"] == "<root@example.test> <original@example.test>"
    assert "заявката ви е приета" in received.message.get_content()
    assert b"Message-ID: " + sent["Message-ID"].encode() in received.raw


def test_smtp_accepts_login(smtp_peer):
    smtp_peer.clear()
    with smtplib.SMTP(smtp_peer.host, smtp_peer.port, timeout=10) as client:
        client.login("mailer", "secret")
        client.send_message(_smoke_message("with auth"))
    assert smtp_peer.wait_for().auth_login == "mailer"


def test_smtp_wait_for_times_out(smtp_peer):
    smtp_peer.clear()
    with pytest.raises(AssertionError, match="no matching SMTP message"):
        smtp_peer.wait_for(timeout=0.2)


def test_smtp_wait_from_another_thread(smtp_peer):
    smtp_peer.clear()

    def send_later():
        time.sleep(0.3)
        with smtplib.SMTP(smtp_peer.host, smtp_peer.port, timeout=10) as client:
            client.send_message(_smoke_message("later"))

    thread = threading.Thread(target=send_later)
    thread.start()
    received = smtp_peer.wait_for(lambda m: m.message["Subject"] == "later", timeout=5)
    thread.join()
    assert received.message["Subject"] == "later"
    assert received.mail_from == "helpdesk@example.test"


def test_smtp_stop_and_start_on_same_port(smtp_peer):
    smtp_peer.clear()
    port = smtp_peer.port
    smtp_peer.stop()
    assert not smtp_peer.running
    with pytest.raises(ConnectionRefusedError, match=REFUSED):
        smtplib.SMTP(smtp_peer.host, port, timeout=2)
    smtp_peer.start()
    assert smtp_peer.port == port
    with smtplib.SMTP(smtp_peer.host, port, timeout=10) as client:
        client.send_message(_smoke_message("after restart"))
    assert smtp_peer.wait_for_count(1)[0].message["Subject"] == "after restart"


def test_smtp_outage_context_and_reject_reply(smtp_peer):
    smtp_peer.clear()
    with smtp_peer.outage():
        assert not port_open(smtp_peer.host, smtp_peer.port)
    smtp_peer.reject_reply = "451 4.3.0 Try again later"
    try:
        with smtplib.SMTP(smtp_peer.host, smtp_peer.port, timeout=10) as client:
            with pytest.raises(smtplib.SMTPDataError, match="Try again later") as caught:
                client.send_message(_smoke_message("refused"))
        assert caught.value.smtp_code == 451
    finally:
        smtp_peer.reject_reply = None
    assert smtp_peer.messages == []


INNER_TESTS = """
from tests.testservers import port_open


def test_leaves_the_peer_stopped(smtp_peer):
    smtp_peer.stop()
    assert not smtp_peer.running


def test_finds_it_running_again(smtp_peer):
    assert smtp_peer.running
    assert port_open(smtp_peer.host, smtp_peer.port)
"""


def test_a_service_left_stopped_is_started_for_the_next_test(tmp_path):
    # Two tests in a session of their own, so that no test here depends on another.
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.testservers", "-p", "no:django"]
        + ["-p", "no:cacheprovider", "-p", "no:xdist", "-c", str(tmp_path / "pytest.ini")]
        + [str(tmp_path / "test_inner.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


# --------------------------------------------------------------------------- browser


def test_browser_reads_data_url(page):
    page.goto("data:text/html;charset=utf-8,<h1 id=t>Здравей, НЕИСПУО</h1>")
    assert page.inner_text("#t") == "Здравей, НЕИСПУО"


@pytest.fixture
def tiny_site(tmp_path):
    (tmp_path / "index.html").write_text(
        "<!doctype html><meta charset=utf-8><title>Помощ</title><p id=msg>Работи</p>",
        encoding="utf-8",
    )

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_browser_reads_local_http_page(page, tiny_site):
    page.goto(tiny_site)
    assert page.title() == "Помощ"
    assert page.locator("#msg").inner_text() == "Работи"


def test_browser_sets_async_unsafe_for_django(browser):
    import os

    assert os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE") == "true"


def test_screenshot_helper_writes_png(page, screenshot):
    page.set_content("<p>снимка</p>")
    path = screenshot(page, "smoke/screenshot helper")
    assert path == ARTIFACTS_DIR / "smoke_screenshot_helper.png"
    assert path.read_bytes().startswith(b"\x89PNG")
    path.unlink()
