"""Permission-matrix rows for institutional pharmacy: discrepancies (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* reading discrepancies (list, aging, one) is adc.view: technician, pharmacist, PIC,
  inventory specialist, auditor (never a trainee);
* resolving discrepancies and reviewing override removals (and listing them, they name
  patients) is adc.resolve: pharmacist and PIC;
* the dispensed-versus-administered report (it names nurses) is adc.report: pharmacist,
  PIC, auditor.

Also the set-up the discrepancy tests share: a count that came up short (a discrepancy
opened through the cabinet ledger, as the feeds do), an override removal, an imported
administration."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from rxdesk.catalog.models import Package
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.institutional import cabinet_ledger
from rxdesk.institutional.choices import CabinetEvent, DiscrepancyKind, FeedSource
from rxdesk.institutional.models import (
    Administration,
    Cabinet,
    CabinetDiscrepancy,
    CabinetMove,
    OverrideReview,
    Pocket,
)
from rxdesk.patients.models import Patient
from tests.institutional.factories import cabinet, pocket, pocket_stock
from tests.inventory.factories import package

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
VIEWERS = frozenset({T, RPH, PIC, INV, AUD})
RESOLVERS = frozenset({RPH, PIC})
REPORTERS = frozenset({RPH, PIC, AUD})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/institutional"


# --- set-up helpers ---------------------------------------------------------------------------


def oxycodone() -> Package:
    """A Schedule II package (oxycodone 5 mg tablets × 100)."""
    return package(
        "0406-0552-01",
        name="Oxycodone Hydrochloride",
        generic_name="Oxycodone Hydrochloride",
        dosage_form="TABLET",
        strength="5 mg/1",
        directory_dea_schedule="CII",
    )


def fluoxetine() -> Package:
    """A package of a drug that is not controlled (Prozac 20 mg × 30)."""
    return package()


def new_pocket(
    site: Site, *, controlled: bool = False, pkg: Package | None = None, box: Cabinet | None = None
) -> Pocket:
    """A fresh pocket of the site's cabinet (3W-1 unless ``box``), holding ``pkg`` (the
    scheduled drug in a controlled pocket, else fluoxetine)."""
    box = box or cabinet(site)
    n = Pocket.objects.filter(cabinet=box).count() + 1
    chosen = pkg or (oxycodone() if controlled else fluoxetine())
    return pocket(box, chosen, drawer="1", place=f"P{n}", controlled=controlled)


def counted_short(
    site: Site,
    *,
    controlled: bool = False,
    stocked: int = 10,
    counted: int = 8,
    opened_at: dt.datetime | None = None,
    cabinet_user: str = "NURSE01",
    box: Cabinet | None = None,
) -> CabinetDiscrepancy:
    """A pocket stocked with ``stocked``, then counted at the cabinet as ``counted``: the
    count sets the pocket and opens a discrepancy (as the cabinet feed does)."""
    bin_ = pocket_stock(new_pocket(site, controlled=controlled, box=box), quantity=stocked)
    with transaction.atomic():
        moves, expected = cabinet_ledger.count(
            pocket=bin_,
            counted=Decimal(counted),
            who=cabinet_ledger.Who(
                source=FeedSource.CSV, cabinet_user=cabinet_user, occurred_at=opened_at
            ),
        )
        return cabinet_ledger.discrepancy_open(
            pocket=bin_,
            kind=DiscrepancyKind.COUNT_MISMATCH,
            expected=expected,
            found=Decimal(counted),
            move=moves[-1] if moves else None,
            cabinet_user=cabinet_user,
            opened_at=opened_at,
        )


def cabinet_event(
    bin_: Pocket,
    event: str,
    quantity: int | str,
    *,
    cabinet_user: str = "NURSE01",
    occurred_at: dt.datetime | None = None,
    override: bool = False,
    patient: Patient | None = None,
    patient_ref: str = "",
) -> list[CabinetMove]:
    """A removal, waste or return at the cabinet, as a feed would post it."""
    who = cabinet_ledger.Who(
        source=FeedSource.CSV,
        cabinet_user=cabinet_user,
        occurred_at=occurred_at,
        override=override,
        patient=patient,
        patient_ref=patient_ref,
    )
    amount = Decimal(str(quantity))
    with transaction.atomic():
        if event == CabinetEvent.RETURN:
            lot = cabinet_ledger.last_lot(bin_)
            assert lot is not None
            return [
                cabinet_ledger.post(pocket=bin_, lot=lot, quantity=amount, event=event, who=who)
            ]
        moves, short = cabinet_ledger.take(pocket=bin_, quantity=amount, event=event, who=who)
        assert not short
        return moves


def override_removal(
    site: Site,
    *,
    patient: Patient | None = None,
    patient_ref: str = "MRN4471203",
    quantity: int = 2,
    controlled: bool = False,
    occurred_at: dt.datetime | None = None,
    cabinet_user: str = "NURSE01",
) -> CabinetMove:
    """A removal for a patient taken without a verified order (an override)."""
    bin_ = pocket_stock(new_pocket(site, controlled=controlled), quantity=10)
    return cabinet_event(
        bin_,
        CabinetEvent.REMOVAL,
        quantity,
        cabinet_user=cabinet_user,
        occurred_at=occurred_at,
        override=True,
        patient=patient,
        patient_ref=patient_ref,
    )[0]


def administered(
    site: Site,
    pkg: Package,
    quantity: int | str,
    *,
    nurse: str = "NURSE01",
    given_at: dt.datetime | None = None,
    external_id: str | None = None,
) -> Administration:
    """A dose given, as the eMAR import records it."""
    n = Administration.objects.filter(site=site).count() + 1
    return Administration.objects.create(
        site=site,
        external_id=external_id or f"MAR-{n}",
        package=pkg,
        quantity=Decimal(str(quantity)),
        nurse=nurse,
        given_at=given_at or dt.datetime.now(dt.UTC),
    )


# --- API rows ---------------------------------------------------------------------------------


def _resolve(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    d = counted_short(site)
    return f"{P}/cabinet-discrepancies/{d.pk}/resolve", {
        "cause": "miscount",
        "explanation": "Recounted with the nurse: 8 in the pocket.",
        "nurse_name": "Dana Ruiz RN",
    }


def _review(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    move = override_removal(site)
    return f"{P}/cabinet-overrides/{move.pk}/review", {"outcome": "appropriate"}


def _usage(site: Site, user: User | None) -> tuple[str, None]:
    bin_ = pocket_stock(new_pocket(site, controlled=True), quantity=10)
    cabinet_event(bin_, CabinetEvent.REMOVAL, 2)
    administered(site, bin_.package, 2)
    return f"{P}/cabinet-reports/dispensed-vs-administered", None


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/institutional/cabinet-discrepancies"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/cabinet-discrepancies", None),
    ),
    ("GET", "/institutional/cabinet-discrepancies/aging"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/cabinet-discrepancies/aging", None),
    ),
    ("GET", "/institutional/cabinet-discrepancies/{discrepancy_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/cabinet-discrepancies/{counted_short(s).pk}", None),
    ),
    ("POST", "/institutional/cabinet-discrepancies/{discrepancy_id}/resolve"): (
        RESOLVERS,
        200,
        _resolve,
    ),
    ("GET", "/institutional/cabinet-overrides"): (
        RESOLVERS,
        200,
        lambda s, u: (f"{P}/cabinet-overrides", None),
    ),
    ("POST", "/institutional/cabinet-overrides/{move_id}/review"): (RESOLVERS, 201, _review),
    ("GET", "/institutional/cabinet-reports/dispensed-vs-administered"): (
        REPORTERS,
        200,
        _usage,
    ),
}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _discrepancy(site: Site) -> dict[str, Any]:
    return {"pk": counted_short(site).pk}


def _override(site: Site) -> dict[str, Any]:
    return {"pk": override_removal(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "adc_discrepancies": (_none, VIEWERS, NOBODY, None),
    "adc_discrepancy_aging": (_none, VIEWERS, NOBODY, None),
    "adc_discrepancy": (_discrepancy, VIEWERS, NOBODY, None),
    "adc_discrepancy_resolve": (_discrepancy, None, RESOLVERS, 422),
    "adc_overrides": (_none, RESOLVERS, NOBODY, None),
    "adc_override_review": (_override, None, RESOLVERS, 422),
    "adc_usage": (_none, REPORTERS, NOBODY, None),
}
WATCHED: list[Any] = [CabinetDiscrepancy, OverrideReview]
