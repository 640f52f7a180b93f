"""Clinical interventions: NCPDP codes checked, a prescriber consult names the prescriber
and when, an outcome closes at once, closing once; technicians are refused."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from rxdesk.care import queries_counsel as queries
from rxdesk.care import services_counsel as services
from rxdesk.care.choices import InterventionStatus
from rxdesk.care.models import Intervention
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.core.models import AuditEvent
from tests.care import medrec_setup as ms
from tests.care.factories import staff
from tests.conftest import earlier_today, last_event
from tests.factories import PrescriberFactory


def _counts() -> tuple[int, int]:
    return Intervention.objects.count(), AuditEvent.objects.count()


def _data(ev: AuditEvent) -> dict:
    return json.loads(ev.data) if isinstance(ev.data, str) else ev.data


def test_a_prescriber_consult_is_recorded_open_then_closed(site):
    p = ms.patient(site)
    r = ms.rph(site)
    doc = PrescriberFactory(site=site)
    when = earlier_today(site, minutes=10)
    row = services.intervention_record(
        actor=r,
        patient=p,
        problem="DD",
        problem_detail="Warfarin with new fluconazole",
        action="m0",
        prescriber=doc,
        prescriber_contacted_at=when,
        minutes=6,
    )
    assert row.status == InterventionStatus.OPEN and row.action == "M0"
    assert _data(last_event()) == {
        "problem": "DD",
        "action": "M0",
        "outcome": "",
        "status": "open",
        "minutes": 6,
        "prescriber": doc.pk,
        "prescription": None,
        "fill": None,
    }
    before = _counts()
    with pytest.raises(Invalid) as exc:
        services.intervention_close(actor=r, intervention=row, outcome="00")
    assert exc.value.field == "outcome"
    with pytest.raises(Forbidden):
        services.intervention_close(actor=ms.tech(site), intervention=row, outcome="3A")
    assert _counts() == before
    row = services.intervention_close(
        actor=r,
        intervention=row,
        outcome="3E",
        outcome_detail="Changed to another azole",
        minutes=15,
    )
    assert (row.status, row.outcome, row.minutes, row.closed_by) == ("closed", "3E", 15, r)
    with pytest.raises(Conflict):
        services.intervention_close(actor=r, intervention=row, outcome="3A")


def test_an_outcome_closes_at_once(site):
    r = ms.rph(site)
    row = services.intervention_record(
        actor=r,
        patient=ms.patient(site),
        problem="HD",
        problem_detail="Dose above max",
        action="PE",
        outcome="1C",
        minutes=3,
    )
    assert row.status == InterventionStatus.CLOSED and row.closed_by == r


def test_codes_and_consult_rules(site):
    p = ms.patient(site)
    r = ms.rph(site)
    before = _counts()
    with pytest.raises(Invalid) as exc:
        services.intervention_record(
            actor=r,
            patient=p,
            problem="ZZ",
            problem_detail="",
            action="Q9",
            outcome="9Z",
            minutes=-1,
        )
    assert {e["field"] for e in exc.value.errors} == {
        "problem",
        "problem_detail",
        "action",
        "outcome",
        "minutes",
    }
    with pytest.raises(Invalid) as exc:
        services.intervention_record(
            actor=r, patient=p, problem="DD", problem_detail="x", action="M0", minutes=1
        )
    assert {e["field"] for e in exc.value.errors} == {"prescriber", "prescriber_contacted_at"}
    with pytest.raises(Invalid) as exc:
        services.intervention_record(
            actor=r,
            patient=p,
            problem="DD",
            problem_detail="x",
            action="M0",
            minutes=1,
            prescriber=PrescriberFactory(site=site),
            prescriber_contacted_at=timezone.now() + dt.timedelta(hours=2),
        )
    assert exc.value.field == "prescriber_contacted_at"
    assert _counts() == before


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.TECHNICIAN_IN_TRAINING, Role.AUDITOR])
def test_only_pharmacists_intervene(site, role):
    before = _counts()
    with pytest.raises(Forbidden):
        services.intervention_record(
            actor=staff(site, role),
            patient=ms.patient(site),
            problem="DD",
            problem_detail="x",
            action="PE",
            minutes=1,
        )
    assert _counts() == before


def test_the_report_counts_by_problem_and_outcome(site):
    r = ms.rph(site)
    p = ms.patient(site)
    for outcome, mins in (("1C", 5), ("1C", 7), ("", 3)):
        services.intervention_record(
            actor=r,
            patient=p,
            problem="HD",
            problem_detail="x",
            action="PE",
            outcome=outcome,
            minutes=mins,
        )
    services.intervention_record(
        actor=r,
        patient=p,
        problem="DA",
        problem_detail="x",
        action="PE",
        outcome="2A",
        minutes=10,
    )
    today = site.today()
    report = queries.intervention_report(actor=r, start=today, end=today)
    assert [(x.problem, x.outcome, x.count, x.minutes) for x in report.rows] == [
        ("DA", "2A", 1, 10),
        ("HD", "", 1, 3),
        ("HD", "1C", 2, 12),
    ]
    assert (report.total, report.total_minutes, report.open) == (4, 25, 1)
    text = queries.report_csv(report)
    assert text.splitlines()[0] == "problem,problem_name,outcome,outcome_name,interventions,minutes"
    assert text.splitlines()[-1] == ",Total,,,4,25"
    with pytest.raises(Invalid):
        queries.intervention_report(actor=r, start=today, end=today - dt.timedelta(days=1))
    with pytest.raises(Forbidden):
        queries.intervention_report(actor=ms.tech(site), start=today, end=today)
