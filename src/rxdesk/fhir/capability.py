"""The CapabilityStatement served at /fhir/metadata (http://hl7.org/fhir/R4/capabilitystatement.html).

It is built from the registry (rxdesk.fhir.registry.TYPES), so a type, search parameter or
create interaction is declared exactly when it is served. Clients read it before they sign
in; it names no patient, user or pharmacy detail beyond the server's own base URL."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

import rxdesk
from rxdesk.fhir import codes
from rxdesk.fhir.registry import TYPES, Context, ResourceType

US_CORE_IG = "http://hl7.org/fhir/us/core/ImplementationGuide/hl7.fhir.us.core"
PATIENT_EVERYTHING = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
BULK_EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"

CREATE_DOCS = {
    "MedicationRequest": (
        "An incoming prescription (US Core MedicationRequest with contained or referenced "
        "Medication, Patient and Practitioner), checked and matched like an e-prescription: "
        "201 when it became a prescription, 202 when it waits in the e-prescription inbox."
    ),
}

SECURITY = (
    "Every request except GET /metadata needs a signed-in user: send 'Authorization: Bearer "
    "<token>' with a personal API token (created by the pharmacy with 'rxdesk token create'), "
    "or use the signed-in browser session with its CSRF token on POST. rxdesk does not offer "
    "OAuth 2.0 / SMART on FHIR. What a user may read or write follows the role's "
    "capabilities in rxdesk; every read of patient data is written to the audit log."
)


def _resource(rt: ResourceType) -> dict[str, Any]:
    interactions = [
        {"code": "read"},
        {"code": "search-type", "documentation": "GET [type]?… or POST [type]/_search, paged."},
    ]
    if rt.create is not None:
        interactions.append({"code": "create", "documentation": CREATE_DOCS.get(rt.name, "")})
    params = [
        {"name": "_id", "type": "token", "documentation": "The resource id (comma list = or)."}
    ]
    params.extend(
        {"name": p.name, "type": p.type, "documentation": p.documentation}
        for p in sorted(rt.params.values(), key=lambda p: p.name)
        if p.name != "_id"
    )
    out: dict[str, Any] = {"type": rt.name}
    if rt.profile:
        out["profile"] = rt.profile
        out["supportedProfile"] = [rt.profile]
    if rt.documentation:
        out["documentation"] = rt.documentation
    out["interaction"] = [_drop_empty(i) for i in interactions]
    out["versioning"] = "no-version"
    out["readHistory"] = False
    out["updateCreate"] = False
    out["searchParam"] = params
    if rt.name == "Patient":
        out["operation"] = [{"name": "everything", "definition": PATIENT_EVERYTHING}]
    return out


def _drop_empty(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v}


def capability_statement(ctx: Context) -> dict[str, Any]:
    """What this server does, for ``GET /fhir/metadata``."""
    return {
        "resourceType": "CapabilityStatement",
        "url": f"{ctx.base}/metadata",
        "name": "RxdeskFhirServer",
        "title": "rxdesk FHIR R4 API",
        "status": "active",
        "date": timezone.now().replace(microsecond=0).isoformat(),
        "publisher": "rxdesk",
        "description": (
            "The pharmacy's patients, prescribers, prescriptions, dispenses, immunizations, "
            "allergies and conditions as FHIR R4 resources (US Core profiles)."
        ),
        "kind": "instance",
        "software": {"name": "rxdesk", "version": rxdesk.__version__},
        "implementation": {"description": "rxdesk pharmacy system", "url": ctx.base},
        "fhirVersion": codes.FHIR_VERSION,
        "format": [codes.MIME, "json"],
        "implementationGuide": [US_CORE_IG],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Search results are searchset Bundles paged with _count (at most 200) and "
                    "_offset; unknown parameters are ignored unless 'Prefer: handling=strict' "
                    "is sent. Errors are OperationOutcome resources."
                ),
                "security": {"cors": False, "description": SECURITY},
                "resource": [_resource(TYPES[name]) for name in sorted(TYPES)],
                "interaction": [
                    {
                        "code": "transaction",
                        "documentation": (
                            "POST a transaction Bundle of incoming MedicationRequests (with "
                            "their Patient, Practitioner and Medication); all or nothing."
                        ),
                    },
                    {
                        "code": "batch",
                        "documentation": "The same entries as a batch: each answered on its own.",
                    },
                ],
                "operation": [{"name": "export", "definition": BULK_EXPORT}],
            }
        ],
    }
