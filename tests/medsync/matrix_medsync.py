"""Permission-matrix rows for medication synchronization (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* reading (enrollments, cycles, call list, preview) is sync.view: technician, trainee,
  pharmacist, PIC;
* enrolling, including or keeping out, aligning, recording a call, queueing the sync fills
  and ending are sync.manage: technician, pharmacist, PIC."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.medsync.models import SyncCall, SyncCycle, SyncEnrollment, SyncFill, SyncMember
from tests.medsync.matrix_setup import cycle, enrollment, sync_patient

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
VIEWERS = frozenset({T, TT, RPH, PIC})
MANAGERS = frozenset({T, RPH, PIC})

P = "/api/v1/sync"


def _none(site: Site) -> dict[str, Any]:
    return {}


def _enrollment(site: Site) -> dict[str, Any]:
    return {"pk": enrollment(site).pk}


def _cycle(site: Site) -> dict[str, Any]:
    return {"pk": cycle(site).pk}


def _confirmed(site: Site) -> dict[str, Any]:
    return {"pk": cycle(site, confirmed=True).pk}


def _enroll_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    patient, rxs = sync_patient(site)
    return f"{P}/enrollments", {
        "patient_id": patient.pk,
        "sync_day": 20,
        "prescription_ids": [rx.pk for rx in rxs],
        "consent_note": "Agreed at the counter",
    }


def _preview(site: Site, user: User | None) -> tuple[str, None]:
    patient, rxs = sync_patient(site)
    ids = "&".join(f"prescription_ids={rx.pk}" for rx in rxs)
    return f"{P}/preview?patient_id={patient.pk}&sync_day=20&{ids}", None


def _on_enrollment(suffix: str, body: Any) -> Any:
    def setup(site: Site, user: User | None) -> tuple[str, Any]:
        row = enrollment(site)
        value = body(site) if callable(body) else body
        return f"{P}/enrollments/{row.pk}{suffix}", value

    return setup


def _on_cycle(suffix: str, body: Any, *, confirmed: bool = False) -> Any:
    def setup(site: Site, user: User | None) -> tuple[str, Any]:
        return f"{P}/cycles/{cycle(site, confirmed=confirmed).pk}{suffix}", body

    return setup


def _member_body(site: Site) -> dict[str, Any]:
    _, rxs = sync_patient(site)
    return {"prescription_id": rxs[1].pk, "included": False, "exclusion": "acute"}


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/sync/enrollments"): (VIEWERS, 200, lambda s, u: (f"{P}/enrollments", None)),
    ("POST", "/sync/enrollments"): (MANAGERS, 201, _enroll_body),
    ("GET", "/sync/preview"): (VIEWERS, 200, _preview),
    ("GET", "/sync/enrollments/{enrollment_id}"): (VIEWERS, 200, _on_enrollment("", None)),
    ("POST", "/sync/enrollments/{enrollment_id}/members"): (
        MANAGERS,
        200,
        _on_enrollment("/members", _member_body),
    ),
    ("POST", "/sync/enrollments/{enrollment_id}/align"): (
        MANAGERS,
        200,
        _on_enrollment("/align", {}),
    ),
    ("POST", "/sync/enrollments/{enrollment_id}/end"): (
        MANAGERS,
        200,
        _on_enrollment("/end", {"reason": "moved"}),
    ),
    ("GET", "/sync/cycles/{cycle_id}"): (VIEWERS, 200, _on_cycle("", None)),
    ("POST", "/sync/cycles/{cycle_id}/calls"): (
        MANAGERS,
        201,
        _on_cycle("/calls", {"outcome": "no_answer"}),
    ),
    ("POST", "/sync/cycles/{cycle_id}/queue"): (
        MANAGERS,
        200,
        _on_cycle("/queue", {}, confirmed=True),
    ),
    ("GET", "/sync/call-list"): (VIEWERS, 200, lambda s, u: (f"{P}/call-list?within=31", None)),
}

UI_ROWS: dict[str, Any] = {
    "medsync_home": (_none, VIEWERS, NOBODY, None),
    "medsync_call_list_csv": (_none, VIEWERS, NOBODY, None),
    "medsync_enroll": (_none, MANAGERS, MANAGERS, 422),
    "medsync_enrollment": (_enrollment, VIEWERS, NOBODY, None),
    "medsync_member": (_enrollment, None, MANAGERS, 422),
    "medsync_align": (_enrollment, None, MANAGERS, 302),
    "medsync_end": (_enrollment, None, MANAGERS, 422),
    "medsync_cycle": (_cycle, VIEWERS, NOBODY, None),
    "medsync_call": (_cycle, None, MANAGERS, 422),
    "medsync_queue": (_confirmed, None, MANAGERS, 302),
}
WATCHED: list[Any] = [SyncEnrollment, SyncMember, SyncCycle, SyncCall, SyncFill]
