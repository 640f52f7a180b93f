"""Handing prescriptions out at the counter: the sale's prescription lines, who picked up
and how they were identified, the counseling offer, the signature.

    pickup_start ─▶ sale OPEN with one Rx line per bag
    pickup_record ─▶ Pickup (identity checked, signature kept); counseling accepted ─▶
        sale AWAITING_COUNSEL ─counseling_record (pharmacist)─▶ OPEN ─▶ paid (sales.py)

Rules: only bags ready in will-call, of this pharmacy, for the patient or someone of the
household, not already on another sale or on a delivery, and inside the plan's return
window (date of service + the site's return-to-stock days; after it the claim is reversed
and must be billed again). A date of birth that does not match stops the hand-out. For the
schedules the state names (PosSettings.cs_id_schedules) a photo ID is recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.patients.models import Patient
from rxdesk.pos import pricing
from rxdesk.pos.choices import (
    Counseling,
    DrawerStatus,
    IdType,
    LineKind,
    PickupPerson,
    SaleStatus,
    SecondIdentifier,
)
from rxdesk.pos.models import Delivery, Drawer, Pickup, Sale
from rxdesk.pos.queries_willcall import (
    fills_on_delivery,
    fills_on_open_sale,
    id_schedules,
    past_return_window,
    schedule_digit,
)
from rxdesk.pos.services.common import (
    add_line,
    audit,
    lock_sale,
    own,
    parse_money,
    settings_of,
    signature_png,
)
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill
from rxdesk.rx.services.common import settings_of as rx_settings_of

register_actions(
    {
        "pos.pickup.started": "Prescriptions put on a sale for pickup",
        "pos.pickup.recorded": "Pickup recorded (who, identity, counseling offer, signature)",
        "pos.privacy_notice.signed": "Privacy notice acknowledged at the counter",
        "pos.counseling.recorded": "Counseling given by the pharmacist",
    }
)

MAX_NOTE = 2000
DOB_MISMATCH = "The date of birth does not match — do not hand out."


def _name(fill: Fill) -> str:
    return f"Rx {fill.prescription.number}-{fill.number}"


def household_ids(patient: Patient) -> set[int]:
    """The patient and everyone in the same household (as saved now)."""
    household_id = Patient.objects.filter(pk=patient.pk).values_list("household_id", flat=True)[0]
    if household_id is None:
        return {patient.pk}
    members = Patient.objects.filter(household_id=household_id)
    return {patient.pk, *members.values_list("pk", flat=True)}


def lock_ready_fills(
    actor: User,
    patient: Patient,
    fills: Sequence[Fill],
    *,
    exclude_delivery: int | None = None,
) -> list[Fill]:
    """Lock ``fills`` (in id order, the fill rows only) and check each may leave the
    pharmacy now for ``patient``; a refused bag is a Conflict naming ``fills`` and the Rx."""
    if not fills:
        raise Invalid("Choose at least one prescription.", field="fills")
    ids = list(dict.fromkeys(f.pk for f in fills))
    locked = {
        f.pk: f
        for f in Fill.objects.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .select_related("prescription__patient", "prescription__product", "package")
        .order_by("pk")
    }
    site = patient.site
    family = household_ids(patient)
    for pk in ids:
        fill = locked.get(pk)
        if fill is None or fill.site_id != site.pk:
            raise Conflict("That prescription is not at this pharmacy.", field="fills")
    ordered = [locked[pk] for pk in ids]
    on_sale = fills_on_open_sale(ids)
    on_delivery = fills_on_delivery(ids, exclude_delivery=exclude_delivery)
    today = site.today()
    days = rx_settings_of(site).return_to_stock_days
    for fill in ordered:
        name = _name(fill)
        if fill.status != FillStatus.READY:
            raise Conflict(
                f"{name} is not in will-call ({fill.get_status_display().lower()}).",
                field="fills",
            )
        if fill.prescription.patient_id not in family:
            raise Conflict(
                f"{name} belongs to someone outside this patient's household.", field="fills"
            )
        if fill.pk in on_sale:
            raise Conflict(f"{name} is already on another open sale.", field="fills")
        if fill.pk in on_delivery:
            raise Conflict(f"{name} is on a delivery; it cannot be sold here.", field="fills")
        if past_return_window(fill, site, today):
            raise Conflict(
                f"{name} is past the plan's return window ({days} days): return it to stock "
                "and bill it again before selling.",
                field="fills",
            )
    return ordered


def open_sale(
    actor: User,
    patient: Patient,
    fills: list[Fill],
    *,
    drawer: Drawer | None = None,
    prices: dict[int, Decimal] | None = None,
) -> Sale:
    """A new sale with one prescription line per locked, checked fill (inside the caller's
    transaction)."""
    if drawer is not None:
        own(actor, "drawer", drawer.site_id)
        if Drawer.objects.filter(pk=drawer.pk, status=DrawerStatus.OPEN).count() != 1:
            raise Conflict("That drawer is closed; open a drawer first.", field="drawer")
    prices = prices or {}
    priced: list[tuple[Fill, Decimal]] = []
    for fill in fills:
        typed = prices.get(fill.pk)
        amount = (
            parse_money(typed, "price") if typed not in (None, "") else pricing.fill_price(fill)
        )
        if amount is None:
            raise Conflict(
                f"{_name(fill)} has no price on file: type the price the patient pays.",
                field="price",
                fill_id=fill.pk,
            )
        priced.append((fill, amount))
    sale = Sale.objects.create(site=patient.site, drawer=drawer, patient=patient, started_by=actor)
    sale.site = patient.site
    for fill, amount in priced:
        add_line(
            sale,
            kind=LineKind.RX,
            description=f"{_name(fill)} {fill.prescription.drug_description}",
            quantity=fill.quantity,
            unit_price=amount,
            fill=fill,
        )
    return sale


def pickup_start(
    *,
    actor: User,
    patient: Patient,
    fills: list[Fill],
    drawer: Drawer | None = None,
    prices: dict[int, Decimal] | None = None,
) -> Sale:
    """Put the patient's (or household's) ready bags on a new sale, priced by the claim's
    patient pay or the cash price (or the price typed)."""
    authorize(actor, Cap.RX_SELL)
    own(actor, "patient", patient.site_id)
    with transaction.atomic():
        locked = lock_ready_fills(actor, patient, fills)
        sale = open_sale(actor, patient, locked, drawer=drawer, prices=prices)
        audit(
            actor,
            "pos.pickup.started",
            sale,
            fills=[f.pk for f in locked],
            total=str(sale.total),
        )
    return sale


# --- The pickup record -----------------------------------------------------------------------


def _date(value: Any, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m%d%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise Invalid("Type the date as MM/DD/YYYY.", field=field)


def _clean(value: Any, limit: int) -> str:
    return " ".join(str(value or "").split())[:limit]


def build_pickup(
    actor: User,
    sale: Sale,
    patient: Patient,
    fills: list[Fill],
    *,
    person: str,
    person_name: str,
    date_of_birth: Any,
    second_identifier: str,
    counseling: str,
    signature: Any,
    relationship: str,
    privacy_notice_acknowledged: bool,
    id_type: str,
    id_number: str,
    id_state: str,
    id_expiry: Any,
    dob_required: bool = True,
    delivery: Delivery | None = None,
    by_mail: bool = False,
) -> Pickup:
    """Check the pickup's identity rules and return the unsaved Pickup (the caller saves
    it inside its transaction). Missing inputs are one Invalid naming each field.

    ``by_mail``: the bags were handed to a parcel carrier, who neither signs on our pad nor
    shows a patient's ID; the carrier's tracking is the proof (state ID-at-pickup rules
    apply to a person receiving the drug at the pharmacy or from its driver)."""
    site = patient.site
    errors: list[dict[str, str]] = []

    def missing(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    if person not in PickupPerson.values:
        missing("person", "Say who is picking up: the patient, a caregiver or someone else.")
    name = _clean(person_name, 120)
    if not name and person == PickupPerson.PATIENT:
        name = patient.full_name[:120]
    if not name:
        missing("person_name", "Type the name of the person picking up.")
    rel = _clean(relationship, 40)
    if person in (PickupPerson.CAREGIVER, PickupPerson.OTHER) and not rel:
        missing("relationship", "Say how this person is related to the patient.")
    if second_identifier not in SecondIdentifier.values:
        missing("second_identifier", "Check a second identifier (address, phone, ID, Rx number).")
    if counseling not in Counseling.values:
        missing("counseling", "Say whether counseling was accepted or declined.")
    born = _date(date_of_birth, "date_of_birth")
    if born is None and dob_required:
        missing("date_of_birth", "Ask for the patient's date of birth.")
    rules = settings_of(site)
    needs_id = (
        []
        if by_mail
        else sorted({schedule_digit(f.prescription) for f in fills} & (id_schedules(site) - {""}))
    )
    expiry: dt.date | None = None
    if needs_id:
        allowed_types = {t.strip() for t in rules.cs_id_types.split(",") if t.strip()}
        if id_type not in allowed_types or id_type not in IdType.values:
            missing("id_type", "A controlled prescription: record the type of photo ID.")
        if rules.cs_id_record_number and not _clean(id_number, 30):
            missing("id_number", "Record the ID number.")
        state = _clean(id_state, 2).upper()
        if len(state) != 2 or not state.isalpha():
            missing("id_state", "Record the state (or country) that issued the ID.")
        if rules.cs_id_record_expiry:
            try:
                expiry = _date(id_expiry, "id_expiry")
            except Invalid as exc:
                missing("id_expiry", exc.message)
            else:
                if expiry is None:
                    missing("id_expiry", "Record the ID's expiry date.")
    if errors:
        raise Invalid(errors=errors)
    raw, sha = (b"", "") if by_mail and not signature else signature_png(signature)
    if born is not None and born != patient.date_of_birth:
        raise Conflict(DOB_MISMATCH, field="date_of_birth")
    if expiry is not None and expiry < site.today():
        raise Conflict(
            f"The ID expired on {expiry:%m/%d/%Y}; ask for an ID that is current.",
            field="id_expiry",
        )
    return Pickup(
        site=site,
        patient=patient,
        sale=sale,
        delivery=delivery,
        person=person,
        person_name=name,
        relationship=rel,
        dob_confirmed=born is not None,
        second_identifier=second_identifier,
        counseling=counseling,
        privacy_notice_acknowledged=bool(privacy_notice_acknowledged),
        id_type=id_type if needs_id else "",
        id_number=_clean(id_number, 30) if needs_id and rules.cs_id_record_number else "",
        id_state=_clean(id_state, 2).upper() if needs_id else "",
        id_expiry=expiry if needs_id else None,
        signature=raw,
        signature_sha256=sha,
        recorded_by=actor,
    )


def record_privacy_notice(actor: User, patient: Patient, acknowledged: bool) -> bool:
    """A patient with no privacy notice on file who acknowledged it at the counter: kept
    on the patient's record (signed today). True when it was recorded."""
    if not acknowledged or patient.privacy_notice:
        return False
    today = patient.site.today()
    changed = Patient.objects.filter(pk=patient.pk, privacy_notice="").update(
        privacy_notice="signed", privacy_notice_on=today, updated_at=timezone.now()
    )
    if changed:
        patient.privacy_notice, patient.privacy_notice_on = "signed", today
        audit_record(
            actor=actor,
            site=patient.site,
            action="pos.privacy_notice.signed",
            obj=patient,
            patient_id=patient.pk,
            data={"privacy_notice": "signed", "on": today.isoformat()},
        )
    return bool(changed)


