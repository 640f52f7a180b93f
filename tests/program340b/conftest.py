from __future__ import annotations

from decimal import Decimal

import pytest

from rxdesk.claims.models import Payer, Plan


@pytest.fixture
def plan_340b(db) -> Plan:
    """A Medicaid plan (no switch behind it: for rules only)."""
    payer = Payer.objects.create(name="State Medicaid", host="127.0.0.1", port=9, timeout_seconds=1)
    return Plan.objects.create(
        payer=payer,
        name="State Medicaid FFS",
        bin="610494",
        pcn="MCAIDFFS",
        dispensing_fee=Decimal("1.75"),
    )
