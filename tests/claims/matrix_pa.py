"""Permission-matrix rows for prior authorization cases and the reject queue: API_ROWS in
the shape of tests/test_permission_matrix.py's API_MATRIX, UI_ROWS and WATCHED in the shape
of tests/test_permission_matrix_ui.py's UI_MATRIX. Written by hand from the specification:

* PA cases and the reject queue are the technician's daily work: technician, pharmacist
  and PIC read and write them (claims.view, claims.bill); a technician in training, the
  inventory specialist, the auditor and the administrator do not see them;
* uploading a document is a multipart form: the matrix sends JSON, so an allowed role
  reaches the form's check (422) and the others are refused before it (403).

Also the set-up helpers the PA and reject-queue tests share (a plan, a prescription, a case,
a rejected claim, document bytes)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rxdesk.claims.choices import ClaimStatus, PriorAuthStatus
from rxdesk.claims.models import Claim, Payer, Plan, PriorAuth, PriorAuthDocument, PriorAuthEvent
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Coverage
from rxdesk.rx.models import Fill, Prescription
from tests.factories import UserFactory
from tests.rx.factories import first_fill, make_rx

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
CLAIM_WORKERS = frozenset({T, RPH, PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/claims"

# The smallest files of each kind a PA document may be (their first bytes are what count).
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40
TIFF = b"II*\x00" + b"\x00" * 40


# --- set-up helpers ---------------------------------------------------------------------------


def clerk(site: Site) -> User:
    return User.objects.filter(site=site, username="matrix-pa-tech").first() or UserFactory(
        site=site, role=T, username="matrix-pa-tech"
    )


def plan(bin: str = "610014", pcn: str = "TESTPCN", name: str = "Test Commercial") -> Plan:
    """A plan (and its payer) on a loopback switch port nothing listens on."""
    payer = Payer.objects.filter(name=f"{name} PBM").first() or Payer.objects.create(
        name=f"{name} PBM", port=9, help_desk_phone="8005550100"
    )
    found = Plan.objects.filter(bin=bin, pcn=pcn, group="").first()
    return found or Plan.objects.create(payer=payer, name=name, bin=bin, pcn=pcn)


def prescription(site: Site) -> Prescription:
    return make_rx(clerk(site))


def case(
    site: Site,
    status: str = PriorAuthStatus.NEEDED,
    *,
    rx: Prescription | None = None,
    the_plan: Plan | None = None,
    **over: Any,
) -> PriorAuth:
    """A case in ``status`` written straight to the table (with its opening event), for
    tests that start from a given point; tests of behaviour call the services."""
    rx = rx or prescription(site)
    values: dict[str, Any] = {
        "site": site,
        "prescription": rx,
        "plan": the_plan or plan(),
        "status": status,
        "opened_by": clerk(site),
    }
    if status == PriorAuthStatus.APPROVED:
        today = site.today()
        values |= {
            "number": "PA12345",
            "approved_from": today - dt.timedelta(days=1),
            "approved_to": today + dt.timedelta(days=180),
        }
    if status == PriorAuthStatus.DENIED:
        values["denied_reason"] = "Step therapy not met"
    values.update(over)
    pa = PriorAuth.objects.create(**values)
    PriorAuthEvent.objects.create(prior_auth=pa, status_to=status, actor=clerk(site))
    return pa


def document(pa: PriorAuth) -> PriorAuthDocument:
    import hashlib

    return PriorAuthDocument.objects.create(
        prior_auth=pa,
        name="pa-form.pdf",
        content_type="application/pdf",
        data=PDF,
        size=len(PDF),
        sha256=hashlib.sha256(PDF).hexdigest(),
        uploaded_by=clerk(pa.site),
    )


def coverage_for(rx: Prescription, the_plan: Plan) -> Coverage:
    found = Coverage.objects.filter(patient=rx.patient, rank=1, active=True).first()
    return found or Coverage.objects.create(
        patient=rx.patient,
        bin=the_plan.bin,
        pcn=the_plan.pcn,
        member_id="ZZQ900112233",
        person_code="01",
    )


def rejected_claim(
    site: Site,
    codes: list[str] | tuple[str, ...] = ("75",),
    *,
    fill: Fill | None = None,
    the_plan: Plan | None = None,
    **over: Any,
) -> Claim:
    """A rejected B1 claim for a new prescription's first fill, written straight to the
    table as the billing service would have left it."""
    fill = fill or first_fill(prescription(site))
    rx = fill.prescription
    the_plan = the_plan or plan()
    values: dict[str, Any] = {
        "site": site,
        "fill": fill,
        "coverage": coverage_for(rx, the_plan),
        "plan": the_plan,
        "status": ClaimStatus.REJECTED,
        "rx_number": rx.number,
        "fill_number": fill.number,
        "date_of_service": site.today(),
        "ndc": "00002300030",
        "quantity": fill.quantity,
        "days_supply": fill.days_supply,
        "reject_codes": list(codes),
        "message": "",
        "usual_customary": Decimal("18.99"),
        "submitted_by": clerk(site),
        "attempts": 1,
    }
    values.update(over)
    return Claim.objects.create(**values)


# --- API rows ---------------------------------------------------------------------------------


def _open(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/prior-auths", {
        "prescription_id": prescription(site).pk,
        "plan_id": plan().pk,
        "note": "Reject 75 at the counter",
    }


def _doc_path(site: Site, user: User | None) -> tuple[str, None]:
    doc = document(case(site))
    return f"{P}/prior-auths/{doc.prior_auth_id}/documents/{doc.pk}", None


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/claims/prior-auths"): (CLAIM_WORKERS, 200, lambda s, u: (f"{P}/prior-auths", None)),
    ("POST", "/claims/prior-auths"): (CLAIM_WORKERS, 201, _open),
    ("GET", "/claims/prior-auths/{pa_id}"): (
        CLAIM_WORKERS,
        200,
        lambda s, u: (f"{P}/prior-auths/{case(s).pk}", None),
    ),
    ("PATCH", "/claims/prior-auths/{pa_id}"): (
        CLAIM_WORKERS,
        200,
        lambda s, u: (f"{P}/prior-auths/{case(s).pk}", {"status": "submitted"}),
    ),
    ("POST", "/claims/prior-auths/{pa_id}/documents"): (
        CLAIM_WORKERS,
        422,
        lambda s, u: (f"{P}/prior-auths/{case(s).pk}/documents", {}),
    ),
    ("GET", "/claims/prior-auths/{pa_id}/documents/{doc_id}"): (CLAIM_WORKERS, 200, _doc_path),
}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _case_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": case(site).pk}


def _doc_kwargs(site: Site) -> dict[str, Any]:
    doc = document(case(site))
    return {"pk": doc.prior_auth_id, "doc_id": doc.pk}


def _claim_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": rejected_claim(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "claims_pa_queue": (_none, CLAIM_WORKERS, NOBODY, None),
    "claims_pa_detail": (_case_kwargs, CLAIM_WORKERS, CLAIM_WORKERS, 422),
    "claims_pa_upload": (_case_kwargs, None, CLAIM_WORKERS, 422),
    "claims_pa_document": (_doc_kwargs, CLAIM_WORKERS, NOBODY, None),
    "claims_rejects": (_none, CLAIM_WORKERS, NOBODY, None),
    "claims_reject_work": (_claim_kwargs, None, CLAIM_WORKERS, 422),
}
WATCHED: list[Any] = [PriorAuth, PriorAuthEvent, PriorAuthDocument, Claim]