def sale_fills(sale: Sale) -> list[Fill]:
    return [
        line.fill
        for line in sale.lines.filter(kind=LineKind.RX)
        .select_related("fill__prescription")
        .order_by("pk")
        if line.fill is not None
    ]


def pickup_audit_data(pickup: Pickup, fills: list[Fill]) -> dict[str, Any]:
    """What the audit keeps of a pickup: no ID number, no signature, no note."""
    return {
        "person": pickup.person,
        "relationship": pickup.relationship,
        "dob_confirmed": pickup.dob_confirmed,
        "second_identifier": pickup.second_identifier,
        "counseling": pickup.counseling,
        "id_type": pickup.id_type,
        "id_recorded": bool(pickup.id_number),
        "signature_sha256": pickup.signature_sha256,
        "fills": [f.pk for f in fills],
    }


def pickup_record(
    *,
    actor: User,
    sale: Sale,
    person: str,
    person_name: str,
    date_of_birth: Any,
    second_identifier: str,
    counseling: str,
    signature: Any,
    relationship: str = "",
    privacy_notice_acknowledged: bool = False,
    id_type: str = "",
    id_number: str = "",
    id_state: str = "",
    id_expiry: Any = None,
) -> Pickup:
    """Record who took the bags on an open sale, how they were identified, the counseling
    offer and the signature. Counseling accepted sends the sale to the pharmacist before
    it can be paid."""
    authorize(actor, Cap.RX_SELL)
    with transaction.atomic():
        locked = lock_sale(actor, sale, SaleStatus.OPEN)
        if locked.patient_id is None:
            raise Conflict("This sale has no patient: no prescriptions on it.", field="sale")
        fills = sale_fills(locked)
        if not fills:
            raise Conflict("There are no prescriptions on this sale.", field="sale")
        if Pickup.objects.filter(sale=locked).exists():
            raise Conflict("The pickup of this sale is already recorded.", field="sale")
        patient = Patient.objects.select_related("site").get(pk=locked.patient_id)
        pickup = build_pickup(
            actor,
            locked,
            patient,
            fills,
            person=person,
            person_name=person_name,
            date_of_birth=date_of_birth,
            second_identifier=second_identifier,
            counseling=counseling,
            signature=signature,
            relationship=relationship,
            privacy_notice_acknowledged=privacy_notice_acknowledged,
            id_type=id_type,
            id_number=id_number,
            id_state=id_state,
            id_expiry=id_expiry,
        )
        pickup.save()
        record_privacy_notice(actor, patient, privacy_notice_acknowledged)
        if pickup.counseling == Counseling.ACCEPTED:
            locked.status = SaleStatus.AWAITING_COUNSEL
            locked.save(update_fields=["status"])
        audit(actor, "pos.pickup.recorded", locked, **pickup_audit_data(pickup, fills))
    return pickup


