"""Cold-chain reads: the checks due on the pharmacy's local date, the unit overview, and the
monthly temperature log with its excursions flagged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.inventory import queries_coldchain as queries
from rxdesk.inventory.choices import LocationKind, ReadingSource
from rxdesk.inventory.models import StorageLocation, TemperatureReading
from rxdesk.inventory.services import coldchain as services
from tests.inventory.matrix_coldchain import fridge

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 15, 0, tzinfo=dt.UTC)  # 10:00 in Chicago


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def reading(unit, when, low="3.0", high="6.0", source=ReadingSource.MANUAL):
    return TemperatureReading.objects.create(
        location=unit,
        recorded_at=when,
        minimum_c=Decimal(low),
        maximum_c=Decimal(high),
        source=source,
    )


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_readings_due_counts_checks_by_hand_on_the_local_date(site):
    done = fridge(site, "A-FRIDGE")
    half = fridge(site, "B-FRIDGE")
    logged = fridge(site, "C-FREEZER", kind=LocationKind.FREEZER, low="-50", high="-15")
    retired = fridge(site, "D-FRIDGE")
    StorageLocation.objects.filter(pk=retired.pk).update(active=False)
    StorageLocation.objects.create(site=site, code="SHELF", name="Shelf")
    reading(done, utc(2026, 6, 10, 13, 0))
    reading(done, utc(2026, 6, 10, 14, 0))
    reading(half, utc(2026, 6, 10, 13, 0))
    reading(half, utc(2026, 6, 10, 4, 30))  # 23:30 on 06/09 in Chicago: yesterday's
    reading(logged, utc(2026, 6, 10, 13, 0), "-20", "-18", ReadingSource.LOGGER)
    reading(logged, utc(2026, 6, 10, 13, 30), "-20", "-18", ReadingSource.LOGGER)

    due = queries.readings_due(site)

    assert [(s.unit.code, s.checks_today, s.checks_needed) for s in due] == [
        ("B-FRIDGE", 1, 1),
        ("C-FREEZER", 0, 2),
    ]
    yesterday = queries.readings_due(site, on=dt.date(2026, 6, 9))
    assert [(s.unit.code, s.checks_today) for s in yesterday] == [
        ("A-FRIDGE", 0),
        ("B-FRIDGE", 1),
        ("C-FREEZER", 0),
    ]


def test_the_unit_overview_takes_three_queries_whatever_the_number_of_units(
    site, technician, django_assert_num_queries
):
    for n in range(4):
        unit = fridge(site, f"F-{n}")
        reading(unit, utc(2026, 6, 10, 13, n))
        reading(unit, utc(2026, 6, 10, 14, n), high="9.0")
    services.temperature_record(
        actor=technician, location=fridge(site, "F-0"), minimum_c="3", maximum_c="10"
    )

    with django_assert_num_queries(3):
        statuses = queries.storage_units(actor=technician)

    assert [(s.unit.code, s.checks_today, s.last_out_of_range) for s in statuses] == [
        ("F-0", 3, True),
        ("F-1", 2, True),
        ("F-2", 2, True),
        ("F-3", 2, True),
    ]
    assert statuses[0].open_excursion is not None
    assert statuses[1].open_excursion is None
    assert statuses[0].last_reading is not None
    assert statuses[0].last_reading.maximum_c == Decimal("10.0")


def test_reads_check_the_capability_and_the_site(site, admin_user, outsider, technician):
    unit = fridge(site)
    with pytest.raises(Forbidden):
        queries.storage_units(actor=admin_user)
    with pytest.raises(Forbidden):
        queries.readings_due_for(actor=admin_user)
    with pytest.raises(NotFound):
        queries.unit_for(actor=outsider, unit_id=unit.pk)
    assert queries.unit_for(actor=technician, unit_id=unit.pk) == unit


def test_the_monthly_log_flags_out_of_range_readings_with_their_excursion(site, technician):
    unit = fridge(site)
    reading(unit, utc(2026, 6, 1, 4, 30))  # 05/31 23:30 local: May's log
    reading(unit, utc(2026, 6, 1, 13, 0))  # 06/01 08:00
    reading(unit, utc(2026, 6, 1, 22, 0))  # 06/01 17:00
    for minute in (0, 30):
        reading(unit, utc(2026, 6, 2, 13, minute), "3.5", "4.5", ReadingSource.LOGGER)
    opened = services.temperature_record(
        actor=technician,
        location=unit,
        minimum_c="3.0",
        maximum_c="11.0",
        recorded_at=utc(2026, 6, 3, 13, 0),
    )
    reading(unit, utc(2026, 7, 1, 4, 0))  # 06/30 23:00 local: still June

    log = queries.temperature_log(unit, dt.date(2026, 6, 1))

    assert log.month == dt.date(2026, 6, 1)
    assert (log.readings, log.out_of_range) == (6, 1)
    assert len(log.days) == 30
    first, second, third = log.days[0], log.days[1], log.days[2]
    assert [line.local.strftime("%H:%M") for line in first.manual] == ["08:00", "17:00"]
    assert (second.checks, len(second.logger), second.logger_low, second.logger_high) == (
        0,
        2,
        Decimal("3.5"),
        Decimal("4.5"),
    )
    assert [(line.out_of_range, line.excursion_id) for line in third.manual] == [
        (True, opened.excursion.pk)
    ]
    assert [line.local.date() for line in log.days[29].manual] == [dt.date(2026, 6, 30)]
    assert log.missed_days == [dt.date(2026, 6, d) for d in range(2, 10)]
    assert log.excursions == [opened.excursion]
    assert (log.previous, log.next) == (dt.date(2026, 5, 1), dt.date(2026, 7, 1))


@pytest.mark.parametrize("text", ["2026-13", "June", "1999-01", "2026-6-1"])
def test_a_month_is_given_as_year_and_month(site, text):
    with pytest.raises(Invalid, match="YYYY-MM") as caught:
        queries.month_of(text, site=site)
    assert caught.value.field == "month"
    assert queries.month_of("2026-06", site=site) == dt.date(2026, 6, 1)
    assert queries.month_of("", site=site) == dt.date(2026, 6, 1)
