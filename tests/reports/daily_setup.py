"""Set-up helpers for the daily-reports tests: real fills through the workflow where the
workflow matters (who filled, who verified, the ledger's dispense move), rows made
directly where only their dates matter (like tests.rx.factories.dispense)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from rxdesk.core import context
from rxdesk.core.models import Site, User
from rxdesk.rx.choices import FillSource, FillStatus
from rxdesk.rx.models import Fill, Prescription


@contextmanager
def as_cron() -> Iterator[None]:
    """Act as the system (what ``rxdesk reports daily`` does from cron)."""
    with context.using(dataclasses.replace(context.current(), channel="cli")):
        yield


def generate(site: Site, day: dt.date, codes: list[str] | None = None) -> Any:
    from rxdesk.reports.services_daily import daily_reports_generate

    with as_cron():
        return daily_reports_generate(actor=None, site=site, day=day, codes=codes)


def refill_row(
    rx: Prescription,
    *,
    number: int = 1,
    on: dt.date,
    filled_by: User | None = None,
    verified_by: User | None = None,
    status: str = FillStatus.DISPENSED,
    quantity: str = "30",
    **over: Any,
) -> Fill:
    """A fill row as the workflow leaves it, dispensed (counted out) on ``on``."""
    values: dict[str, Any] = {
        "site": rx.site,
        "prescription": rx,
        "number": number,
        "status": status,
        "source": FillSource.PHONE,
        "quantity": Decimal(quantity),
        "days_supply": 30,
        "dispensed_on": on,
        "package": rx.package,
        "filled_by": filled_by,
        "verified_by": verified_by,
    }
    values.update(over)
    return Fill.objects.create(**values)
