"""The /fhir/ endpoints (FHIR R4 RESTful API, http://hl7.org/fhir/R4/http.html):

* ``GET metadata`` — the CapabilityStatement;
* ``GET <Type>/<id>`` — read; ``GET <Type>?…`` and ``POST <Type>/_search`` — search, paged;
* ``POST MedicationRequest`` — an incoming prescription; ``POST`` (root) — a transaction Bundle;
* ``GET Patient/<id>/$everything`` — the patient's whole record as one Bundle;
* ``GET $export`` (Bulk Data kick-off), ``$export-status/<n>``, ``$export-file/<n>/<Type>``.

Reads of patient data write PHI-access events: one per resource read, one per patient a
search page shows."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.fhir import bundle, capability, export, ingest
from rxdesk.fhir.http import endpoint, fhir_json, need, read_body
from rxdesk.fhir.outcome import FhirError
from rxdesk.fhir.registry import TYPES, Context, ResourceType, model_row
from rxdesk.fhir.search import paging

register_actions(
    {
        "fhir.read": "Record read through the FHIR API (PHI access)",
        "fhir.search": "Records found by a FHIR API search (PHI access)",
    }
)


def resource_type(name: str) -> ResourceType:
    found = TYPES.get(name)
    if found is None:
        raise FhirError(
            404,
            f"rxdesk does not serve {name[:40]} resources; see /fhir/metadata.",
            code="not-supported",
        )
    return found


def log_access(
    ctx: Context, action: str, rows: list[tuple[ResourceType, Any]], detail: dict[str, Any]
) -> None:
    """One PHI-access event per patient the answer shows (HIPAA accounting of disclosures)."""
    by_patient: dict[int, list[str]] = {}
    for rt, row in rows:
        if rt.patient_of is None:
            continue
        patient_id = rt.patient_of(row)
        if patient_id is not None:
            by_patient.setdefault(patient_id, []).append(f"{rt.name}/{rt.id_of(row)}")
    if not by_patient:
        return
    with transaction.atomic():
        for patient_id, refs in by_patient.items():
            audit_record(
                actor=ctx.actor,
                action=action,
                object_type="fhir",
                object_id=refs[0][:40],
                patient_id=patient_id,
                data={**detail, "resources": refs[:50]},
            )


@endpoint(("GET",), anonymous_ok=True)
def metadata(request: HttpRequest, user: Any, ctx: Context) -> HttpResponse:
    return fhir_json(capability.capability_statement(ctx))


@endpoint(("GET",))
def read(
    request: HttpRequest, user: Any, ctx: Context, type_name: str, fhir_id: str
) -> HttpResponse:
    rt = resource_type(type_name)
    need(user, rt.cap)
    row = model_row(rt, fhir_id, ctx)
    if row is None:
        raise FhirError(404, f"No {rt.name} with id {fhir_id[:40]} here.", code="not-found")
    resource = rt.to_fhir(row, ctx)
    log_access(ctx, "fhir.read", [(rt, row)], {"interaction": "read"})
    return fhir_json(resource)


def _search(
    request: HttpRequest, user: Any, ctx: Context, type_name: str, params: dict[str, list[str]]
) -> HttpResponse:
    rt = resource_type(type_name)
    need(user, rt.cap)
    count, offset = paging(params)
    strict = "handling=strict" in request.headers.get("Prefer", "")
    result = bundle.search(rt, ctx, params, count=count, offset=offset, strict=strict)
    log_access(
        ctx,
        "fhir.search",
        [(rt, row) for row in result.rows],
        {"interaction": "search", "type": rt.name},
    )
    return fhir_json(result.bundle)


@endpoint(("GET", "POST"))
def type_level(request: HttpRequest, user: Any, ctx: Context, type_name: str) -> HttpResponse:
    if request.method == "POST":
        rt = resource_type(type_name)
        if rt.create is None:
            raise FhirError(
                405, f"rxdesk does not accept new {rt.name} resources.", code="not-supported"
            )
        need(user, rt.create_cap or rt.cap)
        body = read_body(request)
        status, resource, location = rt.create(body, ctx)
        headers = {"Location": f"{ctx.base}/{rt.name}/{location}"} if location else {}
        return fhir_json(resource, status=status, **headers)
    return _search(request, user, ctx, type_name, {k: request.GET.getlist(k) for k in request.GET})


@endpoint(("POST",))
def search_post(request: HttpRequest, user: Any, ctx: Context, type_name: str) -> HttpResponse:
    if request.content_type != "application/x-www-form-urlencoded":
        raise FhirError(
            415, "POST _search takes application/x-www-form-urlencoded.", code="not-supported"
        )
    params = {k: request.POST.getlist(k) for k in request.POST}
    for k in request.GET:
        params.setdefault(k, []).extend(request.GET.getlist(k))
    return _search(request, user, ctx, type_name, params)


@endpoint(("POST",))
def root(request: HttpRequest, user: Any, ctx: Context) -> HttpResponse:
    body = read_body(request)
    return fhir_json(ingest.transaction_bundle(body, ctx))


@endpoint(("GET",))
def everything(request: HttpRequest, user: Any, ctx: Context, fhir_id: str) -> HttpResponse:
    types = request.GET.getlist("_type") or None
    return fhir_json(export.patient_everything(fhir_id, ctx, type_names=types))


@endpoint(("GET", "POST"))
def export_kickoff(request: HttpRequest, user: Any, ctx: Context) -> HttpResponse:
    return export.kickoff(request, ctx)


@endpoint(("GET", "DELETE"))
def export_status(request: HttpRequest, user: Any, ctx: Context, pk: int) -> HttpResponse:
    return export.status(request, ctx, pk)


@endpoint(("GET",))
def export_file(
    request: HttpRequest, user: Any, ctx: Context, pk: int, type_name: str
) -> HttpResponse:
    return export.file(request, ctx, pk, type_name)
