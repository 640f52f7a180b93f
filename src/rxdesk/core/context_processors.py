"""What every workstation page shows: who is signed in, at which site, and what they may do."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from rxdesk.core.capabilities import capabilities_of


def workstation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"caps": frozenset()}
    return {
        "caps": frozenset(str(c) for c in capabilities_of(user.role)),
        "site": user.site,
    }
