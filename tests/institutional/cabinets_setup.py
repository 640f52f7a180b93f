"""Set-up shared by the cabinet tests (part C): a cabinet "3W-1" with a plain pocket (Prozac
20 mg, drawer 1 pocket A, par 10, minimum 3) and a controlled one (oxycodone 5 mg, CII,
drawer 2 pocket B, par 20, minimum 5), and stock of both on the pharmacy's shelf. Pockets
are filled through the real restock service where a test is about behaviour."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rxdesk.catalog.models import Package
from rxdesk.catalog.ndc import ndc_to_gtin14
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.institutional import services_cabinets as services
from rxdesk.institutional.models import Cabinet, Pocket
from rxdesk.inventory.models import StockBalance
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.factories import PASSWORD, UserFactory
from tests.institutional.factories import cabinet, pocket
from tests.inventory.factories import package, stock

FAR = dt.date(2030, 12, 31)
NEAR = dt.date(2029, 6, 30)
GS = "\x1d"


def prozac() -> Package:
    return package("0002-3227-30")


def oxycodone() -> Package:
    found = Package.objects.filter(ndc10="0406-0552-01").first()
    if found is not None:
        return found
    return PackageFactory(
        ndc10="0406-0552-01",
        description="100 TABLET in 1 BOTTLE (0406-0552-01)",
        package_quantity=Decimal(100),
        product=ProductFactory(
            product_ndc="0406-0552",
            name="Oxycodone Hydrochloride",
            generic_name="Oxycodone Hydrochloride",
            dosage_form="TABLET",
            strength="5 mg/1",
            substances="OXYCODONE HYDROCHLORIDE",
            labeler="SpecGx LLC",
            directory_dea_schedule="CII",
        ),
    )


def person(site: Site, role: Role, username: str) -> User:
    found = User.objects.filter(username=username).first()
    return found or UserFactory(site=site, role=role, username=username)


def witness_of(site: Site) -> User:
    """A pharmacist who witnesses controlled restocks (password: tests.factories.PASSWORD)."""
    return person(site, Role.PHARMACIST, f"adc-witness-{site.pk}")


def witness(site: Site, password: str = PASSWORD) -> dict[str, str]:
    return {"username": witness_of(site).username, "password": password}


def datamatrix(pkg: Package, lot: str, expiry: dt.date = FAR) -> str:
    """The GS1 element string a scanner sends for a DSCSA 2D code (FNC1 as GS)."""
    return f"01{ndc_to_gtin14(pkg.ndc10)}17{expiry:%y%m%d}10{lot}{GS}21SER123"


def hri(pkg: Package, lot: str, expiry: dt.date = FAR) -> str:
    """The same code in its printed form, "(01)…(17)…(10)…"."""
    return f"(01){ndc_to_gtin14(pkg.ndc10)}(17){expiry:%y%m%d}(10){lot}"


def shelf(site: Site) -> dict[str, StockBalance]:
    """Pharmacy stock: Prozac lots P-NEAR (50, 06/30/2029) and P-FAR (50, 12/31/2030);
    oxycodone lot OX1 (100)."""
    if StockBalance.objects.filter(site=site, lot__number="P-NEAR").exists():
        return {
            b.lot.number: b
            for b in StockBalance.objects.filter(site=site).select_related("lot", "package")
        }
    return {
        "P-NEAR": stock(site, prozac(), "P-NEAR", 50, NEAR),
        "P-FAR": stock(site, prozac(), "P-FAR", 50, FAR),
        "OX1": stock(site, oxycodone(), "OX1", 100, FAR),
    }


def ward(site: Site) -> dict[str, Any]:
    """Cabinet 3W-1 with pocket 1-A (Prozac, par 10, min 3) and 2-B (oxycodone, controlled,
    par 20, min 5), both empty, and the pharmacy's shelf stocked."""
    box = cabinet(site)
    plain = Pocket.objects.filter(cabinet=box, drawer="1", pocket="A").first() or pocket(
        box, prozac(), drawer="1", place="A", par="10", minimum="3"
    )
    cs = Pocket.objects.filter(cabinet=box, drawer="2", pocket="B").first() or pocket(
        box, oxycodone(), drawer="2", place="B", par="20", minimum="5", controlled=True
    )
    return {"cabinet": box, "plain": plain, "cs": cs, "shelf": shelf(site)}


def restocked(site: Site, actor: User, box: Cabinet, plain: Pocket, quantity: str = "6") -> Pocket:
    """The plain pocket restocked through the service from lot P-NEAR."""
    services.cabinet_restock(
        actor=actor,
        cabinet=box,
        lines=[{"pocket_id": plain.pk, "lot_number": "P-NEAR", "quantity": quantity}],
    )
    plain.refresh_from_db()
    return plain


def on_shelf(site: Site, lot: str) -> Decimal:
    return StockBalance.objects.get(site=site, lot__number=lot).on_hand
