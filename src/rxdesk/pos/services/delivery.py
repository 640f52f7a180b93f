"""Deliveries and mail: ready bags going to the patient's door, a driver's manifest, proof
of delivery (who took it, signature, time) and the same pickup record as at the counter.

    delivery_create ─▶ PENDING ─manifest_create, manifest_depart─▶ OUT
    OUT ─delivery_complete (sale, pickup, payment)─▶ DELIVERED
    PENDING/OUT ─delivery_fail─▶ FAILED (the bags stay in will-call)
    mail: PENDING ─delivery_ship (tracking number; the carrier's hand-off)─▶ DELIVERED"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.core.validators import normalize_phone
from rxdesk.patients.models import Patient
from rxdesk.pos.choices import (
    Counseling,
    DeliveryMethod,
    DeliveryStatus,
    PickupPerson,
    SecondIdentifier,
)
from rxdesk.pos.models import Delivery, Manifest, Sale
from rxdesk.pos.services.common import audit, own
from rxdesk.pos.services.pickup import (
    build_pickup,
    lock_ready_fills,
    open_sale,
    pickup_audit_data,
)
from rxdesk.rx.models import Fill

register_actions(
    {
        "pos.delivery.created": "Delivery created",
        "pos.manifest.created": "Delivery manifest created",
        "pos.manifest.departed": "Driver left with the manifest",
        "pos.delivery.completed": "Delivered (proof of delivery recorded)",
        "pos.delivery.failed": "Delivery failed (bags back in will-call)",
        "pos.delivery.shipped": "Mailed (handed to the carrier)",
    }
)

ADDRESS_REQUIRED = {
    "address_line1": "Type the street address.",
    "city": "Type the city.",
    "state": "Type the state (two letters).",
    "postal_code": "Type the ZIP code.",
}


def _audit(actor: User, action: str, delivery: Delivery, **data: Any) -> None:
    audit_record(
        actor=actor,
        site=delivery.site,
        action=action,
        obj=delivery,
        patient_id=delivery.patient_id,
        data=data,
    )


def _address(patient: Patient, given: dict[str, Any] | None) -> dict[str, str]:
    source: dict[str, Any] = (
        dict(given)
        if given
        else {
            "address_line1": patient.address_line1,
            "address_line2": patient.address_line2,
            "city": patient.city,
            "state": patient.state,
            "postal_code": patient.postal_code,
            "phone": patient.phone_mobile or patient.phone_home,
        }
    )
    out = {
        key: " ".join(str(source.get(key) or "").split())
        for key in ("address_line1", "address_line2", "city", "state", "postal_code", "phone")
    }
    out["state"] = out["state"].upper()
    errors = [{"field": k, "message": m} for k, m in ADDRESS_REQUIRED.items() if not out[k]]
    if out["state"] and (len(out["state"]) != 2 or not out["state"].isalpha()):
        errors.append({"field": "state", "message": "Use the two-letter state code."})
    phone = normalize_phone(out["phone"]) if out["phone"] else ""
    if out["phone"] and len(phone) != 10:
        errors.append({"field": "phone", "message": "Type a 10-digit phone number."})
    if errors:
        raise Invalid(errors=errors)
    out["phone"] = phone
    limits = {"address_line1": 120, "address_line2": 120, "city": 80, "postal_code": 10}
    return {k: v[: limits.get(k, 10)] for k, v in out.items()}


def _lock(actor: User, delivery: Delivery, *allowed: str) -> Delivery:
    own(actor, "delivery", delivery.site_id)
    locked = (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("site", "patient")
        .get(pk=delivery.pk)
    )
    if allowed and locked.status not in allowed:
        raise Conflict(
            f"Delivery {locked.pk} is {locked.get_status_display().lower()}; "
            "this does not apply now.",
            field="delivery",
        )
    return locked


def delivery_create(
    *,
    actor: User,
    patient: Patient,
    fills: Sequence[Fill],
    method: str = DeliveryMethod.COURIER,
    instructions: str = "",
    address: dict[str, Any] | None = None,
) -> Delivery:
    """Put ready bags of the patient (or household) on a delivery to the patient's address
    (or the one given)."""
    authorize(actor, Cap.POS_DELIVER)
    own(actor, "patient", patient.site_id)
    if method not in DeliveryMethod.values:
        raise Invalid("Choose the pharmacy driver or the mail.", field="method")
    where = _address(patient, address)
    with transaction.atomic():
        locked = lock_ready_fills(actor, patient, list(fills))
        delivery = Delivery.objects.create(
            site=patient.site,
            patient=patient,
            method=method,
            instructions=" ".join((instructions or "").split())[:200],
            created_by=actor,
            **where,
        )
        delivery.fills.set(locked)
        _audit(actor, "pos.delivery.created", delivery, fills=[f.pk for f in locked], method=method)
    return delivery


def manifest_create(
    *,
    actor: User,
    deliveries: Sequence[Delivery],
    method: str = DeliveryMethod.COURIER,
    driver: User | None = None,
    driver_name: str = "",
) -> Manifest:
    """Group waiting deliveries into one run (a driver's, or a day's mail)."""
    authorize(actor, Cap.POS_DELIVER)
    if method not in DeliveryMethod.values:
        raise Invalid("Choose the pharmacy driver or the mail.", field="method")
    if not deliveries:
        raise Invalid("Choose at least one delivery.", field="deliveries")
    if driver is not None and driver.site_id != actor.site_id:
        raise Invalid("That driver does not work at this pharmacy.", field="driver")
    name = " ".join((driver_name or "").split())[:120] or (
        driver.display_name[:120] if driver is not None else ""
    )
    if method == DeliveryMethod.COURIER and not name:
        raise Invalid("Choose the driver or type the driver's name.", field="driver_name")
    ids = sorted({d.pk for d in deliveries})
    with transaction.atomic():
        locked = list(
            Delivery.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
        )
        if len(locked) != len(ids) or any(d.site_id != actor.site_id for d in locked):
            raise NotFound("No such delivery at this pharmacy.")
        for d in locked:
            if d.status != DeliveryStatus.PENDING or d.manifest_id is not None:
                raise Conflict(
                    f"Delivery {d.pk} is already on a run or finished.", field="deliveries"
                )
            if d.method != method:
                raise Conflict(
                    f"Delivery {d.pk} goes by {d.get_method_display().lower()}.",
                    field="deliveries",
                )
        manifest = Manifest.objects.create(
            site=actor.site, method=method, driver=driver, driver_name=name, created_by=actor
        )
        Delivery.objects.filter(pk__in=ids).update(manifest=manifest)
        audit_record(
            actor=actor,
            action="pos.manifest.created",
            obj=manifest,
            data={"deliveries": ids, "method": method, "driver_id": driver.pk if driver else None},
        )
    return manifest


def manifest_depart(*, actor: User, manifest: Manifest) -> Manifest:
    """The driver leaves: every delivery on the run is out."""
    authorize(actor, Cap.POS_DELIVER)
    own(actor, "manifest", manifest.site_id)
    with transaction.atomic():
        locked = Manifest.objects.select_for_update(of=("self",)).get(pk=manifest.pk)
        if locked.departed_at is not None:
            raise Conflict("This run has already left.", field="manifest")
        waiting = Delivery.objects.filter(manifest=locked, status=DeliveryStatus.PENDING)
        ids = list(waiting.values_list("pk", flat=True))
        if not ids:
            raise Conflict("There is nothing waiting to go on this run.", field="manifest")
        waiting.update(status=DeliveryStatus.OUT)
        locked.departed_at = timezone.now()
        locked.save(update_fields=["departed_at"])
        audit_record(
            actor=actor,
            action="pos.manifest.departed",
            obj=locked,
            data={"deliveries": ids},
        )
    return locked


def _pay(actor: User, sale: Sale, tenders: list[Any] | None) -> None:
    from rxdesk.pos.services.sales import sale_pay  # written alongside (the counter's)

    sale_pay(actor=actor, sale=sale, tenders=list(tenders or []))


def _hand_off(
    actor: User,
    locked: Delivery,
    *,
    person: str,
    person_name: str,
    signature: Any,
    relationship: str,
    date_of_birth: Any,
    counseling: str,
    tenders: list[Any] | None,
    id_type: str = "",
    id_number: str = "",
    id_state: str = "",
    id_expiry: Any = None,
    by_mail: bool = False,
) -> Sale:
    """Sale, pickup record and payment of a delivery's bags (inside the caller's
    transaction, after the delivery's row is locked)."""
    patient = locked.patient
    patient.site = locked.site
    fills = lock_ready_fills(actor, patient, list(locked.fills.all()), exclude_delivery=locked.pk)
    sale = open_sale(actor, patient, fills)
    pickup = build_pickup(
        actor,
        sale,
        patient,
        fills,
        person=person,
        person_name=person_name,
        date_of_birth=date_of_birth,
        second_identifier=SecondIdentifier.ADDRESS,
        counseling=counseling,
        signature=signature,
        relationship=relationship,
        privacy_notice_acknowledged=False,
        id_type=id_type,
        id_number=id_number,
        id_state=id_state,
        id_expiry=id_expiry,
        dob_required=False,
        delivery=locked,
        by_mail=by_mail,
    )
    pickup.save()
    audit(
        actor,
        "pos.pickup.recorded",
        sale,
        delivery=locked.pk,
        **pickup_audit_data(pickup, fills),
    )
    _pay(actor, sale, tenders)
    return sale


