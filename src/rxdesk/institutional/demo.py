"""Demo institutional pharmacy, made through the real services: a skilled nursing facility
(Maple Grove Care Center, two units, four medication pass times) with three residents
taken from the demo patients — one of them on leave of absence — their orders' pass times,
a weekly cycle-fill schedule and this week's run generated; an automated dispensing cabinet
on 3 West stocked from the pharmacy (a controlled pocket restocked with a witness); a day of
cabinet activity read from a transaction file (an override removal waiting for review, a
count that did not match → an open discrepancy); unit-dose repackaging (one run checked,
one waiting for the pharmacist). Safe to run again: it does nothing once the site has a
facility."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.models import Site, User
from rxdesk.institutional import schedule as sched
from rxdesk.institutional.choices import CabinetVendor, CensusKind, CycleMode, FacilityKind
from rxdesk.institutional.models import Facility, PassTime
from rxdesk.institutional.services_cabinets import cabinet_restock, cabinet_save, pocket_save
from rxdesk.institutional.services_census import (
    census_record,
    facility_save,
    order_schedule_set,
    pass_times_set,
    resident_admit,
    unit_save,
)
from rxdesk.institutional.services_cycles import cycle_generate, cycle_schedule_save
from rxdesk.institutional.services_feeds import feed_receive_csv
from rxdesk.institutional.services_packaging import repack_check, repack_create
from rxdesk.inventory.models import StockBalance
from rxdesk.patients.models import Patient
from rxdesk.rx.choices import RxStatus
from rxdesk.rx.models import Prescription

PASS_TIMES = [
    {"time": "08:00", "slot": "morning", "label": "Breakfast pass"},
    {"time": "12:00", "slot": "noon", "label": "Lunch pass"},
    {"time": "17:00", "slot": "evening", "label": "Supper pass"},
    {"time": "21:00", "slot": "bedtime", "label": "Bedtime pass"},
]
# last name of a demo patient, unit, room
RESIDENTS = [("Garcia", "1N", "104"), ("Smith", "1N", "112"), ("Chen", "2N", "207")]
# generic name (as in the demo catalog), drawer, pocket, par, minimum, units to restock
POCKETS = [
    ("AMLODIPINE BESYLATE", "1", "A", "40", "10", "30"),
    ("ATORVASTATIN CALCIUM", "1", "B", "30", "10", "20"),
    ("Amoxicillin", "2", "A", "30", "8", "24"),
    ("Alprazolam", "5", "A", "20", "5", "10"),
]


def _package(generic: str) -> Package | None:
    return (
        Package.objects.filter(product__generic_name__iexact=generic, active=True)
        .select_related("product")
        .order_by("ndc11")
        .first()
    )


def _lot(site: Site, package: Package) -> StockBalance | None:
    return (
        StockBalance.objects.select_related("lot")
        .filter(site=site, package=package, on_hand__gt=0, status="available")
        .order_by("lot__expiry")
        .last()
    )


def demo_institutional_load(site: Site, password: str) -> None:
    if Facility.objects.filter(site=site).exists():
        return
    users = {u.username: u for u in User.objects.filter(site=site)}
    tech, rph, pic = users.get("tech"), users.get("pharmacist"), users.get("pic")
    if tech is None or rph is None or pic is None:
        return
    _long_term_care(site, tech, pic)
    _cabinet(site, tech, rph, pic, password)
    _repackaging(site, tech, rph)


def _long_term_care(site: Site, tech: User, pic: User) -> None:
    today = site.today()
    home = facility_save(
        actor=pic,
        code="MGC",
        name="Maple Grove Care Center",
        kind=FacilityKind.SNF,
        address="1400 Maple Grove Road, Springfield, IL 62704",
        phone="2175550190",
    )
    pass_times_set(actor=pic, facility=home, times=PASS_TIMES)
    units = {
        code: unit_save(actor=pic, facility=home, code=code, name=name)
        for code, name in (("1N", "First floor north"), ("2N", "Second floor north"))
    }
    slots = [(p.time, p.slot) for p in PassTime.objects.filter(facility=home)]
    admitted = timezone.now() - dt.timedelta(days=45)
    residents = []
    for last, unit, room in RESIDENTS:
        patient = Patient.objects.filter(site=site, last_name=last).first()
        if patient is None:
            continue
        resident = resident_admit(
            actor=tech,
            facility=home,
            patient=patient,
            unit=units[unit],
            room=room,
            bed="A",
            admitted_at=admitted,
        )
        residents.append(resident)
        for rx in Prescription.objects.filter(patient=patient, status=RxStatus.ACTIVE):
            times = sched.default_times(rx.directions_en or rx.directions, slots)
            if not times:
                continue
            order_schedule_set(
                actor=tech,
                resident=resident,
                prescription=rx,
                times=times,
                dose=Decimal("1"),
                start_on=today - dt.timedelta(days=40),
            )
    # Thursday is delivery day: weekly cycles start on Thursdays.
    anchor = today - dt.timedelta(days=(today.weekday() - 3) % 7)
    cycle = cycle_schedule_save(
        actor=pic, facility=home, days=7, mode=CycleMode.PERIOD, anchor=anchor, lead_days=2
    )
    if len(residents) == len(RESIDENTS):
        census_record(
            actor=tech,
            resident=residents[2],
            kind=CensusKind.LEAVE,
            effective_at=timezone.now() - dt.timedelta(days=1),
            expected_return=today + dt.timedelta(days=3),
            note="Visiting family for the holiday",
        )
    cycle_generate(actor=tech, schedule=cycle, period_start=anchor)


def _cabinet(site: Site, tech: User, rph: User, pic: User, password: str) -> None:
    box = cabinet_save(
        actor=pic,
        code="3W-1",
        name="3 West medication room",
        vendor=CabinetVendor.PYXIS,
        area="3 West (medical-surgical)",
    )
    lines = []
    controlled = False
    for generic, drawer, place, par, minimum, units in POCKETS:
        package = _package(generic)
        if package is None:
            continue
        pocket = pocket_save(
            actor=pic,
            cabinet=box,
            drawer=drawer,
            pocket_code=place,
            package=package,
            par=Decimal(par),
            minimum=Decimal(minimum),
        )
        balance = _lot(site, package)
        if balance is None:
            continue
        line = {"pocket_id": pocket.pk, "lot_number": balance.lot.number, "quantity": units}
        if pocket.controlled:
            line["counted_before"] = "0"
            controlled = True
        lines.append(line)
    if not lines:
        return
    witness = {"username": rph.username, "password": password} if controlled else None
    cabinet_restock(actor=tech, cabinet=box, lines=lines, witness=witness)
    # A day of cabinet activity, as the cabinet's transaction report exports it.
    now = timezone.localtime(timezone.now(), site.tz) - dt.timedelta(hours=3)
    rows = [
        "Transaction ID,Date Time,Station,Drawer,Pocket,Transaction Type,Quantity,Counted,"
        "User ID,User Name,Witness,Patient ID,Patient Name,Override,Note"
    ]

    def row(
        n: int, minutes: int, drawer: str, place: str, kind: str, qty: str, **more: str
    ) -> None:
        at = (now + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M")
        rows.append(
            f"PX{n:06d},{at},3W-1,{drawer},{place},{kind},{qty},{more.get('counted', '')},"
            f"{more.get('user', 'RN0412')},{more.get('name', 'Kelly Ortiz RN')},"
            f"{more.get('witness', '')},{more.get('mrn', 'MRN0093')},"
            f'"{more.get("patient", "Doe, Jane")}",{more.get("override", "N")},'
            f"{more.get('note', '')}"
        )

    row(1, 0, "1", "A", "Removal", "1")
    row(2, 20, "1", "B", "Removal", "1", mrn="MRN0107", patient="Roe, Richard")
    row(3, 45, "2", "A", "Removal", "2", override="Y", note="Admission dose before order verified")
    row(4, 70, "5", "A", "Removal", "1", counted="8", user="RN0388", name="Sam Patel RN")
    row(5, 95, "2", "A", "Return", "1")
    feed_receive_csv(actor=tech, name="3W-1 transactions.csv", data="\n".join(rows).encode())


def _repackaging(site: Site, tech: User, rph: User) -> None:
    package = _package("AMLODIPINE BESYLATE")
    if package is None:
        return
    balance = _lot(site, package)
    if balance is None:
        return
    first = repack_create(
        actor=tech,
        package=package,
        lot_number=balance.lot.number,
        quantity=Decimal("30"),
        container="Unit-dose blister, 1 tablet a cavity",
        container_class="A",
    )
    repack_check(actor=rph, record=first)
    repack_create(
        actor=tech,
        package=package,
        lot_number=balance.lot.number,
        quantity=Decimal("20"),
        container="Unit-dose blister, 1 tablet a cavity",
        container_class="A",
    )
