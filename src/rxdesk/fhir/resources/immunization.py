"""Immunization (US Core Immunization): the doses given here, the historical doses reported
from elsewhere, and the refusals.

Status: a record marked entered in error stays in the table (status ``entered_in_error``)
and is served as ``entered-in-error``; a refusal (RXA-20 RE) or a dose not administered (NA)
is ``not-done``; a complete or partial dose is ``completed`` (partial: ``isSubpotent``).
A dose given here is the primary source; a historical one is not, and its reportOrigin says
where it came from (immunization-origin, with the source's words as text).

There is no Location resource in rxdesk: the pharmacy is named as the administering
performer's actor (Organization), with the name of who gave the dose."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from rxdesk.core.capabilities import Cap
from rxdesk.fhir import codes
from rxdesk.fhir.registry import Context, ResourceType, SearchParam, register
from rxdesk.fhir.resources.common import (
    clean,
    coding,
    concept,
    date,
    identifier,
    instant,
    meta,
    quantity,
    reference,
)
from rxdesk.fhir.search import bad, date_filter, pk_of, reference_id, split, string_filter, token
from rxdesk.immunizations.choices import (
    BodySite,
    Completion,
    Eligibility,
    Funding,
    InformationSource,
    RecordStatus,
    RefusalReason,
    Route,
)
from rxdesk.immunizations.models import Immunization

# Route (stored as its NCIT code) -> v3-RouteOfAdministration, from the R4 immunization-route
# value set (IM, SQ, IDINJ, NASINHLC, PO).
ROUTES: dict[str, tuple[str, str]] = {
    Route.IM: ("IM", "Injection, intramuscular"),
    Route.SC: ("SQ", "Injection, subcutaneous"),
    Route.ID: ("IDINJ", "Injection, intradermal"),
    Route.NS: ("NASINHLC", "Inhalation, nasal"),
    Route.PO: ("PO", "Swallow, oral"),
}

# HL70163 body sites are v3-ActSite codes with the same spelling.
SITES: dict[str, str] = {
    BodySite.LD: "left deltoid",
    BodySite.RD: "right deltoid",
    BodySite.LA: "left arm",
    BodySite.RA: "right arm",
    BodySite.LT: "left thigh",
    BodySite.RT: "right thigh",
    BodySite.LVL: "left vastus lateralis",
    BodySite.RVL: "right vastus lateralis",
    BodySite.LG: "left gluteus medius",
    BodySite.RG: "right gluteus medius",
    BodySite.LLFA: "left lower forearm",
    BodySite.RLFA: "right lower forearm",
}

# NIP002 refusal reason -> v3-ActReason (_ActNoImmunizationReason). A religious exemption is
# RELIG; a parent's or patient's decision (or another reason to refuse) is an objection.
REFUSALS: dict[str, tuple[str, str]] = {
    RefusalReason.PARENTAL: ("PATOBJ", "patient objection"),
    RefusalReason.RELIGIOUS: ("RELIG", "religious objection"),
    RefusalReason.OTHER: ("PATOBJ", "patient objection"),
    RefusalReason.PATIENT: ("PATOBJ", "patient objection"),
}

# NIP001 historical source -> immunization-origin. 01 (unspecified) and 08 (public agency)
# have no honest code: their reportOrigin is the source's words only.
ORIGINS: dict[str, tuple[str, str]] = {
    InformationSource.OTHER_PROVIDER: ("provider", "Other Provider"),
    InformationSource.PARENT_WRITTEN: ("record", "Written Record"),
    InformationSource.PARENT_RECALL: ("recall", "Parent/Guardian/Patient Recall"),
    InformationSource.OTHER_REGISTRY: ("jurisdiction", "Jurisdictional IIS"),
    InformationSource.BIRTH_CERTIFICATE: ("record", "Written Record"),
    InformationSource.SCHOOL: ("school", "School Record"),
}

FUNDING: dict[str, tuple[str, str]] = {
    Funding.VFC: ("public", "Public"),
    Funding.STATE: ("public", "Public"),
    Funding.PRIVATE: ("private", "Private"),
}

STATUSES = ("completed", "not-done", "entered-in-error")
_NOT_DONE = (Completion.REFUSED, Completion.NOT_ADMINISTERED)


def status_of(row: Immunization) -> str:
    if row.status == RecordStatus.ENTERED_IN_ERROR:
        return "entered-in-error"
    if row.completion in _NOT_DONE:
        return "not-done"
    return "completed"


def _status_q(status: str) -> Q:
    error = Q(status=RecordStatus.ENTERED_IN_ERROR)
    if status == "entered-in-error":
        return error
    not_done = Q(completion__in=_NOT_DONE)
    if status == "not-done":
        return ~error & not_done
    return ~error & ~not_done


def _occurrence(row: Immunization, ctx: Context) -> str | None:
    local = row.administered_at.astimezone(ctx.site.tz)
    if not row.given_here:
        # A historical dose is known by its date only (stored at local noon).
        return local.date().isoformat()
    return instant(local)


def _status_reason(row: Immunization) -> dict[str, Any] | None:
    if status_of(row) != "not-done":
        return None
    if row.completion == Completion.REFUSED:
        code, display = REFUSALS.get(row.refusal_reason, ("PATOBJ", "patient objection"))
        text = row.get_refusal_reason_display() if row.refusal_reason else "Refused"
        return concept(coding(codes.ACT_REASON, code, display), text=text)
    return concept(text="Not administered")


def _report_origin(row: Immunization) -> dict[str, Any] | None:
    if row.given_here:
        return None
    code, display = ORIGINS.get(row.information_source, (None, None))
    text = row.historical_source or row.get_information_source_display()
    return concept(coding(codes.IMM_ORIGIN, code, display), text=text)


def _performers(row: Immunization, ctx: Context) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if row.given_here and status_of(row) == "completed":
        who = row.administered_by_name
        display = f"{ctx.site.name} (given by {who})" if who else ctx.site.name
        out.append(
            {
                "function": concept(
                    coding(codes.V2_0443, "AP", "Administering Provider"),
                ),
                "actor": reference("Organization", ctx.site.pk, display),
            }
        )
    prescriber = row.ordering_prescriber
    if prescriber is not None:
        name = f"{prescriber.first_name} {prescriber.last_name}".strip()
        out.append(
            {
                "function": concept(coding(codes.V2_0443, "OP", "Ordering Provider")),
                "actor": reference("Practitioner", prescriber.pk, name or None),
            }
        )
    return out


def _education(row: Immunization) -> list[dict[str, Any]]:
    return [
        clean(
            {
                "documentType": given.document.barcode,
                "reference": given.document.url,
                "publicationDate": date(given.document.edition_date),
                "presentationDate": date(given.presented_on),
            }
        )
        for given in row.vis_given.all()
    ]


def to_fhir(row: Immunization, ctx: Context) -> dict[str, Any]:
    vaccine = row.vaccine
    manufacturer = row.manufacturer
    route = ROUTES.get(row.route)
    site_display = SITES.get(row.body_site)
    funding = FUNDING.get(row.funding)
    status = status_of(row)
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": str(row.pk),
        "meta": meta("Immunization", row.updated_at),
        "status": status,
        "statusReason": _status_reason(row),
        "vaccineCode": concept(
            coding(codes.CVX, vaccine.cvx, vaccine.short_description),
            # us-core-5: the NDC of the product given, when it was scanned or reported.
            coding(codes.NDC, row.ndc11),
            text=vaccine.short_description,
        ),
        "patient": reference("Patient", row.patient_id),
        "occurrenceDateTime": _occurrence(row, ctx),
        "recorded": instant(row.recorded_at),
        "primarySource": row.given_here,
        "reportOrigin": _report_origin(row),
        "manufacturer": (
            clean(
                {
                    "identifier": identifier(codes.MVX, manufacturer.mvx),
                    "display": manufacturer.name,
                }
            )
            if manufacturer is not None
            else None
        ),
        "lotNumber": row.lot_number,
        "expirationDate": date(row.expiry),
        "site": (
            concept(coding(codes.ACT_SITE, row.body_site, site_display)) if site_display else None
        ),
        "route": concept(coding(codes.ROUTE, route[0], route[1])) if route else None,
        "doseQuantity": quantity(row.dose_ml, "mL", "mL"),
        "performer": _performers(row, ctx),
        "note": [{"text": row.note}] if row.note else None,
        "isSubpotent": True if row.completion == Completion.PARTIAL else None,
        "education": _education(row),
        "programEligibility": (
            [concept(coding(codes.V2_0064, row.eligibility, Eligibility(row.eligibility).label))]
            if row.eligibility in Eligibility.values
            else None
        ),
        "fundingSource": concept(coding(codes.FUNDING_SOURCE, *funding)) if funding else None,
        "protocolApplied": (
            [{"doseNumberPositiveInt": row.dose_number}] if row.dose_number else None
        ),
    }
    return clean(resource)


# --- Search -------------------------------------------------------------------------------


def _patient(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        pks = [pk_of("patient", reference_id("patient", v, "Patient")) for v in group]
        qs = qs.filter(patient_id__in=[pk for pk in pks if pk is not None])
    return qs


def _status(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        q = Q(pk__in=[])
        for value in group:
            system, code = token("status", value)
            if system or code not in STATUSES:
                raise bad("status", f"use one of {', '.join(STATUSES)}.")
            q |= _status_q(code)
        qs = qs.filter(q)
    return qs


def _date(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    return qs.filter(date_filter("administered_at", "date", values, ctx.site.tz, is_date=False))


def _vaccine_code(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        q = Q(pk__in=[])
        for value in group:
            system, code = token("vaccine-code", value)
            if code is None:
                raise bad("vaccine-code", "give a CVX code, e.g. http://hl7.org/fhir/sid/cvx|150.")
            if system in (None, codes.CVX):
                q |= Q(vaccine__cvx=code)
            if system in (None, codes.NDC):
                q |= Q(ndc11=code.replace("-", ""))
        qs = qs.filter(q)
    return qs


def _lot_number(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    return qs.filter(string_filter(["lot_number"], "lot-number", values))


def queryset(ctx: Context) -> QuerySet[Any]:
    return (
        Immunization.objects.filter(site=ctx.site)
        .select_related("vaccine", "manufacturer", "ordering_prescriber")
        .prefetch_related("vis_given__document")
        .order_by("pk")
    )


def of_patient(ctx: Context, patient_pk: int) -> QuerySet[Any]:
    return queryset(ctx).filter(patient_id=patient_pk)


def patient_of(row: Any) -> int | None:
    return int(row.patient_id)


IMMUNIZATION = register(
    ResourceType(
        name="Immunization",
        cap=Cap.IMM_VIEW,
        queryset=queryset,
        to_fhir=to_fhir,
        profile=codes.PROFILE["Immunization"],
        patient_of=patient_of,
        of_patient=of_patient,
        documentation=(
            "Vaccines given at this pharmacy, historical doses reported from elsewhere "
            "(primarySource false) and refusals (status not-done)."
        ),
        params={
            p.name: p
            for p in (
                SearchParam("patient", "reference", "The patient (Patient/<id>).", _patient),
                SearchParam(
                    "status",
                    "token",
                    "completed | not-done | entered-in-error.",
                    _status,
                ),
                SearchParam(
                    "date",
                    "date",
                    "When the dose was given (occurrence), with prefixes ge, le, gt, lt…",
                    _date,
                ),
                SearchParam(
                    "vaccine-code",
                    "token",
                    "The vaccine: a CVX code (http://hl7.org/fhir/sid/cvx) or the NDC given.",
                    _vaccine_code,
                ),
                SearchParam("lot-number", "string", "The lot number (starts with).", _lot_number),
            )
        },
    )
)
