"""Set-up for patient-care tests (rows written directly, bypassing the services on
purpose; tests of behaviour call the services)."""

from __future__ import annotations

from typing import Any

from rxdesk.care.common import settings_of
from rxdesk.care.models import CareSettings
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from tests.factories import UserFactory


def staff(site: Site, role: Role = Role.TECHNICIAN, username: str | None = None) -> User:
    """A member of staff of ``site`` with a current credential."""
    name = username or f"care-{role.value.replace('_', '-')}-{site.pk}"
    return UserFactory(site=site, role=role, username=name)


def care_settings(site: Site, **over: Any) -> CareSettings:
    row = settings_of(site)
    for key, value in over.items():
        setattr(row, key, value)
    row.save()
    return row
