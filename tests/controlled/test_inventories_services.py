"""Controlled-substance inventories (21 CFR 1304.11): started for the whole stock (or a
newly scheduled product) at the opening or close of business, counted by the rule for each
container — sealed, opened Schedule II exact, opened III–V estimated unless it holds more
than 1,000 tablets or capsules — and signed by the pharmacist-in-charge, after which
nothing changes. Every service: its audit event, a broken rule, a forbidden role."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from rxdesk.catalog.models import Package
from rxdesk.controlled import queries_inventories as queries
from rxdesk.controlled.models import CsInventory, CsInventoryLine
from rxdesk.controlled.services_inventories import (
    cs_inventory_cancel,
    cs_inventory_count,
    cs_inventory_sign,
    cs_inventory_start,
)
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from tests.conftest import audit_count, last_event
from tests.controlled.factories import alprazolam, codeine_syrup, cs_stock, oxycodone
from tests.factories import UserFactory
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db


def data(event) -> dict:
    return json.loads(event.data)


def counts() -> dict[str, int]:
    return {
        "inventories": CsInventory.objects.count(),
        "lines": CsInventoryLine.objects.count(),
        "events": audit_count(),
    }


def start(actor, kind: str = "biennial", **values) -> CsInventory:
    site = actor.site
    values.setdefault("taken_on", site.today())
    values.setdefault("taken_at", "opening")
    return cs_inventory_start(actor=actor, kind=kind, **values)


def alprazolam_1001() -> Package:
    """A Schedule IV bottle of 1,001 tablets: one more than the estimate limit."""
    pkg = package(
        "0228-3001-11",
        name="Alprazolam",
        generic_name="Alprazolam",
        dosage_form="TABLET",
        strength="0.5 mg/1",
        directory_dea_schedule="CIV",
        product_ndc="0228-3001",
    )
    pkg.package_quantity = Decimal(1001)
    pkg.save(update_fields=["package_quantity"])
    return pkg


@pytest.fixture
def shelf(site):
    """Oxycodone (C-II), alprazolam (C-IV, 1,000 a bottle), codeine syrup (C-V, mL) and a
    prescription drug that is not controlled."""
    return {
        "oxy": cs_stock(site, oxycodone(), 130, lot="OX1"),
        "alp": cs_stock(site, alprazolam(), 1500, lot="AL1"),
        "cod": cs_stock(site, codeine_syrup(), 473, lot="CV1"),
        "rx": stock(site, package(), "P1", 30),
    }


# --- Start -------------------------------------------------------------------------------------


def test_it_starts_an_inventory_whose_worksheet_is_the_controlled_stock(site, technician, shelf):
    inventory = start(technician, taken_at="close", note="Biennial, counted after closing")
    assert (inventory.kind, inventory.status, inventory.taken_at, inventory.started_by) == (
        "biennial",
        "open",
        "close",
        technician,
    )
    rows = queries.worksheet(inventory)
    assert [(r.package.ndc10, r.lot.number, r.schedule, r.group, r.on_hand) for r in rows] == [
        ("0406-0552-01", "OX1", "CII", "II", Decimal("130.000")),
        ("0228-2029-96", "AL1", "CIV", "III-V", Decimal("1500.000")),
        ("0603-1585-58", "CV1", "CV", "III-V", Decimal("473.000")),
    ]
    event = last_event()
    assert (event.action, event.object_id) == ("cs.inventory.started", str(inventory.pk))
    assert data(event) == {
        "kind": "biennial",
        "taken_on": site.today().isoformat(),
        "taken_at": "close",
        "product": None,
        "effective_on": None,
        "worksheet": 3,
    }


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"kind": "annual"}, "kind", "Choose initial, biennial, newly scheduled"),
        ({"taken_at": None}, "taken_at", "Say whether it is taken at the opening or the close"),
        ({"taken_at": "noon"}, "taken_at", "Say whether it is taken at the opening or the close"),
        ({"taken_on": None}, "taken_on", "Enter the date the inventory is taken."),
        ({"taken_on": "tomorrow"}, "taken_on", "Enter a date as YYYY-MM-DD."),
        ({"note": "x" * 501}, "note", "Keep it to 500 characters at most."),
        (
            {"effective_on": "2026-01-05"},
            "effective_on",
            "Only a newly scheduled substance's inventory names a product",
        ),
    ],
)
def test_bad_input_to_start_names_the_field_and_writes_nothing(
    site, technician, values, field, message
):
    before = counts()
    arguments = {"kind": "biennial", "taken_on": site.today(), "taken_at": "opening", **values}
    with pytest.raises(Invalid) as caught:
        cs_inventory_start(actor=technician, **arguments)
    assert [e["field"] for e in caught.value.errors] == [field]
    assert caught.value.errors[0]["message"].startswith(message)
    assert counts() == before


def test_an_inventory_is_not_taken_in_the_future(site, technician):
    before = counts()
    with pytest.raises(Invalid, match="An inventory is not taken in the future") as caught:
        start(technician, taken_on=site.today() + dt.timedelta(days=1))
    assert caught.value.field == "taken_on"
    assert counts() == before


def test_one_inventory_is_open_at_a_time(site, technician, pharmacist):
    first = start(technician)
    before = counts()
    with pytest.raises(Conflict, match=f"inventory {first.pk}\\) is still being counted") as c:
        start(pharmacist, kind="pic_change")
    assert c.value.field == "kind"
    assert counts() == before
    cs_inventory_cancel(actor=technician, inventory=first, reason="Wrong kind")
    assert start(pharmacist, kind="pic_change").status == "open"


def test_a_newly_scheduled_substance_is_inventoried_on_the_rules_effective_date(
    site, technician, shelf
):
    today = site.today()
    tramadol = package(
        "0093-0058-01",
        name="Tramadol Hydrochloride",
        dosage_form="TABLET",
        directory_dea_schedule="",
        dea_schedule_override="CIV",
        product_ndc="0093-0058",
    )
    stock(site, tramadol, "TR1", 100)
    before = counts()
    for values, field in [
        ({}, "product"),
        ({"product": package().product}, "product"),
        ({"product": tramadol.product}, "effective_on"),
        (
            {"product": tramadol.product.pk, "effective_on": today - dt.timedelta(days=1)},
            "taken_on",
        ),
    ]:
        with pytest.raises(Invalid) as caught:
            start(technician, kind="newly_scheduled", **values)
        assert caught.value.field == field, values
    assert counts() == before

    inventory = start(
        technician, kind="newly_scheduled", product=tramadol.product.pk, effective_on=today
    )

    assert (inventory.product, inventory.effective_on) == (tramadol.product, today)
    assert [(r.package.ndc10, r.lot.number) for r in queries.worksheet(inventory)] == [
        ("0093-0058-01", "TR1")
    ]
    with pytest.raises(Invalid, match="this inventory is of that newly scheduled") as caught:
        cs_inventory_count(
            actor=technician, inventory=inventory, ndc=oxycodone().ndc10, sealed_containers=1
        )
    assert caught.value.field == "ndc"


@pytest.mark.parametrize("role", ["auditor", "trainee", "admin_user"])
def test_a_role_without_cs_count_may_not_start_one(site, role, request):
    before = counts()
    with pytest.raises(Forbidden):
        start(request.getfixturevalue(role))
    assert counts() == before


# --- Count -------------------------------------------------------------------------------------


def test_sealed_containers_are_counted_times_the_labeled_size(site, technician, shelf):
    inventory = start(technician)
    line = cs_inventory_count(
        actor=technician,
        inventory=inventory,
        ndc="0406-0552-01",
        lot_number="ox1",
        sealed_containers=1,
        opened_quantity="30",
    )
    assert (line.schedule, line.units_per_container, line.sealed_containers) == (
        "CII",
        Decimal(100),
        1,
    )
    assert (line.opened_quantity, line.method, line.total, line.ledger_balance) == (
        Decimal("30.000"),
        "exact",
        Decimal("130.000"),
        Decimal("130.000"),
    )
    assert (line.lot.number, line.counted_by) == ("OX1", technician)
    event = last_event()
    assert (event.action, event.object_id) == ("cs.inventory.counted", str(inventory.pk))
    assert data(event) == {
        "line": line.pk,
        "ndc": "00406055201",
        "lot": "OX1",
        "sealed": 1,
        "opened": "30.000",
        "method": "exact",
        "total": "130.000",
        "ledger_balance": "130.000",
        "held_for_disposal": False,
        "replaced": None,
    }
    sealed_only = cs_inventory_count(
        actor=technician, inventory=inventory, ndc="0603-1585-58", sealed_containers=1
    )
    assert (sealed_only.method, sealed_only.total, sealed_only.lot) == (
        "sealed",
        Decimal("473.000"),
        None,
    )


@pytest.mark.parametrize(
    ("pkg", "opened", "allowed"),
    [
        (oxycodone, "37", False),  # C-II: always exact
        (alprazolam, "500", True),  # C-IV, 1,000 tablets a container: may be estimated
        (alprazolam_1001, "500", False),  # C-IV, 1,001 tablets: exact
        (codeine_syrup, "200", True),  # C-V liquid: the 1,000 rule is for tablets and capsules
    ],
)
def test_an_estimate_only_where_the_rule_allows_it(site, technician, pkg, opened, allowed):
    package_ = pkg()
    cs_stock(site, package_, 1, lot="E1")
    inventory = start(technician)
    before = counts()
    count = dict(
        actor=technician,
        inventory=inventory,
        ndc=package_.ndc10,
        lot_number="E1",
        sealed_containers=0,
        opened_quantity=opened,
    )
    if allowed:
        line = cs_inventory_count(**count, estimated=True)
        assert (line.method, line.total) == ("estimate", Decimal(opened))
        return
    with pytest.raises(Invalid) as caught:
        cs_inventory_count(**count, estimated=True)
    assert caught.value.field == "estimated"
    assert "count" in caught.value.message and "exactly" in caught.value.message
    assert counts() == before
    assert cs_inventory_count(**count).method == "exact"


def test_the_thousand_tablet_limit_is_named_in_the_refusal(site, technician):
    cs_stock(site, alprazolam_1001(), 1001, lot="BIG")
    inventory = start(technician)
    with pytest.raises(Invalid) as caught:
        cs_inventory_count(
            actor=technician,
            inventory=inventory,
            ndc="0228-3001-11",
            lot_number="BIG",
            sealed_containers=0,
            opened_quantity="900",
            estimated=True,
        )
    assert caught.value.errors == [
        {
            "field": "estimated",
            "message": "This container holds 1001 tablets or capsules, more than 1,000: count "
            "it exactly.",
        }
    ]


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"opened_quantity": "101"},
            "opened_quantity",
            "A container of NDC 0406-0552-01 holds 100",
        ),
        ({"opened_quantity": "-1"}, "opened_quantity", "Enter what is in the opened container."),
        ({"opened_quantity": "1.2345"}, "opened_quantity", "Use at most three decimal places."),
        ({"estimated": True}, "estimated", "Only an opened container may be estimated"),
        ({"sealed_containers": -1}, "sealed_containers", "Containers cannot be negative."),
        ({"sealed_containers": ""}, "sealed_containers", "Enter the sealed containers"),
        ({"held_for_disposal": True}, "disposal_reason", "Say why it is held for disposal"),
        ({"lot_number": "NOPE"}, "lot_number", "No lot NOPE of NDC 0406-0552-01 is known here"),
        ({"ndc": "0002-3227-30"}, "ndc", "NDC 0002-3227-30 is not a controlled substance."),
        ({"ndc": "9999-9999-99"}, "ndc", "NDC 9999-9999-99 is not in the drug catalog."),
    ],
)
def test_bad_counts_name_the_field_and_write_nothing(
    site, technician, shelf, values, field, message
):
    inventory = start(technician)
    before = counts()
    arguments = {"ndc": "0406-0552-01", "lot_number": "OX1", "sealed_containers": 1, **values}
    with pytest.raises(Invalid) as caught:
        cs_inventory_count(actor=technician, inventory=inventory, **arguments)
    assert [e["field"] for e in caught.value.errors] == [field]
    assert caught.value.errors[0]["message"].startswith(message)
    assert counts() == before


def test_counting_again_replaces_the_line_while_open(site, technician, pharmacist, shelf):
    inventory = start(technician)
    first = cs_inventory_count(
        actor=technician,
        inventory=inventory,
        ndc="0406-0552-01",
        lot_number="OX1",
        sealed_containers=2,
    )
    again = cs_inventory_count(
        actor=pharmacist,
        inventory=inventory,
        ndc="0406-0552-01",
        lot_number="OX1",
        sealed_containers=1,
        opened_quantity="30",
    )
    assert again.pk == first.pk
    assert CsInventoryLine.objects.get().total == Decimal("130.000")
    assert CsInventoryLine.objects.get().counted_by == pharmacist
    assert data(last_event())["replaced"] == {
        "sealed": 2,
        "opened": None,
        "method": "sealed",
        "total": "200.000",
    }


def test_a_package_is_counted_lot_by_lot_or_as_a_whole_not_both(site, technician, shelf):
    cs_stock(site, oxycodone(), 50, lot="OX2")
    inventory = start(technician)
    whole = cs_inventory_count(
        actor=technician,
        inventory=inventory,
        ndc="0406-0552-01",
        sealed_containers=1,
        opened_quantity="80",
    )
    # The perpetual balance of the package as a whole: every lot here.
    assert (whole.lot, whole.ledger_balance) == (None, Decimal("180.000"))
    before = counts()
    with pytest.raises(Conflict, match="already counted as a whole") as caught:
        cs_inventory_count(
            actor=technician,
            inventory=inventory,
            ndc="0406-0552-01",
            lot_number="OX2",
            sealed_containers=0,
        )
    assert caught.value.field == "lot_number"
    assert counts() == before
    # Both lots are covered by the whole-package line; the other drugs are still to count.
    assert [(r.package.ndc10, r.lot.number) for r in queries.missing(inventory)] == [
        ("0228-2029-96", "AL1"),
        ("0603-1585-58", "CV1"),
    ]


def test_stock_held_for_disposal_is_a_line_of_its_own_with_its_reason(site, technician, shelf):
    inventory = start(technician)
    kept = cs_inventory_count(
        actor=technician,
        inventory=inventory,
        ndc="0406-0552-01",
        lot_number="OX1",
        sealed_containers=1,
    )
    held = cs_inventory_count(
        actor=technician,
        inventory=inventory,
        ndc="0406-0552-01",
        lot_number="OX1",
        sealed_containers=0,
        opened_quantity="30",
        held_for_disposal=True,
        disposal_reason="Patient return, awaiting destruction",
    )
    assert kept.pk != held.pk
    assert (held.held_for_disposal, held.disposal_reason, held.total) == (
        True,
        "Patient return, awaiting destruction",
        Decimal("30.000"),
    )


def test_counts_are_refused_to_an_auditor_and_on_another_pharmacys_inventory(
    site, technician, auditor, other_site, shelf
):
    inventory = start(technician)
    stranger = UserFactory(site=other_site, role="pharmacist_in_charge", username="their-pic")
    before = counts()
    with pytest.raises(Forbidden):
        cs_inventory_count(
            actor=auditor, inventory=inventory, ndc="0406-0552-01", sealed_containers=1
        )
    with pytest.raises(NotFound):
        cs_inventory_count(
            actor=stranger, inventory=inventory, ndc="0406-0552-01", sealed_containers=1
        )
    assert counts() == before


# --- Sign and cancel ---------------------------------------------------------------------------


def _count_all(actor, inventory) -> None:
    for row in queries.worksheet(inventory):
        cs_inventory_count(
            actor=actor,
            inventory=inventory,
            ndc=row.package.ndc10,
            lot_number=row.lot.number,
            sealed_containers=0,
            opened_quantity=min(row.on_hand, row.package.package_quantity),
        )


def test_the_pic_signs_only_when_every_package_on_hand_is_counted(site, technician, pic, shelf):
    inventory = start(technician)
    cs_inventory_count(
        actor=technician,
        inventory=inventory,
        ndc="0406-0552-01",
        lot_number="OX1",
        sealed_containers=1,
        opened_quantity="30",
    )
    before = counts()
    with pytest.raises(Invalid) as caught:
        cs_inventory_sign(actor=pic, inventory=inventory)
    assert caught.value.errors == [
        {
            "field": "lines",
            "message": "2 packages on hand not counted yet: NDC 0228-2029-96 lot AL1; "
            "NDC 0603-1585-58 lot CV1.",
        }
    ]
    assert counts() == before
    _count_all(technician, inventory)

    signed = cs_inventory_sign(actor=pic, inventory=inventory)

    assert (signed.status, signed.signed_by, signed.signer_name) == (
        "signed",
        pic,
        pic.display_name,
    )
    assert signed.signed_at is not None
    event = last_event()
    assert event.action == "cs.inventory.signed"
    assert {k: data(event)[k] for k in ("lines", "zero_inventory", "schedule_ii_lines")} == {
        "lines": 3,
        "zero_inventory": False,
        "schedule_ii_lines": 1,
    }
    assert data(event)["signer_license"] == "RPH-051.0099"


def test_after_signing_nothing_changes(site, technician, pic):
    inventory = start(technician, kind="initial")
    cs_inventory_sign(actor=pic, inventory=inventory)
    cs_stock(site, oxycodone(), 100, lot="LATE")
    before = counts()
    with pytest.raises(Conflict, match="This inventory is signed: nothing of it changes"):
        cs_inventory_count(
            actor=technician, inventory=inventory, ndc="0406-0552-01", sealed_containers=1
        )
    with pytest.raises(Conflict):
        cs_inventory_sign(actor=pic, inventory=inventory)
    with pytest.raises(Conflict):
        cs_inventory_cancel(actor=technician, inventory=inventory, reason="oops")
    assert counts() == before


def test_an_initial_inventory_with_nothing_on_hand_is_a_zero_inventory(site, technician, pic):
    stock(site, package(), "P1", 30)  # not controlled: not on the worksheet
    inventory = start(technician, kind="initial")
    assert queries.worksheet(inventory) == []
    signed = cs_inventory_sign(actor=pic, inventory=inventory)
    assert signed.status == "signed" and not signed.lines.exists()
    assert data(last_event())["zero_inventory"] is True


@pytest.mark.parametrize("role", ["pharmacist", "technician", "auditor"])
def test_only_the_pic_signs(site, technician, role, request):
    inventory = start(technician, kind="initial")
    before = counts()
    with pytest.raises(Forbidden):
        cs_inventory_sign(actor=request.getfixturevalue(role), inventory=inventory)
    assert counts() == before
    assert CsInventory.objects.get().status == "open"


def test_cancelling_needs_a_reason_and_cs_count(site, technician, auditor):
    inventory = start(technician)
    before = counts()
    with pytest.raises(Invalid) as caught:
        cs_inventory_cancel(actor=technician, inventory=inventory, reason="")
    assert caught.value.field == "reason"
    with pytest.raises(Forbidden):
        cs_inventory_cancel(actor=auditor, inventory=inventory, reason="Wrong day")
    assert counts() == before
    cancelled = cs_inventory_cancel(actor=technician, inventory=inventory, reason="Wrong day")
    assert cancelled.status == "cancelled"
    event = last_event()
    assert (event.action, event.reason) == ("cs.inventory.cancelled", "Wrong day")


# --- The next biennial inventory ---------------------------------------------------------------


def test_the_next_biennial_is_due_two_years_after_the_last_inventory_of_the_whole_stock(
    site, technician, pic
):
    assert queries.next_biennial_due(site) is None
    day = site.today() - dt.timedelta(days=10)
    cs_inventory_sign(actor=pic, inventory=start(technician, kind="initial", taken_on=day))
    assert queries.next_biennial_due(site) == queries._plus_years(day, 2)
    assert queries._plus_years(dt.date(2024, 2, 29), 2) == dt.date(2026, 2, 28)
    # A newly scheduled substance's inventory covers one product: it does not restart the clock.
    tramadol = package(
        "0093-0058-01", name="Tramadol", directory_dea_schedule="CIV", product_ndc="0093-0058"
    )
    today = site.today()
    newly = start(technician, kind="newly_scheduled", product=tramadol.product, effective_on=today)
    cs_inventory_sign(actor=pic, inventory=newly)
    assert queries.next_biennial_due(site) == queries._plus_years(day, 2)
