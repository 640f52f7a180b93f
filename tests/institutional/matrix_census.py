"""Permission-matrix rows for institutional pharmacy: census (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* facilities are read with ltc.view: technician, trainee, pharmacist, PIC, auditor;
* facilities, units and pass times are set up with ltc.setup: the PIC only;
* residents and the MAR name patients: ltc.view and patient.view — technician, trainee,
  pharmacist, PIC (never the auditor or the inventory specialist);
* admitting, census changes and order times are ltc.census: technician, pharmacist, PIC.

Also the set-up the census tests share: a resident admitted through the service (with its
ADMIT event) and a prescription of the resident's patient."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.institutional import services_census as services
from rxdesk.institutional.models import (
    CensusEvent,
    Facility,
    OrderSchedule,
    PassTime,
    Resident,
    Unit,
)
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Prescription
from tests.factories import PatientFactory
from tests.institutional.factories import facility, staff, unit
from tests.rx.factories import make_rx

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
VIEWERS = frozenset({T, TT, RPH, PIC, AUD})
READERS = frozenset({T, TT, RPH, PIC})  # ltc.view and patient.view
CENSUS = frozenset({T, RPH, PIC})
SETUP = frozenset({PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/institutional"


# --- set-up helpers ---------------------------------------------------------------------------


def clerk(site: Site) -> User:
    """The technician who records the census in set-up."""
    return staff(site, Role.TECHNICIAN, username=f"ltc-clerk-{site.pk}")


def patient(site: Site, first: str = "Lucia", last: str = "Diaz", sex: str = "F") -> Patient:
    return PatientFactory(site=site, first_name=first, last_name=last, sex=sex)


def admitted(
    site: Site,
    *,
    who: Patient | None = None,
    place: Facility | None = None,
    room: str = "101",
    days_ago: int = 40,
) -> Resident:
    """A resident admitted through the service ``days_ago`` days ago (unit 1W)."""
    place = place or facility(site)
    return services.resident_admit(
        actor=clerk(site),
        facility=place,
        patient=who or patient(site),
        unit=unit(place),
        room=room,
        bed="A",
        admitted_at=dt.datetime.now(tz=site.tz) - dt.timedelta(days=days_ago),
    )


def rx_of(resident: Resident, **over: Any) -> Prescription:
    """An active prescription of the resident's patient (30 capsules, 1 a day unless told)."""
    over.setdefault("directions", "1 CAP PO BID")
    over.setdefault("date_written", resident.site.today() - dt.timedelta(days=50))
    return make_rx(clerk(resident.site), patient=resident.patient, **over)


def _facility_id(site: Site) -> int:
    return facility(site).pk


# --- API rows ---------------------------------------------------------------------------------


def _admit(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    place = facility(site)
    return f"{P}/residents", {
        "facility_id": place.pk,
        "patient_id": patient(site).pk,
        "unit_id": unit(place).pk,
        "room": "102",
    }


def _schedule(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    r = admitted(site)
    rx = rx_of(r)
    return f"{P}/residents/{r.pk}/schedules/{rx.pk}", {"times": ["08:00", "17:00"], "dose": "1"}


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/institutional/facilities"): (VIEWERS, 200, lambda s, u: (f"{P}/facilities", None)),
    ("POST", "/institutional/facilities"): (
        SETUP,
        201,
        lambda s, u: (f"{P}/facilities", {"code": "MAPLE", "name": "Maple Grove", "kind": "alf"}),
    ),
    ("GET", "/institutional/facilities/{facility_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/facilities/{_facility_id(s)}", None),
    ),
    ("PATCH", "/institutional/facilities/{facility_id}"): (
        SETUP,
        200,
        lambda s, u: (f"{P}/facilities/{_facility_id(s)}", {"name": "Oakwood Care"}),
    ),
    ("PUT", "/institutional/facilities/{facility_id}/pass-times"): (
        SETUP,
        200,
        lambda s, u: (
            f"{P}/facilities/{_facility_id(s)}/pass-times",
            {"times": [{"time": "09:00", "slot": "morning"}, {"time": "21:00", "slot": "bedtime"}]},
        ),
    ),
    ("POST", "/institutional/facilities/{facility_id}/units"): (
        SETUP,
        201,
        lambda s, u: (f"{P}/facilities/{_facility_id(s)}/units", {"code": "2E", "name": "2 East"}),
    ),
    ("GET", "/institutional/residents"): (READERS, 200, lambda s, u: (f"{P}/residents", None)),
    ("POST", "/institutional/residents"): (CENSUS, 201, _admit),
    ("GET", "/institutional/residents/{resident_id}"): (
        READERS,
        200,
        lambda s, u: (f"{P}/residents/{admitted(s).pk}", None),
    ),
    ("POST", "/institutional/residents/{resident_id}/census"): (
        CENSUS,
        201,
        lambda s, u: (f"{P}/residents/{admitted(s).pk}/census", {"kind": "leave"}),
    ),
    ("PUT", "/institutional/residents/{resident_id}/schedules/{prescription_id}"): (
        CENSUS,
        200,
        _schedule,
    ),
    ("GET", "/institutional/residents/{resident_id}/mar"): (
        READERS,
        200,
        lambda s, u: (f"{P}/residents/{admitted(s).pk}/mar", None),
    ),
}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _place(site: Site) -> dict[str, Any]:
    return {"pk": facility(site).pk}


def _resident(site: Site) -> dict[str, Any]:
    return {"pk": admitted(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "ltc_facilities": (_none, VIEWERS, NOBODY, None),
    "ltc_facility_new": (_none, SETUP, SETUP, 422),
    "ltc_facility": (_place, VIEWERS, NOBODY, None),
    "ltc_facility_edit": (_place, None, SETUP, 422),
    "ltc_facility_pass_times": (_place, None, SETUP, 422),
    "ltc_facility_unit": (_place, None, SETUP, 422),
    "ltc_residents": (_none, READERS, NOBODY, None),
    "ltc_resident_admit": (_none, CENSUS, CENSUS, 422),
    "ltc_resident": (_resident, READERS, NOBODY, None),
    "ltc_resident_census": (_resident, None, CENSUS, 422),
    "ltc_resident_schedule": (_resident, None, CENSUS, 422),
    "ltc_mar": (_resident, READERS, NOBODY, None),
}
WATCHED: list[Any] = [Facility, Unit, PassTime, Resident, CensusEvent, OrderSchedule]
