"""Refuse a request body that is too big before reading it, not after.

Django's ASGI handler reads the whole body into a temporary file before any
view runs, so a 200 MB upload would be received in full only to be refused.
This ASGI wrapper answers 413 at once when Content-Length says the body is
too big, and stops a body without a length (chunked) as soon as it passes
the limit. Limits: the largest upload a request may carry (all files
together) plus room for the form, and more for the administrators' directory
import under /admin/.
"""

from django.conf import settings

FORM_ROOM = 1024 * 1024
ADMIN_LIMIT = 55 * 1024 * 1024

_TOO_BIG = (
    "<!doctype html><meta charset=utf-8><title>413</title>"
    "<p>Заявката е твърде голяма: прикачените файлове надхвърлят разрешения размер.</p>"
    "<p>The request is too large: the attached files exceed the allowed size.</p>"
).encode()


def limit_for(path: str) -> int:
    """The largest body accepted for `path`, in bytes."""
    if path.startswith("/admin/"):
        return ADMIN_LIMIT
    return settings.HELPDESK["MAX_REQUEST_BYTES"] + FORM_ROOM


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: 413 for HTTP bodies over limit_for(path)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            return await _refuse(send)
        received = 0
        started = False

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _refuse(send)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send):
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(_TOO_BIG)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _TOO_BIG})
