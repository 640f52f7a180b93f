"""Permission-matrix rows for immunizations: registry (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* the VXU of a dose names the patient: imm.view and patient.view — technician, trainee,
  pharmacist, PIC;
* the queue and one message: imm.registry or imm.report — technician, pharmacist, PIC,
  auditor (the auditor without names or message texts);
* send now, retry, batch export: imm.registry — technician, pharmacist, PIC; downloading a
  batch file (PHI) also needs patient.view: the same three;
* the settings: read with imm.registry or imm.setup (technician, pharmacist, PIC), changed
  with imm.setup (PIC).

No row here talks to a registry: the site's transport stays "none", so sending does
nothing and a retry puts the message back in the queue."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.immunizations import services_registry as services
from rxdesk.immunizations.choices import RegistryAction, RegistryStatus
from rxdesk.immunizations.models import (
    ImmunizationSettings,
    RegistryBatch,
    RegistryMessage,
)
from tests.immunizations.registry_setup import dose

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
VXU_READERS = frozenset({T, TT, RPH, PIC})
QUEUE_READERS = frozenset({T, RPH, PIC, AUD})
SENDERS = frozenset({T, RPH, PIC})
SETUP = frozenset({PIC})

P = "/api/v1/immunizations"


def _message(site: Site, status: str = RegistryStatus.QUEUED) -> RegistryMessage:
    imm = dose(site)
    with transaction.atomic():
        message = services.registry_enqueue(
            immunization=imm, action=RegistryAction.ADD, actor=imm.recorded_by
        )
    assert message is not None
    if status != RegistryStatus.QUEUED:
        RegistryMessage.objects.filter(pk=message.pk).update(status=status, attempts=2)
    return message


def _batch(site: Site) -> RegistryBatch:
    message = _message(site)
    return services.registry_batch_export(actor=message.immunization.recorded_by)


def _waiting(site: Site) -> dict[str, Any]:
    """A message waiting in the queue (the URL takes no id)."""
    _message(site)
    return {}


def _vxu(site: Site, user: User | None) -> tuple[str, None]:
    return f"{P}/{dose(site).pk}/vxu", None


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/immunizations/{immunization_id}/vxu"): (VXU_READERS, 200, _vxu),
    ("GET", "/immunizations/registry/messages"): (
        QUEUE_READERS,
        200,
        lambda s, u: (f"{P}/registry/messages?status=all", None),
    ),
    ("GET", "/immunizations/registry/messages/{message_id}"): (
        QUEUE_READERS,
        200,
        lambda s, u: (f"{P}/registry/messages/{_message(s).pk}", None),
    ),
    ("POST", "/immunizations/registry/messages/{message_id}/retry"): (
        SENDERS,
        200,
        lambda s, u: (
            f"{P}/registry/messages/{_message(s, RegistryStatus.FAILED).pk}/retry",
            None,
        ),
    ),
    ("POST", "/immunizations/registry/send"): (
        SENDERS,
        200,
        lambda s, u: (f"{P}/registry/send", {"limit": 10}),
    ),
    ("POST", "/immunizations/registry/batches"): (
        SENDERS,
        201,
        lambda s, u: (_waiting(s) or f"{P}/registry/batches", None),
    ),
    ("GET", "/immunizations/registry/batches/{batch_id}"): (
        SENDERS,
        200,
        lambda s, u: (f"{P}/registry/batches/{_batch(s).pk}", None),
    ),
    ("GET", "/immunizations/registry/settings"): (
        SENDERS,
        200,
        lambda s, u: (f"{P}/registry/settings", None),
    ),
    ("PUT", "/immunizations/registry/settings"): (
        SETUP,
        200,
        lambda s, u: (f"{P}/registry/settings", {"retry_minutes": 10}),
    ),
}


def _none(site: Site) -> dict[str, Any]:
    return {}


def _queued(site: Site) -> dict[str, Any]:
    return {"pk": _message(site).pk}


def _failed(site: Site) -> dict[str, Any]:
    return {"pk": _message(site, RegistryStatus.FAILED).pk}


def _a_batch(site: Site) -> dict[str, Any]:
    return {"pk": _batch(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "imm_registry": (_none, QUEUE_READERS, NOBODY, None),
    "imm_registry_message": (_queued, QUEUE_READERS, NOBODY, None),
    "imm_registry_send": (_none, None, SENDERS, 302),
    "imm_registry_retry": (_failed, None, SENDERS, 302),
    "imm_registry_batch_new": (_waiting, None, SENDERS, 302),
    "imm_registry_batch": (_a_batch, SENDERS, NOBODY, None),
    "imm_registry_settings": (_none, SENDERS, SETUP, 422),
}
WATCHED: list[Any] = [RegistryMessage, RegistryBatch, ImmunizationSettings]
