"""Removal: the expiring-stock report, the expiry sweep, and returns to a vendor or reverse
distributor (packed, shipped out of stock, credited, closed)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction

from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import LocationKind, LotStatus, MoveReason
from rxdesk.inventory.models import (
    StockBalance,
    StockMove,
    StorageLocation,
    Supplier,
    VendorReturn,
    VendorReturnLine,
)
from rxdesk.inventory.queries_counts import expiring_csv, expiring_stock
from rxdesk.inventory.services import removal
from rxdesk.inventory.services.removal import (
    stock_expired_quarantine,
    vendor_return_close,
    vendor_return_create,
    vendor_return_credit,
    vendor_return_ship,
)
from tests.conftest import audit_count, last_event
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db


def days(site, n: int) -> dt.date:
    return site.today() + dt.timedelta(days=n)


def set_status(balance: StockBalance, status: LotStatus) -> None:
    with transaction.atomic():
        ledger.status_set(balance=balance, status=status, reason="test")


def written() -> tuple[int, int, int, int]:
    return (
        VendorReturn.objects.count(),
        VendorReturnLine.objects.count(),
        StockMove.objects.count(),
        audit_count(),
    )


def statuses() -> dict[str, str]:
    return {b.lot.number: b.status for b in StockBalance.objects.select_related("lot")}


# --- Expiring and short-dated stock --------------------------------------------------------


def test_the_report_lists_expired_and_short_dated_stock_first_expiry_first(site, technician):
    pkg = package()
    cage = StorageLocation.objects.create(
        site=site, code="Q-1", name="Quarantine", kind="quarantine"
    )
    stock(site, pkg, "SOON", 12, expiry=days(site, 30))
    stock(site, pkg, "GONE", 5, expiry=days(site, -2), location=cage)
    stock(site, pkg, "LATER", 7, expiry=days(site, 120))
    stock(site, pkg, "EDGE", 3, expiry=days(site, 90))
    empty = stock(site, pkg, "EMPTY", 1, expiry=days(site, -5))
    with transaction.atomic():
        ledger.post_out(balance=empty, quantity=Decimal(1), reason=MoveReason.WASTE, actor=None)

    rows = expiring_stock(actor=technician)

    assert [(r.lot, r.days_left, r.quantity, r.location, r.status, r.expired) for r in rows] == [
        ("GONE", -2, Decimal(5), "Q-1", "available", True),
        ("SOON", 30, Decimal(12), "", "available", False),
        ("EDGE", 90, Decimal(3), "", "available", False),
    ]
    assert [r.lot for r in expiring_stock(actor=technician, days=0)] == ["GONE"]
    assert [r.lot for r in expiring_stock(actor=technician, days=365)][-1] == "LATER"


def test_the_report_as_csv(site, technician):
    stock(site, package(), "SOON", 12, expiry=days(site, 30))
    lines = "".join(expiring_csv(expiring_stock(actor=technician))).splitlines()
    assert lines == [
        "NDC,Drug,Strength,Form,Schedule,Lot,Expiry,Days left,Quantity,Unit,Location,Status",
        f"0002-3227-30,Prozac,20 mg/1,CAPSULE,,SOON,{days(site, 30).isoformat()},30,12,EA,,"
        "Available",
    ]


@pytest.mark.parametrize("value", ["-1", "ninety", "3651"])
def test_the_report_refuses_a_bad_horizon(site, technician, value):
    with pytest.raises(Invalid) as caught:
        expiring_stock(actor=technician, days=value)  # type: ignore[arg-type]
    assert caught.value.field == "days"


def test_the_report_needs_inventory_view(site, admin_user):
    with pytest.raises(Forbidden):
        expiring_stock(actor=admin_user)


# --- The expiry sweep ----------------------------------------------------------------------


def sweep_stock(site):
    pkg = package()
    stock(site, pkg, "OLD", 10, expiry=days(site, -1))
    held = stock(site, pkg, "HELD", 4, expiry=days(site, -30))
    set_status(held, LotStatus.ON_HOLD)
    recalled = stock(site, pkg, "RECALLED", 6, expiry=days(site, -3))
    set_status(recalled, LotStatus.RECALLED)
    stock(site, pkg, "TODAY", 8, expiry=days(site, 0))  # usable through today
    stock(site, pkg, "FRESH", 8, expiry=days(site, 200))
    return pkg


def test_the_sweep_marks_expired_stock_and_moves_it_to_quarantine(site, inventory):
    sweep_stock(site)
    cage = StorageLocation.objects.create(
        site=site, code="Q-1", name="Quarantine", kind=LocationKind.QUARANTINE
    )

    changed = stock_expired_quarantine(actor=inventory, location="Q-1")

    assert changed == 2
    assert statuses() == {
        "OLD": "expired",
        "HELD": "expired",
        "RECALLED": "recalled",
        "TODAY": "available",
        "FRESH": "available",
    }
    assert {
        b.lot.number for b in StockBalance.objects.filter(location=cage).select_related("lot")
    } == {"OLD", "HELD"}
    old = StockBalance.objects.get(lot__number="OLD")
    assert old.status_reason == f"Expired {days(site, -1):%m/%d/%Y}"
    held = StockBalance.objects.get(lot__number="HELD")
    event = last_event()
    assert event.action == "inventory.stock.expired_quarantined"
    assert event.data == (
        '{"balances":['
        f'{{"balance":{held.pk},"expiry":"{days(site, -30).isoformat()}","location":[null,"Q-1"],'
        '"lot":"HELD","ndc":"00002322730","on_hand":"4.000","status":["on_hold","expired"]},'
        f'{{"balance":{old.pk},"expiry":"{days(site, -1).isoformat()}","location":[null,"Q-1"],'
        '"lot":"OLD","ndc":"00002322730","on_hand":"10.000","status":["available","expired"]}],'
        f'"location":"Q-1","today":"{site.today().isoformat()}"}}'
    )
    # A second run finds nothing more, and records nothing.
    events = audit_count()
    assert stock_expired_quarantine(actor=inventory) == 0
    assert audit_count() == events


def test_the_sweep_runs_from_the_shell_for_a_named_site(site, other_site, cli_context):
    sweep_stock(site)
    stock(other_site, package(), "THERE", 3, expiry=days(other_site, -1))

    assert stock_expired_quarantine(actor=None, site=site) == 2

    assert last_event().actor_name == "system"
    assert StockBalance.objects.get(site=other_site).status == LotStatus.AVAILABLE
    with pytest.raises(Invalid) as caught:
        stock_expired_quarantine(actor=None)
    assert caught.value.field == "site"


def test_the_sweep_never_overwrites_a_recall_that_lands_meanwhile(site, pharmacist, monkeypatch):
    balance = stock(site, package(), "RACE", 10, expiry=days(site, -1))
    real = ledger.status_set

    def recall_first(**kwargs):
        # A recall commits between the sweep's read and its update.
        StockBalance.objects.filter(pk=balance.pk).update(status=LotStatus.RECALLED)
        return real(**kwargs)

    monkeypatch.setattr(removal.ledger, "status_set", recall_first)
    events = audit_count()

    assert stock_expired_quarantine(actor=pharmacist) == 0

    balance.refresh_from_db()
    assert balance.status == LotStatus.RECALLED
    assert audit_count() == events


def test_the_sweep_moves_stock_only_to_a_quarantine_area(site, pharmacist):
    sweep_stock(site)
    StorageLocation.objects.create(site=site, code="A-1", name="Shelf")
    before = (statuses(), audit_count())

    with pytest.raises(Invalid) as caught:
        stock_expired_quarantine(actor=pharmacist, location="A-1")

    assert caught.value.field == "location"
    assert (statuses(), audit_count()) == before


@pytest.mark.parametrize("role", ["technician", "trainee", "auditor"])
def test_the_sweep_needs_inventory_adjust(site, request, role):
    sweep_stock(site)
    before = (statuses(), audit_count())
    with pytest.raises(Forbidden):
        stock_expired_quarantine(actor=request.getfixturevalue(role))
    assert (statuses(), audit_count()) == before


# --- Returns to vendor ---------------------------------------------------------------------


def supplier(site, name="Cardinal Health", reverse=False) -> Supplier:
    return Supplier.objects.create(site=site, name=name, reverse_distributor=reverse)


def oxycodone():
    return package("0406-0552-01", name="Oxycodone HCl", directory_dea_schedule="CII")


def test_a_return_is_packed_as_a_draft(site, technician):
    gone = stock(site, package(), "GONE", 30, expiry=days(site, -10))
    set_status(gone, LotStatus.EXPIRED)
    vendor = supplier(site, "Inmar", reverse=True)

    packed = vendor_return_create(
        actor=technician,
        kind="reverse_distributor",
        supplier=vendor.pk,
        lines=[{"balance": gone.pk, "quantity": "30", "reason": "Expired"}],
        credit_expected="12.40",
        note="Box 1 of 1",
    )

    assert (packed.status, packed.packed_by, packed.credit_expected, packed.note) == (
        "draft",
        technician,
        Decimal("12.40"),
        "Box 1 of 1",
    )
    assert [(line.lot.number, line.quantity, line.reason) for line in packed.lines.all()] == [
        ("GONE", Decimal(30), "Expired")
    ]
    assert StockMove.objects.filter(reason=MoveReason.VENDOR_RETURN).count() == 0
    event = last_event()
    assert event.action == "inventory.return.created"
    assert event.data == (
        '{"credit_expected":"12.40","kind":"reverse_distributor","lines":[{"lot":"GONE",'
        '"ndc":"00002322730","quantity":"30.000","reason":"Expired"}],"supplier":"Inmar"}'
    )


def test_a_return_line_may_name_the_ndc_and_lot(site, technician):
    stock(site, package(), "L7", 10)
    packed = vendor_return_create(
        actor=technician,
        kind="vendor",
        supplier=supplier(site),
        lines=[{"ndc": "00002322730", "lot_number": "l7", "quantity": 4, "reason": "Overstock"}],
    )
    assert packed.lines.get().lot.number == "L7"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"quantity": "11"}, "lines.0.quantity"),
        ({"quantity": "0"}, "lines.0.quantity"),
        ({"balance": 999999, "quantity": "1"}, "lines.0.balance"),
        (
            {"balance": None, "ndc": "0002-3227-30", "lot_number": "NOPE", "quantity": 1},
            "lines.0.lot_number",
        ),
    ],
)
def test_a_return_never_takes_more_than_is_on_hand(site, technician, line, field):
    balance = stock(site, package(), "L1", 10)
    before = written()

    with pytest.raises((Invalid, Conflict)) as caught:
        vendor_return_create(
            actor=technician,
            kind="vendor",
            supplier=supplier(site),
            lines=[{"balance": balance.pk, **line}],
        )

    assert caught.value.field == field or caught.value.errors[0]["field"] == field
    assert written() == before


def test_two_lines_of_one_lot_count_together(site, technician):
    balance = stock(site, package(), "L1", 10)
    with pytest.raises(Conflict) as caught:
        vendor_return_create(
            actor=technician,
            kind="vendor",
            supplier=supplier(site),
            lines=[{"balance": balance.pk, "quantity": 6}, {"balance": balance.pk, "quantity": 5}],
        )
    assert caught.value.field == "lines.1.quantity"


def test_a_reverse_distributor_return_goes_to_a_reverse_distributor(site, technician):
    balance = stock(site, package(), "L1", 10)
    with pytest.raises(Invalid, match="Cardinal Health is not a reverse distributor"):
        vendor_return_create(
            actor=technician,
            kind="reverse_distributor",
            supplier=supplier(site),
            lines=[{"balance": balance.pk, "quantity": 1}],
        )


def test_a_schedule_ii_line_needs_the_suppliers_dea_222(site, pharmacist):
    balance = stock(site, oxycodone(), "OX1", 100, expiry=days(site, -1))
    vendor = supplier(site, "Inmar", reverse=True)
    before = written()

    with pytest.raises(Invalid) as caught:
        vendor_return_create(
            actor=pharmacist,
            kind="reverse_distributor",
            supplier=vendor,
            lines=[{"balance": balance.pk, "quantity": 100, "reason": "Expired"}],
        )
    assert caught.value.field == "lines.0.dea_form_222"
    assert written() == before

    packed = vendor_return_create(
        actor=pharmacist,
        kind="reverse_distributor",
        supplier=vendor,
        lines=[
            {
                "balance": balance.pk,
                "quantity": 100,
                "reason": "Expired",
                "dea_form_222": "221234567",
            }
        ],
    )
    line = packed.lines.get()
    assert line.reason == "DEA 222: 221234567 — Expired"
    assert removal.dea_form_222_of(line) == "221234567"


def test_a_trainee_may_not_pack_a_return(site, trainee):
    balance = stock(site, package(), "L1", 10)
    vendor = supplier(site)
    before = written()
    with pytest.raises(Forbidden):
        vendor_return_create(
            actor=trainee,
            kind="vendor",
            supplier=vendor,
            lines=[{"balance": balance.pk, "quantity": 1}],
        )
    assert written() == before


def packed_return(site, actor, *, quantity=30):
    gone = stock(site, package(), "GONE", 30, expiry=days(site, -10))
    set_status(gone, LotStatus.EXPIRED)
    recalled = stock(site, package(), "RCL", 8)
    set_status(recalled, LotStatus.RECALLED)
    return vendor_return_create(
        actor=actor,
        kind="reverse_distributor",
        supplier=supplier(site, "Inmar", reverse=True),
        lines=[
            {"balance": gone.pk, "quantity": quantity, "reason": "Expired"},
            {"balance": recalled.pk, "quantity": 8, "reason": "Recall"},
        ],
        credit_expected="20.00",
    )


def test_shipping_takes_expired_and_recalled_stock_out_of_the_ledger(site, technician, inventory):
    packed = packed_return(site, technician)

    shipped = vendor_return_ship(
        actor=inventory, vendor_return=packed, carrier="UPS", tracking_number="1Z999"
    )

    assert (shipped.status, shipped.carrier, shipped.tracking_number, shipped.shipped_by) == (
        "shipped",
        "UPS",
        "1Z999",
        inventory,
    )
    assert shipped.shipped_at is not None
    lines = list(packed.lines.order_by("pk"))
    moves = list(StockMove.objects.filter(reason=MoveReason.VENDOR_RETURN).order_by("pk"))
    assert [
        (m.lot.number, m.quantity, m.balance_after, m.reference_type, m.reference_id) for m in moves
    ] == [
        ("GONE", Decimal(-30), Decimal(0), "vendor_return_line", str(lines[0].pk)),
        ("RCL", Decimal(-8), Decimal(0), "vendor_return_line", str(lines[1].pk)),
    ]
    assert ledger.ledger_verify() == (2, [])
    event = last_event()
    assert event.action == "inventory.return.shipped"
    assert event.data.startswith('{"carrier":"UPS","moves":[{"balance_after":"0.000"')


def test_shipping_is_all_or_nothing(site, technician):
    packed = packed_return(site, technician)
    recalled = StockBalance.objects.get(lot__number="RCL")
    with transaction.atomic():
        ledger.post_out(balance=recalled, quantity=Decimal(1), reason=MoveReason.WASTE, actor=None)
    before = written()

    with pytest.raises(Conflict) as caught:
        vendor_return_ship(
            actor=technician, vendor_return=packed, carrier="UPS", tracking_number="1Z999"
        )

    assert caught.value.field == "lines.1.quantity"
    assert caught.value.message.startswith("Line 2: Only 7 EA of lot RCL on hand")
    assert written() == before
    packed.refresh_from_db()
    assert packed.status == "draft"


def test_a_return_ships_once_and_needs_carrier_and_tracking(site, technician):
    packed = packed_return(site, technician)
    with pytest.raises(Invalid) as caught:
        vendor_return_ship(actor=technician, vendor_return=packed, carrier="", tracking_number=" ")
    assert [e["field"] for e in caught.value.errors] == ["carrier", "tracking_number"]
    vendor_return_ship(actor=technician, vendor_return=packed, carrier="UPS", tracking_number="1")
    before = written()
    with pytest.raises(Conflict, match="it was shipped already"):
        vendor_return_ship(
            actor=technician, vendor_return=packed, carrier="UPS", tracking_number="1"
        )
    assert written() == before


def test_a_trainee_may_not_ship_and_another_site_cannot_see_it(site, technician, trainee, outsider):
    from rxdesk.core.errors import NotFound

    packed = packed_return(site, technician)
    before = written()
    with pytest.raises(Forbidden):
        vendor_return_ship(actor=trainee, vendor_return=packed, carrier="UPS", tracking_number="1")
    with pytest.raises(NotFound):
        vendor_return_ship(actor=outsider, vendor_return=packed, carrier="UPS", tracking_number="1")
    assert written() == before


def test_credit_is_recorded_once_a_return_has_shipped(site, technician):
    packed = packed_return(site, technician)
    with pytest.raises(Conflict, match="once it has shipped"):
        vendor_return_credit(actor=technician, vendor_return=packed, credit_received="5")
    vendor_return_ship(actor=technician, vendor_return=packed, carrier="UPS", tracking_number="1")
    with pytest.raises(Invalid) as caught:
        vendor_return_credit(actor=technician, vendor_return=packed, credit_received="5.001")
    assert caught.value.field == "credit_received"

    credited = vendor_return_credit(actor=technician, vendor_return=packed, credit_received="18.5")

    assert (credited.status, credited.credit_received) == ("credited", Decimal("18.50"))
    assert credited.credited_at is not None
    event = last_event()
    assert (event.action, event.data) == (
        "inventory.return.credited",
        '{"credit_expected":"20.00","credit_received":"18.50"}',
    )


def test_a_trainee_may_not_record_a_credit(site, technician, trainee):
    packed = packed_return(site, technician)
    vendor_return_ship(actor=technician, vendor_return=packed, carrier="UPS", tracking_number="1")
    before = written()
    with pytest.raises(Forbidden):
        vendor_return_credit(actor=trainee, vendor_return=packed, credit_received="1")
    assert written() == before


def test_closing_a_return(site, technician, trainee):
    packed = packed_return(site, technician)
    with pytest.raises(Invalid, match="Say why this return is not shipped"):
        vendor_return_close(actor=technician, vendor_return=packed)
    with pytest.raises(Forbidden):
        vendor_return_close(actor=trainee, vendor_return=packed, note="x")
    vendor_return_ship(actor=technician, vendor_return=packed, carrier="UPS", tracking_number="1")

    closed = vendor_return_close(actor=technician, vendor_return=packed)

    assert closed.status == "closed"
    event = last_event()
    assert (event.action, event.data) == (
        "inventory.return.closed",
        '{"status":["shipped","closed"]}',
    )
    with pytest.raises(Conflict, match="closed already"):
        vendor_return_close(actor=technician, vendor_return=packed)


def test_a_draft_closed_unshipped_moves_nothing(site, technician):
    packed = packed_return(site, technician)
    closed = vendor_return_close(actor=technician, vendor_return=packed, note="Vendor refused")
    assert closed.note == "Closed: Vendor refused"
    assert StockMove.objects.filter(reason=MoveReason.VENDOR_RETURN).count() == 0


def test_the_nightly_command_runs_the_sweep(site, cli_context):
    from io import StringIO

    from django.core.management import call_command

    sweep_stock(site)
    out = StringIO()

    call_command("inventory", "expire", "--site", str(site.pk), stdout=out)

    assert f"{site.name}: 2 expired lot(s)" in out.getvalue()
    assert statuses()["OLD"] == "expired"
