"""Formulary and interchange: the API (``/formulary``)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Formulary and interchange"])
