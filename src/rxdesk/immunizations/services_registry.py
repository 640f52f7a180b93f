"""Services of reporting to the state registry (IIS): VXU messages, MLLP sending, ACKs,
retries, deadlines, batch files; the site's registry settings."""

from __future__ import annotations

from rxdesk.core.models import User
from rxdesk.immunizations.choices import RegistryAction
from rxdesk.immunizations.models import Immunization, RegistryMessage


def registry_enqueue(
    *, immunization: Immunization, action: RegistryAction, actor: User
) -> RegistryMessage | None:
    """Queue the VXU of ``immunization`` for the registry, inside the caller's transaction.

    Called by the administration services: ADD when a dose is recorded, UPDATE when it is
    corrected, DELETE when it is marked entered in error. Returns None when nothing is to
    be reported (a historical dose is reported only when the site reports history).

    FOUNDATION STUB: the registry part replaces this body (build the VXU with
    rxdesk.immunizations.vxu, set due_at from the state's deadline)."""
    return RegistryMessage.objects.create(
        site=immunization.site,
        immunization=immunization,
        action=action,
        control_id=f"STUB-{immunization.pk}-{action}-{RegistryMessage.objects.count() + 1}",
        message="",
        created_by=actor,
    )