def delivery_complete(
    *,
    actor: User,
    delivery: Delivery,
    person: str,
    person_name: str,
    signature: Any,
    relationship: str = "",
    date_of_birth: Any = None,
    counseling: str = Counseling.DECLINED,
    tenders: list[Any] | None = None,
    id_type: str = "",
    id_number: str = "",
    id_state: str = "",
    id_expiry: Any = None,
) -> Delivery:
    """Proof of delivery: who took the bags at the door, their signature and the time; the
    bags are sold (and the co-pay collected) as at the counter. A date of birth is checked
    when given; a controlled prescription needs the same ID as at the counter."""
    authorize(actor, Cap.POS_DELIVER)
    authorize(actor, Cap.RX_SELL)
    with transaction.atomic():
        locked = _lock(actor, delivery, DeliveryStatus.OUT)
        sale = _hand_off(
            actor,
            locked,
            person=person,
            person_name=person_name,
            signature=signature,
            relationship=relationship,
            date_of_birth=date_of_birth,
            counseling=counseling,
            tenders=tenders,
            id_type=id_type,
            id_number=id_number,
            id_state=id_state,
            id_expiry=id_expiry,
        )
        locked.status = DeliveryStatus.DELIVERED
        locked.delivered_at = timezone.now()
        locked.sale = sale
        locked.save(update_fields=["status", "delivered_at", "sale"])
        _audit(actor, "pos.delivery.completed", locked, sale=sale.receipt_number)
    return locked


