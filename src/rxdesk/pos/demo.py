"""The demo counter: the pharmacy's counter rules, a cash drawer opened with $150, a house
charge account, shelf prices for a few OTC items and for the bags in will-call, a real
behind-the-counter pseudoephedrine product, one sale already handed out and paid (with its
signed pickup), and one delivery waiting for a driver.

Written through the services (the audit chain stays real), once: a demo that has its
counter rules already is left as it is."""

from __future__ import annotations

import io
import math
import struct
import zlib
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from rxdesk.calc import cmea
from rxdesk.catalog.models import Ingredient, Package, PackagePrice, Product
from rxdesk.catalog.services import catalog_import_prices, product_flags_update
from rxdesk.core.models import Site, User
from rxdesk.pos.choices import Counseling, PickupPerson, SecondIdentifier, TenderKind
from rxdesk.pos.models import PosSettings
from rxdesk.pos.services.accounts import house_account_create
from rxdesk.pos.services.delivery import delivery_create
from rxdesk.pos.services.drawers import drawer_open, pos_settings_save
from rxdesk.pos.services.pickup import pickup_record, pickup_start
from rxdesk.pos.services.sales import TenderIn, sale_pay
from rxdesk.rx.choices import FillStatus, Origin
from rxdesk.rx.models import Fill

# Two OTC items of the shipped catalog, and their shelf prices.
OTC_ITEMS = [("0113-0612-39", "9.99"), ("50580-726-03", "24.49")]
# FDA NDC Directory (2019): 0113-0401 Zephrex D, L. Perrigo Company, pseudoephedrine
# hydrochloride 30 mg per gelatin-coated capsule, OTC monograph part341.
ZEPHREX = {
    "product_id": "0113-0401_bd2b6f2e-617e-48c9-8f35-70ceea3ee107",
    "product_ndc": "0113-0401",
    "product_type": "HUMAN OTC DRUG",
    "name": "Zephrex D",
    "generic_name": "pseudoephedrine hydrochloride",
    "dosage_form": "CAPSULE, GELATIN COATED",
    "route": "ORAL",
    "strength": "30 mg/1",
    "substances": "PSEUDOEPHEDRINE HYDROCHLORIDE",
    "marketing_category": "OTC MONOGRAPH FINAL",
    "application_number": "part341",
    "labeler": "L. Perrigo Company",
    "otc": True,
}
ZEPHREX_PACKAGE = (
    "0113-0401-62",
    "24 BLISTER PACK in 1 CARTON (0113-0401-62)  > 1 CAPSULE, GELATIN COATED in 1 BLISTER PACK",
    Decimal(24),
    "12.99",
)
CENT = Decimal("0.01")


def demo_pos_load(site: Site) -> int:
    """Set up the demo counter once; return how many sales were rung up (0 when it was
    there already)."""
    if PosSettings.objects.filter(site=site).exists():
        return 0
    users = {u.username: u for u in User.objects.filter(site=site)}
    tech, rph, pic = users["tech"], users["pharmacist"], users["pic"]
    with transaction.atomic():
        pos_settings_save(actor=pic, cs_id_schedules="2,3", tax_percent="6.25")
        drawer_open(actor=tech, opening_cash="150.00")
        house_account_create(
            actor=pic,
            number="H-1001",
            name="Maple Court Group Home",
            credit_limit="1500.00",
            address_line1="41 Maple Court",
            city="Springfield",
            state="IL",
            postal_code="62704",
        )
        pse = _pse_product(pic)
        _new_prescriptions(site, tech)
        _ready_more(site, tech, rph, count=2)
        _prices(pic, pse)
        sold = _sale(site, tech)
        _delivery(site, tech)
    return sold


def _pse_product(pic: User) -> Package:
    """The behind-the-counter product: from the catalog when it holds it, else the real
    FDA listing above, flagged CMEA with its base content per capsule."""
    product = Product.objects.filter(product_ndc=ZEPHREX["product_ndc"]).first()
    if product is None:
        product = Product.objects.create(**ZEPHREX)
        Ingredient.objects.create(
            product=product,
            position=0,
            name="PSEUDOEPHEDRINE HYDROCHLORIDE",
            strength="30",
            unit="mg/1",
        )
    ndc10, description, quantity, _price = ZEPHREX_PACKAGE
    package = Package.objects.filter(ndc11="00113040162").first() or Package.objects.create(
        ndc11="00113040162",
        ndc10=ndc10,
        product=product,
        description=description,
        billing_unit="EA",
        package_quantity=quantity,
    )
    base = cmea.base_mg_per_unit("PSEUDOEPHEDRINE HYDROCHLORIDE", "30", "mg/1")
    if not product.cmea and base is not None:
        product_flags_update(
            actor=pic,
            product=product,
            cmea=True,
            cmea_base_mg=base,
            reason="Behind the counter (CMEA): pseudoephedrine.",
        )
    return package


# New prescriptions for the counter: (patient, prescriber, NDC on the demo shelf, directions).
COUNTER_RX = [
    ("Garcia", "Okafor", "0069-1520-68", "1 T PO DAILY"),
    ("Chen", "Whitaker", "0071-0155-10", "1 T PO QHS"),
]


