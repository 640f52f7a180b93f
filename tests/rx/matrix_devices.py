"""Permission-matrix rows for the dispensing-device API (same shape as API_MATRIX in
tests/test_permission_matrix.py), written by hand: everyone who fills may send a fill to a
device and take in its result; everyone who reads prescriptions sees the devices."""

from __future__ import annotations

import tempfile
from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.rx.models import DispensingDevice
from rxdesk.rx.services import workflow
from tests.factories import UserFactory
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx

T, TT, RPH, PIC = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
)
READERS = frozenset({T, TT, RPH, PIC})
FILLERS = frozenset({T, TT, RPH, PIC})
P = "/api/v1"


def _device(site: Site) -> DispensingDevice:
    return DispensingDevice.objects.create(
        site=site, code="ROBOT1", name="Robot", transport="folder", folder=tempfile.mkdtemp()
    )


def _to_fill(site: Site) -> int:
    tech = UserFactory(site=site, role=Role.TECHNICIAN, username="matrix-dev-tech")
    rph = UserFactory(site=site, role=Role.PHARMACIST, username="matrix-dev-rph")
    rx = make_rx(tech)
    stock(site, rx.package, quantity=100)
    return workflow.fill_data_verify(actor=rph, fill=first_fill(rx)).pk


def _send(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    _device(site)
    return f"{P}/fills/{_to_fill(site)}/device", {"device": "robot1"}


def _filled(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    rph = UserFactory(site=site, role=Role.PHARMACIST, username="matrix-label-rph")
    fill = workflow.fill_data_verify(actor=rph, fill=first_fill(_rx_with_stock(site)))
    workflow.fill_product(actor=rph, fill=fill, scanned_code=fill.prescription.package.ndc10)
    return f"{P}/fills/{fill.pk}/label", {"format": "pdf"}


def _rx_with_stock(site: Site) -> Any:
    tech = UserFactory(site=site, role=Role.TECHNICIAN, username="matrix-label-tech")
    rx = make_rx(tech)
    stock(site, rx.package, quantity=100)
    return rx


API_ROWS: dict[tuple[str, str], Any] = {
    ("POST", "/fills/{fill_id}/label"): (FILLERS, 200, _filled),
    ("GET", "/devices"): (READERS, 200, lambda s, u: (f"{P}/devices", None)),
    ("POST", "/fills/{fill_id}/device"): (FILLERS, 200, _send),
    # The matrix client sends JSON; an allowed role gets 415 (the body must be HL7 v2),
    # a forbidden one 403 before the body is looked at.
    ("POST", "/devices/{code}/results"): (
        FILLERS,
        415,
        lambda s, u: (f"{P}/devices/{_device(s).code}/results", {"x": 1}),
    ),
}
