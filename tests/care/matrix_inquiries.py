"""Permission-matrix rows for care: inquiries (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* inquiries name patients: read with care.view and patient.view — technician, trainee,
  pharmacist, PIC (never the auditor or the inventory specialist);
* logging and working them is care.inquiry: technician, pharmacist, PIC;
* answering an escalation is care.intervene: pharmacist, PIC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from rxdesk.care import services_inquiries as services
from rxdesk.care.models import Inquiry, InquiryEntry
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from tests.care.factories import staff
from tests.factories import PatientFactory

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
READERS = frozenset({T, TT, RPH, PIC})
WORKERS = frozenset({T, RPH, PIC})
PHARMACISTS = frozenset({RPH, PIC})

P = "/api/v1/care"


def clerk(site: Site) -> User:
    return staff(site, Role.TECHNICIAN, username=f"inq-clerk-{site.pk}")


def inquiry(site: Site, *, closed: bool = False) -> Inquiry:
    """A patient's incoming call about a drug, logged through the service."""
    who = clerk(site)
    row = services.inquiry_open(
        actor=who,
        channel="phone",
        incoming=True,
        party="patient",
        topic="drug_info",
        summary="Can I take it with food?",
        patient=PatientFactory(site=site),
    )
    if closed:
        services.inquiry_close(actor=who, inquiry=row, resolution="Answered")
    return row


def _i(site: Site) -> dict[str, Any]:
    return {"pk": inquiry(site).pk}


def _open_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/inquiries", {
        "channel": "phone",
        "incoming": True,
        "party": "patient",
        "topic": "refill",
        "summary": "Needs a refill",
        "patient_id": PatientFactory(site=site).pk,
    }


def _on(suffix: str, body: dict[str, Any], *, closed: bool = False) -> Any:
    def setup(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
        return f"{P}/inquiries/{inquiry(site, closed=closed).pk}{suffix}", body

    return setup


def _later() -> str:
    return (timezone.now() + dt.timedelta(hours=2)).isoformat()


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/care/inquiries"): (READERS, 200, lambda s, u: (f"{P}/inquiries?overdue=false", None)),
    ("POST", "/care/inquiries"): (WORKERS, 201, _open_body),
    ("GET", "/care/inquiries/{inquiry_id}"): (READERS, 200, _on("", None)),  # type: ignore[arg-type]
    ("POST", "/care/inquiries/{inquiry_id}/entries"): (
        WORKERS,
        201,
        _on("/entries", {"kind": "call_out", "text": "Told her yes"}),
    ),
    ("POST", "/care/inquiries/{inquiry_id}/callback"): (
        WORKERS,
        200,
        lambda s, u: (f"{P}/inquiries/{inquiry(s).pk}/callback", {"due": _later()}),
    ),
    ("POST", "/care/inquiries/{inquiry_id}/escalate"): (
        WORKERS,
        200,
        _on("/escalate", {"reason": "Dose question"}),
    ),
    ("POST", "/care/inquiries/{inquiry_id}/answer"): (
        PHARMACISTS,
        200,
        _on("/answer", {"text": "With food"}),
    ),
    ("POST", "/care/inquiries/{inquiry_id}/close"): (
        WORKERS,
        200,
        _on("/close", {"resolution": "Answered"}),
    ),
    ("POST", "/care/inquiries/{inquiry_id}/reopen"): (
        WORKERS,
        200,
        _on("/reopen", {"reason": "Called again"}, closed=True),
    ),
}

UI_ROWS: dict[str, Any] = {
    "care_inquiries": (lambda s: {}, READERS, NOBODY, None),
    "care_inquiry_new": (lambda s: {}, WORKERS, WORKERS, 422),
    "care_inquiry": (_i, READERS, NOBODY, None),
    "care_inquiry_note": (_i, None, WORKERS, 422),
    "care_inquiry_callback": (_i, None, WORKERS, 422),
    "care_inquiry_escalate": (_i, None, WORKERS, 422),
    "care_inquiry_answer": (_i, None, PHARMACISTS, 422),
    "care_inquiry_close": (_i, None, WORKERS, 422),
    "care_inquiry_reopen": (_i, None, WORKERS, 422),
}
WATCHED: list[Any] = [Inquiry, InquiryEntry]
