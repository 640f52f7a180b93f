"""Reading discrepancies: the list (open first, overdue past the shift), the aging buckets at
their boundaries (an explicit ``now``), controlled first, the CSV, the pocket's moves with
patients hidden from roles that may not see them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.institutional import cabinet_ledger
from rxdesk.institutional import queries_discrepancies as queries
from rxdesk.institutional import services_discrepancies as services
from rxdesk.institutional.choices import CabinetEvent, DiscrepancyKind
from rxdesk.institutional.models import CabinetDiscrepancy
from tests.factories import PatientFactory
from tests.institutional.factories import cabinet, pocket_stock
from tests.institutional.matrix_discrepancies import cabinet_event, counted_short, new_pocket

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)


def test_open_discrepancies_come_first_the_earliest_due_first(site, pharmacist):
    now = timezone.now()
    newer = counted_short(site, opened_at=now - 2 * H)
    older = counted_short(site, opened_at=now - 20 * H)  # due 8 h ago: past the shift

    rows = queries.discrepancies(actor=pharmacist, site=site)

    assert [r.d.pk for r in rows] == [older.pk, newer.pk]
    assert rows[0].overdue is True and rows[0].bucket == queries.OVERDUE
    assert rows[1].overdue is False and rows[1].bucket == queries.WITHIN
    assert rows[0].due_at == older.opened_at + dt.timedelta(hours=12)
    assert rows[0].age_hours == pytest.approx(20, abs=0.2)


def test_the_list_filters_by_status_and_cabinet(site, pharmacist):
    west = cabinet(site)
    east = cabinet(site, code="4E-1", name="4 East")
    a = counted_short(site, box=west)
    b = counted_short(site, box=east)

    assert [r.d.pk for r in queries.discrepancies(actor=pharmacist, site=site, cabinet=east)] == [
        b.pk
    ]
    assert queries.discrepancies(actor=pharmacist, site=site, status="resolved") == []
    assert {r.d.pk for r in queries.discrepancies(actor=pharmacist, site=site, status="all")} == {
        a.pk,
        b.pk,
    }
    with pytest.raises(Invalid):
        queries.discrepancies(actor=pharmacist, site=site, status="closed")


def test_a_trainee_may_not_read_discrepancies(site, trainee):
    with pytest.raises(Forbidden):
        queries.discrepancies(actor=trainee, site=site)


def test_another_pharmacys_discrepancy_is_not_found(site, other_site, pharmacist):
    d = counted_short(other_site)
    with pytest.raises(NotFound):
        queries.discrepancy_get(actor=pharmacist, discrepancy_id=d.pk)
    with pytest.raises(NotFound):
        queries.discrepancy_get(actor=pharmacist, discrepancy_id=2**70)


@pytest.mark.parametrize(
    ("past_due", "bucket"),
    [
        (dt.timedelta(hours=-1), queries.WITHIN),
        (dt.timedelta(0), queries.WITHIN),  # due exactly now: still within the shift
        (dt.timedelta(seconds=1), queries.OVERDUE),
        (dt.timedelta(hours=24), queries.OVERDUE),
        (dt.timedelta(hours=24, seconds=1), queries.OVERDUE_DAY),
        (dt.timedelta(hours=72), queries.OVERDUE_DAY),
        (dt.timedelta(hours=72, seconds=1), queries.OVERDUE_DAYS),
    ],
)
def test_aging_buckets_at_their_boundaries(site, pharmacist, past_due, bucket):
    opened = dt.datetime(2025, 3, 10, 8, 0, tzinfo=dt.UTC)
    d = counted_short(site, opened_at=opened)
    now = d.due_at + past_due

    report = queries.aging(actor=pharmacist, site=site, now=now)

    assert report.totals[bucket] == 1
    assert report.total == 1
    assert report.lines[0].counts[bucket] == 1
    assert queries.bucket_of(d.due_at, now) == bucket


def test_aging_counts_per_cabinet_controlled_first(site, pharmacist, inventory):
    opened = dt.datetime(2025, 3, 10, 8, 0, tzinfo=dt.UTC)
    west = cabinet(site)
    east = cabinet(site, code="4E-1", name="4 East")
    counted_short(site, box=west, opened_at=opened)
    counted_short(site, box=west, opened_at=opened - dt.timedelta(days=5))
    counted_short(site, box=east, opened_at=opened, controlled=True)
    counted_short(site, box=west, opened_at=opened, controlled=True)
    now = opened + dt.timedelta(hours=20)  # 8 h past the shift for those opened at 08:00

    report = queries.aging(actor=inventory, site=site, now=now)

    assert [(line.cabinet.code, line.controlled) for line in report.lines] == [
        ("3W-1", True),
        ("4E-1", True),
        ("3W-1", False),
    ]
    west_other = report.lines[2]
    assert west_other.counts == {
        queries.WITHIN: 0,
        queries.OVERDUE: 1,
        queries.OVERDUE_DAY: 0,
        queries.OVERDUE_DAYS: 1,
    }
    assert west_other.total == 2 and west_other.overdue == 2
    assert report.totals[queries.OVERDUE] == 3 and report.total == 4


def test_aging_leaves_resolved_discrepancies_out(site, pharmacist):
    d = counted_short(site)
    services.discrepancy_resolve(
        actor=pharmacist,
        discrepancy=d,
        cause="miscount",
        explanation="Recounted: 8 is right.",
        nurse_name="Dana Ruiz RN",
    )
    assert queries.aging(actor=pharmacist, site=site).total == 0


def test_the_aging_csv_has_one_line_per_open_discrepancy(site, pharmacist):
    opened = dt.datetime(2025, 3, 10, 8, 0, tzinfo=dt.UTC)
    counted_short(site, opened_at=opened, cabinet_user="=HYPERLINK(1)")
    report = queries.aging(actor=pharmacist, site=site, now=opened + dt.timedelta(hours=40))

    rows = list(csv.reader(io.StringIO(queries.aging_csv(site, report))))

    assert rows[0][:4] == ["Id", "Cabinet", "Pocket", "Drug"]
    assert len(rows) == 2
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["Cabinet"] == "3W-1"
    assert line["Expected"] == "10" and line["Found"] == "8" and line["Difference"] == "-2"
    assert line["Aging"] == "Past the shift, 24 to 72 h"
    assert line["Age (hours)"] == "40"
    assert line["Cabinet user"] == "'=HYPERLINK(1)"  # never a formula


def test_the_pockets_moves_hide_patient_names_from_the_auditor(site, pharmacist, auditor):
    patient = PatientFactory(site=site, first_name="Margaret", last_name="Oduya")
    bin_ = pocket_stock(new_pocket(site), quantity=10)
    cabinet_event(bin_, CabinetEvent.REMOVAL, 2, patient=patient, patient_ref="MRN4471203")
    d = counted_short(site)  # another pocket
    CabinetDiscrepancy.objects.filter(pk=d.pk).update(pocket=bin_, move=None)
    d.refresh_from_db()

    seen_by_pharmacist = queries.moves_around(actor=pharmacist, discrepancy=d)
    seen_by_auditor = queries.moves_around(actor=auditor, discrepancy=d)

    assert "Margaret" in " ".join(m.patient for m in seen_by_pharmacist)
    assert "MRN4471203" in " ".join(m.patient for m in seen_by_pharmacist)
    words = " ".join(m.patient for m in seen_by_auditor)
    assert "Oduya" not in words and "Margaret" not in words and "4471203" not in words
    assert "MRN ••••••••03" in words


def test_the_moves_are_the_last_ten_up_to_the_count(site, pharmacist):
    bin_ = pocket_stock(new_pocket(site), quantity=30)
    for _ in range(12):
        cabinet_event(bin_, CabinetEvent.REMOVAL, 1)
    with transaction.atomic():
        moves, expected = cabinet_ledger.count(
            pocket=bin_, counted=Decimal(15), who=cabinet_ledger.Who()
        )
        d = cabinet_ledger.discrepancy_open(
            pocket=bin_,
            kind=DiscrepancyKind.COUNT_MISMATCH,
            expected=expected,
            found=Decimal(15),
            move=moves[-1],
        )
    cabinet_event(bin_, CabinetEvent.REMOVAL, 1)  # after the count: not shown

    shown = queries.moves_around(actor=pharmacist, discrepancy=d)

    assert len(shown) == 10
    assert shown[0].move.pk == moves[-1].pk and shown[0].is_cause
    assert [m.move.event for m in shown[1:]] == [CabinetEvent.REMOVAL] * 9
