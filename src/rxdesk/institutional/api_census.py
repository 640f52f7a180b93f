"""API of institutional pharmacy: census (mounted at /api/v1/institutional)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["institutional: census"])
