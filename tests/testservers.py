"""Pytest plugin that starts real services for the helpdesk's tests.

Register it with ``pytest_plugins = ["tests.testservers"]`` in ``tests/conftest.py``.

Fixtures (all talk to 127.0.0.1 only):

* ``dovecot`` (session): a private Dovecot IMAP server run from a temp folder.
* ``smtp_peer`` (session): an aiosmtpd SMTP server that keeps every message it receives.
* ``browser`` (session): Debian's Chromium driven by sync Playwright.
* ``page`` (function): a fresh browser context and page; screenshot saved on failure.
* ``screenshot`` (function): the :func:`screenshot` helper.
* ``free_port`` (function): the :func:`free_port` helper.

Missing binaries skip the test, or fail it when ``CI=true`` (see :func:`require_service`).
Django, Playwright, aiosmtpd and imapclient are imported lazily, so this module loads
before Django settings exist.
"""

from __future__ import annotations

import contextlib
import email.policy
import itertools
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, NoReturn

import pytest

_os = os

# Tests run the settings in test mode (development secret key, no HTTPS
# redirect); set here because pytest-django reads settings before conftest.
_os.environ.setdefault("HELPDESK_TESTING", "true")

# Parallel workers (pytest-xdist) must not share Redis: cache.clear() flushes
# the database and channel groups would cross. Worker gwN uses database 15-N.
_worker = _os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and _os.environ.get("REDIS_URL"):
    _db = 15 - int(_worker[2:]) % 8
    _url = _os.environ["REDIS_URL"]
    _os.environ["REDIS_URL"] = (
        re.sub(r"/\d+$", f"/{_db}", _url)
        if re.search(r"/\d+$", _url)
        else f"{_url.rstrip('/')}/{_db}"
    )

LOCALHOST = "127.0.0.1"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = PROJECT_ROOT / "test-artifacts"
CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOVECOT_DH = "/usr/share/dovecot/dh.pem"
USER_POOL_SIZE = 200
INSTALL_HINT = "run scripts/install-test-deps.sh as root"


# --------------------------------------------------------------------------- helpers


