"""Permission-matrix rows for compounding: cleanroom (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* the board, the histories and the list of corrective actions are compounding.view:
  technician, pharmacist, pharmacist-in-charge, auditor;
* samples, pressures, temperature/humidity and cleaning are compounding.monitor: technician,
  pharmacist, pharmacist-in-charge;
* opening and closing corrective actions is compounding.correct: the pharmacists;
* rooms, PECs and certifications are compounding.facility: the pharmacist-in-charge only.

Trainees, inventory specialists and admins have none of them."""

from __future__ import annotations

from typing import Any

from rxdesk.compounding.models import (
    Certification,
    CleaningLog,
    CorrectiveAction,
    EngineeringControl,
    EnvironmentalSample,
    PressureReading,
    Room,
    RoomConditions,
)
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from tests.compounding.factories import cleanroom

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
VIEWERS = frozenset({T, RPH, PIC, AUD})
MONITORS = frozenset({T, RPH, PIC})
CORRECTORS = frozenset({RPH, PIC})
FACILITY = frozenset({PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/compounding/cleanroom"


def suite(site: Site) -> tuple[Room, EngineeringControl]:
    """The site's buffer room with its hood (made once per site)."""
    room = Room.objects.filter(site=site, name="Buffer room").first()
    if room is None:
        return cleanroom(site)
    return room, EngineeringControl.objects.get(site=site, room=room, name="LAFW 1")


def open_action(site: Site) -> CorrectiveAction:
    room, _ = suite(site)
    return CorrectiveAction.objects.create(
        site=site, source="other", room=room, problem="Ante-room door left open"
    )


# --- API rows ---------------------------------------------------------------------------


def _room_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/rooms", {"name": "Ante-room", "kind": "ante"}


def _room_patch(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    room, _ = suite(site)
    return f"{P}/rooms/{room.pk}", {"name": "Buffer room A"}


def _control_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    room, _ = suite(site)
    return f"{P}/controls", {"room_id": room.pk, "name": "BSC 2", "kind": "bsc2"}


def _control_patch(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    _, hood = suite(site)
    return f"{P}/controls/{hood.pk}", {"serial_number": "SN-42"}


def _certification(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    _, hood = suite(site)
    return f"{P}/certifications", {
        "control_id": hood.pk,
        "certified_on": site.today().isoformat(),
        "certifier": "CleanAir Certifiers",
    }


def _sample(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    _, hood = suite(site)
    return f"{P}/samples", {
        "kind": "surface",
        "control_id": hood.pk,
        "location": "Work surface, centre",
        "cfu": 0,
    }


def _pressure(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    room, _ = suite(site)
    return f"{P}/pressures", {"room_id": room.pk, "reference": "ante-room", "inches_wc": 0.03}


def _conditions(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    room, _ = suite(site)
    return f"{P}/conditions", {"room_id": room.pk, "temperature_c": 19.5, "humidity_pct": 45}


def _cleaning(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    room, _ = suite(site)
    return f"{P}/cleaning", {
        "room_id": room.pk,
        "area": "floors",
        "kind": "cleaning",
        "agent": "Neutral detergent",
    }


def _close(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/actions/{open_action(site).pk}/close", {"action_taken": "Door closer fixed."}


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/compounding/cleanroom"): (VIEWERS, 200, lambda s, u: (P, None)),
    ("POST", "/compounding/cleanroom/rooms"): (FACILITY, 201, _room_body),
    ("PATCH", "/compounding/cleanroom/rooms/{room_id}"): (FACILITY, 200, _room_patch),
    ("POST", "/compounding/cleanroom/controls"): (FACILITY, 201, _control_body),
    ("PATCH", "/compounding/cleanroom/controls/{control_id}"): (FACILITY, 200, _control_patch),
    ("POST", "/compounding/cleanroom/certifications"): (FACILITY, 201, _certification),
    ("GET", "/compounding/cleanroom/samples"): (VIEWERS, 200, lambda s, u: (f"{P}/samples", None)),
    ("POST", "/compounding/cleanroom/samples"): (MONITORS, 201, _sample),
    ("POST", "/compounding/cleanroom/pressures"): (MONITORS, 201, _pressure),
    ("POST", "/compounding/cleanroom/conditions"): (MONITORS, 201, _conditions),
    ("POST", "/compounding/cleanroom/cleaning"): (MONITORS, 201, _cleaning),
    ("GET", "/compounding/cleanroom/actions"): (VIEWERS, 200, lambda s, u: (f"{P}/actions", None)),
    ("POST", "/compounding/cleanroom/actions"): (
        CORRECTORS,
        201,
        lambda s, u: (f"{P}/actions", {"problem": "Ceiling tile out of place"}),
    ),
    ("POST", "/compounding/cleanroom/actions/{action_id}/close"): (CORRECTORS, 200, _close),
}


# --- UI rows ----------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _room(site: Site) -> dict[str, Any]:
    return {"pk": suite(site)[0].pk}


def _pec(site: Site) -> dict[str, Any]:
    return {"pk": suite(site)[1].pk}


def _action(site: Site) -> dict[str, Any]:
    return {"pk": open_action(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "compounding_cleanroom": (_none, VIEWERS, NOBODY, None),
    "compounding_sample_new": (_none, MONITORS, MONITORS, 422),
    "compounding_pressure_new": (_none, MONITORS, MONITORS, 422),
    "compounding_conditions_new": (_none, MONITORS, MONITORS, 422),
    "compounding_cleaning_new": (_none, MONITORS, MONITORS, 422),
    "compounding_rooms": (_none, VIEWERS, FACILITY, 422),
    "compounding_room_edit": (_room, FACILITY, FACILITY, 422),
    "compounding_control_edit": (_pec, FACILITY, FACILITY, 422),
    "compounding_certification_new": (_none, FACILITY, FACILITY, 422),
    "compounding_actions": (_none, VIEWERS, CORRECTORS, 422),
    "compounding_action_close": (_action, CORRECTORS, CORRECTORS, 422),
    "compounding_samples": (_none, VIEWERS, NOBODY, None),
    "compounding_readings": (_none, VIEWERS, NOBODY, None),
    "compounding_cleaning_log": (_none, VIEWERS, NOBODY, None),
}
WATCHED: list[Any] = [
    Room,
    EngineeringControl,
    Certification,
    EnvironmentalSample,
    PressureReading,
    RoomConditions,
    CleaningLog,
    CorrectiveAction,
]
