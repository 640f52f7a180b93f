"""Permission-matrix rows for billing: API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX, UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX. Written by hand from the specification:

* billing, reversing, rebilling, resubmitting, cash, eligibility and the outbox are the
  technician's, the pharmacist's and the PIC's (claims.bill) — not the trainee's, the
  inventory specialist's, the auditor's or the admin's;
* reading claims, the reject queue and the outbox: the same three (claims.view);
* letting a fill go on while its claim waits for the switch: pharmacist and PIC.

The plan's switch is a loopback port nothing listens on: a claim sent there is refused at
once and waits in the outbox, so an allowed call answers 200 without a payer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rxdesk.claims.choices import ClaimStatus
from rxdesk.claims.models import Claim, FillBilling, Payer, Plan
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Coverage
from rxdesk.rx.models import Fill
from tests.claims.billing_helpers import card, priced_rx
from tests.claims.conftest import free_port
from tests.factories import UserFactory

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
BILLERS = frozenset({T, RPH, PIC})
PHARMACISTS = frozenset({RPH, PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/claims"


def _plan() -> Plan:
    payer = Payer.objects.filter(name="Matrix PBM").first() or Payer.objects.create(
        name="Matrix PBM", port=free_port(), timeout_seconds=1
    )
    return Plan.objects.filter(bin="610014").first() or Plan.objects.create(
        payer=payer, name="Matrix plan", bin="610014", pcn="TESTPCN"
    )


def _tech(site: Site) -> User:
    return User.objects.filter(site=site, username="matrix-claims-tech").first() or UserFactory(
        site=site, role=T, username="matrix-claims-tech"
    )


def _fill(site: Site) -> Fill:
    _plan()
    rx, fill = priced_rx(_tech(site))
    card(rx.patient)
    return fill


def _claim(site: Site, status: str = ClaimStatus.PAID) -> Claim:
    fill = _fill(site)
    coverage = Coverage.objects.get(patient=fill.prescription.patient)
    return Claim.objects.create(
        site=site,
        fill=fill,
        coverage=coverage,
        plan=_plan(),
        status=status,
        rx_number=fill.prescription.number,
        fill_number=fill.number,
        date_of_service=site.today(),
        ndc=fill.prescription.package.ndc11,
        quantity=fill.quantity,
        days_supply=fill.days_supply,
        patient_pay=Decimal("5.00") if status == ClaimStatus.PAID else None,
        reject_codes=["75"] if status == ClaimStatus.REJECTED else [],
    )


def _queued(site: Site) -> Claim:
    return _claim(site, ClaimStatus.QUEUED)


API_ROWS: dict[tuple[str, str], Any] = {
    ("POST", "/claims/fills/{fill_id}/bill"): (
        BILLERS,
        200,
        lambda s, u: (f"{P}/fills/{_fill(s).pk}/bill", None),
    ),
    ("GET", "/claims/fills/{fill_id}/claims"): (
        BILLERS,
        200,
        lambda s, u: (f"{P}/fills/{_claim(s).fill_id}/claims", None),
    ),
    ("POST", "/claims/fills/{fill_id}/cash"): (
        BILLERS,
        200,
        lambda s, u: (f"{P}/fills/{_fill(s).pk}/cash", {"reason": "Patient pays cash"}),
    ),
    ("POST", "/claims/fills/{fill_id}/proceed"): (
        PHARMACISTS,
        200,
        lambda s, u: (
            f"{P}/fills/{_queued(s).fill_id}/proceed",
            {"collect": "5.00", "reason": "Switch down"},
        ),
    ),
    ("GET", "/claims/claims/{claim_id}"): (
        BILLERS,
        200,
        lambda s, u: (f"{P}/claims/{_claim(s).pk}", None),
    ),
    ("POST", "/claims/claims/{claim_id}/resubmit"): (
        BILLERS,
        200,
        lambda s, u: (f"{P}/claims/{_claim(s, ClaimStatus.REJECTED).pk}/resubmit", {}),
    ),
    ("POST", "/claims/claims/{claim_id}/reverse"): (
        BILLERS,
        200,
        lambda s, u: (f"{P}/claims/{_claim(s).pk}/reverse", {"reason": "Billed in error"}),
    ),
    ("POST", "/claims/claims/{claim_id}/rebill"): (
        BILLERS,
        200,
        lambda s, u: (f"{P}/claims/{_claim(s).pk}/rebill", None),
    ),
    ("GET", "/claims/rejects"): (BILLERS, 200, lambda s, u: (f"{P}/rejects", None)),
    ("POST", "/claims/coverages/{coverage_id}/eligibility"): (
        BILLERS,
        200,
        lambda s, u: (
            f"{P}/coverages/{Coverage.objects.get(patient=_fill(s).prescription.patient).pk}"
            "/eligibility",
            None,
        ),
    ),
    ("GET", "/claims/outbox"): (BILLERS, 200, lambda s, u: (f"{P}/outbox", None)),
    ("POST", "/claims/outbox/replay"): (
        BILLERS,
        200,
        lambda s, u: (f"{P}/outbox/replay", None),
    ),
}


def _fill_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _fill(site).pk}


def _claim_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _claim(site).pk}


def _none(site: Site) -> dict[str, Any]:
    return {}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[Any, Any] = {
    "claims_fill": (_fill_kwargs, BILLERS, NOBODY, None),
    "claims_fill_bill": (_fill_kwargs, None, BILLERS, 302),
    "claims_fill_cash": (_fill_kwargs, None, BILLERS, 302),
    "claims_fill_proceed": (_fill_kwargs, None, PHARMACISTS, 302),
    "claims_claim_reverse": (_claim_kwargs, None, BILLERS, 302),
    "claims_claim_rebill": (_claim_kwargs, None, BILLERS, 302),
    "claims_outbox": (_none, BILLERS, BILLERS, 302),
}
WATCHED: list[Any] = [Claim, FillBilling]