def delivery_fail(*, actor: User, delivery: Delivery, reason: str) -> Delivery:
    """Nobody home (or the wrong address): the bags come back to will-call."""
    authorize(actor, Cap.POS_DELIVER)
    why = " ".join((reason or "").split())[:200]
    if not why:
        raise Invalid("Say why it was not delivered.", field="reason")
    with transaction.atomic():
        locked = _lock(actor, delivery, DeliveryStatus.PENDING, DeliveryStatus.OUT)
        locked.status, locked.failed_reason = DeliveryStatus.FAILED, why
        locked.save(update_fields=["status", "failed_reason"])
        _audit(actor, "pos.delivery.failed", locked, reason=why)
    return locked


def delivery_ship(
    *,
    actor: User,
    delivery: Delivery,
    tracking_number: str,
    carrier: str = "Mail carrier",
    signature: Any = None,
    tenders: list[Any] | None = None,
) -> Delivery:
    """A mail delivery handed to the carrier: the tracking number is kept, and the pickup is
    recorded with the carrier as the person who took the bags (someone else)."""
    authorize(actor, Cap.POS_DELIVER)
    authorize(actor, Cap.RX_SELL)
    number = "".join((tracking_number or "").split())[:40]
    if not number:
        raise Invalid("Type or scan the tracking number.", field="tracking_number")
    with transaction.atomic():
        locked = _lock(actor, delivery, DeliveryStatus.PENDING, DeliveryStatus.OUT)
        if locked.method != DeliveryMethod.MAIL:
            raise Conflict("Only a mail delivery is shipped.", field="delivery")
        sale = _hand_off(
            actor,
            locked,
            person=PickupPerson.OTHER,
            person_name=" ".join((carrier or "").split())[:120] or "Mail carrier",
            signature=signature,
            relationship="carrier",
            date_of_birth=None,
            counseling=Counseling.DECLINED,
            tenders=tenders,
            by_mail=True,
        )
        locked.status = DeliveryStatus.DELIVERED
        locked.tracking_number = number
        locked.delivered_at = timezone.now()
        locked.sale = sale
        locked.save(update_fields=["status", "tracking_number", "delivered_at", "sale"])
        _audit(actor, "pos.delivery.shipped", locked, sale=sale.receipt_number)
    return locked
