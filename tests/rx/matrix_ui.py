"""Permission-matrix rows for the prescription screens (same shape as
tests/test_permission_matrix_ui.py's UI_MATRIX; WATCHED lists models whose row counts
must not change on a refused POST). Written by hand from the specification:

* the four clinical roles (technician, trainee, pharmacist, pharmacist-in-charge) see and
  take in prescriptions; the inventory specialist, the auditor and the administrator see
  none of them (HIPAA minimum necessary);
* a transfer, in or out, is pharmacist to pharmacist (21 CFR 1306.25);
* the site's prescription rules are set by whoever edits the site record (PIC, admin)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.rx import services
from rxdesk.rx.choices import ErxStatus, MessageDirection
from rxdesk.rx.models import (
    ErxMessage,
    Fill,
    FillEvent,
    Prescription,
    PrescriptionImage,
    Transfer,
)
from tests.factories import PatientFactory, UserFactory
from tests.rx.factories import typed

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
CLINICAL = frozenset({T, TT, RPH, PIC})
PHARMACISTS = frozenset({RPH, PIC})
SITE_EDITORS = frozenset({PIC, ADM})
NOBODY: frozenset[Role] = frozenset()

NEWRX = Path(__file__).resolve().parent.parent / "interop" / "data" / "newrx_reference.xml"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _author(site: Site) -> User:
    return User.objects.filter(site=site, username="matrix-rx-author").first() or UserFactory(
        site=site, role=T, username="matrix-rx-author"
    )


def _rx(site: Site) -> Prescription:
    return services.prescription_create(actor=_author(site), **typed(site))


def _none(site: Site) -> dict[str, Any]:
    return {}


def _rx_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _rx(site).pk}


def _fill_kwargs(site: Site) -> dict[str, Any]:
    rx = _rx(site)
    fill = Fill.objects.get(prescription=rx)
    return {"pk": rx.pk, "fill_pk": fill.pk}


def _image_kwargs(site: Site) -> dict[str, Any]:
    image = services.prescription_image_upload(
        actor=_author(site), content=PNG, filename="scan.png"
    )
    return {"pk": image.pk}


def _patient_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": PatientFactory(site=site).pk}


def _message_kwargs(site: Site) -> dict[str, Any]:
    """A NewRx waiting for a match (stored as received; the receiving service is tested
    with the e-prescribing services)."""
    xml = NEWRX.read_text()
    message = ErxMessage.objects.create(
        site=site,
        direction=MessageDirection.IN,
        message_type="NewRx",
        message_id="matrix-message-1",
        status=ErxStatus.NEEDS_MATCH,
        xml=xml,
        digest=hashlib.sha256(xml.encode()).hexdigest(),
        summary="NewRx for the matrix",
    )
    return {"pk": message.pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
# GET roles == None means the URL takes no GET (POST only).
UI_ROWS: dict[str, Any] = {
    "rx_queue": (_none, CLINICAL, NOBODY, None),
    "rx_queue_counts": (_none, CLINICAL, NOBODY, None),
    # The typing screen: an empty form is shown again with what is missing.
    "rx_intake": (_none, CLINICAL, CLINICAL, 422),
    # An upload with no file answers the scan pane's error.
    "rx_image_upload": (_none, None, CLINICAL, 422),
    "rx_image": (_image_kwargs, CLINICAL, NOBODY, None),
    "rx_sig_preview": (_none, CLINICAL, NOBODY, None),
    "rx_find_patient": (_none, CLINICAL, NOBODY, None),
    "rx_find_prescriber": (_none, CLINICAL, NOBODY, None),
    "rx_find_drug": (_none, CLINICAL, NOBODY, None),
    "rx_lookup": (_none, CLINICAL, NOBODY, None),
    "rx_detail": (_rx_kwargs, CLINICAL, NOBODY, None),
    # Buttons: an empty form is refused by the service, said on the prescription's page.
    "rx_refill": (_rx_kwargs, None, CLINICAL, 302),
    "rx_renewal_request": (_rx_kwargs, None, CLINICAL, 302),
    "rx_hold": (_rx_kwargs, None, CLINICAL, 302),
    "rx_activate": (_rx_kwargs, None, CLINICAL, 302),
    "rx_inactivate": (_rx_kwargs, None, CLINICAL, 302),
    "rx_auto_refill": (_rx_kwargs, None, CLINICAL, 302),
    "fill_cancel": (_fill_kwargs, None, CLINICAL, 302),
    "rx_transfer_out": (_rx_kwargs, PHARMACISTS, PHARMACISTS, 422),
    "rx_transfer_in": (_none, PHARMACISTS, PHARMACISTS, 422),
    "rx_profile": (_patient_kwargs, CLINICAL, NOBODY, None),
    "erx_inbox": (_none, CLINICAL, NOBODY, None),
    "erx_message": (_message_kwargs, CLINICAL, NOBODY, None),
    # The message page again, with what is missing (no patient chosen; no reason given).
    "erx_resolve": (_message_kwargs, None, CLINICAL, 422),
    "erx_reject": (_message_kwargs, None, CLINICAL, 422),
    "rx_settings": (_none, SITE_EDITORS, SITE_EDITORS, 422),
}

WATCHED: list[Any] = [Prescription, Fill, Transfer, PrescriptionImage, ErxMessage]


# --- The fill workflow's screens (rxdesk.rx.views.fills) -----------------------------------------
# Data and final verification are a pharmacist's (the service refuses anyone else, through any
# door); filling, holds, priority, the sale and return to stock are the whole pharmacy team's.
# Each verification form posted empty approves nothing (422); a button posted empty is refused
# by its service and says so on the page it came from (302); the first print of a filled
# fill's label needs nothing more (200, the PDF).


def _pharmacist(site: Site) -> User:
    return User.objects.filter(site=site, username="matrix-rx-rph").first() or UserFactory(
        site=site, role=RPH, username="matrix-rx-rph"
    )


def _queued_fill(site: Site) -> Fill:
    from tests.inventory.factories import stock

    rx = _rx(site)
    assert rx.package is not None
    stock(site, rx.package, lot="MATRIX-1", quantity=100)
    return Fill.objects.get(prescription=rx)


def _queued_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _queued_fill(site).pk}


def _to_fill(site: Site) -> Fill:
    from rxdesk.rx.services import workflow

    return workflow.fill_data_verify(actor=_pharmacist(site), fill=_queued_fill(site))


def _to_fill_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _to_fill(site).pk}


def _filled_kwargs(site: Site) -> dict[str, Any]:
    from rxdesk.rx.services import workflow

    fill = _to_fill(site)
    package = fill.prescription.package
    assert package is not None
    done = workflow.fill_product(actor=_author(site), fill=fill, scanned_code=package.ndc10)
    return {"pk": done.pk}


UI_ROWS.update(
    {
        "fill_queue": (_none, CLINICAL, NOBODY, None),
        "fill_queue_rows": (_none, CLINICAL, NOBODY, None),
        "fill_history": (_queued_kwargs, CLINICAL, NOBODY, None),
        "fill_data_verify": (_queued_kwargs, PHARMACISTS, PHARMACISTS, 422),
        "fill_product": (_to_fill_kwargs, CLINICAL, CLINICAL, 422),
        "fill_final_verify": (_filled_kwargs, PHARMACISTS, PHARMACISTS, 422),
        "fill_label": (_filled_kwargs, CLINICAL, NOBODY, None),
        "fill_label_print": (_filled_kwargs, None, CLINICAL, 200),
        "fill_hold": (_queued_kwargs, None, CLINICAL, 302),
        "fill_release": (_queued_kwargs, None, CLINICAL, 302),
        "fill_priority": (_queued_kwargs, None, CLINICAL, 302),
        "fill_sell": (_queued_kwargs, None, CLINICAL, 302),
        "fill_return": (_queued_kwargs, None, CLINICAL, 302),
    }
)
WATCHED.append(FillEvent)
