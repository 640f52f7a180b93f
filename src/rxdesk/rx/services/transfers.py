"""Prescriptions transferred in from and out to other pharmacies (21 CFR 1306.25, 1306.08(e))."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.choices import PHARMACIST_ROLES
from rxdesk.core.errors import Conflict, Invalid
from rxdesk.core.identifiers import dea_normalize
from rxdesk.core.models import User
from rxdesk.core.services import authorize, full_clean
from rxdesk.core.validators import normalize_phone
from rxdesk.rx import rules
from rxdesk.rx.choices import FillSource, Origin, RxStatus, TransferDirection
from rxdesk.rx.models import Prescription, PrescriptionImage, Transfer
from rxdesk.rx.services.common import DISPENSED_FILLS, own, schedule_of, state_rules, status_set
from rxdesk.rx.services.prescriptions import (
    Intake,
    audit_data,
    cancel_pending_fills,
    create_from_intake,
)

register_actions(
    {
        "rx.transfer.in": "Prescription transferred in",
        "rx.transfer.out": "Prescription transferred out",
    }
)


@dataclass(frozen=True)
class OtherPharmacy:
    """The pharmacy on the other end of a transfer, and its pharmacist."""

    name: str
    address: str
    pharmacist: str
    phone: str = ""
    ncpdp_id: str = ""
    npi: str = ""
    dea_number: str = ""
    rx_number: str = ""

    def cleaned(self) -> dict[str, str]:
        return {
            "pharmacy_name": " ".join(self.name.split()),
            "pharmacy_address": " ".join(self.address.split()),
            "pharmacy_phone": normalize_phone(self.phone) if self.phone else "",
            "pharmacy_ncpdp_id": self.ncpdp_id.strip(),
            "pharmacy_npi": self.npi.strip(),
            "pharmacy_dea": dea_normalize(self.dea_number) if self.dea_number else "",
            "other_rx_number": self.rx_number.strip(),
            "other_pharmacist": " ".join(self.pharmacist.split()),
        }


def _transfer_row(
    rx: Prescription, direction: str, other: OtherPharmacy, pharmacist: User, **values: Any
) -> Transfer:
    row = Transfer(
        prescription=rx, direction=direction, pharmacist=pharmacist, **other.cleaned(), **values
    )
    errors = []
    if not row.pharmacy_name:
        errors.append({"field": "pharmacy_name", "message": "Name the other pharmacy."})
    if not row.pharmacy_address:
        errors.append(
            {"field": "pharmacy_address", "message": "Give the other pharmacy's address."}
        )
    if not row.other_pharmacist:
        errors.append({"field": "other_pharmacist", "message": "Name the other pharmacist."})
    if rx.schedule and not row.pharmacy_dea:
        errors.append(
            {
                "field": "pharmacy_dea",
                "message": "A controlled-substance transfer records the other pharmacy's DEA "
                "number (21 CFR 1306.25).",
            }
        )
    if errors:
        raise Invalid(errors=errors)
    full_clean(row, exclude=["prescription", "pharmacist"])
    return row


def _pharmacist(actor: User) -> User:
    if actor.role not in PHARMACIST_ROLES:
        raise Invalid("A transfer is recorded by a pharmacist.", field="pharmacist")
    return actor


def transfer_in(
    *,
    actor: User,
    intake: Intake,
    other: OtherPharmacy,
    original_refills_authorized: int,
    refills_remaining: int,
    first_fill_date: dt.date | None = None,
    last_fill_date: dt.date | None = None,
    originally_filled_at: str = "",
    shared_database: bool = False,
    electronic_original: bool = False,
    images: tuple[PrescriptionImage, ...] = (),
    hold: bool = False,
    hold_reason: str = "",
) -> Prescription:
    """Take in a prescription from another pharmacy: its original date written, refills
    originally authorized and remaining, the dates of its first and last fills, and both
    pharmacists. The refills it has left are what may be filled here."""
    authorize(actor, Cap.RX_TRANSFER)
    site = actor.site
    assert site is not None
    pharmacist = _pharmacist(actor)
    errors = []
    if (
        not isinstance(original_refills_authorized, int)
        or not 0 <= original_refills_authorized <= 99
    ):
        errors.append({"field": "original_refills_authorized", "message": "Enter 0 to 99."})
    elif not isinstance(refills_remaining, int) or not refills_remaining >= 0:
        errors.append({"field": "refills_remaining", "message": "Enter 0 or more."})
    elif refills_remaining > original_refills_authorized + 1:
        errors.append(
            {
                "field": "refills_remaining",
                "message": "More fills remain than the prescription ever authorized.",
            }
        )
    today = site.today()
    for name, day in (("first_fill_date", first_fill_date), ("last_fill_date", last_fill_date)):
        if day is not None and day > today:
            errors.append({"field": name, "message": "This date is in the future."})
        if day is not None and day < intake.date_written:
            errors.append({"field": name, "message": "This date is before the date written."})
    if first_fill_date and last_fill_date and last_fill_date < first_fill_date:
        errors.append({"field": "last_fill_date", "message": "The last fill is before the first."})
    if errors:
        raise Invalid(errors=errors)
    filled_before = first_fill_date is not None or last_fill_date is not None
    # Fills left here: the remaining refills, plus the original fill if it was never made.
    fills_left = refills_remaining if filled_before else original_refills_authorized + 1
    if filled_before and refills_remaining == 0:
        raise Invalid("No refills remain; there is nothing to transfer.", field="refills_remaining")
    used = original_refills_authorized + 1 - fills_left
    intake.origin = Origin.PHARMACY
    intake.refills_authorized = original_refills_authorized
    intake.electronic_original = electronic_original
    try:
        quantity = Decimal(str(intake.quantity))
    except ArithmeticError:
        quantity = Decimal(0)  # intake_problems names the field
    intake.dispensed_elsewhere = quantity * used if quantity > 0 else Decimal(0)
    with transaction.atomic():
        rx, fill = create_from_intake(
            intake,
            actor=actor,
            site=site,
            hold=hold,
            hold_reason=hold_reason,
            images=images,
            first_fill_number=used,
            fill_source=FillSource.TRANSFER,
        )
        row = _transfer_row(
            rx,
            TransferDirection.IN,
            other,
            pharmacist,
            original_refills_authorized=original_refills_authorized,
            refills_remaining=fills_left if not filled_before else refills_remaining,
            first_fill_date=first_fill_date,
            last_fill_date=last_fill_date,
            originally_filled_at=originally_filled_at.strip()[:300],
            shared_database=shared_database,
        )
        row.save()
        audit_record(
            actor=actor,
            action="rx.transfer.in",
            obj=rx,
            patient_id=rx.patient_id,
            data={
                **audit_data(rx),
                "transfer_id": row.pk,
                "from": row.pharmacy_name,
                "from_dea": row.pharmacy_dea,
                "refills_remaining": row.refills_remaining,
                "fill_id": fill.pk if fill else None,
            },
        )
    return rx


def transfer_out(
    *,
    actor: User,
    prescription: Prescription,
    other: OtherPharmacy,
    shared_database: bool = False,
    notes: str = "",
) -> Transfer:
    """Send a prescription to another pharmacy. It becomes inactive here ("transferred"),
    its waiting fills are cancelled, and the record keeps what the other pharmacy needs."""
    authorize(actor, Cap.RX_TRANSFER)
    own(actor, "prescription", prescription.site_id)
    pharmacist = _pharmacist(actor)
    with transaction.atomic():
        rx = (
            Prescription.objects.select_for_update(of=("self",))
            .select_related("site")
            .get(pk=prescription.pk)
        )
        if rx.status in (RxStatus.INACTIVE, RxStatus.TRANSFERRED):
            raise Conflict(
                f"Rx {rx.number} is {rx.get_status_display().lower()}; it cannot be transferred.",
                field="status",
            )
        today = rx.site.today()
        dispensed = list(
            rx.fills.filter(status__in=DISPENSED_FILLS).order_by("dispensed_on", "number")
        )
        # Refills left once the fills still waiting here are cancelled.
        per_fill = rx.quantity
        total = per_fill * (1 + rx.refills_authorized) - rx.dispensed_elsewhere
        used = sum((f.quantity for f in dispensed), Decimal(0))
        fills_left = int(((total - used) / per_fill).to_integral_value(rounding="ROUND_FLOOR"))
        has_been_filled = bool(dispensed) or rx.dispensed_elsewhere > 0
        refills_left = max(0, fills_left) if has_been_filled else max(0, fills_left - 1)
        decision = rules.transfer_allowed(
            schedule=schedule_of(rx),
            date_written=rx.date_written,
            today=today,
            has_been_filled=has_been_filled,
            refills_remaining=refills_left if has_been_filled else rx.refills_authorized,
            electronic=rx.origin == Origin.ELECTRONIC,
            already_transferred=rx.origin == Origin.PHARMACY or rx.transfers.exists(),
            shared_database=shared_database,
            state=state_rules(rx.site),
        )
        if not decision.allowed:
            raise Conflict(
                f"Rx {rx.number}: {decision.reason}", field="prescription", reason=decision.code
            )
        row = _transfer_row(
            rx,
            TransferDirection.OUT,
            other,
            pharmacist,
            original_refills_authorized=rx.refills_authorized,
            refills_remaining=refills_left,
            first_fill_date=dispensed[0].dispensed_on if dispensed else None,
            last_fill_date=dispensed[-1].dispensed_on if dispensed else None,
            shared_database=shared_database,
            notes=notes.strip()[:500],
        )
        row.save()
        cancelled = cancel_pending_fills(rx, "Prescription transferred out", actor=actor)
        status_set(
            rx,
            RxStatus.TRANSFERRED,
            note=f"Transferred to {row.pharmacy_name}",
            auto_refill=False,
        )
        audit_record(
            actor=actor,
            action="rx.transfer.out",
            obj=rx,
            patient_id=rx.patient_id,
            data={
                "transfer_id": row.pk,
                "to": row.pharmacy_name,
                "to_dea": row.pharmacy_dea,
                "refills_remaining": refills_left,
                "fills_cancelled": cancelled,
                "rule": decision.rule,
            },
        )
    return row
