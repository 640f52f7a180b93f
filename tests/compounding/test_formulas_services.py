"""Master formulas: written as drafts by a pharmacist, approved by the pharmacist-in-charge,
versioned; every rule names its field and writes nothing when broken."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from rxdesk.compounding import services_formulas as sf
from rxdesk.compounding.models import FormulaIngredient, MasterFormula
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.compounding.factories import (
    hc_05,
    hc_25,
    hydrocortisone_cream,
    stocked_components,
    vancomycin,
    vancomycin_bag,
)
from tests.compounding.matrix_formulas import new_formula_body


def _body(**over: Any) -> dict[str, Any]:
    values = new_formula_body()
    values.update(over)
    return values


def _sterile(**over: Any) -> dict[str, Any]:
    """Vancomycin 1 g in 250 mL, Category 2, aseptic from sterile components, fridge."""
    values = _body(
        code="VANC1G",
        name="Vancomycin in 0.9 % sodium chloride",
        strength="1 g/250 mL",
        dosage_form="intravenous solution",
        route="intravenous",
        category="2",
        preparation="",
        preserved=False,
        storage="refrigerator",
        container_kind="single-dose",
        batch_quantity="1",
        batch_unit="bag",
        container="250 mL bag",
        procedure="Reconstitute the vial; add to the bag.",
        ingredients=[{"name": "Vancomycin 1 g vial", "quantity": "1", "unit": "each"}],
    )
    values.update(over)
    return values


def _snapshot() -> tuple[int, int, int]:
    return (
        MasterFormula.objects.count(),
        FormulaIngredient.objects.count(),
        AuditEvent.objects.count(),
    )


def _refused(actor: Any, field: str, **over: Any) -> Invalid:
    before = _snapshot()
    with pytest.raises(Invalid) as caught:
        sf.formula_create(actor=actor, **_body(**over))
    assert field in [e["field"] for e in caught.value.errors], caught.value.errors
    assert _snapshot() == before
    return caught.value


# --- create -----------------------------------------------------------------------------------


def test_it_creates_a_draft_version_1_with_its_ingredients_and_an_audit_event(pharmacist):
    made = sf.formula_create(actor=pharmacist, **_body(code="mg-susp"))
    made.refresh_from_db()
    assert (made.code, made.version, made.status) == ("MG-SUSP", 1, "draft")
    assert made.created_by == pharmacist and made.approved_by is None
    assert made.batch_quantity == Decimal("100")
    rows = list(made.ingredients.order_by("position"))
    assert [
        (r.position, r.name, r.quantity, r.unit, r.role, r.quantity_sufficient) for r in rows
    ] == [
        (1, "Magnesium hydroxide powder", Decimal("8"), "g", "active", False),
        (2, "Ora-Plus : Ora-Sweet 1:1", Decimal("100"), "mL", "vehicle", True),
    ]
    event = AuditEvent.objects.get(action="compounding.formula.created")
    assert event.object_id == str(made.pk) and event.actor == pharmacist


def test_it_creates_a_sterile_category_2_formula(pharmacist):
    made = sf.formula_create(actor=pharmacist, **_sterile())
    assert (made.category, made.container_kind, made.storage) == (
        "2",
        "single-dose",
        "refrigerator",
    )


def test_a_technician_may_not_write_a_formula(technician):
    before = _snapshot()
    with pytest.raises(Forbidden):
        sf.formula_create(actor=technician, **_body())
    assert _snapshot() == before


def test_the_code_is_unique_at_the_site(pharmacist, other_site):
    sf.formula_create(actor=pharmacist, **_body())
    error = _refused(pharmacist, "code", code="mgsusp")
    assert "already a formula here (version 1)" in error.message


def test_another_site_may_use_the_same_code(pharmacist, other_site):
    from tests.factories import UserFactory

    there = UserFactory(site=other_site, role="pharmacist", username="rph-there")
    sf.formula_create(actor=pharmacist, **_body())
    assert sf.formula_create(actor=there, **_body()).site == other_site


@pytest.mark.parametrize("code", ["", "HC 1", "HC_1", "X" * 31, "HC/1"])
def test_the_code_is_letters_digits_and_hyphens(pharmacist, code):
    _refused(pharmacist, "code", code=code)


@pytest.mark.parametrize(
    "field", ["name", "strength", "dosage_form", "route", "container", "procedure"]
)
def test_the_required_text_is_named_when_missing(pharmacist, field):
    _refused(pharmacist, field, **{field: "  "})


def test_an_unknown_category_is_refused(pharmacist):
    _refused(pharmacist, "category", category="4")


def test_a_nonsterile_preparation_needs_its_kind(pharmacist):
    error = _refused(pharmacist, "preparation", preparation="")
    assert "Table 4" in error.message


def test_a_sterile_preparation_has_no_nonsterile_kind(pharmacist):
    _refused(pharmacist, "preparation", **{**_sterile(), "preparation": "aqueous"})


@pytest.mark.parametrize("category", ["1", "2", "3"])
def test_sterile_categories_1_to_3_say_single_or_multiple_dose(pharmacist, category):
    _refused(
        pharmacist,
        "container_kind",
        **{**_sterile(category=category, sterility_tested=True), "container_kind": ""},
    )


def test_a_multiple_dose_sterile_preparation_must_be_category_2_or_3(pharmacist):
    error = _refused(
        pharmacist,
        "container_kind",
        **_sterile(category="1", container_kind="multiple-dose", preserved=True),
    )
    assert "Category 2 or 3" in error.message


def test_a_multiple_dose_sterile_preparation_must_be_preserved(pharmacist):
    _refused(pharmacist, "preserved", **_sterile(container_kind="multiple-dose", preserved=False))


def test_a_preserved_multiple_dose_category_2_is_allowed(pharmacist):
    made = sf.formula_create(
        actor=pharmacist, **_sterile(container_kind="multiple-dose", preserved=True)
    )
    assert made.container_kind == "multiple-dose"


def test_category_3_must_be_sterility_tested(pharmacist):
    error = _refused(pharmacist, "sterility_tested", **_sterile(category="3"))
    assert "USP <71>" in error.message


def test_immediate_use_needs_only_sterile_starting_components(pharmacist):
    _refused(
        pharmacist,
        "sterile_starting_components",
        **_sterile(
            category="immediate-use",
            container_kind="",
            storage="room",
            sterile_starting_components=False,
            sterilization="filtration",
        ),
    )


def test_terminal_sterilization_names_its_method(pharmacist):
    _refused(pharmacist, "sterilization", **_sterile(aseptic=False, sterilization=""))
    _refused(pharmacist, "sterilization", **_sterile(aseptic=True, sterilization="steam"))
    made = sf.formula_create(actor=pharmacist, **_sterile(aseptic=False, sterilization="steam"))
    assert made.sterilization == "steam"


def test_nonsterile_components_made_aseptically_are_filtered(pharmacist):
    _refused(pharmacist, "sterilization", **_sterile(sterile_starting_components=False))
    made = sf.formula_create(
        actor=pharmacist,
        **_sterile(sterile_starting_components=False, sterilization="filtration"),
    )
    assert made.sterilization == "filtration"


def test_a_combination_the_bud_rules_refuse_is_refused_under_the_formulas_field(pharmacist):
    # USP <795>: an aqueous preparation without preservative is kept only in the fridge.
    error = _refused(pharmacist, "storage", preserved=False, storage="room")
    assert "refrigerator" in error.message
    # USP <797>: Category 1 is never frozen.
    _refused(pharmacist, "storage", **_sterile(category="1", storage="freezer"))


def test_the_stability_limit_is_whole_days(pharmacist):
    _refused(pharmacist, "stability_days", stability_days=0)
    _refused(pharmacist, "stability_days", stability_days="ten")
    made = sf.formula_create(actor=pharmacist, **_body(stability_days=7))
    assert made.stability_days == 7


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        ("0", "mL"),
        ("-5", "mL"),
        ("abc", "mL"),
        ("100", "furlongs"),
        ("100", "wibbles"),
        ("100", "mg/mL"),
        ("100", ""),
    ],
)
def test_the_batch_is_more_than_0_in_a_unit_pint_knows(pharmacist, value, unit):
    field = "batch_unit" if value == "100" else "batch_quantity"
    _refused(pharmacist, field, batch_quantity=value, batch_unit=unit)


def test_the_batch_quantity_has_at_most_4_decimals(pharmacist):
    _refused(pharmacist, "batch_quantity", batch_quantity="1.00001")


def test_at_least_one_ingredient(pharmacist):
    error = _refused(pharmacist, "ingredients", ingredients=[])
    assert error.message == "List at least one ingredient."


def test_each_ingredient_error_names_its_row_and_field(pharmacist):
    rows = [
        {"name": "Water", "quantity": "10", "unit": "mL"},
        {"name": "", "quantity": "0", "unit": "parsec-ish", "role": "filler"},
    ]
    error = _refused(pharmacist, "ingredients[1].name", ingredients=rows)
    fields = [e["field"] for e in error.errors]
    assert fields == [
        "ingredients[1].name",
        "ingredients[1].quantity",
        "ingredients[1].unit",
        "ingredients[1].role",
    ]


def test_at_most_one_ingredient_is_qs(pharmacist):
    rows = [
        {"name": "A", "quantity": "1", "unit": "g", "quantity_sufficient": True},
        {"name": "B", "quantity": "1", "unit": "g", "quantity_sufficient": True},
    ]
    _refused(pharmacist, "ingredients[1].quantity_sufficient", ingredients=rows)


def test_an_ingredients_product_must_be_in_the_catalog(pharmacist):
    rows = [{"name": "Ghost", "quantity": "1", "unit": "g", "product": 999999}]
    error = _refused(pharmacist, "ingredients[0].product", ingredients=rows)
    assert "no product 999999" in error.message


def test_an_ingredient_must_be_takeable_from_the_products_stock(pharmacist):
    # Hydrocortisone 2.5 % is counted in each (tubes) until the stock set-up counts grams.
    product = hc_25().product
    rows = [{"name": "HC 2.5 %", "quantity": "50", "unit": "g", "product": product.pk}]
    error = _refused(pharmacist, "ingredients[0].unit", ingredients=rows)
    assert "counted in EA" in error.message
    stocked_components(pharmacist.site)
    made = sf.formula_create(actor=pharmacist, **_body(ingredients=rows))
    assert made.ingredients.get().product == product


def test_a_product_without_packages_cannot_be_taken_from_stock(pharmacist):
    product = ProductFactory(product_id="lonely-1")
    rows = [{"name": "Lonely", "quantity": "1", "unit": "each", "product": product.pk}]
    _refused(pharmacist, "ingredients[0].product", ingredients=rows)


def test_an_unknown_ingredient_field_is_refused(pharmacist):
    rows = [{"name": "A", "quantity": "1", "unit": "g", "colour": "blue"}]
    _refused(pharmacist, "ingredients[0]", ingredients=rows)


def test_a_hazardous_product_makes_the_formula_hazardous(pharmacist):
    product = ProductFactory(product_id="fin-1", name="Finasteride", hazardous=True)
    PackageFactory(product=product, ndc10="70000-409-01", billing_unit="EA")
    rows = [
        {"name": "Finasteride 5 mg tablet", "quantity": "20", "unit": "each", "product": product.pk}
    ]
    made = sf.formula_create(actor=pharmacist, **_body(ingredients=rows, hazardous=False))
    assert made.hazardous is True


def test_hazardous_may_be_set_by_hand(pharmacist):
    assert sf.formula_create(actor=pharmacist, **_body(hazardous=True)).hazardous is True
    assert sf.formula_create(actor=pharmacist, **_body(code="B")).hazardous is False


# --- update -----------------------------------------------------------------------------------


def test_a_draft_is_changed_and_the_changes_audited(pharmacist):
    made = sf.formula_create(actor=pharmacist, **_body())
    sf.formula_update(actor=pharmacist, formula=made, strength="8 %", batch_quantity="200")
    made.refresh_from_db()
    assert (made.strength, made.batch_quantity) == ("8 %", Decimal("200"))
    event = AuditEvent.objects.get(action="compounding.formula.updated")
    assert '"strength":["80 mg/mL","8 %"]' in event.data
    assert '"batch_quantity":["100","200"]' in event.data
    assert made.ingredients.count() == 2  # not sent: kept


def test_changing_the_ingredients_replaces_the_list(pharmacist):
    made = sf.formula_create(actor=pharmacist, **_body())
    sf.formula_update(
        actor=pharmacist,
        formula=made,
        ingredients=[{"name": "Water", "quantity": "100", "unit": "mL", "role": "vehicle"}],
    )
    assert [i.name for i in made.ingredients.all()] == ["Water"]


def test_an_unchanged_update_writes_nothing(pharmacist):
    made = sf.formula_create(actor=pharmacist, **_body())
    before = _snapshot()
    sf.formula_update(actor=pharmacist, formula=made, name="Magnesium hydroxide")
    assert _snapshot() == before


def test_a_bad_change_writes_nothing(pharmacist):
    made = sf.formula_create(actor=pharmacist, **_body())
    before = _snapshot()
    with pytest.raises(Invalid) as caught:
        sf.formula_update(actor=pharmacist, formula=made, storage="freezer")
    assert caught.value.field == "storage"
    made.refresh_from_db()
    assert made.storage == "room" and _snapshot() == before


def test_an_approved_formula_is_not_edited(pharmacist, pic):
    stocked_components(pharmacist.site)
    formula = hydrocortisone_cream(pharmacist.site, pharmacist, approver=pic)
    before = _snapshot()
    with pytest.raises(Conflict) as caught:
        sf.formula_update(actor=pharmacist, formula=formula, strength="2 %")
    assert "Approved version 1 of HC1CR is in use; make a new version" in caught.value.message
    assert _snapshot() == before


def test_the_code_is_not_changed(pharmacist):
    made = sf.formula_create(actor=pharmacist, **_body())
    with pytest.raises(Invalid) as caught:
        sf.formula_update(actor=pharmacist, formula=made, code="OTHER")
    assert caught.value.field == "code"


def test_a_technician_may_not_change_a_draft(technician, pharmacist):
    made = sf.formula_create(actor=pharmacist, **_body())
    with pytest.raises(Forbidden):
        sf.formula_update(actor=technician, formula=made, strength="9 %")
    made.refresh_from_db()
    assert made.strength == "80 mg/mL"


def test_another_sites_formula_is_not_found(pharmacist, other_site):
    from tests.factories import UserFactory

    there = UserFactory(site=other_site, role="pharmacist", username="rph-there")
    made = sf.formula_create(actor=there, **_body())
    with pytest.raises(NotFound):
        sf.formula_update(actor=pharmacist, formula=made, strength="9 %")


# --- versions, approval, retirement ----------------------------------------------------------


def test_approval_is_for_the_pharmacist_in_charge(pharmacist):
    made = sf.formula_create(actor=pharmacist, **_body())
    before = _snapshot()
    with pytest.raises(Forbidden):
        sf.formula_approve(actor=pharmacist, formula=made)
    made.refresh_from_db()
    assert made.status == "draft" and _snapshot() == before


def test_the_pic_approves_a_draft(pharmacist, pic):
    made = sf.formula_create(actor=pharmacist, **_body())
    done = sf.formula_approve(actor=pic, formula=made)
    done.refresh_from_db()
    assert (done.status, done.approved_by) == ("approved", pic)
    assert done.approved_at is not None
    assert AuditEvent.objects.filter(action="compounding.formula.approved").count() == 1


def test_a_new_version_copies_the_approved_one_and_approval_retires_it(pharmacist, pic):
    stocked_components(pharmacist.site)
    v1 = hydrocortisone_cream(pharmacist.site, pharmacist, approver=pic)
    v2 = sf.formula_new_version(actor=pharmacist, formula=v1, change_note="60 g jars")
    assert (v2.version, v2.status, v2.supersedes, v2.change_note) == (2, "draft", v1, "60 g jars")
    assert [(i.name, i.quantity, i.product_id) for i in v2.ingredients.all()] == [
        (i.name, i.quantity, i.product_id) for i in v1.ingredients.all()
    ]
    assert v2.procedure == v1.procedure
    event = AuditEvent.objects.get(action="compounding.formula.versioned")
    assert (event.object_id, event.reason) == (str(v2.pk), "60 g jars")
    sf.formula_update(actor=pharmacist, formula=v2, container="60 g jar")
    sf.formula_approve(actor=pic, formula=v2)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == ("retired", "approved")
    event = AuditEvent.objects.get(action="compounding.formula.approved")
    assert '"retired_versions":[1]' in event.data


def test_only_one_open_draft_per_code(pharmacist, pic):
    stocked_components(pharmacist.site)
    v1 = hydrocortisone_cream(pharmacist.site, pharmacist, approver=pic)
    sf.formula_new_version(actor=pharmacist, formula=v1, change_note="first")
    before = _snapshot()
    with pytest.raises(Conflict) as caught:
        sf.formula_new_version(actor=pharmacist, formula=v1, change_note="second")
    assert "already an open draft" in caught.value.message
    assert _snapshot() == before


def test_a_new_version_needs_an_approved_one_and_a_note(pharmacist):
    made = sf.formula_create(actor=pharmacist, **_body())
    with pytest.raises(Invalid) as caught:
        sf.formula_new_version(actor=pharmacist, formula=made, change_note=" ")
    assert caught.value.field == "change_note"
    with pytest.raises(Conflict):
        sf.formula_new_version(actor=pharmacist, formula=made, change_note="why")


def test_a_technician_may_not_start_a_version(technician, pharmacist, pic):
    stocked_components(pharmacist.site)
    v1 = hydrocortisone_cream(pharmacist.site, pharmacist, approver=pic)
    before = _snapshot()
    with pytest.raises(Forbidden):
        sf.formula_new_version(actor=technician, formula=v1, change_note="x")
    assert _snapshot() == before


def test_approval_checks_the_draft_again(pharmacist, pic):
    # Written before the stock counted the creams in grams: approving now finds it out.
    formula = hydrocortisone_cream(pharmacist.site, pharmacist)
    before = _snapshot()
    with pytest.raises(Invalid) as caught:
        sf.formula_approve(actor=pic, formula=formula)
    assert caught.value.field == "ingredients[0].unit"
    formula.refresh_from_db()
    assert formula.status == "draft" and _snapshot() == before


def test_approval_takes_the_catalogs_hazard_flag(pharmacist, pic):
    stocked_components(pharmacist.site)
    formula = hydrocortisone_cream(pharmacist.site, pharmacist)
    product = hc_05().product
    product.hazardous = True  # the catalog learned it since the draft was written
    product.save(update_fields=["hazardous"])
    assert sf.formula_approve(actor=pic, formula=formula).hazardous is True


def test_an_approved_or_retired_version_is_not_approved_again(pharmacist, pic):
    stocked_components(pharmacist.site)
    v1 = hydrocortisone_cream(pharmacist.site, pharmacist, approver=pic)
    with pytest.raises(Conflict, match="already approved"):
        sf.formula_approve(actor=pic, formula=v1)
    sf.formula_retire(actor=pic, formula=v1, reason="not prescribed")
    with pytest.raises(Conflict, match="retired"):
        sf.formula_approve(actor=pic, formula=v1)


def test_the_pic_retires_an_approved_formula_with_a_reason(pharmacist, pic):
    vancomycin()
    formula = vancomycin_bag(pharmacist.site, pharmacist, approver=pic)
    with pytest.raises(Invalid) as caught:
        sf.formula_retire(actor=pic, formula=formula, reason="")
    assert caught.value.field == "reason"
    done = sf.formula_retire(actor=pic, formula=formula, reason="Switched to premixed bags")
    assert done.status == "retired"
    event = AuditEvent.objects.get(action="compounding.formula.retired")
    assert event.reason == "Switched to premixed bags"


def test_a_pharmacist_may_not_retire(pharmacist, pic):
    formula = vancomycin_bag(pharmacist.site, pharmacist, approver=pic)
    with pytest.raises(Forbidden):
        sf.formula_retire(actor=pharmacist, formula=formula, reason="x")
    formula.refresh_from_db()
    assert formula.status == "approved"


def test_a_draft_is_not_retired(pharmacist, pic):
    made = sf.formula_create(actor=pharmacist, **_body())
    with pytest.raises(Conflict, match="draft"):
        sf.formula_retire(actor=pic, formula=made, reason="x")