# --- Counseling --------------------------------------------------------------------------------


def _phone_counseling_due() -> Q:
    """A delivered sale whose recipient accepted counseling at the door: the pharmacist
    calls the patient (the driver cannot counsel)."""
    return Q(
        status=SaleStatus.COMPLETED,
        pickup__delivery__isnull=False,
        pickup__counseling=Counseling.ACCEPTED,
        pickup__counseled_at__isnull=True,
    )


def counseling_record(*, actor: User, sale: Sale, note: str) -> Pickup:
    """The pharmacist counseled the patient who accepted it: the note is kept with the
    pickup (never in the audit log). At the counter the sale can then be paid; for a
    delivery the pharmacist records the phone call (the sale is already closed)."""
    authorize(actor, Cap.POS_COUNSEL)
    text = (note or "").strip()
    if not text:
        raise Invalid("Write what was discussed.", field="note")
    if len(text) > MAX_NOTE:
        raise Invalid(f"Keep the note under {MAX_NOTE} characters.", field="note")
    with transaction.atomic():
        locked = lock_sale(actor, sale, SaleStatus.AWAITING_COUNSEL, SaleStatus.COMPLETED)
        pickup = Pickup.objects.select_for_update(of=("self",)).get(sale=locked)
        by_phone = locked.status == SaleStatus.COMPLETED
        if by_phone and not (
            pickup.delivery_id is not None
            and pickup.counseling == Counseling.ACCEPTED
            and pickup.counseled_at is None
        ):
            raise Conflict(
                f"Sale {locked.receipt_number} is completed and waits for no counseling.",
                field="sale",
                sale_status=locked.status,
            )
        pickup.counseled_by, pickup.counseled_at = actor, timezone.now()
        pickup.counseling_note = text
        pickup.save(update_fields=["counseled_by", "counseled_at", "counseling_note"])
        if not by_phone:
            locked.status = SaleStatus.OPEN
            locked.save(update_fields=["status"])
        audit(actor, "pos.counseling.recorded", locked, pickup=pickup.pk, by_phone=by_phone)
    return pickup


def counseling_waiting(*, actor: User) -> list[Sale]:
    """Who waits for the pharmacist: patients at the counter (the sale cannot be paid
    before), then delivered patients who accepted counseling at the door and get a call;
    the longest waiting first."""
    authorize(actor, Cap.POS_COUNSEL)
    return list(
        Sale.objects.filter(
            Q(status=SaleStatus.AWAITING_COUNSEL) | _phone_counseling_due(),
            site_id=actor.site_id,
        )
        .select_related("patient", "pickup")
        .prefetch_related("lines__fill__prescription")
        .order_by("-status", "pickup__recorded_at", "pk")
    )
