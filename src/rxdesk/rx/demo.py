"""The demo pharmacy's prescriptions: new ones waiting in the queue, refills due and asked
too soon, a controlled substance of each kind, free-text directions for the pharmacist, a
held one, transfers in and out, and an e-prescription inbox.

Prescriptions are taken in through the services. Their past dispensings are written as
history rows: the dispensing service belongs to the fill workflow (issue 6); until it
lands, the demo's fill history is data, like an imported profile from a previous system."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx import services
from rxdesk.rx.choices import FillStatus, Origin
from rxdesk.rx.models import Fill, Prescription


@dataclass(frozen=True)
class DemoRx:
    patient: str  # last name
    prescriber: str  # last name
    generic: str  # as in the demo catalog
    directions: str
    quantity: str
    days_supply: int
    refills: int
    written_days_ago: int
    dispensed_days_ago: tuple[int, ...] = ()
    origin: int = Origin.ELECTRONIC
    hold: str = ""
    auto_refill: bool = False
    refill_request: bool = False
    notes: str = ""


DEMO_PRESCRIPTIONS = [
    DemoRx(
        "Garcia",
        "Okafor",
        "AMLODIPINE BESYLATE",
        "1 T PO DAILY",
        "30",
        30,
        5,
        62,
        (60, 30),
        auto_refill=True,
    ),
    DemoRx(
        "Smith",
        "Lindqvist",
        "ATORVASTATIN CALCIUM",
        "1 T PO QHS",
        "90",
        90,
        3,
        100,
        (95,),
        refill_request=True,
    ),
    DemoRx(
        "Johnson",
        "Becker",
        "Amoxicillin",
        "1 CAP PO TID X10D",
        "30",
        10,
        0,
        0,
        origin=Origin.WRITTEN,
    ),
    DemoRx(
        "Chen",
        "Rahman",
        "Alprazolam",
        "1 T PO BID PRN ANXIETY",
        "60",
        30,
        2,
        12,
        (10,),
        refill_request=True,
    ),
    DemoRx(
        "Miller",
        "Rahman",
        "Methylphenidate hydrochloride",
        "1 T PO BID",
        "60",
        30,
        0,
        1,
        origin=Origin.ELECTRONIC,
    ),
    DemoRx(
        "O'Neill",
        "Lindqvist",
        "warfarin sodium",
        "Take as directed by the anticoagulation clinic",
        "30",
        30,
        2,
        3,
        (),
        origin=Origin.FACSIMILE,
        hold="waiting_prescriber",
        notes="Dose depends on this week's INR; clinic to call back.",
    ),
    DemoRx(
        "Hernández",
        "Whitaker",
        "Azithromycin",
        "2 T PO DAILY X1D",
        "2",
        1,
        0,
        0,
        origin=Origin.TELEPHONE,
    ),
    DemoRx("Washington", "Okafor", "Allopurinol", "1 T PO DAILY", "30", 30, 11, 40, (38,)),
]


def _package(generic: str) -> Package | None:
    """The demo stock room's package (tablets or capsules) of ``generic`` when it holds one,
    else the smallest."""
    from rxdesk.inventory.models import StockBalance

    packages = Package.objects.filter(
        product__generic_name__iexact=generic, active=True, billing_unit="EA"
    ).select_related("product")
    stocked = packages.filter(
        pk__in=StockBalance.objects.filter(on_hand__gt=0).values("package_id")
    ).order_by("ndc11")
    return stocked.first() or packages.order_by("package_quantity", "ndc11").first()


def _record_history(rx: Prescription, days_ago: tuple[int, ...], today: dt.date) -> None:
    """Past dispensings as history rows (see the module docstring)."""
    fills = list(rx.fills.order_by("number"))
    for n, ago in enumerate(days_ago):
        day = today - dt.timedelta(days=ago)
        if n < len(fills):
            Fill.objects.filter(pk=fills[n].pk).update(
                status=FillStatus.DISPENSED, dispensed_on=day, dispensed_at=timezone.now()
            )
        else:
            Fill.objects.create(
                site=rx.site,
                prescription=rx,
                number=n,
                status=FillStatus.DISPENSED,
                source="phone",
                quantity=rx.quantity,
                days_supply=rx.days_supply,
                dispensed_on=day,
                dispensed_at=timezone.now(),
                requested_by=rx.entered_by,
            )


def demo_rx_load(site: Site) -> int:
    """Take in the demo prescriptions once; return how many were created."""
    if Prescription.objects.filter(site=site).exists():
        return 0
    tech = User.objects.get(site=site, username="tech")
    rph = User.objects.get(site=site, username="pharmacist")
    today = site.today()
    created = 0
    with transaction.atomic():
        for spec in DEMO_PRESCRIPTIONS:
            package = _package(spec.generic)
            patient = Patient.objects.filter(site=site, last_name=spec.patient).first()
            prescriber = Prescriber.objects.filter(site=site, last_name=spec.prescriber).first()
            if package is None or patient is None or prescriber is None:
                continue
            rx = services.prescription_create(
                actor=tech,
                patient=patient,
                prescriber=prescriber,
                product=package.product,
                package=package,
                origin=spec.origin,
                quantity=Decimal(spec.quantity),
                quantity_unit=package.billing_unit,
                days_supply=spec.days_supply,
                directions=spec.directions,
                date_written=today - dt.timedelta(days=spec.written_days_ago),
                refills_authorized=spec.refills,
                notes=spec.notes,
                auto_refill=spec.auto_refill,
                hold=bool(spec.hold),
                hold_reason=spec.hold,
            )
            created += 1
            if spec.dispensed_days_ago:
                _record_history(rx, spec.dispensed_days_ago, today)
            if spec.refill_request:
                services.refill_request(actor=tech, prescription=rx, source="phone")
        _transfers(site, tech, rph, today)
        _inbox(site, tech, today)
        _workflow(site, tech, rph)
    return created + 2


def _transfers(site: Site, tech: User, rph: User, today: dt.date) -> None:
    elm = services.OtherPharmacy(
        name="Elm Street Pharmacy",
        address="455 Elm Street, Springfield IL 62702",
        pharmacist="Dana Lee, RPh",
        phone="2175550188",
        ncpdp_id="1456789",
        dea_number="FE4567890",
        rx_number="7702231",
    )
    package = _package("Bupropion Hydrochloride")
    patient = Patient.objects.filter(site=site, last_name="Tran").first()
    prescriber = Prescriber.objects.filter(site=site, last_name="Rahman").first()
    if package and patient and prescriber:
        services.transfer_in(
            actor=rph,
            intake=services.Intake(
                patient=patient,
                prescriber=prescriber,
                product=package.product,
                package=package,
                origin=Origin.PHARMACY,
                quantity=Decimal(30),
                quantity_unit=package.billing_unit,
                days_supply=30,
                directions="1 T PO QAM",
                date_written=today - dt.timedelta(days=70),
            ),
            other=elm,
            original_refills_authorized=5,
            refills_remaining=3,
            first_fill_date=today - dt.timedelta(days=68),
            last_fill_date=today - dt.timedelta(days=33),
        )
    moving = (
        Prescription.objects.filter(site=site, patient__last_name="Washington")
        .order_by("pk")
        .first()
    )
    if moving is not None:
        services.transfer_out(
            actor=rph,
            prescription=moving,
            other=elm,
            notes="Patient moved closer to Elm Street.",
        )


def _inbox(site: Site, tech: User, today: dt.date) -> None:
    """Two e-prescriptions from the clinic's EHR: one for a known patient, matched and
    queued; one for a patient the pharmacy has never seen, waiting to be matched."""
    from rxdesk.interop import script
    from rxdesk.rx.services.erx import erx_receive

    prescriber = Prescriber.objects.filter(site=site, last_name="Alvarez").first()
    package = _package("Amoxicillin")
    if prescriber is None or package is None or not site.ncpdp_id:
        return
    sender = script.Endpoint("D", prescriber.npi)
    people = [
        ("DAVIS", "EMILY", dt.date(2016, 9, 3), "F"),  # on file
        ("OKONKWO", "CHIDI", dt.date(2015, 4, 22), "M"),  # new to the pharmacy
    ]
    for n, (last, first, dob, sex) in enumerate(people, start=1):
        xml = script.new_rx(
            to=script.Endpoint("P", site.ncpdp_id),
            from_=sender,
            message_id=f"DEMO-NEWRX-{n:04d}",
            sent_time=timezone.now(),
            patient=script.Patient(
                name=script.Name(last, first),
                gender=sex,
                date_of_birth=dob,
                address=script.PostalAddress(
                    f"{40 + n} Maple Court", None, "Springfield", "IL", "62704", "US"
                ),
                phone=f"217555{3000 + n:04d}",
            ),
            pharmacy=script.Pharmacy(ncpdp_id=site.ncpdp_id, business_name=site.name),
            prescriber=script.Prescriber(
                name=script.Name(prescriber.last_name.upper(), prescriber.first_name.upper()),
                npi=prescriber.npi,
                dea_number=prescriber.dea_number or None,
            ),
            medication=script.Medication(
                drug_description=str(package.product),
                quantity=script.Quantity(Decimal(30), "38", "C48480"),
                written_date=today,
                substitutions=0,
                sig=script.Sig("1 CAP PO TID X10D"),
                product_code=script.Code(package.ndc11, "ND"),
                days_supply=10,
                refills=0,
            ),
            prescriber_order_number=f"ALV-{today:%y%m%d}-{n}",
        )
        erx_receive(actor=tech, xml=xml)


def _workflow(site: Site, tech: User, rph: User) -> None:
    """Move a few of the new fills along so every queue has something in it: one verified
    and waiting to be filled, one filled and waiting for final verification, one ready in
    will-call. Only drugs the demo stock room holds are filled."""
    from rxdesk.inventory.models import StockBalance
    from rxdesk.rx.services import workflow

    queued = (
        Fill.objects.filter(site=site, status=FillStatus.QUEUED, prescription__schedule="")
        .select_related("prescription")
        .order_by("pk")
    )
    moved = 0
    for fill in queued:
        shelf = (
            StockBalance.objects.filter(
                site=site,
                package__product_id=fill.prescription.product_id,
                on_hand__gte=fill.quantity,
                status="available",
            )
            .select_related("package")
            .first()
        )
        if shelf is None:
            continue
        fill = workflow.fill_data_verify(actor=rph, fill=fill)
        if moved >= 1:
            fill = workflow.fill_product(actor=tech, fill=fill, scanned_code=shelf.package.ndc10)
        if moved >= 2:
            workflow.fill_final_verify(actor=rph, fill=fill)
        moved += 1
        if moved == 3:
            break
