"""The OpenAPI document and the interactive docs: complete, valid, served from our own files."""

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema

from tests.api.conftest import V1

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(client):
    response = client.get(f"{V1}/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_is_valid_openapi_3(document):
    assert document["openapi"].startswith("3.")
    validate_schema(document)


def test_every_operation_is_described_with_its_errors(document):
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) >= 25
    for path, method, operation in operations:
        assert path.startswith("/api/v1/")
        assert operation.get("summary"), (path, method)
        codes = set(operation["responses"])
        assert {"401", "403", "429"} <= codes, (path, method, codes)
        if method in ("post", "patch"):
            assert "400" in codes, (path, method)
    paths = set(document["paths"])
    for wanted in (
        "/api/v1/tickets/",
        "/api/v1/tickets/{reference}/messages/",
        "/api/v1/tickets/{reference}/take/",
        "/api/v1/attachments/{id}/download/",
        "/api/v1/kb/articles/search/",
        "/api/v1/me/",
    ):
        assert wanted in paths
    assert document["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    error = document["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "detail", "fields"}
    create = document["paths"]["/api/v1/tickets/"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    listing = document["paths"]["/api/v1/tickets/"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"updated_since", "cursor", "page_size", "ordering", "status", "q"} <= names


def test_the_docs_page_uses_our_static_files_and_a_strict_policy(client):
    response = client.get(f"{V1}/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source
    assert "<script>" not in html  # no inline script: the init script is a file of its own
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-eval" not in policy
    assert "cdn" not in html.lower()
    script = client.get(f"{V1}/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
