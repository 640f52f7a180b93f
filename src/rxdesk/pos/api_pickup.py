"""API of the point of sale (pickup): will-call, the pickup record, counseling, deliveries
and manifests, return to stock. Parse, call a service or query, serialize."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.pos import queries_willcall as wc
from rxdesk.pos.choices import (
    Counseling,
    DeliveryMethod,
    IdType,
    PickupPerson,
    SecondIdentifier,
    TenderKind,
)
from rxdesk.pos.manifest import manifest_pdf
from rxdesk.pos.models import Delivery, HouseAccount, Manifest, Pickup, Sale
from rxdesk.pos.services import delivery as deliveries
from rxdesk.pos.services import pickup as pickups
from rxdesk.pos.services import returns

router = Router(tags=["Point of sale"])

MAX_ID = 2**63 - 1
Id = Field(ge=1, le=MAX_ID)


def _user(request: HttpRequest) -> Any:
    return request.user


class _In(Schema):
    model_config = {"extra": "forbid"}


# --- Input ------------------------------------------------------------------------------------


class WillCallQuery(Schema):
    q: str = Field(
        min_length=1,
        max_length=100,
        description='A bag label ("1042-0"), a date of birth (YYYY-MM-DD, MM/DD/YYYY, '
        'MMDDYYYY), a bin ("bin D") or a name ("doe", "doe, ja")',
    )


class PickupStartIn(_In):
    patient_id: int = Id
    fill_ids: list[int] = Field(min_length=1, max_length=50)
    prices: dict[str, Decimal] | None = Field(
        None, description="Price typed per fill id, when none is on file"
    )


class PickupIn(_In):
    person: PickupPerson
    person_name: str = Field("", max_length=120)
    relationship: str = Field("", max_length=40)
    date_of_birth: dt.date
    second_identifier: SecondIdentifier
    counseling: Counseling
    signature: str = Field(
        max_length=400_000, description="PNG as base64 or a data:image/png;base64 URL"
    )
    privacy_notice_acknowledged: bool = False
    id_type: IdType | None = None
    id_number: str = Field("", max_length=30)
    id_state: str = Field("", max_length=2)
    id_expiry: dt.date | None = None


class CounselingIn(_In):
    note: str = Field(min_length=1, max_length=2000)


class DeliveryAddressIn(_In):
    address_line1: str = Field("", max_length=120)
    address_line2: str = Field("", max_length=120)
    city: str = Field("", max_length=80)
    state: str = Field("", max_length=2)
    postal_code: str = Field("", max_length=10)
    phone: str = Field("", max_length=20)


class DeliveryIn(_In):
    patient_id: int = Id
    fill_ids: list[int] = Field(min_length=1, max_length=50)
    method: DeliveryMethod = DeliveryMethod.COURIER
    instructions: str = Field("", max_length=200)
    address: DeliveryAddressIn | None = Field(None, description="Default: the patient's address")


class ManifestIn(_In):
    delivery_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=200)
    method: DeliveryMethod = DeliveryMethod.COURIER
    driver_id: int | None = Field(None, ge=1, le=MAX_ID)
    driver_name: str = Field("", max_length=120)


class PickupTenderSchema(_In):
    kind: TenderKind
    amount: Decimal = Field(max_digits=9, decimal_places=2)
    tendered: Decimal | None = Field(None, max_digits=9, decimal_places=2)
    reference: str = Field("", max_length=40)
    account_id: int | None = Field(None, ge=1, le=MAX_ID)


class DeliveryCompleteIn(_In):
    person: PickupPerson
    person_name: str = Field("", max_length=120)
    relationship: str = Field("", max_length=40)
    date_of_birth: dt.date | None = None
    counseling: Counseling = Counseling.DECLINED
    signature: str = Field(max_length=400_000)
    tenders: list[PickupTenderSchema] = Field(default_factory=list, max_length=10)
    id_type: IdType | None = None
    id_number: str = Field("", max_length=30)
    id_state: str = Field("", max_length=2)
    id_expiry: dt.date | None = None


class DeliveryFailIn(_In):
    reason: str = Field(min_length=1, max_length=200)


class DeliveryShipIn(_In):
    tracking_number: str = Field(min_length=1, max_length=40)
    carrier: str = Field("Mail carrier", max_length=120)
    tenders: list[PickupTenderSchema] = Field(default_factory=list, max_length=10)


class ReturnScanIn(_In):
    codes: list[str] = Field(min_length=1, max_length=200)
    reason: str = Field("Not picked up", max_length=300)


# --- Output -----------------------------------------------------------------------------------


class PickupPatientRef(Schema):
    id: int
    name: str


class ReadyOut(Schema):
    fill_id: int
    code: str = Field(description="Bag label: Rx number-fill number")
    drug: str
    quantity: str
    bin: str
    ready_at: dt.datetime | None
    refrigerated: bool
    schedule: str = Field(description="'2'…'5' for a controlled drug, '' otherwise")
    price: Decimal | None
    past_return_window: bool
    on_delivery: bool


class MemberOut(Schema):
    patient: PickupPatientRef
    ready: list[ReadyOut]


class InProgressOut(Schema):
    fill_id: int
    code: str
    drug: str
    step: str


class PickupRefillDueOut(Schema):
    prescription_id: int
    rx_number: int
    drug: str
    due_on: dt.date


class PickupWillCallOut(Schema):
    patient: PickupPatientRef
    ready: list[ReadyOut]
    household: list[MemberOut]
    in_progress: list[InProgressOut] = Field(
        description="Fills still being worked on. Filled by GET /will-call/patients/{id} "
        "only: always empty in the results of GET /will-call."
    )
    refills_due: list[PickupRefillDueOut] = Field(
        description="Refills falling due within 7 days. Filled by GET "
        "/will-call/patients/{id} only: always empty in the results of GET /will-call."
    )
    privacy_notice_on_file: bool
    id_required: bool


class SaleLineOut(Schema):
    id: int
    kind: str
    fill_id: int | None
    description: str
    quantity: str
    amount: Decimal


class PickupSaleOut(Schema):
    id: int
    receipt: str
    status: str
    patient_id: int | None
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    lines: list[SaleLineOut]


class PickupOut(Schema):
    id: int
    sale_id: int | None
    delivery_id: int | None
    person: str
    person_name: str
    relationship: str
    dob_confirmed: bool
    second_identifier: str
    counseling: str
    counseled_by: str | None
    counseled_at: dt.datetime | None
    id_type: str
    id_state: str
    signature_sha256: str
    recorded_at: dt.datetime
    sale_status: str | None


class CounselingWaitOut(Schema):
    sale: PickupSaleOut
    patient: PickupPatientRef | None
    person_name: str
    waiting_since: dt.datetime | None


class DeliveryOut(Schema):
    id: int
    patient: PickupPatientRef
    status: str
    method: str
    manifest_id: int | None
    fill_ids: list[int]
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    phone: str
    instructions: str
    tracking_number: str
    sale_id: int | None
    delivered_at: dt.datetime | None
    failed_reason: str


class ManifestOut(Schema):
    id: int
    method: str
    driver_name: str
    departed_at: dt.datetime | None
    delivery_ids: list[int]


class ReturnResultOut(Schema):
    code: str
    ok: bool
    message: str
    fill_id: int | None


class PickupDueOut(Schema):
    fill_id: int
    code: str
    patient: PickupPatientRef
    drug: str
    quantity: str
    bin: str
    ready_at: dt.datetime | None
    days_waiting: int


# --- Serializers ------------------------------------------------------------------------------


def _qty(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _patient(p: Any) -> dict[str, Any]:
    return {"id": p.pk, "name": p.full_name}


def _ready(r: wc.ReadyFill) -> dict[str, Any]:
    return {
        "fill_id": r.fill.pk,
        "code": r.code,
        "drug": r.drug,
        "quantity": _qty(r.quantity),
        "bin": r.bin,
        "ready_at": r.ready_at,
        "refrigerated": r.refrigerated,
        "schedule": r.schedule,
        "price": r.price,
        "past_return_window": r.past_return_window,
        "on_delivery": r.on_delivery,
    }


def _will_call(w: wc.WillCall) -> dict[str, Any]:
    return {
        "patient": _patient(w.patient),
        "ready": [_ready(r) for r in w.ready],
        "household": [
            {"patient": _patient(m.patient), "ready": [_ready(r) for r in m.ready]}
            for m in w.household
        ],
        "in_progress": [
            {
                "fill_id": i.fill.pk,
                "code": f"{i.rx.number}-{i.fill.number}",
                "drug": i.drug,
                "step": i.step,
            }
            for i in w.in_progress
        ],
        "refills_due": [
            {
                "prescription_id": d.rx.pk,
                "rx_number": d.rx.number,
                "drug": d.drug,
                "due_on": d.due_on,
            }
            for d in w.refills_due
        ],
        "privacy_notice_on_file": w.privacy_notice_on_file,
        "id_required": w.id_required,
    }


def _sale(sale: Sale) -> dict[str, Any]:
    return {
        "id": sale.pk,
        "receipt": sale.receipt_number,
        "status": sale.status,
        "patient_id": sale.patient_id,
        "subtotal": sale.subtotal,
        "tax": sale.tax,
        "total": sale.total,
        "lines": [
            {
                "id": ln.pk,
                "kind": ln.kind,
                "fill_id": ln.fill_id,
                "description": ln.description,
                "quantity": _qty(ln.quantity),
                "amount": ln.amount,
            }
            for ln in sale.lines.order_by("pk")
        ],
    }


def _pickup(p: Pickup) -> dict[str, Any]:
    sale_status = (
        Sale.objects.filter(pk=p.sale_id).values_list("status", flat=True).first()
        if p.sale_id
        else None
    )
    return {
        "id": p.pk,
        "sale_id": p.sale_id,
        "delivery_id": p.delivery_id,
        "person": p.person,
        "person_name": p.person_name,
        "relationship": p.relationship,
        "dob_confirmed": p.dob_confirmed,
        "second_identifier": p.second_identifier,
        "counseling": p.counseling,
        "counseled_by": p.counseled_by.display_name if p.counseled_by else None,
        "counseled_at": p.counseled_at,
        "id_type": p.id_type,
        "id_state": p.id_state,
        "signature_sha256": p.signature_sha256,
        "recorded_at": p.recorded_at,
        "sale_status": sale_status,
    }


def _delivery(d: Delivery) -> dict[str, Any]:
    d = Delivery.objects.select_related("patient").get(pk=d.pk)
    return {
        "id": d.pk,
        "patient": _patient(d.patient),
        "status": d.status,
        "method": d.method,
        "manifest_id": d.manifest_id,
        "fill_ids": sorted(d.fills.values_list("pk", flat=True)),
        "address_line1": d.address_line1,
        "address_line2": d.address_line2,
        "city": d.city,
        "state": d.state,
        "postal_code": d.postal_code,
        "phone": d.phone,
        "instructions": d.instructions,
        "tracking_number": d.tracking_number,
        "sale_id": d.sale_id,
        "delivered_at": d.delivered_at,
        "failed_reason": d.failed_reason,
    }


def _manifest(m: Manifest) -> dict[str, Any]:
    return {
        "id": m.pk,
        "method": m.method,
        "driver_name": m.driver_name,
        "departed_at": m.departed_at,
        "delivery_ids": sorted(m.deliveries.values_list("pk", flat=True)),
    }


# --- Lookups (capability first, then this pharmacy's rows only) ---------------------------------


def _sale_of(actor: User, sale_id: int, cap: Cap) -> Sale:
    authorize(actor, cap)
    found = Sale.objects.filter(pk=sale_id, site_id=actor.site_id).first()
    if found is None:
        raise NotFound("No such sale at this pharmacy.")
    return found


def _delivery_of(actor: User, delivery_id: int, cap: Cap = Cap.POS_DELIVER) -> Delivery:
    authorize(actor, cap)
    found = Delivery.objects.filter(pk=delivery_id, site_id=actor.site_id).first()
    if found is None:
        raise NotFound("No such delivery at this pharmacy.")
    return found


def _manifest_of(actor: User, manifest_id: int) -> Manifest:
    authorize(actor, Cap.POS_DELIVER)
    found = Manifest.objects.filter(pk=manifest_id, site_id=actor.site_id).first()
    if found is None:
        raise NotFound("No such manifest at this pharmacy.")
    return found


def _patient_of(actor: User, patient_id: int, cap: Cap) -> Any:
    authorize(actor, cap)
    try:
        return wc.patient_get(actor=actor, patient_id=patient_id)
    except NotFound as exc:
        raise Invalid(exc.message, field="patient_id") from None


def _tenders(actor: User, tenders: list[PickupTenderSchema]) -> list[Any]:
    from rxdesk.pos.services.sales import TenderIn

    out = []
    for i, t in enumerate(tenders):
        account = None
        if t.account_id is not None:
            account = HouseAccount.objects.filter(pk=t.account_id, site_id=actor.site_id).first()
            if account is None:
                raise Invalid("No such house account.", field=f"tenders.{i}.account_id")
        out.append(
            TenderIn(
                kind=t.kind,
                amount=t.amount,
                tendered=t.tendered,
                reference=t.reference,
                account=account,
            )
        )
    return out


# --- Will-call --------------------------------------------------------------------------------


@router.get(
    "/will-call",
    response=list[PickupWillCallOut],
    summary="Find what waits in will-call by bag label, date of birth, bin or name (logged)",
    description="Each result has the patient's and the household's ready bags; "
    "`in_progress` and `refills_due` are left empty (open the patient's will-call for them).",
)
def will_call_search(request: HttpRequest, filters: Query[WillCallQuery]) -> Any:
    return [_will_call(w) for w in wc.will_call_search(actor=_user(request), q=filters.q)]


@router.get(
    "/will-call/patients/{int:patient_id}",
    response=PickupWillCallOut,
    summary="A patient's will-call with the household's bags (logged)",
)
def will_call_patient(request: HttpRequest, patient_id: int) -> Any:
    actor = _user(request)
    patient = wc.patient_get(actor=actor, patient_id=patient_id)
    return _will_call(wc.will_call_for(actor=actor, patient=patient))


# --- Pickup -----------------------------------------------------------------------------------


@router.post(
    "/pickups",
    response={201: PickupSaleOut},
    summary="Put ready bags on a new sale (the patient's or the household's)",
    description="409 naming `fills` for a bag that is not ready, on another sale or "
    "delivery, someone else's, or past the plan's return window; 409 naming `price` when "
    "a bag has no price on file and none was typed.",
)
def pickup_start(request: HttpRequest, payload: PickupStartIn) -> Any:
    actor = _user(request)
    patient = _patient_of(actor, payload.patient_id, Cap.RX_SELL)
    fills = wc.fills_get(actor=actor, fill_ids=payload.fill_ids)
    prices: dict[int, Decimal] = {}
    for key, value in (payload.prices or {}).items():
        if not key.isdigit():
            raise Invalid("Prices are keyed by fill id.", field="prices")
        prices[int(key)] = value
    sale = pickups.pickup_start(actor=actor, patient=patient, fills=fills, prices=prices)
    return Status(201, _sale(sale))


@router.post(
    "/sales/{int:sale_id}/pickup",
    response={201: PickupOut},
    summary="Record who picked up, identity, counseling offer and signature",
)
def pickup_record(request: HttpRequest, sale_id: int, payload: PickupIn) -> Any:
    actor = _user(request)
    sale = _sale_of(actor, sale_id, Cap.RX_SELL)
    data = payload.model_dump()
    data["id_type"] = data["id_type"] or ""
    pickup = pickups.pickup_record(actor=actor, sale=sale, **data)
    return Status(201, _pickup(pickup))


@router.post(
    "/sales/{int:sale_id}/counseling",
    response=PickupOut,
    summary="The pharmacist records the counseling given (the sale can then be paid)",
)
def counseling_record(request: HttpRequest, sale_id: int, payload: CounselingIn) -> Any:
    actor = _user(request)
    sale = _sale_of(actor, sale_id, Cap.POS_COUNSEL)
    return _pickup(pickups.counseling_record(actor=actor, sale=sale, note=payload.note))


@router.get(
    "/counseling",
    response=list[CounselingWaitOut],
    summary="Patients waiting for the pharmacist to counsel",
)
def counseling_waiting(request: HttpRequest) -> Any:
    out = []
    for sale in pickups.counseling_waiting(actor=_user(request)):
        pickup = getattr(sale, "pickup", None)
        out.append(
            {
                "sale": _sale(sale),
                "patient": _patient(sale.patient) if sale.patient else None,
                "person_name": pickup.person_name if pickup else "",
                "waiting_since": pickup.recorded_at if pickup else None,
            }
        )
    return out


# --- Deliveries -------------------------------------------------------------------------------


@router.post("/deliveries", response={201: DeliveryOut}, summary="Put ready bags on a delivery")
def delivery_create(request: HttpRequest, payload: DeliveryIn) -> Any:
    actor = _user(request)
    patient = _patient_of(actor, payload.patient_id, Cap.POS_DELIVER)
    fills = wc.fills_get(actor=actor, fill_ids=payload.fill_ids)
    delivery = deliveries.delivery_create(
        actor=actor,
        patient=patient,
        fills=fills,
        method=payload.method,
        instructions=payload.instructions,
        address=payload.address.model_dump() if payload.address else None,
    )
    return Status(201, _delivery(delivery))


@router.post("/manifests", response={201: ManifestOut}, summary="Group deliveries into a run")
def manifest_create(request: HttpRequest, payload: ManifestIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.POS_DELIVER)
    found = list(Delivery.objects.filter(site_id=actor.site_id, pk__in=payload.delivery_ids))
    if len(found) != len(set(payload.delivery_ids)):
        raise Invalid("No such delivery at this pharmacy.", field="delivery_ids")
    driver = None
    if payload.driver_id is not None:
        driver = User.objects.filter(pk=payload.driver_id, site_id=actor.site_id).first()
        if driver is None:
            raise Invalid("No such driver at this pharmacy.", field="driver_id")
    manifest = deliveries.manifest_create(
        actor=actor,
        deliveries=found,
        method=payload.method,
        driver=driver,
        driver_name=payload.driver_name,
    )
    return Status(201, _manifest(manifest))


@router.post(
    "/manifests/{int:manifest_id}/depart",
    response=ManifestOut,
    summary="The driver leaves: every delivery on the run is out",
)
def manifest_depart(request: HttpRequest, manifest_id: int) -> Any:
    actor = _user(request)
    manifest = _manifest_of(actor, manifest_id)
    return _manifest(deliveries.manifest_depart(actor=actor, manifest=manifest))


@router.get(
    "/manifests/{int:manifest_id}/pdf",
    summary="The driver's manifest (PDF)",
    openapi_extra={
        "responses": {
            200: {
                "description": "The manifest",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def manifest_print(request: HttpRequest, manifest_id: int) -> HttpResponse:
    manifest = _manifest_of(_user(request), manifest_id)
    response = HttpResponse(manifest_pdf(manifest), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="manifest-{manifest.pk}.pdf"'
    return response


@router.post(
    "/deliveries/{int:delivery_id}/complete",
    response=DeliveryOut,
    summary="Proof of delivery: who took it, signature, time; the sale is paid",
)
def delivery_complete(request: HttpRequest, delivery_id: int, payload: DeliveryCompleteIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_SELL)
    delivery = _delivery_of(actor, delivery_id)
    done = deliveries.delivery_complete(
        actor=actor,
        delivery=delivery,
        person=payload.person,
        person_name=payload.person_name,
        signature=payload.signature,
        relationship=payload.relationship,
        date_of_birth=payload.date_of_birth,
        counseling=payload.counseling,
        tenders=_tenders(actor, payload.tenders),
        id_type=payload.id_type or "",
        id_number=payload.id_number,
        id_state=payload.id_state,
        id_expiry=payload.id_expiry,
    )
    return _delivery(done)


@router.post(
    "/deliveries/{int:delivery_id}/fail",
    response=DeliveryOut,
    summary="Not delivered: the bags come back to will-call",
)
def delivery_fail(request: HttpRequest, delivery_id: int, payload: DeliveryFailIn) -> Any:
    actor = _user(request)
    delivery = _delivery_of(actor, delivery_id)
    return _delivery(
        deliveries.delivery_fail(actor=actor, delivery=delivery, reason=payload.reason)
    )


@router.post(
    "/deliveries/{int:delivery_id}/ship",
    response=DeliveryOut,
    summary="Mail: handed to the carrier with its tracking number",
)
def delivery_ship(request: HttpRequest, delivery_id: int, payload: DeliveryShipIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_SELL)
    delivery = _delivery_of(actor, delivery_id)
    done = deliveries.delivery_ship(
        actor=actor,
        delivery=delivery,
        tracking_number=payload.tracking_number,
        carrier=payload.carrier,
        tenders=_tenders(actor, payload.tenders),
    )
    return _delivery(done)


# --- Return to stock --------------------------------------------------------------------------


@router.get(
    "/return-to-stock",
    response=list[PickupDueOut],
    summary="Bags waiting in will-call past the site's days, with the days waiting",
)
def return_to_stock_list(request: HttpRequest) -> Any:
    return [
        {
            "fill_id": d.fill.pk,
            "code": d.code,
            "patient": _patient(d.fill.prescription.patient),
            "drug": d.fill.prescription.drug_description,
            "quantity": _qty(d.fill.quantity),
            "bin": d.fill.bin,
            "ready_at": d.fill.ready_at,
            "days_waiting": d.days_waiting,
        }
        for d in returns.return_to_stock_list(actor=_user(request))
    ]


@router.post(
    "/return-to-stock",
    response=list[ReturnResultOut],
    summary="Return scanned bags to stock, each on its own, with a line for each",
)
def return_to_stock_scan(request: HttpRequest, payload: ReturnScanIn) -> Any:
    results = returns.return_to_stock_scan(
        actor=_user(request), codes=payload.codes, reason=payload.reason
    )
    return [
        {"code": r.code, "ok": r.ok, "message": r.message, "fill_id": r.fill.pk if r.fill else None}
        for r in results
    ]
