"""Incoming FHIR: a MedicationRequest as a new prescription, a transaction Bundle."""

from __future__ import annotations

from typing import Any

from rxdesk.fhir.registry import Context


def transaction_bundle(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    raise NotImplementedError
