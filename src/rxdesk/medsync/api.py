"""Medication synchronization: the API (``/sync``)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Medication synchronization"])
