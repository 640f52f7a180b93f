"""Permission-matrix rows for institutional pharmacy: packaging (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* reading the log, records and med paks, and the BUD calculator is ltc.view: technician,
  trainee, pharmacist, PIC, auditor;
* repackaging, preparing a med pak, appearances and printing labels is packaging.make:
  technician, pharmacist, PIC (the new-med-pak screen also needs patient.view);
* checking and rejecting is packaging.check: pharmacist and PIC;
* the rule and limits are ltc.setup: the PIC.

Also the set-up the packaging tests share: capsules in stock, repackaging records and med
paks taken through the real services, by a technician and checked by a pharmacist who are
not the matrix's users."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rxdesk.catalog.models import Package
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.institutional import services_packaging as services
from rxdesk.institutional.models import (
    Appearance,
    InstitutionalSettings,
    MedPak,
    MedPakItem,
    RepackRecord,
)
from rxdesk.inventory.models import StockBalance, StockMove
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Fill
from rxdesk.rx.services import workflow
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.factories import PatientFactory, UserFactory
from tests.inventory.factories import stock
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
VIEWERS = frozenset({T, TT, RPH, PIC, AUD})
MAKERS = frozenset({T, RPH, PIC})
CHECKERS = frozenset({RPH, PIC})
SETUP = frozenset({PIC})
NOBODY: frozenset[Role] = frozenset()
FAR = dt.date(2030, 12, 31)

P = "/api/v1/institutional"


# --- set-up helpers ---------------------------------------------------------------------------


def person(site: Site, username: str, role: Role, **names: str) -> User:
    found = User.objects.filter(username=username).first()
    return found or UserFactory(site=site, role=role, username=username, **names)


def maker_of(site: Site) -> User:
    return person(site, f"pkg-tech-{site.pk}", T, first_name="Tom", last_name="Reyes")


def checker_of(site: Site) -> User:
    return person(site, f"pkg-rph-{site.pk}", RPH, first_name="Rita", last_name="Singh")


def capsules(ndc10: str = "0777-3105-02", **product: Any) -> Package:
    """A bottle of 100 capsules (Prozac 20 mg unless ``product`` says otherwise)."""
    found = Package.objects.filter(ndc10=ndc10).first()
    if found is not None:
        return found
    values: dict[str, Any] = {"product_ndc": ndc10.rsplit("-", 1)[0]}
    values.update(product)
    return PackageFactory(
        ndc10=ndc10,
        description=f"100 CAPSULE in 1 BOTTLE ({ndc10})",
        package_quantity=Decimal("100"),
        product=ProductFactory(**values),
    )


def liquid() -> Package:
    found = Package.objects.filter(ndc10="0777-4402-16").first()
    if found is not None:
        return found
    return PackageFactory(
        ndc10="0777-4402-16",
        description="473 mL in 1 BOTTLE (0777-4402-16)",
        billing_unit="ML",
        package_quantity=Decimal("473"),
        product=ProductFactory(
            product_ndc="0777-4402",
            name="Fluoxetine",
            dosage_form="SOLUTION",
            strength="20 mg/5mL",
        ),
    )


def source(
    site: Site, lot: str = "SRC1", quantity: int = 100, expiry: dt.date = FAR
) -> StockBalance:
    return stock(site, capsules(), lot=lot, quantity=quantity, expiry=expiry)


def repacked(site: Site, actor: User | None = None, **over: Any) -> RepackRecord:
    """30 capsules of lot SRC1 repackaged into Class A blisters by the site's technician."""
    if not StockBalance.objects.filter(site=site, lot__number="SRC1").exists():
        source(site)
    values: dict[str, Any] = {
        "package": capsules(),
        "lot_number": "SRC1",
        "quantity": "30",
        "container": "Unit-dose blister",
        "container_class": "A",
    }
    values.update(over)
    return services.repack_create(actor=actor or maker_of(site), **values)


def repack_checked(site: Site) -> RepackRecord:
    return services.repack_check(actor=checker_of(site), record=repacked(site))


def filled(site: Site, patient: Patient, *, lot: str, expiry: dt.date = FAR, **rx: Any) -> Fill:
    """A prescription of ``patient`` (30 capsules) typed, data-verified and counted out."""
    tech, rph = maker_of(site), checker_of(site)
    prescription = make_rx(tech, patient=patient, **rx)
    stock(site, prescription.package, lot=lot, quantity=100, expiry=expiry)
    fill = workflow.fill_data_verify(actor=rph, fill=first_fill(prescription))
    return workflow.fill_product(actor=tech, fill=fill, scanned_code=prescription.package.ndc10)


def with_looks(fill: Fill, color: str = "green", shape: str = "oblong capsule") -> Fill:
    product = (fill.package or fill.prescription.package).product
    Appearance.objects.update_or_create(
        product=product, defaults={"color": color, "shape": shape, "imprint": "DISTA 3105"}
    )
    return fill


def two_fills(site: Site, patient: Patient | None = None) -> tuple[Patient, Fill, Fill]:
    who = patient or PatientFactory(site=site)
    a = with_looks(filled(site, who, lot="FA1"))
    b = with_looks(filled(site, who, lot="FB1", directions="1 CAP PO QHS"), "white", "round")
    return who, a, b


