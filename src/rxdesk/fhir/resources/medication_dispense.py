"""FHIR MedicationDispense (US Core MedicationDispense): one per fill (id = the fill's pk).

Fill status → FHIR R4 medicationdispense-status, read against each code's definition:

======================================  ==============  ===================================
rxdesk fill                             FHIR            why
======================================  ==============  ===================================
queued, scheduled, to fill, filled      preparation     staging begun; not yet checked out
on hold                                 on-hold         paused, expected to go on
ready (in will-call)                    in-progress     "ready for pickup"
sold                                    completed       "picked up" (us-core-20: handed over)
returned to stock                       cancelled       "not and will never be picked up"
cancelled before it was counted out     stopped         halted before the dispense happened
======================================  ==============  ===================================

The pharmacists are rxdesk users, not Practitioner resources: the performer is the pharmacy
(Organization/<site>) with the verifying pharmacist's name in the display. ``type`` is FF
(first fill, fill 0) or RF (refill), FFP/RFP when partial — a partial-fill reason or less
than written, the rule the PMP report uses (rxdesk.controlled.pmp)."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, DateTimeField, F, Q, QuerySet, When
from django.db.models.functions import Coalesce

from rxdesk.core.capabilities import Cap
from rxdesk.fhir import codes
from rxdesk.fhir.registry import Context, ResourceType, SearchParam, register
from rxdesk.fhir.resources.common import (
    clean,
    coding,
    concept,
    date,
    instant,
    meta,
    quantity,
    reference,
)
from rxdesk.fhir.resources.medication import drug_text, ndc_coding, package_quantity
from rxdesk.fhir.search import bad, date_filter, pk_of, reference_id, split, token
from rxdesk.rx.choices import FillStatus, HoldReason
from rxdesk.rx.models import Fill

STATUS = {
    FillStatus.QUEUED: "preparation",
    FillStatus.SCHEDULED: "preparation",
    FillStatus.TO_FILL: "preparation",
    FillStatus.FILLED: "preparation",
    FillStatus.ON_HOLD: "on-hold",
    FillStatus.READY: "in-progress",
    FillStatus.DISPENSED: "completed",
    FillStatus.RETURNED: "cancelled",
    FillStatus.CANCELLED: "stopped",
}
STATUSES = (
    "preparation",
    "in-progress",
    "cancelled",
    "on-hold",
    "completed",
    "entered-in-error",
    "stopped",
    "declined",
    "unknown",
)
SUPPLY_TYPES = {
    "FF": "First Fill",
    "FFP": "First Fill - Part Fill",
    "RF": "Refill",
    "RFP": "Refill - Part Fill",
}


def is_partial(fill: Fill) -> bool:
    return bool(fill.partial_reason) or fill.quantity < fill.prescription.quantity


def supply_type(fill: Fill) -> str:
    return ("FF" if fill.number == 0 else "RF") + ("P" if is_partial(fill) else "")


def _person(user: Any) -> str:
    return (user.get_full_name() or user.username) if user is not None else ""


def _status_reason(fill: Fill) -> str:
    if fill.status == FillStatus.CANCELLED:
        return fill.cancel_reason or "Cancelled"
    if fill.status == FillStatus.RETURNED:
        return "Returned to stock: not picked up"
    if fill.status == FillStatus.ON_HOLD:
        why = HoldReason(fill.hold_reason).label if fill.hold_reason else "On hold"
        return f"{why}: {fill.hold_note}" if fill.hold_note else why
    if fill.status == FillStatus.SCHEDULED and fill.fillable_on:
        return f"Waiting until {fill.fillable_on.isoformat()}"
    return ""


def _last_updated(fill: Fill) -> Any:
    stamps = [
        fill.requested_at,
        fill.data_verified_at,
        fill.dispensed_at,
        fill.verified_at,
        fill.ready_at,
        fill.sold_at,
        fill.returned_at,
    ]
    return max(s for s in stamps if s is not None)


def handed_over(fill: Fill) -> str | None:
    """When the patient got it: the sale, else the dispensing time or day (a fill recorded
    as dispensed without a sale, e.g. history brought over); None unless sold."""
    if fill.status != FillStatus.DISPENSED:
        return None
    return instant(fill.sold_at or fill.dispensed_at) or date(fill.dispensed_on)


def to_fhir(fill: Fill, ctx: Context) -> dict[str, Any]:
    rx = fill.prescription
    package = fill.package or rx.package
    product = package.product if package is not None else rx.product
    if fill.package is not None and fill.package.product_id != rx.product_id:
        text = drug_text(fill.package.product)
    else:
        text = rx.drug_description
    pharmacist = _person(fill.verified_by)
    shown = f"{ctx.site.name} (pharmacist {pharmacist})" if pharmacist else ctx.site.name
    # No performer.function: "finalchecker" would name the pharmacy as the one who checked.
    performer = {"actor": reference("Organization", fill.site_id, shown)}
    why = _status_reason(fill)
    kind = supply_type(fill)
    return clean(
        {
            "resourceType": "MedicationDispense",
            "id": str(fill.pk),
            "meta": meta("MedicationDispense", _last_updated(fill)),
            "status": STATUS[FillStatus(fill.status)],
            "statusReasonCodeableConcept": concept(text=why) if why else None,
            "medicationCodeableConcept": concept(ndc_coding(package), text=text),
            "subject": reference("Patient", rx.patient_id),
            "performer": [performer],
            "authorizingPrescription": [reference("MedicationRequest", rx.pk)],
            "type": concept(coding(codes.SUPPLY_TYPE, kind, SUPPLY_TYPES[kind])),
            "quantity": package_quantity(fill.quantity, rx.quantity_unit, product),
            "daysSupply": quantity(fill.days_supply, "days", "d"),
            "whenPrepared": instant(fill.verified_at or fill.dispensed_at),
            "whenHandedOver": handed_over(fill),
            "dosageInstruction": [{"text": rx.directions_en}],
            "substitution": (
                {"wasSubstituted": fill.package.product_id != rx.product_id}
                if fill.package is not None
                else None
            ),
        }
    )


def queryset(ctx: Context) -> QuerySet[Fill]:
    return (
        Fill.objects.filter(site=ctx.site)
        .select_related(
            "prescription", "package__product", "prescription__package__product", "verified_by"
        )
        .select_related("prescription__product")
        .annotate(
            fhir_handed_over=Case(
                When(status=FillStatus.DISPENSED, then=Coalesce("sold_at", "dispensed_at")),
                default=None,
                output_field=DateTimeField(),
            )
        )
        .order_by("pk")
    )


def of_patient(ctx: Context, patient_id: int) -> QuerySet[Fill]:
    return queryset(ctx).filter(prescription__patient_id=patient_id)


# --- Search parameters -----------------------------------------------------------------------


def _patient(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        ids = [pk_of("patient", reference_id("patient", v, "Patient")) for v in group]
        qs = qs.filter(prescription__patient_id__in=[i for i in ids if i is not None])
    return qs


def _prescription(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        ids = [
            pk_of("prescription", reference_id("prescription", v, "MedicationRequest"))
            for v in group
        ]
        qs = qs.filter(prescription_id__in=[i for i in ids if i is not None])
    return qs


def _status(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        wanted: list[str] = []
        for value in group:
            _, code = token("status", value)
            if code not in STATUSES:
                raise bad("status", f"use one of {', '.join(STATUSES)}.")
            wanted.extend(ours for ours, theirs in STATUS.items() if theirs == code)
        qs = qs.filter(status__in=wanted)
    return qs


def _whenhandedover(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    q = date_filter("fhir_handed_over", "whenhandedover", values, ctx.site.tz, is_date=False)
    return qs.filter(q)


def _type(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    partial = Q(partial_reason__gt="") | Q(quantity__lt=F("prescription__quantity"))
    shapes = {
        "FF": Q(number=0) & ~partial,
        "FFP": Q(number=0) & partial,
        "RF": Q(number__gt=0) & ~partial,
        "RFP": Q(number__gt=0) & partial,
    }
    for group in split(values):
        alt = Q(pk__in=[])
        for value in group:
            system, code = token("type", value)
            if system not in (None, codes.SUPPLY_TYPE) or code not in shapes:
                continue
            alt |= shapes[code]
        qs = qs.filter(alt)
    return qs


MEDICATION_DISPENSE = register(
    ResourceType(
        name="MedicationDispense",
        cap=Cap.RX_VIEW,
        queryset=queryset,
        to_fhir=to_fhir,
        params={
            "patient": SearchParam("patient", "reference", "The patient (Patient/<id>)", _patient),
            "status": SearchParam(
                "status", "token", "preparation | in-progress | completed | …", _status
            ),
            "prescription": SearchParam(
                "prescription",
                "reference",
                "The prescription (MedicationRequest/<id>)",
                _prescription,
            ),
            "whenhandedover": SearchParam(
                "whenhandedover", "date", "When the patient got it (sold)", _whenhandedover
            ),
            "type": SearchParam("type", "token", "FF | FFP | RF | RFP (v3-ActCode)", _type),
        },
        profile=codes.PROFILE["MedicationDispense"],
        patient_of=lambda fill: fill.prescription.patient_id,
        of_patient=of_patient,
        documentation="Fills: what the pharmacy dispensed, from the queue to the patient's hands.",
    )
)
