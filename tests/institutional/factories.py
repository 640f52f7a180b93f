"""Set-up for institutional tests (rows written directly, bypassing the services on
purpose; tests of behaviour call the services).

- A facility "Oakwood Care Center" (OAK) with unit 1W and four pass times (08:00 morning,
  12:00 noon, 17:00 evening, 21:00 bedtime), a resident admitted to it, and that
  resident's prescriptions with their administration times (OrderSchedule).
- A cabinet "3W-1" (a StorageLocation of kind cabinet) with pockets; stock put into a
  pocket by a restock move through the cabinet ledger (and nothing taken from the
  pharmacy: tests of restocking call the service)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from rxdesk.catalog.models import Package
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.institutional import cabinet_ledger
from rxdesk.institutional.choices import CabinetEvent, CabinetVendor, Slot
from rxdesk.institutional.models import (
    Cabinet,
    Facility,
    OrderSchedule,
    PassTime,
    Pocket,
    Resident,
    Unit,
)
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import LocationKind
from rxdesk.inventory.models import StorageLocation
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Prescription
from tests.factories import PatientFactory, UserFactory
from tests.inventory.factories import package
from tests.rx.factories import make_rx

FAR = dt.date(2030, 12, 31)
PASS_TIMES = (
    (dt.time(8, 0), Slot.MORNING),
    (dt.time(12, 0), Slot.NOON),
    (dt.time(17, 0), Slot.EVENING),
    (dt.time(21, 0), Slot.BEDTIME),
)


def staff(site: Site, role: Role = Role.TECHNICIAN, username: str | None = None) -> User:
    """A member of staff of ``site`` with a current credential."""
    name = username or f"{role.value.replace('_', '-')}-{site.pk}"
    return UserFactory(site=site, role=role, username=name)


def facility(site: Site, code: str = "OAK", name: str = "Oakwood Care Center") -> Facility:
    found = Facility.objects.filter(site=site, code=code).first()
    if found is not None:
        return found
    place = Facility.objects.create(site=site, code=code, name=name, phone="3095550100")
    for time, slot in PASS_TIMES:
        PassTime.objects.create(facility=place, time=time, slot=slot)
    Unit.objects.create(facility=place, code="1W", name="First floor west")
    return place


def unit(place: Facility, code: str = "1W") -> Unit:
    return Unit.objects.get_or_create(facility=place, code=code, defaults={"name": code})[0]


def resident(
    site: Site,
    *,
    place: Facility | None = None,
    patient: Patient | None = None,
    room: str = "101",
    admitted_on: dt.date | None = None,
) -> Resident:
    place = place or facility(site)
    return Resident.objects.create(
        site=site,
        facility=place,
        unit=unit(place),
        patient=patient or PatientFactory(site=site),
        room=room,
        bed="A",
        admitted_on=admitted_on or site.today() - dt.timedelta(days=60),
    )


def scheduled_rx(
    actor: User,
    who: Resident,
    *,
    times: tuple[str, ...] = ("08:00", "20:00"),
    dose: str = "1",
    prn: bool = False,
    start_on: dt.date | None = None,
    **rx: Any,
) -> Prescription:
    """A prescription of the resident's patient (tests.rx.factories.make_rx: 30 capsules,
    5 refills unless overridden) with its administration times."""
    rx.setdefault("directions", "1 CAP PO BID" if len(times) == 2 else "1 CAP PO DAILY")
    prescription = make_rx(actor, **rx)
    if prescription.patient_id != who.patient_id:
        Prescription.objects.filter(pk=prescription.pk).update(patient=who.patient)
        prescription.refresh_from_db()
    OrderSchedule.objects.create(
        prescription=prescription,
        resident=who,
        times=list(times) if not prn else [],
        dose=Decimal(dose),
        prn=prn,
        prn_max_per_day=Decimal("4") if prn else None,
        start_on=start_on or actor.site.today() - dt.timedelta(days=30),
    )
    return prescription


def cabinet(site: Site, code: str = "3W-1", name: str = "3 West med room") -> Cabinet:
    found = Cabinet.objects.filter(site=site, code=code).first()
    if found is not None:
        return found
    place = StorageLocation.objects.create(
        site=site, code=f"ADC-{code}"[:30], name=name, kind=LocationKind.CABINET
    )
    return Cabinet.objects.create(
        site=site, location=place, code=code, name=name, vendor=CabinetVendor.PYXIS, area="3 West"
    )


def pocket(
    box: Cabinet,
    pkg: Package | None = None,
    *,
    drawer: str = "1",
    place: str = "A",
    par: str = "10",
    minimum: str = "3",
    controlled: bool = False,
) -> Pocket:
    return Pocket.objects.create(
        cabinet=box,
        drawer=drawer,
        pocket=place,
        package=pkg or package("0002-3227-30"),
        par=Decimal(par),
        minimum=Decimal(minimum),
        controlled=controlled,
    )


def pocket_stock(
    bin_: Pocket, lot: str = "L1", quantity: str | int = 5, expiry: dt.date | None = FAR
) -> Pocket:
    """Put stock straight into a pocket (a restock move in the cabinet ledger only)."""
    with transaction.atomic():
        the_lot = ledger.lot_get_or_create(package=bin_.package, number=lot, expiry=expiry)
        cabinet_ledger.post(
            pocket=bin_,
            lot=the_lot,
            quantity=Decimal(str(quantity)),
            event=CabinetEvent.RESTOCK,
            who=cabinet_ledger.Who(note="test set-up"),
        )
    bin_.refresh_from_db()
    return bin_
