"""Permission-matrix rows for duty, cleaning, waste and equipment (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* the duty board and the logs are read by everyone who works here and the auditor
  (duty.view, ops.view);
* signing oneself on and off (duty.sign) and recording cleaning, waste and equipment
  events (ops.log): technician, trainee, pharmacist, PIC, inventory specialist;
* the ratio, the cleaning schedule, the equipment list and ending someone else's shift
  (ops.setup): the PIC.

The sign-on rows put a pharmacist on duty first (no ratio set), so a technician's sign-on
is within the rule."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.operations.models import (
    CleaningRecord,
    CleaningTask,
    DutyShift,
    Equipment,
    EquipmentEvent,
    OperationsSettings,
    WasteRecord,
)
from tests.operations.factories import downtime, machine, on_duty, staff, task

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
VIEWERS = frozenset({T, TT, RPH, PIC, INV, AUD})
STAFF = frozenset({T, TT, RPH, PIC, INV})
SETUP = frozenset({PIC})

P = "/api/v1/operations"


def _none(site: Site) -> dict[str, Any]:
    return {}


def _get(path: str) -> Any:
    return lambda s, u: (f"{P}{path}", None)


def _sign_on(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    on_duty(staff(site, Role.PHARMACIST, "matrix-rph-on-duty"))
    return f"{P}/duty/sign-on", {}


def _sign_off(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    if user is not None:
        on_duty(user)
    return f"{P}/duty/sign-off", {}


def _end(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    shift = on_duty(staff(site, Role.TECHNICIAN, "matrix-forgot"))
    return f"{P}/duty/shifts/{shift.pk}/end", {"reason": "Forgot to sign off"}


def _task_update(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    t = task(site)
    body = {"area": "counter", "name": "Wipe the counter", "frequency": "shift", "agent": ""}
    return f"{P}/cleaning/tasks/{t.pk}", body


def _done(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/cleaning/tasks/{task(site).pk}/done", {}


def _equipment_update(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    m = machine(site)
    return f"{P}/equipment/{m.pk}", {"name": "Robot 1", "kind": "robot"}


def _event(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    m = machine(site)
    return f"{P}/equipment/{m.pk}/events", {"kind": "maintenance", "vendor_ticket": "T-1"}


def _event_end(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    m = machine(site)
    by = staff(site, Role.TECHNICIAN, "matrix-down")
    e = downtime(m, by, timezone.now() - dt.timedelta(minutes=40))
    return f"{P}/equipment/events/{e.pk}/end", {}


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/operations/duty"): (VIEWERS, 200, _get("/duty")),
    ("POST", "/operations/duty/sign-on"): (STAFF, 201, _sign_on),
    ("POST", "/operations/duty/sign-off"): (STAFF, 200, _sign_off),
    ("GET", "/operations/duty/shifts"): (VIEWERS, 200, _get("/duty/shifts")),
    ("POST", "/operations/duty/shifts/{shift_id}/end"): (SETUP, 200, _end),
    ("GET", "/operations/settings"): (VIEWERS, 200, _get("/settings")),
    ("PUT", "/operations/settings"): (
        SETUP,
        200,
        lambda s, u: (
            f"{P}/settings",
            {"max_technicians_per_pharmacist": 3, "citation": "Board rule 12.4"},
        ),
    ),
    ("GET", "/operations/cleaning/due"): (VIEWERS, 200, _get("/cleaning/due")),
    ("GET", "/operations/cleaning/tasks"): (VIEWERS, 200, _get("/cleaning/tasks")),
    ("POST", "/operations/cleaning/tasks"): (
        SETUP,
        201,
        lambda s, u: (
            f"{P}/cleaning/tasks",
            {"area": "refrigerator", "name": "Wipe the shelves", "frequency": "weekly"},
        ),
    ),
    ("PUT", "/operations/cleaning/tasks/{task_id}"): (SETUP, 200, _task_update),
    ("POST", "/operations/cleaning/tasks/{task_id}/done"): (STAFF, 201, _done),
    ("GET", "/operations/cleaning/records"): (VIEWERS, 200, _get("/cleaning/records")),
    ("GET", "/operations/waste"): (VIEWERS, 200, _get("/waste")),
    ("POST", "/operations/waste"): (
        STAFF,
        201,
        lambda s, u: (
            f"{P}/waste",
            {
                "kind": "non_hazardous",
                "quantity": "2.5",
                "unit": "lb",
                "sealed_at": timezone.now().isoformat(),
            },
        ),
    ),
    ("GET", "/operations/equipment"): (VIEWERS, 200, _get("/equipment")),
    ("POST", "/operations/equipment"): (
        SETUP,
        201,
        lambda s, u: (f"{P}/equipment", {"name": "Label printer 2", "kind": "label_printer"}),
    ),
    ("PUT", "/operations/equipment/{equipment_id}"): (SETUP, 200, _equipment_update),
    ("GET", "/operations/equipment/events"): (VIEWERS, 200, _get("/equipment/events")),
    ("POST", "/operations/equipment/{equipment_id}/events"): (STAFF, 201, _event),
    ("POST", "/operations/equipment/events/{event_id}/end"): (STAFF, 200, _event_end),
    ("GET", "/operations/equipment/downtime"): (VIEWERS, 200, _get("/equipment/downtime")),
}


def _task_kw(site: Site) -> dict[str, Any]:
    return {"pk": task(site).pk}


def _shift_kw(site: Site) -> dict[str, Any]:
    return {"pk": on_duty(staff(site, Role.TECHNICIAN, "ui-forgot")).pk}


def _machine_kw(site: Site) -> dict[str, Any]:
    return {"pk": machine(site).pk}


def _event_kw(site: Site) -> dict[str, Any]:
    m = machine(site)
    e = downtime(m, staff(site, Role.TECHNICIAN, "ui-down"), timezone.now() - dt.timedelta(hours=1))
    return {"pk": e.pk}


UI_ROWS: dict[str, Any] = {
    "operations_home": (_none, VIEWERS, NOBODY, None),
    "operations_duty": (_none, VIEWERS, STAFF, 422),
    "operations_duty_end": (_shift_kw, None, SETUP, 422),
    "operations_settings": (_none, VIEWERS, SETUP, 302),
    "operations_cleaning": (_none, VIEWERS, SETUP, 422),
    "operations_cleaning_done": (_task_kw, None, STAFF, 302),
    "operations_waste": (_none, VIEWERS, STAFF, 422),
    "operations_equipment": (_none, VIEWERS, SETUP, 422),
    "operations_equipment_detail": (_machine_kw, VIEWERS, STAFF, 422),
    "operations_event_end": (_event_kw, None, STAFF, 302),
    "operations_csv": (lambda s: {"log": "waste"}, VIEWERS, NOBODY, None),
}
WATCHED: list[Any] = [
    OperationsSettings,
    DutyShift,
    CleaningTask,
    CleaningRecord,
    WasteRecord,
    Equipment,
    EquipmentEvent,
]
