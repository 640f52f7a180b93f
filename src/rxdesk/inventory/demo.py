"""The demo pharmacy's stock room: storage locations (with a vaccine refrigerator and a
freezer), opening stock of real demo-catalog packages in several lots — one of them
short-dated — a Schedule II line received against its CSOS order, a few dispensings so the
history screens have something to show. Everything goes through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from rxdesk.catalog.models import Package
from rxdesk.core.models import Site, User
from rxdesk.inventory.models import StockMove, StorageLocation
from rxdesk.inventory.services.coldchain import temperature_record
from rxdesk.inventory.services.ordering import (
    par_level_set,
    purchase_order_from_suggestions,
    supplier_create,
)
from rxdesk.inventory.services.stock import location_create, stock_dispense, stock_receive

LOCATIONS = [
    # code, name, kind, min °C, max °C
    ("A-01", "Bay A, shelf 1 (A–C)", "shelf", None, None),
    ("A-02", "Bay A, shelf 2 (D–L)", "shelf", None, None),
    ("A-03", "Bay A, shelf 3 (M–Z)", "shelf", None, None),
    ("FR-1", "Vaccine and insulin refrigerator", "refrigerator", "2.0", "8.0"),
    ("FZ-1", "Vaccine freezer", "freezer", "-50.0", "-15.0"),
    ("VAULT", "Schedule II safe", "vault", None, None),
    ("QUAR", "Quarantine shelf (do not dispense)", "quarantine", None, None),
]

# generic name (as in the demo catalog), location, [(lot, months to expiry, units)]
STOCK = [
    ("AMLODIPINE BESYLATE", "A-01", [("AM24117", 20, 500), ("AM25032", 28, 1000)]),
    ("ATORVASTATIN CALCIUM", "A-01", [("AT24A19", 1, 90), ("AT25C02", 22, 500)]),
    ("Allopurinol", "A-01", [("AL77210", 18, 100)]),
    ("Amoxicillin", "A-01", [("AX1120B", 14, 500)]),
    ("Azithromycin", "A-01", [("AZ55810", 16, 30)]),
    ("Bupropion Hydrochloride", "A-01", [("BU3391", 19, 90)]),
    ("warfarin sodium", "A-03", [("WF40021", 24, 100)]),
    ("Alprazolam", "A-01", [("AP60214", 21, 500)]),
    ("Insulin glargine", "FR-1", [("GL8K221", 10, 15)]),
]
SUPPLIERS = [
    # name, account, reverse distributor
    ("Cardinal Health", "CAH-448812", False),
    ("McKesson", "MCK-20931", False),
    ("Inmar Rx Solutions", "INM-5521", True),
]
# generic name: (minimum, par, ABC class) in billing units
PAR_LEVELS = {
    "AMLODIPINE BESYLATE": ("700", "2000", "A"),
    "ATORVASTATIN CALCIUM": ("500", "1500", "A"),
    "Amoxicillin": ("200", "600", "B"),
    "Azithromycin": ("60", "120", "B"),
    "warfarin sodium": ("100", "300", "C"),
}
# A Schedule II line: received only against its DEA 222 / CSOS order.
CONTROLLED = ("Methylphenidate hydrochloride", "VAULT", "MP11402", 15, 100, "CSOS-0001-2026")


def _package(generic: str) -> Package | None:
    return (
        Package.objects.filter(product__generic_name__iexact=generic, active=True)
        .select_related("product")
        .order_by("ndc11")
        .first()
    )


def _months(today: dt.date, months: int) -> dt.date:
    """The last day of the month ``months`` from now (how most labels state expiry)."""
    year, month = divmod(today.month - 1 + months + 1, 12)
    first_of_next = dt.date(today.year + year, month + 1, 1)
    return first_of_next - dt.timedelta(days=1)


def demo_inventory_load(site: Site) -> int:
    """Stock the demo pharmacy once; return how many lots were put on the shelf."""
    if StockMove.objects.filter(site=site).exists():
        return 0
    inventory = User.objects.get(site=site, username="inventory")
    pic = User.objects.get(site=site, username="pic")
    tech = User.objects.get(site=site, username="tech")
    for code, name, kind, low, high in LOCATIONS:
        location_create(
            actor=pic,
            code=code,
            name=name,
            kind=kind,
            temperature_min_c=Decimal(low) if low else None,
            temperature_max_c=Decimal(high) if high else None,
        )
    today = site.today()
    lots = 0
    for generic, location, rows in STOCK:
        package = _package(generic)
        if package is None:
            continue
        for lot, months, units in rows:
            stock_receive(
                actor=inventory,
                ndc=package,
                lot_number=lot,
                expiry=_months(today, months),
                quantity=units,
                location=location,
                opening=True,
                note="Opening stock",
            )
            lots += 1
    generic, location, lot, months, units, order = CONTROLLED
    package = _package(generic)
    if package is not None:
        stock_receive(
            actor=inventory,
            ndc=package,
            lot_number=lot,
            expiry=_months(today, months),
            quantity=units,
            location=location,
            dea_order_number=order,
            opening=True,
            note="Opening count of the Schedule II safe",
        )
        lots += 1
    from rxdesk.patients.models import Patient

    patients = list(Patient.objects.filter(site=site).order_by("id")[:4])
    for patient, (generic, quantity) in zip(
        patients,
        [
            ("AMLODIPINE BESYLATE", 30),
            ("ATORVASTATIN CALCIUM", 30),
            ("Amoxicillin", 20),
            ("AMLODIPINE BESYLATE", 90),
        ],
        strict=False,
    ):
        package = _package(generic)
        if package is not None:
            stock_dispense(
                actor=tech,
                ndc=package,
                quantity=quantity,
                patient_id=patient.pk,
                note="Demo fill",
            )
    _ordering(site, inventory)
    _cold_chain(site, tech)
    return lots


def _ordering(site: Site, inventory: User) -> None:
    """Suppliers, par levels, and a draft order built from the suggestions."""
    suppliers = [
        supplier_create(
            actor=inventory,
            name=name,
            account_number=account,
            reverse_distributor=reverse,
        )
        for name, account, reverse in SUPPLIERS
    ]
    for generic, (minimum, maximum, abc) in PAR_LEVELS.items():
        package = _package(generic)
        if package is not None:
            par_level_set(
                actor=inventory,
                ndc=package,
                minimum=minimum,
                maximum=maximum,
                abc_class=abc,
                preferred_supplier=suppliers[0],
            )
    purchase_order_from_suggestions(actor=inventory, supplier=suppliers[0])


def _cold_chain(site: Site, tech: User) -> None:
    """This morning's check of the refrigerator and the freezer, both in range."""
    from django.utils import timezone

    now = timezone.now().replace(second=0, microsecond=0)
    readings = {"FR-1": ("3.1", "6.4", "4.6"), "FZ-1": ("-31.0", "-22.5", "-27.0")}
    for code, (low, high, current) in readings.items():
        temperature_record(
            actor=tech,
            location=StorageLocation.objects.get(site=site, code=code),
            minimum_c=low,
            maximum_c=high,
            current_c=current,
            recorded_at=now - dt.timedelta(minutes=5),
        )
