"""Who is calling: a bearer token (a person's or a service account's), or the session.

`Authorization: Bearer <token>` (or `Token <token>`) is looked up by the
SHA-256 of the secret. A revoked or expired token, a deactivated person and a
deactivated service account are all refused on the very request they are
checked on: nothing about a token is cached between requests.
"""

import datetime

from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from api.models import ALL_SCOPES, ApiToken, hash_secret

# last_used_at is written at most this often per token (not on every request).
LAST_USED_PRECISION = datetime.timedelta(minutes=1)
KEYWORDS = ("bearer", "token")
MAX_TOKEN_CHARS = 200


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Authorization: Bearer hd_… (the keyword "Token" is accepted too)."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = str(request.META.get("HTTP_AUTHORIZATION", "")).split()
        if not header or header[0].lower() not in KEYWORDS:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the token as “Authorization: Bearer <token>”.")
            )
        secret = header[1]
        if not secret.isascii() or len(secret) > MAX_TOKEN_CHARS:
            raise exceptions.AuthenticationFailed(_("The token is not valid."))
        return self.authenticate_secret(request, secret)

    def authenticate_secret(self, request, secret: str):
        token = (
            ApiToken.objects.select_related("user", "service_account")
            .filter(key_hash=hash_secret(secret))
            .first()
        )
        now = timezone.now()
        if token is None or not token.is_usable(now):
            raise exceptions.AuthenticationFailed(_("The token is not valid, or has expired."))
        account = token.service_account
        if not token.user.is_active or (account is not None and not account.is_active):
            raise exceptions.AuthenticationFailed(_("This account has been deactivated."))
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        if not request.META.get("HTTP_ACCEPT_LANGUAGE"):
            # A program rarely says which language it wants: answer in the person's.
            translation.activate(token.user.language)
            request.LANGUAGE_CODE = token.user.language
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def scopes_of(request) -> frozenset[str]:
    """The scopes this request may use: a token's (within its service account's), or all."""
    token = request.auth
    if not isinstance(token, ApiToken):
        return frozenset(ALL_SCOPES)  # a person in the browser has their own rights
    scopes = set(token.scopes or ())
    if token.service_account is not None:
        scopes &= set(token.service_account.scopes or ())
    return frozenset(scopes)
