"""Cabinet set-up, restock and unload services: stock moves from the pharmacy's shelf into a
pocket by lot and back, both ledgers prove themselves after every step, a controlled pocket
is counted and witnessed, and every broken rule names its field and changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.institutional import services_cabinets as services
from rxdesk.institutional.cabinet_ledger import cabinet_verify
from rxdesk.institutional.choices import CabinetEvent, DiscrepancyKind
from rxdesk.institutional.models import (
    Cabinet,
    CabinetDiscrepancy,
    CabinetMove,
    Pocket,
    PocketStock,
)
from rxdesk.inventory.choices import LocationKind, LotStatus, MoveReason
from rxdesk.inventory.ledger import ledger_verify
from rxdesk.inventory.models import StockBalance, StockMove, StorageLocation
from tests.conftest import audit_count
from tests.institutional.cabinets_setup import (
    datamatrix,
    hri,
    on_shelf,
    oxycodone,
    prozac,
    restocked,
    shelf,
    ward,
    witness,
    witness_of,
)
from tests.institutional.factories import cabinet, pocket, pocket_stock
from tests.inventory.factories import stock


def _data(event) -> dict:
    return json.loads(event.data)


def _snapshot() -> tuple[int, int, int, int, list[Decimal]]:
    return (
        CabinetMove.objects.count(),
        StockMove.objects.count(),
        CabinetDiscrepancy.objects.count(),
        audit_count(),
        list(StockBalance.objects.order_by("pk").values_list("on_hand", flat=True)),
    )


def _proven(site) -> None:
    assert ledger_verify(site_id=site.pk)[1] == []
    assert cabinet_verify(site_id=site.pk)[1] == []


# --- Cabinets ---------------------------------------------------------------------------------


def test_it_sets_up_a_cabinet_as_a_storage_location(site, pharmacist):
    box = services.cabinet_save(
        actor=pharmacist, code=" 4e-2 ", name="4 East med room", vendor="omnicell", area="4 East"
    )
    assert box.code == "4E-2"
    assert box.location.code == "ADC-4E-2"
    assert box.location.kind == LocationKind.CABINET
    event = AuditEvent.objects.get(action="institutional.cabinet.created")
    assert _data(event)["after"]["code"] == "4E-2"


def test_a_cabinet_code_is_unique_at_the_pharmacy(site, pharmacist):
    services.cabinet_save(actor=pharmacist, code="3W-1", name="A", vendor="pyxis")
    with pytest.raises(Invalid) as err:
        services.cabinet_save(actor=pharmacist, code="3w-1", name="B", vendor="pyxis")
    assert err.value.field == "code"
    assert Cabinet.objects.count() == 1


def test_a_cabinet_needs_a_known_vendor_and_a_name(site, pharmacist):
    with pytest.raises(Invalid) as err:
        services.cabinet_save(actor=pharmacist, code="X", name="X", vendor="acme")
    assert err.value.field == "vendor"
    with pytest.raises(Invalid) as err:
        services.cabinet_save(actor=pharmacist, code="X", name="  ", vendor="pyxis")
    assert err.value.field == "name"


def test_a_technician_cannot_set_up_a_cabinet(site, technician):
    before = audit_count()
    with pytest.raises(Forbidden):
        services.cabinet_save(actor=technician, code="X", name="X", vendor="pyxis")
    assert not Cabinet.objects.exists() and not StorageLocation.objects.exists()
    assert audit_count() == before


def test_a_cabinet_holding_stock_stays_in_service(site, pharmacist, technician):
    w = ward(site)
    restocked(site, technician, w["cabinet"], w["plain"])
    with pytest.raises(Conflict) as err:
        services.cabinet_save(
            actor=pharmacist,
            cabinet=w["cabinet"],
            code="3W-1",
            name="x",
            vendor="pyxis",
            active=False,
        )
    assert err.value.field == "active"
    assert Cabinet.objects.get().active


def test_renaming_a_cabinet_renames_its_location(site, pharmacist):
    box = cabinet(site)
    services.cabinet_save(actor=pharmacist, cabinet=box, code="3W-9", name="Moved", vendor="pyxis")
    box.refresh_from_db()
    assert box.location.code == "ADC-3W-9" and box.location.name == "Moved"
    assert (
        _data(AuditEvent.objects.get(action="institutional.cabinet.updated"))["before"]["code"]
        == "3W-1"
    )


def test_another_pharmacys_cabinet_does_not_exist_here(site, other_site, pharmacist):
    theirs = cabinet(other_site)
    with pytest.raises(NotFound):
        services.cabinet_save(actor=pharmacist, cabinet=theirs, code="Z", name="Z", vendor="pyxis")


# --- Pockets ----------------------------------------------------------------------------------


def test_it_sets_up_a_pocket(site, pharmacist):
    box = cabinet(site)
    p = services.pocket_save(
        actor=pharmacist,
        cabinet=box,
        drawer="1",
        pocket_code="a",
        package=prozac(),
        par="10",
        minimum="3",
    )
    assert (p.place, p.par, p.minimum, p.controlled) == ("1-A", Decimal(10), Decimal(3), False)
    event = AuditEvent.objects.get(action="institutional.pocket.created")
    assert _data(event)["after"]["par"] == "10" and _data(event)["place"] == "1-A"


@pytest.mark.parametrize(
    ("par", "minimum", "field", "words"),
    [
        ("3", "5", "par", "The par level (3) must be at least the minimum (5)."),
        ("5", "-1", "minimum", "The minimum must be zero or more."),
        ("0", "0", "par", "The par level must be more than zero."),
        ("abc", "1", "par", "'abc' is not a number."),
        ("1.0001", "1", "par", "Use at most three decimal places."),
    ],
)
def test_par_is_at_least_the_minimum_which_is_at_least_zero(
    site, pharmacist, par, minimum, field, words
):
    with pytest.raises(Invalid) as err:
        services.pocket_save(
            actor=pharmacist,
            cabinet=cabinet(site),
            drawer="1",
            pocket_code="A",
            package=prozac(),
            par=par,
            minimum=minimum,
        )
    assert {"field": field, "message": words} in err.value.errors
    assert not Pocket.objects.exists()


def test_a_scheduled_drug_is_always_a_controlled_pocket(site, pharmacist):
    box = cabinet(site)
    p = services.pocket_save(
        actor=pharmacist,
        cabinet=box,
        drawer="2",
        pocket_code="B",
        package=oxycodone(),
        par="20",
        minimum="5",
    )
    assert p.controlled
    with pytest.raises(Invalid) as err:
        services.pocket_save(
            actor=pharmacist,
            cabinet=box,
            pocket=p,
            drawer="2",
            pocket_code="B",
            package=oxycodone(),
            par="20",
            minimum="5",
            controlled=False,
        )
    assert err.value.field == "controlled"
    assert "Schedule II controlled substance" in err.value.message
    p.refresh_from_db()
    assert p.controlled


def test_a_place_holds_one_pocket(site, pharmacist):
    box = cabinet(site)
    pocket(box, prozac(), drawer="1", place="A")
    with pytest.raises(Invalid) as err:
        services.pocket_save(
            actor=pharmacist,
            cabinet=box,
            drawer="1",
            pocket_code="A",
            package=oxycodone(),
            par="5",
            minimum="1",
        )
    assert err.value.field == "pocket_code"
    assert Pocket.objects.count() == 1


def test_a_pocket_holding_stock_keeps_its_drug_and_stays_in_use(site, pharmacist):
    p = pocket_stock(pocket(cabinet(site), prozac()), quantity=4)
    common = {
        "actor": pharmacist,
        "cabinet": p.cabinet,
        "pocket": p,
        "drawer": "1",
        "pocket_code": "A",
    }
    with pytest.raises(Conflict) as err:
        services.pocket_save(**common, package=oxycodone(), par="10", minimum="3")
    assert err.value.field == "package"
    with pytest.raises(Conflict) as err:
        services.pocket_save(**common, package=prozac(), par="10", minimum="3", active=False)
    assert err.value.field == "active"
    p.refresh_from_db()
    assert p.package == prozac() and p.active
    # par and minimum may change while it holds stock
    services.pocket_save(**common, package=prozac(), par="12", minimum="4")
    p.refresh_from_db()
    assert (p.par, p.minimum) == (Decimal(12), Decimal(4))


def test_a_technician_cannot_set_up_a_pocket(site, technician):
    with pytest.raises(Forbidden):
        services.pocket_save(
            actor=technician,
            cabinet=cabinet(site),
            drawer="1",
            pocket_code="A",
            package=prozac(),
            par="5",
            minimum="1",
        )
    assert not Pocket.objects.exists()


# --- Restock ----------------------------------------------------------------------------------


def test_a_restock_moves_stock_from_the_pharmacy_to_the_pocket_by_lot(site, technician):
    w = ward(site)
    moves = services.cabinet_restock(
        actor=technician,
        cabinet=w["cabinet"],
        lines=[{"pocket_id": w["plain"].pk, "lot_number": "p-far", "quantity": "7"}],
    )
    [move] = moves
    assert (move.event, move.quantity, move.balance_after, move.lot.number) == (
        CabinetEvent.RESTOCK,
        Decimal(7),
        Decimal(7),
        "P-FAR",
    )
    out = move.stock_move
    assert (out.reason, out.quantity, out.lot.number) == (
        MoveReason.CABINET_RESTOCK,
        Decimal(-7),
        "P-FAR",
    )
    assert on_shelf(site, "P-FAR") == Decimal(43)
    assert PocketStock.objects.get(pocket=w["plain"]).on_hand == Decimal(7)
    w["plain"].refresh_from_db()
    assert w["plain"].on_hand == Decimal(7)
    event = AuditEvent.objects.get(action="institutional.cabinet.restocked")
    assert _data(event)["lines"] == [
        {"pocket": "1-A", "ndc": "00002322730", "lot": "P-FAR", "quantity": "7", "on_hand": "7"}
    ]
    _proven(site)


@pytest.mark.parametrize("code", ["datamatrix", "hri"])
def test_a_scanned_gs1_code_gives_the_lot(site, technician, code):
    w = ward(site)
    scan = (datamatrix if code == "datamatrix" else hri)(prozac(), "P-NEAR", dt.date(2029, 6, 30))
    [move] = services.cabinet_restock(
        actor=technician,
        cabinet=w["cabinet"],
        lines=[{"pocket_id": w["plain"].pk, "scan": scan, "quantity": 5}],
    )
    assert move.lot.number == "P-NEAR"
    assert on_shelf(site, "P-NEAR") == Decimal(45)


def test_a_barcode_of_another_drug_is_refused_beside_its_line(site, technician):
    w = ward(site)
    before = _snapshot()
    with pytest.raises(Invalid) as err:
        services.cabinet_restock(
            actor=technician,
            cabinet=w["cabinet"],
            lines=[
                {"pocket_id": w["plain"].pk, "scan": datamatrix(oxycodone(), "OX1"), "quantity": 5}
            ],
        )
    assert err.value.errors[0]["field"] == "lines[0].scan"
    assert "NDC 0406-0552-01, not Prozac" in err.value.errors[0]["message"]
    assert _snapshot() == before


def test_an_unreadable_scan_is_refused(site, technician):
    w = ward(site)
    with pytest.raises(Invalid) as err:
        services.cabinet_restock(
            actor=technician,
            cabinet=w["cabinet"],
            lines=[{"pocket_id": w["plain"].pk, "scan": "]d2", "quantity": 5}],
        )
    assert err.value.errors[0]["field"] == "lines[0].scan"


def test_more_than_par_is_refused_with_the_numbers(site, technician):
    w = ward(site)
    restocked(site, technician, w["cabinet"], w["plain"], "6")
    before = _snapshot()
    with pytest.raises(Invalid) as err:
        services.cabinet_restock(
            actor=technician,
            cabinet=w["cabinet"],
            lines=[{"pocket_id": w["plain"].pk, "lot_number": "P-NEAR", "quantity": "5"}],
        )
    assert err.value.errors == [
        {
            "field": "lines[0].quantity",
            "message": "Pocket 1-A holds 6 of par 10: at most 4 fit, 5 is too many.",
        }
    ]
    assert _snapshot() == before


def test_an_expired_lot_is_refused(site, technician):
    w = ward(site)
    stock(site, prozac(), "P-OLD", 10, dt.date(2020, 1, 31))
    before = _snapshot()
    with pytest.raises(Conflict) as err:
        services.cabinet_restock(
            actor=technician,
            cabinet=w["cabinet"],
            lines=[{"pocket_id": w["plain"].pk, "lot_number": "P-OLD", "quantity": "2"}],
        )
    assert err.value.field == "lines[0].lot"
    assert "expired on 01/31/2020" in err.value.message
    assert _snapshot() == before


def test_a_recalled_lot_and_a_short_lot_are_refused(site, technician):
    w = ward(site)
    StockBalance.objects.filter(lot__number="P-FAR").update(status=LotStatus.RECALLED)
    before = _snapshot()
    with pytest.raises(Conflict) as err:
        services.cabinet_restock(
            actor=technician,
            cabinet=w["cabinet"],
            lines=[{"pocket_id": w["plain"].pk, "lot_number": "P-FAR", "quantity": "2"}],
        )
    assert err.value.field == "lines[0].lot" and "recalled" in err.value.message
    Pocket.objects.filter(pk=w["plain"].pk).update(par=Decimal(100))  # room for 60
    with pytest.raises(Conflict) as err:
        services.cabinet_restock(
            actor=technician,
            cabinet=w["cabinet"],
            lines=[{"pocket_id": w["plain"].pk, "lot_number": "P-NEAR", "quantity": "60"}],
        )
    assert err.value.field == "lines[0].lot"
    assert "Only 50 EA of lot P-NEAR on hand; cannot take 60." in err.value.message
    assert _snapshot() == before


def test_a_lot_the_pharmacy_never_had_is_refused(site, technician):
    w = ward(site)
    with pytest.raises(Invalid) as err:
        services.cabinet_restock(
            actor=technician,
            cabinet=w["cabinet"],
            lines=[{"pocket_id": w["plain"].pk, "lot_number": "NOPE", "quantity": "2"}],
        )
    assert err.value.errors[0]["field"] == "lines[0].lot"
    assert "Lot NOPE of Prozac" in err.value.errors[0]["message"]


def test_all_lines_or_none(site, technician, pharmacist):
    w = ward(site)
    before = _snapshot()
    with pytest.raises(Invalid) as err:
        services.cabinet_restock(
            actor=technician,
            cabinet=w["cabinet"],
            lines=[
                {"pocket_id": w["plain"].pk, "lot_number": "P-NEAR", "quantity": "5"},
                {"pocket_id": w["plain"].pk, "lot_number": "P-FAR", "quantity": "6"},
                {"pocket_id": 999999, "lot_number": "P-FAR", "quantity": "1"},
            ],
        )
    fields = [e["field"] for e in err.value.errors]
    assert fields == ["lines[1].quantity", "lines[2].pocket_id"]
    assert _snapshot() == before


def test_an_empty_restock_is_refused(site, technician):
    w = ward(site)
    with pytest.raises(Invalid) as err:
        services.cabinet_restock(actor=technician, cabinet=w["cabinet"], lines=[])
    assert err.value.field == "lines"


@pytest.mark.parametrize("role", ["auditor", "trainee"])
def test_an_auditor_or_a_trainee_cannot_restock(site, role, request):
    actor = request.getfixturevalue(role)
    w = ward(site)
    before = _snapshot()
    with pytest.raises(Forbidden):
        services.cabinet_restock(
            actor=actor,
            cabinet=w["cabinet"],
            lines=[{"pocket_id": w["plain"].pk, "lot_number": "P-NEAR", "quantity": "5"}],
        )
    assert _snapshot() == before


def test_an_inventory_specialist_restocks(site, inventory):
    w = ward(site)
    restocked(site, inventory, w["cabinet"], w["plain"], "4")
    assert w["plain"].on_hand == Decimal(4)


def test_another_pharmacys_cabinet_cannot_be_restocked(site, other_site, technician):
    ward(site)
    theirs = ward(other_site)
    with pytest.raises(NotFound):
        services.cabinet_restock(
            actor=technician,
            cabinet=theirs["cabinet"],
            lines=[{"pocket_id": theirs["plain"].pk, "lot_number": "P-NEAR", "quantity": "5"}],
        )


# --- Controlled restock -----------------------------------------------------------------------


def _cs_line(w, quantity="10", counted="0", lot="OX1"):
    line = {"pocket_id": w["cs"].pk, "lot_number": lot, "quantity": quantity}
    if counted is not None:
        line["counted_before"] = counted
    return line


def test_a_controlled_restock_needs_the_count_before(site, technician):
    w = ward(site)
    with pytest.raises(Invalid) as err:
        services.cabinet_restock(
            actor=technician,
            cabinet=w["cabinet"],
            lines=[_cs_line(w, counted=None)],
            witness=witness(site),
        )
    assert err.value.errors[0]["field"] == "lines[0].counted_before"


def test_a_controlled_restock_needs_a_witness(site, technician):
    w = ward(site)
    before = _snapshot()
    with pytest.raises(Invalid) as err:
        services.cabinet_restock(actor=technician, cabinet=w["cabinet"], lines=[_cs_line(w)])
    assert err.value.field == "witness.username"
    assert _snapshot() == before


def test_a_wrong_witness_password_changes_nothing(site, technician):
    w = ward(site)
    before = CabinetMove.objects.count(), StockMove.objects.count(), on_shelf(site, "OX1")
    with pytest.raises(Invalid) as err:
        services.cabinet_restock(
            actor=technician,
            cabinet=w["cabinet"],
            lines=[_cs_line(w)],
            witness=witness(site, password="wrong-password"),
        )
    assert err.value.field == "witness.password"
    assert (CabinetMove.objects.count(), StockMove.objects.count(), on_shelf(site, "OX1")) == before
    failed = AuditEvent.objects.get(action="auth.witness_failed")
    assert _data(failed)["for"] == "institutional.cabinet.restocked"
    assert not AuditEvent.objects.filter(action="institutional.cabinet.restocked").exists()


def test_the_one_restocking_cannot_witness_it(site, pharmacist):
    w = ward(site)
    with pytest.raises(Invalid) as err:
        services.cabinet_restock(
            actor=pharmacist,
            cabinet=w["cabinet"],
            lines=[_cs_line(w)],
            witness={"username": pharmacist.username, "password": "pharmacy-counter-42"},
        )
    assert err.value.field == "witness.username"


def test_a_witnessed_controlled_restock_records_the_witness_in_both_ledgers(site, technician):
    w = ward(site)
    [move] = services.cabinet_restock(
        actor=technician,
        cabinet=w["cabinet"],
        lines=[_cs_line(w, "10", "0")],
        witness=witness(site),
    )
    assert move.witness_name == witness_of(site).username
    assert move.stock_move.witness == witness_of(site)
    assert on_shelf(site, "OX1") == Decimal(90)
    assert not CabinetDiscrepancy.objects.exists()
    event = AuditEvent.objects.get(action="institutional.cabinet.restocked")
    assert _data(event)["witness"] == witness_of(site).username
    assert _data(event)["lines"][0]["counted_before"] == "0"
    _proven(site)


def test_a_count_that_differs_counts_the_pocket_and_opens_a_discrepancy_first(site, technician):
    w = ward(site)
    services.cabinet_restock(
        actor=technician,
        cabinet=w["cabinet"],
        lines=[_cs_line(w, "10", "0")],
        witness=witness(site),
    )
    done = services.cabinet_restock_full(
        actor=technician, cabinet=w["cabinet"], lines=[_cs_line(w, "5", "8")], witness=witness(site)
    )
    [found] = done.discrepancies
    assert (found.kind, found.expected, found.found, found.controlled) == (
        DiscrepancyKind.COUNT_MISMATCH,
        Decimal(10),
        Decimal(8),
        True,
    )
    moves = list(CabinetMove.objects.filter(pocket=w["cs"]).order_by("id"))
    assert [(m.event, m.quantity, m.balance_after) for m in moves] == [
        (CabinetEvent.RESTOCK, Decimal(10), Decimal(10)),
        (CabinetEvent.COUNT, Decimal(-2), Decimal(8)),
        (CabinetEvent.RESTOCK, Decimal(5), Decimal(13)),
    ]
    assert found.move == moves[1]
    event = AuditEvent.objects.filter(action="institutional.cabinet.restocked").last()
    assert _data(event)["lines"][0]["discrepancy"] == found.pk
    assert _data(event)["lines"][0]["expected"] == "10"
    _proven(site)


def test_the_count_before_decides_the_room_to_par(site, technician):
    w = ward(site)
    services.cabinet_restock(
        actor=technician,
        cabinet=w["cabinet"],
        lines=[_cs_line(w, "10", "0")],
        witness=witness(site),
    )
    # 10 on record, 16 found: only 4 more fit under par 20 (not 10).
    with pytest.raises(Invalid) as err:
        services.cabinet_restock(
            actor=technician,
            cabinet=w["cabinet"],
            lines=[_cs_line(w, "6", "16")],
            witness=witness(site),
        )
    assert err.value.errors[0]["message"] == (
        "Pocket 2-B holds 16 of par 20: at most 4 fit, 6 is too many."
    )
    assert not CabinetDiscrepancy.objects.exists()


# --- Unload -----------------------------------------------------------------------------------


def test_an_unload_goes_back_to_the_pharmacy_by_lot(site, technician):
    w = ward(site)
    restocked(site, technician, w["cabinet"], w["plain"], "6")
    moves = services.pocket_unload(
        actor=technician, pocket=w["plain"], quantity="2", reason="par lowered"
    )
    assert [(m.event, m.quantity, m.balance_after) for m in moves] == [
        (CabinetEvent.UNLOAD, Decimal(-2), Decimal(4))
    ]
    back = moves[0].stock_move
    assert (back.reason, back.quantity, back.lot.number) == (
        MoveReason.CABINET_RETURN,
        Decimal(2),
        "P-NEAR",
    )
    assert on_shelf(site, "P-NEAR") == Decimal(46)
    event = AuditEvent.objects.get(action="institutional.pocket.unloaded")
    assert event.reason == "par lowered" and _data(event)["lots"] == [
        {"lot": "P-NEAR", "quantity": "2"}
    ]
    _proven(site)


def test_an_expired_lot_comes_back_to_the_pharmacy(site, technician):
    w = ward(site)
    pocket_stock(w["plain"], lot="P-GONE", quantity=3, expiry=dt.date(2020, 5, 31))
    services.pocket_unload(
        actor=technician, pocket=w["plain"], quantity="3", lot_number="p-gone", reason="expired"
    )
    assert on_shelf(site, "P-GONE") == Decimal(3)
    w["plain"].refresh_from_db()
    assert w["plain"].on_hand == 0


def test_an_unload_beyond_the_record_changes_nothing(site, technician):
    w = ward(site)
    restocked(site, technician, w["cabinet"], w["plain"], "2")
    before = _snapshot()
    with pytest.raises(Conflict) as err:
        services.pocket_unload(actor=technician, pocket=w["plain"], quantity="3", reason="x")
    assert err.value.field == "quantity"
    assert "holds only 2 on record; cannot unload 3" in err.value.message
    with pytest.raises(Invalid) as err:
        services.pocket_unload(actor=technician, pocket=w["plain"], quantity="1", reason="  ")
    assert err.value.field == "reason"
    with pytest.raises(Invalid) as err:
        services.pocket_unload(
            actor=technician, pocket=w["plain"], quantity="1", lot_number="P-FAR", reason="x"
        )
    assert err.value.field == "lot_number"
    assert _snapshot() == before


def test_a_controlled_unload_is_witnessed(site, technician):
    w = ward(site)
    services.cabinet_restock(
        actor=technician,
        cabinet=w["cabinet"],
        lines=[_cs_line(w, "10", "0")],
        witness=witness(site),
    )
    with pytest.raises(Invalid) as err:
        services.pocket_unload(actor=technician, pocket=w["cs"], quantity="4", reason="expired")
    assert err.value.field == "witness.username"
    [move] = services.pocket_unload(
        actor=technician, pocket=w["cs"], quantity="4", reason="par lowered", witness=witness(site)
    )
    assert move.witness_name == witness_of(site).username
    assert move.stock_move.witness == witness_of(site)
    assert on_shelf(site, "OX1") == Decimal(94)
    _proven(site)


def test_an_auditor_cannot_unload(site, technician, auditor):
    w = ward(site)
    restocked(site, technician, w["cabinet"], w["plain"], "2")
    before = _snapshot()
    with pytest.raises(Forbidden):
        services.pocket_unload(actor=auditor, pocket=w["plain"], quantity="1", reason="x")
    assert _snapshot() == before


def test_shelf_helper_is_idempotent(site):
    assert set(shelf(site)) == set(shelf(site)) == {"P-NEAR", "P-FAR", "OX1"}
