"""Checking a resource against the FHIR structure definitions with fhir.resources.

fhir.resources ships R5 as its default and R4B (4.3.0) beside it; R4B is the R4-compatible
release and the resources rxdesk uses (Patient, Practitioner, Organization, Medication,
MedicationRequest, MedicationDispense, Immunization, AllergyIntolerance, Condition, Bundle,
OperationOutcome, CapabilityStatement) have the same R4 elements there, so an R4 resource
that validates as R4B is structurally valid R4."""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from rxdesk.fhir.outcome import FhirError


def model_class(resource_type: str) -> Any:
    """The fhir.resources R4B class for ``resource_type`` (None when there is none)."""
    if not resource_type.isalpha() or len(resource_type) > 40:
        return None
    try:
        module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    except ImportError:
        return None
    return getattr(module, resource_type, None)


def problems(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(FHIRPath-ish location, message) for each structural problem; [] when valid."""
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(kind, str):
        return [("resourceType", "resourceType is missing.")]
    cls = model_class(kind)
    if cls is None:
        return [("resourceType", f"{kind[:40]} is not a FHIR R4 resource type.")]
    try:
        cls.model_validate(resource)
    except ValidationError as exc:
        out = []
        for err in exc.errors()[:20]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
            out.append((f"{kind}.{where}" if where else kind, str(err.get("msg", "invalid"))[:300]))
        return out or [(kind, "not valid")]
    except (ValueError, TypeError, RecursionError) as exc:
        return [(kind, str(exc)[:300])]
    return []


def check(resource: dict[str, Any]) -> None:
    """Raise FhirError(400) listing every structural problem of ``resource``."""
    found = problems(resource)
    if found:
        raise FhirError(
            400,
            "; ".join(message for _, message in found),
            issues=[("structure", message, where) for where, message in found],
        )
