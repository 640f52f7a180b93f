"""Shared by the FHIR tests: a client that speaks FHIR JSON with a bearer token, and the
structural check every emitted resource must pass (fhir.resources, R4B models)."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from rxdesk.core import context
from rxdesk.core.models import User
from rxdesk.core.services import token_create
from rxdesk.fhir.validate import problems

FHIR_JSON = "application/fhir+json"


class FhirClient:
    """``get``/``post`` under /fhir/ as ``user`` with a real bearer token (None: anonymous)."""

    def __init__(self, user: User | None) -> None:
        self.client = Client()
        self.headers: dict[str, str] = {}
        if user is not None:
            with context.using(context.RequestInfo(channel="cli")):
                _, secret = token_create(actor=None, user=user, name="fhir tests")
            self.headers = {"Authorization": f"Bearer {secret}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(_url(path), params or None, headers=self.headers)

    def post(self, path: str, body: Any, content_type: str = FHIR_JSON) -> Any:
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.client.post(_url(path), data, content_type=content_type, headers=self.headers)

    def delete(self, path: str) -> Any:
        return self.client.delete(_url(path), headers=self.headers)


def _url(path: str) -> str:
    return path if path.startswith("/") else f"/fhir/{path}"


def assert_valid(resource: dict[str, Any]) -> None:
    """The resource (and each resource in a Bundle) validates against the R4 structure."""
    found = problems(resource)
    assert not found, (resource.get("resourceType"), found, json.dumps(resource)[:2000])
    if resource.get("resourceType") == "Bundle":
        for entry in resource.get("entry", []):
            if "resource" in entry:
                assert_valid(entry["resource"])


def assert_outcome(response: Any, status: int, expression: str | None = None) -> dict[str, Any]:
    """An OperationOutcome answer with ``status`` (and an issue naming ``expression``)."""
    assert response.status_code == status, (response.status_code, response.content[:1000])
    assert response["Content-Type"].startswith(FHIR_JSON), response["Content-Type"]
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    assert_valid(body)
    if expression is not None:
        found = [e for issue in body["issue"] for e in issue.get("expression", [])]
        assert any(expression in e for e in found), (expression, found)
    return body
