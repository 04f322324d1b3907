"""Portal test settings: a fast password hasher for the cast's many accounts."""

import pytest


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The cast creates some twenty accounts per test; the production hasher
    # would make that the slowest part of the suite.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
