"""Set-up helpers for the controlled-substance tests: controlled packages in each schedule,
stock put on the shelf through the real ledger, and a witness's credentials."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rxdesk.catalog.models import Package
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.inventory.models import StockBalance
from tests.factories import PASSWORD, UserFactory
from tests.inventory.factories import FAR, package, stock


def oxycodone() -> Package:
    """Oxycodone HCl 5 mg tablets × 100: Schedule II."""
    pkg = package(
        "0406-0552-01",
        name="Oxycodone Hydrochloride",
        generic_name="Oxycodone Hydrochloride",
        dosage_form="TABLET",
        strength="5 mg/1",
        substances="OXYCODONE HYDROCHLORIDE",
        directory_dea_schedule="CII",
        product_ndc="0406-0552",
    )
    if pkg.package_quantity != 100:
        pkg.package_quantity = Decimal(100)
        pkg.save(update_fields=["package_quantity"])
    return pkg


def alprazolam() -> Package:
    """Alprazolam 1 mg tablets × 1,000: Schedule IV, exactly 1,000 per bottle."""
    pkg = package(
        "0228-2029-96",
        name="Alprazolam",
        generic_name="Alprazolam",
        dosage_form="TABLET",
        strength="1 mg/1",
        substances="ALPRAZOLAM",
        directory_dea_schedule="CIV",
        product_ndc="0228-2029",
    )
    if pkg.package_quantity != 1000:
        pkg.package_quantity = Decimal(1000)
        pkg.save(update_fields=["package_quantity"])
    return pkg


def codeine_syrup() -> Package:
    """Promethazine with codeine oral solution, 473 mL: Schedule V, measured in mL."""
    pkg = package(
        "0603-1585-58",
        name="Promethazine Hydrochloride and Codeine Phosphate",
        generic_name="Promethazine Hydrochloride and Codeine Phosphate",
        dosage_form="SOLUTION",
        strength="6.25 mg/5mL; 10 mg/5mL",
        substances="PROMETHAZINE HYDROCHLORIDE; CODEINE PHOSPHATE",
        directory_dea_schedule="CV",
        product_ndc="0603-1585",
    )
    if pkg.billing_unit != "ML" or pkg.package_quantity != 473:
        pkg.billing_unit = "ML"
        pkg.package_quantity = Decimal(473)
        pkg.save(update_fields=["billing_unit", "package_quantity"])
    return pkg


def cs_stock(
    site: Site,
    pkg: Package,
    quantity: Decimal | int | str = 100,
    lot: str = "CS1",
    expiry: dt.date | None = FAR,
) -> StockBalance:
    return stock(site, pkg, lot=lot, quantity=quantity, expiry=expiry)


def witness(site: Site, role: Role = Role.PHARMACIST, username: str = "witness") -> User:
    return UserFactory(site=site, role=role, username=username)


def credentials(user: User, **extra: Any) -> dict[str, Any]:
    """What a witness types: user name and password (and ``otp`` where enrolled)."""
    return {"username": user.username, "password": PASSWORD, **extra}
