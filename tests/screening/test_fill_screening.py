"""Screening in the fill workflow: alerts kept with the fill, data verification blocked by
an unresolved interrupting alert, a pharmacist's resolution (and nobody else's), the
DUR/PPS segment for the claim, and the override report."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.core.models import AuditEvent
from rxdesk.rx.choices import FillStatus, FillStep
from rxdesk.rx.services import workflow
from rxdesk.screening import queries, services
from rxdesk.screening.models import FillAlert
from tests.conftest import last_event
from tests.factories import PatientFactory
from tests.screening.helpers import on_profile, package, prescribe, queued_fill

pytestmark = pytest.mark.django_db


@pytest.fixture
def nardil():
    return package("Nardil", "PHENELZINE SULFATE", "15")


@pytest.fixture
def prozac():
    return package("Prozac", "FLUOXETINE HYDROCHLORIDE", "20", form="CAPSULE")


@pytest.fixture
def blocked(technician, site, nardil, prozac):
    """A fluoxetine fill for a patient taking phenelzine (ONC high-priority: SSRI + MAOI)."""
    patient = PatientFactory(site=site)
    on_profile(technician, patient, nardil)
    return queued_fill(prescribe(technician, patient, prozac))


def _dd(actor, fill) -> FillAlert:
    return next(r for _, r in services.fill_screen(actor=actor, fill=fill).alerts if r.type == "DD")


def test_an_unresolved_interaction_blocks_data_verification(pharmacist, blocked):
    with pytest.raises(Invalid) as exc:
        workflow.fill_data_verify(actor=pharmacist, fill=blocked)
    assert [e["field"] for e in exc.value.errors] == ["alerts"]
    assert "DD" in exc.value.errors[0]["message"]
    blocked.refresh_from_db()
    assert blocked.status == FillStatus.QUEUED


def test_a_pharmacists_resolution_lets_it_through_and_is_kept(pharmacist, blocked):
    row = _dd(pharmacist, blocked)
    assert row.interrupting and row.rule.startswith("dd:onc-high-priority:")

    resolved = services.alert_resolve(
        actor=pharmacist,
        alert=row,
        professional_service="m0",
        result_of_service="1G",
        note="  Prescriber stopped phenelzine 3 weeks ago  ",
    )

    assert (resolved.professional_service, resolved.result_of_service) == ("M0", "1G")
    assert resolved.note == "Prescriber stopped phenelzine 3 weeks ago"
    assert resolved.resolved_by == pharmacist and resolved.resolved_at is not None
    event = last_event()
    assert event.action == "screening.alert.resolved"
    assert event.object_id == str(row.pk) and event.patient_id == blocked.prescription.patient_id
    assert json.loads(event.data)["result_of_service"] == "1G"
    assert "stopped" not in event.data  # the note's free text stays out of the audit log

    done = workflow.fill_data_verify(actor=pharmacist, fill=blocked)
    assert done.status == FillStatus.TO_FILL
    record = done.events.get(step=FillStep.DATA_VERIFIED).data["screening"]
    summary = record["results"][0]["alerts"]
    dd = [a for a in summary if a["type"] == "DD"]
    assert dd and dd[0]["resolved"] is True and dd[0]["result_of_service"] == "1G"


@pytest.mark.parametrize("role", ["technician", "trainee", "inventory", "auditor", "admin_user"])
def test_only_a_pharmacist_resolves(request, role, pharmacist, blocked):
    row = _dd(pharmacist, blocked)
    before = (
        AuditEvent.objects.count(),
        FillAlert.objects.filter(resolved_at__isnull=False).count(),
    )
    with pytest.raises(Forbidden):
        services.alert_resolve(
            actor=request.getfixturevalue(role),
            alert=row,
            professional_service="M0",
            result_of_service="1G",
            note="ok",
        )
    after = (
        AuditEvent.objects.count(),
        FillAlert.objects.filter(resolved_at__isnull=False).count(),
    )
    assert after == before


@pytest.mark.parametrize(
    ("service", "result", "note", "fields"),
    [
        ("MO", "1G", "x", ["professional_service"]),  # the letter O, not zero
        ("ZZ", "1G", "x", ["professional_service"]),
        ("M0", "9Z", "x", ["result_of_service"]),
        ("M0", "00", "x", ["result_of_service"]),
        ("M0", "1G", "   ", ["note"]),
        ("M0", "1G", "x" * 501, ["note"]),
        ("", "", "", ["professional_service", "result_of_service", "note"]),
    ],
)
def test_codes_and_note_are_checked_and_nothing_is_written(
    pharmacist, blocked, service, result, note, fields
):
    row = _dd(pharmacist, blocked)
    events = AuditEvent.objects.count()
    with pytest.raises(Invalid) as exc:
        services.alert_resolve(
            actor=pharmacist,
            alert=row,
            professional_service=service,
            result_of_service=result,
            note=note,
        )
    assert [e["field"] for e in exc.value.errors] == fields
    row.refresh_from_db()
    assert row.resolved_at is None and AuditEvent.objects.count() == events


def test_the_letter_o_is_explained(pharmacist, blocked):
    with pytest.raises(Invalid) as exc:
        services.alert_resolve(
            actor=pharmacist,
            alert=_dd(pharmacist, blocked),
            professional_service="PO",
            result_of_service="1B",
            note="x",
        )
    assert "P0 (zero)" in exc.value.message


def test_a_resolution_is_final(pharmacist, pic, blocked):
    row = _dd(pharmacist, blocked)
    services.alert_resolve(
        actor=pharmacist, alert=row, professional_service="M0", result_of_service="1G", note="ok"
    )
    with pytest.raises(Conflict):
        services.alert_resolve(
            actor=pic, alert=row, professional_service="R0", result_of_service="1B", note="again"
        )
    row.refresh_from_db()
    assert row.resolved_by == pharmacist


def test_resolved_as_not_filled_still_blocks(pharmacist, blocked):
    row = _dd(pharmacist, blocked)
    services.alert_resolve(
        actor=pharmacist, alert=row, professional_service="M0", result_of_service="2A", note="no"
    )
    with pytest.raises(Invalid) as exc:
        workflow.fill_data_verify(actor=pharmacist, fill=blocked)
    assert "send the fill back" in exc.value.errors[0]["message"]


def test_a_rerun_keeps_resolutions_and_adds_nothing_twice(pharmacist, technician, blocked):
    row = _dd(pharmacist, blocked)
    services.alert_resolve(
        actor=pharmacist, alert=row, professional_service="M0", result_of_service="1G", note="ok"
    )
    count = FillAlert.objects.filter(fill=blocked).count()
    events = AuditEvent.objects.count()
    again = services.fill_screen(actor=technician, fill=blocked)
    assert FillAlert.objects.filter(fill=blocked).count() == count
    assert AuditEvent.objects.count() == events  # nothing new raised: nothing to audit
    kept = next(r for _, r in again.alerts if r.pk == row.pk)
    assert kept.result_of_service == "1G" and again.waiting == []


def test_screening_a_fill_audits_what_it_raised(technician, blocked):
    services.fill_screen(actor=technician, fill=blocked)
    event = last_event()
    assert event.action == "screening.fill.screened"
    assert any(k.startswith("dd:onc-high-priority:") for k in json.loads(event.data)["raised"])


def test_another_pharmacys_fill_and_alert_do_not_exist(outsider, pharmacist, blocked):
    from rxdesk.core.errors import NotFound

    row = _dd(pharmacist, blocked)
    with pytest.raises(NotFound):
        services.fill_screen(actor=outsider, fill=blocked)
    outsider_rph = type(pharmacist).objects.create(
        username="lake-rph", site=outsider.site, role="pharmacist", last_name="Lake"
    )
    with pytest.raises((NotFound, Forbidden)):
        services.alert_resolve(
            actor=outsider_rph,
            alert=row,
            professional_service="M0",
            result_of_service="1G",
            note="ok",
        )


def test_a_fill_without_alerts_goes_through_and_says_so(technician, pharmacist, site, prozac):
    fill = queued_fill(prescribe(technician, PatientFactory(site=site), prozac))
    done = workflow.fill_data_verify(actor=pharmacist, fill=fill)
    assert done.status == FillStatus.TO_FILL
    record = done.events.get(step=FillStep.DATA_VERIFIED).data["screening"]
    assert record == {"results": [{"alerts": []}]}


def test_a_discontinued_interacting_drug_does_not_alert(
    technician, pharmacist, site, nardil, prozac
):
    patient = PatientFactory(site=site)
    old = on_profile(technician, patient, nardil, days_ago=60)  # 30 days' supply, long gone
    assert old.pk
    fill = queued_fill(prescribe(technician, patient, prozac))
    assert [
        r for _, r in services.fill_screen(actor=pharmacist, fill=fill).alerts if r.type == "DD"
    ] == []


# --- the claim's DUR/PPS segment ------------------------------------------------------------------


def test_fill_dur_gives_the_resolved_triplet_and_the_co_agent(pharmacist, blocked, nardil):
    assert queries.fill_dur(blocked) == []
    row = _dd(pharmacist, blocked)
    services.alert_resolve(
        actor=pharmacist, alert=row, professional_service="M0", result_of_service="1G", note="ok"
    )
    assert queries.fill_dur(blocked) == [
        {
            "reason_for_service": "DD",
            "professional_service": "M0",
            "result_of_service": "1G",
            "level_of_effort": "",
            "co_agent_qualifier": "03",
            "co_agent_id": nardil.ndc11,
        }
    ]


# --- the report ----------------------------------------------------------------------------------


def test_override_rates_per_rule(technician, pharmacist, site, nardil, prozac):
    fills = []
    for _ in range(4):
        patient = PatientFactory(site=site)
        on_profile(technician, patient, nardil)
        fills.append(queued_fill(prescribe(technician, patient, prozac)))
    rows = [_dd(pharmacist, f) for f in fills]
    for row, result in zip(rows, ["1G", "1B", "2A"], strict=False):
        services.alert_resolve(
            actor=pharmacist,
            alert=row,
            professional_service="M0",
            result_of_service=result,
            note="n",
        )
    today = site.today()
    rates = {r.rule: r for r in queries.alert_rates(actor=pharmacist, start=today, end=today)}
    rate = rates[rows[0].rule]
    assert (rate.raised, rate.interrupted, rate.resolved, rate.overridden) == (4, 4, 3, 2)
    assert str(rate.override_rate) == "50.0"
    assert rate.source.startswith("ONC High-Priority")


def test_the_report_is_for_pharmacists_and_the_auditor(technician, auditor, site):
    today = site.today()
    assert queries.alert_rates(actor=auditor, start=today, end=today) == []
    with pytest.raises(Forbidden):
        queries.alert_rates(actor=technician, start=today, end=today)


def test_the_report_counts_the_pharmacys_days(pharmacist, site):
    today = site.today()
    with pytest.raises(Invalid):
        queries.alert_rates(actor=pharmacist, start=today - dt.timedelta(days=400), end=today)


# --- a prescription as typed -----------------------------------------------------------------


def test_a_typed_prescription_is_screened_without_keeping_anything(technician, outsider, blocked):
    from rxdesk.core.errors import NotFound

    rx = blocked.prescription
    events = AuditEvent.objects.count()
    alerts = queries.screen_prescription(actor=technician, rx=rx)
    assert [a.type for a in alerts if a.interrupts] == ["DD"]
    assert FillAlert.objects.count() == 0 and AuditEvent.objects.count() == events
    with pytest.raises(NotFound):
        queries.screen_prescription(actor=outsider, rx=rx)


def test_the_kidney_check_reads_the_creatinine_on_the_record(technician, site):
    from rxdesk.patients.services import measurement_record

    patient = PatientFactory(site=site, date_of_birth=dt.date(1940, 1, 1), sex="F")
    measurement_record(actor=technician, patient=patient, kind="weight", value="50", unit="kg")
    fill = queued_fill(
        prescribe(
            technician,
            patient,
            package("Glucophage", "METFORMIN HYDROCHLORIDE", "500"),
            "1 T PO BID",
        )
    )
    before = {r.type for _, r in services.fill_screen(actor=technician, fill=fill).alerts}
    assert "DL" not in before  # no creatinine on record: no kidney alert, never a guess

    measurement_record(actor=technician, patient=patient, kind="scr", value="2.5", unit="mg/dL")
    rows = [r for _, r in services.fill_screen(actor=technician, fill=fill).alerts]
    renal = [r for r in rows if r.type == "DL"]
    assert renal and "metformin" in renal[0].message.lower()
    # (140 - 86) × 50 / (72 × 2.5) × 0.85 = 12.75 mL/min
    assert "12.8" in renal[0].message or "12.7" in renal[0].message
