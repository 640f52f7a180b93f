"""A preparation with a hazardous drug (USP <800>): made only in a certified containment
hood, by someone with hazardous-drug training, and its record keeps the containment and PPE
required and the assessment of risk it relied on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rxdesk.compounding.models import (
    Certification,
    CompoundingRecord,
    EngineeringControl,
    FormulaIngredient,
    MasterFormula,
    RiskAssessment,
    Room,
)
from rxdesk.compounding.services_records import record_start
from rxdesk.core.errors import Invalid
from rxdesk.inventory.models import StockMove
from tests.compounding.matrix_records import evaluator_of, qualified, staff
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db


def _progesterone(site):
    """Progesterone in oil for injection, flagged hazardous (NIOSH, reproductive hazard)
    and not an antineoplastic, so an assessment of risk may cover compounding with it."""
    pkg = package(
        "70000-401-01",
        name="Progesterone",
        generic_name="Progesterone",
        dosage_form="INJECTION, SOLUTION",
        route="INTRAMUSCULAR",
        substances="PROGESTERONE",
        product_id="70000-0401_prog",
        product_ndc="70000-0401",
        hazardous=True,
    )
    pkg.billing_unit, pkg.package_quantity = "ML", Decimal(10)
    pkg.save(update_fields=["billing_unit", "package_quantity"])
    stock(site, pkg, "PG-1", 100)
    return pkg


def _formula(site, pkg):
    pic = evaluator_of(site)
    formula = MasterFormula.objects.create(
        site=site,
        code="PROG",
        status="approved",
        name="Progesterone in oil",
        strength="50 mg/mL",
        dosage_form="oral liquid",
        route="oral",
        category="nonsterile",
        preparation="nonaqueous-oral-liquid",
        storage="room",
        batch_quantity=Decimal(10),
        batch_unit="mL",
        container="amber bottle",
        procedure="Measure.",
        hazardous=True,
        created_by=pic,
        approved_by=pic,
        approved_at=dt.datetime.now(dt.UTC),
    )
    FormulaIngredient.objects.create(
        formula=formula,
        position=1,
        product=pkg.product,
        name="Progesterone in oil",
        quantity=Decimal(10),
        unit="mL",
    )
    return formula


def _hood(site, *, hazardous: bool) -> EngineeringControl:
    room = Room.objects.create(
        site=site,
        name=f"Room {hazardous}",
        kind="c_sec" if hazardous else "nonsterile",
        iso_class="7" if hazardous else "",
        pressure="negative" if hazardous else "neutral",
        hazardous=hazardous,
    )
    hood = EngineeringControl.objects.create(
        site=site,
        room=room,
        name=f"Hood {hazardous}",
        kind="cve",
        iso_class="",
        hazardous=hazardous,
    )
    today = site.today()
    Certification.objects.create(
        site=site,
        control=hood,
        certified_on=today - dt.timedelta(days=10),
        due_on=today + dt.timedelta(days=170),
        certifier="CleanAir",
        recorded_by=evaluator_of(site),
    )
    return hood


def test_the_record_keeps_the_containment_and_the_assessment_of_risk_relied_on(site):
    pkg = _progesterone(site)
    formula = _formula(site, pkg)
    pic = evaluator_of(site)
    assessment = RiskAssessment.objects.create(
        site=site,
        product=pkg.product,
        dosage_form="Oil for injection",
        packaging="vial",
        manipulation="compound-nonsterile",
        risk_of_exposure="Low",
        containment="C-PEC",
        ppe="Two pairs of chemotherapy gloves",
        reviewed_on=site.today() - dt.timedelta(days=5),
        review_due=site.today() + dt.timedelta(days=360),
        approved_by=pic,
        approved_by_name=pic.username,
    )
    tech = qualified(staff(site, "hd-tech"), "nonsterile", hazardous=True)

    record = record_start(
        actor=tech, formula=formula, quantity="10", unit="mL", control=_hood(site, hazardous=True)
    )

    assert record.hazardous
    lines = " | ".join(record.hd_requirements)
    assert "chemotherapy gloves" in lines
    assert f"Assessment of risk #{assessment.pk}" in lines
    assert StockMove.objects.filter(reason="compound", reference_id=str(record.pk)).count() == 1


def test_a_hood_that_is_not_a_containment_hood_is_refused_and_nothing_is_taken(site):
    pkg = _progesterone(site)
    formula = _formula(site, pkg)
    tech = qualified(staff(site, "hd-tech"), "nonsterile", hazardous=True)

    with pytest.raises(Invalid) as refused:
        record_start(
            actor=tech,
            formula=formula,
            quantity="10",
            unit="mL",
            control=_hood(site, hazardous=False),
        )

    assert refused.value.field == "control"
    assert "containment" in refused.value.message
    assert not CompoundingRecord.objects.exists()
    assert not StockMove.objects.filter(reason="compound").exists()


def test_without_hazardous_drug_training_the_compounder_is_refused(site):
    pkg = _progesterone(site)
    formula = _formula(site, pkg)
    tech = qualified(staff(site, "plain-tech"), "nonsterile")  # no <800> training

    with pytest.raises(Invalid) as refused:
        record_start(
            actor=tech,
            formula=formula,
            quantity="10",
            unit="mL",
            control=_hood(site, hazardous=True),
        )

    assert refused.value.field == "compounded_by"
    assert "hazardous drug handling training" in refused.value.message
    assert not CompoundingRecord.objects.exists()
