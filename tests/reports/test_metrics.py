"""The metrics (rxdesk.reports.metrics) against records whose figures were worked out by
hand (tests/reports/metrics_setup.py: Mon 02/03/2025 and Tue 02/04/2025, Chicago)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.reports import metrics as m
from rxdesk.rx.choices import FillStep
from tests.reports import metrics_setup as setup

D = Decimal


@pytest.fixture
def records(technician):
    return setup.everything(technician)


@pytest.fixture
def p(pharmacist):
    return m.period(actor=pharmacist, start=setup.START, end=setup.END)


# --- The period ---------------------------------------------------------------------------------


def test_period_is_the_pharmacys_days(pharmacist):
    p = m.period(actor=pharmacist, start=setup.START, end=setup.END)

    assert p.days == 2
    assert p.first == dt.datetime(2025, 2, 3, 6, 0, tzinfo=dt.UTC)
    assert p.after == dt.datetime(2025, 2, 5, 6, 0, tzinfo=dt.UTC)


def test_period_defaults_to_the_last_30_days(pharmacist, site):
    p = m.period(actor=pharmacist)

    assert p.end == site.today()
    assert p.start == site.today() - dt.timedelta(days=29)


def test_period_refuses_a_backwards_or_too_long_range(pharmacist):
    with pytest.raises(Invalid) as backwards:
        m.period(actor=pharmacist, start=setup.END, end=setup.START)
    with pytest.raises(Invalid) as long:
        m.period(actor=pharmacist, start=dt.date(2024, 1, 1), end=dt.date(2025, 1, 1))

    assert backwards.value.field == "end"
    assert long.value.message == "Show at most 366 days at a time."


@pytest.mark.parametrize("persona", ["technician", "trainee", "inventory", "admin_user"])
def test_roles_without_metrics_view_are_refused(request, persona):
    user = request.getfixturevalue(persona)

    with pytest.raises(Forbidden):
        m.period(actor=user)


def test_another_pharmacys_period_is_not_found(pharmacist, other_site):
    from tests.factories import UserFactory

    theirs = UserFactory(site=other_site, role="pharmacist", username="lakeside-rph")
    p = m.period(actor=theirs, start=setup.START, end=setup.END)

    with pytest.raises(NotFound):
        m.errors_caught(actor=pharmacist, p=p)


# --- Safety -------------------------------------------------------------------------------------


def test_errors_caught_per_1000_fills(records, pharmacist, p):
    r = m.errors_caught(actor=pharmacist, p=p)

    # A, B and C were filled in the period (A twice: counted once): 3 fills.
    assert r.fills == 3
    assert [(row.key, row.count, row.per_1000) for row in r.rows] == [
        ("data_verification", 1, D("333.3")),
        ("fill_scan", 1, D("333.3")),
        ("final_verification", 1, D("333.3")),
    ]
    assert (r.total, r.total_per_1000) == (3, D("1000.0"))


def test_errors_of_another_pharmacy_do_not_count(records, pharmacist, p, outsider):
    from tests.rx.factories import first_fill, make_rx

    theirs = first_fill(make_rx(outsider))
    setup.ev(theirs, FillStep.FILLED, setup.local(3, 9), "to_fill", "filled")
    setup.ev(
        theirs,
        FillStep.SENT_BACK,
        setup.local(3, 10),
        "filled",
        "to_fill",
        at_step="final_verification",
    )

    r = m.errors_caught(actor=pharmacist, p=p)

    assert (r.fills, r.total) == (3, 3)


def test_alert_and_override_rates(records, pharmacist, p):
    r = m.alert_rates(actor=pharmacist, p=p)

    assert (r.fills, r.raised, r.interrupting, r.overridden) == (3, 3, 2, 1)
    assert r.per_1000 == D("1000.0")
    assert r.override_share == D("50.0")
    assert [
        (x.type, x.severity, x.raised, x.interrupting, x.overridden, x.per_1000, x.override_share)
        for x in r.rows
    ] == [
        ("DD", "major", 2, 2, 1, D("666.7"), D("50.0")),
        ("TD", "moderate", 1, 0, 0, D("333.3"), None),
    ]
    assert r.rows[0].type_label == "Drug-drug interaction"


def test_no_fills_no_rates(pharmacist, p):
    r = m.errors_caught(actor=pharmacist, p=p)
    a = m.alert_rates(actor=pharmacist, p=p)

    assert (r.fills, r.total, r.total_per_1000) == (0, 0, None)
    assert (a.raised, a.per_1000, a.override_share, a.rows) == (0, None, None, [])


# --- Workload -----------------------------------------------------------------------------------


def test_queue_lengths_at_the_top_of_each_hour(records, pharmacist, p):
    r = m.queue_lengths(actor=pharmacist, p=p)
    hour = {h.hour: h for h in r.hours}

    assert [s for s, _ in r.queues] == ["queued", "to_fill", "filled", "ready"]
    assert all(h.samples == 2 for h in r.hours)
    # Before 08:00: Mon D waits for data verification; Tue D waits to be filled, A and B
    # wait in will-call.
    assert hour[0].mean == {"queued": D("0.5"), "to_fill": D("0.5"), "filled": D(0), "ready": D(1)}
    # 08:00: Mon D still queued; Tue C arrives at 08:00 sharp (counted), D to fill, A, B ready.
    assert hour[8].mean == {"queued": D(1), "to_fill": D("0.5"), "filled": D(0), "ready": D(1)}
    # 10:00: Mon B queued (sent back), D and A (sent back) to fill; Tue D, and A B C ready.
    assert hour[10].mean == {
        "queued": D("0.5"),
        "to_fill": D("1.5"),
        "filled": D(0),
        "ready": D("1.5"),
    }
    assert hour[10].peak == {"queued": 1, "to_fill": 2, "filled": 0, "ready": 3}
    # 11:00: Mon B filled, A ready.
    assert hour[11].mean == {"queued": D(0), "to_fill": D(1), "filled": D("0.5"), "ready": D(2)}
    # 12:00: Mon E arrives at 12:00 sharp (cancelled at 12:05).
    assert hour[12].mean == {
        "queued": D("0.5"),
        "to_fill": D(1),
        "filled": D(0),
        "ready": D("2.5"),
    }
    # 15:00: Tue A was sold at 14:15.
    assert hour[15].mean == {"queued": D(0), "to_fill": D(1), "filled": D(0), "ready": D(2)}


def test_rx_per_day_and_hour_new_and_refill(records, pharmacist, p):
    r = m.rx_volume(actor=pharmacist, p=p)

    assert [(x.label, x.new, x.refill) for x in r.per_day] == [
        ("2025-02-03", 1, 1),
        ("2025-02-04", 1, 0),
    ]
    busy = [(x.label, x.new, x.refill) for x in r.per_hour if x.total]
    assert busy == [("08:00", 1, 0), ("09:00", 1, 1)]  # E (cancelled) left out
    assert (r.new, r.refill) == (2, 1)
    assert len(r.per_hour) == 24


# --- Time in steps ------------------------------------------------------------------------------


def test_step_times_median_and_p90_nearest_rank(records, pharmacist, p):
    r = m.step_times(actor=pharmacist, p=p)

    assert [(x.label, x.fills, x.median, x.p90) for x in r.rows] == [
        # A 15, B 60, C 20, D 990 (entered the day before): sorted 15 20 60 990;
        # median rank 2 = 20, p90 rank ceil(3.6) = 4 = 990.
        ("Entered → data verified", 4, D("20.0"), D("990.0")),
        # A 40 (to its second fill), B 20, C 15: median rank 2 = 20, p90 rank 3 = 40.
        ("Data verified → filled", 3, D("20.0"), D("40.0")),
        # A 35 (from its first fill), B 40, C 5.
        ("Filled → final verified", 3, D("35.0"), D("40.0")),
        # A: Mon 10:15 to Tue 14:15.
        ("Final verified → sold", 1, D("1680.0"), D("1680.0")),
    ]


# --- Inventory ----------------------------------------------------------------------------------


def test_inventory_turns(records, pharmacist, p):
    r = m.inventory_turns(actor=pharmacist, p=p)

    # P1 $12.50/30: 60 → 30 on hand, 30 dispensed net ($25.00 → $12.50, $12.50);
    # P2 $50/100: 200 → 250, 50 dispensed ($100 → $125, $25); P4 $30/30: 30 → 30 ($30);
    # P6 $10/30: none. P3 and P5 have no cost. Later price of P1 ($99 from 03/01) ignored.
    assert r.dispensed_cost == D("37.50")
    assert (r.start_value, r.end_value, r.average_value) == (
        D("155.00"),
        D("167.50"),
        D("161.25"),
    )
    assert r.turns == D("0.23")  # 37.50 / 161.25 = 0.2326
    assert r.annualized == D("42.44")  # 0.232558… × 365 / 2
    assert (r.packages, r.unpriced_packages) == (4, 2)


def test_dead_stock(records, pharmacist, p):
    r = m.dead_stock(actor=pharmacist, p=p)

    assert r.days == 180
    assert [(x.ndc, x.on_hand, x.last_dispensed, x.value) for x in r.rows] == [
        ("0093-0004-30", D("30.000"), dt.date(2024, 7, 15), D("30.00")),
        ("0093-0005-05", D("5.000"), None, None),
    ]
    assert (r.total_value, r.unpriced) == (D("30.00"), 1)


def test_dead_stock_days_are_checked(pharmacist, p):
    with pytest.raises(Invalid):
        m.dead_stock(actor=pharmacist, p=p, days=0)


# --- Claims -------------------------------------------------------------------------------------


def test_claim_reject_rates_by_plan_and_code(records, pharmacist, p):
    r = m.claim_rejects(actor=pharmacist, p=p)

    assert (r.submitted, r.rejected, r.rate) == (7, 3, D("42.9"))
    assert [(x.plan, x.submitted, x.rejected, x.rate) for x in r.by_plan] == [
        ("Alpha Health", 4, 2, D("50.0")),
        ("Beta Rx", 3, 1, D("33.3")),
    ]
    assert [(x.code, x.claims, x.share) for x in r.by_code] == [
        ("75", 2, D("28.6")),
        ("70", 1, D("14.3")),
        ("88", 1, D("14.3")),
    ]
    assert r.by_code[0].meaning == "Prior authorization required"
