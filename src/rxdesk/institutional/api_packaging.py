"""API of institutional pharmacy: packaging (mounted at /api/v1/institutional). The site's
repackaging rule and limits, what a product looks like, the BUD calculator, unit-dose
repackaging records (create, check, reject, labels) and med paks (create, check, label).
Parse, call rxdesk.institutional services_packaging / queries_packaging, serialize.

Reading is ltc.view; making packaging.make; checking packaging.check; the rule ltc.setup —
each checked before the body is read, and again by the services. Rows of another pharmacy
do not exist here (404); an id in a body that is not this pharmacy's is a 422 naming the
field. A role without patient.view reads a med pak without its patient's name."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.catalog.models import Package, Product
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.institutional import queries_packaging as queries
from rxdesk.institutional import services_packaging as services
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.institutional.cabinet_ledger import settings_of
from rxdesk.institutional.choices import PackagingStatus, RepackRule
from rxdesk.institutional.models import MedPak, RepackRecord, Resident
from rxdesk.patients.models import Patient

router = Router(tags=["institutional: packaging"])

MAX_ID = 2**63 - 1
SlotName = Literal["morning", "noon", "evening", "bedtime"]


def _pdf_file(what: str) -> dict[str, Any]:
    return {
        "responses": {
            200: {
                "description": what,
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    }


# --- Input ------------------------------------------------------------------------------------


class PackagingSettingsIn(StrictIn):
    repack_rule: RepackRule | None = None
    repack_months: int | None = Field(None, ge=1, le=12)
    med_pak_days: int | None = Field(None, ge=1, le=60)
    discrepancy_hours: int | None = Field(None, ge=1, le=24)


class AppearanceIn(StrictIn):
    color: str = Field(..., max_length=40)
    shape: str = Field(..., max_length=40)
    imprint: str = Field("", max_length=60)


class PackagingBudIn(StrictIn):
    expiry: dt.date = Field(..., description="The source lot's manufacturer's expiry")
    repackaged_on: dt.date | None = Field(None, description="Default: today at the pharmacy")
    rule: RepackRule | None = Field(None, description="Default: the site's rule")
    months: int | None = Field(None, ge=1, le=12, description="The board's months (custom)")


class RepackIn(StrictIn):
    package_id: int | None = Field(None, ge=1, le=MAX_ID, description="Or scan")
    ndc: str = Field("", max_length=20, description="The NDC as printed (or scan)")
    scan: str = Field(
        "", max_length=200, description="The package's barcode (GS1 gives NDC, lot, expiry)"
    )
    lot_number: str | None = Field(None, max_length=40)
    quantity: Decimal = Field(..., description="Tablets or capsules repackaged")
    container: str = Field(..., max_length=120, description="Unit-dose container used")
    container_class: Literal["A", "B"]
    note: str = Field("", max_length=300)


class PackagingRejectIn(StrictIn):
    reason: str = Field(..., max_length=200)


class PakItemIn(StrictIn):
    fill_id: int = Field(..., ge=1, le=MAX_ID)
    per_slot: dict[SlotName, Decimal] = Field(..., description='e.g. {"morning": "1"}')
    description: str = Field(
        "", max_length=160, description="Colour, shape, imprint (default: on file)"
    )


class MedPakIn(StrictIn):
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    resident_id: int | None = Field(None, ge=1, le=MAX_ID)
    start_on: dt.date
    days: int = Field(..., ge=1, le=35)
    slots: list[SlotName] = Field(..., min_length=1, max_length=4)
    design: str = Field(..., max_length=200)
    container_class: Literal["A", "B"]
    consent_by: str = Field(..., max_length=120)
    items: list[PakItemIn] = Field(..., max_length=20)
    note: str = Field("", max_length=300)


class RepackQuery(Schema):
    q: str = Field("", max_length=100, description="Internal or source lot, NDC or drug")
    status: PackagingStatus | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    limit: int = Field(100, ge=1, le=queries.SEARCH_LIMIT)


class PakQuery(Schema):
    q: str = Field("", max_length=100, description="Serial (or the patient's name)")
    status: PackagingStatus | None = None
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    limit: int = Field(100, ge=1, le=queries.SEARCH_LIMIT)


# --- Output -----------------------------------------------------------------------------------


class PackagingSettingsOut(Schema):
    repack_rule: str
    repack_rule_label: str
    repack_months: int
    med_pak_days: int
    discrepancy_hours: int


class AppearanceOut(Schema):
    product_id: int
    color: str
    shape: str
    imprint: str
    description: str


class PackagingBudOut(Schema):
    bud: dt.date
    rule: str
    rule_text: str


class RepackOut(Schema):
    id: int
    number: str
    ndc: str
    drug: str
    manufacturer: str
    source_lot: str
    source_expiry: dt.date
    quantity: str
    container: str
    container_class: str
    repackaged_on: dt.date
    bud: dt.date
    bud_rule: str
    status: str
    status_label: str
    repackaged_by: str
    checked_by: str
    checked_at: dt.datetime | None
    note: str


class PakItemOut(Schema):
    rx_number: int
    fill_id: int
    ndc: str
    drug: str
    lot: str
    expiry: dt.date
    description: str
    per_slot: dict[str, str]
    total_quantity: str


class MedPakOut(Schema):
    id: int
    number: str
    patient_id: int
    patient: str = Field(..., description="Empty for a role that may not see patients")
    start_on: dt.date
    days: int
    slots: list[str]
    design: str
    container_class: str
    consent_by: str
    prepared_on: dt.date
    bud: dt.date
    bud_rule: str
    status: str
    status_label: str
    prepared_by: str
    checked_by: str
    checked_at: dt.datetime | None
    note: str
    items: list[PakItemOut]


def _settings(kept: Any) -> dict[str, Any]:
    return {
        "repack_rule": kept.repack_rule,
        "repack_rule_label": RepackRule(kept.repack_rule).label,
        "repack_months": kept.repack_months,
        "med_pak_days": kept.med_pak_days,
        "discrepancy_hours": kept.discrepancy_hours,
    }


def _drug(product: Product) -> str:
    return " ".join(p for p in (product.display_name, product.strength, product.dosage_form) if p)


def _repack(r: RepackRecord) -> dict[str, Any]:
    product = r.package.product
    return {
        "id": r.pk,
        "number": r.number,
        "ndc": r.package.ndc10,
        "drug": _drug(product),
        "manufacturer": product.labeler,
        "source_lot": r.source_lot.number,
        "source_expiry": r.source_expiry,
        "quantity": f"{r.quantity.normalize():f}",
        "container": r.container,
        "container_class": r.container_class,
        "repackaged_on": r.repackaged_on,
        "bud": r.bud,
        "bud_rule": r.bud_rule,
        "status": r.status,
        "status_label": r.get_status_display(),
        "repackaged_by": r.repackaged_by.display_name,
        "checked_by": r.checked_by.display_name if r.checked_by else "",
        "checked_at": r.checked_at,
        "note": r.note,
    }


def _pak(actor: User, p: MedPak, *, items: bool = True) -> dict[str, Any]:
    rows = queries.med_pak_items(p) if items else []
    return {
        "id": p.pk,
        "number": p.number,
        "patient_id": p.patient_id,
        "patient": p.patient.full_name if queries.shows_patients(actor) else "",
        "start_on": p.start_on,
        "days": p.days,
        "slots": list(p.slots),
        "design": p.design,
        "container_class": p.container_class,
        "consent_by": p.consent_by if queries.shows_patients(actor) else "",
        "prepared_on": p.prepared_on,
        "bud": p.bud,
        "bud_rule": p.bud_rule,
        "status": p.status,
        "status_label": p.get_status_display(),
        "prepared_by": p.prepared_by.display_name,
        "checked_by": p.checked_by.display_name if p.checked_by else "",
        "checked_at": p.checked_at,
        "note": p.note,
        "items": [
            {
                "rx_number": i.prescription.number,
                "fill_id": i.fill_id,
                "ndc": i.package.ndc10,
                "drug": _drug(i.package.product),
                "lot": i.lot.number,
                "expiry": i.expiry,
                "description": i.description,
                "per_slot": {k: str(v) for k, v in (i.per_slot or {}).items()},
                "total_quantity": f"{i.total_quantity.normalize():f}",
            }
            for i in rows
        ],
    }


def pdf_response(pdf: bytes, name: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    response["Content-Disposition"] = f'inline; filename="{safe}.pdf"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Settings, appearances, the calculator ----------------------------------------------------


@router.get(
    "/packaging-settings",
    response=PackagingSettingsOut,
    auth=gate(Cap.LTC_VIEW),
    summary="The site's repackaging rule, med pak days and discrepancy hours",
)
def packaging_settings_read(request: HttpRequest) -> Any:
    return _settings(settings_of(user_of(request).site))


@router.patch(
    "/packaging-settings",
    response=PackagingSettingsOut,
    auth=gate(Cap.LTC_SETUP),
    summary="Change the repackaging rule and packaging limits (pharmacist-in-charge)",
    description="Med pak days 1–60 (USP), the board's months 1–12, discrepancy hours 1–24.",
)
def packaging_settings_update(request: HttpRequest, payload: PackagingSettingsIn) -> Any:
    actor = user_of(request)
    fields = payload.model_dump(exclude_unset=True)
    nulls = sorted(name for name, value in fields.items() if value is None)
    if nulls:
        raise Invalid(errors=[{"field": n, "message": "Give a value."} for n in nulls])
    kept = settings_of(actor.site)
    values = {
        "repack_rule": kept.repack_rule,
        "repack_months": kept.repack_months,
        "med_pak_days": kept.med_pak_days,
        "discrepancy_hours": kept.discrepancy_hours,
    }
    values.update({k: (str(v) if k == "repack_rule" else v) for k, v in fields.items()})
    return _settings(services.packaging_settings_save(actor=actor, **values))


@router.put(
    "/appearances/{int:product_id}",
    response=AppearanceOut,
    auth=gate(Cap.PACKAGING_MAKE),
    summary="Record what a product looks like (printed on med pak labels)",
)
def appearance_put(request: HttpRequest, product_id: int, payload: AppearanceIn) -> Any:
    product = Product.objects.filter(pk=product_id).first() if product_id <= MAX_ID else None
    if product is None:
        raise NotFound("No such product in the drug catalog.")
    found = services.appearance_save(
        actor=user_of(request),
        product=product,
        color=payload.color,
        shape=payload.shape,
        imprint=payload.imprint,
    )
    return {
        "product_id": product.pk,
        "color": found.color,
        "shape": found.shape,
        "imprint": found.imprint,
        "description": str(found),
    }


@router.post(
    "/repackaging/bud",
    response=PackagingBudOut,
    auth=gate(Cap.LTC_VIEW),
    summary="The beyond-use date a repackaging would get (the site's rule by default)",
    description="422 naming `expiry` for a source already expired on the repackaging day.",
)
def repack_bud(request: HttpRequest, payload: PackagingBudIn) -> Any:
    actor = user_of(request)
    try:
        found = queries.bud_preview(
            actor=actor,
            expiry=payload.expiry,
            repackaged_on=payload.repackaged_on,
            rule=str(payload.rule) if payload.rule else None,
            months=payload.months,
        )
    except Invalid as exc:
        if exc.field == "lot":
            raise Invalid(exc.message, field="expiry") from None
        raise
    rule = str(payload.rule) if payload.rule else settings_of(actor.site).repack_rule
    return {"bud": found.date, "rule": rule, "rule_text": found.rule_text}


# --- Repackaging ------------------------------------------------------------------------------


@router.get(
    "/repackaging",
    response=list[RepackOut],
    auth=gate(Cap.LTC_VIEW),
    summary="The repackaging log, newest first",
)
def repack_list(request: HttpRequest, q: Query[RepackQuery]) -> Any:
    rows = queries.repack_search(
        actor=user_of(request),
        q=q.q,
        status=q.status,
        since=q.since,
        until=q.until,
        limit=q.limit,
    )
    return [_repack(r) for r in rows]


@router.post(
    "/repackaging",
    response={201: RepackOut},
    auth=gate(Cap.PACKAGING_MAKE),
    summary="Repackage tablets or capsules of one lot into unit doses",
    description="Takes the source lot out of stock, puts the unit doses in under the day's "
    "next internal lot with the BUD of the site's rule, quarantined until a pharmacist "
    "checks them. 422 names the field: package for a liquid or non-oral product, lot for "
    "an expired, recalled, quarantined or unknown lot, quantity for more than on hand.",
)
def repack_create(request: HttpRequest, payload: RepackIn) -> Any:
    actor = user_of(request)
    package = None
    if payload.package_id is not None:
        package = Package.objects.filter(pk=payload.package_id).first()
        if package is None:
            raise Invalid("No such package in the drug catalog.", field="package_id")
    elif payload.ndc.strip():
        package = queries.package_of(payload.ndc, field="ndc")
    record = services.repack_create(
        actor=actor,
        package=package,
        lot_number=payload.lot_number,
        scan=payload.scan,
        quantity=payload.quantity,
        container=payload.container,
        container_class=payload.container_class,
        note=payload.note,
    )
    return Status(201, _repack(queries.repack_get(actor=actor, record_id=record.pk)))


@router.get(
    "/repackaging/{int:record_id}",
    response=RepackOut,
    auth=gate(Cap.LTC_VIEW),
    summary="One repackaging record",
)
def repack_read(request: HttpRequest, record_id: int) -> Any:
    return _repack(queries.repack_get(actor=user_of(request), record_id=record_id))


@router.post(
    "/repackaging/{int:record_id}/check",
    response=RepackOut,
    auth=gate(Cap.PACKAGING_CHECK),
    summary="Check and release repackaged unit doses (not by the person who repackaged)",
)
def repack_check(request: HttpRequest, record_id: int) -> Any:
    actor = user_of(request)
    record = queries.repack_get(actor=actor, record_id=record_id)
    services.repack_check(actor=actor, record=record)
    return _repack(queries.repack_get(actor=actor, record_id=record_id))


@router.post(
    "/repackaging/{int:record_id}/reject",
    response=RepackOut,
    auth=gate(Cap.PACKAGING_CHECK),
    summary="Reject repackaged unit doses (destroyed: wasted from stock)",
)
def repack_reject(request: HttpRequest, record_id: int, payload: PackagingRejectIn) -> Any:
    actor = user_of(request)
    record = queries.repack_get(actor=actor, record_id=record_id)
    services.repack_reject(actor=actor, record=record, reason=payload.reason)
    return _repack(queries.repack_get(actor=actor, record_id=record_id))


@router.get(
    "/repackaging/{int:record_id}/labels",
    auth=gate(Cap.PACKAGING_MAKE),
    summary="The unit-dose labels as a PDF (checked records only; each print is recorded)",
    openapi_extra=_pdf_file("Letter sheets of 30 unit-dose labels, one per unit"),
)
def repack_labels(request: HttpRequest, record_id: int) -> HttpResponse:
    actor = user_of(request)
    record = queries.repack_get(actor=actor, record_id=record_id)
    pdf = services.repack_labels_print(actor=actor, record=record)
    return pdf_response(pdf, f"unit-dose-{record.number}")


# --- Med paks ---------------------------------------------------------------------------------


@router.get(
    "/med-paks",
    response=list[MedPakOut],
    auth=gate(Cap.LTC_VIEW),
    summary="Med paks (adherence packages), newest first",
)
def med_pak_list(request: HttpRequest, q: Query[PakQuery]) -> Any:
    actor = user_of(request)
    rows = queries.med_pak_search(
        actor=actor, q=q.q, status=q.status, patient_id=q.patient_id, limit=q.limit
    )
    return [_pak(actor, p, items=False) for p in rows]


@router.post(
    "/med-paks",
    response={201: MedPakOut},
    auth=gate(Cap.PACKAGING_MAKE),
    summary="Prepare a med pak from two or more of the patient's filled fills",
    description="422 names the field: items for fewer than two drugs, items[n].fill_id for "
    "another patient's or an unfilled fill, items[n] for a liquid, items[n].per_slot for a "
    "slot not on the card or more than the fill holds, items[n].description when no "
    "appearance is on file, days when the card would run past its beyond-use date.",
)
def med_pak_create(request: HttpRequest, payload: MedPakIn) -> Any:
    actor = user_of(request)
    site = actor.site
    patient = Patient.objects.filter(site=site, pk=payload.patient_id).first()
    if patient is None:
        raise Invalid("No such patient at this pharmacy.", field="patient_id")
    resident = None
    if payload.resident_id is not None:
        resident = Resident.objects.filter(site=site, pk=payload.resident_id).first()
        if resident is None:
            raise Invalid("No such resident at this pharmacy.", field="resident_id")
    pak = services.med_pak_create(
        actor=actor,
        patient=patient,
        resident=resident,
        start_on=payload.start_on,
        days=payload.days,
        slots=[str(s) for s in payload.slots],
        design=payload.design,
        container_class=payload.container_class,
        consent_by=payload.consent_by,
        items=[
            {
                "fill_id": i.fill_id,
                "per_slot": {str(k): v for k, v in i.per_slot.items()},
                "description": i.description,
            }
            for i in payload.items
        ],
        note=payload.note,
    )
    return Status(201, _pak(actor, queries.med_pak_get(actor=actor, pak_id=pak.pk)))


@router.get(
    "/med-paks/{int:pak_id}",
    response=MedPakOut,
    auth=gate(Cap.LTC_VIEW),
    summary="One med pak with its drugs",
)
def med_pak_read(request: HttpRequest, pak_id: int) -> Any:
    actor = user_of(request)
    return _pak(actor, queries.med_pak_get(actor=actor, pak_id=pak_id))


@router.post(
    "/med-paks/{int:pak_id}/check",
    response=MedPakOut,
    auth=gate(Cap.PACKAGING_CHECK),
    summary="The pharmacist's check of a med pak (not by the person who prepared it)",
)
def med_pak_check(request: HttpRequest, pak_id: int) -> Any:
    actor = user_of(request)
    pak = queries.med_pak_get(actor=actor, pak_id=pak_id)
    services.med_pak_check(actor=actor, pak=pak)
    return _pak(actor, queries.med_pak_get(actor=actor, pak_id=pak_id))


@router.get(
    "/med-paks/{int:pak_id}/label",
    auth=gate(Cap.PACKAGING_MAKE),
    summary="The med pak's label as a PDF (checked paks only; each print is recorded)",
    openapi_extra=_pdf_file("The card's label with its days × time-slot grid"),
)
def med_pak_label(request: HttpRequest, pak_id: int) -> HttpResponse:
    actor = user_of(request)
    pak = queries.med_pak_get(actor=actor, pak_id=pak_id)
    pdf = services.med_pak_label_print(actor=actor, pak=pak)
    return pdf_response(pdf, f"med-pak-{pak.number}")
