"""The calculator pages: a tab per calculator, the answer with its steps, errors beside the
field (422), the PN worksheet with its warnings first, the admixture standards; keyboard
hints shown; compounding.view enforced (403) and nothing written."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.compounding.views.calc import KINDS
from rxdesk.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(technician) -> Client:
    client = Client()
    client.force_login(technician)
    return client


def _events() -> int:
    return AuditEvent.objects.exclude(action__startswith="auth.").count()


def test_the_page_has_a_tab_per_calculator_with_its_key(browser):
    got = browser.get(reverse("compounding_calc"))
    assert got.status_code == 200
    html = got.content.decode()
    for kind in KINDS:
        assert f'?kind={kind.key}"' in html
        assert f'data-key="{kind.shortcut}"' in html
    assert "<kbd>Enter</kbd> Calculate" in html
    assert 'name="dose"' in html and "autofocus" in html  # dose volume is the first tab
    assert reverse("compounding_pn") in html and reverse("compounding_admixtures") in html


def test_a_tab_opens_its_form(browser):
    got = browser.get(reverse("compounding_calc") + "?kind=alligation")
    html = got.content.decode()
    assert 'aria-current="page"><kbd>a</kbd> Alligation' in html
    assert 'name="desired"' in html


def test_an_unknown_tab_falls_back_to_the_first(browser):
    got = browser.get(reverse("compounding_calc") + "?kind=<script>")
    assert got.status_code == 200
    assert "<script>" not in got.content.decode().split("<main", 1)[-1].split("</main>")[0]


def test_a_calculation_shows_the_answer_and_the_work(browser):
    before = _events()
    got = browser.post(
        reverse("compounding_calc") + "?kind=dilution",
        {"kind": "dilution", "c1": "70", "c1_unit": "%", "c2": "30", "c2_unit": "",
         "v2": "500", "volume_unit": "mL"},
    )  # fmt: skip
    assert got.status_code == 200
    html = got.content.decode()
    assert "214.3 mL of 70 % + 285.7 mL diluent = 500 mL of 30 %" in html
    assert "30 % × 500 mL ÷ 70 %" in html  # the step with its units
    assert "214.2857 mL" in html  # the calculated value beside the rounded one
    assert _events() == before


def test_the_weight_based_dose_page(browser):
    got = browser.post(
        reverse("compounding_calc"),
        {"kind": "dose", "dose": "90", "dose_unit": "mg/kg", "per": "day", "doses_per_day": "2",
         "weight": "44", "weight_unit": "lb", "pounds": "2.2", "strength": "400",
         "strength_unit": "mg", "per_volume": "5", "per_volume_unit": "mL"},
    )  # fmt: skip
    assert got.status_code == 200
    html = got.content.decode()
    assert "900 mg per dose (1800 mg a day) = 11.3 mL per dose" in html
    assert "44 lb ÷ 2.2 lb/kg" in html


def test_a_broken_rule_is_shown_beside_its_field(browser):
    got = browser.post(
        reverse("compounding_calc"),
        {"kind": "alligation", "high": "10", "low": "2", "desired": "12", "total": "100",
         "amount_unit": "g"},
    )  # fmt: skip
    assert got.status_code == 422
    html = got.content.decode()
    assert 'id="id_desired_error"' in html
    assert "between the two strengths" in html
    assert 'id="result"' not in html


def test_input_that_does_not_parse_is_422(browser):
    got = browser.post(
        reverse("compounding_calc"),
        {"kind": "bsa", "height": "NaN", "height_unit": "cm", "weight": "1e400",
         "weight_unit": "kg", "formula": "mosteller", "dose_unit": "mg"},
    )  # fmt: skip
    assert got.status_code == 422
    html = got.content.decode()
    assert 'id="id_height_error"' in html and 'id="id_weight_error"' in html


def test_the_pn_page_shows_the_worksheet_and_the_warnings_first(browser):
    page = browser.get(reverse("compounding_pn"))
    assert page.status_code == 200
    assert 'name="final_volume_ml"' in page.content.decode()
    got = browser.post(
        reverse("compounding_pn"),
        {"final_volume_ml": "2000", "dextrose_g": "400", "dextrose_stock_percent": "70",
         "amino_acids_g": "100", "amino_acids_stock_percent": "10",
         "lipid_emulsion_percent": "20", "potassium_phosphate_mmol": "32",
         "calcium_gluconate_meq": "20"},
    )  # fmt: skip
    assert got.status_code == 200, got.content[:500]
    html = got.content.decode()
    warning_at = html.index("Calcium–phosphate precipitation risk")
    assert warning_at < html.index('id="worksheet"')
    assert "central line only" in html
    assert 'id="add-sterile_water"' in html
    assert "2260 kcal" not in html  # no lipid ordered: 400 × 3.4 + 100 × 4 = 1760
    assert "1760 kcal" in html


def test_the_pn_page_refuses_an_overfull_bag_beside_the_volume(browser):
    got = browser.post(
        reverse("compounding_pn"),
        {"final_volume_ml": "500", "dextrose_g": "400", "dextrose_stock_percent": "70",
         "amino_acids_stock_percent": "10", "lipid_emulsion_percent": "20"},
    )  # fmt: skip
    assert got.status_code == 422
    html = got.content.decode()
    assert 'id="id_final_volume_ml_error"' in html
    assert "more than the 500 mL final volume" in html


def test_the_admixture_page_lists_the_standards_and_calculates(browser):
    page = browser.get(reverse("compounding_admixtures") + "?drug=heparin-100")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="std-norepinephrine-16"' in html and "Standardize 4 Safety" in html
    assert '<option value="heparin-100" selected>' in html
    got = browser.post(
        reverse("compounding_admixtures"),
        {"drug": "norepinephrine-16", "diluent": "", "dose": "0.1", "dose_unit": "mcg/kg/min",
         "weight": "80", "weight_unit": "kg", "vial_unit": ""},
    )  # fmt: skip
    assert got.status_code == 200
    html = got.content.decode()
    assert "30 mL/h" in html
    assert "246 mL D5W" in html


def test_the_admixture_page_names_a_forbidden_diluent(browser):
    got = browser.post(
        reverse("compounding_admixtures"),
        {"drug": "insulin-1", "diluent": "D5W", "weight_unit": "kg"},
    )
    assert got.status_code == 422
    assert 'id="id_diluent_error"' in got.content.decode()


@pytest.mark.parametrize("persona", ["trainee", "inventory", "admin_user"])
@pytest.mark.parametrize("name", ["compounding_calc", "compounding_pn", "compounding_admixtures"])
def test_roles_without_compounding_view_get_403(request, persona, name):
    client = Client()
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse(name)).status_code == 403
    assert client.post(reverse(name), {"kind": "bsa", "height": "170"}).status_code == 403


def test_the_auditor_may_use_the_calculators(auditor):
    client = Client()
    client.force_login(auditor)
    got = client.post(
        reverse("compounding_calc"),
        {"kind": "temperature", "value": "8", "unit": "degC"},
    )
    assert got.status_code == 200
    assert "46.4 °F" in got.content.decode()
