"""A real ASGI server (uvicorn) for browser tests that need WebSocket.

pytest-django's live_server is WSGI only, so the live console (which talks
to /ws/live/) gets this instead: uvicorn serving helpdesk.asgi.application
(plus static files) in a background thread of the test process, on a free
port of 127.0.0.1, against the test database.

Why a thread and not a subprocess: the thread shares the test database
(SQLite's shared in-memory test database is only reachable from this
process) and the in-memory channel layer. Tests need transactional_db so
that what they write is committed and the server's connections see it.

Writes that must reach the WebSocket should run on the server's event loop
(`server.call(fn, ...)`): with the in-memory channel layer a group_send from
another thread's event loop would not wake the server's loop reliably.
With REDIS_URL set the layer is Redis and any thread would do.
"""

import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django import db
from django.conf import settings
from django.test import Client

from tests.console.channel_layer import private_redis_layer
from tests.testservers import free_port, port_open


class AsgiServer:
    """uvicorn on 127.0.0.1:<port> in a daemon thread; `url`, `call()`, `login()`, `stop()`."""

    def __init__(self):
        import uvicorn
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        from helpdesk.asgi import application

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            ASGIStaticFilesHandler(application),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="asgi-test-server", daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def start(self, timeout: float = 10.0) -> "AsgiServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the ASGI test server did not start")
            time.sleep(0.05)
        return self

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def call(self, function, *args, **kwargs):
        """Run a sync function (e.g. a service) on the server's loop; return its result."""

        def run():
            try:
                return function(*args, **kwargs)
            finally:
                db.connections.close_all()  # a worker thread's connection, not the test's

        coroutine = sync_to_async(run, thread_sensitive=False)()
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def login(self, context, user):
        """Give the browser context a session of `user` (no login form round trip)."""
        client = Client()
        # On SQLite the test database is shared in memory between this thread
        # and the server's; a table another thread is writing at that moment
        # (the previous page's last request) answers "locked" at once instead
        # of waiting, so try again for a little while.
        for attempt in range(50):
            try:
                client.force_login(user)
                break
            except db.OperationalError as error:
                if "locked" not in str(error) or attempt == 49:
                    raise
                time.sleep(0.1)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": self.url}]
        )


@pytest.fixture
def asgi_server(transactional_db, settings):
    """A started AsgiServer for this test; stopped afterwards."""
    private_redis_layer(settings)
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    # The server's threads open their own connections; close them after each
    # request so that none outlives the test (PostgreSQL would then refuse
    # to drop the test database).
    database = db.connections.settings["default"]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    server = AsgiServer().start()
    try:
        yield server
    finally:
        server.stop()
        database["CONN_MAX_AGE"] = max_age


@pytest.fixture
def agent_page(browser, asgi_server, request):
    """Return a function making a logged-in page for a user, closed after the test."""
    contexts = []

    def make(user):
        context = browser.new_context(locale="bg-BG", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        asgi_server.login(context, user)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def press_r_until_the_reply_box_has_focus(page) -> None:
    # Under load the page's script may not have bound its shortcuts yet when
    # "r" is pressed; a lost key press would type the reply into nothing and
    # send an empty one (400). Press until the reply box has the focus.
    focused = "() => document.activeElement && document.activeElement.name === 'text'"
    for _attempt in range(50):
        page.keyboard.press("r")
        if page.evaluate(focused):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the r shortcut never focused the reply box")
