"""The prescription API at /api/v1/ through the full Django stack: typed intake, the
prescription and the medication profile, refill requests, hold and inactivate, transfers,
scanned hard copies and the e-prescription inbox; bad input, roles and sites."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from rxdesk.core import context
from rxdesk.core.models import AuditEvent, Site, User
from rxdesk.core.services import token_create
from rxdesk.rx.models import ErxMessage, Fill, Prescription, PrescriptionImage, Transfer
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.factories import PatientFactory, PrescriberFactory
from tests.rx.factories import dispense, first_fill, make_rx, parts

PROBLEM = "application/problem+json"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
PHARMACY = {
    "pharmacy_name": "Lakeside Pharmacy",
    "pharmacy_address": "9 Lake St, Springfield IL 62704",
    "pharmacy_phone": "217-555-0188",
    "pharmacy_dea": "AW1234563",
    "other_rx_number": "884211",
    "other_pharmacist": "Dana Reyes, RPh",
}
DATA = Path(__file__).parent.parent / "interop" / "data"


def token_for(user: User) -> str:
    with context.using(context.RequestInfo(channel="cli")):
        _token, secret = token_create(actor=None, user=user, name="tests")
    return secret


class Api:
    """A client of /api/v1/ with a bearer token."""

    def __init__(self, user: User) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token_for(user)}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params, headers=self.headers)

    def post(self, path: str, body: object = None) -> Any:
        return self.client.post(
            f"/api/v1{path}",
            json.dumps(body or {}),
            content_type="application/json",
            headers=self.headers,
        )

    def post_raw(self, path: str, data: bytes | str, content_type: str) -> Any:
        return self.client.post(
            f"/api/v1{path}", data, content_type=content_type, headers=self.headers
        )

    def upload(self, content: bytes, name: str = "scan.png") -> Any:
        from django.core.files.uploadedfile import SimpleUploadedFile

        return self.client.post(
            "/api/v1/prescription-images",
            {"image": SimpleUploadedFile(name, content)},
            headers=self.headers,
        )


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    return body


def fields_of(response: Any) -> list[str]:
    return [e["field"] for e in problem_of(response, 422)["errors"]]


def counts() -> tuple[int, ...]:
    return (
        AuditEvent.objects.count(),
        Prescription.objects.count(),
        Fill.objects.count(),
        Transfer.objects.count(),
        PrescriptionImage.objects.count(),
        ErxMessage.objects.count(),
    )


def snapshot(rx: Prescription) -> tuple[Any, ...]:
    rx.refresh_from_db()
    return (rx.status, rx.hold_reason, rx.inactive_reason, list(rx.fills.values_list("status")))


def typed_body(site: Site, *, schedule: str = "", **over: Any) -> dict[str, Any]:
    """A JSON intake: 30 capsules once daily, 5 refills, written today."""
    p = parts(site, schedule=schedule)
    body: dict[str, Any] = {
        "patient_id": p["patient"].pk,
        "prescriber_id": p["prescriber"].pk,
        "ndc": p["package"].ndc10,
        "origin": 1,
        "quantity": "30",
        "quantity_unit": "EA",
        "days_supply": 30,
        "directions": "1 CAP PO DAILY",
        "date_written": site.today().isoformat(),
        "refills_authorized": 5,
    }
    body.update(over)
    return body


@pytest.fixture
def as_tech(technician) -> Api:
    return Api(technician)


@pytest.fixture
def as_rph(pharmacist) -> Api:
    return Api(pharmacist)


# --- Typed intake ------------------------------------------------------------------------------


def test_it_takes_in_a_typed_prescription_and_queues_its_first_fill(as_tech, site, technician):
    body = typed_body(site, diagnosis_code="f32.9", notes="Call when ready.")
    before = AuditEvent.objects.count()

    response = as_tech.post("/prescriptions", body)

    assert response.status_code == 201, response.content
    out = response.json()
    rx = Prescription.objects.get()
    fill = rx.fills.get()
    assert out["id"] == rx.pk
    assert (out["number"], out["status"], out["state"], out["state_label"]) == (
        rx.number,
        "active",
        "active",
        "Active",
    )
    assert out["patient"] == {
        "id": rx.patient_id,
        "name": rx.patient.full_name,
        "date_of_birth": rx.patient.date_of_birth.isoformat(),
    }
    assert out["prescriber"] == {
        "id": rx.prescriber_id,
        "name": "Margaret Okafor, MD",
        "npi": "1234567893",
        "dea_number": "BO1234563",
    }
    assert out["product"] == {
        "id": rx.product_id,
        "name": "Prozac",
        "strength": rx.product.strength,
        "dosage_form": rx.product.dosage_form,
        "schedule": None,
    }
    assert out["ndc"] == body["ndc"]
    assert out["origin"] == {"code": 1, "label": "Written"}
    assert (out["quantity"], out["quantity_unit"], out["days_supply"]) == ("30", "EA", 30)
    assert out["directions"] == "1 CAP PO DAILY"
    assert out["directions_en"] == "Take 1 capsule by mouth once daily."
    assert out["directions_es"] == "Tome 1 cápsula por vía oral una vez al día."
    assert (out["directions_flags"], out["needs_review"], out["days_supply_warning"]) == (
        [],
        False,
        "",
    )
    assert (out["refills_authorized"], out["refills_remaining"], out["quantity_remaining"]) == (
        5,
        5,
        "150",
    )
    assert out["date_written"] == site.today().isoformat()
    assert out["expires_on"] == site.today().replace(year=site.today().year + 1).isoformat()
    assert (out["diagnosis_code"], out["notes"]) == ("F32.9", "Call when ready.")
    # The first fill is waiting, so no other fill can be asked for until it is dispensed.
    assert (out["can_fill"], out["can_fill_reason"], out["next_fill_on"]) == (
        False,
        "Fill 0 is already queued; the next one comes after it.",
        None,
    )
    assert out["fills"] == [
        {
            "id": fill.pk,
            "number": 0,
            "status": "queued",
            "source": "new",
            "quantity": "30",
            "days_supply": 30,
            "fillable_on": None,
            "too_soon_message": "",
            "requested_at": out["fills"][0]["requested_at"],
            "dispensed_on": None,
        }
    ]
    assert (out["transfers"], out["images"]) == ([], [])
    assert out["entered_by"] == technician.display_name
    assert rx.site_id == site.pk and rx.entered_by == technician
    events = list(AuditEvent.objects.order_by("seq")[before:])
    assert [e.action for e in events] == ["rx.created"]
    assert events[0].actor_kind == "token"


@pytest.mark.parametrize("layout", ["5-4-2", "11 digits", "product_id"])
def test_the_drug_is_given_by_an_ndc_in_any_layout_or_by_product(as_tech, site, layout):
    body = typed_body(site, quantity=30)  # a JSON number is a quantity too
    package = parts(site)["package"]
    code = package.ndc11
    body["ndc"] = {
        "5-4-2": f"{code[:5]}-{code[5:9]}-{code[9:]}",
        "11 digits": code,
        "product_id": None,
    }[layout]
    if layout == "product_id":
        body["product_id"] = package.product_id

    out = as_tech.post("/prescriptions", body).json()

    assert out["product"]["id"] == package.product_id
    assert out["ndc"] == (None if layout == "product_id" else package.ndc10)
    assert out["quantity"] == "30"


def test_an_ndc_and_a_product_that_disagree_are_refused(as_tech, site):
    body = typed_body(site, product_id=parts(site)["product"].pk)
    before = counts()
    assert fields_of(as_tech.post("/prescriptions", body)) == ["ndc"]
    assert counts() == before


def test_it_takes_in_on_hold_with_the_scanned_hard_copy(as_tech, site):
    image_id = as_tech.upload(PNG).json()["id"]
    body = typed_body(site, hold=True, hold_reason="profile", image_ids=[image_id], origin=4)

    out = as_tech.post("/prescriptions", body).json()

    assert (out["status"], out["state"], out["fills"]) == ("on_hold", "on_hold", [])
    assert out["origin"] == {"code": 4, "label": "Facsimile"}
    assert [(i["id"], i["content_type"], i["size"]) for i in out["images"]] == [
        (image_id, "image/png", len(PNG))
    ]
    assert PrescriptionImage.objects.get().prescription_id == out["id"]


@pytest.mark.parametrize(
    ("schedule", "over", "field"),
    [
        ("CII", {"refills_authorized": 1}, "refills_authorized"),
        ("CIV", {"refills_authorized": 6}, "refills_authorized"),
        ("", {"quantity": "0"}, "quantity"),
        ("", {"quantity": 0}, "quantity"),
        ("", {"quantity": "-5"}, "quantity"),
        ("", {"quantity": "250000"}, "quantity"),
        ("", {"quantity": "thirty"}, "quantity"),
        ("", {"quantity": "NaN"}, "quantity"),
        ("", {"days_supply": 0}, "days_supply"),
        ("", {"date_written": "2999-01-01"}, "date_written"),
        ("", {"date_written": "2026-02-30"}, "date_written"),
        ("", {"prescriber_dea": "BJ1234563"}, "prescriber_dea"),
        ("", {"prescriber_id": 999_999}, "prescriber_id"),
        ("", {"prescriber_id": 2**70}, "prescriber_id"),
        ("", {"patient_id": 999_999}, "patient_id"),
        ("", {"ndc": "9999-9999-99"}, "ndc"),
        ("", {"ndc": "not-an-ndc"}, "ndc"),
        ("", {"ndc": None}, "ndc"),
        ("", {"product_id": 999_999, "ndc": None}, "product_id"),
        ("", {"origin": 5}, "origin"),
        ("", {"origin": 9}, "origin"),
        ("", {"quantity_unit": "TAB"}, "quantity_unit"),
        ("", {"daw": 12}, "daw"),
        ("", {"directions": ""}, "directions"),
        ("", {"diagnosis_code": "diabetes"}, "diagnosis_code"),
        ("", {"hold": True}, "hold_reason"),
        ("", {"image_ids": [999_999]}, "image_ids"),
        ("", {"ssn": "123-45-6789"}, "ssn"),  # unknown fields are refused, not ignored
        ("CII", {"origin": 2}, "origin"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_creates_nothing(
    as_tech, site, schedule, over, field
):
    body = typed_body(site, schedule=schedule, **over)
    before = counts()

    response = as_tech.post("/prescriptions", body)

    problem = problem_of(response, 422)
    assert problem["type"] == "/problems/invalid"
    assert field in [e["field"] for e in problem["errors"]], problem
    assert all(e["message"] for e in problem["errors"])
    assert counts() == before


def test_neither_ndc_nor_product_names_both_fields(as_tech, site):
    body = typed_body(site)
    body.pop("ndc")
    problem = problem_of(as_tech.post("/prescriptions", body), 422)
    assert [e["field"] for e in problem["errors"]] == ["ndc", "product_id"]
    assert "product_id" in problem["errors"][0]["message"]


def test_a_dea_number_that_is_not_the_prescribers_says_whose_it_is(as_tech, site):
    body = typed_body(site, prescriber_dea="bj1234563")
    problem = problem_of(as_tech.post("/prescriptions", body), 422)
    assert problem["errors"] == [
        {
            "field": "prescriber_dea",
            "message": "DEA number BJ1234563 is not Margaret Okafor, MD's (BO1234563).",
        }
    ]


def test_a_schedule_ii_with_refills_cites_the_rule(as_tech, site):
    problem = problem_of(
        as_tech.post("/prescriptions", typed_body(site, schedule="CII", refills_authorized=2)),
        422,
    )
    (error,) = [e for e in problem["errors"] if e["field"] == "refills_authorized"]
    assert "21 CFR 1306.12(a)" in error["message"]


def test_another_pharmacys_patient_prescriber_or_image_is_not_found_in_the_body(
    as_tech, outsider, other_site, site
):
    theirs_image = Api(outsider).upload(PNG).json()["id"]
    body = typed_body(
        site,
        patient_id=PatientFactory(site=other_site).pk,
        prescriber_id=PrescriberFactory(site=other_site, npi="1245319599").pk,
        image_ids=[theirs_image],
    )
    before = counts()
    assert fields_of(as_tech.post("/prescriptions", body)) == [
        "patient_id",
        "prescriber_id",
        "image_ids",
    ]
    assert counts() == before


@pytest.mark.parametrize("persona", ["inventory", "auditor", "admin_user"])
def test_a_role_without_prescriptions_gets_a_403_and_nothing_is_written(request, site, persona):
    api = Api(request.getfixturevalue(persona))
    rx = make_rx(request.getfixturevalue("technician"))
    patient_id = rx.patient_id
    state = snapshot(rx)
    before = counts()

    for response, capability in (
        (api.post("/prescriptions", typed_body(site)), "rx.enter"),
        # The role is checked before the body: an unknown prescriber is still a 403.
        (api.post("/prescriptions", typed_body(site, prescriber_id=999_999)), "rx.enter"),
        (api.get(f"/prescriptions/{rx.pk}"), "rx.view"),
        (api.post(f"/prescriptions/{rx.pk}/hold", {"reason": "profile"}), "rx.enter"),
        (api.post(f"/prescriptions/{rx.pk}/refill-requests", {"source": "phone"}), "rx.enter"),
        (api.post(f"/prescriptions/{rx.pk}/inactivate", {"reason": "discontinued"}), "rx.enter"),
        (api.post(f"/prescriptions/{rx.pk}/transfer-out", PHARMACY), "rx.transfer"),
        (api.get("/refills/due"), "rx.view"),
        (api.upload(PNG), "rx.enter"),
        (api.post_raw("/erx/inbox", b"<Message/>", "application/xml"), "rx.enter"),
        (api.post_raw("/erx/inbox", b"{}", "application/json"), "rx.enter"),
    ):
        problem = problem_of(response, 403)
        assert (problem["type"], problem["capability"]) == ("/problems/forbidden", capability)
    assert problem_of(api.get(f"/patients/{patient_id}/profile"), 403)["type"] == (
        "/problems/forbidden"
    )
    assert counts() == before
    assert snapshot(rx) == state


# --- Reading -----------------------------------------------------------------------------------


def test_reading_a_prescription_writes_nothing(as_tech, technician):
    rx = make_rx(technician)
    before = counts()

    response = as_tech.get(f"/prescriptions/{rx.pk}")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["number"]) == (rx.pk, rx.number)
    assert counts() == before


@pytest.mark.parametrize("persona", ["trainee", "pharmacist", "pic"])
def test_every_prescription_role_reads_it(request, technician, persona):
    rx = make_rx(technician)
    assert Api(request.getfixturevalue(persona)).get(f"/prescriptions/{rx.pk}").status_code == 200


def test_another_pharmacys_prescription_is_a_404_everywhere(as_tech, outsider):
    theirs = make_rx(outsider)
    state = snapshot(theirs)
    before = counts()
    for response in (
        as_tech.get(f"/prescriptions/{theirs.pk}"),
        as_tech.post(f"/prescriptions/{theirs.pk}/hold", {"reason": "profile"}),
        as_tech.post(f"/prescriptions/{theirs.pk}/activate"),
        as_tech.post(f"/prescriptions/{theirs.pk}/inactivate", {"reason": "discontinued"}),
        as_tech.post(f"/prescriptions/{theirs.pk}/refill-requests", {"source": "phone"}),
        as_tech.get(f"/patients/{theirs.patient_id}/profile"),
    ):
        assert problem_of(response, 404)["type"] == "/problems/not_found"
    assert counts() == before
    assert snapshot(theirs) == state


@pytest.mark.parametrize("pk", ["0", "99999999", str(2**63), "9" * 30])
def test_an_id_that_names_nothing_is_a_404(as_tech, pk):
    problem_of(as_tech.get(f"/prescriptions/{pk}"), 404)
    problem_of(as_tech.get(f"/patients/{pk}/profile"), 404)
    problem_of(as_tech.get(f"/prescription-images/{pk}"), 404)


def test_an_id_that_is_not_a_number_is_a_404(as_tech):
    assert as_tech.get("/prescriptions/abc").status_code == 404
    assert as_tech.get("/patients/abc/profile").status_code == 404


def test_the_profile_groups_prescriptions_and_logs_the_phi_access(as_tech, site, technician):
    active = make_rx(technician)
    patient = active.patient
    held = make_rx(technician, patient=patient, hold=True, hold_reason="patient_later")
    stopped = make_rx(technician, patient=patient)
    as_tech.post(f"/prescriptions/{stopped.pk}/inactivate", {"reason": "discontinued"})
    expired = make_rx(
        technician, patient=patient, date_written=site.today() - dt.timedelta(days=300)
    )
    Prescription.objects.filter(pk=expired.pk).update(
        date_written=site.today() - dt.timedelta(days=400)
    )
    dispense(first_fill(active), site.today() - dt.timedelta(days=2))
    before = AuditEvent.objects.count()

    response = as_tech.get(f"/patients/{patient.pk}/profile")

    assert response.status_code == 200
    out = response.json()
    assert out["patient"] == {
        "id": patient.pk,
        "name": patient.full_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
    }
    assert {k: [i["id"] for i in out[k]] for k in out if k != "patient"} == {
        "active": [active.pk],
        "on_hold": [held.pk],
        "expired": [expired.pk],
        "inactive": [stopped.pk],
        "transferred": [],
    }
    item = out["active"][0]
    assert item == {
        "id": active.pk,
        "number": active.number,
        "drug_description": active.drug_description,
        "directions_en": "Take 1 capsule by mouth once daily.",
        "quantity": "30",
        "days_supply": 30,
        "refills_remaining": 5,
        "date_written": site.today().isoformat(),
        "expires_on": active.expires_on.isoformat(),
        "last_filled_on": (site.today() - dt.timedelta(days=2)).isoformat(),
        "next_fill_on": item["next_fill_on"],
        "state": "active",
        "fills": [item["fills"][0]],
    }
    assert item["fills"][0]["status"] == "dispensed"
    assert item["next_fill_on"] > site.today().isoformat()
    (event,) = AuditEvent.objects.order_by("seq")[before:]
    assert (event.action, event.patient_id, event.reason) == (
        "patient.record.viewed",
        patient.pk,
        "medication profile",
    )


# --- Refills, hold, inactivate -------------------------------------------------------------------


def test_a_refill_request_queues_the_next_fill(as_tech, site, technician):
    rx = make_rx(technician, date_written=site.today() - dt.timedelta(days=40))
    dispense(first_fill(rx), site.today() - dt.timedelta(days=35))

    response = as_tech.post(f"/prescriptions/{rx.pk}/refill-requests", {"source": "web"})

    assert response.status_code == 201, response.content
    out = response.json()
    fill = rx.fills.get(number=1)
    assert (out["id"], out["number"], out["status"], out["source"]) == (
        fill.pk,
        1,
        "queued",
        "web",
    )
    assert (out["too_soon"], out["message"], out["fillable_on"]) == (False, "", None)
    assert AuditEvent.objects.order_by("-seq").first().action == "rx.refill.requested"


def test_a_refill_asked_for_too_soon_waits_with_its_date(as_tech, site, technician):
    rx = make_rx(technician)
    dispense(first_fill(rx), site.today())

    out = as_tech.post(f"/prescriptions/{rx.pk}/refill-requests", {"source": "phone"}).json()

    assert (out["status"], out["too_soon"]) == ("scheduled", True)
    assert out["fillable_on"] > site.today().isoformat()
    assert out["message"] == out["too_soon_message"] != ""


def test_a_refill_that_is_not_possible_is_a_409_saying_why(as_tech, site, technician):
    rx = make_rx(technician, refills_authorized=0)
    dispense(first_fill(rx), site.today() - dt.timedelta(days=35))
    queued = make_rx(technician)

    no_refills = problem_of(
        as_tech.post(f"/prescriptions/{rx.pk}/refill-requests", {"source": "counter"}), 409
    )
    waiting = problem_of(
        as_tech.post(f"/prescriptions/{queued.pk}/refill-requests", {"source": "phone"}), 409
    )

    assert (no_refills["type"], no_refills["reason"], no_refills["renewable"]) == (
        "/problems/refill_refused",
        "no_refills",
        True,
    )
    assert no_refills["detail"].startswith(f"Rx {rx.number}: ")
    assert (waiting["reason"], waiting["renewable"]) == ("already_queued", False)
    assert rx.fills.count() == 1 and queued.fills.count() == 1


def test_a_refill_request_names_its_source(as_tech, technician):
    rx = make_rx(technician)
    before = counts()
    assert fields_of(as_tech.post(f"/prescriptions/{rx.pk}/refill-requests", {})) == ["source"]
    assert fields_of(
        as_tech.post(f"/prescriptions/{rx.pk}/refill-requests", {"source": "fax"})
    ) == ["source"]
    assert counts() == before


def test_hold_activate_and_inactivate(as_tech, technician):
    rx = make_rx(technician)

    held = as_tech.post(f"/prescriptions/{rx.pk}/hold", {"reason": "waiting_pa", "note": "PA sent"})
    assert held.status_code == 200, held.content
    assert (held.json()["status"], held.json()["state"]) == ("on_hold", "on_hold")
    assert [f["status"] for f in held.json()["fills"]] == ["cancelled"]

    active = as_tech.post(f"/prescriptions/{rx.pk}/activate")
    assert (active.status_code, active.json()["state"]) == (200, "active")

    stopped = as_tech.post(
        f"/prescriptions/{rx.pk}/inactivate", {"reason": "entered_in_error", "note": "dup"}
    )
    assert (stopped.status_code, stopped.json()["state"]) == (200, "inactive")
    assert stopped.json()["can_fill"] is False
    assert stopped.json()["can_fill_reason"] != ""
    actions = list(AuditEvent.objects.order_by("-seq").values_list("action", flat=True)[:3])
    assert actions == ["rx.inactivated", "rx.activated", "rx.held"]


def test_a_status_change_that_does_not_fit_is_refused_and_changes_nothing(as_tech, technician):
    rx = make_rx(technician)
    state = snapshot(rx)
    before = counts()

    assert problem_of(as_tech.post(f"/prescriptions/{rx.pk}/activate"), 409)["errors"] == [
        {"field": "status", "message": f"Rx {rx.number} is active, not on hold."}
    ]
    assert fields_of(as_tech.post(f"/prescriptions/{rx.pk}/hold", {"reason": "later"})) == [
        "reason"
    ]
    assert fields_of(
        as_tech.post(f"/prescriptions/{rx.pk}/inactivate", {"reason": "replaced"})
    ) == ["reason"]
    assert counts() == before
    assert snapshot(rx) == state


def test_refills_due_lists_what_falls_due(as_tech, site, technician):
    due = make_rx(technician, date_written=site.today() - dt.timedelta(days=40), auto_refill=True)
    dispense(first_fill(due), site.today() - dt.timedelta(days=28))
    not_yet = make_rx(technician)
    dispense(first_fill(not_yet), site.today())

    response = as_tech.get("/refills/due", within_days=3)

    assert response.status_code == 200
    (item,) = response.json()
    assert item["prescription_id"] == due.pk
    assert item["number"] == due.number
    assert item["patient"]["id"] == due.patient_id
    assert item["last_filled_on"] == (site.today() - dt.timedelta(days=28)).isoformat()
    assert item["due_on"] <= (site.today() + dt.timedelta(days=3)).isoformat()
    assert (item["refills_remaining"], item["auto_refill"]) == (5, True)
    assert fields_of(as_tech.get("/refills/due", within_days=365)) == ["within_days"]


# --- Transfers -----------------------------------------------------------------------------------


def test_a_pharmacist_transfers_a_prescription_out(as_rph, site, technician, pharmacist):
    rx = make_rx(technician, date_written=site.today() - dt.timedelta(days=40))
    dispense(first_fill(rx), site.today() - dt.timedelta(days=35))

    response = as_rph.post(
        f"/prescriptions/{rx.pk}/transfer-out", {**PHARMACY, "notes": "Patient moved"}
    )

    assert response.status_code == 200, response.content
    out = response.json()
    assert (out["status"], out["state"]) == ("transferred", "transferred")
    (transfer,) = out["transfers"]
    assert transfer == {
        "direction": "out",
        "pharmacy_name": "Lakeside Pharmacy",
        "pharmacy_address": "9 Lake St, Springfield IL 62704",
        "pharmacy_phone": "2175550188",
        "pharmacy_dea": "AW1234563",
        "pharmacy_ncpdp_id": "",
        "pharmacy_npi": "",
        "other_rx_number": "884211",
        "other_pharmacist": "Dana Reyes, RPh",
        "pharmacist": pharmacist.display_name,
        "transferred_at": transfer["transferred_at"],
        "original_refills_authorized": 5,
        "refills_remaining": 5,
        "first_fill_date": (site.today() - dt.timedelta(days=35)).isoformat(),
        "last_fill_date": (site.today() - dt.timedelta(days=35)).isoformat(),
        "shared_database": False,
    }
    assert AuditEvent.objects.order_by("-seq").first().action == "rx.transfer.out"


def test_a_controlled_transfer_out_needs_the_other_pharmacys_dea(as_rph, site, technician):
    rx = make_rx(technician, schedule="CIV", refills_authorized=2)
    dispense(first_fill(rx), site.today())
    state = snapshot(rx)
    before = counts()

    response = as_rph.post(f"/prescriptions/{rx.pk}/transfer-out", {**PHARMACY, "pharmacy_dea": ""})

    assert fields_of(response) == ["pharmacy_dea"]
    assert counts() == before
    assert snapshot(rx) == state


def test_a_pharmacist_takes_in_a_transfer(as_rph, site, pharmacist):
    body = typed_body(site, date_written=(site.today() - dt.timedelta(days=60)).isoformat())
    for name in ("origin", "refills_authorized"):
        body.pop(name)
    body.update(
        PHARMACY,
        original_refills_authorized=5,
        refills_remaining=3,
        first_fill_date=(site.today() - dt.timedelta(days=58)).isoformat(),
        last_fill_date=(site.today() - dt.timedelta(days=25)).isoformat(),
    )

    response = as_rph.post("/prescriptions/transfer-in", body)

    assert response.status_code == 201, response.content
    out = response.json()
    assert out["origin"] == {"code": 5, "label": "Pharmacy transfer"}
    assert out["refills_authorized"] == 5
    (transfer,) = out["transfers"]
    assert (transfer["direction"], transfer["refills_remaining"]) == ("in", 3)
    assert (transfer["pharmacist"], transfer["other_pharmacist"]) == (
        pharmacist.display_name,
        "Dana Reyes, RPh",
    )
    assert [(f["source"], f["status"]) for f in out["fills"]] == [("transfer", "queued")]
    assert AuditEvent.objects.order_by("-seq").first().action == "rx.transfer.in"


def test_a_transfer_in_with_bad_counts_names_the_field(as_rph, site):
    body = typed_body(site)
    for name in ("origin", "refills_authorized"):
        body.pop(name)
    body.update(PHARMACY, original_refills_authorized=2, refills_remaining=7)
    before = counts()
    assert fields_of(as_rph.post("/prescriptions/transfer-in", body)) == ["refills_remaining"]
    body.update(refills_remaining=1, origin=1)
    assert fields_of(as_rph.post("/prescriptions/transfer-in", body)) == ["origin"]
    assert counts() == before


@pytest.mark.parametrize("persona", ["technician", "trainee"])
def test_a_technician_cannot_record_a_transfer(request, site, persona):
    user = request.getfixturevalue(persona)
    api = Api(user)
    rx = make_rx(request.getfixturevalue("technician"))
    body = typed_body(site)
    for name in ("origin", "refills_authorized"):
        body.pop(name)
    body.update(PHARMACY, original_refills_authorized=5, refills_remaining=5)
    state = snapshot(rx)
    before = counts()

    for response in (
        api.post("/prescriptions/transfer-in", body),
        api.post(f"/prescriptions/{rx.pk}/transfer-out", PHARMACY),
    ):
        assert problem_of(response, 403)["capability"] == "rx.transfer"
    assert counts() == before
    assert snapshot(rx) == state


# --- Scanned hard copies -------------------------------------------------------------------------


def test_a_scan_is_uploaded_then_read_back(as_tech, technician):
    response = as_tech.upload(PNG)

    assert response.status_code == 201, response.content
    out = response.json()
    image = PrescriptionImage.objects.get()
    assert out == {
        "id": image.pk,
        "content_type": "image/png",
        "size": len(PNG),
        "sha256": hashlib.sha256(PNG).hexdigest(),
    }
    assert image.uploaded_by == technician
    before = counts()

    read = as_tech.get(f"/prescription-images/{image.pk}")

    assert read.status_code == 200
    assert read["Content-Type"] == "image/png"
    assert read["X-Content-Type-Options"] == "nosniff"
    assert read.content == PNG
    assert counts() == before


@pytest.mark.parametrize(
    "content", [b"", b"MZ\x90\x00 not a scan", b"<html><script>alert(1)</script></html>"]
)
def test_a_file_that_is_not_a_scan_is_refused(as_tech, content):
    before = counts()
    assert fields_of(as_tech.upload(content)) == ["image"]
    assert counts() == before


def test_an_upload_without_the_file_names_the_field(as_tech):
    before = counts()
    assert fields_of(as_tech.post("/prescription-images", {"file": "x"})) == ["image"]
    assert counts() == before


def test_another_pharmacys_scan_is_a_404(as_tech, outsider):
    theirs = Api(outsider).upload(PNG).json()["id"]
    problem_of(as_tech.get(f"/prescription-images/{theirs}"), 404)


# --- E-prescription inbox ----------------------------------------------------------------------


def newrx(site: Site, message_id: str = "MSG-API-0001", **replace: str) -> bytes:
    """The reference NewRx addressed to ``site`` and written today."""
    text = (DATA / "newrx_reference.xml").read_text()
    for old, new in {
        '<To Qualifier="P">9990001</To>': f'<To Qualifier="P">{site.ncpdp_id}</To>',
        "<NCPDPID>9990001</NCPDPID>": f"<NCPDPID>{site.ncpdp_id}</NCPDPID>",
        "<MessageID>MSG-20250315-0001</MessageID>": f"<MessageID>{message_id}</MessageID>",
        "<NPI>9876543213</NPI>": "<NPI>1245319599</NPI>",  # a prescriber NPI that checks
        "<WrittenDate><Date>2025-03-15</Date>": (
            f"<WrittenDate><Date>{site.today().isoformat()}</Date>"
        ),
        **replace,
    }.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text.encode()


def test_the_inbox_takes_only_xml(as_tech, site):
    before = counts()
    for content_type in ("application/json", "text/plain", "multipart/form-data; boundary=x"):
        problem = problem_of(as_tech.post_raw("/erx/inbox", newrx(site), content_type), 415)
        assert problem["type"] == "/problems/unsupported_media_type"
        assert "application/xml" in problem["detail"]
    assert counts() == before


def test_the_inbox_refuses_more_than_a_megabyte(as_tech, site):
    before = counts()
    huge = newrx(site).replace(b"<Note>", b"<Note>" + b"x" * (1024 * 1024))
    problem = problem_of(as_tech.post_raw("/erx/inbox", huge, "application/xml"), 413)
    assert problem["type"] == "/problems/payload_too_large"
    assert counts() == before


@pytest.fixture
def erx(db) -> Any:
    return pytest.importorskip(
        "rxdesk.rx.services.erx",
        reason="rxdesk.rx.services.erx (erx_receive) is being written by another helper",
    )


def test_a_new_message_is_201_and_its_replay_is_200_with_the_same_body(erx, site, technician):
    api = Api(technician)  # a bearer token: how an e-prescribing gateway connects
    xml = newrx(site)

    first = api.post_raw("/erx/inbox", xml, "application/xml")

    assert first.status_code == 201, first.content
    out = first.json()
    message = ErxMessage.objects.get(direction="in")
    assert out["id"] == message.pk
    assert (out["message_id"], out["message_type"], out["created"]) == (
        "MSG-API-0001",
        "NewRx",
        True,
    )
    # Nobody in the message is on file yet: it waits for a technician to match it.
    assert (out["status"], out["prescription_id"]) == ("needs_match", None)
    assert out["status_note"] == message.status_note != ""
    assert out["candidates"] == message.candidates
    assert set(out["candidates"]) >= {"patient", "prescriber", "package"}
    assert "<RelatesToMessageID>MSG-API-0001</RelatesToMessageID>" in out["reply_xml"]
    assert "<Status><Code>010</Code></Status>" in out["reply_xml"]
    assert AuditEvent.objects.filter(actor_kind="token").exists()
    prescriptions = Prescription.objects.count()

    replays = [api.post_raw("/erx/inbox", xml, "text/xml") for _ in range(3)]

    assert [r.status_code for r in replays] == [200, 200, 200]
    assert all(r.json() == {**out, "created": False} for r in replays)
    assert ErxMessage.objects.filter(direction="in").count() == 1
    assert Prescription.objects.count() == prescriptions


def test_a_new_rx_that_matches_queues_a_prescription(erx, as_tech, site):
    patient = PatientFactory(
        site=site, first_name="Jane", last_name="Testpatient", date_of_birth=dt.date(1980, 7, 4)
    )
    prescriber = PrescriberFactory(
        site=site, first_name="Sam", last_name="Testdoctor", npi="1245319599"
    )
    package = PackageFactory(
        product=ProductFactory(name="Lisinopril", strength="10 mg/1", dosage_form="TABLET"),
        ndc10="12345-6789-1",
        description="30 TABLET in 1 BOTTLE (12345-6789-01)",
    )

    response = as_tech.post_raw("/erx/inbox", newrx(site), "application/xml")

    assert response.status_code == 201, response.content
    out = response.json()
    assert out["status"] == "queued", out
    rx = Prescription.objects.get(pk=out["prescription_id"])
    assert (rx.patient, rx.prescriber, rx.package, rx.origin) == (patient, prescriber, package, 3)
    shown = as_tech.get(f"/prescriptions/{rx.pk}").json()
    assert (shown["origin"]["label"], shown["refills_authorized"]) == ("Electronic", 5)


def test_the_same_message_id_with_other_content_is_a_409(erx, as_tech, site):
    as_tech.post_raw("/erx/inbox", newrx(site), "application/xml")
    before = counts()

    changed = newrx(
        site, **{"<NumberOfRefills>5</NumberOfRefills>": "<NumberOfRefills>2</NumberOfRefills>"}
    )
    problem = problem_of(as_tech.post_raw("/erx/inbox", changed, "application/xml"), 409)

    assert "MSG-API-0001" in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == ["Header/MessageID"]
    assert counts() == before


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Message [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Message><Header><MessageID>&lol9;</MessageID></Header></Message>"""


def test_hostile_xml_is_a_422_and_creates_nothing(erx, as_tech):
    before = counts()
    for xml in (BILLION_LAUGHS, b"<Message><Header>", b"not xml at all"):
        problem = problem_of(as_tech.post_raw("/erx/inbox", xml, "application/xml"), 422)
        assert problem["type"] == "/problems/script_invalid"
        assert problem["errors"] and all(e["field"] and e["message"] for e in problem["errors"])
    assert counts() == before


def test_a_malformed_element_is_a_422_naming_its_path(erx, as_tech, site):
    xml = newrx(site, **{"<Value>30</Value>": "<Value>thirty</Value>"})
    before = counts()
    problem = problem_of(as_tech.post_raw("/erx/inbox", xml, "application/xml"), 422)
    assert "MedicationPrescribed.Quantity.Value" in [e["field"] for e in problem["errors"]]
    assert Prescription.objects.count() == before[1]
