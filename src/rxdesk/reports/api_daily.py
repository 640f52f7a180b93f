"""Daily reports: the API (``/reports``)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Daily reports"])
