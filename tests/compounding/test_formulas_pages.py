"""The master-formula pages: list and search, a new formula with its ingredient rows,
the formula's page (scale preview, BUD rule, HD box, versions) and its buttons."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rxdesk.compounding.models import MasterFormula
from tests.compounding.factories import hc_25, hydrocortisone_cream, stocked_components


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form(**over: Any) -> dict[str, Any]:
    data = {
        "code": "MGSUSP",
        "name": "Magnesium hydroxide",
        "strength": "80 mg/mL",
        "dosage_form": "oral suspension",
        "route": "oral",
        "category": "nonsterile",
        "storage": "room",
        "preparation": "aqueous",
        "preserved": "on",
        "batch_quantity": "100",
        "batch_unit": "mL",
        "container": "120 mL amber bottle",
        "procedure": "Levigate; add the vehicle q.s.; shake.",
        "ing-TOTAL_FORMS": "3",
        "ing-INITIAL_FORMS": "0",
        "ing-0-name": "Magnesium hydroxide powder",
        "ing-0-quantity": "8",
        "ing-0-unit": "g",
        "ing-0-role": "active",
        "ing-1-name": "Vehicle",
        "ing-1-quantity": "100",
        "ing-1-unit": "mL",
        "ing-1-role": "vehicle",
        "ing-1-quantity_sufficient": "on",
        "ing-2-role": "active",
    }
    data.update(over)
    return data


@pytest.fixture
def cream(site, pharmacist, pic):
    stocked_components(site)
    return hydrocortisone_cream(site, pharmacist, approver=pic)


def test_the_new_form_has_blank_ingredient_rows_and_more_rows_adds_three(pharmacist):
    client = _client(pharmacist)
    page = client.get(reverse("compounding_formula_new")).content.decode()
    assert (
        page.count('name="ing-') and 'name="ing-2-name"' in page and 'name="ing-3-name"' not in page
    )
    assert "More rows" in page
    response = client.post(reverse("compounding_formula_new"), _form(more="1"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="ing-5-name"' in page and 'name="ing-6-name"' not in page
    assert 'value="Magnesium hydroxide powder"' in page  # what was typed stays
    assert MasterFormula.objects.count() == 0


def test_saving_a_new_formula_resolves_the_ndc_and_opens_the_draft(site, pharmacist):
    stocked_components(site)
    data = _form(
        **{
            "ing-2-name": "Hydrocortisone 2.5 %",
            "ing-2-quantity": "5",
            "ing-2-unit": "g",
            "ing-2-ndc": "70000-101-01",
        }
    )
    response = _client(pharmacist).post(reverse("compounding_formula_new"), data)
    made = MasterFormula.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("compounding_formula", kwargs={"pk": made.pk})
    rows = list(made.ingredients.order_by("position"))
    assert [r.name for r in rows] == [
        "Magnesium hydroxide powder",
        "Vehicle",
        "Hydrocortisone 2.5 %",
    ]
    assert rows[2].product == hc_25().product and rows[1].quantity_sufficient is True


def test_a_bad_row_is_shown_beside_it_and_nothing_is_saved(pharmacist):
    response = _client(pharmacist).post(
        reverse("compounding_formula_new"), _form(**{"ing-1-unit": "mg/mL"})
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Unit: mg/mL is not an amount" in page
    assert MasterFormula.objects.count() == 0


def test_an_unknown_ndc_is_shown_on_its_row(pharmacist):
    response = _client(pharmacist).post(
        reverse("compounding_formula_new"), _form(**{"ing-0-ndc": "99999-9999-99"})
    )
    assert response.status_code == 422
    assert "not in the drug catalog" in response.content.decode()
    assert MasterFormula.objects.count() == 0


def test_a_bud_rule_is_shown_beside_its_field(pharmacist):
    data = _form()
    del data["preserved"]
    response = _client(pharmacist).post(reverse("compounding_formula_new"), data)
    assert response.status_code == 422
    assert 'id="id_storage_error"' in response.content.decode()


def test_the_formula_page_shows_the_bud_rule_and_scales_the_ingredients(pharmacist, cream):
    client = _client(pharmacist)
    url = reverse("compounding_formula", kwargs={"pk": cream.pk})
    page = client.get(url).content.decode()
    assert (
        "USP &lt;795&gt; Table 4: aqueous (water activity ≥ 0.60), preserved, "
        "room temperature: 35 days" in page
    )
    # 200 g batch of 50 g 2.5 % + 150 g 0.5 %: for 100 g, half of each.
    page = client.get(url, {"quantity": "100", "unit": "g"}).content.decode()
    assert "(scale factor 0.5)" in page
    assert "<strong>25 g</strong>" in page and "<strong>75 g</strong>" in page
    # The same typed in kilograms: converted to the batch's grams first.
    page = client.get(url, {"quantity": "0.3", "unit": "kg"}).content.decode()
    assert "<strong>300 g</strong>" in page and "<strong>75 g</strong>" in page
    assert "<strong>225 g</strong>" in page
    page = client.get(url, {"quantity": "100", "unit": "mL"}).content.decode()
    assert "measure different things" in page


def test_the_formula_page_offers_what_the_role_may_do(pharmacist, pic, technician, cream):
    url = reverse("compounding_formula", kwargs={"pk": cream.pk})
    tech = _client(technician).get(url).content.decode()
    assert "Make a new version" not in tech and "Retire this formula" not in tech
    rph = _client(pharmacist).get(url).content.decode()
    assert "Make a new version" in rph and "Retire this formula" not in rph
    boss = _client(pic).get(url).content.decode()
    assert "Retire this formula" in boss


def test_a_new_version_then_edit_then_approve(pharmacist, pic, cream):
    rph = _client(pharmacist)
    response = rph.post(
        reverse("compounding_formula_version", kwargs={"pk": cream.pk}), {"change_note": "Jar"}
    )
    draft = MasterFormula.objects.get(version=2)
    assert response["Location"] == reverse("compounding_formula_edit", kwargs={"pk": draft.pk})
    page = rph.get(response["Location"]).content.decode()
    assert 'value="70000-101-01"' in page  # the ingredient's NDC shown for its product
    data = {
        name: value
        for name, value in _form(code="", container="60 g jar").items()
        if not name.startswith("ing-")
    }
    data.update(
        {
            "name": "Hydrocortisone",
            "strength": "1 %",
            "dosage_form": "cream",
            "route": "topical",
            "batch_quantity": "200",
            "batch_unit": "g",
            "ing-TOTAL_FORMS": "2",
            "ing-INITIAL_FORMS": "0",
            "ing-0-name": "Hydrocortisone 2.5 % cream",
            "ing-0-quantity": "50",
            "ing-0-unit": "g",
            "ing-0-role": "active",
            "ing-0-ndc": "70000-101-01",
            "ing-1-name": "Hydrocortisone 0.5 % cream",
            "ing-1-quantity": "150",
            "ing-1-unit": "g",
            "ing-1-role": "vehicle",
            "ing-1-ndc": "70000-102-01",
        }
    )
    response = rph.post(reverse("compounding_formula_edit", kwargs={"pk": draft.pk}), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    draft.refresh_from_db()
    assert draft.container == "60 g jar"
    assert (
        rph.post(reverse("compounding_formula_approve", kwargs={"pk": draft.pk})).status_code == 403
    )
    response = _client(pic).post(reverse("compounding_formula_approve", kwargs={"pk": draft.pk}))
    assert response.status_code == 302
    draft.refresh_from_db()
    cream.refresh_from_db()
    assert (draft.status, cream.status) == ("approved", "retired")


def test_editing_an_approved_formula_goes_back_to_it(pharmacist, cream):
    response = _client(pharmacist).get(reverse("compounding_formula_edit", kwargs={"pk": cream.pk}))
    assert response.status_code == 302
    assert response["Location"] == reverse("compounding_formula", kwargs={"pk": cream.pk})


def test_retiring_from_the_page(pic, cream):
    client = _client(pic)
    url = reverse("compounding_formula_retire", kwargs={"pk": cream.pk})
    assert client.post(url, {"reason": ""}).status_code == 422
    assert client.post(url, {"reason": "No longer used"}).status_code == 302
    cream.refresh_from_db()
    assert cream.status == "retired"


def test_the_list_searches_and_its_queries_do_not_grow(site, pharmacist, pic):
    stocked_components(site)
    client = _client(pharmacist)
    hydrocortisone_cream(site, pharmacist, approver=pic, code="A1")
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("compounding_formulas"))
    for code in ("A2", "A3", "A4"):
        hydrocortisone_cream(site, pharmacist, approver=pic, code=code)
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("compounding_formulas")).content.decode()
    assert len(many) == len(few)
    assert "4 formulas" in page
    page = client.get(reverse("compounding_formulas"), {"q": "A3"}).content.decode()
    assert "1 formula<" in page and ">A3</a>" in page
