"""HTTP requests run through Django's synchronous handler, one thread hop each.

Every view and middleware of the helpdesk is synchronous. Django's ASGI
handler serves them by adapting between the event loop and threads several
times per request: the middleware chain switches modes wherever an
async-capable middleware meets a sync-only one, every hook of an
async-capable ``MiddlewareMixin`` gets its own ``sync_to_async`` call, and a
fresh single-thread executor is started and joined for each request. On a
filing that is thousands of context switches a second for nothing.

``SyncHttpApp`` is the ASGI application for ``http`` instead: it reads the
body on the event loop (``BodyLimit`` in front of it has already bounded
it), builds the WSGI environ from the scope, and runs Django's
``WSGIHandler`` — the same path the test client and any WSGI server take —
in a fixed pool of threads, once. An ordinary response comes back whole and
is sent from the loop; a streaming one (downloads, exports) is read and sent
chunk by chunk from its thread, so a large file never sits in memory, and is
closed in the thread that made it (Django returns the thread's database
connection to the pool when the response closes).

The pool bounds how many requests run at once in one process
(``HELPDESK_WEB_THREADS``, default the size of the database pool, or 16
without one): each thread can always have a connection, so no request waits
for the pool and fails after its timeout when the machine is slow; the rest
wait on the event loop, which costs nothing but memory for their sockets.
docs/scaling.md has the figures.
WebSockets stay with channels (helpdesk/asgi.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import tempfile

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

# Bodies up to this size stay in memory; larger ones (uploads) go to a temporary file.
SPOOL_BYTES = 1024 * 1024


def thread_count() -> int:
    configured = os.environ.get("HELPDESK_WEB_THREADS", "").strip()
    if configured:
        return max(1, int(configured))
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    size = pool.get("max_size") if isinstance(pool, dict) else None
    return max(2, int(size)) if size else 16


def environ_for(scope, body, length: int) -> dict:
    """The WSGI environ of one ASGI HTTP scope (PEP 3333; paths as Latin-1 strings).

    `body` is the request body already read (`length` bytes): CONTENT_LENGTH
    says what was received, so a chunked upload (no Content-Length header)
    still reaches the view whole.
    """
    root = scope.get("root_path", "")
    path = scope["path"]
    if root and path.startswith(root):
        path = path[len(root) :]
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] if server[1] is not None else 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0] or "",
        "REMOTE_PORT": str(client[1] or ""),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_TYPE" or name == "CONTENT_LENGTH":
            key = name
        else:
            key = f"HTTP_{name}"
        if key in environ:
            # Repeated headers are one, comma-separated (cookies: "; ").
            joiner = "; " if key == "HTTP_COOKIE" else ","
            environ[key] = f"{environ[key]}{joiner}{value}"
        else:
            environ[key] = value
    environ["CONTENT_LENGTH"] = str(length)
    return environ


class SyncHttpApp:
    """ASGI application for HTTP: Django's WSGI handler in a bounded thread pool."""

    def __init__(self, handler: WSGIHandler | None = None, threads: int | None = None):
        self.handler = handler or WSGIHandler()
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=threads or thread_count(), thread_name_prefix="http"
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"SyncHttpApp serves HTTP only, not {scope['type']!r}")
        body = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        length = 0
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client went away before sending its whole request
                chunk = message.get("body", b"")
                body.write(chunk)
                length += len(chunk)
                if not message.get("more_body", False):
                    break
            body.seek(0)
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(
                self.pool, self._respond, environ_for(scope, body, length), send, loop
            )
            if answer is not None:
                status, headers, content = answer
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": content})
        finally:
            body.close()

    def _respond(self, environ, send, loop):
        """Run Django in this thread; return the whole answer, or stream it from here."""
        started = {}

        def start_response(status, headers, exc_info=None):
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
            ]

        response = self.handler(environ, start_response)
        try:
            if not getattr(response, "streaming", False):
                return started["status"], started["headers"], b"".join(response)

            def push(message):
                asyncio.run_coroutine_threadsafe(send(message), loop).result()

            push(
                {
                    "type": "http.response.start",
                    "status": started["status"],
                    "headers": started["headers"],
                }
            )
            for chunk in response:
                if chunk:
                    push({"type": "http.response.body", "body": chunk, "more_body": True})
            push({"type": "http.response.body", "body": b""})
            return None
        finally:
            # request_finished: the thread's database connection goes back to the pool.
            response.close()
