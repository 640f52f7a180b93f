"""The importer's rules on hand-made resources: hostile JSON, allergies that change or end,
doses it cannot record, who it records as, and the demo loader."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rxdesk.core.choices import Role
from rxdesk.core.errors import Invalid
from rxdesk.core.models import AuditEvent
from rxdesk.fhir import demo
from rxdesk.fhir.importer import fhir_import
from rxdesk.fhir.models import ImportRun, MedicationHistory, RunStatus, SourceLink
from rxdesk.immunizations.models import Immunization
from rxdesk.patients.models import Allergy, Condition, Patient
from tests.catalog.factories import PackageFactory
from tests.factories import UserFactory
from tests.immunizations.factories import vaccine

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _patient(pid: str = "p1", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"use": "official", "family": "Lima", "given": ["Ana"]}],
        "birthDate": "1990-07-01",
        **extra,
    }


def _bundle(*resources: dict[str, Any], bundle_id: str = "b1") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def _allergy(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "category": ["medication"],
        "code": {"coding": [{"system": RXNORM, "code": "2670", "display": "Codeine"}]},
        "patient": {"reference": "Patient/p1"},
        "reaction": [{"manifestation": [{"text": "Nausea"}], "severity": "mild"}],
        **extra,
    }


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def _run(path: Path, **options: Any) -> str:
    out = StringIO()
    call_command("import-fhir", str(path), no_progress=True, stdout=out, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        '{"resourceType": 5}',
        '"just a string"',
        '{"resourceType": "Bundle", "entry": "nope"}',
        "\x00\xff garbage",
    ],
)
def test_hostile_json_is_a_problem_never_a_crash(site, pic, cli_context, tmp_path, text):
    (tmp_path / "bad.json").write_text(text, errors="surrogateescape")
    try:
        _run(tmp_path)
    except CommandError as failed:
        assert failed.returncode == 1
    assert Patient.objects.count() == 0
    run = ImportRun.objects.get()
    assert run.finished_at is not None


def test_resources_with_wrong_types_are_skipped_with_their_reason(site, pic, cli_context, tmp_path):
    bundle = _bundle(
        _patient(),
        {"resourceType": "Condition", "code": "Asthma", "subject": "Patient/p1"},
        {"resourceType": "MedicationRequest", "subject": {"reference": "Patient/p1"}},
        {
            "resourceType": "AllergyIntolerance",
            "patient": {"reference": "Patient/nobody"},
            "code": {"text": "Latex"},
        },
    )
    _run(_write(tmp_path / "b.json", bundle))
    run = ImportRun.objects.get()
    assert run.status == RunStatus.DONE
    assert run.counts["Condition"]["reasons"] == {"it names no patient": 1}
    assert run.counts["MedicationRequest"]["reasons"] == {"it names no medication": 1}
    assert run.counts["AllergyIntolerance"]["reasons"] == {
        "its patient is not in this file nor imported before": 1
    }
    assert (Condition.objects.count(), MedicationHistory.objects.count()) == (0, 0)


def test_an_allergy_that_changes_is_replaced_and_one_that_ends_is_inactivated(
    site, pic, cli_context, tmp_path
):
    path = _write(tmp_path / "b.json", _bundle(_patient(), _allergy()))
    _run(path)
    first = Allergy.objects.get()
    assert (first.allergen, first.severity, first.allergen_code, first.active) == (
        "Codeine",
        "mild",
        "2670",
        True,
    )
    # when the reaction becomes severe in the source
    severe = _allergy(reaction=[{"manifestation": [{"text": "Wheezing"}], "severity": "severe"}])
    _run(_write(path, _bundle(_patient(), severe)))
    first.refresh_from_db()
    assert first.active is False
    current = Allergy.objects.get(active=True)
    assert (current.reaction, current.severity) == ("Wheezing", "severe")
    assert SourceLink.objects.get(resource_type="AllergyIntolerance").target_id == current.pk
    # when the source marks it resolved
    resolved = {**severe, "clinicalStatus": {"coding": [{"code": "resolved"}]}}
    _run(_write(path, _bundle(_patient(), resolved)))
    assert not Allergy.objects.filter(active=True).exists()
    assert Allergy.objects.count() == 2
    # when it comes back active: a new entry, the removed ones stay as history
    _run(_write(path, _bundle(_patient(), severe)))
    assert Allergy.objects.filter(active=True).count() == 1
    assert Allergy.objects.count() == 3


def test_a_dose_before_the_birth_is_refused_and_reported_the_rest_is_kept(
    site, pic, cli_context, tmp_path
):
    vaccine("140")
    dose = {
        "resourceType": "Immunization",
        "id": "i1",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]},
        "patient": {"reference": "Patient/p1"},
        "occurrenceDateTime": "1980-10-01T10:00:00Z",
    }
    later = {**dose, "id": "i2", "occurrenceDateTime": "2020-10-01T10:00:00Z"}
    not_done = {**dose, "id": "i3", "status": "not-done"}
    _run(_write(tmp_path / "b.json", _bundle(_patient(), dose, later, not_done)))
    imm = Immunization.objects.get()
    assert imm.administered_at.date() == dt.date(2020, 10, 1)
    assert imm.information_source == "02"
    assert imm.historical_source == "FHIR record from b1"
    run = ImportRun.objects.get()
    assert run.counts["Immunization"] == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "skipped": 2,
        "reasons": {"refused by a pharmacy rule": 1, "status not-done: not a dose given": 1},
    }
    assert "before the patient's birth" in run.problems[0]["message"]


def test_the_operator_records_as_the_pic_and_without_one_is_told_to_name_a_user(
    site, cli_context, tmp_path
):
    path = _write(tmp_path / "p.json", _patient())
    with pytest.raises(CommandError, match="no active pharmacist-in-charge"):
        _run(path)
    assert Patient.objects.count() == 0
    pic = UserFactory(site=site, role=Role.PHARMACIST_IN_CHARGE, username="boss")
    _run(path)
    created = AuditEvent.objects.get(action="patient.created")
    assert created.actor == pic
    run_event = AuditEvent.objects.get(action="fhir.import")
    assert run_event.actor is None
    assert json.loads(run_event.data)["recorded_as"] == "boss"


def test_a_named_technician_is_refused_by_the_command(site, technician, cli_context, tmp_path):
    path = _write(tmp_path / "p.json", _patient())
    with pytest.raises(
        CommandError, match=r"A pharmacy technician may not do this \(fhir\.import\)"
    ):
        _run(path, username="tech")
    assert Patient.objects.count() == 0
    assert ImportRun.objects.count() == 0


def test_a_pic_may_not_import_into_another_pharmacy(site, other_site, pic, tmp_path):
    with pytest.raises(Invalid):
        fhir_import(actor=pic, path=_write(tmp_path / "p.json", _patient()), site=other_site)
    assert ImportRun.objects.count() == 0


def test_two_files_that_call_different_patients_patient_1_are_not_guessed_between(
    site, pic, cli_context, tmp_path
):
    folder = tmp_path / "mixed"
    folder.mkdir()
    ana = _patient("1")
    bo = {**_patient("1"), "name": [{"family": "Silva", "given": ["Bo"]}]}
    (folder / "Patient-a.ndjson").write_text(json.dumps(ana) + "\n")
    (folder / "Patient-b.ndjson").write_text(json.dumps(bo) + "\n")
    condition = {
        "resourceType": "Condition",
        "code": {"text": "Asthma"},
        "subject": {"reference": "Patient/1"},
    }
    (folder / "Condition.ndjson").write_text(json.dumps(condition) + "\n")
    _run(folder)
    assert Patient.objects.count() == 2
    assert Condition.objects.count() == 0
    run = ImportRun.objects.get()
    assert run.counts["Condition"]["skipped"] == 1


def test_the_demo_loads_the_synthea_bundles_once(site, pic, cli_context, tmp_path):
    folder = tmp_path / "synthea"
    folder.mkdir()
    _write(folder / "one.json", _bundle(_patient()))
    first = demo.load(site, {"pic": pic}, folder)
    assert first is not None and first.status == RunStatus.DONE
    assert demo.load(site, {"pic": pic}, folder) is None
    assert demo.load(site, {"pic": pic}, tmp_path / "absent") is None
    assert Patient.objects.count() == 1
    assert ImportRun.objects.count() == 1


def test_a_pic_without_a_license_on_file_is_refused_before_any_file_is_read(
    site, cli_context, tmp_path
):
    UserFactory(site=site, role=Role.PHARMACIST_IN_CHARGE, username="boss", pharmacist_license="")
    with pytest.raises(CommandError, match="license"):
        _run(_write(tmp_path / "p.json", _patient()))
    assert ImportRun.objects.count() == 0
    assert Patient.objects.count() == 0


WEIRD: list[Any] = [None, 5, True, "x", [], {}, [5], [{"reference": 5}], {"coding": "x"}]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every element's path (dict keys, list indexes), at every depth, but resourceType."""
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in items:
        if key == "resourceType":
            continue
        out.append((*prefix, key))
        if isinstance(child, dict | list):
            out.extend(_paths(child, (*prefix, key)))
    return out


