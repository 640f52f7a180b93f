"""POST /api/v1/screening/check — the contract of issue 8 — and the other screening
operations, through the full Django stack."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.core.models import AuditEvent
from rxdesk.screening.models import FillAlert
from tests.factories import PatientFactory
from tests.rx.test_api import Api, problem_of
from tests.screening.helpers import on_profile, package, prescribe, queued_fill

pytestmark = pytest.mark.django_db

CHECK = "/screening/check"


@pytest.fixture
def as_tech(technician) -> Api:
    return Api(technician)


@pytest.fixture
def as_rph(pharmacist) -> Api:
    return Api(pharmacist)


def _alerts(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["alerts"]


def test_the_issues_example_answers_in_the_contracts_shape(as_tech):
    body = {
        "patient": {
            "birth_date": "1950-04-01",
            "sex": "F",
            "weight_kg": 70,
            "height_cm": 165,
            "serum_creatinine_mg_dl": 1.1,
            "pregnant": False,
            "breastfeeding": False,
            "allergies": [{"allergen": "penicillin", "kind": "allergy"}],
            "medications": [{"ingredient": "warfarin"}],
        },
        "proposed": {"ingredient": "fluconazole"},
        "daily_dose": {"value": 200, "unit": "mg"},
    }
    alerts = _alerts(as_tech.post(CHECK, body))
    # The issue's example: warfarin + fluconazole is a major DD (from the FDA-labeling seed;
    # it is not on the ONC high-priority list).
    dd = [a for a in alerts if a["type"] == "DD"]
    assert [(a["severity"], sorted(a["drugs"])) for a in dd] == [
        ("major", ["fluconazole", "warfarin"])
    ]
    assert dd[0]["source"].startswith("rxdesk curated interactions (FDA labeling)")
    assert dd[0]["interrupts"] is True
    for a in alerts:
        assert set(a) == {
            "type",
            "severity",
            "drugs",
            "message",
            "consequence",
            "action",
            "source",
            "interrupts",
            "key",
        }
        assert a["severity"] in {"contraindicated", "major", "moderate", "minor"}
        assert a["interrupts"] == (a["severity"] in {"contraindicated", "major"})
        assert a["source"] and a["message"]


@pytest.mark.parametrize(
    ("medication", "proposed", "severity"),
    [
        ("warfarin", "Sulfamethoxazole", "major"),
        ("warfarin", "ibuprofen", "major"),
        ("nitroglycerin", "sildenafil", "contraindicated"),
        ("lithium", "naproxen", "major"),
        ("lithium", "lisinopril", "major"),
        ("sertraline", "linezolid", "major"),
        ("methotrexate", "trimethoprim", "major"),
        ("digoxin", "clarithromycin", "major"),
        ("azathioprine", "allopurinol", "major"),
        ("clopidogrel", "omeprazole", "moderate"),
    ],
)
def test_well_known_labeled_pairs_fire(as_tech, medication, proposed, severity):
    body = {
        "patient": {"medications": [{"ingredient": medication}]},
        "proposed": {"ingredient": proposed},
    }
    dd = [a for a in _alerts(as_tech.post(CHECK, body)) if a["type"] == "DD"]
    assert severity in {a["severity"] for a in dd}, dd
    # and the same in the other order (either drug may be the new one)
    body = {
        "patient": {"medications": [{"ingredient": proposed}]},
        "proposed": {"ingredient": medication},
    }
    dd = [a for a in _alerts(as_tech.post(CHECK, body)) if a["type"] == "DD"]
    assert severity in {a["severity"] for a in dd}, dd


def test_an_onc_high_priority_pair_fires_a_major_dd(as_tech):
    body = {
        "patient": {"medications": [{"ingredient": "phenelzine"}]},
        "proposed": {"ingredient": "fluoxetine"},
    }
    alerts = _alerts(as_tech.post(CHECK, body))
    dd = [a for a in alerts if a["type"] == "DD"]
    assert len(dd) == 1
    assert dd[0]["severity"] in {"major", "contraindicated"} and dd[0]["interrupts"] is True
    assert sorted(dd[0]["drugs"]) == ["fluoxetine", "phenelzine"]
    assert "ONC High-Priority" in dd[0]["source"]
    assert alerts[0] == dd[0]


@pytest.mark.parametrize(
    ("a", "b"), [("FLUOXETINE", "Phenelzine"), ("fluoxetine hydrochloride", "PHENELZINE SULFATE")]
)
def test_ingredient_names_are_case_insensitive(as_tech, a, b):
    body = {"patient": {"medications": [{"ingredient": b}]}, "proposed": {"ingredient": a}}
    assert [x["type"] for x in _alerts(as_tech.post(CHECK, body))] == ["DD"]


def test_a_drug_by_ndc_is_screened_as_its_ingredients(as_tech):
    nardil = package("Nardil", "PHENELZINE SULFATE", "15")
    body = {
        "patient": {"medications": [{"ndc": nardil.ndc10}]},
        "proposed": {"ingredient": "sertraline"},
    }
    dd = [a for a in _alerts(as_tech.post(CHECK, body)) if a["type"] == "DD"]
    assert len(dd) == 1 and dd[0]["interrupts"]


def test_a_known_safe_pair_is_quiet(as_tech):
    body = {
        "patient": {"birth_date": "1980-02-03", "medications": [{"ingredient": "lisinopril"}]},
        "proposed": {"ingredient": "atorvastatin"},
    }
    assert _alerts(as_tech.post(CHECK, body)) == []


def test_a_daily_dose_over_the_maximum_is_an_hd(as_tech):
    body = {
        "patient": {"birth_date": "1980-02-03", "weight_kg": 80},
        "proposed": {"ingredient": "acetaminophen"},
        "daily_dose": {"value": 6, "unit": "g"},
    }
    assert "HD" in [a["type"] for a in _alerts(as_tech.post(CHECK, body))]


def test_a_bad_ndc_names_its_path_and_changes_nothing(as_tech):
    events = AuditEvent.objects.count()
    body = {
        "patient": {
            "medications": [
                {"ingredient": "warfarin"},
                {"ingredient": "lisinopril"},
                {"ndc": "1234"},
            ]
        },
        "proposed": {"ingredient": "fluconazole"},
    }
    problem = problem_of(as_tech.post(CHECK, body), 422)
    assert [e["field"] for e in problem["errors"]] == ["patient.medications.2.ndc"]
    assert AuditEvent.objects.count() == events


def test_every_bad_drug_is_named_at_once(as_tech):
    body = {
        "patient": {"medications": [{"ndc": "0002-9999-99"}, {"ingredient": "notadrugatall"}]},
        "proposed": {"ingredient": "Prozac-ish"},
    }
    problem = problem_of(as_tech.post(CHECK, body), 422)
    assert [e["field"] for e in problem["errors"]] == [
        "patient.medications.0.ndc",
        "patient.medications.1.ingredient",
        "proposed.ingredient",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"proposed": {}}, "proposed"),
        ({"proposed": {"ndc": "0002-3227-30", "ingredient": "x"}}, "proposed"),
        ({"proposed": {"ingredient": "warfarin"}, "patient": {"sex": "X"}}, "patient.sex"),
        (
            {"proposed": {"ingredient": "warfarin"}, "patient": {"weight_kg": -1}},
            "patient.weight_kg",
        ),
        (
            {
                "proposed": {"ingredient": "warfarin"},
                "patient": {"allergies": [{"allergen": "x", "kind": "bad"}]},
            },
            "patient.allergies.0.kind",
        ),
        (
            {"proposed": {"ingredient": "warfarin"}, "daily_dose": {"value": 5, "unit": "tsp"}},
            "daily_dose.unit",
        ),
        ({"proposed": {"ingredient": "warfarin"}, "extra": 1}, "extra"),
    ],
)
def test_malformed_input_is_a_422_naming_the_field(as_tech, body, field):
    problem = problem_of(as_tech.post(CHECK, body), 422)
    assert field in [e["field"] for e in problem["errors"]]


def test_a_daily_dose_needs_a_one_ingredient_drug(as_tech):
    product = package("Norco", "HYDROCODONE BITARTRATE", "5")
    from rxdesk.catalog.models import Ingredient

    Ingredient.objects.create(
        product=product.product, position=2, name="ACETAMINOPHEN", strength="325", unit="mg/1"
    )
    body = {"proposed": {"ndc": product.ndc10}, "daily_dose": {"value": 20, "unit": "mg"}}
    problem = problem_of(as_tech.post(CHECK, body), 422)
    assert [e["field"] for e in problem["errors"]] == ["daily_dose"]


def test_the_check_needs_rx_view(inventory, auditor):
    body = {"proposed": {"ingredient": "warfarin"}}
    for user in (inventory, auditor):
        assert problem_of(Api(user).post(CHECK, body), 403)["type"] == "/problems/forbidden"


# --- a fill's alerts, resolving, the report -----------------------------------------------------


def _blocked_fill(technician, site):
    patient = PatientFactory(site=site)
    on_profile(technician, patient, package("Nardil", "PHENELZINE SULFATE", "15"))
    return queued_fill(
        prescribe(
            technician, patient, package("Prozac", "FLUOXETINE HYDROCHLORIDE", "20", form="CAPSULE")
        )
    )


def test_a_fill_is_screened_and_resolved_through_the_api(as_tech, as_rph, technician, site):
    fill = _blocked_fill(technician, site)
    verify = as_rph.post(f"/fills/{fill.pk}/data-verification", {"approve": True})
    problem = problem_of(verify, 422)
    assert [e["field"] for e in problem["errors"]] == ["alerts"]

    alerts = as_tech.post(f"/screening/fills/{fill.pk}/screen").json()["alerts"]
    dd = [a for a in alerts if a["type"] == "DD"]
    assert len(dd) == 1 and dd[0]["blocking"] is True and dd[0]["resolved_by"] is None

    refused = as_tech.post(
        f"/screening/alerts/{dd[0]['id']}/resolve",
        {"professional_service": "M0", "result_of_service": "1G", "note": "ok"},
    )
    assert problem_of(refused, 403)["type"] == "/problems/forbidden"
    bad = as_rph.post(
        f"/screening/alerts/{dd[0]['id']}/resolve",
        {"professional_service": "MO", "result_of_service": "1G", "note": ""},
    )
    assert [e["field"] for e in problem_of(bad, 422)["errors"]] == ["professional_service", "note"]
    done = as_rph.post(
        f"/screening/alerts/{dd[0]['id']}/resolve",
        {
            "professional_service": "M0",
            "result_of_service": "1G",
            "note": "Dr. Okafor: stop phenelzine",
        },
    )
    assert done.status_code == 200, done.content
    assert done.json()["blocking"] is False and done.json()["resolved_by"] == "rph"

    assert as_rph.post(f"/fills/{fill.pk}/data-verification", {"approve": True}).status_code == 200


def test_the_report_gives_rates_per_rule(as_rph, technician, pharmacist, site):
    from rxdesk.screening import services

    fill = _blocked_fill(technician, site)
    row = next(
        r for _, r in services.fill_screen(actor=pharmacist, fill=fill).alerts if r.type == "DD"
    )
    services.alert_resolve(
        actor=pharmacist, alert=row, professional_service="M0", result_of_service="1G", note="ok"
    )
    today = site.today()
    response = as_rph.get(
        "/screening/report", start=str(today - dt.timedelta(days=7)), end=str(today)
    )
    assert response.status_code == 200, response.content
    rules = {r["rule"]: r for r in response.json()["rules"]}
    assert rules[row.rule]["raised"] == 1
    assert rules[row.rule]["interrupted"] == 1
    assert rules[row.rule]["overridden"] == 1
    assert rules[row.rule]["override_rate"] == "100.0"
    assert FillAlert.objects.filter(fill=fill).count() >= 1


def test_the_report_refuses_a_reversed_range(as_rph, site):
    today = site.today()
    response = as_rph.get(
        "/screening/report", start=str(today), end=str(today - dt.timedelta(days=1))
    )
    assert [e["field"] for e in problem_of(response, 422)["errors"]] == ["end"]


_names = st.one_of(
    st.sampled_from(["warfarin", "FLUOXETINE", "phenelzine", "acetaminophen", "tramadol"]),
    st.text(max_size=40),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    born=st.one_of(
        st.none(), st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1))
    ),
    weight=st.one_of(st.none(), st.integers(min_value=-5, max_value=900)),
    creatinine=st.one_of(st.none(), st.decimals(min_value=0, max_value=40, places=2)),
    meds=st.lists(_names, max_size=4),
    proposed=_names,
    dose=st.one_of(st.none(), st.integers(min_value=-1, max_value=10**7)),
)
def test_any_input_is_answered_never_a_500(as_tech, born, weight, creatinine, meds, proposed, dose):
    patient: dict[str, Any] = {"medications": [{"ingredient": m} for m in meds]}
    if born is not None:
        patient["birth_date"] = born.isoformat()
    if weight is not None:
        patient["weight_kg"] = weight
    if creatinine is not None:
        patient["serum_creatinine_mg_dl"] = str(creatinine)
    body: dict[str, Any] = {"patient": patient, "proposed": {"ingredient": proposed}}
    if dose is not None:
        body["daily_dose"] = {"value": dose, "unit": "mg"}
    response = as_tech.post(CHECK, body)
    assert response.status_code in (200, 422), response.content