def _new_prescriptions(site: Site, tech: User) -> None:
    """Two new prescriptions on drugs the demo shelf holds: one to hand out, one to deliver."""
    import datetime as dt

    from rxdesk.patients.models import Patient, Prescriber
    from rxdesk.rx import services as rx_services
    from rxdesk.rx.choices import FillSource, RxStatus
    from rxdesk.rx.models import Prescription
    from rxdesk.rx.services.common import PENDING_FILLS
    from rxdesk.rx.services.fills import refill_request

    for last, prescriber_last, ndc10, directions in COUNTER_RX:
        patient = Patient.objects.filter(site=site, last_name=last).first()
        prescriber = Prescriber.objects.filter(site=site, last_name=prescriber_last).first()
        package = Package.objects.filter(ndc10=ndc10).select_related("product").first()
        if patient is None or prescriber is None or package is None:
            continue
        existing = Prescription.objects.filter(
            site=site, patient=patient, product=package.product, status=RxStatus.ACTIVE
        ).first()
        if existing is not None:
            # Her amlodipine is due: the refill, not a second prescription for the same drug.
            if not existing.fills.filter(status__in=PENDING_FILLS).exists():
                refill_request(actor=tech, prescription=existing, source=FillSource.COUNTER)
            continue
        rx_services.prescription_create(
            actor=tech,
            patient=patient,
            prescriber=prescriber,
            product=package.product,
            package=package,
            origin=Origin.WRITTEN,
            quantity=Decimal(30),
            quantity_unit=package.billing_unit,
            days_supply=30,
            directions=directions,
            date_written=site.today() - dt.timedelta(days=1),
            refills_authorized=5,
        )


def _ready_more(site: Site, tech: User, rph: User, *, count: int) -> None:
    """Bring ``count`` more queued fills to will-call (one to sell, one to deliver)."""
    from rxdesk.inventory.models import StockBalance
    from rxdesk.rx.services import workflow

    queued = Fill.objects.filter(
        site=site, status=FillStatus.QUEUED, prescription__schedule=""
    ).order_by("pk")
    moved = 0
    for fill in queued.select_related("prescription"):
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
        fill = workflow.fill_product(actor=tech, fill=fill, scanned_code=shelf.package.ndc10)
        workflow.fill_final_verify(actor=rph, fill=fill)
        moved += 1
        if moved == count:
            return


def _prices(pic: User, pse: Package) -> None:
    """Usual-and-customary prices: the OTC items, the PSE product, and every package a bag
    in will-call was filled from (a plain cash price: about $0.35 a unit, $8 at least)."""
    rows = [(ndc10, amount) for ndc10, amount in OTC_ITEMS]
    rows.append((pse.ndc10, ZEPHREX_PACKAGE[3]))
    ready = Fill.objects.filter(site=pic.site, status=FillStatus.READY).select_related("package")
    for fill in ready:
        package = fill.package
        if package is None or PackagePrice.objects.filter(package=package).exists():
            continue
        amount = max(Decimal("8.00"), package.package_quantity * Decimal("0.35"))
        rows.append((package.ndc10, str(amount.quantize(CENT, rounding=ROUND_HALF_UP))))
    today = timezone.now().date().isoformat()
    csv = "ndc,price_type,price,effective_date\n" + "".join(
        f"{ndc},usual_customary,{amount},{today}\n" for ndc, amount in dict(rows).items()
    )
    data = io.BytesIO(csv.encode())
    data.name = "demo_prices.csv"
    catalog_import_prices(actor=pic, csv_file=data)


def _ready(site: Site) -> list[Fill]:
    return list(
        Fill.objects.filter(site=site, status=FillStatus.READY)
        .select_related("prescription__patient")
        .order_by("pk")
    )


def _sale(site: Site, tech: User) -> int:
    """One bag handed out to its patient: pickup signed, counseling declined, paid cash."""
    ready = _ready(site)
    if len(ready) < 2:
        return 0
    fill = ready[-1]
    patient = fill.prescription.patient
    sale = pickup_start(actor=tech, patient=patient, fills=[fill])
    pickup_record(
        actor=tech,
        sale=sale,
        person=PickupPerson.PATIENT,
        person_name=f"{patient.first_name} {patient.last_name}",
        date_of_birth=patient.date_of_birth,
        second_identifier=SecondIdentifier.ADDRESS,
        counseling=Counseling.DECLINED,
        signature=demo_signature(),
    )
    sale.refresh_from_db()
    handed = (sale.total / 10).to_integral_value(rounding="ROUND_CEILING") * 10 or Decimal(10)
    sale_pay(
        actor=tech,
        sale=sale,
        tenders=[TenderIn(kind=TenderKind.CASH, amount=sale.total, tendered=handed)],
    )
    return 1


def _delivery(site: Site, tech: User) -> None:
    """One bag on a delivery to the patient's door, waiting for a driver."""
    ready = _ready(site)
    if len(ready) < 2:
        return
    fill = ready[-1]
    delivery_create(
        actor=tech,
        patient=fill.prescription.patient,
        fills=[fill],
        instructions="Leave with the front desk if no answer.",
    )


def demo_signature(width: int = 300, height: int = 80) -> bytes:
    """A signature-like scribble as a grayscale PNG (written here: no imaging library)."""
    ink: set[tuple[int, int]] = set()
    for step in range(0, (width - 40) * 4):
        x = 20 + step / 4
        y = height / 2 + math.sin(x / 9) * (height / 4) * math.cos(x / 53)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                ink.add((int(x) + dx, int(y) + dy))
    rows = b"".join(
        b"\x00" + bytes(0 if (x, y) in ink else 255 for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )
