"""API of medication reconciliation: best possible medication history, comparison with the
profile, discrepancies and outcomes."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["care: medication reconciliation"])
