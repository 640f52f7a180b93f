"""Permission-matrix rows for the controlled-substance disposal pages and API (the shapes of
tests/test_permission_matrix.py API_MATRIX and tests/test_permission_matrix_ui.py UI_MATRIX).
Written by hand from the specification:

* the records (Form 41 destructions, waste, the disposal register) are read by everyone who
  sees controlled-substance records (cs.view): technician, pharmacist, PIC, inventory
  specialist, auditor;
* destruction on Form 41 is a pharmacist's act (cs.destroy: pharmacist, PIC);
* waste and patient returns are recorded by technician, pharmacist and PIC (cs.waste);
* a technician in training and the administrator have none of it.

Also the set-up helpers the disposal tests share (two witnesses, a recorded destruction)."""

from __future__ import annotations

from typing import Any

from rxdesk.controlled import services_disposal
from rxdesk.controlled.models import Destruction, DestructionLine, Waste
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.inventory.models import StockMove
from tests.conftest import earlier_today
from tests.controlled.factories import credentials, cs_stock, oxycodone, witness

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
CS_READERS = frozenset({T, RPH, PIC, INV, AUD})
DESTROYERS = frozenset({RPH, PIC})
WASTERS = frozenset({T, RPH, PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/controlled"


# --- set-up helpers ---------------------------------------------------------------------------


def witnesses(site: Site) -> tuple[User, User]:
    """Two witnesses who are nobody else in the matrix: a technician and a pharmacist."""
    return (
        witness(site, Role.TECHNICIAN, "matrix-cs-w1"),
        witness(site, Role.PHARMACIST, "matrix-cs-w2"),
    )


def recorded(site: Site) -> Destruction:
    """A destruction of 1 bottle of oxycodone recorded through the service by a pharmacist."""
    actor = witness(site, Role.PHARMACIST, "matrix-cs-rph")
    first, second = witnesses(site)
    balance = cs_stock(site, oxycodone(), 300, lot="MX1")
    return services_disposal.cs_destroy(
        actor=actor,
        destroyed_at=earlier_today(site, minutes=5),
        method="incineration",
        location="Back room incinerator",
        lines=[{"balance_id": balance.pk, "full_packages": 1}],
        witnesses=[credentials(first), credentials(second)],
    )


# --- API rows ---------------------------------------------------------------------------------


def _destroy(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    first, second = witnesses(site)
    balance = cs_stock(site, oxycodone(), 200, lot="MX2")
    return f"{P}/destructions", {
        "destroyed_at": earlier_today(site, minutes=1).isoformat(),
        "method": "chemical_digestion",
        "location": "Pharmacy vault, denaturing container",
        "lines": [{"balance_id": balance.pk, "full_packages": 1, "partial_quantity": "12"}],
        "witnesses": [credentials(first), credentials(second)],
    }


def _waste(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    first, _ = witnesses(site)
    balance = cs_stock(site, oxycodone(), 100, lot="MX3")
    return f"{P}/waste", {
        "kind": "breakage",
        "ndc": balance.package.ndc10,
        "quantity": "2",
        "reason": "Dropped two tablets in the sink drain",
        "balance_id": balance.pk,
        "witness": credentials(first),
    }


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/controlled/destructions"): (
        CS_READERS,
        200,
        lambda s, u: (f"{P}/destructions", None),
    ),
    ("POST", "/controlled/destructions"): (DESTROYERS, 201, _destroy),
    ("GET", "/controlled/destructions/{destruction_id}"): (
        CS_READERS,
        200,
        lambda s, u: (f"{P}/destructions/{recorded(s).pk}", None),
    ),
    ("GET", "/controlled/destructions/{destruction_id}/pdf"): (
        CS_READERS,
        200,
        lambda s, u: (f"{P}/destructions/{recorded(s).pk}/pdf", None),
    ),
    ("GET", "/controlled/waste"): (CS_READERS, 200, lambda s, u: (f"{P}/waste", None)),
    ("POST", "/controlled/waste"): (WASTERS, 201, _waste),
    ("GET", "/controlled/disposals"): (CS_READERS, 200, lambda s, u: (f"{P}/disposals", None)),
}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _destruction_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": recorded(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "cs_destructions": (_none, CS_READERS, NOBODY, None),
    "cs_destruction_create": (_none, DESTROYERS, DESTROYERS, 422),
    "cs_destruction_detail": (_destruction_kwargs, CS_READERS, NOBODY, None),
    "cs_destruction_pdf": (_destruction_kwargs, CS_READERS, NOBODY, None),
    "cs_waste": (_none, CS_READERS, WASTERS, 422),
    "cs_disposals": (_none, CS_READERS, NOBODY, None),
}
WATCHED: list[Any] = [Destruction, DestructionLine, Waste, StockMove]
