"""Permission-matrix rows for the prescription API (same shape as
tests/test_permission_matrix.py's API_MATRIX). Written by hand from the specification:
prescriptions are read and taken in by technicians, trainees, pharmacists and the PIC;
transfers are recorded by a pharmacist or the PIC; the inventory specialist, the auditor
and the admin see no prescriptions (HIPAA minimum necessary)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.rx import services
from rxdesk.rx.models import Fill, Prescription
from rxdesk.rx.services import workflow
from tests.factories import UserFactory
from tests.inventory.factories import stock
from tests.rx.factories import dispense, first_fill, make_rx, parts

T, TT, RPH, PIC = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
)
RX_READERS = frozenset({T, TT, RPH, PIC})
RX_WRITERS = frozenset({T, TT, RPH, PIC})
RX_TRANSFER = frozenset({RPH, PIC})

P = "/api/v1"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
PHARMACY = {
    "pharmacy_name": "Lakeside Pharmacy",
    "pharmacy_address": "9 Lake St, Springfield IL 62704",
    "other_pharmacist": "Dana Reyes, RPh",
    "pharmacy_dea": "AW1234563",
}


def _clerk(site: Site) -> User:
    """Who set up the rows the call works on (not the caller, whose role varies)."""
    return UserFactory(site=site, role=Role.TECHNICIAN, username="matrix-rx-setup")


def _rx(site: Site, **over: Any) -> Prescription:
    return make_rx(_clerk(site), **over)


def _refillable(site: Site) -> Prescription:
    rx = _rx(site, date_written=site.today() - dt.timedelta(days=40))
    dispense(first_fill(rx), site.today() - dt.timedelta(days=35))
    return rx


def _typed(site: Site) -> dict[str, Any]:
    p = parts(site)
    return {
        "patient_id": p["patient"].pk,
        "prescriber_id": p["prescriber"].pk,
        "ndc": p["package"].ndc10,
        "quantity": "30",
        "quantity_unit": "EA",
        "days_supply": 30,
        "directions": "1 CAP PO DAILY",
        "date_written": site.today().isoformat(),
    }


def _image_id(site: Site) -> int:
    return services.prescription_image_upload(actor=_clerk(site), content=PNG).pk


API_ROWS: dict[tuple[str, str], Any] = {
    ("POST", "/prescriptions"): (
        RX_WRITERS,
        201,
        lambda s, u: (f"{P}/prescriptions", {**_typed(s), "origin": 1, "refills_authorized": 2}),
    ),
    ("POST", "/prescriptions/transfer-in"): (
        RX_TRANSFER,
        201,
        lambda s, u: (
            f"{P}/prescriptions/transfer-in",
            {**_typed(s), **PHARMACY, "original_refills_authorized": 3, "refills_remaining": 3},
        ),
    ),
    ("GET", "/prescriptions/{prescription_id}"): (
        RX_READERS,
        200,
        lambda s, u: (f"{P}/prescriptions/{_rx(s).pk}", None),
    ),
    ("POST", "/prescriptions/{prescription_id}/refill-requests"): (
        RX_WRITERS,
        201,
        lambda s, u: (
            f"{P}/prescriptions/{_refillable(s).pk}/refill-requests",
            {"source": "phone"},
        ),
    ),
    ("POST", "/prescriptions/{prescription_id}/hold"): (
        RX_WRITERS,
        200,
        lambda s, u: (f"{P}/prescriptions/{_rx(s).pk}/hold", {"reason": "profile"}),
    ),
    ("POST", "/prescriptions/{prescription_id}/activate"): (
        RX_WRITERS,
        200,
        lambda s, u: (
            f"{P}/prescriptions/{_rx(s, hold=True, hold_reason='profile').pk}/activate",
            None,
        ),
    ),
    ("POST", "/prescriptions/{prescription_id}/inactivate"): (
        RX_WRITERS,
        200,
        lambda s, u: (
            f"{P}/prescriptions/{_rx(s).pk}/inactivate",
            {"reason": "discontinued"},
        ),
    ),
    ("POST", "/prescriptions/{prescription_id}/transfer-out"): (
        RX_TRANSFER,
        200,
        lambda s, u: (f"{P}/prescriptions/{_refillable(s).pk}/transfer-out", PHARMACY),
    ),
    # Opening the profile is PHI access: readers only (and it is logged).
    ("GET", "/patients/{patient_id}/profile"): (
        RX_READERS,
        200,
        lambda s, u: (f"{P}/patients/{_rx(s).patient_id}/profile", None),
    ),
    ("GET", "/refills/due"): (RX_READERS, 200, lambda s, u: (f"{P}/refills/due", None)),
    # The matrix client sends JSON only, and an upload is multipart/form-data: an allowed
    # role gets 422 naming the missing field "image" (the upload itself is tested in
    # tests/rx/test_api.py). The role is checked before the body, so the others get 403.
    ("POST", "/prescription-images"): (
        RX_WRITERS,
        422,
        lambda s, u: (f"{P}/prescription-images", {}),
    ),
    ("GET", "/prescription-images/{image_id}"): (
        RX_READERS,
        200,
        lambda s, u: (f"{P}/prescription-images/{_image_id(s)}", None),
    ),
    # The inbox takes NCPDP SCRIPT XML only and the matrix client sends JSON: an allowed
    # role gets 415 (XML receipt is tested in tests/rx/test_api.py). The role is checked
    # before the content type and the body, so the others get 403.
    ("POST", "/erx/inbox"): (RX_WRITERS, 415, lambda s, u: (f"{P}/erx/inbox", {})),
}


# --- The fill workflow (rxdesk/rx/api_fills.py) ------------------------------------------------
# Data and final verification are the pharmacist's (and the PIC's); filling, holds, the sale
# and return to stock are every prescription worker's; the priority is set by whoever takes
# prescriptions in. Each setup builds the fill in the state its step applies to, with stock on
# the shelf, so an allowed role succeeds.
RX_VERIFY = frozenset({RPH, PIC})
RX_FILL = frozenset({T, TT, RPH, PIC})


def _pharmacist(site: Site) -> User:
    return UserFactory(site=site, role=Role.PHARMACIST, username="matrix-rx-setup-rph")


def _fill_queued(site: Site) -> Fill:
    rx = _rx(site)
    stock(site, rx.package, lot="MATRIX-1", quantity=100)
    return first_fill(rx)


def _fill_to_fill(site: Site) -> Fill:
    return workflow.fill_data_verify(actor=_pharmacist(site), fill=_fill_queued(site))


def _fill_filled(site: Site) -> Fill:
    fill = _fill_to_fill(site)
    return workflow.fill_product(
        actor=_clerk(site), fill=fill, scanned_code=fill.prescription.package.ndc10
    )


def _fill_ready(site: Site) -> Fill:
    return workflow.fill_final_verify(actor=_pharmacist(site), fill=_fill_filled(site))


def _fill_held(site: Site) -> Fill:
    return workflow.fill_hold(actor=_clerk(site), fill=_fill_queued(site), reason="waiting_pa")


def _fill_overdue(site: Site) -> Fill:
    fill = _fill_ready(site)
    Fill.objects.filter(pk=fill.pk).update(ready_at=timezone.now() - dt.timedelta(days=11))
    return fill


API_ROWS.update(
    {
        ("GET", "/fills"): (
            RX_READERS,
            200,
            lambda s, u: (
                f"{P}/fills?status=queued&patient_id={_fill_queued(s).prescription.patient_id}",
                None,
            ),
        ),
        ("GET", "/fills/return-to-stock"): (
            RX_READERS,
            200,
            lambda s, u: (_fill_overdue(s) and f"{P}/fills/return-to-stock", None),
        ),
        ("GET", "/fills/{fill_id}"): (
            RX_READERS,
            200,
            lambda s, u: (f"{P}/fills/{_fill_ready(s).pk}", None),
        ),
        ("POST", "/fills/{fill_id}/data-verification"): (
            RX_VERIFY,
            200,
            lambda s, u: (f"{P}/fills/{_fill_queued(s).pk}/data-verification", {"approve": True}),
        ),
        ("POST", "/fills/{fill_id}/fill"): (
            RX_FILL,
            200,
            lambda s, u: (
                f"{P}/fills/{(f := _fill_to_fill(s)).pk}/fill",
                {"scanned_code": f.prescription.package.ndc10},
            ),
        ),
        ("POST", "/fills/{fill_id}/final-verification"): (
            RX_VERIFY,
            200,
            lambda s, u: (f"{P}/fills/{_fill_filled(s).pk}/final-verification", {}),
        ),
        ("POST", "/fills/{fill_id}/hold"): (
            RX_FILL,
            200,
            lambda s, u: (f"{P}/fills/{_fill_queued(s).pk}/hold", {"reason": "out_of_stock"}),
        ),
        ("POST", "/fills/{fill_id}/release"): (
            RX_FILL,
            200,
            lambda s, u: (f"{P}/fills/{_fill_held(s).pk}/release", None),
        ),
        ("POST", "/fills/{fill_id}/priority"): (
            RX_WRITERS,
            200,
            lambda s, u: (f"{P}/fills/{_fill_queued(s).pk}/priority", {"priority": "waiter"}),
        ),
        ("POST", "/fills/{fill_id}/sale"): (
            RX_FILL,
            200,
            lambda s, u: (f"{P}/fills/{_fill_ready(s).pk}/sale", None),
        ),
        ("POST", "/fills/{fill_id}/return-to-stock"): (
            RX_FILL,
            200,
            lambda s, u: (
                f"{P}/fills/{_fill_ready(s).pk}/return-to-stock",
                {"reason": "Not picked up"},
            ),
        ),
    }
)
