"""Schemathesis against the generated OpenAPI document: no 5xx, every answer as described.

Each operation is called with generated input (valid and not) by a person
with a token; the checks are that nothing answers 5xx, and that the status,
content type and body of every answer are the ones the document describes.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.models import ApiToken

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Call the WSGI handler as Django's test client does: without closing the test's connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# Loaded once, through the app itself (the schema view reads no database).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", WSGIHandler())


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_answers_as_described(case, cast, make_ticket, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": None, "person": None, "token": None},
    }
    if not hasattr(cast, "secret"):
        make_ticket()
        _token, cast.secret = ApiToken.issue(user=cast.expert_x, name="schemathesis")
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {cast.secret}"}, checks=CHECKS
    )
    assert response.status_code < 500
