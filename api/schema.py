"""How the OpenAPI document describes the token header and the common error body."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal token (made at /api/v1/tokens/) or a service "
            "account's token (made by an administrator): `Authorization: Bearer hd_…`.",
        }


ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(help_text="Machine-readable reason, e.g. invalid, scope."),
        "detail": serializers.CharField(help_text="For people, in the caller's language."),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="Field name → messages; empty when the error is not about a field.",
        ),
    },
)


def error(description: str, code: str, detail: str, fields=None) -> OpenApiResponse:
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(code, value={"code": code, "detail": detail, "fields": fields or {}})
        ],
    )


UNAUTHENTICATED = error(
    "No credentials, or a token that is unknown, expired, revoked or deactivated.",
    "authentication_failed",
    "The token is not valid, or has expired.",
)
FORBIDDEN = error(
    "The caller may not do this (a domain rule, or a token without the scope).",
    "scope",
    "This token may not do this (it lacks the “act” scope).",
)
NOT_FOUND = error(
    "No such object, or the caller may not see it (the two are not told apart).",
    "not_found",
    "Not found.",
)
INVALID = error(
    "A field is missing or wrong; `fields` says which.",
    "invalid",
    "Some fields are not valid.",
    {"subject": ["This field is required."]},
)
CONFLICT = error(
    "Someone changed the request first (e.g. took it), or a newer message exists.",
    "conflict",
    "Someone else has just taken this request.",
)
THROTTLED = error(
    "Too many requests from this token or person; wait Retry-After seconds.",
    "throttled",
    "Request was throttled. Expected available in 12 seconds.",
)
TOO_LARGE = error(
    "The body is larger than the API accepts.", "too_large", "The request is too large."
)
MISMATCH = error(
    "The Idempotency-Key was used before with a different body.",
    "idempotency_mismatch",
    "This Idempotency-Key was used for a different request.",
)

READ_ERRORS = {400: INVALID, 401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND, 429: THROTTLED}
WRITE_ERRORS = {
    400: INVALID,
    401: UNAUTHENTICATED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    409: CONFLICT,
    413: TOO_LARGE,
    429: THROTTLED,
}
