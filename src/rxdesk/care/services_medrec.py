"""Services of medication reconciliation: best possible medication history, comparison with the
profile, discrepancies and outcomes."""

from __future__ import annotations
