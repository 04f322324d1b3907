"""Helpers of the API tests: tokens, clients that send them, a service account."""

import pytest
from django.test import Client

from api.models import ApiToken, ServiceAccount
from api.service_accounts import save_service_account


class TokenClient(Client):
    """A test client that sends `Authorization: Bearer <secret>` with every request."""

    def __init__(self, secret: str, **defaults):
        super().__init__(HTTP_AUTHORIZATION=f"Bearer {secret}", **defaults)


@pytest.fixture
def token_for():
    def make(user, scopes=None, **kwargs):
        token, secret = ApiToken.issue(user=user, name="test", scopes=scopes, **kwargs)
        return TokenClient(secret), token, secret

    return make


@pytest.fixture
def service_account(cast):
    def make(*, institution=None, region=None, scopes=("read", "file", "reply", "act"), name=""):
        account = ServiceAccount(
            name=name or f"svc {institution or region}",
            institution=institution,
            region=region,
            scopes=list(scopes),
        )
        save_service_account(account, actor=cast.admin)
        token, secret = ApiToken.issue(
            user=account.user, service_account=account, name="svc", scopes=list(scopes)
        )
        return account, TokenClient(secret), token

    return make


V1 = "/api/v1"
