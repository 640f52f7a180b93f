"""Reads of the stock ledger: the on-hand list and its search (name, NDC in any layout, a
scan, a lot), one package's lots and totals, the movement history with the lot's balance
and the package's running total across lots, locations and transfers. Each read sees only
the actor's site, refuses a role without inventory.view, and costs a fixed number of
queries however many rows it returns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction

from rxdesk.catalog.ndc import ndc_to_gtin14
from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.core.models import Organization
from rxdesk.inventory import ledger, queries
from rxdesk.inventory.choices import LotStatus, MoveReason
from rxdesk.inventory.models import StorageLocation
from rxdesk.inventory.services.stock import (
    stock_adjust,
    stock_dispense,
    stock_receive,
    stock_status_set,
    stock_transfer_receive,
    stock_transfer_send,
)
from tests.factories import PatientFactory, SiteFactory, UserFactory
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db

GS = "\x1d"


def _names(rows: list[queries.StockRow]) -> list[tuple[str, str]]:
    return [(r.balance.package.ndc10, r.balance.lot.number) for r in rows]


@pytest.fixture
def shelf(site):
    """Prozac (two lots), hydroxyzine with its tall-man name, and a lot at another site."""
    prozac = package()
    hydroxyzine = package(
        "0093-5060-01",
        name="Hydroxyzine Hydrochloride",
        generic_name="hydroxyzine hydrochloride",
        tall_man_name="hydrOXYzine",
        strength="25 mg/1",
        dosage_form="TABLET",
    )
    today = site.today()
    late = stock(site, prozac, "PZ-LATE", 40, expiry=today + dt.timedelta(days=400))
    soon = stock(site, prozac, "PZ-SOON", 30, expiry=today + dt.timedelta(days=20))
    hyd = stock(site, hydroxyzine, "HX1", 100, expiry=today + dt.timedelta(days=200))
    elsewhere = SiteFactory(name="Elsewhere", ncpdp_id="2223334")
    stock(elsewhere, prozac, "PZ-ELSE", 5)
    return {"prozac": prozac, "hydroxyzine": hydroxyzine, "late": late, "soon": soon, "hyd": hyd}


# --- On hand -------------------------------------------------------------------------------


def test_on_hand_lists_this_sites_lots_by_name_then_expiry(technician, shelf):
    rows = queries.on_hand(actor=technician)

    assert _names(rows) == [
        ("0093-5060-01", "HX1"),
        ("0002-3227-30", "PZ-SOON"),
        ("0002-3227-30", "PZ-LATE"),
    ]
    assert [r.dispensable for r in rows] == [True, True, True]
    assert rows[1].days_left == 20


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("prozac", ["PZ-SOON", "PZ-LATE"]),
        ("fluoxetine", ["PZ-SOON", "PZ-LATE"]),
        ("hydroxyzine", ["HX1"]),
        ("hydrOXY", ["HX1"]),
        ("prozac 20", ["PZ-SOON", "PZ-LATE"]),
        ("0002-3227-30", ["PZ-SOON", "PZ-LATE"]),
        ("00002322730", ["PZ-SOON", "PZ-LATE"]),
        ("00002-3227-30", ["PZ-SOON", "PZ-LATE"]),
        ("0002322730", ["PZ-SOON", "PZ-LATE"]),
        ("0002-32", ["PZ-SOON", "PZ-LATE"]),
        ("0093 5060", ["HX1"]),
        ("pz-soon", ["PZ-SOON"]),
        ("hx1", ["HX1"]),
        ("nothing like it", []),
    ],
)
def test_on_hand_finds_by_name_ndc_in_any_layout_or_lot(technician, shelf, q, expected):
    rows = queries.on_hand(actor=technician, q=q)

    assert [r.balance.lot.number for r in rows] == expected


def test_a_scanned_2d_code_finds_its_package_and_lot(technician, shelf):
    gtin = ndc_to_gtin14("0002-3227-30")
    scan = f"01{gtin}17301231" + "10PZ-LATE"

    rows = queries.on_hand(actor=technician, q=scan)

    assert _names(rows) == [("0002-3227-30", "PZ-LATE")]


def test_a_scan_with_gs_separators_finds_its_lot(technician, shelf):
    gtin = ndc_to_gtin14("0002-3227-30")
    scan = f"]d201{gtin}10PZ-SOON{GS}17301231{GS}21SERIAL9"

    rows = queries.on_hand(actor=technician, q=scan)

    assert _names(rows) == [("0002-3227-30", "PZ-SOON")]


def test_a_scanned_upc_finds_the_package(technician, shelf):
    upc = "3" + "0002322730"
    from rxdesk.catalog.ndc import gs1_check_digit

    upc += str(gs1_check_digit(upc))

    rows = queries.on_hand(actor=technician, q=upc)

    assert [r.balance.lot.number for r in rows] == ["PZ-SOON", "PZ-LATE"]


def test_an_unreadable_scan_finds_nothing_instead_of_failing(technician, shelf):
    assert queries.on_hand(actor=technician, q="(01)00000000000000") == []


def test_on_hand_filters_by_status_location_and_expiry(technician, pharmacist, site, shelf):
    bay = StorageLocation.objects.create(site=site, code="B-2", name="Bay 2")
    with transaction.atomic():
        ledger.post_in(
            site=site,
            lot=shelf["hyd"].lot,
            quantity=Decimal(1),
            reason=MoveReason.OPENING,
            actor=None,
        )
    from rxdesk.inventory.services.stock import stock_relocate

    stock_relocate(actor=technician, balance=shelf["hyd"], location=bay)
    stock_status_set(
        actor=pharmacist, balance=shelf["late"], status=LotStatus.QUARANTINED, reason="dented"
    )

    quarantined = queries.on_hand(actor=technician, status="quarantined")
    at_bay = queries.on_hand(actor=technician, location="B-2")
    soon = queries.on_hand(actor=technician, expiring_within_days=30)

    assert _names(quarantined) == [("0002-3227-30", "PZ-LATE")]
    assert quarantined[0].dispensable is False
    assert _names(at_bay) == [("0093-5060-01", "HX1")]
    assert _names(soon) == [("0002-3227-30", "PZ-SOON")]


def test_expired_lots_show_expired_and_not_dispensable(technician, site):
    pkg = package()
    stock(site, pkg, "OLD", 3, expiry=site.today() - dt.timedelta(days=1))

    [row] = queries.on_hand(actor=technician, expiring_within_days=0)

    assert (row.expired, row.dispensable, row.days_left) == (True, False, -1)


def test_empty_lots_are_hidden_unless_asked_for(pharmacist, site):
    balance = stock(site, package(), "GONE", 2)
    stock_adjust(actor=pharmacist, balance=balance, quantity="-2", reason="data_entry")

    assert queries.on_hand(actor=pharmacist) == []
    assert _names(queries.on_hand(actor=pharmacist, include_empty=True)) == [
        ("0002-3227-30", "GONE")
    ]


def test_bad_filters_name_their_field(technician, shelf):
    with pytest.raises(Invalid) as bad_status:
        queries.on_hand(actor=technician, status="lost")
    with pytest.raises(Invalid) as bad_place:
        queries.on_hand(actor=technician, location="NOWHERE")
    with pytest.raises(Invalid) as bad_days:
        queries.on_hand(actor=technician, expiring_within_days=-1)

    assert bad_status.value.field == "status"
    assert bad_place.value.field == "location"
    assert bad_days.value.field == "expiring_within_days"


def test_a_role_without_inventory_view_sees_no_stock(admin_user, shelf):
    with pytest.raises(Forbidden):
        queries.on_hand(actor=admin_user)
    with pytest.raises(Forbidden):
        queries.package_stock(actor=admin_user, package=shelf["prozac"])
    with pytest.raises(Forbidden):
        queries.move_history(actor=admin_user, package=shelf["prozac"])
    with pytest.raises(Forbidden):
        queries.locations(actor=admin_user)
    with pytest.raises(Forbidden):
        queries.transfers(actor=admin_user)


def test_another_sites_lot_is_not_found(outsider, shelf):
    with pytest.raises(NotFound):
        queries.balance_detail(actor=outsider, balance_id=shelf["late"].pk)


def test_on_hand_costs_the_same_queries_for_many_lots(
    technician, site, django_assert_max_num_queries
):
    pkg = package()
    for n in range(30):
        stock(site, pkg, f"N{n:02}", n + 1)
    technician.site  # noqa: B018  (the actor's site is read once, at sign-in)

    with django_assert_max_num_queries(1):
        rows = queries.on_hand(actor=technician, q="prozac")

    assert len(rows) == 30


# --- One package ---------------------------------------------------------------------------


def test_package_stock_totals_on_hand_and_dispensable(pharmacist, site, shelf):
    stock(site, shelf["prozac"], "PZ-OLD", 7, expiry=site.today() - dt.timedelta(days=3))
    stock_status_set(
        actor=pharmacist, balance=shelf["soon"], status=LotStatus.ON_HOLD, reason="check"
    )

    found = queries.package_stock(actor=pharmacist, package=shelf["prozac"])

    assert [r.balance.lot.number for r in found.rows] == ["PZ-OLD", "PZ-SOON", "PZ-LATE"]
    assert found.on_hand == Decimal("77")
    assert found.dispensable == Decimal("40")
    assert found.unit == "EA"


# --- History -------------------------------------------------------------------------------


@pytest.fixture
def history(site, technician, pharmacist):
    """Two lots of one package with moves interleaved, and a move of another package and
    of another site that must not enter the package's running total."""
    pkg = package()
    a = stock(site, pkg, "A", 100)  # +100 → package 100
    b = stock(site, pkg, "B", 50, expiry=dt.date(2030, 6, 30))  # +50 → 150
    patient = PatientFactory(site=site)
    stock_dispense(
        actor=technician,
        ndc=pkg,
        quantity="30",
        lot=b.lot,
        patient_id=patient.pk,
        reference=ledger.Ref("fill", 77),
    )  # B −30 → 120
    stock_adjust(
        actor=pharmacist, balance=a, quantity="-5", reason="broken", note="dropped"
    )  # A −5 → 115
    other = package("0093-5060-01", name="Other")
    stock(site, other, "X", 9)
    stock_receive(
        actor=technician, ndc=pkg, lot_number="A", expiry=dt.date(2030, 12, 31), quantity="10"
    )  # A +10 → 125
    stock(SiteFactory(name="Far away", ncpdp_id="9998887"), pkg, "A", 1000)
    return {"pkg": pkg, "a": a, "b": b}


