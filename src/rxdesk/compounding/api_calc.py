"""API of compounding: calc. Parse, call the services and queries, serialize."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["compounding"])
