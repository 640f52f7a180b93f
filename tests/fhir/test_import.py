"""``rxdesk import-fhir``: the three real Synthea bundles, re-import, changed resources, bad
files, NDJSON, the SSN never kept, the forbidden role, the run and its audit event."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rxdesk.core.errors import Forbidden
from rxdesk.core.models import AuditEvent
from rxdesk.fhir.importer import fhir_import
from rxdesk.fhir.models import ImportRun, MedicationHistory, RunStatus, SourceLink
from rxdesk.immunizations.models import Immunization
from rxdesk.patients.models import Allergy, Condition, Patient, PatientIdentifier
from tests.factories import PatientFactory
from tests.fhir.helpers import FhirClient, assert_valid
from tests.immunizations.factories import vaccine

SYNTHEA = Path(__file__).resolve().parents[3] / "shared" / "data" / "synthea-fhir-apache2"
BUNDLES = sorted(SYNTHEA.glob("*.json"))
needs_synthea = pytest.mark.skipif(len(BUNDLES) != 3, reason="Synthea sample not present")
KNOWN_CVX = ("140", "113", "208")  # 33 (PPSV23) is left out of the table on purpose


def _resources(paths: list[Path], type_name: str) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        for entry in json.loads(path.read_text())["entry"]:
            if entry["resource"]["resourceType"] == type_name:
                out.append(entry["resource"])
    return out


def _cvx(resource: dict[str, Any]) -> str:
    return next(
        c["code"]
        for c in resource["vaccineCode"]["coding"]
        if c["system"] == "http://hl7.org/fhir/sid/cvx"
    )


def _rows() -> dict[str, int]:
    return {
        "patients": Patient.objects.count(),
        "conditions": Condition.objects.count(),
        "allergies": Allergy.objects.count(),
        "history": MedicationHistory.objects.count(),
        "immunizations": Immunization.objects.count(),
        "identifiers": PatientIdentifier.objects.count(),
        "links": SourceLink.objects.count(),
    }


@pytest.fixture
def vaccines(db):
    return [vaccine(cvx) for cvx in KNOWN_CVX]


@pytest.fixture
def synthea(tmp_path) -> Path:
    folder = tmp_path / "synthea"
    folder.mkdir()
    for path in BUNDLES:
        shutil.copy(path, folder / path.name)
    return folder


def _import(path: Path, **options: Any) -> str:
    out = StringIO()
    call_command("import-fhir", str(path), no_progress=True, stdout=out, **options)
    return out.getvalue()


@needs_synthea
def test_the_three_synthea_bundles_become_patients_conditions_history_and_doses(
    site, pic, vaccines, cli_context, synthea
):
    # given the three real bundles and a vaccine table without CVX 33
    requests = _resources(BUNDLES, "MedicationRequest")
    conditions = _resources(BUNDLES, "Condition")
    doses = _resources(BUNDLES, "Immunization")
    known = [d for d in doses if _cvx(d) in KNOWN_CVX]
    # when the operator imports the folder
    out = _import(synthea)
    # then every patient, condition and medication request is kept
    assert Patient.objects.filter(site=site).count() == 3
    names = set(Patient.objects.values_list("first_name", "last_name", "date_of_birth"))
    assert ("Lanell756", "Goodwin327", dt.date(1967, 5, 29)) in names
    assert Condition.objects.filter(patient__site=site).count() == len(conditions) == 7
    assert MedicationHistory.objects.filter(site=site).count() == len(requests) == 14
    assert Immunization.objects.filter(site=site).count() == len(known)
    # and the doses not in our vaccine table are skipped with their reason
    run = ImportRun.objects.get()
    skipped = len(doses) - len(known)
    assert skipped > 0
    assert run.counts["Immunization"]["skipped"] == skipped
    assert run.counts["Immunization"]["reasons"] == {
        f"CVX {cvx} is not in the vaccine table": n
        for cvx, n in Counter(_cvx(d) for d in doses if _cvx(d) not in KNOWN_CVX).items()
    }
    assert run.counts["Patient"] == {"created": 3, "updated": 0, "unchanged": 0, "skipped": 0}
    assert run.counts["Observation"]["skipped"] == len(_resources(BUNDLES, "Observation"))
    assert run.status == RunStatus.DONE
    assert out.startswith("Read 3 files in ")
    assert "3 patients (3 new)" in out
    assert "14 medication history entries (14 new)" in out
    assert "not kept by a pharmacy (Observation 899" in out


@needs_synthea
def test_medication_history_keeps_the_drug_rxnorm_date_and_prescriber_name(
    site, pic, vaccines, cli_context, synthea
):
    _import(synthea)
    row = MedicationHistory.objects.get(
        patient__first_name="Isaura563", drug_name="Warfarin Sodium 5 MG Oral Tablet"
    )
    assert row.status == "active"
    assert row.rxnorm == "855332"
    assert str(row.authored_on) == "2015-12-17"
    assert row.prescriber_name == "Dr. Nellie325 Reilly981"
    # Synthea's NPIs (99999…) fail the check digit: not kept as an NPI
    assert row.prescriber_npi == ""
    assert row.source == "urn:uuid"
    condition = Condition.objects.get(patient=row.patient, description="Atrial Fibrillation")
    assert condition.icd10 == ""
    assert str(condition.onset) == "2015-12-17"


@needs_synthea
def test_the_ssn_is_never_stored_but_the_medical_record_number_is(
    site, pic, vaccines, cli_context, synthea
):
    _import(synthea)
    patient = Patient.objects.get(first_name="Lawrence741")
    kinds = dict(patient.identifiers.values_list("kind", "value"))
    assert kinds["mrn"] == "6D44FE03-2478-A82D-7495-3A7C433ED921"
    assert kinds["drivers_license"] == "S99930220"
    assert "ssn_last4" not in kinds
    values = set(PatientIdentifier.objects.values_list("value", flat=True))
    assert not any("8756" in v for v in values)
    assert "999-63-8756" not in json.dumps(list(AuditEvent.objects.values_list("data", flat=True)))


@needs_synthea
def test_reimport_creates_nothing_and_leaves_every_row_unchanged(
    site, pic, vaccines, cli_context, synthea
):
    _import(synthea)
    before = _rows()
    events = AuditEvent.objects.count()
    # when the same folder is imported again
    out = _import(synthea)
    # then nothing is created or changed; only the run's own event is written
    assert _rows() == before
    assert AuditEvent.objects.count() == events + 1
    run = ImportRun.objects.order_by("-pk").first()
    assert run is not None
    for type_name in ("Patient", "Condition", "MedicationRequest", "Immunization"):
        assert run.counts[type_name]["created"] == 0
        assert run.counts[type_name]["updated"] == 0
    assert run.counts["Patient"]["unchanged"] == 3
    assert run.counts["MedicationRequest"]["unchanged"] == 14
    assert "3 patients (3 unchanged)" in out


@needs_synthea
def test_a_changed_resource_is_updated_not_duplicated(site, pic, vaccines, cli_context, tmp_path):
    # given one bundle imported
    path = tmp_path / "one.json"
    shutil.copy(BUNDLES[0], path)
    _import(path)
    before = _rows()
    # when the patient's city and a medication's status change in the file
    bundle = json.loads(path.read_text())
    for entry in bundle["entry"]:
        r = entry["resource"]
        if r["resourceType"] == "Patient":
            r["address"][0]["city"] = "Newton"
        if r["resourceType"] == "MedicationRequest" and r["status"] == "active":
            r["status"] = "completed"
            changed_id = r["id"]
            break
    path.write_text(json.dumps(bundle))
    _import(path)
    # then the rows are updated in place
    assert _rows() == before
    assert Patient.objects.get().city == "Newton"
    assert MedicationHistory.objects.get(source_id=changed_id).status == "completed"
    run = ImportRun.objects.order_by("-pk").first()
    assert run is not None
    assert run.counts["Patient"]["updated"] == 1
    assert run.counts["MedicationRequest"]["updated"] == 1
    assert AuditEvent.objects.filter(action="patient.updated").count() == 1


@needs_synthea
def test_a_file_with_bad_json_is_a_problem_and_the_other_files_are_imported(
    site, pic, vaccines, cli_context, tmp_path
):
    shutil.copy(BUNDLES[0], tmp_path / "a.json")
    (tmp_path / "b.json").write_text('{"resourceType": "Bundle", "entry": [')
    with pytest.raises(CommandError) as failed:
        _import(tmp_path)
    assert failed.value.returncode == 1
    assert Patient.objects.count() == 1
    run = ImportRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert [(Path(p["file"]).name, p["resource"]) for p in run.problems] == [("b.json", "")]
    assert run.problems[0]["message"].startswith("The file was not read: not valid JSON")


def test_a_file_whose_patient_is_refused_rolls_back_alone(
    site, pic, vaccines, cli_context, tmp_path
):
    # given a bundle with a patient born in the future and a condition about them
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:p1",
                "resource": {
                    "resourceType": "Patient",
                    "name": [{"family": "Future", "given": ["Fay"]}],
                    "birthDate": "2999-01-01",
                },
            },
            {
                "fullUrl": "urn:uuid:c1",
                "resource": {
                    "resourceType": "Condition",
                    "code": {"text": "Asthma"},
                    "subject": {"reference": "urn:uuid:p1"},
                },
            },
        ],
    }
    (tmp_path / "future.json").write_text(json.dumps(bundle))
    with pytest.raises(CommandError):
        _import(tmp_path)
    assert Patient.objects.count() == 0
    assert Condition.objects.count() == 0
    assert SourceLink.objects.count() == 0
    run = ImportRun.objects.get()
    assert "date of birth is in the future" in run.problems[0]["message"]


def test_an_ndjson_file_is_imported_line_by_line_with_bad_lines_reported(
    site, pic, cli_context, tmp_path
):
    patient = {
        "resourceType": "Patient",
        "id": "12",
        "name": [{"use": "official", "family": "Okafor", "given": ["Ada", "N"]}],
        "gender": "female",
        "birthDate": "1980-02-03",
        "telecom": [{"system": "phone", "value": "(217) 555-0199", "use": "mobile"}],
        "identifier": [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}
                    ]
                },
                "system": "http://hl7.org/fhir/sid/us-ssn",
                "value": "123-45-6789",
            }
        ],
    }
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "category": ["medication"],
        "code": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "7980",
                    "display": "Penicillin G",
                }
            ]
        },
        "patient": {"reference": "Patient/12"},
        "reaction": [{"manifestation": [{"text": "Hives"}], "severity": "moderate"}],
    }
    statement = {
        "resourceType": "MedicationStatement",
        "id": "m1",
        "status": "active",
        "medicationCodeableConcept": {
            "text": "Lisinopril 10 MG Oral Tablet",
            "coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "0172-3758-60"}],
        },
        "subject": {"reference": "Patient/12"},
        "effectiveDateTime": "2024-05-01",
        "dosage": [{"text": "1 tablet daily"}],
    }
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text(json.dumps(patient) + "\n")
    (folder / "AllergyIntolerance.ndjson").write_text(
        json.dumps(allergy) + "\n{not json\n" + json.dumps(statement) + "\n"
    )
    _import(folder)
    ada = Patient.objects.get()
    assert (ada.first_name, ada.middle_name, ada.phone_mobile) == ("Ada", "N", "2175550199")
    assert not ada.identifiers.exists()
    penicillin = Allergy.objects.get()
    assert (penicillin.allergen, penicillin.allergen_code) == ("Penicillin G", "7980")
    assert (penicillin.severity, penicillin.reaction, penicillin.source) == (
        "moderate",
        "Hives",
        "record",
    )
    history = MedicationHistory.objects.get()
    assert (history.ndc11, history.directions, str(history.authored_on)) == (
        "00172375860",
        "1 tablet daily",
        "2024-05-01",
    )
    assert (history.source, history.source_id) == ("AllergyIntolerance.ndjson", "m1")
    run = ImportRun.objects.get()
    assert run.status == RunStatus.DONE
    assert [p["resource"] for p in run.problems] == ["line 2"]


def test_a_patient_with_the_same_name_and_birth_date_is_matched_not_doubled(
    site, pic, cli_context, tmp_path
):
    PatientFactory(
        site=site,
        first_name="Ada",
        last_name="Okafor",
        date_of_birth=dt.date(1980, 2, 3),
    )
    existing = Patient.objects.get()
    resource = {
        "resourceType": "Patient",
        "id": "x",
        "name": [{"family": "OKAFOR", "given": ["ada"]}],
        "birthDate": "1980-02-03",
    }
    (tmp_path / "p.json").write_text(json.dumps(resource))
    out = _import(tmp_path)
    assert Patient.objects.count() == 1
    link = SourceLink.objects.get()
    assert (link.source, link.source_id, link.target_id) == ("p.json", "x", existing.pk)
    assert "1 patient (1 matched existing)" in out


def test_a_technician_may_not_import_and_nothing_is_written(site, technician, tmp_path):
    (tmp_path / "p.json").write_text('{"resourceType": "Patient"}')
    with pytest.raises(Forbidden):
        fhir_import(actor=technician, path=tmp_path)
    assert ImportRun.objects.count() == 0
    assert AuditEvent.objects.filter(action="fhir.import").count() == 0


def test_the_run_is_recorded_with_one_fhir_import_event(site, pic, cli_context, tmp_path):
    resource = {
        "resourceType": "Patient",
        "id": "x",
        "name": [{"family": "Lima", "given": ["Ana"]}],
        "birthDate": "1990-07-01",
    }
    (tmp_path / "p.json").write_text(json.dumps(resource))
    run = fhir_import(actor=pic, path=tmp_path / "p.json")
    assert run.started_by == pic
    assert run.files == 1
    assert run.counts == {"Patient": {"created": 1, "updated": 0, "unchanged": 0, "skipped": 0}}
    event = AuditEvent.objects.get(action="fhir.import")
    assert event.actor == pic
    data = json.loads(event.data)
    assert (data["files"], data["files_failed"], data["recorded_as"]) == (1, 0, "pic")
    assert Counter(
        AuditEvent.objects.filter(action__startswith="patient").values_list("action", flat=True)
    ) == {"patient.created": 1}


@needs_synthea
def test_what_was_imported_is_served_back_as_valid_fhir(
    site, pic, pharmacist, vaccines, cli_context, synthea
):
    # given the bundles imported
    _import(synthea)
    patient = Patient.objects.get(first_name="Lawrence741")
    client = FhirClient(pharmacist)
    # when the patient and their records are read back over the FHIR API
    read = client.get(f"Patient/{patient.pk}")
    assert read.status_code == 200, read.content[:500]
    assert_valid(read.json())
    assert read.json()["birthDate"] == "1929-12-04"
    expected = {
        "MedicationRequest": MedicationHistory.objects.filter(patient=patient).count(),
        "Condition": patient.conditions.count(),
        "Immunization": Immunization.objects.filter(patient=patient).count(),
    }
    for type_name, count in expected.items():
        found = client.get(type_name, patient=str(patient.pk), _count="200")
        # then each search answers with valid resources, one per imported row
        assert found.status_code == 200, (type_name, found.content[:500])
        bundle = found.json()
        assert_valid(bundle)
        assert bundle["total"] == count, type_name