def pak_values(site: Site, patient: Patient, a: Fill, b: Fill, **over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "patient": patient,
        "start_on": site.today() + dt.timedelta(days=1),
        "days": 7,
        "slots": ["morning", "bedtime"],
        "design": "7 × 4 cold-seal blister card",
        "container_class": "A",
        "consent_by": "Patient, verbal consent",
        "items": [
            {"fill_id": a.pk, "per_slot": {"morning": "1"}},
            {"fill_id": b.pk, "per_slot": {"bedtime": "1"}},
        ],
    }
    values.update(over)
    return values


def pak(site: Site, actor: User | None = None, **over: Any) -> MedPak:
    patient, a, b = two_fills(site)
    return services.med_pak_create(
        actor=actor or maker_of(site), **pak_values(site, patient, a, b, **over)
    )


def pak_checked(site: Site) -> MedPak:
    return services.med_pak_check(actor=checker_of(site), pak=pak(site))


# --- API rows ---------------------------------------------------------------------------------


def _repack_new(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    source(site)
    return f"{P}/repackaging", {
        "ndc": capsules().ndc10,
        "lot_number": "SRC1",
        "quantity": "10",
        "container": "Unit-dose blister",
        "container_class": "A",
    }


def _pak_new(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    patient, a, b = two_fills(site)
    return f"{P}/med-paks", {
        "patient_id": patient.pk,
        "start_on": (site.today() + dt.timedelta(days=1)).isoformat(),
        "days": 7,
        "slots": ["morning", "bedtime"],
        "design": "7 × 4 blister card",
        "container_class": "A",
        "consent_by": "Patient",
        "items": [
            {"fill_id": a.pk, "per_slot": {"morning": "1"}},
            {"fill_id": b.pk, "per_slot": {"bedtime": "1"}},
        ],
    }


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/institutional/packaging-settings"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/packaging-settings", None),
    ),
    ("PATCH", "/institutional/packaging-settings"): (
        SETUP,
        200,
        lambda s, u: (f"{P}/packaging-settings", {"med_pak_days": 45}),
    ),
    ("PUT", "/institutional/appearances/{product_id}"): (
        MAKERS,
        200,
        lambda s, u: (
            f"{P}/appearances/{capsules().product_id}",
            {"color": "green", "shape": "oblong capsule", "imprint": "DISTA 3105"},
        ),
    ),
    ("POST", "/institutional/repackaging/bud"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/repackaging/bud", {"expiry": "2030-12-31"}),
    ),
    ("GET", "/institutional/repackaging"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/repackaging", None),
    ),
    ("POST", "/institutional/repackaging"): (MAKERS, 201, _repack_new),
    ("GET", "/institutional/repackaging/{record_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/repackaging/{repacked(s).pk}", None),
    ),
    ("POST", "/institutional/repackaging/{record_id}/check"): (
        CHECKERS,
        200,
        lambda s, u: (f"{P}/repackaging/{repacked(s).pk}/check", None),
    ),
    ("POST", "/institutional/repackaging/{record_id}/reject"): (
        CHECKERS,
        200,
        lambda s, u: (
            f"{P}/repackaging/{repacked(s).pk}/reject",
            {"reason": "Blisters not sealed"},
        ),
    ),
    ("GET", "/institutional/repackaging/{record_id}/labels"): (
        MAKERS,
        200,
        lambda s, u: (f"{P}/repackaging/{repack_checked(s).pk}/labels", None),
    ),
    ("GET", "/institutional/med-paks"): (VIEWERS, 200, lambda s, u: (f"{P}/med-paks", None)),
    ("POST", "/institutional/med-paks"): (MAKERS, 201, _pak_new),
    ("GET", "/institutional/med-paks/{pak_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/med-paks/{pak(s).pk}", None),
    ),
    ("POST", "/institutional/med-paks/{pak_id}/check"): (
        CHECKERS,
        200,
        lambda s, u: (f"{P}/med-paks/{pak(s).pk}/check", None),
    ),
    ("GET", "/institutional/med-paks/{pak_id}/label"): (
        MAKERS,
        200,
        lambda s, u: (f"{P}/med-paks/{pak_checked(s).pk}/label", None),
    ),
}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _repack(site: Site) -> dict[str, Any]:
    return {"pk": repacked(site).pk}


def _repack_checked(site: Site) -> dict[str, Any]:
    return {"pk": repack_checked(site).pk}


def _pak(site: Site) -> dict[str, Any]:
    return {"pk": pak(site).pk}


def _pak_checked(site: Site) -> dict[str, Any]:
    return {"pk": pak_checked(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "ltc_repackaging": (_none, VIEWERS, NOBODY, None),
    "ltc_repack_new": (_none, MAKERS, MAKERS, 422),
    "ltc_repack": (_repack, VIEWERS, NOBODY, None),
    "ltc_repack_check": (_repack, None, CHECKERS, 302),
    "ltc_repack_reject": (_repack, None, CHECKERS, 422),
    "ltc_repack_labels": (_repack_checked, MAKERS, NOBODY, None),
    "ltc_med_paks": (_none, VIEWERS, NOBODY, None),
    "ltc_med_pak_new": (_none, MAKERS, MAKERS, 422),
    "ltc_med_pak": (_pak, VIEWERS, NOBODY, None),
    "ltc_med_pak_check": (_pak, None, CHECKERS, 302),
    "ltc_med_pak_label": (_pak_checked, MAKERS, NOBODY, None),
    "ltc_packaging_settings": (_none, SETUP, SETUP, 422),
}
WATCHED: list[Any] = [
    RepackRecord,
    MedPak,
    MedPakItem,
    Appearance,
    InstitutionalSettings,
    StockMove,
]
