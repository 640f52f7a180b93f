"""API of institutional pharmacy: discrepancies (mounted at /api/v1/institutional)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["institutional: discrepancies"])
