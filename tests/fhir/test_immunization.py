"""GET /fhir/Immunization: doses given here, historical doses and refusals as US Core
Immunization resources; search by patient, status, date, vaccine code and lot; who may read."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlsplit

import pytest

from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent
from rxdesk.fhir import codes
from rxdesk.immunizations import services_administer as services
from rxdesk.immunizations.models import Immunization
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid
from tests.immunizations.administer_setup import LOT, adult, given
from tests.immunizations.factories import flu_vis, staff, vaccine

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-immunization"


def historical(site, patient, *, on: dt.date, cvx: str = "115", source: str = "04", **over):
    vaccine(cvx)
    return services.immunization_record_historical(
        actor=staff(site, Role.TECHNICIAN),
        patient=patient,
        cvx=cvx,
        administered_on=on,
        source=source,
        historical_source=over.pop("historical_source", "Mother remembers the clinic visit"),
        **over,
    )


def fhir_events() -> int:
    return AuditEvent.objects.filter(action__startswith="fhir.").count()


def ids(bundle: dict) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


# --- read ---------------------------------------------------------------------------------


def test_a_dose_given_here_reads_as_a_us_core_immunization(site, pharmacist):
    imm = given(site)
    vis = flu_vis()

    response = FhirClient(pharmacist).get(f"Immunization/{imm.pk}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert_valid(body)
    assert body["meta"]["profile"] == [US_CORE]
    assert body["id"] == str(imm.pk)
    assert body["status"] == "completed"
    assert "statusReason" not in body
    assert body["vaccineCode"]["coding"] == [
        {
            "system": codes.CVX,
            "code": "150",
            "display": "Influenza, injectable, quadrivalent, preservative free",
        },
        {"system": codes.NDC, "code": "49281042188"},  # us-core-5: the syringe scanned
    ]
    assert body["patient"] == {"reference": f"Patient/{imm.patient_id}"}
    local = imm.administered_at.astimezone(site.tz).replace(microsecond=0)
    assert body["occurrenceDateTime"] == local.isoformat()
    assert body["primarySource"] is True
    assert "reportOrigin" not in body
    assert body["lotNumber"] == LOT
    assert body["expirationDate"] == "2030-06-30"
    assert body["manufacturer"] == {
        "identifier": {"system": codes.MVX, "value": "PMC"},
        "display": "Sanofi Pasteur",
    }
    assert body["site"]["coding"] == [
        {"system": codes.ACT_SITE, "code": "LD", "display": "left deltoid"}
    ]
    assert body["route"]["coding"] == [
        {"system": codes.ROUTE, "code": "IM", "display": "Injection, intramuscular"}
    ]
    assert body["doseQuantity"] == {
        "value": 0.5,
        "unit": "mL",
        "system": codes.UCUM,
        "code": "mL",
    }
    giver = pharmacist_name = imm.administered_by_name
    assert pharmacist_name
    assert body["performer"] == [
        {
            "function": {
                "coding": [
                    {"system": codes.V2_0443, "code": "AP", "display": "Administering Provider"}
                ]
            },
            "actor": {
                "reference": f"Organization/{site.pk}",
                "display": f"{site.name} (given by {giver})",
            },
        }
    ]
    assert body["education"] == [
        {
            "documentType": vis.barcode,
            "publicationDate": "2023-08-06",
            "presentationDate": site.today().isoformat(),
        }
    ]
    assert body["programEligibility"] == [
        {"coding": [{"system": codes.V2_0064, "code": "V01", "display": "Not VFC eligible"}]}
    ]
    assert body["fundingSource"] == {
        "coding": [{"system": codes.FUNDING_SOURCE, "code": "private", "display": "Private"}]
    }
    assert "protocolApplied" not in body


def test_the_dose_number_and_the_ordering_prescriber_are_carried(site, pharmacist):
    from tests.factories import PrescriberFactory

    prescriber = PrescriberFactory(site=site, first_name="Grace", last_name="Hopper")
    imm = given(site, dose_number=2, ordering_prescriber=prescriber)

    body = FhirClient(pharmacist).get(f"Immunization/{imm.pk}").json()

    assert_valid(body)
    assert body["protocolApplied"] == [{"doseNumberPositiveInt": 2}]
    assert body["performer"][1] == {
        "function": {
            "coding": [{"system": codes.V2_0443, "code": "OP", "display": "Ordering Provider"}]
        },
        "actor": {"reference": f"Practitioner/{prescriber.pk}", "display": "Grace Hopper"},
    }


def test_a_historical_dose_is_not_a_primary_source_and_says_where_it_came_from(site, pharmacist):
    patient = adult(site)
    imm = historical(
        site, patient, on=dt.date(2019, 3, 2), source="03", ndc="58160-842-11", lot_number="ab12"
    )

    body = FhirClient(pharmacist).get(f"Immunization/{imm.pk}").json()

    assert_valid(body)
    assert body["status"] == "completed"
    assert body["primarySource"] is False
    assert body["reportOrigin"] == {
        "coding": [{"system": codes.IMM_ORIGIN, "code": "record", "display": "Written Record"}],
        "text": "Mother remembers the clinic visit",
    }
    assert body["occurrenceDateTime"] == "2019-03-02"  # a date: no time was reported
    assert body["vaccineCode"]["coding"][1] == {"system": codes.NDC, "code": "58160084211"}
    assert body["lotNumber"] == "AB12"
    assert "performer" not in body
    assert "fundingSource" not in body


def test_a_historical_dose_from_an_unspecified_source_has_the_sources_words_only(site, pharmacist):
    imm = historical(site, adult(site), on=dt.date(2020, 1, 5), source="01")

    body = FhirClient(pharmacist).get(f"Immunization/{imm.pk}").json()

    assert_valid(body)
    assert body["reportOrigin"] == {"text": "Mother remembers the clinic visit"}
    assert body["vaccineCode"]["coding"] == [
        {"system": codes.CVX, "code": "115", "display": "Tdap"}
    ]


def test_a_refusal_is_not_done_with_its_reason(site, pharmacist):
    vaccine("150")
    imm = services.immunization_record_refusal(
        actor=pharmacist, patient=adult(site), cvx="150", refusal_reason="01"
    )

    body = FhirClient(pharmacist).get(f"Immunization/{imm.pk}").json()

    assert_valid(body)
    assert body["status"] == "not-done"
    assert body["statusReason"] == {
        "coding": [{"system": codes.ACT_REASON, "code": "RELIG", "display": "religious objection"}],
        "text": "Religious exemption",
    }
    assert "performer" not in body  # nothing was administered


def test_a_dose_entered_in_error_is_served_as_entered_in_error(site, pharmacist):
    imm = given(site)
    services.immunization_mark_entered_in_error(
        actor=pharmacist, immunization=imm, reason="Wrong patient chart"
    )

    body = FhirClient(pharmacist).get(f"Immunization/{imm.pk}").json()

    assert_valid(body)
    assert body["status"] == "entered-in-error"


def test_reading_a_dose_writes_a_phi_access_event(site, technician):
    imm = given(site)
    before = fhir_events()

    FhirClient(technician).get(f"Immunization/{imm.pk}")

    assert fhir_events() == before + 1
    event = AuditEvent.objects.filter(action="fhir.read").latest("id")
    assert event.patient_id == imm.patient_id
    assert json.loads(event.data)["resources"] == [f"Immunization/{imm.pk}"]


# --- who may read -------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR, Role.ADMIN])
def test_roles_without_immunization_access_are_refused(site, role):
    imm = given(site)
    reader = staff(site, role, username=f"reader-{role.value}")
    before = fhir_events()

    read = FhirClient(reader).get(f"Immunization/{imm.pk}")
    found = FhirClient(reader).get("Immunization", patient=f"Patient/{imm.patient_id}")

    assert_outcome(read, 403)
    assert_outcome(found, 403)
    assert fhir_events() == before


def test_another_sites_dose_is_missing_and_never_found(site, other_site, outsider):
    imm = given(site)
    given(other_site)  # the outsider's own pharmacy has a dose too
    client = FhirClient(outsider)

    read = client.get(f"Immunization/{imm.pk}")
    by_patient = client.get("Immunization", patient=str(imm.patient_id)).json()
    by_id = client.get("Immunization", _id=str(imm.pk)).json()

    assert_outcome(read, 404)
    assert by_patient["total"] == 0
    assert by_id["total"] == 0


def test_an_unknown_id_is_not_found(site, pharmacist):
    assert_outcome(FhirClient(pharmacist).get("Immunization/999999"), 404)
    assert_outcome(FhirClient(pharmacist).get("Immunization/abc"), 404)


# --- search -------------------------------------------------------------------------------


@pytest.fixture
def doses(site, pharmacist):
    """Ada: a flu dose today and a Tdap in 2019; Ben: a Tdap in 2021 and a refused flu dose."""
    ada, ben = adult(site), adult(site, first_name="Ben", last_name="Okafor")
    flu = given(site, ada)
    tdap_ada = historical(site, ada, on=dt.date(2019, 3, 2))
    tdap_ben = historical(site, ben, on=dt.date(2021, 7, 14), source="02", lot_number="TD77")
    refused = services.immunization_record_refusal(
        actor=pharmacist, patient=ben, cvx="150", refusal_reason="03"
    )
    return {"ada": ada, "ben": ben, "flu": flu, "tdap_ada": tdap_ada, "tdap_ben": tdap_ben,
            "refused": refused}  # fmt: skip


def test_search_by_patient_finds_that_patients_doses_only(site, pharmacist, doses):
    bundle = FhirClient(pharmacist).get("Immunization", patient=f"Patient/{doses['ada'].pk}")

    body = bundle.json()
    assert_valid(body)
    assert body["type"] == "searchset"
    assert body["total"] == 2
    assert ids(body) == [str(doses["flu"].pk), str(doses["tdap_ada"].pk)]
    assert all(e["fullUrl"].endswith(f"/Immunization/{e['resource']['id']}") for e in body["entry"])


def test_search_by_status_and_vaccine_code(site, pharmacist, doses):
    client = FhirClient(pharmacist)

    not_done = client.get("Immunization", status="not-done").json()
    completed_flu = client.get(
        "Immunization", status="completed", **{"vaccine-code": f"{codes.CVX}|150"}
    ).json()
    tdap = client.get("Immunization", **{"vaccine-code": "115"}).json()
    by_ndc = client.get("Immunization", **{"vaccine-code": f"{codes.NDC}|49281042188"}).json()

    for body in (not_done, completed_flu, tdap, by_ndc):
        assert_valid(body)
    assert ids(not_done) == [str(doses["refused"].pk)]
    assert ids(completed_flu) == [str(doses["flu"].pk)]
    assert ids(tdap) == [str(doses["tdap_ada"].pk), str(doses["tdap_ben"].pk)]
    assert ids(by_ndc) == [str(doses["flu"].pk)]


def test_status_entered_in_error_finds_only_the_withdrawn_dose(site, pharmacist, doses):
    services.immunization_mark_entered_in_error(
        actor=pharmacist, immunization=doses["flu"], reason="Charted on the wrong patient"
    )
    client = FhirClient(pharmacist)

    withdrawn = client.get("Immunization", status="entered-in-error").json()
    completed = client.get("Immunization", status="completed,not-done").json()

    assert ids(withdrawn) == [str(doses["flu"].pk)]
    assert str(doses["flu"].pk) not in ids(completed)
    assert completed["total"] == 3


def test_date_range_search_reads_the_occurrence(site, pharmacist, doses):
    client = FhirClient(pharmacist)

    in_2019 = client.get("Immunization", date="2019").json()
    between = client.get("Immunization", date=["ge2019-03-02", "le2021-07-14"]).json()
    before = client.get("Immunization", date="lt2020-01-01").json()
    recent = client.get("Immunization", date=f"ge{site.today().isoformat()}").json()

    assert ids(in_2019) == [str(doses["tdap_ada"].pk)]
    assert ids(between) == [str(doses["tdap_ada"].pk), str(doses["tdap_ben"].pk)]
    assert ids(before) == [str(doses["tdap_ada"].pk)]
    assert ids(recent) == [str(doses["flu"].pk), str(doses["refused"].pk)]


def test_lot_number_search_starts_with_the_value(site, pharmacist, doses):
    body = FhirClient(pharmacist).get("Immunization", **{"lot-number": "td"}).json()

    assert ids(body) == [str(doses["tdap_ben"].pk)]


def test_a_search_page_writes_one_phi_event_per_patient(site, pharmacist, doses):
    before = fhir_events()

    body = FhirClient(pharmacist).get("Immunization", _count="10").json()

    assert body["total"] == 4
    assert fhir_events() == before + 2
    events = AuditEvent.objects.filter(action="fhir.search").order_by("id")
    assert {e.patient_id for e in events} == {doses["ada"].pk, doses["ben"].pk}


def test_paging_follows_the_next_link(site, pharmacist, doses):
    client = FhirClient(pharmacist)

    first = client.get("Immunization", _count="3").json()
    next_url = urlsplit(next(lk["url"] for lk in first["link"] if lk["relation"] == "next"))
    second = client.get(f"{next_url.path}?{next_url.query}")

    assert first["total"] == 4 and len(first["entry"]) == 3
    rest = second.json()
    assert_valid(rest)
    assert len(rest["entry"]) == 1
    every = {str(doses[k].pk) for k in ("flu", "tdap_ada", "tdap_ben", "refused")}
    assert set(ids(first)) | set(ids(rest)) == every


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ({"status": "done"}, "status"),
        ({"status": "http://example.org|completed"}, "status"),
        ({"date": "ge2025-13-40"}, "date"),
        ({"patient": "Practitioner/1"}, "patient"),
        ({"vaccine-code": f"{codes.CVX}|"}, "vaccine-code"),
        ({"vaccine-code:text": "flu"}, "vaccine-code:text"),
    ],
)
def test_a_bad_search_value_is_answered_with_an_outcome_naming_it(
    site, pharmacist, params, expression
):
    response = FhirClient(pharmacist).get("Immunization", **params)

    assert_outcome(response, 400, expression=expression)


def test_the_per_patient_rows_are_that_patients_doses(site, pharmacist, doses):
    from rxdesk.fhir.registry import TYPES, Context

    rt = TYPES["Immunization"]
    ctx = Context(site=site, actor=pharmacist, base="https://rx.example/fhir")

    rows = list(rt.of_patient(ctx, doses["ben"].pk)) if rt.of_patient else []

    assert [r.pk for r in rows] == [doses["tdap_ben"].pk, doses["refused"].pk]
    assert {rt.patient_of(r) for r in rows if rt.patient_of} == {doses["ben"].pk}
    assert Immunization.objects.count() == 4


def test_a_search_page_costs_the_same_queries_for_one_dose_or_many(site, pharmacist):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = FhirClient(pharmacist)
    ada = adult(site)
    given(site, ada)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("Immunization", patient=str(ada.pk))
        assert response.status_code == 200
        return len(captured)

    queries()  # warm: the first request with a token also records its last use
    one = queries()
    for year in (2015, 2016, 2017):
        historical(site, ada, on=dt.date(year, 10, 1), source="02")
    many = queries()

    assert FhirClient(pharmacist).get("Immunization", patient=str(ada.pk)).json()["total"] == 4
    assert many == one
