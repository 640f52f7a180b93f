"""340B: the API (``/340b``)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["340B"])
