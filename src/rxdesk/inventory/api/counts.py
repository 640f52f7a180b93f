"""API: counts. Parse, call a service or query, serialize."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["inventory"])
