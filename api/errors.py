"""One error body for every refusal: {"code", "detail", "fields"}.

`detail` is in the caller's language (Accept-Language, else the person's
own); `fields` maps a field name to its messages (empty when the error is
not about a field). Domain refusals (helpdesk.errors) get their HTTP status
here, so views may simply let them rise.
"""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from helpdesk.errors import Conflict, DomainError, NotAllowed, RateLimited


class ApiError(exceptions.APIException):
    """A refusal of the API itself, with a status, a code and an optional field."""

    def __init__(self, detail, *, code: str, status_code: int = 400, field: str | None = None):
        super().__init__(detail, code)
        self.status_code = status_code
        self.code = code
        self.field = field


DOMAIN_STATUS = (
    (NotAllowed, status.HTTP_403_FORBIDDEN),
    (Conflict, status.HTTP_409_CONFLICT),
    (RateLimited, status.HTTP_429_TOO_MANY_REQUESTS),
)


def _flatten(errors, prefix="") -> dict[str, list[str]]:
    """Turn DRF's nested field errors into {"field" or "parent.child": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for name, value in errors.items():
            key = f"{prefix}.{name}" if prefix else str(name)
            for field, messages in _flatten(value, key).items():
                out.setdefault(field, []).extend(messages)
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            if isinstance(value, dict | list):
                key = f"{prefix}.{index}" if prefix else str(index)
                for field, messages in _flatten(value, key).items():
                    out.setdefault(field, []).extend(messages)
            else:
                out.setdefault(prefix or "non_field_errors", []).append(str(value))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(errors))
    return out


def body(code: str, detail: str, fields: dict | None = None) -> dict:
    return {"code": code, "detail": str(detail), "fields": fields or {}}


def domain_response(error: DomainError) -> Response:
    code = next((http for kind, http in DOMAIN_STATUS if isinstance(error, kind)), 400)
    fields = {error.field: [str(error.message)]} if error.field else {}
    response = Response(body(error.code, error.message, fields), status=code)
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response["Retry-After"] = str(int(retry_after))
    return response


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return domain_response(exc)
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        return Response(
            body("too_large", _("The request is too large.")),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        fields = {exc.field: [str(exc.detail)]} if exc.field else {}
        response.data = body(exc.code, exc.detail, fields)
    elif isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        general = fields.pop("non_field_errors", [])
        detail = " ".join(general) if general else _("Some fields are not valid.")
        response.data = body("invalid", detail, fields)
    elif isinstance(exc, exceptions.ParseError):
        response.data = body("parse_error", _("The body is not valid JSON or form data."))
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail if isinstance(exc.detail, str) else _("The request was refused.")
        response.data = body(exc.default_code, detail)
    else:
        response.data = body("error", response.data.get("detail", ""))
    return response