def test_package_history_has_the_running_total_across_lots(technician, history):
    rows = queries.move_history(actor=technician, package=history["pkg"])

    assert [
        (r.move.lot.number, r.move.quantity, r.move.balance_after, r.package_total) for r in rows
    ] == [
        ("A", Decimal("10"), Decimal("105"), Decimal("125")),
        ("A", Decimal("-5"), Decimal("95"), Decimal("115")),
        ("B", Decimal("-30"), Decimal("20"), Decimal("120")),
        ("B", Decimal("50"), Decimal("50"), Decimal("150")),
        ("A", Decimal("100"), Decimal("100"), Decimal("100")),
    ]
    assert [r.move.actor_name for r in rows] == ["tech", "rph", "tech", "system", "system"]
    assert rows[1].move.adjust_reason == "broken"
    assert rows[2].move.reference_type == "fill"
    assert rows[2].move.reference_id == "77"


def test_an_older_page_keeps_the_running_totals(technician, history):
    newest = queries.move_history(actor=technician, package=history["pkg"], limit=2)
    older = queries.move_history(
        actor=technician, package=history["pkg"], limit=2, before_id=newest[-1].move.pk
    )

    assert [r.package_total for r in newest] == [Decimal("125"), Decimal("115")]
    assert [r.package_total for r in older] == [Decimal("120"), Decimal("150")]


