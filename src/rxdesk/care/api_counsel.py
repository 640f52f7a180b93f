"""API of Counseling records and clinical interventions."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["care: counseling and interventions"])
