"""Permission-matrix rows for the point of sale (pse): API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX, UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX. Written by hand from the specification:

* a pseudoephedrine/ephedrine sale is made by a technician, a pharmacist or the PIC — not a
  technician in training (pos.pse_sell), and not the inventory specialist, the auditor or
  the administrator;
* the CMEA logbook (purchasers' names, addresses and IDs) is read by a pharmacist, the PIC
  and the auditor (pos.pse_log) only."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from rxdesk.calc import cmea
from rxdesk.catalog.models import Ingredient, Package, Product
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.pos.models import PseEntry, Sale, SaleLine
from tests.factories import UserFactory
from tests.pos.factories import cmea_package, signature

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
PSE_SELLERS = frozenset({T, RPH, PIC})
PSE_LOG_READERS = frozenset({RPH, PIC, AUD})

P = "/api/v1/pos"


def btc_package(**over: Any) -> Package:
    """A behind-the-counter package (tests.pos.factories.cmea_package) flagged CMEA in the
    catalog with its base per unit worked out from its ingredient, as the importer does."""
    package = cmea_package(**over)
    product = package.product
    base = cmea.product_base_mg(
        [(i.name, i.strength, i.unit) for i in Ingredient.objects.filter(product=product)]
    )
    Product.objects.filter(pk=product.pk).update(cmea=True, cmea_base_mg=base)
    return Package.objects.select_related("product").get(pk=package.pk)


def _clerk(site: Site) -> User:
    return User.objects.filter(site=site, username="matrix-pse-clerk").first() or UserFactory(
        site=site, role=T, username="matrix-pse-clerk"
    )


def _sale(site: Site) -> Sale:
    return Sale.objects.create(site=site, started_by=_clerk(site))


def purchaser(site: Site) -> dict[str, Any]:
    today = site.today()
    return {
        "first_name": "Dana",
        "last_name": "Reyes",
        "date_of_birth": "1985-03-14",
        "address_line1": "12 Elm St",
        "address_line2": "",
        "city": "Springfield",
        "state": "IL",
        "postal_code": "62704",
        "id_type": "drivers_license",
        "id_number": "R123-4567-8901",
        "id_state": "IL",
        "id_expiry": (today + dt.timedelta(days=400)).isoformat(),
    }


def _sell(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    package = btc_package()
    return (
        f"{P}/sales/{_sale(site).pk}/pse",
        {
            "code": package.ndc10,
            "packages": 1,
            "purchaser": purchaser(site),
            "signature": base64.b64encode(signature()).decode(),
        },
    )


def _log(site: Site, user: User | None) -> tuple[str, None]:
    today = site.today()
    return f"{P}/pse/log?start={today - dt.timedelta(days=7)}&end={today}", None


API_ROWS: dict[tuple[str, str], Any] = {
    ("POST", "/pos/sales/{sale_id}/pse"): (PSE_SELLERS, 201, _sell),
    ("POST", "/pos/pse/limits"): (
        PSE_SELLERS,
        200,
        lambda s, u: (f"{P}/pse/limits", {"purchaser": purchaser(s)}),
    ),
    ("GET", "/pos/pse/log"): (PSE_LOG_READERS, 200, _log),
}


def _none(site: Site) -> dict[str, Any]:
    return {}


def _sale_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _sale(site).pk}


NOBODY: frozenset[Role] = frozenset()

# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[Any, Any] = {
    "pse_log": (_none, PSE_LOG_READERS, NOBODY, None),
    "pse_sale": (_sale_kwargs, PSE_SELLERS, PSE_SELLERS, 422),
}
WATCHED: list[Any] = [PseEntry, SaleLine]