def test_lot_history_shows_the_lots_balance_after_each_move(technician, history):
    rows = queries.move_history(actor=technician, lot=history["a"].lot)

    assert [(r.move.quantity, r.move.balance_after, r.package_total) for r in rows] == [
        (Decimal("10"), Decimal("105"), None),
        (Decimal("-5"), Decimal("95"), None),
        (Decimal("100"), Decimal("100"), None),
    ]


def test_a_lot_of_another_package_is_refused(technician, history):
    other = package("0093-5060-01")
    with pytest.raises(Invalid) as exc:
        queries.move_history(actor=technician, package=other, lot=history["a"].lot)
    assert exc.value.field == "lot_id"


def test_history_costs_one_query_however_long(
    technician, site, history, django_assert_max_num_queries
):
    for _ in range(20):
        stock(site, history["pkg"], "A", 1)
    technician.site  # noqa: B018

    with django_assert_max_num_queries(1):
        rows = queries.move_history(actor=technician, package=history["pkg"])
        assert [r.move.lot.number for r in rows][:1] == ["A"]
        assert rows[0].move.package.billing_unit == "EA"

    assert rows[0].package_total == Decimal("145")


# --- Locations and transfers ---------------------------------------------------------------


def test_locations_count_the_lots_they_hold(technician, site):
    bay = StorageLocation.objects.create(site=site, code="A-1", name="Aisle 1")
    StorageLocation.objects.create(site=site, code="F-1", name="Fridge", active=False)
    stock(site, package(), "L1", 5, location=bay)
    stock(site, package(), "L2", 5, location=bay)

    found = [(p.code, p.lots) for p in queries.locations(actor=technician)]
    active = [p.code for p in queries.locations(actor=technician, active_only=True)]

    assert found == [("A-1", 2), ("F-1", 0)]
    assert active == ["A-1"]


