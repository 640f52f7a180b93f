"""Set-up for immunization tests (rows written directly, bypassing the services on
purpose; tests of behaviour call the services).

- Vaccines: a few real CVX codes (150 influenza quadrivalent PF, 115 Tdap, 187 zoster
  recombinant, 208 COVID-19 Pfizer, 03 MMR live) and MVX manufacturers; :func:`load_cdc`
  loads the whole real CDC code set from ../shared/data/cdc-cvx/ through the importer.
- A flu vaccine in the catalog: Fluzone Quadrivalent 0.5 mL single-dose syringes, a carton
  of 10 (unit of sale, billed EA: one syringe = one dose) with its unit-of-use syringe NDC,
  linked by the crosswalk; :func:`stocked` puts a lot of it on the shelf through the real
  ledger and records its funding (VFC / state / private).
- The current Influenza VIS."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from rxdesk.catalog.models import Package
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.immunizations.choices import CrosswalkUnit, Funding, VisStatus
from rxdesk.immunizations.common import settings_of
from rxdesk.immunizations.models import (
    ImmunizationSettings,
    Manufacturer,
    Vaccine,
    VaccineLot,
    VaccineNdc,
    VisDocument,
)
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import StockBalance
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.factories import UserFactory

FAR = dt.date(2030, 6, 30)

VACCINES: dict[str, tuple[str, list[str], bool]] = {
    "150": ("Influenza, injectable, quadrivalent, preservative free", ["FLU"], False),
    "115": ("Tdap", ["DTAP"], False),
    "187": ("zoster recombinant", ["ZOSTER"], False),
    "208": ("COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose", ["COVID-19"], False),
    "03": ("MMR", ["MMR"], True),
    "33": ("pneumococcal polysaccharide PPV23", ["PneumoPCV"], False),
}
MANUFACTURERS = {"PMC": "Sanofi Pasteur", "SKB": "GlaxoSmithKline", "PFR": "Pfizer, Inc"}

# The crosswalk prints NDCs as 5-4-2 (11 digits); the catalog package keeps the 10-digit
# form printed on the carton.
FLU_SALE_NDC10 = "49281-0421-50"  # carton of 10 syringes (crosswalk form)
FLU_USE_NDC10 = "49281-0421-88"  # one syringe (crosswalk form)
FLU_PACKAGE_NDC10 = "49281-421-50"  # the carton as the catalog prints it


def staff(site: Site, role: Role = Role.TECHNICIAN, username: str | None = None) -> User:
    """A member of staff of ``site`` with a current credential."""
    name = username or f"imm-{role.value.replace('_', '-')}-{site.pk}"
    return UserFactory(site=site, role=role, username=name)


def vaccine(cvx: str = "150") -> Vaccine:
    short, groups, live = VACCINES.get(cvx, (f"Vaccine {cvx}", [], False))
    return Vaccine.objects.get_or_create(
        cvx=cvx,
        defaults={
            "short_description": short,
            "full_name": short,
            "status": "Active",
            "groups": groups,
            "live": live,
        },
    )[0]


def manufacturer(mvx: str = "PMC") -> Manufacturer:
    return Manufacturer.objects.get_or_create(
        mvx=mvx, defaults={"name": MANUFACTURERS.get(mvx, mvx), "status": "Active"}
    )[0]


def _ndc11(ndc10: str) -> str:
    a, b, c = ndc10.split("-")
    return a.rjust(5, "0") + b.rjust(4, "0") + c.rjust(2, "0")


def flu_package() -> Package:
    """Fluzone Quadrivalent, carton of 10 single-dose 0.5 mL syringes (EA), with both
    crosswalk rows (unit of sale → package; unit of use → the sale NDC)."""
    found = Package.objects.filter(ndc11=_ndc11(FLU_SALE_NDC10)).first()
    if found is not None:
        return found
    product = ProductFactory(
        product_id="49281-421_test",
        product_ndc="49281-421",
        product_type="VACCINE",
        name="Fluzone Quadrivalent",
        generic_name="Influenza Vaccine",
        dosage_form="INJECTION, SUSPENSION",
        route="INTRAMUSCULAR",
        strength="15 ug/.5mL",
        substances="INFLUENZA VIRUS VACCINE",
        pharm_classes="",
        marketing_category="BLA",
        application_number="BLA103914",
        labeler="Sanofi Pasteur Inc.",
        cold_chain=True,
        storage="refrigerate",
    )
    pkg = PackageFactory(
        product=product,
        ndc10=FLU_PACKAGE_NDC10,
        description="10 SYRINGE in 1 PACKAGE (49281-421-50) > .5 mL in 1 SYRINGE",
        billing_unit="EA",
        package_quantity=Decimal("10"),
    )
    flu, pmc = vaccine("150"), manufacturer("PMC")
    common: dict[str, Any] = {
        "vaccine": flu,
        "manufacturer": pmc,
        "proprietary_name": "FLUZONE QUADRIVALENT",
        "labeler": "Sanofi Pasteur Inc.",
        "route": "INTRAMUSCULAR",
        "start_date": dt.date(2020, 7, 1),
    }
    VaccineNdc.objects.create(
        ndc11=_ndc11(FLU_SALE_NDC10),
        ndc10=FLU_SALE_NDC10,
        unit=CrosswalkUnit.SALE,
        description="Influenza vaccine, quadrivalent",
        package_form="PACKAGE, 10 SYRINGE",
        package=pkg,
        **common,
    )
    VaccineNdc.objects.create(
        ndc11=_ndc11(FLU_USE_NDC10),
        ndc10=FLU_USE_NDC10,
        unit=CrosswalkUnit.USE,
        description="Influenza vaccine, quadrivalent",
        package_form="SYRINGE, .5 mL",
        sale_ndc11=_ndc11(FLU_SALE_NDC10),
        gtin="00349281421884",
        package=pkg,
        **common,
    )
    return pkg


def stocked(
    site: Site,
    *,
    funding: str = Funding.PRIVATE,
    lot: str = "UT7011AA",
    quantity: int | str = 10,
    expiry: dt.date | None = FAR,
    pkg: Package | None = None,
) -> StockBalance:
    """``quantity`` doses of a lot of flu vaccine on the site's shelf (an opening-balance
    move through the real ledger), recorded as ``funding`` stock."""
    pkg = pkg or flu_package()
    with transaction.atomic():
        the_lot = ledger.lot_get_or_create(package=pkg, number=lot, expiry=expiry)
        ledger.post_in(
            site=site,
            lot=the_lot,
            quantity=Decimal(str(quantity)),
            reason=MoveReason.OPENING,
            actor=None,
        )
        VaccineLot.objects.get_or_create(site=site, lot=the_lot, defaults={"funding": funding})
    return StockBalance.objects.select_related("lot", "package", "site").get(site=site, lot=the_lot)


def flu_vis() -> VisDocument:
    doc, created = VisDocument.objects.get_or_create(
        barcode="253088698300008611230808",
        defaults={
            "name": "Influenza Vaccine (Inactivated or Recombinant) VIS",
            "edition_date": dt.date(2023, 8, 6),
            "document_code": "0886983000086",
            "status": VisStatus.CURRENT,
        },
    )
    if created:
        doc.vaccines.add(vaccine("150"))
    return doc


def imm_settings(site: Site, **over: Any) -> ImmunizationSettings:
    row = settings_of(site)
    for key, value in over.items():
        setattr(row, key, value)
    row.save()
    return row
