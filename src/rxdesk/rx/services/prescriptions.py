"""Taking a prescription in, its scanned hard copy, and its status (hold, inactive)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.catalog.models import Package, Product
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid
from rxdesk.core.identifiers import dea_normalize, dea_parse
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize, full_clean
from rxdesk.patients.choices import PatientStatus
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx import days_supply as ds
from rxdesk.rx import rules
from rxdesk.rx.choices import (
    FillSource,
    FillStatus,
    FillStep,
    HoldReason,
    InactiveReason,
    Origin,
    QuantityUnit,
    RxStatus,
)
from rxdesk.rx.models import Fill, Prescription, PrescriptionImage
from rxdesk.rx.services.common import (
    PENDING_FILLS,
    next_rx_number,
    own,
    record,
    state_rules,
    status_set,
)
from rxdesk.rx.sig import SigError, SigResult, expand

register_actions(
    {
        "rx.created": "Prescription taken in",
        "rx.image.uploaded": "Prescription image uploaded",
        "rx.image.attached": "Prescription image attached",
        "rx.held": "Prescription put on hold",
        "rx.activated": "Prescription made active",
        "rx.inactivated": "Prescription made inactive",
    }
)

# A registration of a manufacturer, distributor or the like cannot write a prescription.
NON_PRESCRIBER_DEA_LETTERS = frozenset("PR")
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


@dataclass
class Intake:
    """What a prescription says, gathered from a typing screen, the API, an e-prescription
    or a transfer. Checked as a whole by :func:`intake_problems`."""

    patient: Patient
    prescriber: Prescriber
    product: Product
    origin: int
    quantity: Any
    quantity_unit: str
    days_supply: Any
    directions: str
    date_written: dt.date
    refills_authorized: Any = 0
    daw: int = 0
    package: Package | None = None
    drug_description: str = ""
    diagnosis_code: str = ""
    notes: str = ""
    do_not_fill_before: dt.date | None = None
    emergency_oral: bool = False
    auto_refill: bool = False
    prescriber_dea: str = ""
    ltc_facility: bool = False
    hospice: bool = False
    home_infusion: bool = False
    series_days_supply: int | None = None
    # Filled in by the e-prescription and transfer services only.
    electronic_original: bool = False
    prescriber_order_number: str = ""
    digitally_signed: bool = False
    dispensed_elsewhere: Decimal = Decimal(0)
    errors: list[dict[str, str]] = field(default_factory=list)

    def error(self, name: str, message: str) -> None:
        self.errors.append({"field": name, "message": message})


def _decimal(intake: Intake, name: str) -> Decimal | None:
    raw = getattr(intake, name)
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        intake.error(name, "Enter a number.")
        return None
    if not value.is_finite():
        intake.error(name, "Enter a number.")
        return None
    return value


def _whole(intake: Intake, name: str, low: int, high: int, label: str) -> int | None:
    raw = getattr(intake, name)
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        intake.error(name, f"{label} is a whole number.")
        return None
    if not low <= value <= high:
        intake.error(name, f"{label} must be from {low} to {high}.")
        return None
    return value


@dataclass(frozen=True)
class Checked:
    """An intake that passed: the numbers, the expanded directions and the warnings."""

    schedule: rules.Schedule
    quantity: Decimal
    days_supply: int
    refills: int
    sig_en: SigResult
    sig_es: SigResult | None
    days_supply_warning: str
    expires_on: dt.date | None


def computed_days_supply(
    sig: SigResult, quantity: Decimal, unit: str, package: Package | None
) -> ds.DaysSupply | None:
    """The days supply the directions and quantity give, or None when the directions carry
    no numbers (free text) or the units cannot be compared (tablets against grams)."""
    if sig.dose is None or sig.frequency_per_day is None or not sig.dose_unit:
        return None
    if unit not in QuantityUnit.values:
        return None
    dose, per_day, sides = sig.dose, sig.frequency_per_day, sig.site_count
    if sig.max_daily_doses is not None and sig.max_daily_doses < dose * per_day * sides:
        dose, per_day, sides = sig.max_daily_doses, Decimal(1), 1
    facts = ds.ProductFacts()
    if package is not None and package.billing_unit == QuantityUnit.ML:
        facts = ds.ProductFacts(package_ml=package.package_quantity)
    try:
        return ds.days_supply(
            ds.Directions(
                quantity=quantity,
                quantity_unit=ds.parse_unit({"EA": "each", "ML": "mL", "GM": "g"}[unit]),
                dose=dose,
                dose_unit=ds.parse_unit(sig.dose_unit),
                per_day=per_day,
                sides=sides,
                prn=sig.prn,
                duration_days=sig.duration_days,
                form=sig.dose_unit if unit == QuantityUnit.EACH else "tablet",
            ),
            facts,
        )
    except ds.DaysSupplyError:
        return None


def days_supply_warning(
    sig: SigResult, quantity: Decimal, unit: str, typed: int, package: Package | None
) -> str:
    """The typed days supply against the one the directions and quantity give, or ''."""
    computed = computed_days_supply(sig, quantity, unit, package)
    if computed is None:
        return ""
    try:
        check = ds.check_days_supply(typed, computed)
    except ds.DaysSupplyError:
        return ""
    return "" if check.ok else check.message[:400]


def intake_problems(intake: Intake, *, site: Site, today: dt.date) -> Checked:
    """Check everything a prescription says; raise :class:`Invalid` naming every bad field."""
    patient, prescriber, product, package = (
        intake.patient,
        intake.prescriber,
        intake.product,
        intake.package,
    )
    if patient.site_id != site.pk:
        intake.error("patient", "No such patient at this pharmacy.")
    elif patient.status != PatientStatus.ACTIVE:
        intake.error("patient", f"{patient.full_name} is {patient.get_status_display().lower()}.")
    if prescriber.site_id != site.pk:
        intake.error("prescriber", "No such prescriber at this pharmacy.")
    elif not prescriber.active:
        intake.error("prescriber", f"{prescriber.full_name} is marked inactive.")
    if package is not None and package.product_id != product.pk:
        intake.error("package", f"NDC {package.ndc10} is not a package of {product}.")
    try:
        schedule = rules.Schedule.from_code(product.dea_schedule)
    except rules.RuleError as exc:
        intake.error("product", exc.message)
        schedule = rules.Schedule.NONE
    if intake.origin not in Origin.values:
        intake.error("origin", "Choose how the prescription arrived (NCPDP origin 0–5).")
    if intake.quantity_unit not in QuantityUnit.values:
        intake.error("quantity_unit", "The quantity unit is EA, ML or GM.")
    elif package is not None and package.billing_unit != intake.quantity_unit:
        intake.error(
            "quantity_unit",
            f"NDC {package.ndc10} is counted in {package.billing_unit}, "
            f"not {intake.quantity_unit}.",
        )
    quantity = _decimal(intake, "quantity")
    days = _whole(intake, "days_supply", 1, 365, "The days supply")
    refills = _whole(intake, "refills_authorized", 0, 99, "Refills authorized")
    if intake.daw not in range(10):
        intake.error("daw", "The DAW code is a number from 0 to 9.")

    # The DEA registration must be the prescriber's and a prescriber's.
    written_dea = dea_normalize(intake.prescriber_dea or "")
    if written_dea and written_dea != prescriber.dea_number:
        on_file = prescriber.dea_number or "none on file"
        intake.error(
            "prescriber_dea",
            f"DEA number {written_dea} is not {prescriber.full_name}'s ({on_file}).",
        )
    if schedule.is_controlled and schedule is not rules.Schedule.CI:
        if not prescriber.dea_number:
            intake.error(
                "prescriber",
                f"{prescriber.full_name} has no DEA number on file; a {schedule.label} "
                "prescription needs the prescriber's DEA registration.",
            )
        elif dea_parse(prescriber.dea_number).registrant_letter in NON_PRESCRIBER_DEA_LETTERS:
            intake.error(
                "prescriber",
                f"DEA number {prescriber.dea_number} belongs to a manufacturer or distributor, "
                "not a prescriber.",
            )

    text = " ".join((intake.directions or "").split())
    sig_en = sig_es = None
    if not text:
        intake.error("directions", "Type the directions (sig codes or words).")
    else:
        try:
            sig_en = expand(text, language="en")
            sig_es = expand(text, language="es")
        except SigError as exc:
            intake.errors.extend(exc.errors)

    state = state_rules(site)
    if quantity is not None and refills is not None and intake.origin in Origin.values:
        try:
            found = rules.validate_new_prescription(
                schedule=schedule,
                origin=rules.Origin(intake.origin),
                refills_authorized=refills,
                date_written=intake.date_written,
                today=today,
                quantity=quantity,
                days_supply=days,
                emergency=intake.emergency_oral,
                do_not_fill_before=intake.do_not_fill_before,
                series_days_supply=intake.series_days_supply,
                ltc_facility=intake.ltc_facility,
                hospice=intake.hospice,
                home_infusion=intake.home_infusion,
                electronic_original=intake.electronic_original,
                state=state,
            )
        except rules.RuleError as exc:
            found = [rules.RuleProblem(exc.field, exc.message)]
        intake.errors.extend({"field": p.field, "message": p.message} for p in found)
    if intake.errors:
        # One message per field, in the order found.
        unique: dict[tuple[str, str], dict[str, str]] = {}
        for e in intake.errors:
            unique.setdefault((e["field"], e["message"]), e)
        raise Invalid(errors=list(unique.values()))
    assert quantity is not None and days is not None and refills is not None and sig_en
    warning = days_supply_warning(sig_en, quantity, intake.quantity_unit, days, package)
    return Checked(
        schedule=schedule,
        quantity=quantity,
        days_supply=days,
        refills=refills,
        sig_en=sig_en,
        sig_es=sig_es,
        days_supply_warning=warning,
        expires_on=rules.expires_on(
            schedule=schedule, date_written=intake.date_written, state=state
        ),
    )


def _description(product: Product, package: Package | None) -> str:
    name = str(product)
    return (f"{name} ({package.ndc10})" if package else name)[:200]


def create_from_intake(
    intake: Intake,
    *,
    actor: User | None,
    site: Site,
    hold: bool = False,
    hold_reason: str = "",
    images: tuple[PrescriptionImage, ...] = (),
    first_fill_number: int = 0,
    fill_source: str = FillSource.NEW,
    replaces: Prescription | None = None,
) -> tuple[Prescription, Fill | None]:
    """Create the prescription and, unless held, its first fill. Runs inside the caller's
    transaction, after its capability check; writes no audit event (the caller does)."""
    today = site.today()
    checked = intake_problems(intake, site=site, today=today)
    if hold and hold_reason not in HoldReason.values:
        raise Invalid("Say why the prescription is on hold.", field="hold_reason")
    now = timezone.now()
    rx = Prescription(
        site=site,
        number=0,
        patient=intake.patient,
        prescriber=intake.prescriber,
        product=intake.product,
        package=intake.package,
        drug_description=(intake.drug_description or _description(intake.product, intake.package))[
            :200
        ],
        schedule=checked.schedule.value,
        origin=intake.origin,
        status=RxStatus.ON_HOLD if hold else RxStatus.ACTIVE,
        hold_reason=hold_reason if hold else "",
        status_changed_at=now if hold else None,
        quantity=checked.quantity,
        quantity_unit=intake.quantity_unit,
        days_supply=checked.days_supply,
        directions=" ".join(intake.directions.split())[:500],
        directions_en=checked.sig_en.text[:1000],
        directions_es=(checked.sig_es.text if checked.sig_es else "")[:1000],
        directions_flags=[
            {"code": f.code.value, "message": f.message, "token": f.token}
            for f in checked.sig_en.flags
        ],
        needs_review=checked.sig_en.needs_review,
        days_supply_warning=checked.days_supply_warning,
        refills_authorized=checked.refills,
        daw=intake.daw,
        date_written=intake.date_written,
        expires_on=checked.expires_on,
        do_not_fill_before=intake.do_not_fill_before,
        emergency_oral=intake.emergency_oral,
        diagnosis_code=(intake.diagnosis_code or "").strip().upper(),
        notes=(intake.notes or "").strip(),
        auto_refill=intake.auto_refill,
        prescriber_order_number=intake.prescriber_order_number[:35],
        digitally_signed=intake.digitally_signed,
        dispensed_elsewhere=intake.dispensed_elsewhere,
        replaces=replaces,
        entered_by=actor,
        entered_at=now,
        updated_at=now,
    )
    # entered_by is None for the operator at the shell (e.g. the e-prescription drop folder).
    full_clean(
        rx,
        exclude=["site", "number", "patient", "prescriber", "product", "package", "entered_by"],
    )
    rx.number = next_rx_number(site)
    rx.save()
    image_ids = {image.pk for image in images}
    attached = PrescriptionImage.objects.filter(
        pk__in=image_ids, site=site, prescription__isnull=True
    ).update(prescription=rx)
    if attached != len(image_ids):
        # Rolled back with the whole intake by the caller's transaction.
        raise Invalid(
            "A scanned image is not available to attach (another pharmacy's, or already on "
            "a prescription); upload it again.",
            field="images",
        )
    fill = None
    if not hold:
        later = rx.do_not_fill_before is not None and rx.do_not_fill_before > today
        fill = Fill.objects.create(
            site=site,
            prescription=rx,
            number=first_fill_number,
            status=FillStatus.SCHEDULED if later else FillStatus.QUEUED,
            source=fill_source,
            quantity=rx.quantity,
            days_supply=rx.days_supply,
            fillable_on=rx.do_not_fill_before if later else None,
            requested_at=now,
            requested_by=actor,
        )
        record(fill, FillStep.ENTERED, actor=actor, data={"source": fill_source})
    return rx, fill


def audit_data(rx: Prescription) -> dict[str, Any]:
    """What an intake event records: the facts, not the clinical free text."""
    return {
        "number": rx.number,
        "origin": rx.origin,
        "product_id": rx.product_id,
        "package_id": rx.package_id,
        "prescriber_id": rx.prescriber_id,
        "schedule": rx.schedule,
        "quantity": str(rx.quantity),
        "quantity_unit": rx.quantity_unit,
        "days_supply": rx.days_supply,
        "refills_authorized": rx.refills_authorized,
        "daw": rx.daw,
        "date_written": rx.date_written.isoformat(),
        "status": rx.status,
        "needs_review": rx.needs_review,
    }


def prescription_create(
    *,
    actor: User,
    patient: Patient,
    prescriber: Prescriber,
    product: Product,
    origin: int,
    quantity: Any,
    quantity_unit: str,
    days_supply: Any,
    directions: str,
    date_written: dt.date,
    refills_authorized: Any = 0,
    daw: int = 0,
    package: Package | None = None,
    drug_description: str = "",
    diagnosis_code: str = "",
    notes: str = "",
    do_not_fill_before: dt.date | None = None,
    emergency_oral: bool = False,
    auto_refill: bool = False,
    prescriber_dea: str = "",
    ltc_facility: bool = False,
    hospice: bool = False,
    home_infusion: bool = False,
    hold: bool = False,
    hold_reason: str = "",
    images: tuple[PrescriptionImage, ...] = (),
) -> Prescription:
    """Take in a typed prescription (written, telephone, fax or electronic) and queue its
    first fill, or put it on hold. Every rule of its schedule is checked here."""
    authorize(actor, Cap.RX_ENTER)
    site = actor.site
    assert site is not None
    own(actor, "patient", patient.site_id)
    own(actor, "prescriber", prescriber.site_id)
    if origin == Origin.PHARMACY:
        raise Invalid(
            "A prescription from another pharmacy is taken in as a transfer, with the "
            "transferring pharmacy's details.",
            field="origin",
        )
    intake = Intake(
        patient=patient,
        prescriber=prescriber,
        product=product,
        origin=origin,
        quantity=quantity,
        quantity_unit=quantity_unit,
        days_supply=days_supply,
        directions=directions,
        date_written=date_written,
        refills_authorized=refills_authorized,
        daw=daw,
        package=package,
        drug_description=drug_description,
        diagnosis_code=diagnosis_code,
        notes=notes,
        do_not_fill_before=do_not_fill_before,
        emergency_oral=emergency_oral,
        auto_refill=auto_refill,
        prescriber_dea=prescriber_dea,
        ltc_facility=ltc_facility,
        hospice=hospice,
        home_infusion=home_infusion,
    )
    with transaction.atomic():
        rx, fill = create_from_intake(
            intake,
            actor=actor,
            site=site,
            hold=hold,
            hold_reason=hold_reason,
            images=tuple(images),
        )
        audit_record(
            actor=actor,
            action="rx.created",
            obj=rx,
            patient_id=rx.patient_id,
            data={
                **audit_data(rx),
                "fill_id": fill.pk if fill else None,
                "images": [i.pk for i in images],
            },
        )
    return rx


# --- Scanned hard copies -------------------------------------------------------------------


def _sniff(content: bytes) -> str | None:
    for magic, kind in IMAGE_SIGNATURES:
        if content.startswith(magic):
            return kind
    return None


def prescription_image_upload(
    *,
    actor: User,
    content: bytes,
    filename: str = "",
    prescription: Prescription | None = None,
) -> PrescriptionImage:
    """Keep a scan or fax of a prescription (PDF, PNG, JPEG or TIFF, at most 10 MB), shown
    beside the typing screen and attached to the prescription when it is saved."""
    authorize(actor, Cap.RX_ENTER)
    site = actor.site
    assert site is not None
    if prescription is not None:
        own(actor, "prescription", prescription.site_id)
    if not content:
        raise Invalid("The file is empty.", field="image")
    if len(content) > MAX_IMAGE_BYTES:
        raise Invalid("The file is larger than 10 MB; scan at a lower resolution.", field="image")
    kind = _sniff(content)
    if kind is None:
        raise Invalid("Upload a PDF, PNG, JPEG or TIFF scan.", field="image")
    with transaction.atomic():
        image = PrescriptionImage.objects.create(
            site=site,
            prescription=prescription,
            content=content,
            content_type=kind,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            filename=(filename or "")[-200:],
            uploaded_by=actor,
        )
        audit_record(
            actor=actor,
            action="rx.image.uploaded",
            obj=image,
            patient_id=prescription.patient_id if prescription else None,
            data={
                "prescription_id": prescription.pk if prescription else None,
                "content_type": kind,
                "size": len(content),
                "sha256": image.sha256,
            },
        )
    return image


# --- Status ----------------------------------------------------------------------------------


def _locked(rx: Prescription) -> Prescription:
    return Prescription.objects.select_for_update(of=("self",)).select_related("site").get(pk=rx.pk)


def cancel_pending_fills(rx: Prescription, reason: str, *, actor: User | None) -> list[int]:
    """Cancel the fills of a locked prescription that are waiting and not yet filled. A
    fill already counted out (waiting for final verification or in will-call) must be
    returned to stock first: refused, naming it."""
    counted = rx.fills.filter(status__in=(FillStatus.FILLED, FillStatus.READY)).first()
    if counted is not None:
        raise Conflict(
            f"Fill {rx.number}-{counted.number} is {counted.get_status_display().lower()}; "
            "return it to stock first.",
            field="prescription",
        )
    cancelled = []
    for fill in rx.fills.filter(status__in=PENDING_FILLS).order_by("number"):
        before = fill.status
        fill.status, fill.cancel_reason = FillStatus.CANCELLED, reason[:200]
        fill.save(update_fields=["status", "cancel_reason"])
        record(fill, FillStep.CANCELLED, actor=actor, from_status=before, reason=reason)
        cancelled.append(fill.pk)
    return cancelled


def prescription_hold(
    *, actor: User, prescription: Prescription, reason: str, note: str = ""
) -> Prescription:
    """Put an active prescription on hold (profiled, patient wants it later, waiting on the
    prescriber or a prior authorization, out of stock); fills not yet made wait too."""
    authorize(actor, Cap.RX_ENTER)
    own(actor, "prescription", prescription.site_id)
    if reason not in HoldReason.values:
        raise Invalid("Say why the prescription is on hold.", field="reason")
    with transaction.atomic():
        rx = _locked(prescription)
        if rx.status != RxStatus.ACTIVE:
            raise Conflict(
                f"Rx {rx.number} is {rx.get_status_display().lower()}; only an active "
                "prescription can be put on hold.",
                field="status",
            )
        cancelled = cancel_pending_fills(rx, "Prescription put on hold", actor=actor)
        status_set(rx, RxStatus.ON_HOLD, hold_reason=reason, note=note)
        audit_record(
            actor=actor,
            action="rx.held",
            obj=rx,
            patient_id=rx.patient_id,
            data={"reason": reason, "fills_cancelled": cancelled},
        )
    return rx


def prescription_activate(*, actor: User, prescription: Prescription) -> Prescription:
    """Take a prescription off hold. Filling it is a separate request (a refill request)."""
    authorize(actor, Cap.RX_ENTER)
    own(actor, "prescription", prescription.site_id)
    with transaction.atomic():
        rx = _locked(prescription)
        if rx.status != RxStatus.ON_HOLD:
            raise Conflict(
                f"Rx {rx.number} is {rx.get_status_display().lower()}, not on hold.",
                field="status",
            )
        status_set(rx, RxStatus.ACTIVE)
        audit_record(actor=actor, action="rx.activated", obj=rx, patient_id=rx.patient_id)
    return rx


def inactivate(rx: Prescription, *, actor: User | None, reason: str, note: str = "") -> list[int]:
    """Inactivate a locked prescription and cancel its pending fills (no audit)."""
    cancelled = cancel_pending_fills(rx, InactiveReason(reason).label, actor=actor)
    status_set(rx, RxStatus.INACTIVE, inactive_reason=reason, note=note, auto_refill=False)
    return cancelled


def prescription_inactivate(
    *, actor: User, prescription: Prescription, reason: str, note: str = ""
) -> Prescription:
    """Stop a prescription (discontinued, patient request, entered in error…): no more
    fills, and the fills still waiting are cancelled."""
    authorize(actor, Cap.RX_ENTER)
    own(actor, "prescription", prescription.site_id)
    if reason not in InactiveReason.values or reason in (
        InactiveReason.CANCELLED_ERX,
        InactiveReason.REPLACED,
        InactiveReason.RENEWAL_DENIED,
    ):
        raise Invalid("Say why: discontinued, patient request or entered in error.", field="reason")
    with transaction.atomic():
        rx = _locked(prescription)
        if rx.status in (RxStatus.INACTIVE, RxStatus.TRANSFERRED):
            raise Conflict(
                f"Rx {rx.number} is already {rx.get_status_display().lower()}.", field="status"
            )
        cancelled = inactivate(rx, actor=actor, reason=reason, note=note)
        audit_record(
            actor=actor,
            action="rx.inactivated",
            obj=rx,
            patient_id=rx.patient_id,
            data={"reason": reason, "fills_cancelled": cancelled},
        )
    return rx