@pytest.fixture
def sisters(site):
    org = Organization.objects.create(name="River Group")
    site.organization = org
    site.save(update_fields=["organization"])
    return SiteFactory(name="Downtown", ncpdp_id="3334445", organization=org)


def test_transfers_by_direction(technician, site, sisters):
    sender = UserFactory(site=sisters, username="downtown-tech")
    lot = stock(sisters, package(), "T1", 10)
    incoming = stock_transfer_send(
        actor=sender, to_site=site, lines=[{"balance": lot.pk, "quantity": "3"}]
    )
    mine = stock(site, package(), "T2", 10)
    outgoing = stock_transfer_send(
        actor=technician, to_site=sisters, lines=[{"balance": mine.pk, "quantity": "2"}]
    )

    assert [t.pk for t in queries.transfers(actor=technician)] == [outgoing.pk, incoming.pk]
    assert [t.pk for t in queries.transfers(actor=technician, direction="in")] == [incoming.pk]
    assert [t.line_count for t in queries.transfers(actor=technician, direction="out")] == [1]
    assert queries.transfer_pending(incoming, site) is True
    stock_transfer_receive(actor=technician, transfer=incoming)
    received = queries.transfer_detail(actor=technician, transfer_id=incoming.pk)
    assert queries.transfer_pending(received, site) is False
    with pytest.raises(Invalid) as exc:
        queries.transfers(actor=technician, direction="sideways")
    assert exc.value.field == "direction"


def test_sister_sites_are_those_of_the_organization(technician, site, sisters):
    SiteFactory(name="Not ours", ncpdp_id="5556667")

    assert [s.name for s in queries.sister_sites(actor=technician)] == ["Downtown"]


def test_only_dispensable_lots_can_travel(technician, pharmacist, site):
    pkg = package()
    stock(site, pkg, "OK", 5)
    held = stock(site, pkg, "HELD", 5)
    stock(site, pkg, "OLD", 5, expiry=site.today() - dt.timedelta(days=1))
    stock_status_set(actor=pharmacist, balance=held, status=LotStatus.ON_HOLD, reason="x")

    assert [r.balance.lot.number for r in queries.transferable(actor=technician)] == ["OK"]


def test_a_transfer_of_other_sites_is_not_found(outsider, technician, site, sisters):
    mine = stock(site, package(), "T2", 10)
    transfer = stock_transfer_send(
        actor=technician, to_site=sisters, lines=[{"balance": mine.pk, "quantity": "2"}]
    )

    with pytest.raises(NotFound):
        queries.transfer_detail(actor=outsider, transfer_id=transfer.pk)
