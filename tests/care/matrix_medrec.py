"""Permission-matrix rows for care: medrec (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* a med rec names its patient: read with care.view and patient.view — technician, trainee,
  pharmacist, PIC (never the auditor, the inventory specialist or the admin);
* gathering the history (start, lines, import, submit, discrepancies by hand) is
  care.medrec: technician, pharmacist, PIC;
* outcomes and completion are care.medrec_resolve: pharmacist, PIC."""

from __future__ import annotations

from typing import Any

from rxdesk.care import services_medrec as services
from rxdesk.care.models import MedRec, MedRecDiscrepancy, MedRecItem
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from tests.care import medrec_setup as ms

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
READERS = frozenset({T, TT, RPH, PIC})
GATHER = frozenset({T, RPH, PIC})
RESOLVE = frozenset({RPH, PIC})

P = "/api/v1/care"


def _open(site: Site) -> MedRec:
    return ms.started(site)


def _with_item(site: Site) -> tuple[MedRec, MedRecItem]:
    m = ms.started(site)
    item = services.medrec_item_add(
        actor=ms.tech(site), medrec=m, source="interview", drug_name="Aspirin 81 mg"
    )
    return m, item


def _review(site: Site, *, resolved: bool = False) -> MedRec:
    """A med rec in review with one omission (resolved when asked)."""
    m, _ = _with_item(site)
    m = services.medrec_submit(actor=ms.tech(site), medrec=m)
    if resolved:
        for d in MedRecDiscrepancy.objects.filter(medrec=m):
            services.medrec_discrepancy_resolve(
                actor=ms.rph(site), discrepancy=d, outcome="patient_educated"
            )
    return m


def _first_discrepancy(m: MedRec) -> MedRecDiscrepancy:
    return MedRecDiscrepancy.objects.filter(medrec=m).order_by("pk")[0]


# --- API rows ---------------------------------------------------------------------------------


def _item_path(site: Site, user: User | None) -> tuple[str, None]:
    m, item = _with_item(site)
    return f"{P}/medrecs/{m.pk}/items/{item.pk}", None


def _resolve(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    m = _review(site)
    d = _first_discrepancy(m)
    return f"{P}/medrecs/{m.pk}/discrepancies/{d.pk}/resolve", {"outcome": "patient_educated"}


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/care/medrecs"): (READERS, 200, lambda s, u: (f"{P}/medrecs", None)),
    ("POST", "/care/medrecs"): (
        GATHER,
        201,
        lambda s, u: (f"{P}/medrecs", {"patient_id": ms.patient(s).pk, "reason": "admission"}),
    ),
    ("GET", "/care/medrecs/{medrec_id}"): (
        READERS,
        200,
        lambda s, u: (f"{P}/medrecs/{_open(s).pk}", None),
    ),
    ("POST", "/care/medrecs/{medrec_id}/items"): (
        GATHER,
        201,
        lambda s, u: (
            f"{P}/medrecs/{_open(s).pk}/items",
            {"source": "interview", "drug_name": "Lisinopril 10 mg", "frequency": "daily"},
        ),
    ),
    ("PATCH", "/care/medrecs/{medrec_id}/items/{item_id}"): (
        GATHER,
        200,
        lambda s, u: (_item_path(s, u)[0], {"dose": "1 tablet"}),
    ),
    ("DELETE", "/care/medrecs/{medrec_id}/items/{item_id}"): (GATHER, 204, _item_path),
    ("POST", "/care/medrecs/{medrec_id}/import-fills"): (
        GATHER,
        200,
        lambda s, u: (f"{P}/medrecs/{_open(s).pk}/import-fills", {"days": 90}),
    ),
    ("POST", "/care/medrecs/{medrec_id}/submit"): (
        GATHER,
        200,
        lambda s, u: (f"{P}/medrecs/{_with_item(s)[0].pk}/submit", None),
    ),
    ("POST", "/care/medrecs/{medrec_id}/discrepancies"): (
        GATHER,
        201,
        lambda s, u: (
            f"{P}/medrecs/{_open(s).pk}/discrepancies",
            {"kind": "other", "description": "Unsure which inhaler"},
        ),
    ),
    ("POST", "/care/medrecs/{medrec_id}/discrepancies/{discrepancy_id}/resolve"): (
        RESOLVE,
        200,
        _resolve,
    ),
    ("POST", "/care/medrecs/{medrec_id}/complete"): (
        RESOLVE,
        200,
        lambda s, u: (f"{P}/medrecs/{_review(s, resolved=True).pk}/complete", {"summary": ""}),
    ),
}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _medrec_kw(site: Site) -> dict[str, Any]:
    return {"pk": _open(site).pk}


def _item_kw(site: Site) -> dict[str, Any]:
    m, item = _with_item(site)
    return {"pk": m.pk, "item": item.pk}


def _review_kw(site: Site) -> dict[str, Any]:
    return {"pk": _review(site).pk}


def _discrepancy_kw(site: Site) -> dict[str, Any]:
    m = _review(site)
    return {"pk": m.pk, "discrepancy": _first_discrepancy(m).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "care_medrecs": (_none, READERS, NOBODY, None),
    "care_medrec_start": (_none, GATHER, GATHER, 422),
    "care_medrec": (_medrec_kw, READERS, NOBODY, None),
    "care_medrec_item_add": (_medrec_kw, None, GATHER, 422),
    "care_medrec_item_remove": (_item_kw, None, GATHER, 302),
    "care_medrec_import": (_medrec_kw, None, GATHER, 302),
    "care_medrec_submit": (_medrec_kw, None, GATHER, 422),  # an empty history
    "care_medrec_discrepancy_add": (_medrec_kw, None, GATHER, 422),
    "care_medrec_resolve": (_discrepancy_kw, None, RESOLVE, 422),
    "care_medrec_complete": (_review_kw, None, RESOLVE, 409),  # one still open
    "care_medrec_print": (_medrec_kw, READERS, NOBODY, None),
}
WATCHED: list[Any] = [MedRec, MedRecItem, MedRecDiscrepancy]
