"""HTTP through Django's synchronous handler in a thread pool (helpdesk/http_bridge.py).

Driven as uvicorn drives it: ASGI messages in, ASGI messages out.
"""

import json
import threading

import pytest
from django.core.signals import request_finished

from helpdesk.http_bridge import SyncHttpApp, environ_for
from tests.aio import run_coroutine
from tests.helpdesk import bridge_urls

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app(settings):
    settings.ROOT_URLCONF = "tests.helpdesk.bridge_urls"
    settings.ALLOWED_HOSTS = ["testserver", "localhost"]
    bridge_urls.seen_threads.clear()
    bridge = SyncHttpApp(threads=2)
    yield bridge
    bridge.pool.shutdown(wait=True)


def scope(path, method="GET", query=b"", headers=(), root_path=""):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": root_path,
        "query_string": query,
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("10.1.2.3", 50000),
        "server": ("testserver", 80),
    }


def call(app, request_scope, chunks=(b"",)):
    """Run one request; return (status, headers, body, body message count)."""
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent = []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    run_coroutine(app(request_scope, receive, send))
    start = sent[0]
    bodies = [m for m in sent[1:] if m["type"] == "http.response.body"]
    return start["status"], dict(start["headers"]), b"".join(m["body"] for m in bodies), len(bodies)


def test_a_request_reaches_the_view_with_what_the_client_sent(app):
    status, headers, body, _ = call(
        app,
        scope(
            "/echo/диплома/",
            query=b"q=%D0%B4%D0%B0",
            headers=[
                (b"accept", b"text/html"),
                (b"cookie", b"a=1"),
                (b"cookie", b"b=2"),
                (b"x-forwarded-proto", b"https"),
            ],
        ),
    )
    assert status == 200
    assert headers[b"content-type"] == b"application/json"
    answer = json.loads(body)
    assert answer == {
        "method": "GET",
        "path": "/echo/диплома/",
        "word": "диплома",
        "query": "да",
        "body_length": 0,
        "cookie": "1|2",
        "accept": "text/html",
        "remote": "10.1.2.3",
        "secure": False,
    }


def test_a_body_in_several_chunks_without_a_length_arrives_whole(app):
    chunks = (b"x" * 70_000, b"y" * 70_000, b"z" * 10)
    status, _headers, body, _ = call(app, scope("/echo/", method="POST"), chunks)
    assert status == 200
    assert json.loads(body)["body_length"] == 140_010


def test_a_streaming_response_is_sent_in_parts(app):
    status, headers, body, parts = call(app, scope("/stream/"))
    assert status == 200
    assert body == b"part 0;part 1;part 2;"
    assert parts == 4  # three parts and the closing empty one
    assert headers[b"content-type"] == b"text/plain"


def test_the_response_is_closed_in_the_thread_that_ran_the_view(app):
    """request_finished returns the thread's database connection: it must run there."""
    finished = []

    def on_finished(**kwargs):
        finished.append(threading.get_ident())

    request_finished.connect(on_finished)
    try:
        call(app, scope("/echo/"))
        call(app, scope("/stream/"))
    finally:
        request_finished.disconnect(on_finished)
    assert finished == bridge_urls.seen_threads
    assert threading.get_ident() not in finished


def test_a_failing_view_answers_500_and_the_server_goes_on(app):
    status, _headers, _body, _ = call(app, scope("/broken/"))
    assert status == 500
    status, _headers, body, _ = call(app, scope("/plain/"))
    assert (status, body) == (200, b"ok")


def test_a_client_gone_before_its_body_ends_runs_no_view(app):
    sent = []
    messages = [{"type": "http.request", "body": b"abc", "more_body": True}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    run_coroutine(app(scope("/echo/", method="POST"), receive, send))
    assert sent == []
    assert bridge_urls.seen_threads == []


def test_environ_paths_are_latin1_strings_under_the_root_path():
    environ = environ_for(
        scope("/helpdesk/kb/статия/", root_path="/helpdesk", headers=[(b"content-type", b"a/b")]),
        None,
        0,
    )
    assert environ["SCRIPT_NAME"] == "/helpdesk"
    assert environ["PATH_INFO"] == "/kb/статия/".encode().decode("latin-1")
    assert environ["CONTENT_TYPE"] == "a/b"
    assert environ["CONTENT_LENGTH"] == "0"
    assert "HTTP_CONTENT_TYPE" not in environ


def test_one_thread_per_pooled_connection_unless_configured(settings, monkeypatch):
    from helpdesk.http_bridge import thread_count

    monkeypatch.delenv("HELPDESK_WEB_THREADS", raising=False)
    default = settings.DATABASES["default"]
    settings.DATABASES = {
        **settings.DATABASES,
        "default": {**default, "OPTIONS": {**default.get("OPTIONS", {}), "pool": {"max_size": 5}}},
    }
    assert thread_count() == 5
    monkeypatch.setenv("HELPDESK_WEB_THREADS", "3")
    assert thread_count() == 3
    monkeypatch.delenv("HELPDESK_WEB_THREADS")
    settings.DATABASES = {**settings.DATABASES, "default": {**default, "OPTIONS": {}}}
    assert thread_count() == 16
