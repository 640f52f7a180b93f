"""API of the point of sale (pse): parse, call a service or query, serialize."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Point of sale"])
