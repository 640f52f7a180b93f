"""Demo daily reports: yesterday's and today's sets for the demo pharmacy, generated
through the service (as the system, the way cron makes them), yesterday's signed by the
pharmacist. Run after the other apps' demo data exist."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from rxdesk.core import context
from rxdesk.core.models import Site, User
from rxdesk.reports.models import DailyReport
from rxdesk.reports.services_daily import daily_reports_generate, daily_review_sign


def _pharmacist(site: Site, users: Mapping[str, User] | None) -> User | None:
    for name in ("pharmacist", "rph", "pic"):
        found = (users or {}).get(name)
        if found is not None:
            return found
    return (
        User.objects.filter(site=site, role__in=["pharmacist", "pharmacist_in_charge"])
        .order_by("pk")
        .first()
    )


def load(site: Site, users: Mapping[str, User] | None = None) -> None:
    """Yesterday's and today's reports of ``site``; yesterday's signed as reviewed."""
    if DailyReport.objects.filter(site=site).exists():
        return
    today = site.today()
    yesterday = today - dt.timedelta(days=1)
    with context.using(dataclasses.replace(context.current(), channel="system")):
        daily_reports_generate(actor=None, site=site, day=yesterday)
        daily_reports_generate(actor=None, site=site, day=today)
    rph = _pharmacist(site, users)
    if rph is not None:
        daily_review_sign(actor=rph, day=yesterday, note="Reviewed at opening.")
