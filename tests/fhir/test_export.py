"""Exports: the whole pharmacy as FHIR Bulk Data NDJSON ($export, the status manifest, the
files, DELETE), one patient's record (Patient/<id>/$everything) and ``rxdesk export-fhir``.

The resource types land in parallel parts; a test reads TYPES at run time and checks every
type that is registered, and always Patient, AllergyIntolerance and MedicationRequest."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent, Site, User
from rxdesk.fhir.models import Export, ExportFile
from rxdesk.fhir.registry import TYPES
from rxdesk.immunizations import services_administer
from rxdesk.patients import services as patients
from rxdesk.patients.models import Allergy, Condition, Patient
from rxdesk.rx.models import Fill, Prescription
from tests.catalog.factories import PackageFactory
from tests.factories import PatientFactory, UserFactory
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid
from tests.immunizations.factories import staff, vaccine
from tests.rx.factories import make_rx

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


@pytest.fixture(autouse=True)
def _export_dir(settings, tmp_path):
    settings.RXDESK_FHIR_EXPORT_DIR = tmp_path / "exports"


def record(site: Site, pharmacist: User, **names: Any) -> dict[str, Any]:
    """A patient with an allergy, a condition, a prescription (its first fill queued) and a
    historical immunization, all made through the services."""
    patient = PatientFactory(site=site, **names)
    allergy = patients.allergy_add(
        actor=pharmacist,
        patient=patient,
        allergen="Penicillins",
        allergen_kind="class",
        severity="moderate",
        reaction="Hives",
    )
    condition = patients.condition_add(
        actor=pharmacist, patient=patient, description="Type 2 diabetes", icd10="E11.9"
    )
    rx = make_rx(pharmacist, patient=patient)
    vaccine("115")
    imm = services_administer.immunization_record_historical(
        actor=staff(site, Role.TECHNICIAN),
        patient=patient,
        cvx="115",
        administered_on=dt.date(2021, 3, 4),
        source="01",
        historical_source="Immunization card",
    )
    return {
        "patient": patient,
        "allergy": allergy,
        "condition": condition,
        "rx": rx,
        "imm": imm,
    }


def kickoff(client: FhirClient, **params: str) -> Any:
    return client.client.get("/fhir/$export", params, headers={**client.headers, **ASYNC})


def status_of(client: FhirClient, response: Any) -> Any:
    location = response["Content-Location"]
    assert location.startswith("http://testserver/fhir/$export-status/"), location
    return client.client.get(location, headers=client.headers)


def download(client: FhirClient, url: str) -> list[dict[str, Any]]:
    response = client.client.get(
        url, headers={**client.headers, "Accept": "application/fhir+ndjson"}
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+ndjson"
    raw = b"".join(response.streaming_content)  # the test client closes it once consumed
    text = raw.decode("utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.split("\n")[:-1]]


def ids_of(resources: list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in resources}


def patient_refs(resource: dict[str, Any]) -> set[str]:
    found = set()
    for key in ("subject", "patient"):
        ref = resource.get(key, {}).get("reference", "")
        if ref.startswith("Patient/"):
            found.add(ref.removeprefix("Patient/"))
    return found


# --- $export: kick-off, status, files ------------------------------------------------------


def test_a_bulk_export_writes_one_valid_ndjson_file_per_type_with_the_sites_rows_only(
    site, other_site, pic, pharmacist
):
    ours = record(site, pharmacist)
    second = record(site, pharmacist, first_name="Second")
    theirs = record(other_site, UserFactory(site=other_site, role=Role.PHARMACIST))
    unused = PackageFactory()  # in the catalog, never prescribed here
    client = FhirClient(pic)

    response = kickoff(client)

    assert response.status_code == 202, response.content
    answer = status_of(client, response)
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"] == "application/json"
    manifest = answer.json()
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"] == "http://testserver/fhir/$export"
    assert manifest["error"] == []
    export = Export.objects.get()
    assert manifest["transactionTime"] == export.requested_at.isoformat()
    assert export.site == site
    assert export.status == "done"
    by_type = {o["type"]: o for o in manifest["output"]}
    assert {"Patient", "AllergyIntolerance", "MedicationRequest"} <= set(by_type)
    assert set(by_type) <= set(TYPES)

    files: dict[str, list[dict[str, Any]]] = {}
    for name, entry in by_type.items():
        assert entry["url"] == f"http://testserver/fhir/$export-file/{export.pk}/{name}.ndjson"
        files[name] = download(client, entry["url"])
        assert len(files[name]) == entry["count"]
        for resource in files[name]:
            assert resource["resourceType"] == name
            assert_valid(resource)
        # No other pharmacy's patient appears in any file.
        for resource in files[name]:
            assert str(theirs["patient"].pk) not in patient_refs(resource)

    site_patients = {str(p.pk) for p in Patient.objects.filter(site=site)}
    assert ids_of(files["Patient"]) == site_patients
    assert {str(ours["patient"].pk), str(second["patient"].pk)} <= site_patients
    assert str(theirs["patient"].pk) not in site_patients
    assert ids_of(files["AllergyIntolerance"]) == {
        str(a.pk) for a in Allergy.objects.filter(patient__site=site)
    }
    assert {str(ours["rx"].pk), str(second["rx"].pk)} <= ids_of(files["MedicationRequest"])
    assert len(files["MedicationRequest"]) == Prescription.objects.filter(site=site).count()
    if "Condition" in files:
        assert ids_of(files["Condition"]) == {
            str(c.pk) for c in Condition.objects.filter(patient__site=site)
        }
    if "MedicationDispense" in files:
        assert ids_of(files["MedicationDispense"]) == {
            str(f.pk) for f in Fill.objects.filter(site=site)
        }
    if "Immunization" in files:
        assert ids_of(files["Immunization"]) == {str(ours["imm"].pk), str(second["imm"].pk)}
    if "Organization" in files:
        assert ids_of(files["Organization"]) == {str(site.pk)}
    if "Medication" in files:  # only what was prescribed here, not the whole drug file
        assert ids_of(files["Medication"]) == {
            str(ours["rx"].package_id),
            str(second["rx"].package_id),
        }
        assert str(unused.pk) not in ids_of(files["Medication"])
        assert str(theirs["rx"].package_id) not in ids_of(files["Medication"])

    rows = {f.resource_type: f for f in ExportFile.objects.filter(export=export)}
    assert set(rows) == set(by_type)
    for name, row in rows.items():
        path = Path(row.path)
        assert path.parent == Path(export.directory)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert row.size == path.stat().st_size
        assert row.count == len(files[name])
        assert len(row.sha256) == 64
    event = AuditEvent.objects.get(action="fhir.export")
    assert event.actor == pic
    assert json.loads(event.data)["counts"] == {n: e["count"] for n, e in by_type.items()}


def test_a_file_download_is_recorded_as_a_disclosure(site, pic, pharmacist):
    record(site, pharmacist)
    client = FhirClient(pic)
    manifest = status_of(client, kickoff(client, _type="Patient")).json()

    download(client, manifest["output"][0]["url"])

    event = AuditEvent.objects.get(action="fhir.export_downloaded")
    assert json.loads(event.data)["type"] == "Patient"
    assert json.loads(event.data)["count"] == Patient.objects.filter(site=site).count()


def test_type_limits_the_export_to_the_types_named(site, pic, pharmacist):
    record(site, pharmacist)
    client = FhirClient(pic)

    manifest = status_of(client, kickoff(client, _type="Patient,AllergyIntolerance")).json()

    assert [o["type"] for o in manifest["output"]] == ["AllergyIntolerance", "Patient"]
    assert manifest["request"] == (
        "http://testserver/fhir/$export?_type=Patient%2CAllergyIntolerance"
    )


def test_since_leaves_out_patients_not_changed_since(site, pic, pharmacist):
    old = PatientFactory(site=site, first_name="Old")
    Patient.objects.filter(pk=old.pk).update(updated_at=timezone.now() - dt.timedelta(days=30))
    new = PatientFactory(site=site, first_name="New")
    client = FhirClient(pic)
    since = (timezone.now() - dt.timedelta(days=1)).astimezone(dt.UTC)

    manifest = status_of(
        client, kickoff(client, _type="Patient", _since=since.strftime("%Y-%m-%dT%H:%M:%SZ"))
    ).json()

    (output,) = manifest["output"]
    assert ids_of(download(client, output["url"])) == {str(new.pk)}
    assert Export.objects.get().since == since.replace(microsecond=0)


def test_since_still_exports_allergies_whole_as_they_have_no_change_stamp(site, pic, pharmacist):
    allergy = record(site, pharmacist)["allergy"]
    Allergy.objects.filter(pk=allergy.pk).update(
        recorded_at=timezone.now() - dt.timedelta(days=30), active=False
    )
    client = FhirClient(pic)
    since = (timezone.now() - dt.timedelta(days=1)).astimezone(dt.UTC)

    manifest = status_of(
        client,
        kickoff(client, _type="AllergyIntolerance", _since=since.strftime("%Y-%m-%dT%H:%M:%SZ")),
    ).json()

    # An allergy inactivated since keeps its first stamp; leaving it out would leave the
    # receiver screening against a stale list.
    (output,) = manifest["output"]
    assert ids_of(download(client, output["url"])) == {str(allergy.pk)}


def test_an_export_with_nothing_to_export_has_an_empty_output(site, pic):
    client = FhirClient(pic)

    manifest = status_of(client, kickoff(client, _type="Patient")).json()

    assert manifest["output"] == []


def test_kickoff_without_prefer_respond_async_is_refused(site, pic):
    client = FhirClient(pic)

    response = client.get("$export")

    body = assert_outcome(response, 400, "Prefer")
    assert "Prefer: respond-async" in body["issue"][0]["diagnostics"]
    assert not Export.objects.exists()


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ({"_type": "Patient,Spaceship"}, "_type"),
        ({"_outputFormat": "text/csv"}, "_outputFormat"),
        ({"_since": "yesterday"}, "_since"),
        ({"_since": "2025-13-40"}, "_since"),
        ({"patient": "Patient/1"}, "patient"),
        ({"_typeFilter": "Patient?gender=female"}, "_typeFilter"),
    ],
)
def test_a_bad_kickoff_parameter_is_refused_naming_it(site, pic, params, expression):
    client = FhirClient(pic)

    response = kickoff(client, **params)

    assert_outcome(response, 400, expression)
    assert not Export.objects.exists()
    assert not AuditEvent.objects.filter(action="fhir.export").exists()


def test_ndjson_output_formats_are_accepted(site, pic):
    client = FhirClient(pic)

    for fmt in ("application/fhir+ndjson", "application/ndjson", "ndjson"):
        assert kickoff(client, _outputFormat=fmt, _type="Patient").status_code == 202
    assert Export.objects.count() == 3


def test_kickoff_by_post_reads_a_parameters_resource(site, pic, pharmacist):
    record(site, pharmacist)
    client = FhirClient(pic)
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "_type", "valueString": "Patient"}],
    }

    response = client.client.post(
        "/fhir/$export",
        json.dumps(body),
        content_type="application/fhir+json",
        headers={**client.headers, **ASYNC},
    )

    assert response.status_code == 202, response.content
    assert [o["type"] for o in status_of(client, response).json()["output"]] == ["Patient"]


@pytest.mark.parametrize("persona", ["pharmacist", "technician", "auditor", "inventory"])
def test_only_the_pharmacist_in_charge_may_export_the_pharmacy(site, request, persona):
    user = request.getfixturevalue(persona)

    response = kickoff(FhirClient(user))

    assert_outcome(response, 403)
    assert not Export.objects.exists()
    assert not AuditEvent.objects.filter(action="fhir.export").exists()


def test_status_and_files_are_the_pic_s_only(site, pic, pharmacist):
    record(site, pharmacist)
    location = kickoff(FhirClient(pic), _type="Patient")["Content-Location"]
    export = Export.objects.get()
    other = FhirClient(pharmacist)

    assert_outcome(other.client.get(location, headers=other.headers), 403)
    assert_outcome(other.get(f"$export-file/{export.pk}/Patient.ndjson"), 403)


def test_another_pharmacy_s_export_is_not_found(site, other_site, pic):
    kickoff(FhirClient(pic), _type="Patient")
    export = Export.objects.get()
    their_pic = UserFactory(site=other_site, role=Role.PHARMACIST_IN_CHARGE)
    theirs = FhirClient(their_pic)

    assert_outcome(theirs.get(f"$export-status/{export.pk}"), 404)
    assert_outcome(theirs.get(f"$export-file/{export.pk}/Patient.ndjson"), 404)
    assert_outcome(theirs.delete(f"$export-status/{export.pk}"), 404)
    assert_outcome(FhirClient(pic).get("$export-status/99999999999999999999"), 404)
    assert Export.objects.filter(pk=export.pk).exists()


def test_a_running_export_answers_202_with_progress(site, pic):
    export = Export.objects.create(site=site, requested_by=pic)
    client = FhirClient(pic)

    response = client.get(f"$export-status/{export.pk}")

    assert response.status_code == 202
    assert response["X-Progress"]


def test_a_file_the_export_did_not_write_is_not_found(site, pic, pharmacist):
    record(site, pharmacist)
    client = FhirClient(pic)
    kickoff(client, _type="Patient")
    export = Export.objects.get()

    assert_outcome(client.get(f"$export-file/{export.pk}/AllergyIntolerance.ndjson"), 404)
    assert_outcome(client.get(f"$export-file/{export.pk}/...ndjson"), 404)


def test_a_file_outside_the_export_folder_is_never_served(site, pic, tmp_path):
    secret = tmp_path / "elsewhere.ndjson"
    secret.write_text('{"resourceType":"Patient"}\n')
    export = Export.objects.create(site=site, requested_by=pic, status="done")
    ExportFile.objects.create(
        export=export, resource_type="Patient", count=1, path=str(secret), size=1, sha256="0"
    )

    response = FhirClient(pic).get(f"$export-file/{export.pk}/Patient.ndjson")

    assert_outcome(response, 404)


def test_delete_removes_the_files_and_the_export(
    site, pic, pharmacist, django_capture_on_commit_callbacks
):
    record(site, pharmacist)
    client = FhirClient(pic)
    location = kickoff(client)["Content-Location"]
    export = Export.objects.get()
    directory = Path(export.directory)
    assert any(directory.iterdir())

    with django_capture_on_commit_callbacks(execute=True):
        response = client.client.delete(location, headers=client.headers)

    assert response.status_code == 202
    assert not directory.exists()
    assert not Export.objects.exists()
    assert not ExportFile.objects.exists()
    assert client.client.get(location, headers=client.headers).status_code == 404
    event = AuditEvent.objects.get(action="fhir.export_deleted")
    assert json.loads(event.data)["counts"]["Patient"] == Patient.objects.count()


# --- Patient/<id>/$everything ---------------------------------------------------------------


def entries_by_type(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle.get("entry", []):
        out.setdefault(entry["resource"]["resourceType"], []).append(entry)
    return out


def test_everything_is_the_patient_s_whole_record_and_what_it_points_at(
    site, pharmacist, technician
):
    ours = record(site, pharmacist)
    other = record(site, pharmacist, first_name="Neighbour")
    patient = ours["patient"]

    response = FhirClient(pharmacist).get(f"Patient/{patient.pk}/$everything")

    assert response.status_code == 200, response.content
    bundle = response.json()
    assert_valid(bundle)
    assert bundle["type"] == "searchset"
    assert bundle["link"] == [
        {
            "relation": "self",
            "url": f"http://testserver/fhir/Patient/{patient.pk}/$everything",
        }
    ]
    found = entries_by_type(bundle)
    for name, entries in found.items():
        for entry in entries:
            resource = entry["resource"]
            assert entry["fullUrl"] == f"http://testserver/fhir/{name}/{resource['id']}"
            expected = "include" if TYPES[name].patient_of is None else "match"
            assert entry["search"] == {"mode": expected}
            # Nobody else's rows.
            assert str(other["patient"].pk) not in patient_refs(resource)
            if name == "Patient":
                assert resource["id"] == str(patient.pk)
    assert bundle["total"] == sum(1 for e in bundle["entry"] if e["search"]["mode"] == "match")
    assert [e["resource"]["id"] for e in found["Patient"]] == [str(patient.pk)]
    assert [e["resource"]["id"] for e in found["AllergyIntolerance"]] == [str(ours["allergy"].pk)]
    assert [e["resource"]["id"] for e in found["MedicationRequest"]] == [str(ours["rx"].pk)]
    if "Condition" in TYPES:
        assert [e["resource"]["id"] for e in found["Condition"]] == [str(ours["condition"].pk)]
    if "Immunization" in TYPES:
        assert [e["resource"]["id"] for e in found["Immunization"]] == [str(ours["imm"].pk)]
    if "MedicationDispense" in TYPES:
        assert {e["resource"]["id"] for e in found["MedicationDispense"]} == {
            str(f.pk) for f in ours["rx"].fills.all()
        }
    # Self-contained: the prescriber, the drug and the pharmacy come along.
    assert [e["resource"]["id"] for e in found["Practitioner"]] == [str(ours["rx"].prescriber_id)]
    assert [e["resource"]["id"] for e in found["Organization"]] == [str(site.pk)]
    if "Medication" in TYPES:
        assert [e["resource"]["id"] for e in found["Medication"]] == [str(ours["rx"].package_id)]
    # Every reference inside the bundle resolves inside the bundle.
    present = {f"{name}/{e['resource']['id']}" for name, es in found.items() for e in es}
    for entry in bundle["entry"]:
        for key in ("subject", "patient", "requester", "authorizingPrescription"):
            value = entry["resource"].get(key)
            for ref in value if isinstance(value, list) else [value]:
                if isinstance(ref, dict) and "/" in ref.get("reference", ""):
                    assert ref["reference"] in present, ref


def test_everything_writes_one_phi_access_event_with_the_counts(site, pharmacist):
    patient = record(site, pharmacist)["patient"]
    before = AuditEvent.objects.filter(action__startswith="fhir.").count()

    bundle = FhirClient(pharmacist).get(f"Patient/{patient.pk}/$everything").json()

    event = AuditEvent.objects.get(action="fhir.everything")
    assert AuditEvent.objects.filter(action__startswith="fhir.").count() == before + 1
    assert event.patient_id == patient.pk
    assert event.actor == pharmacist
    counts = json.loads(event.data)["counts"]
    assert counts["Patient"] == 1
    assert counts["AllergyIntolerance"] == 1
    assert counts["MedicationRequest"] == 1
    assert sum(counts.values()) == bundle["total"]


def test_the_cli_patient_bundle_can_hold_only_the_types_named(
    site, pharmacist, tmp_path, cli_context
):
    ours = record(site, pharmacist)
    pk = ours["patient"].pk

    call_command(
        "export-fhir", "--out", str(tmp_path), "--patient", str(pk), "--type", "AllergyIntolerance"
    )

    bundle = json.loads((tmp_path / f"patient-{pk}.json").read_text())
    assert_valid(bundle)
    assert [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]] == [
        ("Patient", str(pk)),
        ("AllergyIntolerance", str(ours["allergy"].pk)),
    ]
    assert bundle["total"] == 2


def test_everything_with_type_holds_the_patient_and_the_types_named(site, pharmacist):
    ours = record(site, pharmacist)
    pk = ours["patient"].pk
    client = FhirClient(pharmacist)

    bundle = client.get(f"Patient/{pk}/$everything", _type="MedicationRequest").json()

    assert_valid(bundle)
    assert [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]] == [
        ("Patient", str(pk)),
        ("MedicationRequest", str(ours["rx"].pk)),
    ]
    response = client.get(f"Patient/{pk}/$everything", _type="Spaceship")
    assert_outcome(response, 400, "_type")


def test_everything_is_forbidden_to_the_inventory_specialist(site, pharmacist, inventory):
    patient = record(site, pharmacist)["patient"]

    response = FhirClient(inventory).get(f"Patient/{patient.pk}/$everything")

    assert_outcome(response, 403)
    assert not AuditEvent.objects.filter(action="fhir.everything").exists()


def test_another_pharmacy_s_patient_is_not_found(site, other_site, pharmacist):
    theirs = PatientFactory(site=other_site)

    for fhir_id in (str(theirs.pk), "999999", "abc", "1" * 20):
        response = FhirClient(pharmacist).get(f"Patient/{fhir_id}/$everything")
        assert_outcome(response, 404)
    assert not AuditEvent.objects.filter(action="fhir.everything").exists()


# --- rxdesk export-fhir ----------------------------------------------------------------------


def test_the_cli_writes_every_type_a_manifest_and_a_summary(
    site, pharmacist, tmp_path, cli_context, capsys
):
    ours = record(site, pharmacist)
    out = tmp_path / "out"

    call_command("export-fhir", "--out", str(out), "--site", str(site.pk))

    printed = capsys.readouterr()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["requiresAccessToken"] is False
    names = [o["type"] for o in manifest["output"]]
    assert {"Patient", "AllergyIntolerance", "MedicationRequest"} <= set(names)
    total = 0
    for output in manifest["output"]:
        path = out / output["url"]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) == output["count"]
        total += output["count"]
        for line in lines:
            resource = json.loads(line)
            assert resource["resourceType"] == output["type"]
            assert_valid(resource)
    patient_file = [json.loads(x) for x in (out / "Patient.ndjson").read_text().splitlines()]
    assert ids_of(patient_file) == {str(p.pk) for p in Patient.objects.all()}
    assert str(ours["patient"].pk) in ids_of(patient_file)
    listed = ", ".join(f"{o['type']} {o['count']:,}" for o in manifest["output"])
    assert printed.out.startswith(f"Wrote {total:,} resources in {len(names)} files to {out} in ")
    assert printed.out.rstrip().endswith(f": {listed}.")
    assert "Patient" in printed.err and "100%" in printed.err  # the progress bars
    event = AuditEvent.objects.get(action="fhir.export")
    assert event.actor is None
    assert json.loads(event.data)["counts"] == {o["type"]: o["count"] for o in manifest["output"]}


def test_the_cli_writes_one_patient_s_bundle(site, pharmacist, tmp_path, cli_context, capsys):
    ours = record(site, pharmacist)
    out = tmp_path / "one"

    call_command(
        "export-fhir",
        "--out",
        str(out),
        "--patient",
        str(ours["patient"].pk),
        "--base",
        "https://rx.example.org/fhir",
    )

    path = out / f"patient-{ours['patient'].pk}.json"
    bundle = json.loads(path.read_text())
    assert_valid(bundle)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert bundle["entry"][0]["fullUrl"] == (
        f"https://rx.example.org/fhir/Patient/{ours['patient'].pk}"
    )
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "AllergyIntolerance", "MedicationRequest"} <= kinds
    assert capsys.readouterr().out.startswith(
        f"Wrote patient {ours['patient'].pk}'s record to {path}: Patient 1, "
    )
    assert AuditEvent.objects.get(action="fhir.everything").patient_id == ours["patient"].pk


def test_the_cli_refuses_an_unknown_type_and_writes_nothing(site, tmp_path, cli_context):
    out = tmp_path / "bad"

    with pytest.raises(CommandError, match="_type: rxdesk does not export Spaceship"):
        call_command("export-fhir", "--out", str(out), "--type", "Patient,Spaceship")

    assert not out.exists()
    assert not AuditEvent.objects.filter(action="fhir.export").exists()


def test_the_cli_refuses_a_patient_of_another_site(site, other_site, tmp_path, cli_context):
    theirs = PatientFactory(site=other_site)

    with pytest.raises(CommandError, match="No Patient"):
        call_command(
            "export-fhir",
            "--out",
            str(tmp_path),
            "--site",
            str(site.pk),
            "--patient",
            str(theirs.pk),
        )


def test_the_export_service_is_the_operator_s_from_the_cli_only(site, tmp_path):
    from rxdesk.fhir import export
    from rxdesk.fhir.outcome import FhirError

    ctx = export.cli_context(site, None)  # the autouse context is a web request

    with pytest.raises(FhirError) as caught:
        export.export_to_directory(ctx=ctx, directory=tmp_path / "x")

    assert caught.value.status == 403
    assert not (tmp_path / "x").exists()


def test_an_unused_catalog_package_is_never_exported(site, pic):
    PackageFactory()
    client = FhirClient(pic)

    manifest = status_of(client, kickoff(client, _type="Medication")).json()

    assert manifest["output"] == []
    assert Package.objects.count() == 1


def test_a_patient_exported_by_the_cli_imports_into_another_pharmacy_unchanged(
    site, other_site, pharmacist, tmp_path, cli_context
):
    ours = record(site, pharmacist)
    patients.condition_add(
        actor=pharmacist, patient=ours["patient"], description="Hypertension", icd10="I10"
    )
    UserFactory(site=other_site, role=Role.PHARMACIST_IN_CHARGE, username="lakeside-pic")
    source = ours["patient"]

    call_command("export-fhir", "--out", str(tmp_path), "--patient", str(source.pk))
    call_command(
        "import-fhir",
        str(tmp_path / f"patient-{source.pk}.json"),
        "--site",
        str(other_site.pk),
        "--no-progress",
    )

    copy = Patient.objects.get(site=other_site)
    assert (copy.first_name, copy.last_name, copy.date_of_birth, copy.sex) == (
        source.first_name,
        source.last_name,
        source.date_of_birth,
        source.sex,
    )
    # Severity travels with a reaction (FHIR keeps it on AllergyIntolerance.reaction).
    assert [
        (a.allergen, a.reaction, a.severity, a.active) for a in Allergy.objects.filter(patient=copy)
    ] == [("Penicillins", "Hives", "moderate", True)]
    assert sorted(
        (c.description, c.icd10) for c in Condition.objects.filter(patient=copy)
    ) == sorted((c.description, c.icd10) for c in Condition.objects.filter(patient=source))

    # Importing the same file again changes nothing.
    call_command(
        "import-fhir",
        str(tmp_path / f"patient-{source.pk}.json"),
        "--site",
        str(other_site.pk),
        "--no-progress",
    )
    assert Patient.objects.filter(site=other_site).count() == 1
    assert Allergy.objects.filter(patient=copy).count() == 1


def test_the_pharmacy_s_ndjson_files_import_into_another_pharmacy_once(
    site, other_site, pharmacist, tmp_path, cli_context
):
    record(site, pharmacist)
    UserFactory(site=other_site, role=Role.PHARMACIST_IN_CHARGE, username="lakeside-pic")
    call_command("export-fhir", "--out", str(tmp_path / "export"), "--no-progress")
    # What a Bulk Data client keeps: the files the manifest lists.
    received = tmp_path / "received"
    received.mkdir()
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    for output in manifest["output"]:
        (received / output["url"]).write_bytes((tmp_path / "export" / output["url"]).read_bytes())

    for _ in range(2):  # the second time changes nothing
        call_command("import-fhir", str(received), "--site", str(other_site.pk), "--no-progress")

        ours = Patient.objects.filter(site=site).order_by("last_name", "first_name")
        copies = Patient.objects.filter(site=other_site).order_by("last_name", "first_name")
        assert [(p.first_name, p.last_name, p.date_of_birth) for p in copies] == [
            (p.first_name, p.last_name, p.date_of_birth) for p in ours
        ]
        assert sorted(
            (a.patient.first_name, a.allergen)
            for a in Allergy.objects.filter(patient__site=other_site)
        ) == sorted(
            (a.patient.first_name, a.allergen) for a in Allergy.objects.filter(patient__site=site)
        )
        assert sorted(
            (c.patient.first_name, c.description, c.icd10)
            for c in Condition.objects.filter(patient__site=other_site)
        ) == sorted(
            (c.patient.first_name, c.description, c.icd10)
            for c in Condition.objects.filter(patient__site=site)
        )


def test_a_second_cli_export_into_the_same_folder_leaves_no_old_file(
    site, pharmacist, tmp_path, cli_context
):
    record(site, pharmacist)
    call_command("export-fhir", "--out", str(tmp_path), "--no-progress")
    assert (tmp_path / "AllergyIntolerance.ndjson").exists()

    call_command("export-fhir", "--out", str(tmp_path), "--type", "Patient", "--no-progress")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["Patient.ndjson", "manifest.json"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["request"] == "http://localhost/fhir/$export?_type=Patient"
