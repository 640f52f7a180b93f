"""Set-up helpers for formulary tests: an Orange Book group of fluoxetine 20 mg (Prozac,
the reference, and three AB generics, one BX product, and Prozac 10 mg), proton-pump
inhibitors for interchange, and prescriptions taken in through the rx service."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from rxdesk.catalog.models import Product
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.formulary import services
from rxdesk.formulary.choices import FormularyStatus
from rxdesk.formulary.models import InterchangeProtocol
from rxdesk.patients.models import Prescriber
from rxdesk.rx import services as rx_services
from rxdesk.rx.choices import Origin
from rxdesk.rx.models import Prescription
from tests.catalog.factories import (
    ApplicationProductFactory,
    IngredientFactory,
    PackageFactory,
    PriceFactory,
    ProductFactory,
)
from tests.factories import PatientFactory, PrescriberFactory, UserFactory
from tests.rx.factories import DEA_OKAFOR

_NDC = itertools.count(3000)


def user(site: Site, role: Role) -> User:
    name = f"fx-{role.value}-{site.pk}"
    return User.objects.filter(username=name).first() or UserFactory(
        site=site, role=role, username=name
    )


def package(product: Product, quantity: str = "30") -> Any:
    n = next(_NDC)
    return PackageFactory(
        product=product,
        ndc10=f"0009-{n:04d}-30",
        description=f"{quantity} CAPSULE in 1 BOTTLE",
        package_quantity=Decimal(quantity),
    )


def fluoxetine() -> dict[str, Product]:
    """Prozac 20 mg and its equivalents (made once per test database)."""
    found = Product.objects.filter(product_id="fx-prozac").first()
    if found is not None:
        return {
            p.product_id.removeprefix("fx-"): p
            for p in Product.objects.filter(product_id__startswith="fx-")
        }
    rows = {
        ("018936", "001"): ("EQ 20MG BASE", "AB"),
        ("018936", "002"): ("EQ 10MG BASE", "AB"),
        ("075000", "001"): ("EQ 20MG BASE", "AB"),
        ("076000", "001"): ("EQ 20MG BASE", "AB"),
        ("078000", "001"): ("EQ 20MG BASE", "AB"),
        ("077000", "001"): ("EQ 20MG BASE", "BX"),
    }
    for (appl_no, product_no), (strength, te) in rows.items():
        ApplicationProductFactory(
            appl_no=appl_no, product_no=product_no, strength=strength, te_code=te
        )
    make = ProductFactory
    return {
        "prozac": make(product_id="fx-prozac", application_number="NDA018936"),
        "prozac10": make(
            product_id="fx-prozac10", application_number="NDA018936", strength="10 mg/1"
        ),
        "teva": make(
            product_id="fx-teva", name="Fluoxetine", application_number="ANDA075000", labeler="Teva"
        ),
        "mylan": make(
            product_id="fx-mylan",
            name="Fluoxetine",
            application_number="ANDA076000",
            labeler="Mylan",
        ),
        "aurobindo": make(
            product_id="fx-aurobindo",
            name="Fluoxetine",
            application_number="ANDA078000",
            labeler="Aurobindo",
        ),
        "bx": make(
            product_id="fx-bx", name="Fluoxetine", application_number="ANDA077000", labeler="Bx"
        ),
    }


def price(product: Product, amount: str, quantity: str = "30", on: dt.date | None = None) -> None:
    """An acquisition price for a new package of ``product`` (``quantity`` units)."""
    PriceFactory(
        package=package(product, quantity),
        kind="acquisition",
        amount=Decimal(amount),
        effective_on=on or dt.date(2024, 1, 1),
    )


def ppis() -> dict[str, Product]:
    """Omeprazole 20 mg and 40 mg (Prilosec's ingredient) and pantoprazole 40 mg."""
    found = Product.objects.filter(product_id="ppi-panto40").first()
    if found is not None:
        return {
            p.product_id.removeprefix("ppi-"): p
            for p in Product.objects.filter(product_id__startswith="ppi-")
        }
    out = {}
    for key, name, substance, strength in (
        ("ome20", "Omeprazole", "OMEPRAZOLE", "20 mg/1"),
        ("ome40", "Omeprazole", "OMEPRAZOLE", "40 mg/1"),
        ("eso20", "Esomeprazole", "ESOMEPRAZOLE MAGNESIUM", "20 mg/1"),
        ("panto40", "Pantoprazole Sodium", "PANTOPRAZOLE SODIUM", "40 mg/1"),
    ):
        product = ProductFactory(
            product_id=f"ppi-{key}",
            product_ndc="55111-157",
            name=name,
            generic_name=name,
            substances=substance,
            strength=strength,
            dosage_form="CAPSULE, DELAYED RELEASE",
            application_number="",
            pharm_classes="Proton Pump Inhibitor [EPC]",
        )
        IngredientFactory(product=product, position=1, name=substance, strength=strength[:2])
        out[key] = product
    return out


def rx(actor: User, product: Product, **over: Any) -> Prescription:
    """A prescription for ``product`` taken in by ``actor`` (30 capsules, 1 a day, 30 days,
    5 refills); no other product is made (an extra Prozac would be an equivalent)."""
    site = actor.site
    assert site is not None
    values: dict[str, Any] = {
        "patient": PatientFactory(site=site),
        "prescriber": Prescriber.objects.filter(site=site).first()
        or PrescriberFactory(site=site, dea_number=DEA_OKAFOR),
        "product": product,
        "origin": Origin.WRITTEN,
        "quantity": Decimal("30"),
        "quantity_unit": "EA",
        "days_supply": 30,
        "directions": "1 CAP PO DAILY",
        "date_written": site.today(),
        "refills_authorized": 5,
    }
    values.update(over)
    return rx_services.prescription_create(actor=actor, **values)


def protocol(
    site: Site, *, approve: bool = True, from_strength: str = "", **over: Any
) -> InterchangeProtocol:
    """'Omeprazole to pantoprazole': omeprazole 20 mg → pantoprazole 40 mg (table), else × 2;
    the PIC puts pantoprazole 40 mg on the formulary first and approves it."""
    pic = user(site, Role.PHARMACIST_IN_CHARGE)
    drugs = ppis()
    services.formulary_entry_set(
        actor=pic, product=drugs["panto40"], status=FormularyStatus.PREFERRED
    )
    values: dict[str, Any] = {
        "name": "Omeprazole to pantoprazole",
        "from_ingredient": "omeprazole",
        "from_strength": from_strength,
        "to_product": drugs["panto40"],
        "ratio": Decimal(2),
        "conversions": [{"from": "20 mg", "to": "40 mg"}],
        "sig_note": "omeprazole 20 mg daily → pantoprazole 40 mg daily",
        "notes": "P&T 2024-03",
    }
    values.update(over)
    row = services.protocol_create(actor=pic, **values)
    if approve:
        row = services.protocol_approve(actor=pic, protocol=row)
    return row
