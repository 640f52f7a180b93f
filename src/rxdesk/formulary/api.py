"""Formulary and interchange: the API (``/formulary``). Parse, call rxdesk.formulary
services / queries, serialize.

Reading the formulary and the protocols needs formulary.view; an Rx's offer and
suggestions formulary.view and rx.view (they name the drug, not the patient). Changing the
formulary and the protocols, and approving protocols, formulary.edit (the PIC); deciding
an interchange, interchange.apply (a pharmacist)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.catalog.models import Product
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.formulary import queries, services
from rxdesk.formulary.choices import FormularyStatus, NotifyMethod, ProtocolStatus
from rxdesk.formulary.models import FormularyEntry, InterchangeDecision, InterchangeProtocol
from rxdesk.institutional.api_common import StrictIn, gate, user_of

router = Router(tags=["Formulary and interchange"])

MAX_ID = 2**63 - 1
VIEW = (Cap.FORMULARY_VIEW,)
RX_READ = (Cap.FORMULARY_VIEW, Cap.RX_VIEW)


# --- Input ------------------------------------------------------------------------------------


class FormularyEntryIn(StrictIn):
    product_id: int = Field(..., ge=1, le=MAX_ID)
    status: FormularyStatus
    tier: int | None = Field(None, ge=1, le=9)
    criteria: str = Field("", max_length=services.CRITERIA_MAX)
    notes: str = Field("", max_length=services.NOTES_MAX)
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None


class FormularyEntryChangeIn(StrictIn):
    status: FormularyStatus
    tier: int | None = Field(None, ge=1, le=9)
    criteria: str = Field("", max_length=services.CRITERIA_MAX)
    notes: str = Field("", max_length=services.NOTES_MAX)
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None


class FormularyImportIn(StrictIn):
    csv: str = Field(
        ...,
        min_length=1,
        max_length=2_000_000,
        description="ndc|product_id,status[,tier,criteria,notes]",
    )


class FormularyListQuery(Schema):
    status: FormularyStatus | None = None
    q: str = Field("", max_length=60)


class FormularyConversionIn(StrictIn):
    from_: str = Field(..., alias="from", min_length=1, max_length=60)
    to: str = Field(..., min_length=1, max_length=60)


class FormularyProtocolIn(StrictIn):
    name: str = Field(..., min_length=1, max_length=services.NAME_MAX)
    from_ingredient: str = Field(..., min_length=1, max_length=200)
    from_strength: str = Field("", max_length=60)
    to_product_id: int = Field(..., ge=1, le=MAX_ID)
    ratio: Decimal | None = Field(None, gt=0, lt=100000, decimal_places=4)
    conversions: list[FormularyConversionIn] = Field(default_factory=list, max_length=20)
    sig_note: str = Field("", max_length=300)
    notes: str = Field("", max_length=4000)


class FormularyProtocolChangeIn(StrictIn):
    name: str | None = Field(None, min_length=1, max_length=services.NAME_MAX)
    from_ingredient: str | None = Field(None, min_length=1, max_length=200)
    from_strength: str | None = Field(None, max_length=60)
    to_product_id: int | None = Field(None, ge=1, le=MAX_ID)
    ratio: Decimal | None = Field(None, gt=0, lt=100000, decimal_places=4)
    conversions: list[FormularyConversionIn] | None = Field(None, max_length=20)
    sig_note: str | None = Field(None, max_length=300)
    notes: str | None = Field(None, max_length=4000)


class FormularyRetireIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=300)


class FormularyDecideIn(StrictIn):
    protocol_id: int = Field(..., ge=1, le=MAX_ID)
    accept: bool
    note: str = Field("", max_length=services.NOTE_MAX)
    prescriber_notified: NotifyMethod = NotifyMethod.NOT_YET
    notified_at: dt.datetime | None = Field(None, description="With its offset; default now")
    directions: str = Field("", max_length=500, description="Default: the old directions")


# --- Output -----------------------------------------------------------------------------------


class FormularyProductOut(Schema):
    id: int
    name: str
    generic_name: str
    strength: str
    dosage_form: str
    labeler: str
    product_ndc: str


class FormularyEntryOut(Schema):
    id: int
    product: FormularyProductOut
    status: str
    status_label: str
    tier: int | None
    criteria: str
    notes: str
    effective_from: dt.date | None
    effective_to: dt.date | None
    updated_by: str
    updated_at: dt.datetime


class FormularyImportOut(Schema):
    created: int
    updated: int
    unchanged: int


class FormularyProtocolOut(Schema):
    id: int
    name: str
    from_ingredient: str
    from_strength: str
    to_product: FormularyProductOut
    ratio: str | None
    conversions: list[dict[str, str]]
    sig_note: str
    notes: str
    status: str
    status_label: str
    status_reason: str
    approved_by: str
    approved_at: dt.datetime | None


class FormularyOfferLineOut(Schema):
    product: FormularyProductOut
    te_code: str
    formulary_status: str
    formulary_label: str
    on_hand: str
    unit_cost: str | None


class FormularyOfferOut(Schema):
    prescription_id: int
    rx_number: int
    product: FormularyProductOut
    te_code: str
    formulary_status: str
    daw: int
    daw_label: str
    may_offer: bool
    reason: str
    equivalents: list[FormularyOfferLineOut]


class FormularyDecisionOut(Schema):
    id: int
    prescription_id: int
    protocol_id: int
    suggested_product_id: int
    accepted: bool
    new_prescription_id: int | None
    new_rx_number: int | None
    note: str
    conversion: str
    prescriber_notified: str
    notified_at: dt.datetime | None
    decided_by: str
    decided_at: dt.datetime


class FormularySuggestionOut(Schema):
    protocol_id: int
    protocol_name: str
    to_product: FormularyProductOut
    to_status: str
    from_strength: str
    to_strength: str
    conversion: str
    sig_note: str
    decision: FormularyDecisionOut | None


def _product(p: Product) -> dict[str, Any]:
    return {
        "id": p.pk,
        "name": p.display_name,
        "generic_name": p.generic_name,
        "strength": p.strength,
        "dosage_form": p.dosage_form,
        "labeler": p.labeler,
        "product_ndc": p.product_ndc,
    }


def _entry(e: FormularyEntry) -> dict[str, Any]:
    return {
        "id": e.pk,
        "product": _product(e.product),
        "status": e.status,
        "status_label": e.get_status_display(),
        "tier": e.tier,
        "criteria": e.criteria,
        "notes": e.notes,
        "effective_from": e.effective_from,
        "effective_to": e.effective_to,
        "updated_by": e.updated_by.username if e.updated_by else "",
        "updated_at": e.updated_at,
    }


def _protocol(p: InterchangeProtocol) -> dict[str, Any]:
    return {
        "id": p.pk,
        "name": p.name,
        "from_ingredient": p.from_ingredient,
        "from_strength": p.from_strength,
        "to_product": _product(p.to_product),
        "ratio": str(p.ratio) if p.ratio is not None else None,
        "conversions": list(p.conversions or []),
        "sig_note": p.sig_note,
        "notes": p.notes,
        "status": p.status,
        "status_label": p.get_status_display(),
        "status_reason": p.status_reason,
        "approved_by": p.approved_by.username if p.approved_by else "",
        "approved_at": p.approved_at,
    }


def _decision(d: InterchangeDecision) -> dict[str, Any]:
    return {
        "id": d.pk,
        "prescription_id": d.prescription_id,
        "protocol_id": d.protocol_id,
        "suggested_product_id": d.suggested_product_id,
        "accepted": d.accepted,
        "new_prescription_id": d.new_prescription_id,
        "new_rx_number": d.new_prescription.number if d.new_prescription else None,
        "note": d.note,
        "conversion": d.conversion,
        "prescriber_notified": d.prescriber_notified,
        "notified_at": d.notified_at,
        "decided_by": d.decided_by.username,
        "decided_at": d.decided_at,
    }


def _catalog_product(product_id: int) -> Product:
    found = Product.objects.filter(pk=product_id).first()
    if found is None:
        raise NotFound("No such product in the catalog.", field="product_id")
    return found


# --- Entries ----------------------------------------------------------------------------------


@router.get(
    "/entries",
    response=list[FormularyEntryOut],
    auth=gate(*VIEW),
    summary="The site's formulary (filter by status, or a word of the name or NDC)",
)
def formulary_entries(request: HttpRequest, q: Query[FormularyListQuery]) -> Any:
    rows = queries.entries(actor=user_of(request), status=q.status or "", q=q.q)
    return [_entry(e) for e in rows]


@router.post(
    "/entries",
    response={201: FormularyEntryOut},
    auth=gate(Cap.FORMULARY_EDIT),
    summary="Put a product on the formulary (or change its entry)",
)
def formulary_entry_add(request: HttpRequest, payload: FormularyEntryIn) -> Any:
    data = payload.model_dump()
    product = _catalog_product(data.pop("product_id"))
    entry = services.formulary_entry_set(actor=user_of(request), product=product, **data)
    return Status(201, _entry(queries.entry_get(actor=user_of(request), entry_id=entry.pk)))


@router.post(
    "/entries/import",
    response=FormularyImportOut,
    auth=gate(Cap.FORMULARY_EDIT),
    summary="Set entries from CSV text (all or nothing)",
)
def formulary_entries_import(request: HttpRequest, payload: FormularyImportIn) -> Any:
    result = services.formulary_import(actor=user_of(request), text=payload.csv)
    return {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}


@router.get(
    "/entries/{int:entry_id}",
    response=FormularyEntryOut,
    auth=gate(*VIEW),
    summary="One formulary entry",
)
def formulary_entry(request: HttpRequest, entry_id: int) -> Any:
    return _entry(queries.entry_get(actor=user_of(request), entry_id=entry_id))


@router.put(
    "/entries/{int:entry_id}",
    response=FormularyEntryOut,
    auth=gate(Cap.FORMULARY_EDIT),
    summary="Change a formulary entry",
)
def formulary_entry_change(
    request: HttpRequest, entry_id: int, payload: FormularyEntryChangeIn
) -> Any:
    actor = user_of(request)
    entry = queries.entry_get(actor=actor, entry_id=entry_id)
    services.formulary_entry_set(actor=actor, product=entry.product, **payload.model_dump())
    return _entry(queries.entry_get(actor=actor, entry_id=entry_id))


@router.delete(
    "/entries/{int:entry_id}",
    response={204: None},
    auth=gate(Cap.FORMULARY_EDIT),
    summary="Take a product off the formulary",
)
def formulary_entry_delete(request: HttpRequest, entry_id: int) -> Any:
    actor = user_of(request)
    services.formulary_entry_remove(
        actor=actor, entry=queries.entry_get(actor=actor, entry_id=entry_id)
    )
    return Status(204, None)


# --- Protocols --------------------------------------------------------------------------------


@router.get(
    "/protocols",
    response=list[FormularyProtocolOut],
    auth=gate(*VIEW),
    summary="The site's interchange protocols",
)
def formulary_protocols(request: HttpRequest, status: ProtocolStatus | None = None) -> Any:
    return [_protocol(p) for p in queries.protocols(actor=user_of(request), status=status or "")]


def _conversions(rows: list[FormularyConversionIn] | None) -> list[dict[str, str]] | None:
    if rows is None:
        return None
    return [{"from": r.from_, "to": r.to} for r in rows]


@router.post(
    "/protocols",
    response={201: FormularyProtocolOut},
    auth=gate(Cap.FORMULARY_EDIT),
    summary="Draft an interchange protocol",
)
def formulary_protocol_add(request: HttpRequest, payload: FormularyProtocolIn) -> Any:
    actor = user_of(request)
    row = services.protocol_create(
        actor=actor,
        name=payload.name,
        from_ingredient=payload.from_ingredient,
        from_strength=payload.from_strength,
        to_product=_catalog_product(payload.to_product_id),
        ratio=payload.ratio,
        conversions=_conversions(payload.conversions),
        sig_note=payload.sig_note,
        notes=payload.notes,
    )
    return Status(201, _protocol(queries.protocol_get(actor=actor, protocol_id=row.pk)))


@router.get(
    "/protocols/{int:protocol_id}",
    response=FormularyProtocolOut,
    auth=gate(*VIEW),
    summary="One interchange protocol",
)
def formulary_protocol(request: HttpRequest, protocol_id: int) -> Any:
    return _protocol(queries.protocol_get(actor=user_of(request), protocol_id=protocol_id))


@router.patch(
    "/protocols/{int:protocol_id}",
    response=FormularyProtocolOut,
    auth=gate(Cap.FORMULARY_EDIT),
    summary="Change a draft protocol (only the fields sent)",
)
def formulary_protocol_change(
    request: HttpRequest, protocol_id: int, payload: FormularyProtocolChangeIn
) -> Any:
    actor = user_of(request)
    row = queries.protocol_get(actor=actor, protocol_id=protocol_id)
    values: dict[str, Any] = {}
    for name in payload.model_fields_set:
        if name == "to_product_id" and payload.to_product_id is not None:
            values["to_product"] = _catalog_product(payload.to_product_id)
        elif name == "conversions":
            values["conversions"] = _conversions(payload.conversions) or []
        elif name != "to_product_id":
            values[name] = getattr(payload, name)
    services.protocol_update(actor=actor, protocol=row, **values)
    return _protocol(queries.protocol_get(actor=actor, protocol_id=protocol_id))


@router.post(
    "/protocols/{int:protocol_id}/approve",
    response=FormularyProtocolOut,
    auth=gate(Cap.FORMULARY_EDIT),
    summary="Approve a draft protocol (the PIC)",
)
def formulary_protocol_approve(request: HttpRequest, protocol_id: int) -> Any:
    actor = user_of(request)
    row = queries.protocol_get(actor=actor, protocol_id=protocol_id)
    services.protocol_approve(actor=actor, protocol=row)
    return _protocol(queries.protocol_get(actor=actor, protocol_id=protocol_id))


@router.post(
    "/protocols/{int:protocol_id}/retire",
    response=FormularyProtocolOut,
    auth=gate(Cap.FORMULARY_EDIT),
    summary="Retire a protocol",
)
def formulary_protocol_retire(
    request: HttpRequest, protocol_id: int, payload: FormularyRetireIn
) -> Any:
    actor = user_of(request)
    row = queries.protocol_get(actor=actor, protocol_id=protocol_id)
    services.protocol_retire(actor=actor, protocol=row, reason=payload.reason)
    return _protocol(queries.protocol_get(actor=actor, protocol_id=protocol_id))


# --- A prescription ---------------------------------------------------------------------------


@router.get(
    "/rx/{int:prescription_id}/offer",
    response=FormularyOfferOut,
    auth=gate(*RX_READ),
    summary="Generic substitution for an Rx: its DAW code in words and the ranked equivalents",
)
def formulary_rx_offer(request: HttpRequest, prescription_id: int) -> Any:
    actor = user_of(request)
    rx = queries.prescription_get(actor=actor, prescription_id=prescription_id)
    offer = queries.substitution_offer(actor=actor, prescription=rx)
    return {
        "prescription_id": rx.pk,
        "rx_number": rx.number,
        "product": _product(rx.product),
        "te_code": offer.te_code,
        "formulary_status": offer.formulary_status,
        "daw": offer.daw,
        "daw_label": offer.daw_label,
        "may_offer": offer.may_offer,
        "reason": offer.reason,
        "equivalents": [
            {
                "product": _product(line.product),
                "te_code": line.te_code,
                "formulary_status": line.formulary_status,
                "formulary_label": line.formulary_label,
                "on_hand": str(line.on_hand),
                "unit_cost": str(line.unit_cost) if line.unit_cost is not None else None,
            }
            for line in offer.lines
        ],
    }


@router.get(
    "/rx/{int:prescription_id}/suggestions",
    response=list[FormularySuggestionOut],
    auth=gate(*RX_READ),
    summary="Approved interchange protocols that apply to a non-formulary Rx",
)
def formulary_rx_suggestions(request: HttpRequest, prescription_id: int) -> Any:
    actor = user_of(request)
    rx = queries.prescription_get(actor=actor, prescription_id=prescription_id)
    return [
        {
            "protocol_id": s.protocol.pk,
            "protocol_name": s.protocol.name,
            "to_product": _product(s.to_product),
            "to_status": s.to_status,
            "from_strength": s.from_strength,
            "to_strength": s.to_strength,
            "conversion": s.conversion_text,
            "sig_note": s.protocol.sig_note,
            "decision": _decision(s.decision) if s.decision else None,
        }
        for s in queries.interchange_suggestions(actor=actor, prescription=rx)
    ]


@router.post(
    "/rx/{int:prescription_id}/decide",
    response={201: FormularyDecisionOut},
    auth=gate(Cap.INTERCHANGE_APPLY),
    summary="Accept (new Rx for the formulary product) or decline an interchange",
)
def formulary_rx_decide(
    request: HttpRequest, prescription_id: int, payload: FormularyDecideIn
) -> Any:
    actor = user_of(request)
    rx = queries.prescription_get(actor=actor, prescription_id=prescription_id)
    protocol = queries.protocol_get(actor=actor, protocol_id=payload.protocol_id)
    decision = services.interchange_decide(
        actor=actor,
        prescription=rx,
        protocol=protocol,
        accept=payload.accept,
        note=payload.note,
        prescriber_notified=payload.prescriber_notified,
        notified_at=payload.notified_at,
        directions=payload.directions,
    )
    return Status(201, _decision(decision))
