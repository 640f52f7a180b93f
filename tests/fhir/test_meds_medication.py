"""GET /fhir/Medication: one per catalog package (NDC-11), with form, package amount and
ingredient strengths; search by NDC in either form and by status."""

from __future__ import annotations

import pytest

from rxdesk.core.models import AuditEvent
from rxdesk.fhir import codes
from tests.catalog.factories import IngredientFactory, PackageFactory, ProductFactory
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid

pytestmark = pytest.mark.django_db


def _ids(bundle):
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def test_a_package_reads_as_a_us_core_medication(technician):
    package = PackageFactory()
    IngredientFactory(product=package.product, position=1)
    body = FhirClient(technician).get(f"Medication/{package.pk}").json()

    assert_valid(body)
    assert body["meta"]["profile"] == [codes.PROFILE["Medication"]]
    assert body["code"] == {
        "coding": [
            {
                "system": codes.NDC,
                "code": "00002322730",
                "display": "30 CAPSULE in 1 BOTTLE (0002-3227-30)",
            }
        ],
        "text": "Prozac 20 mg/1 CAPSULE",
    }
    assert body["status"] == "active"
    assert body["form"] == {"text": "capsule"}
    assert body["amount"] == {
        "numerator": {"value": 30, "unit": "capsule"},
        "denominator": {"value": 1, "unit": "bottle"},
    }
    assert body["ingredient"] == [
        {
            "itemCodeableConcept": {"text": "FLUOXETINE HYDROCHLORIDE"},
            "isActive": True,
            "strength": {
                "numerator": {"value": 20, "unit": "mg", "system": codes.UCUM, "code": "mg"},
                "denominator": {"value": 1, "unit": "capsule"},
            },
        }
    ]
    assert not AuditEvent.objects.filter(action__startswith="fhir.").exists()  # not PHI


def test_a_liquid_reads_per_millilitres_and_an_odd_strength_as_text(technician):
    product = ProductFactory(name="Amoxicillin", dosage_form="POWDER, FOR SUSPENSION")
    package = PackageFactory(
        product=product,
        ndc10="0093-4155-73",
        description="100 mL in 1 BOTTLE (0093-4155-73)",
        billing_unit="ML",
        package_quantity=100,
    )
    IngredientFactory(
        product=product, position=1, name="AMOXICILLIN", strength="250", unit="mg/5mL"
    )
    IngredientFactory(product=product, position=2, name="FLAVOR", strength="", unit="")
    body = FhirClient(technician).get(f"Medication/{package.pk}").json()

    assert_valid(body)
    assert body["amount"]["numerator"] == {
        "value": 100,
        "unit": "mL",
        "system": codes.UCUM,
        "code": "mL",
    }
    first, second = body["ingredient"]
    assert first["strength"]["denominator"] == {
        "value": 5,
        "unit": "mL",
        "system": codes.UCUM,
        "code": "mL",
    }
    assert second == {"itemCodeableConcept": {"text": "FLAVOR"}, "isActive": True}


def test_search_by_ndc_in_either_form_and_by_status(technician):
    prozac = PackageFactory()
    retired = PackageFactory(
        ndc10="0002-3228-30", description="30 CAPSULE in 1 BOTTLE (0002-3228-30)", active=False
    )
    client = FhirClient(technician)

    for value in ("0002-3227-30", "00002322730", f"{codes.NDC}|00002322730"):
        bundle = client.get("Medication", code=value).json()
        assert_valid(bundle)
        assert _ids(bundle) == [str(prozac.pk)], value
    assert client.get("Medication", code=f"{codes.RXNORM}|00002322730").json()["total"] == 0
    assert client.get("Medication", code="not-an-ndc").json()["total"] == 0
    assert _ids(client.get("Medication", status="inactive").json()) == [str(retired.pk)]
    assert _ids(client.get("Medication", status="active").json()) == [str(prozac.pk)]
    inactive = client.get(f"Medication/{retired.pk}").json()
    assert inactive["status"] == "inactive"


def test_an_unknown_status_or_package_is_answered_with_an_outcome(technician):
    client = FhirClient(technician)
    assert_outcome(client.get("Medication", status="retired"), 400, "status")
    assert_outcome(client.get("Medication/999999"), 404)
    assert_outcome(client.get("Medication/abc"), 404)


def test_anyone_who_may_see_the_catalog_reads_medications_but_not_anonymous(auditor, inventory):
    package = PackageFactory()
    for user in (auditor, inventory):
        assert FhirClient(user).get(f"Medication/{package.pk}").status_code == 200
    assert_outcome(FhirClient(None).get(f"Medication/{package.pk}"), 401)


@pytest.mark.parametrize("fhir_id", ["²", "h-²", "1²", "h-", "-1", "9" * 40])
def test_odd_ids_are_simply_not_found(technician, fhir_id):
    client = FhirClient(technician)
    for kind in ("Medication", "MedicationRequest", "MedicationDispense"):
        assert_outcome(client.get(f"{kind}/{fhir_id}"), 404)
        assert client.get(kind, _id=fhir_id).json()["total"] == 0


@pytest.mark.parametrize("param", ["_count", "_offset"])
@pytest.mark.parametrize("value", ["²", "9" * 5000])
def test_a_paging_value_that_is_no_usable_number_is_refused(technician, param, value):
    response = FhirClient(technician).get("Medication", **{param: value})
    assert_outcome(response, 400, param)
