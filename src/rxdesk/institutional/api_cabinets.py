"""API of institutional pharmacy: cabinets (mounted at /api/v1/institutional)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["institutional: cabinets"])
