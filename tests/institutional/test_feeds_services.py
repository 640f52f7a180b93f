"""Cabinet activity applied to the ledgers: removals first expiry first, short removals and
count mismatches opening discrepancies, returns to the lot removed, waste, restocks
confirmed or taken from the pharmacy, unloads back to it, duplicates of a whole feed or of
one transaction, partial feeds, HL7 messages and their ACKs, administrations; after each,
the cabinet's stock equals the sum of its moves and so does the pharmacy's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from rxdesk.core.choices import Role
from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.core.models import AuditEvent
from rxdesk.institutional import adc_hl7, cabinet_ledger
from rxdesk.institutional import services_feeds as services
from rxdesk.institutional.choices import (
    CabinetEvent,
    DiscrepancyKind,
    FeedSource,
    FeedStatus,
)
from rxdesk.institutional.models import (
    Administration,
    CabinetDiscrepancy,
    CabinetFeed,
    CabinetMove,
    Pocket,
    PocketStock,
)
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import StockBalance, StockMove
from tests.institutional.factories import cabinet, pocket, pocket_stock, staff
from tests.institutional.matrix_feeds import (
    MRN,
    NDC,
    csv_text,
    ft1,
    hl7_message,
    now_stamp,
    now_text,
    patient_of,
    removal,
    tech_of,
    ward,
)
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db


def _receive(site, *rows, actor=None, name="pyxis.csv"):
    text = csv_text(*[{"Date Time": now_text(site), **r} for r in rows])
    return services.feed_receive_csv(actor=actor or tech_of(site), name=name, data=text.encode())


def _verified(site):
    checked, problems = cabinet_ledger.cabinet_verify(site_id=site.pk)
    assert problems == []
    assert checked > 0
    _, stock_problems = ledger.ledger_verify(site_id=site.pk)
    assert stock_problems == []


def _lots(bin_: Pocket) -> dict[str, Decimal]:
    return {
        r.lot.number: r.on_hand
        for r in PocketStock.objects.filter(pocket=bin_).select_related("lot")
    }


def _written() -> tuple[int, ...]:
    return (
        CabinetFeed.objects.count(),
        CabinetMove.objects.count(),
        CabinetDiscrepancy.objects.count(),
        Administration.objects.count(),
        StockMove.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


# --- removals, waste, returns ----------------------------------------------------------------


def test_a_removal_takes_the_first_expiry_first_for_the_patient(site):
    bin_ = ward(site, stocked=0)
    pocket_stock(bin_, "LATE", 5, dt.date(2031, 1, 31))
    pocket_stock(bin_, "SOON", 5, dt.date(2029, 1, 31))

    result = _receive(site, removal(**{"Transaction ID": "TX-7", "Quantity": "7"}))

    assert result.status == FeedStatus.ACCEPTED
    assert result.applied == 1
    assert result.summary() == "3W-1: 1 transaction applied"
    assert _lots(bin_) == {"LATE": Decimal("3"), "SOON": Decimal("0")}
    moves = list(CabinetMove.objects.filter(feed=result.feed).order_by("id"))
    assert [(m.lot.number, m.quantity, m.balance_after) for m in moves] == [
        ("SOON", Decimal("-5"), Decimal("5")),
        ("LATE", Decimal("-2"), Decimal("3")),
    ]
    assert {m.event for m in moves} == {CabinetEvent.REMOVAL}
    assert {m.source for m in moves} == {FeedSource.CSV}
    assert {m.patient_id for m in moves} == {patient_of(site).pk}
    assert {(m.external_id, m.cabinet_user, m.patient_ref) for m in moves} == {
        ("TX-7", "NURSE1", MRN)
    }
    event = AuditEvent.objects.get(action="institutional.cabinet_feed.received")
    assert event.object_id == str(result.feed.pk)
    assert '"applied":1' in event.data
    _verified(site)


def test_a_removal_beyond_the_record_takes_what_is_held_and_opens_a_discrepancy(site):
    bin_ = ward(site, stocked=3)

    result = _receive(site, removal(Quantity="5", **{"User ID": "RN9"}))

    bin_.refresh_from_db()
    assert bin_.on_hand == 0
    assert result.applied == 1
    (d,) = result.discrepancies
    assert d.kind == DiscrepancyKind.SHORT_REMOVAL
    assert (d.expected, d.found) == (Decimal("3"), Decimal("5"))
    assert d.cabinet_user == "RN9"
    assert d.move is not None and d.move.quantity == Decimal("-3")
    assert result.summary() == "3W-1: 1 transaction applied, 1 discrepancy opened"
    opened = AuditEvent.objects.get(action="institutional.cabinet_discrepancy.opened")
    assert opened.object_id == str(d.pk)
    assert opened.patient_id == patient_of(site).pk
    assert [n["kind"] for n in result.feed.errors] == ["discrepancy"]
    _verified(site)


def test_a_blind_count_after_a_removal_that_differs_sets_the_pocket_and_opens_a_mismatch(site):
    bin_ = ward(site, stocked=10)

    result = _receive(site, removal(Quantity="2", Counted="7", Expected="8"))

    bin_.refresh_from_db()
    assert bin_.on_hand == Decimal("7")
    (d,) = result.discrepancies
    assert d.kind == DiscrepancyKind.COUNT_MISMATCH
    assert (d.expected, d.found) == (Decimal("8"), Decimal("7"))
    events = list(CabinetMove.objects.filter(feed=result.feed).values_list("event", "quantity"))
    assert events == [
        (CabinetEvent.REMOVAL, Decimal("-2")),
        (CabinetEvent.COUNT, Decimal("-1")),
    ]
    _verified(site)


def test_a_blind_count_that_agrees_opens_nothing(site):
    ward(site, stocked=10)

    result = _receive(site, removal(Quantity="2", Counted="8"))

    assert result.discrepancies == []
    assert CabinetMove.objects.filter(event=CabinetEvent.COUNT).count() == 0


def test_waste_comes_out_of_the_pocket_and_a_controlled_one_without_witness_is_flagged(site):
    bin_ = ward(site, stocked=4, controlled=True)

    result = _receive(site, removal(**{"Transaction Type": "Waste", "Quantity": "0.5"}))

    bin_.refresh_from_db()
    assert bin_.on_hand == Decimal("3.5")
    assert result.applied == 1
    assert [n["kind"] for n in result.feed.errors] == ["warning"]
    assert "without a witness" in result.feed.errors[0]["message"]
    _verified(site)


def test_a_return_goes_back_to_the_lot_removed_for_that_patient(site):
    bin_ = ward(site, stocked=0)
    pocket_stock(bin_, "SOON", 2, dt.date(2029, 1, 31))
    pocket_stock(bin_, "LATE", 5, dt.date(2031, 1, 31))
    _receive(site, removal(Quantity="2"))  # all of SOON
    pocket_stock(bin_, "NEWEST", 1, dt.date(2032, 1, 31))

    result = _receive(site, removal(**{"Transaction Type": "Return", "Quantity": "1"}))

    assert result.applied == 1
    assert _lots(bin_) == {"SOON": Decimal("1"), "LATE": Decimal("5"), "NEWEST": Decimal("1")}
    _verified(site)


def test_a_return_without_a_patient_goes_to_the_last_lot_put_in(site):
    bin_ = ward(site, stocked=0)
    pocket_stock(bin_, "A1", 2)
    pocket_stock(bin_, "B2", 2)

    _receive(site, removal(**{"Transaction Type": "Return", "Quantity": "1", "Patient ID": ""}))

    assert _lots(bin_) == {"A1": Decimal("2"), "B2": Decimal("3")}


# --- counts ----------------------------------------------------------------------------------


def test_a_count_that_differs_sets_the_pocket_and_opens_a_count_mismatch(site):
    bin_ = ward(site, stocked=10)

    result = _receive(site, removal(**{"Transaction Type": "Count", "Quantity": "9"}))

    bin_.refresh_from_db()
    assert bin_.on_hand == Decimal("9")
    (d,) = result.discrepancies
    assert (d.kind, d.expected, d.found) == (DiscrepancyKind.COUNT_MISMATCH, 10, 9)
    assert d.due_at - d.opened_at == dt.timedelta(hours=12)
    _verified(site)


def test_a_count_that_agrees_is_a_zero_move_and_no_discrepancy(site):
    ward(site, stocked=10)

    result = _receive(site, removal(**{"Transaction Type": "Count", "Quantity": "10"}))

    assert result.discrepancies == []
    (move,) = CabinetMove.objects.filter(feed=result.feed)
    assert (move.event, move.quantity) == (CabinetEvent.COUNT, Decimal("0"))


def test_a_count_of_a_pocket_never_stocked_is_refused(site):
    ward(site, stocked=0)

    result = _receive(site, removal(**{"Transaction Type": "Count", "Quantity": "3"}))

    assert result.status == FeedStatus.REJECTED
    assert "never been stocked" in result.refused[0]["message"]
    assert result.refused[0]["column"] == "Quantity"


# --- restock and unload ----------------------------------------------------------------------


def _rxdesk_restock(bin_: Pocket, quantity: int, hours_ago: float) -> CabinetMove:
    """A restock as recorded in rxdesk (part of the restock screen's work)."""
    site = bin_.cabinet.site
    with transaction.atomic():
        lot = ledger.lot_get_or_create(
            package=bin_.package, number="R1", expiry=dt.date(2030, 6, 30)
        )
        return cabinet_ledger.post(
            pocket=bin_,
            lot=lot,
            quantity=Decimal(quantity),
            event=CabinetEvent.RESTOCK,
            who=cabinet_ledger.Who(
                actor=tech_of(site),
                occurred_at=timezone.now() - dt.timedelta(hours=hours_ago),
            ),
        )


def test_a_restock_rxdesk_recorded_is_confirmed_and_nothing_moves(site):
    bin_ = ward(site, stocked=2)
    recorded = _rxdesk_restock(bin_, 8, hours_ago=3)
    before = CabinetMove.objects.count(), StockMove.objects.count()

    result = _receive(site, removal(**{"Transaction Type": "Restock", "Quantity": "8"}))

    assert result.confirmed == 1
    assert result.applied == 0
    assert result.status == FeedStatus.ACCEPTED
    assert (CabinetMove.objects.count(), StockMove.objects.count()) == before
    (note,) = result.feed.errors
    assert note["kind"] == "confirmed"
    assert note["move"] == recorded.pk
    assert "restock confirmed" in result.summary()
    _verified(site)


def test_a_restock_not_recorded_in_rxdesk_is_taken_from_the_pharmacy(site):
    bin_ = ward(site, stocked=2)
    _rxdesk_restock(bin_, 8, hours_ago=3)
    _receive(site, removal(**{"Transaction Type": "Restock", "Quantity": "8"}))  # confirmed
    stock(site, bin_.package, "PH-LATE", 20, dt.date(2031, 1, 31))
    stock(site, bin_.package, "PH-SOON", 5, dt.date(2029, 6, 30))

    # Another restock of the same quantity: the recorded one is already matched.
    result = _receive(site, removal(**{"Transaction Type": "Restock", "Quantity": "8"}))

    assert (result.applied, result.confirmed) == (1, 0)
    bin_.refresh_from_db()
    assert bin_.on_hand == Decimal("18")
    balances = dict(StockBalance.objects.filter(site=site).values_list("lot__number", "on_hand"))
    assert balances == {"PH-SOON": Decimal("0"), "PH-LATE": Decimal("17")}
    moves = CabinetMove.objects.filter(feed=result.feed).order_by("id")
    assert [(m.lot.number, m.quantity) for m in moves] == [
        ("PH-SOON", Decimal("5")),
        ("PH-LATE", Decimal("3")),
    ]
    assert all(m.stock_move.reason == MoveReason.CABINET_RESTOCK for m in moves)
    assert {m.note for m in moves} == {"restocked at the cabinet"}
    _verified(site)


def test_a_restock_outside_the_window_or_of_another_quantity_is_not_the_same(site):
    bin_ = ward(site, stocked=0)
    _rxdesk_restock(bin_, 8, hours_ago=13)
    _rxdesk_restock(bin_, 6, hours_ago=1)
    stock(site, bin_.package, "PH", 50)

    result = _receive(site, removal(**{"Transaction Type": "Restock", "Quantity": "8"}))

    assert (result.applied, result.confirmed) == (1, 0)


def test_a_restock_the_pharmacy_cannot_cover_is_refused(site):
    ward(site, stocked=0)

    result = _receive(site, removal(**{"Transaction Type": "Restock", "Quantity": "8"}))

    assert result.status == FeedStatus.REJECTED
    assert "not in the pharmacy's stock" in result.refused[0]["message"]
    assert CabinetMove.objects.filter(feed=result.feed).count() == 0


def test_an_unload_goes_back_to_the_pharmacy_lot_by_lot(site):
    bin_ = ward(site, stocked=0)
    pocket_stock(bin_, "SOON", 2, dt.date(2029, 1, 31))
    pocket_stock(bin_, "LATE", 5, dt.date(2031, 1, 31))

    result = _receive(site, removal(**{"Transaction Type": "Unload", "Quantity": "4"}))

    assert result.applied == 1
    assert _lots(bin_) == {"SOON": Decimal("0"), "LATE": Decimal("3")}
    back = dict(StockBalance.objects.filter(site=site).values_list("lot__number", "on_hand"))
    assert back == {"SOON": Decimal("2"), "LATE": Decimal("2")}
    moves = CabinetMove.objects.filter(feed=result.feed)
    assert {m.stock_move.reason for m in moves} == {MoveReason.CABINET_RETURN}
    _verified(site)


def test_an_unload_of_more_than_the_pocket_holds_is_refused_and_changes_nothing(site):
    bin_ = ward(site, stocked=3)

    result = _receive(site, removal(**{"Transaction Type": "Unload", "Quantity": "4"}))

    assert result.status == FeedStatus.REJECTED
    assert "holds only 3" in result.refused[0]["message"]
    bin_.refresh_from_db()
    assert bin_.on_hand == 3
    assert StockMove.objects.filter(reason=MoveReason.CABINET_RETURN).count() == 0


# --- feeds: duplicates, partial, refused rows ------------------------------------------------


def test_the_same_file_twice_is_a_duplicate_and_nothing_is_applied(site):
    bin_ = ward(site, stocked=10)
    text = csv_text(removal(**{"Date Time": now_text(site)})).encode()
    first = services.feed_receive_csv(actor=tech_of(site), name="a.csv", data=text)

    again = services.feed_receive_csv(actor=tech_of(site), name="a-again.csv", data=text)

    assert again.status == FeedStatus.DUPLICATE
    assert again.applied == 0
    assert f"feed #{first.feed.pk}" in again.feed.errors[0]["message"]
    assert again.summary() == "3W-1: already received, nothing applied"
    bin_.refresh_from_db()
    assert bin_.on_hand == 8


def test_a_transaction_id_already_applied_is_skipped(site):
    bin_ = ward(site, stocked=10)
    _receive(site, removal(**{"Transaction ID": "TX-1"}))

    result = _receive(
        site,
        removal(**{"Transaction ID": "TX-1"}),
        removal(**{"Transaction ID": "TX-2"}),
        removal(**{"Transaction ID": "TX-2"}),
    )

    assert (result.applied, result.duplicates) == (1, 2)
    assert result.status == FeedStatus.ACCEPTED
    bin_.refresh_from_db()
    assert bin_.on_hand == 6


def test_rows_that_cannot_be_applied_are_refused_and_the_rest_applied(site, other_site):
    bin_ = ward(site, stocked=10)
    cabinet(other_site, "3W-9")  # another pharmacy's cabinet is not a cabinet here
    pocket(cabinet(site), package("0009-0031-01"), drawer="2", place="B", par="10", minimum="1")
    text = csv_text(
        removal(**{"Date Time": now_text(site)}),
        removal(**{"Date Time": now_text(site), "Station": "3W-9"}),
        removal(**{"Date Time": now_text(site), "Pocket": "Z"}),
        removal(**{"Date Time": now_text(site), "NDC": "0009-0031-01"}),
        removal(**{"Date Time": "not a date"}),
        removal(**{"Date Time": now_text(site), "Drawer": "", "Pocket": ""}),
    )

    result = services.feed_receive_csv(actor=tech_of(site), name="f.csv", data=text.encode())

    assert result.status == FeedStatus.PARTIAL
    assert result.applied == 2  # row 2 and row 7 (found by its NDC)
    assert [(e["row"], e["column"], e["message"]) for e in result.refused] == [
        (3, "Station", "station 3W-9 is not a cabinet here"),
        (4, "Pocket", "pocket 1-Z is not a pocket of 3W-1"),
        (5, "NDC", "NDC 00009-0031-01 is not the package pocket 1-A holds (0002-3227-30)"),
        (6, "Date Time", "'not a date' is not a date and time (MM/DD/YYYY HH:MM or "
         "YYYY-MM-DD HH:MM)"),
    ]  # fmt: skip
    assert result.feed.rows == 6
    assert result.feed.accepted == 2
    assert "4 refused (row 3: station 3W-9 is not a cabinet here)" in result.summary()
    bin_.refresh_from_db()
    assert bin_.on_hand == 6
    _verified(site)


def test_a_file_that_cannot_be_read_writes_nothing(site):
    ward(site)
    before = _written()

    for data, words in [
        (b"\x00\x01\x02binary", "binary"),
        (b"Station,Qty\n3W-1,1\n", "no Transaction ID"),
        (b"x" * (5 * 1024 * 1024 + 1), "5 MB"),
        (csv_text().encode(), "no transaction rows"),
    ]:
        with pytest.raises(Invalid) as caught:
            services.feed_receive_csv(actor=tech_of(site), name="x.csv", data=data)
        assert caught.value.field == "file"
        assert words in caught.value.message

    assert _written() == before


def test_a_windows_1252_file_is_read(site):
    ward(site, stocked=10)
    text = csv_text(removal(**{"Date Time": now_text(site), "User Name": "José Núñez"}))

    result = services.feed_receive_csv(
        actor=tech_of(site), name="w.csv", data=text.encode("cp1252")
    )

    assert result.applied == 1


@pytest.mark.parametrize("role", ["inventory", "auditor", "trainee", "admin_user"])
def test_only_technicians_and_pharmacists_may_import(site, role, request):
    ward(site)
    actor = request.getfixturevalue(role)
    before = _written()

    with pytest.raises(Forbidden):
        services.feed_receive_csv(
            actor=actor,
            name="x.csv",
            data=csv_text(removal(**{"Date Time": now_text(site)})).encode(),
        )
    with pytest.raises(Forbidden):
        services.feed_receive_hl7(actor=actor, message=hl7_message(ft1(when=now_stamp(site))))
    with pytest.raises(Forbidden):
        services.administrations_import(actor=actor, name="e.csv", data=b"x")

    assert _written() == before


# --- HL7 -------------------------------------------------------------------------------------


def test_an_hl7_message_is_applied_and_acknowledged(site):
    bin_ = ward(site, stocked=10)
    message = hl7_message(
        ft1(1, tx="H-1", when=now_stamp(site)),
        "ZCA|RPH2^LEE^KIM|Y|8|8",
        ft1(2, tx="H-2", when=now_stamp(site), code="CT", qty="7"),
        control="MSG42",
    )

    result = services.feed_receive_hl7(actor=tech_of(site), message=message)

    assert result.feed.source == FeedSource.HL7
    assert result.feed.name == "MSG42"
    assert result.applied == 2
    bin_.refresh_from_db()
    assert bin_.on_hand == 7
    removed = CabinetMove.objects.get(external_id="H-1")
    assert removed.override is True
    assert removed.witness_name == "RPH2 (KIM LEE)"
    assert removed.patient == patient_of(site)
    msa = result.ack.split("\r")[1]
    assert msa.startswith("MSA|AA|MSG42|3W-1: 2 transactions applied")
    _verified(site)


def test_a_malformed_hl7_message_writes_nothing(site):
    ward(site)
    before = _written()

    with pytest.raises(adc_hl7.HL7Error) as caught:
        services.feed_receive_hl7(
            actor=tech_of(site), message=hl7_message(ft1(when=now_stamp(site), qty="-1"))
        )

    assert caught.value.field == "FT1[1]-10"
    assert _written() == before


def test_an_hl7_refusal_names_the_ft1_field(site):
    ward(site)

    result = services.feed_receive_hl7(
        actor=tech_of(site),
        message=hl7_message(ft1(when=now_stamp(site), where="3W-9^1^A")),
    )

    assert result.refused[0]["column"] == "FT1[1]-16"
    assert result.status == FeedStatus.REJECTED
    assert result.ack.split("\r")[1].startswith("MSA|AA|")


def test_the_listener_answers_every_frame_and_never_raises(site):
    ward(site, stocked=10)
    tech = tech_of(site)
    lines: list[str] = []
    good = adc_hl7.frame(hl7_message(ft1(when=now_stamp(site)), control="M1"))

    answers = [
        services.listener_handle(actor=tech, data=data, say=lines.append)
        for data in (
            good,
            good,
            adc_hl7.frame(hl7_message(ft1(when=now_stamp(site), qty="x"), control="M2")),
            adc_hl7.frame("NOT HL7 AT ALL"),
            b"no frame at all",
        )
    ]

    codes = [adc_hl7.unframe(a).decode().split("\r")[1].split("|")[1:3] for a in answers]
    assert codes == [["AA", "M1"], ["AA", "M1"], ["AE", "M2"], ["AR", ""], ["AR", ""]]
    assert lines[0] == "3W-1: 1 transaction applied"
    assert lines[1] == "3W-1: already received, nothing applied"
    assert lines[2].startswith("message M2 refused (AE): FT1[1]-10:")
    store = staff(site, Role.INVENTORY_SPECIALIST, username="inv-listener")
    forbidden = services.listener_handle(actor=store, data=good)
    assert b"MSA|AE|M1|" in forbidden


# --- administrations -------------------------------------------------------------------------


def test_administrations_are_imported_once_and_bad_rows_listed(site):
    patient = patient_of(site)
    ward(site)
    text = (
        "Administration ID,Given At,NDC,Quantity,Nurse ID,MRN\n"
        f"ADM-1,{now_text(site)},{NDC},1,NURSE1,{MRN}\n"
        f"ADM-2,{now_text(site)},0009-9999-99,1,NURSE1,{MRN}\n"
        f"ADM-3,{now_text(site)},{NDC},1.5,NURSE2,\n"
    )

    result = services.administrations_import(
        actor=tech_of(site), name="emar.csv", data=text.encode()
    )
    again = services.administrations_import(
        actor=tech_of(site), name="emar2.csv", data=text.replace("ADM-3", "ADM-4").encode()
    )

    assert result.status == FeedStatus.PARTIAL
    assert result.applied == 2
    assert [(e["row"], e["column"]) for e in result.refused] == [(3, "NDC")]
    assert result.feed.name == "Administrations: emar.csv"
    given = Administration.objects.get(external_id="ADM-1")
    assert (given.patient, given.nurse, given.quantity) == (patient, "NURSE1", Decimal("1"))
    assert given.feed == result.feed
    assert Administration.objects.get(external_id="ADM-3").patient is None
    assert (again.applied, again.duplicates) == (1, 1)
    assert Administration.objects.count() == 3
    assert AuditEvent.objects.filter(action="institutional.administrations.imported").count() == 2
