"""API of the controlled-substance records: inventories. Parse, call, serialize."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["controlled substances"])
