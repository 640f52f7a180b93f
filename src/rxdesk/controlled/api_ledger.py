"""API of the controlled-substance records: ledger. Parse, call a service or query, serialize."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["controlled substances"])
