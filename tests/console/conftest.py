"""Fixtures of the console tests: fast password hashing, logged-in clients."""

import pytest


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The cast has seventeen people; the production hasher would spend most
    # of every test hashing their passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def login(client):
    """Log `user` in on the test client and return the client."""

    def do(user):
        client.force_login(user)
        return client

    return do
