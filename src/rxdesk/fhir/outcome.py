"""Errors as FHIR OperationOutcome (R4 3.1.0 / http://hl7.org/fhir/R4/operationoutcome.html).

Every failure under /fhir/ — bad JSON, a hostile body, a missing resource, a forbidden role,
a broken pharmacy rule — answers with an OperationOutcome whose issue names the element
(``expression``, FHIRPath) and says in plain words what is wrong. Never a 500 page."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

from rxdesk.core.errors import DomainError
from rxdesk.fhir.codes import MIME

# issue.code (http://hl7.org/fhir/issue-type) for each HTTP status we answer with.
_ISSUE_CODE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "business-rule",
    500: "exception",
}


class FhirError(Exception):
    """A request the FHIR endpoint refuses. ``issues`` is a list of (code, diagnostics,
    expression) — one per problem found; nothing was written."""

    def __init__(
        self,
        status: int,
        diagnostics: str,
        *,
        code: str | None = None,
        expression: str | None = None,
        issues: list[tuple[str, str, str | None]] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.issues = issues or [
            (code or _ISSUE_CODE.get(status, "processing"), diagnostics, expression)
        ]


def outcome(
    issues: list[tuple[str, str, str | None]], *, severity: str = "error"
) -> dict[str, Any]:
    """An OperationOutcome resource (a dict) with one issue per (code, diagnostics, expression)."""
    out: list[dict[str, Any]] = []
    for code, diagnostics, expression in issues:
        issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
        if expression:
            issue["expression"] = [expression]
        out.append(issue)
    return {"resourceType": "OperationOutcome", "issue": out}


def outcome_response(
    status: int, issues: list[tuple[str, str, str | None]], *, severity: str = "error"
) -> HttpResponse:
    return HttpResponse(
        json.dumps(outcome(issues, severity=severity)),
        status=status,
        content_type=MIME,
    )


def error_response(exc: FhirError) -> HttpResponse:
    return outcome_response(exc.status, exc.issues)


def from_domain(exc: DomainError, *, field_map: dict[str, str] | None = None) -> FhirError:
    """A rxdesk domain error (Invalid, Forbidden, NotFound, Conflict…) as a FhirError; field
    names are mapped to FHIRPath expressions where ``field_map`` knows them."""
    status = exc.status
    issues: list[tuple[str, str, str | None]] = []
    code = _ISSUE_CODE.get(status, "processing")
    for error in exc.errors:
        field = error.get("field") or None
        expression = (field_map or {}).get(field, field) if field else None
        issues.append((code, error.get("message") or exc.message, expression))
    if not issues:
        issues.append((code, exc.message, None))
    return FhirError(status, exc.message, issues=issues)
