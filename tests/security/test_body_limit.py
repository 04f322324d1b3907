"""A body that is too big is refused before it is read: 413 at once, never after 200 MB."""

import asyncio
import concurrent.futures
import socket
import time

import pytest

from helpdesk.body_limit import FORM_ROOM, BodyLimit, limit_for
from tests.console.asgi_server import asgi_server  # noqa: F401  (fixture)


def _run(app, scope, chunks):
    sent, reads = [], []

    async def receive():
        reads.append(1)
        body = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    # A thread of its own: a browser test may have left an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result(timeout=60)
    return sent, len(reads)


def _scope(path="/portal/new/", length=None):
    headers = [(b"host", b"127.0.0.1")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http", "method": "POST", "path": path, "headers": headers}


async def _reading_app(scope, receive, send):
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_a_declared_length_over_the_limit_is_refused_without_reading(settings):
    limit = limit_for("/portal/new/")
    assert limit == settings.HELPDESK["MAX_REQUEST_BYTES"] + FORM_ROOM
    sent, reads = _run(BodyLimit(_reading_app), _scope(length=200 * 1024 * 1024), [b"x"])
    assert sent[0]["status"] == 413 and reads == 0
    sent, reads = _run(BodyLimit(_reading_app), _scope(length=limit), [b"x"])
    assert sent[0]["status"] == 200


def test_a_chunked_body_is_stopped_once_it_passes_the_limit():
    limit = limit_for("/portal/new/")
    chunk = b"x" * (1024 * 1024)
    chunks = [chunk] * (limit // len(chunk) + 50)
    sent, reads = _run(BodyLimit(_reading_app), _scope(), chunks)
    assert sent[0]["status"] == 413
    assert reads <= limit // len(chunk) + 2  # stopped, not read to the end


def test_the_admin_import_may_be_larger():
    assert limit_for("/admin/accounts/institution/import/") > limit_for("/portal/new/")


@pytest.mark.django_db(transaction=True)
def test_the_real_server_answers_413_before_the_body_arrives(asgi_server):  # noqa: F811
    with socket.create_connection(("127.0.0.1", asgi_server.port), timeout=10) as conn:
        conn.sendall(
            b"POST /portal/new/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: 209715200\r\n\r\n" + b"x" * 1024
        )
        started = time.monotonic()
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
    assert time.monotonic() - started < 10  # it did not wait for 200 MB
