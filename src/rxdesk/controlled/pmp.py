"""The database's fills as ASAP 4.2 dispensing records: the one place that knows both the
tables (rx, patients, claims, pos) and the file's dataclasses (rxdesk.controlled.asap).

What is reported (reference ``controlled-substances.md`` §6): every fill of a controlled
substance — the prescription's schedule snapshot, else the schedule in force of the product
written or dispensed, CII–CV — counted out on the day (``Fill.dispensed_on``, "date filled")
and still filled, in will-call or sold. A fill returned to stock, sent back or cancelled
never left the pharmacy and is not reported; reported earlier, it is voided (§8.2).

Elements filled, ASAP 4.2:

* PHA — NPI, NCPDP ID, DEA number, name, address, phone of the site (all required here);
* PAT — name, date of birth, gender, address (required), phone where known, and a
  driver's licence, state ID or passport on file as the patient ID;
* DSP — status, Rx number, date written, refills authorized, date filled, fill number, NDC,
  quantity, days supply, unit, transmission form of the prescription's origin, partial
  fill, the verifying pharmacist's licence (DSP15; staff have no NPI on file, so DSP14 stays
  empty), payment type, date sold;
* PRE — NPI, DEA number (required for a controlled prescription), suffix, licence, name;
* AIR — the ID shown at pickup, when one was recorded;
* CDI — never: rxdesk has no compounds yet, so every dispensing is an NDC (DSP07 = 01).

Missing required data is collected for the whole file and raised as one
:class:`~rxdesk.core.errors.Invalid` naming every gap ("site.dea_number",
"patient.12.address_line1", …): no file is made from half the data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db.models import Q, QuerySet

from rxdesk.catalog.models import Package, Product
from rxdesk.claims.choices import BillingMode, ClaimStatus
from rxdesk.claims.models import Claim, FillBilling
from rxdesk.controlled import asap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import Site
from rxdesk.patients.choices import CoverageKind, IdentifierKind, Sex
from rxdesk.patients.models import Patient, PatientIdentifier, Prescriber
from rxdesk.pos.choices import DeliveryStatus, IdType, PickupPerson, SaleStatus
from rxdesk.pos.models import Delivery, Pickup, SaleLine
from rxdesk.rx.choices import FillStatus, Origin
from rxdesk.rx.models import Fill, Prescription

VERSION = asap.AsapVersion.V4_2
REPORTED_SCHEDULES = ("CII", "CIII", "CIV", "CV")
# Counted out and not (yet) put back: what a PMP hears about.
REPORTABLE = (FillStatus.FILLED, FillStatus.READY, FillStatus.DISPENSED)

_UNITS: dict[str, str] = {"EA": asap.Unit.EACH, "ML": asap.Unit.MILLILITERS, "GM": asap.Unit.GRAMS}
_ORIGINS: dict[int, str] = {
    Origin.NOT_KNOWN: asap.RxOrigin.OTHER,
    Origin.WRITTEN: asap.RxOrigin.WRITTEN,
    Origin.TELEPHONE: asap.RxOrigin.TELEPHONE,
    Origin.ELECTRONIC: asap.RxOrigin.ELECTRONIC,
    Origin.FACSIMILE: asap.RxOrigin.FAX,
    Origin.PHARMACY: asap.RxOrigin.TRANSFERRED,
}
_GENDERS: dict[str, str] = {Sex.FEMALE: asap.Gender.FEMALE, Sex.MALE: asap.Gender.MALE}
# The patient IDs a PMP takes (PAT02), best first.
_PATIENT_IDS: dict[str, str] = {
    IdentifierKind.DRIVERS_LICENSE: asap.PatientIdQualifier.DRIVERS_LICENSE,
    IdentifierKind.STATE_ID: asap.PatientIdQualifier.STATE_ID,
    IdentifierKind.PASSPORT: asap.PatientIdQualifier.PASSPORT,
}
_PICKUP_IDS: dict[str, str] = {
    IdType.DRIVERS_LICENSE: asap.PatientIdQualifier.DRIVERS_LICENSE,
    IdType.STATE_ID: asap.PatientIdQualifier.STATE_ID,
    IdType.PASSPORT: asap.PatientIdQualifier.PASSPORT,
    IdType.MILITARY_ID: asap.PatientIdQualifier.MILITARY_ID,
    IdType.TRIBAL_ID: asap.PatientIdQualifier.TRIBAL_ID,
}
# AIR06, relationship of the person picking up (the reference marks the list unverified).
AIR_PATIENT, AIR_PARENT, AIR_SPOUSE, AIR_CAREGIVER, AIR_OTHER = "01", "02", "03", "04", "99"
AIR_PICKING_UP = "01"
_PARENT_WORDS = ("parent", "mother", "father", "mom", "dad", "guardian")
_SPOUSE_WORDS = ("spouse", "wife", "husband", "partner")
_DEAD_CLAIMS = (ClaimStatus.REVERSED, ClaimStatus.CLOSED, ClaimStatus.REJECTED)


def controlled_fills() -> Q:
    """A fill of a CII–CV drug: the prescription's schedule when taken in, else the schedule
    in force (state override, else the FDA directory) of the product written or dispensed."""

    def product(path: str) -> Q:
        return Q(**{f"{path}__dea_schedule_override__in": REPORTED_SCHEDULES}) | Q(
            **{
                f"{path}__dea_schedule_override": "",
                f"{path}__directory_dea_schedule__in": REPORTED_SCHEDULES,
            }
        )

    return (
        Q(prescription__schedule__in=REPORTED_SCHEDULES)
        | product("prescription__product")
        | product("package__product")
    )


def reportable_fills(site: Site, state: str, start: dt.date, end: dt.date) -> QuerySet[Fill]:
    """The fills a PMP of ``state`` hears about for ``start``–``end``: the site's controlled
    fills counted out on those days and not put back. The home state gets every one; another
    state (a non-resident pharmacy's duty, §6.4) those of its residents."""
    fills = Fill.objects.filter(
        controlled_fills(),
        site=site,
        status__in=REPORTABLE,
        dispensed_on__gte=start,
        dispensed_on__lte=end,
    )
    if state != site.state:
        fills = fills.filter(prescription__patient__state=state)
    return fills.select_related(
        "package__product",
        "verified_by",
        "prescription__patient",
        "prescription__prescriber",
        "prescription__product",
        "prescription__package",
    ).order_by("dispensed_on", "prescription__number", "number")


def schedule_of(fill: Fill) -> str:
    """The fill's schedule as reported (its prescription's, else its product's in force)."""
    rx = fill.prescription
    for code in (rx.schedule, rx.product.dea_schedule, _product_schedule(fill.package)):
        if code in REPORTED_SCHEDULES:
            return code
    return ""


def _product_schedule(package: Package | None) -> str:
    product: Product | None = package.product if package is not None else None
    return product.dea_schedule if product is not None else ""


# --- Gaps in the data -------------------------------------------------------------------------


@dataclass
class Gaps:
    """Missing required data, gathered over a whole file: ``field`` names the row and
    column ("patient.12.date_of_birth"), the message says it in words."""

    errors: list[dict[str, str]] = field(default_factory=list)

    def add(self, field_name: str, message: str) -> None:
        if all(e["field"] != field_name for e in self.errors):
            self.errors.append({"field": field_name, "message": message})

    def check(self) -> None:
        if self.errors:
            raise Invalid(
                "The PMP file cannot be made: "
                + "; ".join(e["message"] for e in self.errors[:10])
                + (f"; and {len(self.errors) - 10} more" if len(self.errors) > 10 else "")
                + ". Complete the records and make the file again.",
                errors=self.errors,
            )


def _text(value: str) -> str:
    return asap.clean_text(value or "")


def _digits(value: str) -> str:
    return "".join(ch for ch in (value or "") if ch.isascii() and ch.isdigit())


def _ten_digits(value: str) -> bool:
    return bool(re.fullmatch(r"\d{10}", value or ""))


# --- PHA and IS: the pharmacy -----------------------------------------------------------------


def pharmacy_of(site: Site, gaps: Gaps) -> tuple[asap.InformationSource, asap.Pharmacy]:
    """IS and PHA of the site; each required identifier or address part missing is a gap."""
    required = (
        ("npi", "NPI", site.npi),
        ("ncpdp_id", "NCPDP provider ID", site.ncpdp_id),
        ("dea_number", "DEA registration", site.dea_number),
        ("name", "name", _text(site.name)),
        ("address_line1", "street address", _text(site.address_line1)),
        ("city", "city", _text(site.city)),
        ("state", "state", site.state),
        ("postal_code", "ZIP code", _digits(site.postal_code)),
        ("phone", "phone number", _digits(site.phone)),
    )
    for column, words, value in required:
        if not value:
            gaps.add(f"site.{column}", f"the pharmacy's {words} is not on file (Site settings)")
    if site.npi and not _ten_digits(site.npi):
        gaps.add("site.npi", f"the pharmacy's NPI {site.npi!r} is not 10 digits")
    pharmacy = asap.Pharmacy(
        npi=site.npi if _ten_digits(site.npi) else "",
        ncpdp=_text(site.ncpdp_id),
        dea=_text(site.dea_number),
        name=_text(site.name),
        address1=_text(site.address_line1),
        address2=_text(site.address_line2),
        city=_text(site.city),
        state=_text(site.state),
        zip=_digits(site.postal_code),
        phone=_digits(site.phone),
    )
    source = asap.InformationSource(
        id=pharmacy.ncpdp or pharmacy.dea or "RXDESK", name=pharmacy.name or "RXDESK"
    )
    return source, pharmacy


# --- PAT: the patient -------------------------------------------------------------------------


def patient_of(
    patient: Patient, identifiers: Sequence[PatientIdentifier], gaps: Gaps
) -> asap.Patient:
    who = f"patient {patient.pk} ({patient.last_name}, {patient.first_name})"
    prefix = f"patient.{patient.pk}"
    last, first = _text(patient.last_name), _text(patient.first_name)
    if not last:
        gaps.add(f"{prefix}.last_name", f"{who}: the last name has no letters a PMP file takes")
    if not first:
        gaps.add(f"{prefix}.first_name", f"{who}: the first name has no letters a PMP file takes")
    if patient.date_of_birth is None:
        gaps.add(f"{prefix}.date_of_birth", f"{who}: date of birth is missing")
    for column, words, value in (
        ("address_line1", "street address", _text(patient.address_line1)),
        ("city", "city", _text(patient.city)),
        ("state", "state", patient.state),
        ("postal_code", "ZIP code", _digits(patient.postal_code)),
    ):
        if not value:
            gaps.add(f"{prefix}.{column}", f"{who}: {words} is missing")
    jurisdiction, qualifier, number = "", "", ""
    ranked = sorted(
        (i for i in identifiers if i.kind in _PATIENT_IDS and _text(i.value)),
        key=lambda i: list(_PATIENT_IDS).index(i.kind),
    )
    if ranked:
        best = ranked[0]
        issuer = _text(best.issuer)
        jurisdiction = issuer if len(issuer) == 2 and issuer.isalpha() else ""
        qualifier, number = _PATIENT_IDS[best.kind], _text(best.value)
    phone = next(
        (p for p in (patient.phone_mobile, patient.phone_home, patient.phone_work) if p), ""
    )
    return asap.Patient(
        id_jurisdiction=jurisdiction,
        id_qualifier=qualifier,
        id=number,
        last_name=last,
        first_name=first,
        middle_name=_text(patient.middle_name),
        name_suffix=_text(patient.suffix),
        address1=_text(patient.address_line1),
        address2=_text(patient.address_line2),
        city=_text(patient.city),
        state=_text(patient.state),
        zip=_digits(patient.postal_code),
        phone=_digits(phone),
        birth_date=patient.date_of_birth,
        gender=_GENDERS.get(patient.sex, asap.Gender.UNKNOWN),
        species=asap.Species.HUMAN,
    )


# --- PRE: the prescriber ----------------------------------------------------------------------


def prescriber_of(prescriber: Prescriber, gaps: Gaps) -> asap.Prescriber:
    who = f"prescriber {prescriber.pk} ({prescriber.last_name}, {prescriber.first_name})"
    prefix = f"prescriber.{prescriber.pk}"
    if not _ten_digits(prescriber.npi):
        gaps.add(f"{prefix}.npi", f"{who}: the NPI is missing or not 10 digits")
    if not prescriber.dea_number:
        gaps.add(
            f"{prefix}.dea_number",
            f"{who}: no DEA number on file, which a controlled prescription needs",
        )
    return asap.Prescriber(
        npi=prescriber.npi if _ten_digits(prescriber.npi) else "",
        dea=_text(prescriber.dea_number),
        dea_suffix=_text(prescriber.dea_suffix),
        license=_text(prescriber.state_license),
        last_name=_text(prescriber.last_name),
        first_name=_text(prescriber.first_name),
        middle_name=_text(prescriber.middle_name),
    )


# --- DSP: the dispensing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Extras:
    """What the fill rows do not hold, loaded once for a file's fills: payment, pickups,
    patients' IDs, and each prescription's counted fills (for DSP13)."""

    payment: dict[int, str]
    pickups: dict[int, Pickup]
    identifiers: dict[int, list[PatientIdentifier]]
    counted: dict[int, list[Fill]]


def extras_for(fills: Sequence[Fill]) -> Extras:
    fill_ids = [f.pk for f in fills]
    patient_ids = {f.prescription.patient_id for f in fills}
    identifiers: dict[int, list[PatientIdentifier]] = {}
    for ident in PatientIdentifier.objects.filter(patient_id__in=patient_ids).order_by("pk"):
        identifiers.setdefault(ident.patient_id, []).append(ident)
    counted: dict[int, list[Fill]] = {}
    rx_ids = {f.prescription_id for f in fills}
    for sibling in Fill.objects.filter(
        prescription_id__in=rx_ids, status__in=REPORTABLE, dispensed_on__isnull=False
    ).order_by("number", "pk"):
        counted.setdefault(sibling.prescription_id, []).append(sibling)
    return Extras(
        payment=_payments(fill_ids, identifiers, fills),
        pickups=_pickups(fill_ids),
        identifiers=identifiers,
        counted=counted,
    )


def _payments(
    fill_ids: list[int], identifiers: dict[int, list[PatientIdentifier]], fills: Sequence[Fill]
) -> dict[int, str]:
    """DSP16 per fill, as far as the data tells: billed cash (or never billed) is private
    pay; a live claim of the first payer is commercial insurance, or Medicaid / Medicare
    when its card's member ID is the patient's Medicaid ID / Medicare beneficiary ID on file
    (plans carry no program type); an assistance program or coupon alone is "other"."""
    patient_of_fill = {f.pk: f.prescription.patient_id for f in fills}
    cash = set(
        FillBilling.objects.filter(fill_id__in=fill_ids, mode=BillingMode.CASH).values_list(
            "fill_id", flat=True
        )
    )
    first_claim: dict[int, Claim] = {}
    for live in (
        Claim.objects.filter(fill_id__in=fill_ids)
        .exclude(status__in=_DEAD_CLAIMS)
        .select_related("coverage")
        .order_by("payer_rank", "pk")
    ):
        first_claim.setdefault(live.fill_id, live)
    out: dict[int, str] = {}
    for fill_id in fill_ids:
        claim = first_claim.get(fill_id)
        if fill_id in cash or claim is None:
            out[fill_id] = asap.PaymentType.PRIVATE_PAY
            continue
        coverage = claim.coverage
        member = coverage.member_id.strip().upper()
        ids = {
            i.kind: i.value.strip().upper()
            for i in identifiers.get(patient_of_fill[fill_id], [])
            if i.kind in (IdentifierKind.MEDICAID, IdentifierKind.MEDICARE_MBI)
        }
        if member and ids.get(IdentifierKind.MEDICAID) == member:
            out[fill_id] = asap.PaymentType.MEDICAID
        elif member and ids.get(IdentifierKind.MEDICARE_MBI) == member:
            out[fill_id] = asap.PaymentType.MEDICARE
        elif coverage.kind == CoverageKind.PLAN:
            out[fill_id] = asap.PaymentType.COMMERCIAL_INSURANCE
        else:
            out[fill_id] = asap.PaymentType.OTHER
    return out


def _pickups(fill_ids: list[int]) -> dict[int, Pickup]:
    """The pickup record of each sold fill: a completed sale's, or a delivered delivery's."""
    out: dict[int, Pickup] = {}
    for line in (
        SaleLine.objects.filter(
            fill_id__in=fill_ids, sale__status=SaleStatus.COMPLETED, sale__pickup__isnull=False
        )
        .select_related("sale__pickup")
        .order_by("sale_id")
    ):
        assert line.fill_id is not None
        out[line.fill_id] = line.sale.pickup
    for delivery in (
        Delivery.objects.filter(
            fills__in=fill_ids, status=DeliveryStatus.DELIVERED, pickup__isnull=False
        )
        .select_related("pickup")
        .prefetch_related("fills")
        .order_by("pk")
        .distinct()
    ):
        for fill in delivery.fills.all():
            if fill.pk in fill_ids:
                out.setdefault(fill.pk, delivery.pickup)
    return out


def _relationship(pickup: Pickup) -> str:
    if pickup.person == PickupPerson.PATIENT:
        return AIR_PATIENT
    words = pickup.relationship.lower()
    if any(w in words for w in _PARENT_WORDS):
        return AIR_PARENT
    if any(w in words for w in _SPOUSE_WORDS):
        return AIR_SPOUSE
    return AIR_CAREGIVER if pickup.person == PickupPerson.CAREGIVER else AIR_OTHER


def additional_of(pickup: Pickup | None) -> asap.AdditionalInfo | None:
    """AIR: the ID shown by whoever picked up, when one was recorded (state ID-at-pickup
    rules, §4.5); no AIR otherwise."""
    if pickup is None or not pickup.id_type or not _text(pickup.id_number):
        return None
    first, _, last = _text(pickup.person_name).rpartition(" ")
    jurisdiction = _text(pickup.id_state)
    return asap.AdditionalInfo(
        id_jurisdiction=jurisdiction if len(jurisdiction) == 2 else "",
        id_qualifier=_PICKUP_IDS.get(pickup.id_type, asap.PatientIdQualifier.OTHER),
        id=_text(pickup.id_number),
        relationship=_relationship(pickup),
        last_name=last,
        first_name=first,
        drop_off_pick_up=AIR_PICKING_UP,
    )


def partial_fill_of(fill: Fill, schedule: str, counted: Sequence[Fill]) -> str:
    """DSP13. Schedule II: when the prescription's first dispensing was less than written
    (21 CFR 1306.13), each of its dispensings is a numbered partial (01, 02 …); otherwise
    00. Schedules III–V: a fill with a partial-fill reason or less than the written quantity
    is a partial (01) — each refill is its own dispensing (1306.23)."""
    rx = fill.prescription
    if schedule == "CII":
        first = counted[0] if counted else fill
        if not (first.partial_reason or first.quantity < rx.quantity):
            return "00"
        numbers = [f.pk for f in counted]
        position = numbers.index(fill.pk) + 1 if fill.pk in numbers else len(numbers) + 1
        return f"{min(position, 99):02d}"
    return "01" if fill.partial_reason or fill.quantity < rx.quantity else "00"


def dispensing_of(
    fill: Fill, status: str, extras: Extras, site: Site, gaps: Gaps
) -> tuple[asap.Patient, asap.Dispensing]:
    """PAT and DSP (with PRE and AIR) of one fill; gaps for what is missing."""
    rx: Prescription = fill.prescription
    prefix = f"fill.{fill.pk}"
    label = f"Rx {rx.number}-{fill.number}"
    package = fill.package
    if package is None:
        gaps.add(f"{prefix}.package", f"{label}: the NDC dispensed is not recorded")
    if fill.dispensed_on is None:
        gaps.add(f"{prefix}.dispensed_on", f"{label}: the date filled is not recorded")
    unit = _UNITS.get(package.billing_unit if package is not None else rx.quantity_unit, "")
    pharmacist = fill.verified_by
    sold = (
        fill.sold_at.astimezone(site.tz).date()
        if fill.status == FillStatus.DISPENSED and fill.sold_at is not None
        else None
    )
    origin = _ORIGINS.get(rx.origin, asap.RxOrigin.OTHER)
    if rx.emergency_oral and rx.origin == Origin.TELEPHONE:
        origin = asap.RxOrigin.TELEPHONE_EMERGENCY
    dispensing = asap.Dispensing(
        status=status,
        rx_number=str(rx.number),
        date_written=rx.date_written,
        refills_authorized=rx.refills_authorized,
        date_filled=fill.dispensed_on or site.today(),
        fill_number=fill.number,
        ndc=package.ndc11 if package is not None else "",
        quantity=Decimal(fill.quantity),
        days_supply=fill.days_supply,
        unit=unit,
        origin=origin,
        partial_fill=partial_fill_of(fill, schedule_of(fill), extras.counted.get(rx.pk, [])),
        pharmacist_license=_text(pharmacist.pharmacist_license) if pharmacist else "",
        payment_type=extras.payment.get(fill.pk, asap.PaymentType.PRIVATE_PAY),
        date_sold=sold,
        prescriber=prescriber_of(rx.prescriber, gaps),
        additional=additional_of(extras.pickups.get(fill.pk)),
    )
    patient = patient_of(rx.patient, extras.identifiers.get(rx.patient_id, []), gaps)
    return patient, dispensing


def voided(original: asap.Dispensing) -> asap.Dispensing:
    """The void of a dispensing as it was reported: the same Rx number, fill date, fill
    number, NDC and quantity (§6.3, DSP01 = 02); who picked it up no longer matters."""
    return replace(original, status=asap.ReportingStatus.VOID, additional=None)


def find_reported(
    content: str, rx_number: int, fill_number: int
) -> tuple[asap.Patient, asap.Dispensing] | None:
    """The patient and new dispensing record of Rx ``rx_number``-``fill_number`` in a kept
    file, read back from its text (so a void repeats exactly what the state was told)."""
    try:
        parsed = asap.read(content)
    except asap.AsapError:
        return None
    for report in parsed.pharmacies:
        for patient_report in report.patients:
            for d in patient_report.dispensings:
                if (
                    d.status == asap.ReportingStatus.NEW
                    and d.rx_number == str(rx_number)
                    and d.fill_number == fill_number
                ):
                    return patient_report.patient, d
    return None


def group(items: Iterable[tuple[asap.Patient, asap.Dispensing]]) -> tuple[asap.PatientReport, ...]:
    """PAT segments each with their dispensings, a patient written once (in order of first
    appearance) when the same details recur."""
    by_patient: dict[asap.Patient, list[asap.Dispensing]] = {}
    for patient, dispensing in items:
        by_patient.setdefault(patient, []).append(dispensing)
    return tuple(
        asap.PatientReport(patient=p, dispensings=tuple(ds)) for p, ds in by_patient.items()
    )


def build(
    *,
    site: Site,
    control_number: str,
    created: dt.datetime,
    items: Sequence[tuple[asap.Patient, asap.Dispensing]],
    start: dt.date,
    end: dt.date,
    gaps: Gaps,
) -> str:
    """The file's text: the dispensings given, or a zero report for ``start``–``end`` when
    there are none. Raises the gaps (Invalid) before anything is written."""
    source, pharmacy = pharmacy_of(site, gaps)
    gaps.check()
    if not items:
        file = asap.zero_report(
            source=source,
            pharmacy=pharmacy,
            start=start,
            end=end,
            control_number=control_number,
            created=created,
            version=VERSION,
        )
    else:
        file = asap.AsapFile(
            version=VERSION,
            control_number=control_number,
            created=created,
            production=True,
            source=source,
            pharmacies=(asap.PharmacyReport(pharmacy=pharmacy, patients=group(items)),),
        )
    return asap.write(file)
