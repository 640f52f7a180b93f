"""Permission-matrix rows for compounding records (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* reading records is compounding.view: technician, pharmacist, PIC, auditor;
* starting, measuring, checking, submitting and printing the label is compounding.make:
  technician, pharmacist, PIC (never a trainee, the inventory specialist or the auditor);
* verifying and rejecting is compounding.verify: pharmacist and PIC.

Also the set-up the record tests share: a bench with stock, approved formulas, a certified
hood and competent staff, and records taken through the real services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rxdesk.compounding import services_records as services
from rxdesk.compounding.models import (
    Certification,
    CompoundingRecord,
    EngineeringControl,
    MasterFormula,
    QualityCheck,
    RecordComponent,
)
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.inventory.models import StockBalance
from tests.compounding.factories import (
    cleanroom,
    competent,
    hydrocortisone_cream,
    stocked_components,
    vancomycin_bag,
)
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
VIEWERS = frozenset({T, RPH, PIC, AUD})
MAKERS = frozenset({T, RPH, PIC})
VERIFIERS = frozenset({RPH, PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/compounding/records"


# --- set-up helpers ---------------------------------------------------------------------------


def staff(site: Site, username: str, role: Role = T, **names: str) -> User:
    found = User.objects.filter(username=username).first()
    return found or UserFactory(site=site, role=role, username=username, **names)


def evaluator_of(site: Site) -> User:
    return staff(site, f"cmp-eval-{site.pk}", PIC, first_name="Paula", last_name="Chen")


def qualified(person: User, *categories: str, hazardous: bool = False) -> User:
    """Competency results that let ``person`` compound each of ``categories`` today."""
    for category in categories or ("nonsterile", "2"):
        competent(person, category, evaluator=evaluator_of(person.site), hazardous=hazardous)
    return person


def maker_of(site: Site) -> User:
    """A technician competent for nonsterile and Category 2 compounding."""
    name = f"cmp-tech-{site.pk}"
    found = User.objects.filter(username=name).first()
    if found is not None:
        return found
    return qualified(staff(site, name, T, first_name="Maria", last_name="Lopez"))


def checker_of(site: Site) -> User:
    """A pharmacist who verifies (and did not compound)."""
    return staff(site, f"cmp-rph-{site.pk}", RPH, first_name="Rita", last_name="Singh")


def hc_formula(site: Site) -> MasterFormula:
    found = MasterFormula.objects.filter(site=site, code="HC1CR", status="approved").first()
    if found is not None:
        return found
    return hydrocortisone_cream(site, evaluator_of(site), approver=evaluator_of(site))


def vanco_formula(site: Site) -> MasterFormula:
    found = MasterFormula.objects.filter(site=site, code="VANC1G", status="approved").first()
    if found is not None:
        return found
    return vancomycin_bag(site, evaluator_of(site), approver=evaluator_of(site))


def certified_hood(site: Site, *, due_on: dt.date | None = None) -> EngineeringControl:
    """The ISO 5 LAFW of the site's buffer room, certified and not yet due."""
    found = EngineeringControl.objects.filter(site=site, name="LAFW 1").first()
    hood = found or cleanroom(site)[1]
    today = site.today()
    Certification.objects.create(
        site=site,
        control=hood,
        certified_on=today - dt.timedelta(days=30),
        due_on=due_on or today + dt.timedelta(days=150),
        passed=True,
        certifier="Cleanroom Certifiers Inc.",
        recorded_by=evaluator_of(site),
    )
    return hood


def bench(site: Site) -> dict[str, Any]:
    """Stock of every component, both formulas approved, a certified hood."""
    if not StockBalance.objects.filter(site=site, lot__number="HC25-A").exists():
        stocked_components(site)
    hood = EngineeringControl.objects.filter(site=site, name="LAFW 1").first()
    return {
        "hc": hc_formula(site),
        "vanco": vanco_formula(site),
        "hood": hood or certified_hood(site),
    }


