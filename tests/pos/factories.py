"""Set-up helpers for point-of-sale tests: fills waiting in will-call, OTC and CMEA
packages, and a drawn signature."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone
from PIL import Image, ImageDraw

from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import Ingredient, Package, PackagePrice, Product
from rxdesk.core.models import User
from rxdesk.rx.models import Fill
from rxdesk.rx.services import workflow
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx

_NDC = itertools.count(1)


def _ndc10() -> str:
    n = next(_NDC)
    return f"0363-{n:04d}-{n % 100:02d}"


def signature() -> bytes:
    """A PNG like the one the signature pad sends: a scribble on white."""
    image = Image.new("RGB", (300, 100), "white")
    draw = ImageDraw.Draw(image)
    draw.line([(10, 70), (60, 20), (110, 80), (170, 30), (260, 60)], fill="black", width=3)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def ready_fill(technician: User, pharmacist: User, **over: Any) -> Fill:
    """A new prescription's first fill, data-verified, counted out and final-verified:
    waiting in will-call."""
    rx = make_rx(technician, **over)
    stock(rx.site, rx.package, lot="LOT-A", quantity=100)
    fill = workflow.fill_data_verify(actor=pharmacist, fill=first_fill(rx))
    fill = workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    return workflow.fill_final_verify(actor=pharmacist, fill=fill)


def price(package: Package, amount: str, kind: str = PriceKind.USUAL_CUSTOMARY) -> PackagePrice:
    # Effective since yesterday: today's UTC date is tomorrow for a US pharmacy each evening.
    since = timezone.now().date() - dt.timedelta(days=1)
    return PackagePrice.objects.create(
        package=package, kind=kind, amount=Decimal(amount), effective_on=since
    )


def otc_package(name: str = "Loratadine", retail: str = "9.99", **over: Any) -> Package:
    """An OTC product with one package and a shelf price."""
    product = ProductFactory(name=name, product_type="HUMAN OTC DRUG", otc=True, **over)
    ndc10 = _ndc10()
    package = PackageFactory(product=product, ndc10=ndc10, description=f"1 BOTTLE ({ndc10})")
    price(package, retail)
    return package


def cmea_package(
    *,
    salt: str = "PSEUDOEPHEDRINE HYDROCHLORIDE",
    strength: str = "30",
    unit: str = "mg/1",
    count: str = "24",
    billing_unit: str = "EA",
    retail: str = "7.49",
) -> Package:
    """A behind-the-counter product as the FDA directory lists it (salt and strength per
    unit), with ``count`` units in the package."""
    product: Product = ProductFactory(
        name=f"Sudafed {strength}",
        product_type="HUMAN OTC DRUG",
        substances=salt,
        strength=f"{strength} {unit}",
        otc=True,
    )
    Ingredient.objects.create(product=product, position=0, name=salt, strength=strength, unit=unit)
    ndc10 = _ndc10()
    package = PackageFactory(
        product=product,
        ndc10=ndc10,
        description=f"{count} TABLET in 1 BLISTER PACK ({ndc10})",
        package_quantity=Decimal(count),
        billing_unit=billing_unit,
    )
    price(package, retail)
    return package


__all__ = ["cmea_package", "otc_package", "price", "ready_fill", "signature", "stock"]
