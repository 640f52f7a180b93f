"""API of the controlled-substance records: orders. Parse, call a service or query, serialize."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["controlled substances"])