def _replaced(resource: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(resource))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


def test_every_element_of_every_kept_type_given_a_wrong_type_is_never_a_crash(
    site, pic, cli_context, tmp_path
):
    # given one file per (resource, element at any depth, wrong value): a patient and one
    # resource of a kept type whose element is replaced by a value of the wrong shape
    vaccine("140")
    dose = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]},
        "patient": {"reference": "Patient/p1"},
        "occurrenceDateTime": "2020-10-01",
        "location": {"display": "Clinic"},
    }
    request = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": {"text": "Warfarin 5 MG Oral Tablet"},
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2020-01-01",
        "requester": {"reference": "Practitioner?identifier=x|1", "display": "Dr. A"},
        "dosageInstruction": [{"text": "daily"}],
        "dispenseRequest": {
            "quantity": {"value": 30, "unit": "tablet"},
            "expectedSupplyDuration": {"value": 30, "code": "d"},
            "numberOfRepeatsAllowed": 2,
        },
        "reasonCode": [{"text": "AF"}],
    }
    condition = {
        "resourceType": "Condition",
        "code": {"text": "Asthma"},
        "subject": {"reference": "Patient/p1"},
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "onsetDateTime": "2001-01-01",
    }
    patient = _patient(
        telecom=[{"system": "phone", "value": "2175550100"}],
        address=[{"line": ["1 Main"], "city": "X", "state": "IL", "postalCode": "62701"}],
        identifier=[{"type": {"coding": [{"code": "MR"}]}, "value": "M1"}],
        communication=[{"language": {"coding": [{"code": "es"}]}}],
    )
    kept = [_allergy(), dose, request, condition, patient]
    folder = tmp_path / "fuzz"
    folder.mkdir()
    n = 0
    for resource in kept:
        for path in _paths(resource):
            for value in WEIRD:
                mutated = _replaced(resource, path, value)
                resources = [mutated] if resource is patient else [patient, mutated]
                bundle = _bundle(*resources, bundle_id=f"f{n}")
                _write(folder / f"f{n:04d}.json", bundle)
                n += 1
    # when the folder is imported
    with contextlib.suppress(CommandError):  # files whose patient is broken fail alone
        _run(folder)
    # then every file was handled: imported, or refused with a reason in words
    run = ImportRun.objects.get()
    assert run.finished_at is not None
    assert run.files == n
    unexpected = [p for p in run.problems if "unexpected" in p["message"]]
    assert unexpected == []
    assert run.counts["Patient"]["created"] >= 1


