"""Permission-matrix rows for institutional pharmacy: cycles (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* reading schedules and runs is ltc.view: technician, trainee, pharmacist, PIC, auditor;
* saving a schedule is ltc.setup: the PIC;
* generating, filling (scan), closing and cancelling a run is ltc.cycle: technician,
  pharmacist, PIC (never a trainee);
* the batch data verification and final verification are also the pharmacist's
  (rx.verify_data / rx.verify_final): pharmacist and PIC.

Also the set-up the cycle tests share: a facility with a 14-day schedule whose next cycle
starts in two days, residents with scheduled orders whose first fill is out of the way."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.institutional import services_cycles as services
from rxdesk.institutional.choices import CycleMode
from rxdesk.institutional.models import CycleLine, CycleRun, CycleSchedule, Resident
from rxdesk.inventory.models import StockBalance
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill, Prescription
from tests.factories import UserFactory
from tests.institutional import factories as f
from tests.inventory.factories import stock

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
VIEWERS = frozenset({T, TT, RPH, PIC, AUD})
CYCLERS = frozenset({T, RPH, PIC})
PHARMACISTS = frozenset({RPH, PIC})
SETUP = frozenset({PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/institutional"
LEAD = 2  # the next cycle starts two days from today


# --- set-up helpers ---------------------------------------------------------------------------


def person(site: Site, role: Role, username: str) -> User:
    found = User.objects.filter(username=username).first()
    return found or UserFactory(site=site, role=role, username=username)


def tech_of(site: Site) -> User:
    return person(site, T, f"cyc-tech-{site.pk}")


def rph_of(site: Site) -> User:
    return person(site, RPH, f"cyc-rph-{site.pk}")


def pic_of(site: Site) -> User:
    return person(site, PIC, f"cyc-pic-{site.pk}")


def schedule_of(site: Site, *, days: int = 14, mode: str = CycleMode.PERIOD) -> CycleSchedule:
    """The 14-day schedule of Oakwood 1W whose next cycle starts in two days."""
    place = f.facility(site)
    found = CycleSchedule.objects.filter(facility=place).first()
    if found is not None:
        return found
    return CycleSchedule.objects.create(
        facility=place,
        unit=f.unit(place),
        days=days,
        mode=mode,
        anchor=site.today() + dt.timedelta(days=LEAD),
        lead_days=3,
    )


def clear_first_fill(rx: Prescription) -> Prescription:
    """The fill prescription_create queued is taken out of the way (as if cancelled)."""
    Fill.objects.filter(prescription=rx, status=FillStatus.QUEUED).update(
        status=FillStatus.CANCELLED, cancel_reason="test set-up"
    )
    return rx


def order(actor: User, who: Resident, **over: Any) -> Prescription:
    """A scheduled BID order (30 capsules, 5 refills) with nothing waiting to be filled."""
    return clear_first_fill(f.scheduled_rx(actor, who, **over))


def stocked(rx: Prescription, quantity: int = 500) -> Prescription:
    assert rx.package is not None
    if not StockBalance.objects.filter(site=rx.site, package=rx.package).exists():
        stock(rx.site, rx.package, lot=f"CYC-{rx.package.pk}", quantity=quantity)
    return rx


def resident_with_order(site: Site, room: str = "101") -> tuple[Resident, Prescription]:
    who = f.resident(site, room=room)
    return who, stocked(order(tech_of(site), who))


def generated(site: Site) -> CycleRun:
    """A run of the schedule's next cycle with one resident's BID order queued."""
    schedule = schedule_of(site)
    found = CycleRun.objects.filter(schedule=schedule, status="open").first()
    if found is not None:
        return found
    resident_with_order(site)
    return services.cycle_generate(actor=tech_of(site), schedule=schedule)


def data_verified(site: Site) -> CycleRun:
    run = generated(site)
    services.cycle_run_data_verify(actor=rph_of(site), run=run)
    return run


def filled(site: Site) -> tuple[CycleRun, CycleLine]:
    run = data_verified(site)
    line = run.lines.select_related("prescription__package").get()
    pkg = line.prescription.package
    assert pkg is not None
    services.cycle_run_fill(actor=tech_of(site), run=run, line=line, code=pkg.ndc10)
    return run, line


def verified(site: Site) -> CycleRun:
    run, line = filled(site)
    services.cycle_run_verify(actor=rph_of(site), run=run, line_ids=[line.pk])
    return run


def line_fill(line: CycleLine) -> Fill:
    line.refresh_from_db()
    assert line.fill is not None
    return line.fill


# --- API rows ---------------------------------------------------------------------------------


def _schedule_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    place = f.facility(site)
    return f"{P}/cycles", {
        "facility_id": place.pk,
        "unit_id": f.unit(place).pk,
        "days": 7,
        "mode": "period",
        "anchor": site.today().isoformat(),
        "lead_days": 2,
    }


def _generate(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    resident_with_order(site)
    return f"{P}/cycles/{schedule_of(site).pk}/generate", {}


def _fill(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    run = data_verified(site)
    line = run.lines.select_related("prescription__package").get()
    assert line.prescription.package is not None
    return f"{P}/cycle-runs/{run.pk}/lines/{line.pk}/fill", {
        "code": line.prescription.package.ndc10
    }


def _verify(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    run, line = filled(site)
    return f"{P}/cycle-runs/{run.pk}/verify", {"line_ids": [line.pk]}


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/institutional/cycles"): (VIEWERS, 200, lambda s, u: (f"{P}/cycles", None)),
    ("POST", "/institutional/cycles"): (SETUP, 201, _schedule_body),
    ("PATCH", "/institutional/cycles/{schedule_id}"): (
        SETUP,
        200,
        lambda s, u: (f"{P}/cycles/{schedule_of(s).pk}", {"lead_days": 1}),
    ),
    ("POST", "/institutional/cycles/{schedule_id}/generate"): (CYCLERS, 201, _generate),
    ("GET", "/institutional/cycle-runs"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/cycle-runs", None),
    ),
    ("GET", "/institutional/cycle-runs/{run_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/cycle-runs/{generated(s).pk}", None),
    ),
    ("POST", "/institutional/cycle-runs/{run_id}/data-verify"): (
        PHARMACISTS,
        200,
        lambda s, u: (f"{P}/cycle-runs/{generated(s).pk}/data-verify", None),
    ),
    ("POST", "/institutional/cycle-runs/{run_id}/lines/{line_id}/fill"): (CYCLERS, 200, _fill),
    ("POST", "/institutional/cycle-runs/{run_id}/verify"): (PHARMACISTS, 200, _verify),
    ("POST", "/institutional/cycle-runs/{run_id}/close"): (
        CYCLERS,
        200,
        lambda s, u: (f"{P}/cycle-runs/{verified(s).pk}/close", None),
    ),
    ("POST", "/institutional/cycle-runs/{run_id}/cancel"): (
        CYCLERS,
        200,
        lambda s, u: (f"{P}/cycle-runs/{generated(s).pk}/cancel", {}),
    ),
}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _schedule_pk(site: Site) -> dict[str, Any]:
    resident_with_order(site)
    return {"pk": schedule_of(site).pk}


def _run_pk(site: Site) -> dict[str, Any]:
    return {"pk": generated(site).pk}


def _verified_pk(site: Site) -> dict[str, Any]:
    return {"pk": verified(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "ltc_cycles": (_none, VIEWERS, NOBODY, None),
    "ltc_cycle_schedule_save": (_none, None, SETUP, 422),
    "ltc_cycle_generate": (_schedule_pk, None, CYCLERS, 302),
    "ltc_cycle_run": (_run_pk, VIEWERS, NOBODY, None),
    "ltc_cycle_run_data_verify": (_run_pk, None, PHARMACISTS, 302),
    "ltc_cycle_run_scan": (_run_pk, None, CYCLERS, 422),
    "ltc_cycle_run_verify": (_run_pk, None, PHARMACISTS, 422),
    "ltc_cycle_run_close": (_verified_pk, None, CYCLERS, 302),
    "ltc_cycle_run_cancel": (_run_pk, None, CYCLERS, 302),
}
WATCHED: list[Any] = [CycleSchedule, CycleRun, CycleLine]
