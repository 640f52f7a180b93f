"""Historical doses, refusals, corrections, entered in error and the PHI-access event."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.immunizations import services_administer as services
from rxdesk.immunizations.choices import RegistryAction
from rxdesk.immunizations.models import Immunization, RegistryMessage
from rxdesk.inventory.models import StockBalance, StockMove
from tests.immunizations.administer_setup import LOT, adult, child, given, pharmacist
from tests.immunizations.factories import staff, vaccine


@pytest.fixture
def enqueued(monkeypatch):
    """The actions handed to the registry part, in order (its own queueing policy may merge
    or cancel messages: that is tested there)."""
    calls: list[str] = []
    real = services.registry_enqueue

    def spy(*, immunization, action, actor):
        calls.append(str(action))
        return real(immunization=immunization, action=action, actor=actor)

    monkeypatch.setattr(services, "registry_enqueue", spy)
    return calls


def counts() -> tuple[int, int, int, int]:
    return (
        Immunization.objects.count(),
        RegistryMessage.objects.count(),
        StockMove.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


def snapshot(imm: Immunization) -> dict:
    return {
        f: getattr(Immunization.objects.get(pk=imm.pk), f)
        for f in ("route", "body_site", "dose_number", "eligibility", "note", "status")
    }


# --- historical ---------------------------------------------------------------------------


def test_a_historical_dose_moves_no_stock_and_is_not_reported(site, enqueued):
    vaccine("115")
    tech = staff(site, Role.TECHNICIAN)
    patient = adult(site)
    before = counts()
    imm = services.immunization_record_historical(
        actor=tech,
        patient=patient,
        cvx="115",
        administered_on=dt.date(2019, 3, 2),
        source="03",
        historical_source="Mother's vaccination card",
        ndc="58160-842-11",
    )
    assert imm.information_source == "03" and imm.stock_move is None
    assert imm.administered_at.astimezone(site.tz).date() == dt.date(2019, 3, 2)
    assert imm.ndc11 == "58160084211"
    after = counts()
    assert after[0] == before[0] + 1 and after[1] == before[1] and after[2] == before[2]
    assert enqueued == []
    event = AuditEvent.objects.get(action="immunizations.historical_recorded")
    assert "card" not in event.data


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"administered_on": dt.date(1960, 1, 1)}, "administered_on"),  # before birth
        ({"administered_on": dt.date(2999, 1, 1)}, "administered_on"),
        ({"source": "00"}, "source"),
        ({"historical_source": " "}, "historical_source"),
        ({"cvx": "999"}, "cvx"),
        ({"ndc": "12"}, "ndc"),
    ],
)
def test_a_bad_historical_dose_is_refused(site, over, field):
    vaccine("115")
    values = {
        "cvx": "115",
        "administered_on": dt.date(2019, 3, 2),
        "source": "02",
        "historical_source": "Clinic",
    } | over
    before = counts()
    with pytest.raises(Invalid) as info:
        services.immunization_record_historical(
            actor=staff(site, Role.TECHNICIAN), patient=adult(site), **values
        )
    assert info.value.field == field
    assert counts() == before


def test_trainees_and_auditors_record_nothing(site):
    vaccine("115")
    for role in (Role.TECHNICIAN_IN_TRAINING, Role.AUDITOR, Role.INVENTORY_SPECIALIST):
        with pytest.raises(Forbidden):
            services.immunization_record_historical(
                actor=staff(site, role),
                patient=adult(site),
                cvx="115",
                administered_on=dt.date(2019, 3, 2),
                source="02",
                historical_source="Clinic",
            )
        with pytest.raises(Forbidden):
            services.immunization_record_refusal(
                actor=staff(site, role), patient=adult(site), cvx="115", refusal_reason="03"
            )
    assert Immunization.objects.count() == 0


# --- refusal ------------------------------------------------------------------------------


def test_a_refusal_is_recorded_and_reported(site, enqueued):
    vaccine("150")
    imm = services.immunization_record_refusal(
        actor=staff(site, Role.TECHNICIAN),
        patient=child(site),
        cvx="150",
        refusal_reason="00",
        note="Parent wants to wait until next visit.",
    )
    assert imm.completion == "RE" and imm.refusal_reason == "00" and imm.stock_move is None
    assert enqueued == [RegistryAction.ADD]
    assert RegistryMessage.objects.get(immunization=imm).action == RegistryAction.ADD


def test_a_refusal_needs_a_known_reason(site):
    vaccine("150")
    with pytest.raises(Invalid) as info:
        services.immunization_record_refusal(
            actor=staff(site, Role.TECHNICIAN), patient=adult(site), cvx="150", refusal_reason="9"
        )
    assert info.value.field == "refusal_reason"
    assert Immunization.objects.count() == 0


# --- corrections --------------------------------------------------------------------------


def test_a_correction_changes_the_fields_and_reports_an_update(site, enqueued):
    imm = given(site)
    tech = staff(site, Role.TECHNICIAN)
    services.immunization_correct(
        actor=tech, immunization=imm, body_site="RD", dose_number=2, note="Charted right arm."
    )
    row = snapshot(imm)
    assert row["body_site"] == "RD" and row["dose_number"] == 2
    assert enqueued == [RegistryAction.ADD, RegistryAction.UPDATE]
    event = AuditEvent.objects.get(action="immunizations.corrected")
    data = json.loads(event.data)
    assert data["changes"]["body_site"] == ["LD", "RD"] or data["changes"]["body_site"]
    assert "Charted" not in event.data and "note" in data["fields"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"lot_number": "X1"}, "lot_number"),
        ({"vaccine": "115"}, "vaccine"),
        ({"route": "C38284"}, "body_site"),  # nasal keeps no body site
        ({"body_site": "ZZ"}, "body_site"),
        ({"eligibility": "V03"}, "eligibility"),  # an adult
        ({"dose_number": 99}, "dose_number"),
    ],
)
def test_a_bad_correction_changes_nothing(site, fields, field):
    imm = given(site)
    before, rows = snapshot(imm), counts()
    with pytest.raises(Invalid) as info:
        services.immunization_correct(actor=pharmacist(site), immunization=imm, **fields)
    assert field in [e["field"] for e in info.value.errors]
    assert snapshot(imm) == before and counts() == rows


def test_a_trainee_may_not_correct(site):
    imm = given(site)
    with pytest.raises(Forbidden):
        services.immunization_correct(
            actor=staff(site, Role.TECHNICIAN_IN_TRAINING), immunization=imm, dose_number=2
        )


def test_another_sites_dose_is_not_found(site, other_site):
    imm = given(other_site)
    with pytest.raises(NotFound):
        services.immunization_correct(actor=pharmacist(site), immunization=imm, dose_number=2)
    with pytest.raises(NotFound):
        services.immunization_mark_entered_in_error(
            actor=pharmacist(site), immunization=imm, reason="x"
        )


# --- entered in error ---------------------------------------------------------------------


def test_a_pharmacist_marks_a_dose_entered_in_error_and_stock_stays_out(site, enqueued):
    imm = given(site)
    stock = StockBalance.objects.get(site=site, lot__number=LOT).on_hand
    services.immunization_mark_entered_in_error(
        actor=pharmacist(site), immunization=imm, reason="Wrong patient selected"
    )
    row = Immunization.objects.get(pk=imm.pk)
    assert row.status == "entered_in_error" and row.status_reason == "Wrong patient selected"
    assert StockBalance.objects.get(site=site, lot__number=LOT).on_hand == stock
    assert enqueued == [RegistryAction.ADD, RegistryAction.DELETE]
    event = AuditEvent.objects.get(action="immunizations.entered_in_error")
    assert "Wrong patient" not in event.data
    with pytest.raises(Conflict):
        services.immunization_mark_entered_in_error(
            actor=pharmacist(site), immunization=imm, reason="again"
        )
    with pytest.raises(Conflict):
        services.immunization_correct(actor=pharmacist(site), immunization=imm, dose_number=2)


def test_a_technician_may_not_mark_entered_in_error(site):
    imm = given(site)
    before = counts()
    with pytest.raises(Forbidden):
        services.immunization_mark_entered_in_error(
            actor=staff(site, Role.TECHNICIAN), immunization=imm, reason="Wrong patient"
        )
    with pytest.raises(Invalid):
        services.immunization_mark_entered_in_error(
            actor=pharmacist(site), immunization=imm, reason=" "
        )
    assert counts() == before and snapshot(imm)["status"] == "recorded"


def test_opening_a_dose_is_a_phi_access_event(site):
    imm = given(site)
    services.immunization_record_viewed(
        actor=pharmacist(site), patient=imm.patient, immunization=imm
    )
    event = AuditEvent.objects.get(action="immunizations.record.viewed")
    assert event.patient_id == imm.patient_id and event.object_id == str(imm.pk)
    with pytest.raises(Forbidden):
        services.immunization_record_viewed(
            actor=staff(site, Role.AUDITOR), patient=imm.patient, immunization=imm
        )