def test_a_server_bundle_keeps_its_base_as_source_and_a_later_file_finds_its_patient(
    site, pic, cli_context, tmp_path
):
    # given a bundle from another FHIR server: absolute fullUrls, a MedicationRequest with a
    # contained Medication (NDC of a catalog package) and the Practitioner in the bundle
    package = PackageFactory()
    base = "https://ehr.example.org/fhir"
    request = {
        "resourceType": "MedicationRequest",
        "id": "77",
        "contained": [
            {
                "resourceType": "Medication",
                "id": "med",
                "code": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "0002-3227-30"}],
                    "text": "Prozac 20 MG Oral Capsule",
                },
            }
        ],
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": "#med"},
        "subject": {"reference": f"{base}/Patient/12"},
        "authoredOn": "2024-03-01",
        "requester": {"reference": f"{base}/Practitioner/5"},
        "dosageInstruction": [{"text": "1 capsule every morning"}],
        "dispenseRequest": {
            "quantity": {"value": 30, "unit": "capsule"},
            "expectedSupplyDuration": {"value": 30, "unit": "days", "code": "d"},
            "numberOfRepeatsAllowed": 5,
        },
        "reasonCode": [{"text": "Depression"}],
    }
    practitioner = {
        "resourceType": "Practitioner",
        "id": "5",
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
        "name": [{"family": "Okafor", "given": ["Margaret"]}],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"fullUrl": f"{base}/Patient/12", "resource": _patient("12")},
            {"fullUrl": f"{base}/MedicationRequest/77", "resource": request},
            {"fullUrl": f"{base}/Practitioner/5", "resource": practitioner},
        ],
    }
    _run(_write(tmp_path / "first.json", bundle))
    history = MedicationHistory.objects.get()
    assert (history.drug_name, history.ndc11, history.package) == (
        "Prozac 20 MG Oral Capsule",
        "00002322730",
        package,
    )
    assert (history.prescriber_name, history.prescriber_npi) == ("Margaret Okafor", "1234567893")
    assert (history.quantity, history.quantity_unit, history.days_supply, history.refills) == (
        Decimal("30.000"),
        "capsule",
        30,
        5,
    )
    assert (history.reason, history.source, history.source_id) == (
        "Depression",
        base,
        "MedicationRequest/77",
    )
    # when a later file sends a condition about the same patient by its absolute URL
    condition = {
        "resourceType": "Condition",
        "code": {"text": "Depression"},
        "subject": {"reference": f"{base}/Patient/12"},
    }
    _run(_write(tmp_path / "later.json", condition))
    # then it lands on the patient imported before
    assert Condition.objects.get().patient == history.patient
    assert SourceLink.objects.filter(source=base, source_id="Patient/12").count() == 1
