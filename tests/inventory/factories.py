"""Set-up helpers for inventory tests. Stock is put on the shelf through the real ledger
(rxdesk.inventory.ledger), never by writing balances directly, so balance = sum of moves
holds in every test."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from rxdesk.catalog.models import Package
from rxdesk.core.models import Site
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import Lot, StockBalance, StorageLocation
from tests.catalog.factories import PackageFactory, ProductFactory

FAR = dt.date(2030, 12, 31)


def package(ndc10: str = "0002-3227-30", **product: object) -> Package:
    """A catalog package (Prozac 20 mg × 30 by default); ``product`` overrides product fields."""
    found = Package.objects.filter(ndc10=ndc10).first()
    if found is not None:
        return found
    return PackageFactory(ndc10=ndc10, product=ProductFactory(**product))


def stock(
    site: Site,
    pkg: Package,
    lot: str = "L1",
    quantity: Decimal | int | str = 100,
    expiry: dt.date | None = FAR,
    location: StorageLocation | None = None,
) -> StockBalance:
    """Put ``quantity`` of ``lot`` on the site's shelf (an opening-balance move)."""
    with transaction.atomic():
        the_lot = ledger.lot_get_or_create(package=pkg, number=lot, expiry=expiry)
        ledger.post_in(
            site=site,
            lot=the_lot,
            quantity=Decimal(str(quantity)),
            reason=MoveReason.OPENING,
            actor=None,
            location=location,
        )
    return StockBalance.objects.select_related("lot", "package", "site").get(site=site, lot=the_lot)


def lot_of(pkg: Package, number: str) -> Lot:
    return Lot.objects.get(package=pkg, number=number)
