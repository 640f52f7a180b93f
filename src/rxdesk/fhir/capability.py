"""The CapabilityStatement served at /fhir/metadata."""

from __future__ import annotations

from typing import Any

from rxdesk.fhir.registry import Context


def capability_statement(ctx: Context) -> dict[str, Any]:
    raise NotImplementedError
