"""Permission-matrix rows for the inventory's recalls screens and API (same shape as
tests/test_permission_matrix.py's API_MATRIX and tests/test_permission_matrix_ui.py's
UI_MATRIX; WATCHED lists models whose row counts must not change on a refused POST).

Also the set-up helpers the recall tests share: a recall entered through the real service
(as the operator at the shell), and a dispensing to a patient through the real ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from rxdesk.core import context
from rxdesk.core.choices import Role
from rxdesk.core.models import Site
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import Recall, RecallItem, RecallStock, StockBalance, StockMove
from rxdesk.inventory.services.recalls import recall_create
from rxdesk.patients.models import Patient
from tests.factories import PatientFactory
from tests.inventory.factories import package, stock

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
INVENTORY_READERS = frozenset({T, TT, RPH, PIC, INV, AUD})
# Entering, resolving and closing a recall: stock control (pharmacists, inventory specialist).
RECALLERS = frozenset({RPH, PIC, INV})
# The affected patients and their letters: patient information, so patient.view as well.
PATIENT_AND_STOCK_READERS = frozenset({T, TT, RPH, PIC})

P = "/api/v1/inventory"


# --- Shared set-up -----------------------------------------------------------------------------


def make_recall(
    site: Site,
    *,
    ndc: str = "0002-3227-30",
    lot: str = "L1",
    number: str = "D-0001-2026",
    classification: str = "II",
    reason: str = "Presence of foreign substance: metal particles found in tablets.",
    firm: str = "Eli Lilly and Company",
) -> Recall:
    """A recall entered at ``site`` through the real service, by the operator at the shell."""
    with context.using(context.RequestInfo(request_id="setup", channel="cli")):
        return recall_create(
            actor=None,
            site=site,
            classification=classification,
            reason=reason,
            recall_date=dt.date(2026, 1, 5),
            recall_number=number,
            firm=firm,
            items=[{"ndc": ndc, "lot_number": lot}],
        )


def dispense(
    site: Site,
    balance: StockBalance,
    patient: Patient,
    quantity: int | str = 30,
    *,
    ref: tuple[str, Any] = ("fill", 1),
) -> StockMove:
    """Stock out to a patient through the ledger (as the fill workflow will)."""
    with transaction.atomic():
        return ledger.post_out(
            balance=balance,
            quantity=Decimal(str(quantity)),
            reason=MoveReason.DISPENSE,
            actor=None,
            patient_id=patient.pk,
            ref=ledger.Ref(*ref),
        )


def stocked_recall(site: Site, *, with_patient: bool = False) -> Recall:
    """A recall of lot L1, which the site holds (and dispensed to a patient, if asked)."""
    balance = stock(site, package(), "L1", 100)
    if with_patient:
        dispense(site, balance, PatientFactory(site=site, first_name="Ana", last_name="Lima"))
    return make_recall(site)


def _stock_of(recall: Recall) -> RecallStock:
    return RecallStock.objects.get(recall=recall)


IMPORT_RECORD = {
    "recall_number": "D-0456-2026",
    "classification": "Class II",
    "reason_for_recall": "Failed dissolution specifications.",
    "recall_initiation_date": "20260102",
    "recalling_firm": "Eli Lilly and Company",
    "product_description": "Prozac (fluoxetine) capsules, 20 mg, 30-count bottle, NDC 0002-3227-30",
    "code_info": "Lot #: L9, Exp 12/2027",
    "status": "Ongoing",
    "product_type": "Drugs",
    "openfda": {"package_ndc": ["0002-3227-30"], "product_ndc": ["0002-3227"]},
}


def _import_body(site: Site) -> dict[str, Any]:
    package()
    return IMPORT_RECORD


# --- API ---------------------------------------------------------------------------------------

API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/inventory/recalls"): (
        INVENTORY_READERS,
        200,
        lambda s, u: (f"{P}/recalls", None),
    ),
    ("POST", "/inventory/recalls"): (
        RECALLERS,
        201,
        lambda s, u: (
            package() and f"{P}/recalls",
            {
                "classification": "I",
                "reason": "Mislabeled: bottle holds 40 mg capsules.",
                "recall_date": "2026-01-05",
                "recall_number": "D-0099-2026",
                "items": [{"ndc": "0002-3227-30", "lot_number": "L1"}],
            },
        ),
    ),
    ("POST", "/inventory/recalls/import-openfda"): (
        RECALLERS,
        201,
        lambda s, u: (f"{P}/recalls/import-openfda", _import_body(s)),
    ),
    ("GET", "/inventory/recalls/{recall_id}"): (
        INVENTORY_READERS,
        200,
        lambda s, u: (f"{P}/recalls/{stocked_recall(s).pk}", None),
    ),
    ("GET", "/inventory/recalls/{recall_id}/patients"): (
        PATIENT_AND_STOCK_READERS,
        200,
        lambda s, u: (f"{P}/recalls/{stocked_recall(s, with_patient=True).pk}/patients", None),
    ),
    ("GET", "/inventory/recalls/{recall_id}/letters"): (
        PATIENT_AND_STOCK_READERS,
        200,
        lambda s, u: (f"{P}/recalls/{stocked_recall(s, with_patient=True).pk}/letters", None),
    ),
    ("POST", "/inventory/recalls/{recall_id}/stock/{stock_id}/resolve"): (
        RECALLERS,
        200,
        lambda s, u: (
            (r := stocked_recall(s)) and f"{P}/recalls/{r.pk}/stock/{_stock_of(r).pk}/resolve",
            {"resolution": "Returned to vendor, RA 5512"},
        ),
    ),
    ("POST", "/inventory/recalls/{recall_id}/close"): (
        RECALLERS,
        200,
        lambda s, u: (
            package() and f"{P}/recalls/{make_recall(s).pk}/close",
            {"closing_note": "No stock held; wholesaler notice filed."},
        ),
    ),
}


# --- Screens -----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _recall(site: Site) -> dict[str, Any]:
    return {"pk": stocked_recall(site).pk}


def _recall_stock(site: Site) -> dict[str, Any]:
    recall = stocked_recall(site)
    return {"pk": recall.pk, "stock_pk": _stock_of(recall).pk}


def _unstocked_recall(site: Site) -> dict[str, Any]:
    package()
    return {"pk": make_recall(site).pk}


UI_ROWS: dict[str, Any] = {
    "inventory_recalls": (_none, INVENTORY_READERS, frozenset(), None),
    "inventory_recall_create": (_none, RECALLERS, RECALLERS, 422),
    "inventory_recall_import": (_none, RECALLERS, RECALLERS, 422),
    "inventory_recall_detail": (_recall, INVENTORY_READERS, frozenset(), None),
    # No patient received the lot: the button says so on the recall's page (a redirect).
    "inventory_recall_letters": (_recall, None, PATIENT_AND_STOCK_READERS, 302),
    "inventory_recall_resolve": (_recall_stock, RECALLERS, RECALLERS, 422),
    "inventory_recall_close": (_unstocked_recall, RECALLERS, RECALLERS, 422),
}

WATCHED: list[Any] = [Recall, RecallItem, RecallStock, StockBalance, StockMove]
