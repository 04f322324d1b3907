"""What operators see of a running helpdesk: request ids in logs, JSON logs, Sentry.

* ``RequestIdMiddleware`` gives every request an id (the caller's sane
  ``X-Request-ID`` or a new one), returns it in the response header and puts
  it, through ``RequestIdFilter``, into every log record written while the
  request runs. Celery tasks carry the id of the request that queued them
  (helpdesk/celery.py), so a worker's log lines join the request's.
* ``JsonFormatter`` writes one JSON object a line (``LOG_FORMAT=json``).
* ``init_sentry`` sends errors to Sentry when ``SENTRY_DSN`` is set, without
  personal data (no cookies, no form bodies, no user).
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import re
import time
import uuid

from helpdesk.env import ConfigError

# The id of the request (or task) this code runs for; "-" outside of one.
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

HEADER = "X-Request-ID"
# A caller's id is kept only if it is short and plain (a proxy's or load
# balancer's id); anything else is replaced, so logs never carry hostile text.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")

access_log = logging.getLogger("helpdesk.access")


def sane_request_id(value: str | None) -> str | None:
    """Return `value` if it is acceptable as a request id, else None."""
    if value and _SANE_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Put a request id on the request, in the response and in every log record.

    First in settings.MIDDLEWARE, so redirects and error pages carry it too.
    Also writes one access line (logger ``helpdesk.access``) per request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = sane_request_id(request.headers.get(HEADER)) or new_request_id()
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            access_log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
            return response
        finally:
            request_id_var.reset(token)


class RequestIdFilter(logging.Filter):
    """Give every record a ``request_id`` attribute (for both formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # django.request logs 4xx/5xx answers after the middleware has
            # returned, but passes the request along.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        return True


# Attributes every LogRecord has; anything else was passed as `extra`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, extras, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        for key, value in vars(record).items():
            # Plain values only: Django's django.request passes the request object.
            if key not in _STANDARD and key not in out and _plain(value):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


def _plain(value) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def init_sentry(dsn: str, *, environment: str, release: str, traces_sample_rate: float) -> None:
    """Send errors (Django, celery, ERROR log records) to the Sentry at `dsn`.

    Personal data stays here: no cookies, headers with credentials, users or
    request bodies are sent (the helpdesk's forms carry ЕГН and addresses).
    """
    try:
        # Imported here: sentry-sdk is an optional dependency, needed only with a DSN.
        import sentry_sdk
        from sentry_sdk.integrations.celery import CeleryIntegration
        from sentry_sdk.integrations.django import DjangoIntegration
    except ImportError:
        raise ConfigError(
            "SENTRY_DSN is set but sentry-sdk is not installed (pip install sentry-sdk)"
        )
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        send_default_pii=False,
        max_request_body_size="never",
        traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=_tag_request_id,
    )


def _tag_request_id(event, hint):
    """Sentry: tag each event with the request id, to find its log lines."""
    request_id = request_id_var.get()
    if request_id != "-":
        event.setdefault("tags", {})["request_id"] = request_id
    return event
