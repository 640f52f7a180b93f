"""Trends: counts by step × type, category, month, caught where; errors per 1,000 fills;
open and overdue action items; the date range; aggregates only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rxdesk.care import queries_quality as queries
from rxdesk.care.models import ActionItem
from rxdesk.core.choices import Role
from rxdesk.core.errors import Forbidden, Invalid
from tests.care import quality_setup as qs
from tests.care.factories import staff
from tests.rx.factories import dispense, first_fill, make_rx

pytestmark = pytest.mark.django_db


def test_trends_count_errors_by_step_type_category_and_rate_per_fills(site, other_site):
    qs.error(site, "B", step="fill", error_type="wrong_drug", caught_at_step="final_verification")
    qs.error(site, "B", step="fill", error_type="wrong_drug", caught_at_step="fill")
    qs.error(site, "D", step="entry", error_type="wrong_dose")
    qs.error(site, "E", step="entry", error_type="wrong_dose")
    qs.error(site, "B", occurred_at=qs.ago(days=800), discovered_at=qs.ago(days=799))
    qs.error(other_site, "B")
    qs.near_miss(site)
    tech = qs.reporter(site)
    for _ in range(2):
        dispense(first_fill(make_rx(tech)), site.today())
    auditor = staff(site, Role.AUDITOR)

    t = queries.trends(actor=auditor, start=site.today() - dt.timedelta(days=30), end=site.today())

    assert (t.events, t.errors, t.reached, t.harm, t.fills) == (5, 4, 2, 1, 2)
    assert t.per_thousand == Decimal("2000.00") and t.reached_per_thousand == Decimal("1000.00")
    assert {b.key: b.count for b in t.by_category} == {"B": 2, "D": 1, "E": 1}
    assert {b.key: b.count for b in t.by_kind} == {"near_miss": 3, "medication_error": 2}
    fill_row = next(r for r in t.step_by_type if r["step"] == "fill")
    assert fill_row["counts"] == {"wrong_drug": 2, "wrong_dose": 0} and fill_row["total"] == 2
    caught = {r["step"]: r["counts"] for r in t.caught}
    assert caught["fill"]["final_verification"] == 1 and caught["fill"]["fill"] == 1
    assert caught["entry"][""] == 2
    assert sum(m["events"] for m in t.by_month) == 5
    assert max(b.percent for b in t.by_category) == 100


def test_open_and_overdue_action_items(site):
    rca = qs.rca_of(site)
    qs.action(rca)
    late = qs.action(rca)
    ActionItem.objects.filter(pk=late.pk).update(due_on=site.today() - dt.timedelta(days=1))
    t = queries.trends(actor=qs.rph(site), start=site.today(), end=site.today())
    assert (t.actions_open, t.actions_overdue) == (2, 1)
    mine = queries.my_action_items(actor=qs.reporter(site))
    assert [m.overdue for m in mine] == [True, False]


def test_trends_refuse_a_reversed_or_huge_range_and_roles_without_the_report(site):
    rph = qs.rph(site)
    with pytest.raises(Invalid):
        queries.trends(actor=rph, start=site.today(), end=site.today() - dt.timedelta(days=1))
    with pytest.raises(Invalid):
        queries.trends(actor=rph, start=dt.date(2000, 1, 1), end=site.today())
    for role in (Role.TECHNICIAN, Role.INVENTORY_SPECIALIST):
        with pytest.raises(Forbidden):
            queries.trends(actor=staff(site, role), start=site.today(), end=site.today())


def test_the_events_list_puts_open_first_and_filters(site):
    closed = qs.near_miss(site, occurred_at=qs.ago(minutes=5))
    from rxdesk.care import services_quality as services

    services.safety_event_close(actor=qs.rph(site), event=closed, note="Done")
    older = qs.near_miss(site, occurred_at=qs.ago(days=3), step="entry")
    rows = queries.events(actor=qs.reporter(site))
    assert [e.pk for e in rows] == [older.pk, closed.pk]
    assert [e.pk for e in queries.events(actor=qs.reporter(site), step="entry")] == [older.pk]
    assert queries.events(actor=qs.reporter(site), status="active") == [older]
    with pytest.raises(Forbidden):
        queries.events(actor=staff(site, Role.AUDITOR))
