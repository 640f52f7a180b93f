"""The demo loader of the daily reports: yesterday's and today's sets, yesterday's signed."""

from __future__ import annotations

import datetime as dt

import pytest

from rxdesk.reports import demo
from rxdesk.reports.models import DailyReport, DailyReview

pytestmark = pytest.mark.django_db


def test_it_generates_two_days_and_signs_yesterday_once(site, pharmacist):
    demo.load(site, {"pharmacist": pharmacist})
    demo.load(site, {"pharmacist": pharmacist})  # a second run adds nothing

    today = site.today()
    yesterday = today - dt.timedelta(days=1)
    assert DailyReport.objects.filter(site=site, business_date=yesterday).count() == 7
    assert DailyReport.objects.filter(site=site, business_date=today).count() == 7
    review = DailyReview.objects.get()
    assert (review.business_date, review.reviewed_by) == (yesterday, pharmacist)
