"""Cold-chain services: recording a check (and the excursion it opens), importing a data
logger file, documenting the response, and the pharmacist's release or discard. Each has
its audit event, its broken rules, and a forbidden role that writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import (
    AdjustReason,
    ExcursionStatus,
    LocationKind,
    LotStatus,
    MoveReason,
    ReadingSource,
)
from rxdesk.inventory.models import (
    Excursion,
    ExcursionStock,
    StockBalance,
    StockMove,
    StorageLocation,
    TemperatureReading,
)
from rxdesk.inventory.services import coldchain as services
from rxdesk.inventory.services.stock import stock_dispense
from tests.conftest import audit_count, last_event
from tests.inventory.factories import package, stock
from tests.inventory.matrix_coldchain import fridge, open_excursion

pytestmark = pytest.mark.django_db

# 10:00 in Chicago (CDT, UTC-5) on a working day.
NOW = dt.datetime(2026, 6, 10, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def at(hours_ago: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours_ago)


def counts() -> tuple[int, int, int, int, int]:
    return (
        TemperatureReading.objects.count(),
        Excursion.objects.count(),
        ExcursionStock.objects.count(),
        StockMove.objects.count(),
        audit_count(),
    )


def status_of(balance: StockBalance) -> str:
    balance.refresh_from_db()
    return balance.status


def record(actor, unit, low, high, current=None, when=None, **kw):
    return services.temperature_record(
        actor=actor,
        location=unit,
        minimum_c=low,
        maximum_c=high,
        current_c=current,
        recorded_at=when,
        **kw,
    )


# --- temperature_record --------------------------------------------------------------------


def test_it_records_a_reading_in_range_with_one_audit_event(site, technician):
    unit = fridge(site)
    before = audit_count()

    result = record(technician, unit, "3.1", "6.4", "4.5", note="AM check")

    reading = result.reading
    assert (reading.minimum_c, reading.maximum_c, reading.current_c) == (
        Decimal("3.1"),
        Decimal("6.4"),
        Decimal("4.5"),
    )
    assert reading.recorded_at == NOW
    assert reading.source == ReadingSource.MANUAL
    assert reading.recorded_by == technician
    assert (result.excursion, result.excursion_opened, result.quarantined) == (None, False, [])
    assert Excursion.objects.count() == 0
    assert audit_count() == before + 1
    event = last_event()
    assert event.action == "inventory.temperature.recorded"
    assert event.object_type == "inventory.temperaturereading"
    assert event.object_id == str(reading.pk)
    assert event.data == (
        '{"current_c":"4.5","excursion":null,"excursion_opened":false,"location":"FRIDGE-1",'
        '"maximum_c":"6.4","minimum_c":"3.1","quarantined":[],'
        '"recorded_at":"2026-06-10T15:00:00+00:00"}'
    )


def test_an_out_of_range_reading_opens_an_excursion_and_quarantines_the_units_stock(
    site, technician
):
    unit = fridge(site)
    shelf = StorageLocation.objects.create(site=site, code="A-1", name="Shelf A")
    vaccine = package("0006-4943-00")
    kept = stock(site, vaccine, "V1", 10, location=unit)
    elsewhere = stock(site, vaccine, "V2", 10, location=shelf)
    empty = stock(site, vaccine, "V3", 5, location=unit)
    with transaction.atomic():
        ledger.post_out(balance=empty, quantity=Decimal(5), reason=MoveReason.WASTE, actor=None)
    held = stock(site, vaccine, "V4", 3, location=unit)
    with transaction.atomic():
        ledger.status_set(balance=held, status=LotStatus.ON_HOLD, reason="count")

    result = record(technician, unit, "1.5", "9.0", "8.5")

    excursion = result.excursion
    assert excursion is not None and result.excursion_opened is True
    assert (excursion.location, excursion.reading, excursion.status) == (
        unit,
        result.reading,
        ExcursionStatus.OPEN,
    )
    assert (excursion.lowest_c, excursion.highest_c) == (Decimal("1.5"), Decimal("9.0"))
    assert result.quarantined == [kept.pk]
    assert status_of(kept) == LotStatus.QUARANTINED
    assert kept.status_reason == f"Temperature excursion #{excursion.pk} in FRIDGE-1"
    assert [status_of(elsewhere), status_of(empty), status_of(held)] == [
        LotStatus.AVAILABLE,
        LotStatus.AVAILABLE,
        LotStatus.ON_HOLD,
    ]
    assert list(ExcursionStock.objects.values_list("excursion", "balance", "quantity")) == [
        (excursion.pk, kept.pk, Decimal("10.000"))
    ]
    event = last_event()
    assert event.action == "inventory.temperature.recorded"
    assert f'"excursion":{excursion.pk},"excursion_opened":true' in event.data
    assert f'"quarantined":[{kept.pk}]' in event.data


def test_a_further_out_of_range_reading_joins_the_open_excursion(site, technician):
    unit = fridge(site)
    vaccine = package("0006-4943-00")
    first_lot = stock(site, vaccine, "V1", 10, location=unit)
    first = record(technician, unit, "3.0", "9.5", when=at(2))
    later_lot = stock(site, vaccine, "V2", 4, location=unit)
    in_range = record(technician, unit, "4.0", "6.0", when=at(1.5))

    second = record(technician, unit, "-1.0", "7.0", when=at(1))

    assert in_range.excursion is None
    assert second.excursion == first.excursion
    assert second.excursion_opened is False
    assert Excursion.objects.count() == 1
    excursion = Excursion.objects.get()
    assert (excursion.lowest_c, excursion.highest_c, excursion.reading) == (
        Decimal("-1.0"),
        Decimal("9.5"),
        first.reading,
    )
    assert second.quarantined == [later_lot.pk]
    assert status_of(first_lot) == status_of(later_lot) == LotStatus.QUARANTINED
    assert ExcursionStock.objects.filter(excursion=excursion).count() == 2


def test_quarantined_stock_is_not_dispensable_until_a_pharmacist_releases_it(
    site, technician, pharmacist
):
    unit = fridge(site)
    vaccine = package("0006-4943-00")
    balance = stock(site, vaccine, "V1", 10, location=unit)
    excursion = record(technician, unit, "3.0", "12.0").excursion
    assert excursion is not None

    with pytest.raises(Conflict, match="0 EA of NDC 0006-4943-00 can be dispensed"):
        stock_dispense(actor=technician, ndc=vaccine, quantity=1)

    services.excursion_respond(
        actor=technician, excursion=excursion, response="Door ajar; closed. Called Merck."
    )
    services.excursion_resolve(
        actor=pharmacist,
        excursion=excursion,
        disposition="release",
        note="Merck case 123: stable for 4 h up to 12 °C.",
    )
    assert status_of(balance) == LotStatus.AVAILABLE

    moves = stock_dispense(actor=technician, ndc=vaccine, quantity=1)
    assert [(m.lot.number, m.quantity) for m in moves] == [("V1", Decimal("-1.000"))]


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (("", "6.0", None), "minimum_c", "Enter the temperature in °C."),
        (("3.0", "abc", None), "maximum_c", "'abc' is not a temperature."),
        (("3.0", "75", None), "maximum_c", "75 °C is not a plausible reading"),
        (("-120", "6.0", None), "minimum_c", "-120 °C is not a plausible reading"),
        (("3.05", "6.0", None), "minimum_c", "Use at most one decimal place."),
        (("3.0", "NaN", None), "maximum_c", "Enter a number."),
        (("7.0", "6.0", None), "maximum_c", "The maximum cannot be below the minimum."),
        (("3.0", "6.0", "6.5"), "current_c", "The current temperature must lie between"),
    ],
)
def test_it_refuses_bad_values_naming_the_field_and_writes_nothing(
    site, technician, values, field, message
):
    unit = fridge(site)
    before = counts()
    with pytest.raises(Invalid, match=message) as caught:
        record(technician, unit, *values)
    assert caught.value.errors[0]["field"] == field
    assert counts() == before


def test_it_refuses_a_reading_from_the_future(site, technician):
    unit = fridge(site)
    before = counts()
    with pytest.raises(Invalid, match="cannot be in the future") as caught:
        record(technician, unit, "3.0", "6.0", when=NOW + dt.timedelta(minutes=10))
    assert caught.value.field == "recorded_at"
    assert counts() == before


def test_it_refuses_a_second_reading_at_the_same_time(site, technician):
    unit = fridge(site)
    record(technician, unit, "3.0", "6.0", when=at(1))
    before = counts()
    with pytest.raises(Conflict, match="FRIDGE-1 already has a reading at 06/10/2026 09:00"):
        # Seconds do not make another check: a double submit is caught.
        record(technician, unit, "3.2", "6.1", when=at(1) + dt.timedelta(seconds=20))
    assert counts() == before


def test_a_time_without_offset_is_the_pharmacys_local_time(site, technician):
    unit = fridge(site)
    result = record(technician, unit, "3.0", "6.0", when=dt.datetime(2026, 6, 10, 8, 15))
    assert result.reading.recorded_at == dt.datetime(2026, 6, 10, 13, 15, tzinfo=dt.UTC)


def test_the_operator_at_the_shell_records_for_a_named_site(site, cli_context):
    unit = fridge(site)
    with pytest.raises(Invalid, match="Name the site"):
        record(None, unit, "3.0", "6.0")
    result = record(None, unit, "3.0", "6.0", site=site)
    assert result.reading.recorded_by is None
    event = last_event()
    assert (event.action, event.actor_name, event.actor_kind) == (
        "inventory.temperature.recorded",
        "system",
        "system",
    )


def test_it_refuses_a_unit_without_a_range_and_another_sites_unit(site, other_site, technician):
    shelf = StorageLocation.objects.create(
        site=site, code="A-1", name="Shelf A", kind=LocationKind.SHELF
    )
    theirs = fridge(other_site)
    before = counts()
    with pytest.raises(Conflict, match="A-1 has no temperature range") as caught:
        record(technician, shelf, "3.0", "6.0")
    assert caught.value.field == "location"
    with pytest.raises(NotFound):
        record(technician, theirs, "3.0", "6.0")
    assert counts() == before


@pytest.mark.parametrize("persona", ["auditor", "admin_user"])
def test_a_role_without_cold_chain_may_not_record_and_nothing_is_written(site, request, persona):
    unit = fridge(site)
    balance = stock(site, package("0006-4943-00"), "V1", 10, location=unit)
    before = counts()
    with pytest.raises(Forbidden):
        record(request.getfixturevalue(persona), unit, "3.0", "12.0")
    assert counts() == before
    assert status_of(balance) == LotStatus.AVAILABLE


# --- temperature_import_logger -------------------------------------------------------------

LOG_F = (
    "LogTag export\n"
    "Date/Time,Temperature (°F)\n"
    "06/09/2026 08:00,40.0\n"
    "06/09/2026 08:30,41.0\n"
    "06/09/2026 09:00,48.2\n"
    "06/09/2026 09:30,50.0\n"
    "06/09/2026 10:00,44.6\n"
)


def test_it_imports_a_logger_file_with_one_audit_event(site, technician):
    unit = fridge(site)
    before = audit_count()
    text = "Timestamp,Temp (°C)\n2026-06-09T08:00,4.0\n2026-06-09T08:30,4.4\n"

    summary = services.temperature_import_logger(actor=technician, location=unit, csv_text=text)

    assert (summary.rows_read, summary.imported, summary.skipped) == (2, 2, 0)
    assert (summary.out_of_range, summary.excursions_opened, summary.excursion) == (0, 0, None)
    readings = list(
        TemperatureReading.objects.order_by("recorded_at").values_list(
            "recorded_at", "minimum_c", "maximum_c", "current_c", "source"
        )
    )
    assert readings == [
        (dt.datetime(2026, 6, 9, 13, 0, tzinfo=dt.UTC), Decimal("4.0"), Decimal("4.0"),
         Decimal("4.0"), "logger"),
        (dt.datetime(2026, 6, 9, 13, 30, tzinfo=dt.UTC), Decimal("4.4"), Decimal("4.4"),
         Decimal("4.4"), "logger"),
    ]  # fmt: skip
    assert audit_count() == before + 1
    event = last_event()
    assert event.action == "inventory.temperature.imported"
    assert event.object_type == "inventory.storagelocation"
    assert event.data == (
        '{"excursion":null,"excursion_opened":false,"first_at":"2026-06-09T13:00:00+00:00",'
        '"imported":2,"last_at":"2026-06-09T13:30:00+00:00","location":"FRIDGE-1",'
        '"out_of_range":0,"quarantined":[],"rows_read":2,"skipped":0,"unit":"C"}'
    )


def test_consecutive_out_of_range_logger_readings_form_one_excursion(site, technician):
    unit = fridge(site)
    balance = stock(site, package("0006-4943-00"), "V1", 10, location=unit)

    summary = services.temperature_import_logger(actor=technician, location=unit, csv_text=LOG_F)

    assert (summary.rows_read, summary.imported, summary.out_of_range) == (5, 5, 2)
    assert summary.unit == "F"
    assert summary.excursions_opened == 1
    excursion = Excursion.objects.get()
    assert summary.excursion == excursion
    assert excursion.reading.recorded_at == dt.datetime(2026, 6, 9, 14, 0, tzinfo=dt.UTC)
    assert (excursion.lowest_c, excursion.highest_c) == (Decimal("9.0"), Decimal("10.0"))
    assert summary.quarantined == [balance.pk]
    assert status_of(balance) == LotStatus.QUARANTINED
    assert f'"excursion":{excursion.pk},"excursion_opened":true' in last_event().data


def test_readings_already_on_file_are_skipped_and_counted(site, technician):
    unit = fridge(site)
    services.temperature_import_logger(actor=technician, location=unit, csv_text=LOG_F)
    more = LOG_F + "06/09/2026 10:30,42.8\n"

    summary = services.temperature_import_logger(actor=technician, location=unit, csv_text=more)

    assert (summary.rows_read, summary.imported, summary.skipped) == (6, 1, 5)
    assert (summary.out_of_range, summary.excursions_opened) == (0, 0)
    assert TemperatureReading.objects.count() == 6
    assert Excursion.objects.count() == 1


def test_a_bad_row_imports_nothing_and_names_row_and_column(site, technician):
    unit = fridge(site)
    bad = LOG_F + "06/09/2026 10:30,warm\n"
    before = counts()
    with pytest.raises(Invalid) as caught:
        services.temperature_import_logger(actor=technician, location=unit, csv_text=bad)
    assert caught.value.message == (
        "Row 8, column 'Temperature (°F)': 'warm' is not a temperature."
    )
    assert caught.value.field == "csv_text"
    assert caught.value.extra == {"row": 8, "column": "Temperature (°F)"}
    assert counts() == before


def test_a_logger_row_from_the_future_imports_nothing(site, technician):
    unit = fridge(site)
    text = "Timestamp,Temp (°C)\n2026-06-10T09:00,4.0\n2026-06-10T11:00,4.0\n"
    before = counts()
    with pytest.raises(Invalid, match="Row 3: 06/10/2026 11:00 is in the future"):
        services.temperature_import_logger(actor=technician, location=unit, csv_text=text)
    assert counts() == before


def test_a_unit_that_contradicts_the_header_is_refused(site, technician):
    unit = fridge(site)
    with pytest.raises(Invalid, match="header says °F, but °C was chosen") as caught:
        services.temperature_import_logger(
            actor=technician, location=unit, csv_text=LOG_F, unit="C"
        )
    assert caught.value.field == "unit"


def test_an_auditor_may_not_import_and_nothing_is_written(site, auditor):
    unit = fridge(site)
    before = counts()
    with pytest.raises(Forbidden):
        services.temperature_import_logger(actor=auditor, location=unit, csv_text=LOG_F)
    assert counts() == before


# --- excursion_respond ---------------------------------------------------------------------


def test_responses_are_appended_with_who_and_when(site, technician, pharmacist):
    excursion = open_excursion(site)

    services.excursion_respond(
        actor=technician, excursion=excursion, response="Door found ajar,\nclosed it."
    )
    with time_machine.travel(NOW + dt.timedelta(minutes=20), tick=False):
        result = services.excursion_respond(
            actor=pharmacist, excursion=excursion, response="Called Merck: case 4411."
        )

    assert result.response == (
        f"06/10/2026 10:00 {technician.display_name} (tech): Door found ajar, closed it.\n"
        f"06/10/2026 10:20 {pharmacist.display_name} (rph): Called Merck: case 4411.\n"
    )
    event = last_event()
    assert event.action == "inventory.excursion.responded"
    assert event.object_id == str(excursion.pk)
    assert event.data == (
        '{"entry":"06/10/2026 10:20 '
        f'{pharmacist.display_name} (rph): Called Merck: case 4411.","location":"FRIDGE-1"'
        "}"
    )


def test_a_response_needs_text_and_an_open_excursion(site, technician):
    excursion = open_excursion(site)
    before = counts()
    with pytest.raises(Invalid, match="Say what was done") as caught:
        services.excursion_respond(actor=technician, excursion=excursion, response="  ")
    assert caught.value.field == "response"
    Excursion.objects.filter(pk=excursion.pk).update(status=ExcursionStatus.RELEASED)
    with pytest.raises(Conflict, match="has been resolved"):
        services.excursion_respond(actor=technician, excursion=excursion, response="Late note")
    assert counts() == before


def test_an_auditor_may_not_respond_and_nothing_is_written(site, auditor, outsider):
    excursion = open_excursion(site)
    before = counts()
    with pytest.raises(Forbidden):
        services.excursion_respond(actor=auditor, excursion=excursion, response="x")
    with pytest.raises(NotFound):
        services.excursion_respond(actor=outsider, excursion=excursion, response="x")
    excursion.refresh_from_db()
    assert excursion.response == ""
    assert counts() == before


# --- excursion_resolve ---------------------------------------------------------------------


def _excursion_with_stock(site, technician):
    unit = fridge(site)
    vaccine = package("0006-4943-00")
    kept = stock(site, vaccine, "V1", 10, location=unit)
    recalled = stock(site, vaccine, "V2", 6, location=unit)
    excursion = record(technician, unit, "3.0", "12.5").excursion
    with transaction.atomic():
        ledger.status_set(balance=recalled, status=LotStatus.RECALLED, reason="Recall D-1")
    return excursion, kept, recalled


def test_resolving_is_refused_until_a_response_is_documented(site, technician, pharmacist):
    excursion, kept, _ = _excursion_with_stock(site, technician)
    before = counts()
    with pytest.raises(Conflict, match="Document the response first") as caught:
        services.excursion_resolve(
            actor=pharmacist, excursion=excursion, disposition="release", note="ok"
        )
    assert caught.value.field == "response"
    assert counts() == before
    assert status_of(kept) == LotStatus.QUARANTINED


def test_release_returns_quarantined_stock_and_leaves_a_recalled_lot(site, technician, pharmacist):
    excursion, kept, recalled = _excursion_with_stock(site, technician)
    services.excursion_respond(actor=technician, excursion=excursion, response="Door closed.")

    result = services.excursion_resolve(
        actor=pharmacist, excursion=excursion, disposition="release", note="Stable per maker."
    )

    assert (result.status, result.resolved_by, result.resolved_at) == (
        ExcursionStatus.RELEASED,
        pharmacist,
        NOW,
    )
    assert result.resolution_note == "Stable per maker."
    assert status_of(kept) == LotStatus.AVAILABLE
    assert kept.status_reason == f"Released after excursion #{excursion.pk}"
    assert status_of(recalled) == LotStatus.RECALLED
    event = last_event()
    assert event.action == "inventory.excursion.resolved"
    assert event.reason == "Stable per maker."
    assert event.data == (
        f'{{"discarded":[],"disposition":"release","left":[{{"balance":{recalled.pk},'
        f'"status":"recalled"}}],"location":"FRIDGE-1","released":[{kept.pk}],'
        '"status":"released"}'
    )


def test_discard_wastes_what_is_left_and_the_ledger_still_proves_out(site, technician, pharmacist):
    excursion, kept, recalled = _excursion_with_stock(site, technician)
    services.excursion_respond(actor=technician, excursion=excursion, response="Called maker.")

    result = services.excursion_resolve(
        actor=pharmacist, excursion=excursion, disposition="discard", note="Maker: do not use."
    )

    assert result.status == ExcursionStatus.DISCARDED
    kept.refresh_from_db()
    assert (kept.on_hand, kept.status) == (Decimal("0.000"), LotStatus.DAMAGED)
    move = StockMove.objects.filter(lot=kept.lot).order_by("-id").first()
    assert move is not None
    assert (move.quantity, move.reason, move.adjust_reason) == (
        Decimal("-10.000"),
        MoveReason.WASTE,
        AdjustReason.CONTAMINATED,
    )
    assert (move.reference_type, move.reference_id, move.actor) == (
        "excursion",
        str(excursion.pk),
        pharmacist,
    )
    recalled.refresh_from_db()
    assert (recalled.on_hand, recalled.status) == (Decimal("6.000"), LotStatus.RECALLED)
    assert ledger.ledger_verify() == (2, [])
    assert last_event().data == (
        f'{{"discarded":[{{"balance":{kept.pk},"move":{move.pk},"quantity":"10.000"}}],'
        f'"disposition":"discard","left":[{{"balance":{recalled.pk},"status":"recalled"}}],'
        '"location":"FRIDGE-1","released":[],"status":"discarded"}'
    )


def test_an_expired_lot_is_not_released(site, technician, pharmacist):
    unit = fridge(site)
    with time_machine.travel(NOW - dt.timedelta(days=30), tick=False):
        old = stock(
            site, package("0006-4943-00"), "OLD", 4, expiry=dt.date(2026, 6, 1), location=unit
        )
    excursion = record(technician, unit, "3.0", "12.5").excursion
    services.excursion_respond(actor=technician, excursion=excursion, response="Closed.")
    services.excursion_resolve(
        actor=pharmacist, excursion=excursion, disposition="release", note="ok"
    )
    assert status_of(old) == LotStatus.QUARANTINED
    assert f'"left":[{{"balance":{old.pk},"status":"expired"}}]' in last_event().data


def test_a_resolved_excursion_cannot_be_resolved_again(site, pharmacist):
    excursion = open_excursion(site, response="Closed.")
    services.excursion_resolve(
        actor=pharmacist, excursion=excursion, disposition="release", note="ok"
    )
    before = counts()
    with pytest.raises(Conflict, match=r"is closed \(stock released by pharmacist\)"):
        services.excursion_resolve(
            actor=pharmacist, excursion=excursion, disposition="discard", note="again"
        )
    assert counts() == before


@pytest.mark.parametrize(
    ("disposition", "note", "field"),
    [("keep", "ok", "disposition"), ("release", " ", "note")],
)
def test_a_decision_needs_a_disposition_and_a_note(site, pharmacist, disposition, note, field):
    excursion = open_excursion(site, response="Closed.")
    before = counts()
    with pytest.raises(Invalid) as caught:
        services.excursion_resolve(
            actor=pharmacist, excursion=excursion, disposition=disposition, note=note
        )
    assert caught.value.field == field
    assert counts() == before


@pytest.mark.parametrize("persona", ["technician", "inventory", "auditor"])
def test_only_a_pharmacist_resolves_and_a_refusal_writes_nothing(site, request, persona):
    unit = fridge(site)
    balance = stock(site, package("0006-4943-00"), "V1", 10, location=unit)
    tech = request.getfixturevalue("technician")
    excursion = record(tech, unit, "3.0", "12.5").excursion
    services.excursion_respond(actor=tech, excursion=excursion, response="Closed.")
    before = counts()
    with pytest.raises(Forbidden):
        services.excursion_resolve(
            actor=request.getfixturevalue(persona),
            excursion=excursion,
            disposition="discard",
            note="gone",
        )
    assert counts() == before
    excursion.refresh_from_db()
    assert excursion.status == ExcursionStatus.OPEN
    balance.refresh_from_db()
    assert (balance.on_hand, balance.status) == (Decimal("10.000"), LotStatus.QUARANTINED)


@pytest.mark.postgres
def test_concurrent_out_of_range_readings_open_one_excursion_on_postgres(transactional_db):
    import threading

    from django.db import connection

    from rxdesk.core import context
    from rxdesk.core.choices import Role
    from tests.factories import SiteFactory, UserFactory

    site = SiteFactory()
    tech = UserFactory(site=site, role=Role.TECHNICIAN, username="tech-conc")
    unit = fridge(site)
    balance = stock(site, package("0006-4943-00"), "V1", 10, location=unit)
    workers = 6
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with context.using(context.RequestInfo(request_id=f"t{n}", channel="web")):
                barrier.wait()
                record(tech, unit, f"{-n}.0", f"{9 + n}.0", when=at(1) + dt.timedelta(minutes=n))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    excursion = Excursion.objects.get()
    assert (excursion.lowest_c, excursion.highest_c) == (Decimal("-5.0"), Decimal("14.0"))
    assert TemperatureReading.objects.count() == workers
    assert list(ExcursionStock.objects.values_list("balance", flat=True)) == [balance.pk]