def in_ci() -> bool:
    """Return True when the environment variable CI says we run in CI."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_service(name: str, reason: str) -> NoReturn:
    """Stop the current test because service `name` is unavailable.

    Skips with the reason locally; fails with it when ``CI=true``, because CI must
    provide every service. Call it from a fixture after your own availability check.
    Never returns.
    """
    message = f"{name} unavailable: {reason}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require_postgresql(vendor: str, why: str) -> None:
    """Return if the database is PostgreSQL; else skip on SQLite runs, fail a misconfigured CI.

    A test that proves what only PostgreSQL does (concurrent transactions,
    several processes on one database) runs in `make test-pg`; the SQLite
    run skips it. Under CI=true with DATABASE_URL naming PostgreSQL, not
    using it is a failure, never a skip.
    """
    if vendor == "postgresql":
        return
    if in_ci() and os.environ.get("DATABASE_URL", "").startswith("postgres"):
        require_service("postgresql", "DATABASE_URL names PostgreSQL but Django is not using it")
    pytest.skip(f"{why} is proven on PostgreSQL (make test-pg); this run uses SQLite")


def free_port(host: str = LOCALHOST) -> int:
    """Return a TCP port on `host` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Return True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `check` until it is true or `timeout` passes; return its last result."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _artifact_name(text: str) -> str:
    """Return `text` made safe as a file name (test node ids contain / :: [ ])."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:180] or "screenshot"


# --------------------------------------------------------------------------- Dovecot

DOVECOT_CONF = """\
instance_name = {instance}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = {host}
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
ssl_dh = <{dh}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%d/%n
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
# Tests log in with wrong passwords on purpose; no growing delay after failures.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {ssl_port}
    ssl = yes
  }}
}}
"""


@dataclass
class DovecotServer:
    """A private Dovecot instance: `prepare()` writes its files, `start()` runs it.

    Attributes: host, port (plain IMAP, offers STARTTLS), ssl_port (IMAPS), cafile
    (self-signed cert to trust), user / password (default account), users (all
    accounts, name -> password), directory, config_path, log_path, pid.
    """

    directory: Path
    host: str = LOCALHOST
    port: int = 0
    ssl_port: int = 0
    user: str = "support@example.test"
    password: str = "secret"
    users: dict[str, str] = field(default_factory=dict)
    _process: subprocess.Popen | None = field(default=None, repr=False)
    _counter: Iterator[int] = field(default_factory=itertools.count, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _users_stamp: int = field(default=0, repr=False)
    _users_written_at: float = field(default=0.0, repr=False)

    @property
    def cafile(self) -> str:
        return str(self.directory / "cert.pem")

    @property
    def config_path(self) -> Path:
        return self.directory / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        return self.directory / "dovecot.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- setup

    def prepare(self) -> None:
        """Create the folder layout, certificate, users file and config."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # The auth and mail processes run as other users and must reach these files.
        self.directory.chmod(0o755)
        for sub in ("run", "state"):
            (self.directory / sub).mkdir(exist_ok=True)
        mail = self.directory / "mail"
        mail.mkdir(exist_ok=True)
        uid, gid = _mail_owner()
        os.chown(mail, uid, gid)
        self._make_certificate()
        self.users.setdefault(self.user, self.password)
        # Unused accounts for new_user(): a new entry takes up to a second to be seen.
        for number in range(USER_POOL_SIZE):
            self.users.setdefault(f"user{number}@example.test", self.password)
        self._write_users()
        self._write_config()

    def _make_certificate(self) -> None:
        if (self.directory / "cert.pem").exists():
            return
        openssl = shutil.which("openssl")
        if openssl is None:
            require_service("openssl", f"openssl binary not found; {INSTALL_HINT}")
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "3650",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout",
                str(self.directory / "key.pem"),
                "-out",
                str(self.directory / "cert.pem"),
            ],
            check=True,
            capture_output=True,
        )

    def _write_users(self) -> None:
        path = self.directory / "users"
        lines = "".join(f"{name}:{{PLAIN}}{pw}\n" for name, pw in self.users.items())
        tmp = path.with_suffix(".tmp")
        tmp.write_text(lines, encoding="utf-8")
        # The auth process runs as user `dovecot`; a root-only file fails auth.
        tmp.chmod(0o644)
        # Dovecot reloads when mtime (whole seconds) or size changed; give every
        # version its own mtime so even a same-size change within a second counts.
        stamp = max(int(time.time()), self._users_stamp + 1)
        os.utime(tmp, (stamp, stamp))
        self._users_stamp = stamp
        tmp.replace(path)
        self._users_written_at = time.time()

    def _write_config(self) -> None:
        uid, gid = _mail_owner()
        text = DOVECOT_CONF.format(
            instance=f"helpdesk-test-{self.directory.name.rsplit('-', 1)[-1]}",
            d=self.directory,
            host=self.host,
            port=self.port,
            ssl_port=self.ssl_port,
            dh=DOVECOT_DH,
            uid=uid,
            gid=gid,
        )
        self.config_path.write_text(text, encoding="utf-8")

    # -- accounts

    def add_user(self, name: str, password: str) -> str:
        """Add (or change) an account and return its name.

        Dovecot looks at the users file at most once per wall-clock second, so this
        returns once the second in which the file was written is over (<= 1 s).
        """
        with self._lock:
            self.users[name] = password
            self._write_users()
        if self.running:
            time.sleep(max(0.0, int(self._users_written_at) + 1.02 - time.time()))
        return name

    def new_user(self) -> str:
        """Return the address of an account nobody has used yet (password: self.password).

        Served from accounts written at start-up, so no wait for Dovecot to reload.
        """
        with self._lock:
            name = f"user{next(self._counter)}@example.test"
            if name in self.users:
                return name
        return self.add_user(name, self.password)

    # -- lifecycle

    def start(self, timeout: float = 15.0) -> None:
        """Start Dovecot (no-op if running) and wait until it greets on both ports."""
        if self.running:
            return
        binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
        if binary is None:
            require_service("dovecot", f"dovecot binary not found; {INSTALL_HINT}")
        self._process = subprocess.Popen(
            [binary, "-c", str(self.config_path), "-F"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        ready = _wait_until(
            lambda: not self.running or (self._greets() and port_open(self.host, self.ssl_port)),
            timeout,
        )
        if not (ready and self.running):
            stderr = self._terminate()
            raise RuntimeError(f"Dovecot did not start: {stderr}\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Dovecot by its PID (SIGTERM, then SIGKILL) and wait until ports close."""
        self._terminate(timeout)
        _wait_until(
            lambda: (
                not port_open(self.host, self.port, 0.2)
                and not port_open(self.host, self.ssl_port, 0.2)
            ),
            timeout,
        )

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """Keep Dovecot stopped inside the `with` block; start it again afterwards."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def _terminate(self, timeout: float = 10.0) -> str:
        process, self._process = self._process, None
        if process is None:
            return ""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        # The master leaves imap processes serving open sessions (and holding the
        # listening sockets) for a while; kill its whole process group so the server
        # is really down. The group id is the master's PID (start_new_session).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.stderr:
            process.stderr.close()
        return stderr

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of Dovecot's log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- clients

    def ssl_context(self) -> ssl.SSLContext:
        """Return a client SSL context that trusts this server's self-signed cert."""
        return ssl.create_default_context(cafile=self.cafile)

    def imap_client(
        self,
        user: str | None = None,
        password: str | None = None,
        *,
        tls: str = "plain",
        login: bool = True,
        timeout: float = 10.0,
    ) -> Any:
        """Return an imapclient.IMAPClient connected to this server, logged in by default.

        tls: "plain" (port), "starttls" (port, then STARTTLS) or "ssl" (ssl_port).
        """
        from imapclient import IMAPClient

        context = self.ssl_context()
        if tls == "ssl":
            client = IMAPClient(
                self.host, self.ssl_port, ssl=True, ssl_context=context, timeout=timeout
            )
        elif tls in ("plain", "starttls"):
            client = IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
            if tls == "starttls":
                client.starttls(context)
        else:
            raise ValueError(f"tls must be plain, starttls or ssl, not {tls!r}")
        if login:
            name = user or self.user
            client.login(name, password if password is not None else self.users[name])
        return client


def _mail_owner() -> tuple[int, int]:
    """Return (uid, gid) for mail files: nobody:nogroup as SERVICES.md prescribes."""
    import grp
    import pwd

    try:
        uid = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        uid = 65534
    for group in ("nogroup", "nobody"):
        try:
            return uid, grp.getgrnam(group).gr_gid
        except KeyError:
            continue
    return uid, 65534


def start_dovecot(attempts: int = 3) -> DovecotServer:
    """Start a private Dovecot on free ports and return it; the caller must stop it.

    Retries with new ports, because a port picked by free_port() can be taken by
    another process before Dovecot binds it.
    """
    if shutil.which("dovecot") is None and shutil.which("dovecot", path="/usr/sbin:/sbin") is None:
        require_service("dovecot", f"dovecot binary not found; {INSTALL_HINT}")
    if not Path(DOVECOT_DH).exists():
        require_service("dovecot", f"{DOVECOT_DH} missing; {INSTALL_HINT}")
    if os.geteuid() != 0:
        require_service("dovecot", "the private instance needs root (it switches to nobody)")
    directory = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    last_error: Exception | None = None
    for _ in range(attempts):
        server = DovecotServer(directory=directory, port=free_port(), ssl_port=free_port())
        server.prepare()
        try:
            server.start()
            return server
        except RuntimeError as error:
            last_error = error
    shutil.rmtree(directory, ignore_errors=True)
    raise RuntimeError(f"could not start Dovecot after {attempts} attempts") from last_error


# --------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class ReceivedMessage:
    """One message accepted by the SMTP peer."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    auth_login: str | None = None
    received_at: float = 0.0


class _CollectingHandler:
    """aiosmtpd handler that stores each message in its SmtpPeer."""

    def __init__(self, peer: SmtpPeer) -> None:
        self.peer = peer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.peer.reject_reply
        if reply:
            return reply
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        login = getattr(session.auth_data, "login", None)
        if isinstance(login, bytes):
            login = login.decode("utf-8", errors="replace")
        self.peer._add(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                raw=raw,
                message=BytesParser(policy=email.policy.default).parsebytes(raw),
                auth_login=login,
                received_at=time.time(),
            )
        )
        return "250 OK"


def _accept_any_login(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any):
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=True, auth_data=auth_data)


class SmtpPeer:
    """An aiosmtpd server on 127.0.0.1 that records what it receives.

    Attributes: host, port, messages (snapshot list of ReceivedMessage), running,
    reject_reply (set e.g. "451 4.3.0 Try again later" to refuse DATA).
    Any AUTH PLAIN/LOGIN is accepted (without TLS) so clients with credentials work.
    """

    def __init__(self, host: str = LOCALHOST, port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.reject_reply: str | None = None
        self._messages: list[ReceivedMessage] = []
        self._changed = threading.Condition()
        self._controller: Any = None

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._changed:
            return list(self._messages)

    @property
    def running(self) -> bool:
        return self._controller is not None

    def _add(self, received: ReceivedMessage) -> None:
        with self._changed:
            self._messages.append(received)
            self._changed.notify_all()

    def clear(self) -> None:
        """Forget all received messages."""
        with self._changed:
            self._messages.clear()

    def wait_for(
        self,
        predicate: Callable[[ReceivedMessage], bool] | None = None,
        timeout: float = 10.0,
    ) -> ReceivedMessage:
        """Return the first received message matching `predicate` (any if None).

        Waits up to `timeout` seconds; raises AssertionError listing what arrived.
        """
        match = predicate or (lambda _message: True)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for received in self._messages:
                    if match(received):
                        return received
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    subjects = [m.message.get("Subject") for m in self._messages]
                    raise AssertionError(
                        f"no matching SMTP message within {timeout}s; received: {subjects}"
                    )
                self._changed.wait(remaining)

    def wait_for_count(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Return the messages once at least `count` arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} SMTP messages within {timeout}s, "
                        f"got {len(self._messages)}"
                    )
                self._changed.wait(remaining)
            return list(self._messages)

    def start(self) -> None:
        """Start listening on host:port (the same port after a stop); no-op if running."""
        if self._controller is not None:
            return
        from aiosmtpd.controller import Controller

        controller = Controller(
            _CollectingHandler(self),
            hostname=self.host,
            port=self.port,
            ready_timeout=10.0,
            enable_SMTPUTF8=True,
            authenticator=_accept_any_login,
            auth_require_tls=False,
            decode_data=False,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening, so connections are refused (simulates the server being down)."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """Keep the SMTP peer down inside the `with` block; start it again afterwards."""
        self.stop()
        try:
            yield
        finally:
            self.start()


def start_smtp_peer(attempts: int = 3) -> SmtpPeer:
    """Start an SmtpPeer on a free port and return it; the caller must stop it."""
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        require_service("aiosmtpd", "the aiosmtpd package is not installed")
    last_error: Exception | None = None
    for _ in range(attempts):
        peer = SmtpPeer()
        try:
            peer.start()
            return peer
        except (OSError, RuntimeError) as error:  # TimeoutError is an OSError
            last_error = error
            peer.stop()
    raise RuntimeError(f"could not start the SMTP peer after {attempts} attempts") from last_error


# --------------------------------------------------------------------------- browser


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot to test-artifacts/<name>.png and return its path."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS_DIR / f"{_artifact_name(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def launch_chromium(playwright: Any) -> Any:
    """Launch Debian's Chromium through a started Playwright object; return the Browser."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM_PATH, headless=True, args=list(CHROMIUM_ARGS)
    )


# --------------------------------------------------------------------------- fixtures

# Services started in this session; restarted after any test that left them stopped.
_session_services: list[DovecotServer | SmtpPeer] = []


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """A running private Dovecot (see DovecotServer); stopped by PID at session end."""
    server = start_dovecot()
    _session_services.append(server)
    try:
        yield server
    finally:
        _session_services.remove(server)
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def smtp_peer() -> Iterator[SmtpPeer]:
    """A running SmtpPeer on 127.0.0.1; stopped at session end."""
    peer = start_smtp_peer()
    _session_services.append(peer)
    try:
        yield peer
    finally:
        _session_services.remove(peer)
        peer.stop()


@pytest.fixture(autouse=True)
def _restart_stopped_services() -> Iterator[None]:
    """After each test, start again any session service the test left stopped."""
    yield
    for service in list(_session_services):
        if not service.running:
            service.start()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A Playwright chromium Browser using /usr/bin/chromium; closed at session end."""
    if not os.access(CHROMIUM_PATH, os.X_OK):
        require_service("chromium", f"{CHROMIUM_PATH} not found; {INSTALL_HINT}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_service("chromium", "the playwright Python package is not installed")
    # Sync Playwright runs an event loop in this thread; Django's ORM would then refuse
    # calls from live_server tests without this.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = sync_playwright().start()
    try:
        launched = launch_chromium(playwright)
    except Exception as error:
        playwright.stop()
        require_service("chromium", f"launch failed: {error}")
    try:
        yield launched
    finally:
        launched.close()
        playwright.stop()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh context + page (bg-BG locale, 10 s timeouts).

    A screenshot named after the test node id is saved to test-artifacts/ when the
    test fails, or after every test when PLAYWRIGHT_SCREENSHOTS=always.
    """
    context = browser.new_context(locale="bg-BG", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    try:
        yield new_page
    finally:
        report = getattr(request.node, "_services_call_report", None)
        failed = report is not None and report.failed
        always = os.environ.get("PLAYWRIGHT_SCREENSHOTS", "").lower() == "always"
        if failed or always:
            suffix = "-failed" if failed else ""
            with contextlib.suppress(Exception):
                screenshot(new_page, _artifact_name(request.node.nodeid) + suffix)
        context.close()


@pytest.fixture(name="screenshot")
def screenshot_fixture() -> Callable[[Any, str], Path]:
    """The screenshot(page, name) helper."""
    return screenshot


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[..., int]:
    """The free_port(host="127.0.0.1") helper."""
    return free_port


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    # Keep the call-phase report so the `page` fixture knows whether the test failed.
    report = yield
    if report.when == "call":
        item._services_call_report = report
    return report