def started(site: Site, actor: User | None = None, **over: Any) -> CompoundingRecord:
    """100 g of hydrocortisone 1 % cream started by ``actor`` (the site's technician)."""
    the_bench = bench(site)
    values: dict[str, Any] = {
        "formula": the_bench["hc"],
        "quantity": Decimal("100"),
        "unit": "g",
    }
    values.update(over)
    return services.record_start(actor=actor or maker_of(site), **values)


def measured(record: CompoundingRecord, actor: User) -> CompoundingRecord:
    """Every component weighed at exactly its required amount."""
    for c in record.components.order_by("position", "pk"):
        services.record_measure(
            actor=actor,
            record=record,
            component_id=c.pk,
            measured_quantity=c.required_quantity,
            measured_unit=c.unit,
        )
    return record


def submitted(site: Site) -> CompoundingRecord:
    tech = maker_of(site)
    record = measured(started(site, tech), tech)
    services.record_check(
        actor=tech, record=record, name="Appearance", result="smooth white cream", passed=True
    )
    return services.record_submit(actor=tech, record=record)


def verified(site: Site) -> CompoundingRecord:
    return services.record_verify(actor=checker_of(site), record=submitted(site))


# --- API rows ---------------------------------------------------------------------------------


def _start(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    the_bench = bench(site)
    if user is not None:
        qualified(user, "nonsterile")
    return P, {"formula_id": the_bench["hc"].pk, "quantity": "100", "unit": "g"}


def _measure(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    record = started(site)
    c = record.components.order_by("position").first()
    assert c is not None
    return f"{P}/{record.pk}/measurements", {
        "position": c.position,
        "measured_quantity": f"{c.required_quantity}",
        "measured_unit": c.unit,
    }


def _check(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    record = started(site)
    return f"{P}/{record.pk}/checks", {
        "name": "Appearance",
        "result": "smooth white cream",
        "passed": True,
    }


def _submit(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    tech = maker_of(site)
    record = measured(started(site, tech), tech)
    services.record_check(actor=tech, record=record, name="Weight", result="100 g", passed=True)
    return f"{P}/{record.pk}/submit", {"physical_description": "Smooth white cream"}


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/compounding/records"): (VIEWERS, 200, lambda s, u: (P, None)),
    ("POST", "/compounding/records"): (MAKERS, 201, _start),
    ("GET", "/compounding/records/{record_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/{started(s).pk}", None),
    ),
    ("POST", "/compounding/records/{record_id}/measurements"): (MAKERS, 200, _measure),
    ("POST", "/compounding/records/{record_id}/checks"): (MAKERS, 201, _check),
    ("POST", "/compounding/records/{record_id}/submit"): (MAKERS, 200, _submit),
    ("POST", "/compounding/records/{record_id}/verify"): (
        VERIFIERS,
        200,
        lambda s, u: (f"{P}/{submitted(s).pk}/verify", {}),
    ),
    ("POST", "/compounding/records/{record_id}/reject"): (
        VERIFIERS,
        200,
        lambda s, u: (f"{P}/{started(s).pk}/reject", {"reason": "Wrong base used"}),
    ),
    ("GET", "/compounding/records/{record_id}/label.pdf"): (
        MAKERS,
        200,
        lambda s, u: (f"{P}/{verified(s).pk}/label.pdf", None),
    ),
}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _started(site: Site) -> dict[str, Any]:
    return {"pk": started(site).pk}


def _submitted(site: Site) -> dict[str, Any]:
    return {"pk": submitted(site).pk}


def _verified(site: Site) -> dict[str, Any]:
    return {"pk": verified(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "compounding_records": (_none, VIEWERS, NOBODY, None),
    "compounding_record_new": (_none, MAKERS, MAKERS, 422),
    "compounding_record": (_started, VIEWERS, NOBODY, None),
    "compounding_record_measure": (_started, None, MAKERS, 422),
    "compounding_record_check": (_started, None, MAKERS, 422),
    "compounding_record_submit": (_started, None, MAKERS, 422),
    "compounding_record_verify": (_submitted, None, VERIFIERS, 302),
    "compounding_record_reject": (_started, None, VERIFIERS, 422),
    "compounding_record_label": (_verified, MAKERS, NOBODY, None),
}
WATCHED: list[Any] = [CompoundingRecord, RecordComponent, QualityCheck]
