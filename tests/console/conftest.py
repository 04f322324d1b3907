"""Fixtures of the console tests: fast password hashing, logged-in clients."""

import pytest


@pytest.fixture
def login(client):
    """Log `user` in on the test client and return the client."""

    def do(user):
        client.force_login(user)
        return client

    return do
