"""API of Point-of-care tests (CLIA-waived) and the site's testing settings."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["care: point-of-care tests"])
