"""FHIR MedicationRequest (US Core MedicationRequest): the pharmacy's prescriptions (id = the
Rx pk, intent ``filler-order``: the pharmacy's record of the prescriber's order) and the
medication history imported from other systems (id ``h-<pk>``, ``reportedBoolean`` true,
intent ``order``, status as the source said).

Status of our prescriptions (FHIR R4 medicationrequest-status), decided in one place —
``rx_status`` for a row and ``status_q`` for a search, which agree:

=========================================  ==========================================
rxdesk                                     FHIR
=========================================  ==========================================
inactive, entered in error                 entered-in-error
transferred out                            stopped (the order goes on elsewhere)
everything written has been handed over    completed
inactive, nothing ever handed over         cancelled (withdrawn before any dispense)
inactive, some handed over                 stopped
active or on hold, past its expiry date    stopped (can no longer be filled)
on hold                                    on-hold
active                                     active
=========================================  ==========================================

"Handed over" counts sold fills and the quantity a transferring pharmacy dispensed
(``dispensed_elsewhere``), against quantity × (1 + refills authorized)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from rxdesk.core.capabilities import Cap
from rxdesk.fhir import codes
from rxdesk.fhir.models import MedicationHistory
from rxdesk.fhir.registry import Context, ResourceType, SearchParam, register
from rxdesk.fhir.resources.common import (
    clean,
    coding,
    concept,
    date,
    identifier,
    meta,
    quantity,
    reference,
)
from rxdesk.fhir.resources.medication import code_q, ndc11, ndc_coding, package_quantity
from rxdesk.fhir.search import bad, date_filter, pk_of, reference_id, split, token
from rxdesk.rx.choices import Daw, FillStatus, HoldReason, InactiveReason, RxStatus
from rxdesk.rx.models import Fill, Prescription

HISTORY_PREFIX = "h-"
STATUSES = (
    "active",
    "on-hold",
    "cancelled",
    "completed",
    "entered-in-error",
    "stopped",
    "draft",
    "unknown",
)
INTENTS = (
    "proposal",
    "plan",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
)
OUR_INTENT = "filler-order"
HISTORY_INTENT = "order"
# NCPDP DAW codes under which the prescriber or the law did not allow a substitute
# (408-D8: 1 prescriber, 7 brand mandated by law). Every other code allows one — DAW 2, 8, 9
# say a brand was dispensed for another reason, not that substitution was forbidden.
_NO_SUBSTITUTION = {Daw.PRESCRIBER, Daw.BRAND_BY_LAW}
_DISPENSED = DecimalField(max_digits=14, decimal_places=3)


def substitution_allowed(daw: int) -> bool:
    return daw not in _NO_SUBSTITUTION


# --- Status ----------------------------------------------------------------------------------


def _handed_over(rx: Prescription) -> Decimal:
    cached = getattr(rx, "fhir_handed_over", None)
    if cached is not None:
        return Decimal(cached)
    total = rx.fills.filter(status=FillStatus.DISPENSED).aggregate(n=Sum("quantity"))["n"]
    return Decimal(total or 0)


def rx_status(rx: Prescription, today: dt.date) -> tuple[str, str]:
    """(FHIR status, reason in words) of a prescription (see the table above)."""
    handed = _handed_over(rx)
    written = rx.quantity * (1 + rx.refills_authorized)
    complete = handed + rx.dispensed_elsewhere >= written
    note = f": {rx.status_note}" if rx.status_note else ""
    if rx.status == RxStatus.INACTIVE and rx.inactive_reason == InactiveReason.ENTERED_IN_ERROR:
        return "entered-in-error", InactiveReason.ENTERED_IN_ERROR.label + note
    if rx.status == RxStatus.TRANSFERRED:
        return "stopped", "Transferred out" + note
    if complete:
        return "completed", ""
    if rx.status == RxStatus.INACTIVE:
        why = InactiveReason(rx.inactive_reason).label if rx.inactive_reason else "Inactive"
        return ("stopped" if handed > 0 else "cancelled"), why + note
    if rx.expires_on is not None and rx.expires_on < today:
        return "stopped", f"Expired on {rx.expires_on.isoformat()}"
    if rx.status == RxStatus.ON_HOLD:
        why = HoldReason(rx.hold_reason).label if rx.hold_reason else "On hold"
        return "on-hold", why + note
    return "active", ""


def with_handed_over(qs: QuerySet[Prescription]) -> QuerySet[Prescription]:
    sold = (
        Fill.objects.filter(prescription=OuterRef("pk"), status=FillStatus.DISPENSED)
        .order_by()
        .values("prescription")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    return qs.annotate(
        fhir_handed_over=Coalesce(Subquery(sold, output_field=_DISPENSED), Value(Decimal(0))),
        fhir_left=ExpressionWrapper(
            F("quantity") * (1 + F("refills_authorized"))
            - F("dispensed_elsewhere")
            - F("fhir_handed_over"),
            output_field=_DISPENSED,
        ),
    )


def status_q(code: str, today: dt.date) -> Q:
    """The prescriptions whose FHIR status is ``code`` (``with_handed_over`` applied)."""
    error = Q(status=RxStatus.INACTIVE, inactive_reason=InactiveReason.ENTERED_IN_ERROR)
    transferred = Q(status=RxStatus.TRANSFERRED)
    complete = Q(fhir_left__lte=0) & ~error & ~transferred
    open_ = ~error & ~transferred & ~complete
    inactive = Q(status=RxStatus.INACTIVE) & open_
    expired = Q(expires_on__isnull=False, expires_on__lt=today)
    live = Q(status__in=(RxStatus.ACTIVE, RxStatus.ON_HOLD)) & open_
    if code == "entered-in-error":
        return error
    if code == "completed":
        return complete
    if code == "cancelled":
        return inactive & Q(fhir_handed_over__lte=0)
    if code == "stopped":
        return transferred | (inactive & Q(fhir_handed_over__gt=0)) | (live & expired)
    if code == "on-hold":
        return live & ~expired & Q(status=RxStatus.ON_HOLD)
    if code == "active":
        return live & ~expired & Q(status=RxStatus.ACTIVE)
    return Q(pk__in=[])  # draft, unknown: rxdesk keeps none


# --- Building --------------------------------------------------------------------------------


def _prescriber_name(rx: Prescription) -> str:
    p = rx.prescriber
    name = " ".join(x for x in (p.first_name, p.middle_name, p.last_name) if x)
    return f"{name}, {p.credential}" if p.credential else name


def _rx_to_fhir(rx: Prescription, ctx: Context) -> dict[str, Any]:
    status, why = rx_status(rx, ctx.site.today())
    product = rx.package.product if rx.package is not None else rx.product
    return clean(
        {
            "resourceType": "MedicationRequest",
            "id": str(rx.pk),
            "meta": meta("MedicationRequest", rx.updated_at),
            "identifier": [
                identifier(
                    codes.RX_NUMBER,
                    str(rx.number),
                    assigner=reference("Organization", rx.site_id, ctx.site.name),
                ),
                identifier(codes.PRESCRIBER_ORDER_NUMBER, rx.prescriber_order_number),
            ],
            "status": status,
            "statusReason": concept(text=why) if why else None,
            "intent": OUR_INTENT,
            "category": [
                concept(coding(codes.RX_CATEGORY, "community", "Community"), text="Community")
            ],
            "reportedBoolean": False,
            "medicationCodeableConcept": concept(ndc_coding(rx.package), text=rx.drug_description),
            "subject": reference("Patient", rx.patient_id),
            "authoredOn": date(rx.date_written),
            "requester": reference("Practitioner", rx.prescriber_id, _prescriber_name(rx)),
            "reasonCode": [concept(coding(codes.ICD10CM, rx.diagnosis_code))],
            "dosageInstruction": [{"text": rx.directions_en}],
            "dispenseRequest": {
                "validityPeriod": {
                    "start": date(rx.date_written),
                    "end": date(rx.expires_on),
                },
                "numberOfRepeatsAllowed": rx.refills_authorized,
                "quantity": package_quantity(rx.quantity, rx.quantity_unit, product),
                "expectedSupplyDuration": quantity(rx.days_supply, "days", "d"),
            },
            "substitution": {"allowedBoolean": substitution_allowed(rx.daw)},
            "priorPrescription": (
                reference("MedicationRequest", rx.replaces_id) if rx.replaces_id else None
            ),
        }
    )


_HISTORY_STATUS = set(STATUSES)


def _history_to_fhir(row: MedicationHistory, ctx: Context) -> dict[str, Any]:
    ndc = ndc11(row.ndc11) if row.ndc11 else None
    requester = None
    if row.prescriber_name or row.prescriber_npi:
        requester = clean(
            {
                "identifier": identifier(codes.NPI, row.prescriber_npi),
                "display": row.prescriber_name,
            }
        )
    source_system = row.source if ":" in row.source else None
    return clean(
        {
            "resourceType": "MedicationRequest",
            "id": f"{HISTORY_PREFIX}{row.pk}",
            "meta": meta("MedicationRequest", row.imported_at),
            "identifier": [
                clean({"system": source_system, "value": row.source_id[:200]}),
            ],
            "status": row.status if row.status in _HISTORY_STATUS else "unknown",
            "intent": HISTORY_INTENT,
            "reportedBoolean": True,
            "medicationCodeableConcept": concept(
                coding(codes.RXNORM, row.rxnorm),
                coding(codes.NDC, ndc),
                text=row.drug_name,
            ),
            "subject": reference("Patient", row.patient_id),
            "authoredOn": date(row.authored_on),
            "requester": requester,
            "reasonCode": [concept(text=row.reason)],
            "dosageInstruction": [{"text": row.directions}],
            "dispenseRequest": {
                "numberOfRepeatsAllowed": row.refills,
                "quantity": quantity(row.quantity, row.quantity_unit or None),
                "expectedSupplyDuration": quantity(row.days_supply, "days", "d"),
            },
        }
    )


def to_fhir(row: Prescription | MedicationHistory, ctx: Context) -> dict[str, Any]:
    if isinstance(row, MedicationHistory):
        return _history_to_fhir(row, ctx)
    return _rx_to_fhir(row, ctx)


def id_of(row: Prescription | MedicationHistory) -> str:
    if isinstance(row, MedicationHistory):
        return f"{HISTORY_PREFIX}{row.pk}"
    return str(row.pk)


# --- Rows ------------------------------------------------------------------------------------


def queryset(ctx: Context) -> QuerySet[Prescription]:
    return with_handed_over(
        Prescription.objects.filter(site=ctx.site)
        .select_related("prescriber", "product", "package__product")
        .order_by("pk")
    )


def history_queryset(ctx: Context) -> QuerySet[MedicationHistory]:
    return MedicationHistory.objects.filter(site=ctx.site).order_by("pk")


def get(fhir_id: str, ctx: Context) -> Prescription | MedicationHistory | None:
    if not fhir_id.isascii():  # "²".isdigit() is true, int("²") fails
        return None
    if fhir_id.startswith(HISTORY_PREFIX):
        pk = pk_of("_id", fhir_id[len(HISTORY_PREFIX) :])
        return None if pk is None else history_queryset(ctx).filter(pk=pk).first()
    pk = pk_of("_id", fhir_id)
    return None if pk is None else queryset(ctx).filter(pk=pk).first()


def of_patient(ctx: Context, patient_id: int) -> list[Prescription | MedicationHistory]:
    return [
        *queryset(ctx).filter(patient_id=patient_id),
        *history_queryset(ctx).filter(patient_id=patient_id),
    ]


def _is_history(qs: QuerySet[Any]) -> bool:
    return qs.model is MedicationHistory


# --- Search parameters -----------------------------------------------------------------------


def _patient(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        ids = [pk_of("patient", reference_id("patient", v, "Patient")) for v in group]
        qs = qs.filter(patient_id__in=[i for i in ids if i is not None])
    return qs


def _status(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    today = ctx.site.today()
    for group in split(values):
        alt = Q(pk__in=[])
        for value in group:
            _, code = token("status", value)
            if code not in STATUSES:
                raise bad("status", f"use one of {', '.join(STATUSES)}.")
            if not _is_history(qs):
                alt |= status_q(code, today)
            elif code == "unknown":  # a status the source used that R4 does not know
                alt |= ~Q(status__in=[s for s in STATUSES if s != "unknown"])
            else:
                alt |= Q(status=code)
        qs = qs.filter(alt)
    return qs


def _intent(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    mine = HISTORY_INTENT if _is_history(qs) else OUR_INTENT
    for group in split(values):
        codes_ = [token("intent", v)[1] for v in group]
        for code in codes_:
            if code not in INTENTS:
                raise bad("intent", f"use one of {', '.join(INTENTS)}.")
        if mine not in codes_:
            return qs.none()
    return qs


def _authoredon(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    field = "authored_on" if _is_history(qs) else "date_written"
    return qs.filter(date_filter(field, "authoredon", values, ctx.site.tz, is_date=True))


def _identifier(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        alt = Q(pk__in=[])
        for value in group:
            system, code = token("identifier", value)
            if not code:
                continue
            if _is_history(qs):
                if system is None or system == "":
                    alt |= Q(source_id=code)
                else:
                    alt |= Q(source=system, source_id=code)
                continue
            if (
                system in (None, codes.RX_NUMBER)
                and code.isascii()
                and code.isdigit()
                and len(code) <= 9
            ):
                alt |= Q(number=int(code))
            if system in (None, codes.PRESCRIBER_ORDER_NUMBER):
                alt |= Q(prescriber_order_number=code) & ~Q(prescriber_order_number="")
        qs = qs.filter(alt)
    return qs


def _requester(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    if _is_history(qs):
        for group in split(values):
            for v in group:
                reference_id("requester", v, "Practitioner")
        return qs.none()
    for group in split(values):
        ids = [pk_of("requester", reference_id("requester", v, "Practitioner")) for v in group]
        qs = qs.filter(prescriber_id__in=[i for i in ids if i is not None])
    return qs


def _code(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    if not _is_history(qs):
        return qs.filter(code_q("code", values, "package__ndc11"))
    for group in split(values):
        alt = code_q("code", [",".join(group)])
        for value in group:
            system, code = token("code", value)
            if code and system in (None, codes.RXNORM):
                alt |= Q(rxnorm=code)
        qs = qs.filter(alt)
    return qs


def _create(body: dict[str, Any], ctx: Context) -> tuple[int, dict[str, Any], str]:
    from rxdesk.fhir import ingest

    return ingest.medication_request_create(body, ctx)


MEDICATION_REQUEST = register(
    ResourceType(
        name="MedicationRequest",
        cap=Cap.RX_VIEW,
        queryset=queryset,
        to_fhir=to_fhir,
        params={
            "patient": SearchParam("patient", "reference", "The patient (Patient/<id>)", _patient),
            "status": SearchParam(
                "status", "token", "active | on-hold | completed | stopped | …", _status
            ),
            "intent": SearchParam(
                "intent", "token", "filler-order (ours) | order (history)", _intent
            ),
            "authoredon": SearchParam("authoredon", "date", "Date written", _authoredon),
            "identifier": SearchParam(
                "identifier", "token", "Rx number or prescriber order number", _identifier
            ),
            "requester": SearchParam(
                "requester", "reference", "The prescriber (Practitioner/<id>)", _requester
            ),
            "code": SearchParam("code", "token", "NDC of the package written for", _code),
        },
        profile=codes.PROFILE["MedicationRequest"],
        patient_of=lambda row: row.patient_id,
        id_of=id_of,
        get=get,
        extra_querysets=(history_queryset,),
        of_patient=of_patient,
        create=_create,
        create_cap=Cap.RX_ENTER,
        documentation=(
            "Prescriptions on file at the pharmacy (intent filler-order) and medication history "
            "imported from other systems (id h-<n>, reported true)."
        ),
    )
)
