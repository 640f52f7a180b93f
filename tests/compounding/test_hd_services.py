"""Hazardous drugs: assessments of risk (written, reviewed, retired by the PIC), a formula's
HD profile and the pharmacy's HD list."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rxdesk.compounding import hd, queries_hd
from rxdesk.compounding import services_hd as sh
from rxdesk.compounding.models import FormulaIngredient, MasterFormula, RiskAssessment
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.compounding.factories import hydrocortisone_cream, stocked_components
from tests.compounding.matrix_hd import assessment, finasteride, methotrexate
from tests.inventory.factories import stock


def _values(site, **over):
    values = {
        "product": finasteride(),
        "dosage_form": "film-coated tablet",
        "packaging": "bottle of 30",
        "manipulation": "count-repackage",
        "risk_of_exposure": "Low: intact coated tablets",
        "containment": "Dedicated counting tray; no automated counter",
        "ppe": "One pair of chemotherapy gloves",
        "reviewed_on": site.today(),
    }
    values.update(over)
    return values


def _count() -> tuple[int, int]:
    return RiskAssessment.objects.count(), AuditEvent.objects.count()


def _refused(pic, field, **over):
    before = _count()
    with pytest.raises(Invalid) as caught:
        sh.risk_assessment_create(actor=pic, **_values(pic.site, **over))
    assert field in [e["field"] for e in caught.value.errors], caught.value.errors
    assert _count() == before
    return caught.value


# --- assessments of risk ----------------------------------------------------------------------


def test_the_pic_approves_an_assessment_due_in_12_months(pic):
    today = pic.site.today()
    made = sh.risk_assessment_create(actor=pic, **_values(pic.site, product=finasteride().pk))
    made.refresh_from_db()
    assert made.product == finasteride() and made.approved_by == pic
    assert made.reviewed_on == today
    assert made.review_due.month == today.month and made.review_due.year == today.year + 1
    event = AuditEvent.objects.get(action="compounding.hd.assessment_created")
    assert event.object_id == str(made.pk)


def test_a_pharmacist_may_not_approve_an_assessment(pharmacist):
    before = _count()
    with pytest.raises(Forbidden):
        sh.risk_assessment_create(actor=pharmacist, **_values(pharmacist.site))
    assert _count() == before


def test_a_drug_the_catalog_does_not_flag_hazardous_needs_none(pic):
    plain = ProductFactory(product_id="plain-1", name="Fluoxetine", hazardous=False)
    error = _refused(pic, "product", product=plain)
    assert "not a hazardous drug" in error.message


def test_an_unknown_product_is_refused(pic):
    _refused(pic, "product", product=987654)


def test_a_manipulated_antineoplastic_gets_no_assessment(pic):
    error = _refused(pic, "manipulation", product=methotrexate(), manipulation="crush-split")
    assert "full containment under USP <800>" in error.message


def test_counting_an_antineoplastics_tablets_may_be_assessed(pic):
    made = sh.risk_assessment_create(
        actor=pic, **_values(pic.site, product=methotrexate(), manipulation="count-repackage")
    )
    assert made.manipulation == "count-repackage"


def test_a_hazardous_bulk_ingredient_gets_no_assessment(pic):
    api = ProductFactory(
        product_id="api-1",
        name="Estradiol",
        substances="ESTRADIOL",
        hazardous=True,
        product_type="BULK INGREDIENT",
    )
    _refused(pic, "product", product=api, manipulation="compound-nonsterile")


def test_the_handling_is_one_of_the_list(pic):
    _refused(pic, "manipulation", manipulation="juggle")


@pytest.mark.parametrize(
    "field", ["dosage_form", "packaging", "risk_of_exposure", "containment", "ppe"]
)
def test_each_description_is_required(pic, field):
    _refused(pic, field, **{field: " "})


def test_the_review_date_is_not_in_the_future_nor_already_overdue(pic):
    today = pic.site.today()
    _refused(pic, "reviewed_on", reviewed_on=today + dt.timedelta(days=1))
    _refused(pic, "reviewed_on", reviewed_on=today - dt.timedelta(days=400))
    _refused(pic, "reviewed_on", reviewed_on="31/12/2025")


def test_the_same_drug_form_and_handling_has_one_assessment(pic):
    sh.risk_assessment_create(actor=pic, **_values(pic.site))
    before = _count()
    with pytest.raises(Conflict, match="review it instead"):
        sh.risk_assessment_create(actor=pic, **_values(pic.site, dosage_form="FILM-COATED TABLET"))
    assert _count() == before


def test_a_review_moves_the_due_date(pic):
    old = assessment(pic.site, reviewed_on=pic.site.today() - dt.timedelta(days=300))
    today = pic.site.today()
    done = sh.risk_assessment_review(actor=pic, assessment=old, reviewed_on=today, note="Same")
    done.refresh_from_db()
    assert done.reviewed_on == today and done.review_due > today + dt.timedelta(days=364)
    event = AuditEvent.objects.get(action="compounding.hd.assessment_reviewed")
    assert event.reason == "Same"


def test_a_review_is_not_before_the_last_one(pic):
    old = assessment(pic.site, reviewed_on=pic.site.today() - dt.timedelta(days=10))
    before = _count()
    with pytest.raises(Invalid) as caught:
        sh.risk_assessment_review(
            actor=pic, assessment=old, reviewed_on=pic.site.today() - dt.timedelta(days=20)
        )
    assert caught.value.field == "reviewed_on" and _count() == before


def test_a_pharmacist_may_not_review(pharmacist):
    old = assessment(pharmacist.site)
    due = old.review_due
    with pytest.raises(Forbidden):
        sh.risk_assessment_review(
            actor=pharmacist, assessment=old, reviewed_on=pharmacist.site.today()
        )
    old.refresh_from_db()
    assert old.review_due == due


def test_retiring_needs_a_reason_and_only_once(pic):
    old = assessment(pic.site)
    with pytest.raises(Invalid) as caught:
        sh.risk_assessment_retire(actor=pic, assessment=old, reason=" ")
    assert caught.value.field == "reason"
    sh.risk_assessment_retire(actor=pic, assessment=old, reason="No longer stocked")
    old.refresh_from_db()
    assert old.active is False
    event = AuditEvent.objects.get(action="compounding.hd.assessment_retired")
    assert (event.object_id, event.reason) == (str(old.pk), "No longer stocked")
    with pytest.raises(Conflict):
        sh.risk_assessment_retire(actor=pic, assessment=old, reason="again")
    with pytest.raises(Conflict):
        sh.risk_assessment_review(actor=pic, assessment=old, reviewed_on=pic.site.today())


def test_a_pharmacist_may_not_retire(pharmacist):
    old = assessment(pharmacist.site)
    with pytest.raises(Forbidden):
        sh.risk_assessment_retire(actor=pharmacist, assessment=old, reason="x")
    old.refresh_from_db()
    assert old.active is True


def test_another_sites_assessment_is_not_found(pic, other_site):
    theirs = assessment(other_site)
    with pytest.raises(NotFound):
        sh.risk_assessment_review(actor=pic, assessment=theirs, reviewed_on=pic.site.today())
    with pytest.raises(NotFound):
        queries_hd.assessment_get(actor=pic, assessment_id=theirs.pk)


# --- a formula's profile -----------------------------------------------------------------------


def _with(formula: MasterFormula, product, name="Drug", unit="each") -> MasterFormula:
    FormulaIngredient.objects.create(
        formula=formula, position=9, product=product, name=name, quantity=Decimal("1"), unit=unit
    )
    formula.hazardous = True
    formula.save(update_fields=["hazardous"])
    return formula


def test_a_formula_without_hazardous_drugs_has_no_profile(pharmacist):
    stocked_components(pharmacist.site)
    profile = queries_hd.hd_profile(hydrocortisone_cream(pharmacist.site, pharmacist))
    assert (profile.hazardous, profile.level, profile.requirements) == (False, None, [])
    assert profile.record_lines() == []


def test_a_hazardous_drug_without_an_assessment_gets_full_containment(pharmacist):
    formula = _with(hydrocortisone_cream(pharmacist.site, pharmacist), finasteride(), "Finasteride")
    profile = queries_hd.hd_profile(formula)
    assert (profile.level, profile.applied) == (hd.ASSESSMENT, hd.FULL)
    assert profile.needs_assessment == ["Finasteride"]
    assert profile.requirements == hd.requirements(sterile=False, level=hd.FULL)
    assert profile.receiving == hd.RECEIVING and profile.storage == hd.STORAGE


def test_an_assessment_for_compounding_in_force_allows_it(pharmacist):
    site = pharmacist.site
    assessment(site, manipulation="compound-nonsterile")
    formula = _with(hydrocortisone_cream(site, pharmacist), finasteride(), "Finasteride")
    profile = queries_hd.hd_profile(formula)
    assert profile.applied == hd.ASSESSMENT and profile.needs_assessment == []
    assert profile.requirements[-1].startswith("Handled under the site's assessment of risk")
    assert profile.record_lines()[-1].startswith("Assessment of risk #")


def test_an_assessment_for_counting_or_overdue_does_not_cover_compounding(pharmacist):
    site = pharmacist.site
    assessment(site, manipulation="count-repackage")
    overdue = assessment(site, manipulation="compound-nonsterile")
    overdue.review_due = site.today() - dt.timedelta(days=1)
    overdue.save(update_fields=["review_due"])
    formula = _with(hydrocortisone_cream(site, pharmacist), finasteride(), "Finasteride")
    profile = queries_hd.hd_profile(formula)
    assert profile.applied == hd.FULL
    assert len(profile.assessments) == 2 and any(a.overdue for a in profile.assessments)


def test_an_antineoplastic_is_full_containment_whatever_is_assessed(pharmacist):
    site = pharmacist.site
    assessment(site, product=methotrexate())
    formula = _with(hydrocortisone_cream(site, pharmacist), methotrexate(), "Methotrexate")
    profile = queries_hd.hd_profile(formula)
    assert (profile.level, profile.applied) == (hd.FULL, hd.FULL)
    assert profile.drugs[0].antineoplastic is True
    assert profile.as_json()["drugs"][0]["antineoplastic"] is True


def test_a_formula_flagged_by_hand_is_full_containment(pharmacist):
    formula = hydrocortisone_cream(pharmacist.site, pharmacist)
    formula.hazardous = True
    formula.save(update_fields=["hazardous"])
    profile = queries_hd.hd_profile(formula)
    assert (profile.hazardous, profile.applied, profile.drugs) == (True, hd.FULL, [])


# --- the HD list ------------------------------------------------------------------------------


def test_the_hd_list_has_stocked_and_compounded_hazardous_drugs_with_their_status(pharmacist):
    site = pharmacist.site
    fin_pkg = PackageFactory(product=finasteride(), ndc10="70000-401-30", billing_unit="EA")
    stock(site, fin_pkg, "FIN-1", 90)
    mtx_formula = hydrocortisone_cream(site, pharmacist, code="MTXX")
    _with(mtx_formula, methotrexate(), "Methotrexate")
    warfarin = ProductFactory(
        product_id="warf-1", name="Warfarin", substances="WARFARIN SODIUM", hazardous=True
    )
    stock(site, PackageFactory(product=warfarin, ndc10="70000-403-30"), "W-1", 30)
    assessment(site)  # finasteride, reviewed 300 days ago
    plain = PackageFactory(product=ProductFactory(product_id="plain-2"), ndc10="70000-404-30")
    stock(site, plain, "P-1", 10)
    with CaptureQueriesContext(connection) as queries:
        found = queries_hd.hd_list(actor=pharmacist)
    assert len(queries) <= 5
    rows = {r.product.name: r for r in found.rows}
    assert sorted(rows) == ["Finasteride", "Methotrexate", "Warfarin"]
    assert (rows["Finasteride"].status, rows["Finasteride"].stock) == ("assessment", ["90 EA"])
    assert (rows["Methotrexate"].status, rows["Methotrexate"].formulas) == ("full", ["MTXX"])
    assert rows["Warfarin"].status == "needs"
    assert rows["Warfarin"].status_label.startswith("Needs an assessment")
    assert found.overdue == 0


def test_a_compounded_drug_needs_an_assessment_that_covers_compounding(pharmacist):
    site = pharmacist.site
    assessment(site, manipulation="count-repackage")
    _with(hydrocortisone_cream(site, pharmacist, code="FINCR"), finasteride(), "Finasteride")
    assert [r.status for r in queries_hd.hd_list(actor=pharmacist).rows] == ["needs"]
    assessment(site, manipulation="compound-nonsterile")
    assert [r.status for r in queries_hd.hd_list(actor=pharmacist).rows] == ["assessment"]


def test_an_overdue_assessment_shows_on_the_list(pharmacist):
    site = pharmacist.site
    old = assessment(site)
    old.review_due = site.today() - dt.timedelta(days=2)
    old.save(update_fields=["review_due"])
    found = queries_hd.hd_list(actor=pharmacist)
    assert [r.status for r in found.rows] == ["overdue"] and found.overdue == 1


def test_the_hd_list_is_not_for_the_inventory_specialist(inventory):
    with pytest.raises(Forbidden):
        queries_hd.hd_list(actor=inventory)
