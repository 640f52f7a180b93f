"""API for prescriptions: typed intake, e-prescriptions (NCPDP SCRIPT), transfers, refill
requests, scanned hard copies and the medication profile. Parse, call a service or query,
serialize.

Every write checks the actor's capability first (before anything in the body is looked up),
so a role without prescriptions learns nothing from the answer; the service checks again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.catalog import queries as catalog_queries
from rxdesk.catalog.models import Package, Product
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import DomainError, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.patients import queries as patient_queries
from rxdesk.patients import services as patient_services
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx import queries, services
from rxdesk.rx.choices import (
    FillSource,
    FillStatus,
    HoldReason,
    Origin,
    QuantityUnit,
    RxStatus,
    TransferDirection,
)
from rxdesk.rx.models import Fill, Prescription, PrescriptionImage, Transfer
from rxdesk.rx.services.prescriptions import MAX_IMAGE_BYTES

router = Router(tags=["prescriptions"])

MAX_ID = 2**63 - 1
# A NewRx is a few kilobytes; a megabyte is far more than any SCRIPT message needs.
MAX_SCRIPT_BYTES = 1024 * 1024
XML_TYPES = ("application/xml", "text/xml")
MAX_IMAGES = 10

# The services name the objects; the API names the fields that carried them.
API_FIELD = {
    "patient": "patient_id",
    "prescriber": "prescriber_id",
    "product": "product_id",
    "package": "ndc",
    "images": "image_ids",
    "emergency": "emergency_oral",
}


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    status = 415
    title = "Unsupported content type"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status = 413
    title = "Message too large"


def _user(request: HttpRequest) -> Any:
    return request.user


def _qty(value: Decimal) -> str:
    """A quantity without trailing zeros: 30.000 -> '30', 2.500 -> '2.5'."""
    return format(value.normalize(), "f") if value else "0"


def _renamed(exc: Invalid) -> Invalid:
    """The service's Invalid with each field named as the API's body names it."""
    errors = [{**e, "field": API_FIELD.get(e["field"], e["field"])} for e in exc.errors]
    if errors == exc.errors:
        return exc
    return Invalid(errors=errors)


# --- Input ------------------------------------------------------------------------------------


class _In(Schema):
    model_config = {"extra": "forbid"}


Id = Field(ge=1, le=MAX_ID)


class _Written(_In):
    """What a prescription says, typed from the hard copy, the phone or the fax."""

    patient_id: int = Id
    prescriber_id: int = Id
    product_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="The product; or give `ndc` instead"
    )
    ndc: str | None = Field(
        None,
        max_length=200,
        description="The package written for, in any layout (11 digits, 4-4-2, 5-3-2, 5-4-1…)",
    )
    quantity: Decimal = Field(description="Decimal string or number, in `quantity_unit`")
    quantity_unit: QuantityUnit
    days_supply: int
    directions: str = Field(max_length=500, description="Sig codes ('1 T PO BID') or free text")
    date_written: dt.date
    daw: int = Field(0, description="NCPDP DAW / product selection code, 0–9")
    diagnosis_code: str = Field("", max_length=8, description="ICD-10-CM, e.g. E11.9")
    notes: str = Field("", max_length=2000)
    do_not_fill_before: dt.date | None = None
    emergency_oral: bool = Field(False, description="Emergency oral Schedule II")
    auto_refill: bool = False
    prescriber_dea: str = Field(
        "", max_length=20, description="The DEA number written on the prescription, if any"
    )
    ltc_facility: bool = Field(False, description="Patient in a long-term-care facility")
    hospice: bool = Field(False, description="Terminally ill patient")
    home_infusion: bool = False
    hold: bool = Field(False, description="Take it in on hold (no fill queued)")
    hold_reason: HoldReason | Literal[""] = ""
    image_ids: list[int] = Field(
        default_factory=list,
        max_length=MAX_IMAGES,
        description="Scanned hard copies uploaded before (POST /prescription-images)",
    )


class PrescriptionIn(_Written):
    origin: int = Field(
        ge=0,
        le=5,
        description="NCPDP origin: 0 not known, 1 written, 2 telephone, 3 electronic, "
        "4 facsimile (5, a pharmacy transfer, is POST /prescriptions/transfer-in)",
    )
    refills_authorized: int = 0


class OtherPharmacyIn(_In):
    pharmacy_name: str = Field(max_length=120)
    pharmacy_address: str = Field(max_length=300)
    pharmacy_phone: str = Field("", max_length=20)
    pharmacy_ncpdp_id: str = Field("", max_length=7)
    pharmacy_npi: str = Field("", max_length=10)
    pharmacy_dea: str = Field("", max_length=20)
    other_rx_number: str = Field("", max_length=20, description="Their Rx number")
    other_pharmacist: str = Field(max_length=120, description="Their pharmacist")

    def other(self) -> services.OtherPharmacy:
        return services.OtherPharmacy(
            name=self.pharmacy_name,
            address=self.pharmacy_address,
            pharmacist=self.other_pharmacist,
            phone=self.pharmacy_phone,
            ncpdp_id=self.pharmacy_ncpdp_id,
            npi=self.pharmacy_npi,
            dea_number=self.pharmacy_dea,
            rx_number=self.other_rx_number,
        )


class TransferOutIn(OtherPharmacyIn):
    shared_database: bool = Field(
        False, description="Both pharmacies share a real-time, online database"
    )
    notes: str = Field("", max_length=500)


class TransferInIn(_Written, OtherPharmacyIn):
    original_refills_authorized: int = Field(ge=0, le=99)
    refills_remaining: int = Field(ge=0, le=99)
    first_fill_date: dt.date | None = None
    last_fill_date: dt.date | None = None
    originally_filled_at: str = Field(
        "",
        max_length=300,
        description="Name, address, DEA and Rx number of the first pharmacy, if different",
    )
    shared_database: bool = False
    electronic_original: bool = Field(
        False, description="The original was an electronic prescription"
    )


class RefillIn(_In):
    source: Literal["phone", "web", "counter", "auto"]


class HoldIn(_In):
    reason: HoldReason
    note: str = Field("", max_length=200)


class InactivateIn(_In):
    reason: Literal["discontinued", "patient_request", "entered_in_error"]
    note: str = Field("", max_length=200)


class RefillDueQuery(Schema):
    within_days: int = Field(7, ge=0, le=60, description="Due today or within this many days")


# --- Output -----------------------------------------------------------------------------------


class PatientRef(Schema):
    id: int
    name: str
    date_of_birth: dt.date


class PrescriberRef(Schema):
    id: int
    name: str
    npi: str
    dea_number: str


class ProductRef(Schema):
    id: int
    name: str
    strength: str
    dosage_form: str
    schedule: str | None = Field(description="DEA schedule in force (CII…CV), null if none")


class OriginOut(Schema):
    code: int
    label: str


class FillOut(Schema):
    id: int
    number: int = Field(description="0 the original fill, 1… the refills")
    status: FillStatus
    source: FillSource
    quantity: str
    days_supply: int
    fillable_on: dt.date | None = Field(description="Requested too soon: the day it may be filled")
    too_soon_message: str
    requested_at: dt.datetime
    dispensed_on: dt.date | None


class RxTransferOut(Schema):
    direction: TransferDirection
    pharmacy_name: str
    pharmacy_address: str
    pharmacy_phone: str
    pharmacy_dea: str
    pharmacy_ncpdp_id: str
    pharmacy_npi: str
    other_rx_number: str
    other_pharmacist: str
    pharmacist: str = Field(description="Our pharmacist")
    transferred_at: dt.datetime
    original_refills_authorized: int
    refills_remaining: int
    first_fill_date: dt.date | None
    last_fill_date: dt.date | None
    shared_database: bool


class RxImageRef(Schema):
    id: int
    content_type: str
    size: int
    uploaded_at: dt.datetime


class RxImageOut(Schema):
    id: int
    content_type: str
    size: int
    sha256: str


RxStateName = Literal["active", "on_hold", "expired", "inactive", "transferred"]


class PrescriptionOut(Schema):
    id: int
    number: int
    status: RxStatus
    state: RxStateName = Field(description="Where it stands today, as the profile groups it")
    state_label: str
    patient: PatientRef
    prescriber: PrescriberRef
    product: ProductRef
    ndc: str | None = Field(description="The package written for (10-digit NDC), if any")
    drug_description: str
    schedule: str | None
    origin: OriginOut
    quantity: str
    quantity_unit: QuantityUnit
    days_supply: int
    directions: str = Field(description="As typed")
    directions_en: str
    directions_es: str
    directions_flags: list[dict[str, Any]]
    needs_review: bool = Field(description="Free text or unusual directions")
    days_supply_warning: str
    refills_authorized: int
    refills_remaining: int
    quantity_remaining: str
    daw: int
    date_written: dt.date
    expires_on: dt.date | None
    do_not_fill_before: dt.date | None
    emergency_oral: bool
    diagnosis_code: str
    notes: str
    auto_refill: bool
    can_fill: bool
    can_fill_reason: str = Field(description="Why it cannot be filled ('' when it can)")
    next_fill_on: dt.date | None
    fills: list[FillOut]
    transfers: list[RxTransferOut]
    images: list[RxImageRef]
    entered_by: str | None
    entered_at: dt.datetime


class ProfileItem(Schema):
    id: int
    number: int
    drug_description: str
    directions_en: str
    quantity: str
    days_supply: int
    refills_remaining: int
    date_written: dt.date
    expires_on: dt.date | None
    last_filled_on: dt.date | None
    next_fill_on: dt.date | None
    state: RxStateName
    fills: list[FillOut]


class ProfileOut(Schema):
    patient: PatientRef
    active: list[ProfileItem]
    on_hold: list[ProfileItem]
    expired: list[ProfileItem]
    inactive: list[ProfileItem]
    transferred: list[ProfileItem]


class RefillOut(FillOut):
    too_soon: bool
    message: str


class RefillDueOut(Schema):
    prescription_id: int
    number: int
    patient: PatientRef
    drug_description: str
    due_on: dt.date
    last_filled_on: dt.date | None
    refills_remaining: int
    auto_refill: bool


class ErxReceiptOut(Schema):
    id: int
    message_id: str = Field(description="The SCRIPT MessageID")
    message_type: str
    status: str
    status_note: str
    created: bool = Field(description="False: this MessageID was received before (a replay)")
    prescription_id: int | None
    candidates: dict[str, Any] = Field(description="Possible matches when not sure")
    reply_xml: str = Field(description="The SCRIPT reply to send back (Status, Error…)")


# --- Serializers ------------------------------------------------------------------------------


def _patient(p: Patient) -> dict[str, Any]:
    return {"id": p.pk, "name": p.full_name, "date_of_birth": p.date_of_birth}


def _prescriber(p: Prescriber) -> dict[str, Any]:
    return {"id": p.pk, "name": p.full_name, "npi": p.npi, "dea_number": p.dea_number}


def _product(p: Product) -> dict[str, Any]:
    return {
        "id": p.pk,
        "name": p.display_name,
        "strength": p.strength,
        "dosage_form": p.dosage_form,
        "schedule": p.dea_schedule or None,
    }


def _fill(f: Fill) -> dict[str, Any]:
    return {
        "id": f.pk,
        "number": f.number,
        "status": f.status,
        "source": f.source,
        "quantity": _qty(f.quantity),
        "days_supply": f.days_supply,
        "fillable_on": f.fillable_on,
        "too_soon_message": f.too_soon_message,
        "requested_at": f.requested_at,
        "dispensed_on": f.dispensed_on,
    }


def _transfer(t: Transfer) -> dict[str, Any]:
    return {
        "direction": t.direction,
        "pharmacy_name": t.pharmacy_name,
        "pharmacy_address": t.pharmacy_address,
        "pharmacy_phone": t.pharmacy_phone,
        "pharmacy_dea": t.pharmacy_dea,
        "pharmacy_ncpdp_id": t.pharmacy_ncpdp_id,
        "pharmacy_npi": t.pharmacy_npi,
        "other_rx_number": t.other_rx_number,
        "other_pharmacist": t.other_pharmacist,
        "pharmacist": t.pharmacist.display_name,
        "transferred_at": t.transferred_at,
        "original_refills_authorized": t.original_refills_authorized,
        "refills_remaining": t.refills_remaining,
        "first_fill_date": t.first_fill_date,
        "last_fill_date": t.last_fill_date,
        "shared_database": t.shared_database,
    }


def _prescription(rx: Prescription) -> dict[str, Any]:
    """The prescription with where it stands today (its fills, transfers, images prefetched)."""
    st = queries.rx_state(rx, rx.site.today())
    return {
        "id": rx.pk,
        "number": rx.number,
        "status": rx.status,
        "state": st.state,
        "state_label": st.label,
        "patient": _patient(rx.patient),
        "prescriber": _prescriber(rx.prescriber),
        "product": _product(rx.product),
        "ndc": rx.package.ndc10 if rx.package else None,
        "drug_description": rx.drug_description,
        "schedule": rx.schedule or None,
        "origin": {"code": rx.origin, "label": Origin(rx.origin).label},
        "quantity": _qty(rx.quantity),
        "quantity_unit": rx.quantity_unit,
        "days_supply": rx.days_supply,
        "directions": rx.directions,
        "directions_en": rx.directions_en,
        "directions_es": rx.directions_es,
        "directions_flags": rx.directions_flags,
        "needs_review": rx.needs_review,
        "days_supply_warning": rx.days_supply_warning,
        "refills_authorized": rx.refills_authorized,
        "refills_remaining": st.refills_remaining,
        "quantity_remaining": _qty(st.quantity_remaining),
        "daw": rx.daw,
        "date_written": rx.date_written,
        "expires_on": st.expires_on,
        "do_not_fill_before": rx.do_not_fill_before,
        "emergency_oral": rx.emergency_oral,
        "diagnosis_code": rx.diagnosis_code,
        "notes": rx.notes,
        "auto_refill": rx.auto_refill,
        "can_fill": st.can_fill,
        "can_fill_reason": ""
        if st.can_fill
        else (st.reason or f"Rx {rx.number} is {st.label.lower()}; it cannot be filled."),
        "next_fill_on": st.next_fill_on,
        "fills": [_fill(f) for f in st.fills],
        "transfers": [
            _transfer(t) for t in sorted(rx.transfers.all(), key=lambda t: t.transferred_at)
        ],
        "images": [
            {
                "id": i.pk,
                "content_type": i.content_type,
                "size": i.size,
                "uploaded_at": i.uploaded_at,
            }
            for i in sorted(rx.images.all(), key=lambda i: i.pk)
        ],
        "entered_by": rx.entered_by.display_name if rx.entered_by else None,
        "entered_at": rx.entered_at,
    }


def _fresh(actor: User, rx: Prescription) -> dict[str, Any]:
    return _prescription(queries.prescription_get(actor=actor, prescription_id=rx.pk))


def _profile_item(st: queries.RxState) -> dict[str, Any]:
    rx = st.rx
    return {
        "id": rx.pk,
        "number": rx.number,
        "drug_description": rx.drug_description,
        "directions_en": rx.directions_en,
        "quantity": _qty(rx.quantity),
        "days_supply": rx.days_supply,
        "refills_remaining": st.refills_remaining,
        "date_written": rx.date_written,
        "expires_on": st.expires_on,
        "last_filled_on": st.last_filled_on,
        "next_fill_on": st.next_fill_on,
        "state": st.state,
        "fills": [_fill(f) for f in st.fills],
    }


# --- Looking up what the body names -----------------------------------------------------------


def _drug(actor: User, body: _Written, errors: list[dict[str, str]]) -> Product | Package | None:
    """The package (when an NDC is given) or the product the body names."""
    if body.ndc:
        try:
            return catalog_queries.resolve_code(actor=actor, code=body.ndc).package
        except DomainError as exc:  # malformed, not in the catalog, or ambiguous
            errors.append({"field": "ndc", "message": exc.message})
            return None
    if body.product_id is not None:
        try:
            return catalog_queries.product_for(actor=actor, product_id=body.product_id)
        except NotFound:
            errors.append({"field": "product_id", "message": "No such product in the catalog."})
            return None
    message = "Name the drug: give the package NDC (ndc) or the product (product_id)."
    errors.extend({"field": f, "message": message} for f in ("ndc", "product_id"))
    return None


def _parts(actor: User, body: _Written) -> dict[str, Any]:
    """The patient, prescriber, drug and images the body names, all at the actor's site;
    Invalid naming each field that names nothing."""
    errors: list[dict[str, str]] = []
    patient = prescriber = None
    try:
        patient = patient_queries.patient_for(actor=actor, patient_id=body.patient_id)
    except NotFound:
        errors.append({"field": "patient_id", "message": "No such patient at this pharmacy."})
    try:
        prescriber = patient_queries.prescriber_for(actor=actor, prescriber_id=body.prescriber_id)
    except NotFound:
        errors.append(
            {
                "field": "prescriber_id",
                "message": "No such prescriber at this pharmacy; add the prescriber first.",
            }
        )
    drug = _drug(actor, body, errors)
    ids = list(dict.fromkeys(body.image_ids))
    images = (
        list(
            PrescriptionImage.objects.filter(site_id=actor.site_id, pk__in=ids).only(
                "pk", "site_id", "prescription_id"
            )
        )
        if all(0 < i <= MAX_ID for i in ids)
        else []
    )
    if len(images) != len(ids):
        errors.append(
            {"field": "image_ids", "message": "No such scanned image here; upload it again."}
        )
    if errors:
        raise Invalid(errors=errors)
    package = drug if isinstance(drug, Package) else None
    product = package.product if package is not None else drug
    if (
        package is not None
        and body.product_id is not None
        and package.product_id != body.product_id
    ):
        raise Invalid(
            f"NDC {package.ndc10} is not a package of the product given (product_id).",
            field="ndc",
        )
    return {
        "patient": patient,
        "prescriber": prescriber,
        "product": product,
        "package": package,
        "images": tuple(images),
    }


def _typed(body: _Written) -> dict[str, Any]:
    """The written fields the services take as they are."""
    return body.model_dump(
        include={
            "quantity",
            "quantity_unit",
            "days_supply",
            "directions",
            "date_written",
            "daw",
            "diagnosis_code",
            "notes",
            "do_not_fill_before",
            "emergency_oral",
            "auto_refill",
            "prescriber_dea",
            "ltc_facility",
            "hospice",
            "home_infusion",
        }
    )


# --- Prescriptions ----------------------------------------------------------------------------


@router.post(
    "/prescriptions",
    response={201: PrescriptionOut},
    summary="Take in a typed prescription (written, telephone, fax, electronic)",
    description=(
        "Every rule of the drug's schedule is checked (CII: no refills; CIII–IV: at most 5 "
        "refills within 6 months; …). A bad field is a 422 naming it, and nothing is created. "
        "Give the drug as a package `ndc` (any layout) or a `product_id`. Unless `hold`, the "
        "first fill is queued."
    ),
)
def prescription_create(request: HttpRequest, payload: PrescriptionIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_ENTER)
    parts = _parts(actor, payload)
    try:
        rx = services.prescription_create(
            actor=actor,
            **parts,
            **_typed(payload),
            origin=payload.origin,
            refills_authorized=payload.refills_authorized,
            hold=payload.hold,
            hold_reason=payload.hold_reason,
        )
    except Invalid as exc:
        raise _renamed(exc) from None
    return Status(201, _fresh(actor, rx))


@router.post(
    "/prescriptions/transfer-in",
    response={201: PrescriptionOut},
    summary="Take in a prescription transferred from another pharmacy (pharmacist)",
    description=(
        "Keeps the other pharmacy (name, address, NCPDP ID, DEA), both pharmacists, the "
        "original date written, the refills originally authorized and remaining, and the "
        "dates of the first and last fill. Controlled substances follow the one-time "
        "transfer rule of 21 CFR 1306.25."
    ),
)
def prescription_transfer_in(request: HttpRequest, payload: TransferInIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_TRANSFER)
    parts = _parts(actor, payload)
    images = parts.pop("images")
    intake = services.Intake(**parts, **_typed(payload), origin=Origin.PHARMACY)
    try:
        rx = services.transfer_in(
            actor=actor,
            intake=intake,
            other=payload.other(),
            original_refills_authorized=payload.original_refills_authorized,
            refills_remaining=payload.refills_remaining,
            first_fill_date=payload.first_fill_date,
            last_fill_date=payload.last_fill_date,
            originally_filled_at=payload.originally_filled_at,
            shared_database=payload.shared_database,
            electronic_original=payload.electronic_original,
            images=images,
            hold=payload.hold,
            hold_reason=payload.hold_reason,
        )
    except Invalid as exc:
        raise _renamed(exc) from None
    return Status(201, _fresh(actor, rx))


@router.get(
    "/prescriptions/{int:prescription_id}",
    response=PrescriptionOut,
    summary="A prescription with its fills, transfers, images and what is left on it",
)
def prescription_get(request: HttpRequest, prescription_id: int) -> Any:
    return _prescription(
        queries.prescription_get(actor=_user(request), prescription_id=prescription_id)
    )


@router.post(
    "/prescriptions/{int:prescription_id}/refill-requests",
    response={201: RefillOut},
    summary="A patient asks for the next fill (phone, web, counter, automatic)",
    description=(
        "A refill asked for too soon is queued as scheduled, with `fillable_on`. A "
        "prescription that cannot be filled again answers 409 with `reason` (no_refills, "
        "expired, inactive, transferred, already_queued…) and `renewable` (ask the prescriber "
        "for a renewal)."
    ),
)
def refill_request(request: HttpRequest, prescription_id: int, payload: RefillIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_ENTER)
    rx = queries.prescription_get(actor=actor, prescription_id=prescription_id)
    result = services.refill_request(actor=actor, prescription=rx, source=payload.source)
    return Status(
        201, {**_fill(result.fill), "too_soon": result.too_soon, "message": result.message}
    )


@router.post(
    "/prescriptions/{int:prescription_id}/hold",
    response=PrescriptionOut,
    summary="Put a prescription on hold (its waiting fill is cancelled)",
)
def prescription_hold(request: HttpRequest, prescription_id: int, payload: HoldIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_ENTER)
    rx = queries.prescription_get(actor=actor, prescription_id=prescription_id)
    services.prescription_hold(
        actor=actor, prescription=rx, reason=payload.reason, note=payload.note
    )
    return _fresh(actor, rx)


@router.post(
    "/prescriptions/{int:prescription_id}/activate",
    response=PrescriptionOut,
    summary="Take a prescription off hold (fill it with a refill request)",
)
def prescription_activate(request: HttpRequest, prescription_id: int) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_ENTER)
    rx = queries.prescription_get(actor=actor, prescription_id=prescription_id)
    services.prescription_activate(actor=actor, prescription=rx)
    return _fresh(actor, rx)


@router.post(
    "/prescriptions/{int:prescription_id}/inactivate",
    response=PrescriptionOut,
    summary="Stop a prescription (discontinued, patient request, entered in error)",
)
def prescription_inactivate(
    request: HttpRequest, prescription_id: int, payload: InactivateIn
) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_ENTER)
    rx = queries.prescription_get(actor=actor, prescription_id=prescription_id)
    services.prescription_inactivate(
        actor=actor, prescription=rx, reason=payload.reason, note=payload.note
    )
    return _fresh(actor, rx)


@router.post(
    "/prescriptions/{int:prescription_id}/transfer-out",
    response=PrescriptionOut,
    summary="Transfer a prescription to another pharmacy (pharmacist)",
    description=(
        "The prescription becomes inactive here ('transferred') and its waiting fills are "
        "cancelled; the transfer record keeps what the other pharmacy needs."
    ),
)
def prescription_transfer_out(
    request: HttpRequest, prescription_id: int, payload: TransferOutIn
) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_TRANSFER)
    rx = queries.prescription_get(actor=actor, prescription_id=prescription_id)
    services.transfer_out(
        actor=actor,
        prescription=rx,
        other=payload.other(),
        shared_database=payload.shared_database,
        notes=payload.notes,
    )
    return _fresh(actor, rx)


@router.get(
    "/patients/{int:patient_id}/profile",
    response=ProfileOut,
    summary="A patient's medication profile (opening it is logged as PHI access)",
    description=(
        "Every prescription of the patient with its fills, grouped as active, on hold, "
        "expired, inactive and transferred out."
    ),
)
def patient_profile(request: HttpRequest, patient_id: int) -> Any:
    actor = _user(request)
    patient = patient_queries.patient_for(actor=actor, patient_id=patient_id)
    profile = queries.patient_profile(actor=actor, patient=patient)
    patient_services.patient_record_open(actor=actor, patient=patient, purpose="medication profile")
    body: dict[str, Any] = {"patient": _patient(patient)}
    for name, _label, items in profile.groups:
        body[name] = [_profile_item(st) for st in items]
    return body


@router.get(
    "/refills/due",
    response=list[RefillDueOut],
    summary="Active prescriptions whose next refill falls due soon (refill reminders)",
)
def refills_due(request: HttpRequest, filters: Query[RefillDueQuery]) -> Any:
    due = queries.refills_due(actor=_user(request), within_days=filters.within_days)
    return [
        {
            "prescription_id": d.state.rx.pk,
            "number": d.state.rx.number,
            "patient": _patient(d.state.rx.patient),
            "drug_description": d.state.rx.drug_description,
            "due_on": d.due_on,
            "last_filled_on": d.state.last_filled_on,
            "refills_remaining": d.state.refills_remaining,
            "auto_refill": d.state.rx.auto_refill,
        }
        for d in due
    ]


# --- Scanned hard copies ----------------------------------------------------------------------

IMAGE_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/tiff")


@router.post(
    "/prescription-images",
    response={201: RxImageOut},
    summary="Upload the scan or fax of a prescription (PDF, PNG, JPEG, TIFF; at most 10 MB)",
    description=(
        "multipart/form-data with the file in the field `image`. Give the returned `id` in "
        "`image_ids` when the prescription is taken in."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"image": {"type": "string", "format": "binary"}},
                        "required": ["image"],
                    }
                }
            },
        }
    },
)
def prescription_image_upload(request: HttpRequest) -> Any:
    # The file is read here rather than as a ninja File parameter, so that the role is
    # checked before anything in the body is (a 403, never a 422, for a role without it).
    actor = _user(request)
    authorize(actor, Cap.RX_ENTER)
    upload = request.FILES.get("image")
    if upload is None:
        raise Invalid(
            "Choose the scanned file to upload (multipart form field 'image').", field="image"
        )
    if upload.size is not None and upload.size > MAX_IMAGE_BYTES:
        raise Invalid("The file is larger than 10 MB; scan at a lower resolution.", field="image")
    image = services.prescription_image_upload(
        actor=actor, content=upload.read(MAX_IMAGE_BYTES + 1), filename=upload.name or ""
    )
    return Status(
        201,
        {
            "id": image.pk,
            "content_type": image.content_type,
            "size": image.size,
            "sha256": image.sha256,
        },
    )


@router.get(
    "/prescription-images/{int:image_id}",
    summary="The scanned hard copy itself (its bytes, with its content type)",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file",
                "content": {
                    t: {"schema": {"type": "string", "format": "binary"}} for t in IMAGE_TYPES
                },
            }
        }
    },
)
def prescription_image_get(request: HttpRequest, image_id: int) -> Any:
    image = queries.prescription_image_get(actor=_user(request), image_id=image_id)
    response = HttpResponse(bytes(image.content), content_type=image.content_type)
    response["Content-Disposition"] = f'inline; filename="rx-image-{image.pk}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- E-prescriptions --------------------------------------------------------------------------


@router.post(
    "/erx/inbox",
    response={200: ErxReceiptOut, 201: ErxReceiptOut},
    tags=["e-prescribing"],
    summary="Receive an NCPDP SCRIPT 2017071 message (NewRx, CancelRx, RxRenewalResponse…)",
    description=(
        "The body is the SCRIPT XML itself, sent as `application/xml` (or `text/xml`), at "
        "most 1 MB. 201 for a new message; 200 for a replay of one already received (same "
        "MessageID, same content: nothing new is created); 409 for the same MessageID with "
        "different content; 422 naming the field for malformed or hostile XML (DTDs and "
        "entities are refused). `reply_xml` is the SCRIPT answer to send back."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in XML_TYPES},
        },
        "responses": {
            413: {"description": "The message is larger than 1 MB"},
            415: {"description": "The body is not application/xml or text/xml"},
        },
    },
)
def erx_inbox(request: HttpRequest) -> Any:
    # No body parameter: ninja parses nothing, so the role is checked before the body is read.
    actor = _user(request)
    authorize(actor, Cap.RX_ENTER)
    if request.content_type not in XML_TYPES:
        raise UnsupportedMediaType(
            "Send the NCPDP SCRIPT message as XML (Content-Type: application/xml).",
            field="Content-Type",
        )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    # Refused on the declared length before reading, and again on what was read.
    if length > MAX_SCRIPT_BYTES:
        raise PayloadTooLarge("A SCRIPT message is at most 1 MB.", field="body")
    body = request.body
    if len(body) > MAX_SCRIPT_BYTES:
        raise PayloadTooLarge("A SCRIPT message is at most 1 MB.", field="body")
    from rxdesk.rx.services.erx import erx_receive

    receipt = erx_receive(actor=actor, xml=body)
    message = receipt.message
    out = {
        "id": message.pk,
        "message_id": message.message_id,
        "message_type": message.message_type,
        "status": message.status,
        "status_note": message.status_note,
        "created": receipt.created,
        "prescription_id": message.prescription_id,
        "candidates": message.candidates or {},
        "reply_xml": receipt.reply_xml,
    }
    return Status(201 if receipt.created else 200, out)
