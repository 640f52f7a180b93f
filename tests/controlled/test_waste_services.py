"""Witnessed controlled-substance waste (rxdesk.controlled.services_disposal.cs_waste_record):
a partial dose from stock still held (a WASTE move) or from a dispensed fill (recorded only),
a breakage (a WASTE move), a patient's return (recorded only — never back in stock); one
witness who re-authenticates and is not the actor."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from rxdesk.controlled.choices import WasteKind
from rxdesk.controlled.models import Waste
from rxdesk.controlled.services_disposal import cs_waste_record
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.core.models import AuditEvent
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import AdjustReason, MoveReason
from rxdesk.inventory.models import StockBalance, StockMove
from rxdesk.rx.models import Fill
from tests.controlled.factories import codeine_syrup, credentials, cs_stock, oxycodone, witness
from tests.factories import PatientFactory
from tests.inventory.factories import package, stock
from tests.rx.factories import dispense, first_fill, make_rx


@pytest.fixture
def w1(site):
    return witness(site, Role.TECHNICIAN, "wit-tech")


@pytest.fixture
def oxy(site):
    return cs_stock(site, oxycodone(), 100, lot="OX1")


@pytest.fixture
def syrup(site):
    return cs_stock(site, codeine_syrup(), "473", lot="CS-1")


def dispensed(pharmacist, pkg, quantity="30") -> Fill:
    """A dispensed fill of ``pkg`` (the fill workflow's result, written to the table)."""
    rx = make_rx(pharmacist, schedule="CII", refills_authorized=0, quantity=Decimal(quantity))
    fill = first_fill(rx)
    fill.package = pkg
    fill.save(update_fields=["package"])
    return dispense(fill, pharmacist.site.today())


def snapshot() -> dict[str, object]:
    return {
        "waste": Waste.objects.count(),
        "moves": StockMove.objects.count(),
        "balances": sorted(StockBalance.objects.values_list("pk", "on_hand")),
        "events": AuditEvent.objects.exclude(action="auth.witness_failed").count(),
    }


def record(actor, witness_user, **values):
    given = values.pop("given", None) or credentials(witness_user)
    defaults = {"reason": "Left over after the dose", "witness": given}
    return cs_waste_record(actor=actor, **(defaults | values))


# --- Stock the pharmacy still holds -----------------------------------------------------------


def test_a_breakage_leaves_stock_as_witnessed_waste(technician, w1, syrup):
    waste = record(
        technician,
        w1,
        kind="breakage",
        ndc="0603-1585-58",
        quantity="473",
        balance_id=syrup.pk,
        reason="Bottle dropped and broke on the floor",
    )

    move = waste.move
    assert move is not None
    assert (move.reason, move.adjust_reason) == (MoveReason.WASTE, AdjustReason.BROKEN)
    assert move.quantity == Decimal("-473")
    assert move.balance_after == Decimal(0)
    assert (move.reference_type, move.reference_id) == ("cs_waste", str(waste.pk))
    assert (move.witness_id, move.actor_id) == (w1.pk, technician.pk)
    assert (waste.kind, waste.quantity, waste.lot_id) == ("breakage", Decimal(473), syrup.lot_id)
    assert (waste.witness_id, waste.witness_name, waste.witness_factors) == (
        w1.pk,
        w1.display_name,
        "password",
    )
    assert waste.witnessed_at is not None
    assert StockBalance.objects.get(pk=syrup.pk).on_hand == Decimal(0)
    assert ledger.ledger_verify() == (1, [])


def test_a_partial_dose_from_stock_names_the_lot(pharmacist, w1, syrup):
    waste = record(
        pharmacist,
        w1,
        kind="partial_dose",
        ndc="0603-1585-58",
        quantity="2.5",
        lot_number="cs-1",
        reason="Drawn up, not given",
    )

    assert waste.move is not None
    assert waste.move.balance_after == Decimal("470.5")
    assert waste.move.adjust_reason == AdjustReason.OTHER
    assert StockBalance.objects.get(pk=syrup.pk).on_hand == Decimal("470.5")


def test_it_writes_one_audit_event_naming_the_witness(technician, w1, oxy):
    waste = record(
        technician, w1, kind="breakage", ndc="0406-0552-01", quantity="2", balance_id=oxy.pk
    )

    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None
    assert event.action == "cs.waste.recorded"
    assert (event.object_type, event.object_id) == ("controlled.waste", str(waste.pk))
    data = json.loads(event.data)
    assert data["witness"]["user"] == "wit-tech"
    assert (data["quantity"], data["balance_after"], data["schedule"]) == ("2.000", "98.000", "CII")


def test_a_breakage_over_what_is_on_hand_is_refused(technician, w1, oxy):
    before = snapshot()

    with pytest.raises(Conflict) as refused:
        record(
            technician, w1, kind="breakage", ndc="0406-0552-01", quantity="101", balance_id=oxy.pk
        )

    assert refused.value.field == "quantity"
    assert snapshot() == before


def test_the_stock_must_be_the_ndc_named(technician, w1, oxy, syrup):
    with pytest.raises(Invalid) as refused:
        record(technician, w1, kind="breakage", ndc="0603-1585-58", quantity="1", balance_id=oxy.pk)
    assert refused.value.field == "balance_id"


# --- A dispensed fill ---------------------------------------------------------------------------


def test_a_partial_dose_of_a_dispensed_fill_is_recorded_only(pharmacist, w1, oxy):
    fill = dispensed(pharmacist, oxy.package)
    before = snapshot()

    waste = record(
        pharmacist, w1, kind="partial_dose", ndc="0406-0552-01", quantity="0.5", fill_id=fill.pk
    )

    assert waste.move is None
    assert (waste.fill_id, waste.patient_id) == (fill.pk, fill.prescription.patient_id)
    after = snapshot()
    assert after["moves"] == before["moves"] and after["balances"] == before["balances"]
    assert after["waste"] == before["waste"] + 1


def test_no_more_is_wasted_of_a_fill_than_it_held(pharmacist, w1, oxy):
    fill = dispensed(pharmacist, oxy.package, quantity="10")

    with pytest.raises(Invalid) as over:
        record(
            pharmacist,
            w1,
            kind="partial_dose",
            ndc="0406-0552-01",
            quantity="10.001",
            fill_id=fill.pk,
        )
    assert over.value.field == "quantity"

    record(pharmacist, w1, kind="partial_dose", ndc="0406-0552-01", quantity="6", fill_id=fill.pk)
    with pytest.raises(Conflict) as adds_up:
        record(
            pharmacist,
            w1,
            kind="patient_return",
            ndc="0406-0552-01",
            quantity="4.5",
            fill_id=fill.pk,
            method="Sealed for the reverse distributor",
        )
    assert adds_up.value.field == "quantity"
    record(
        pharmacist,
        w1,
        kind="patient_return",
        ndc="0406-0552-01",
        quantity="4",
        fill_id=fill.pk,
        method="Sealed for the reverse distributor",
    )
    assert Waste.objects.filter(fill=fill).count() == 2


def test_a_fill_not_yet_filled_has_no_dose_to_waste(pharmacist, w1, oxy):
    rx = make_rx(pharmacist, schedule="CII", refills_authorized=0)
    fill = first_fill(rx)

    with pytest.raises(Invalid) as refused:
        record(
            pharmacist, w1, kind="partial_dose", ndc="0406-0552-01", quantity="1", fill_id=fill.pk
        )
    assert refused.value.field == "fill_id"


def test_the_fill_must_be_of_the_ndc_named(pharmacist, w1, oxy, syrup):
    fill = dispensed(pharmacist, oxy.package)

    with pytest.raises(Invalid) as refused:
        record(
            pharmacist, w1, kind="partial_dose", ndc="0603-1585-58", quantity="1", fill_id=fill.pk
        )
    assert refused.value.field == "ndc"


def test_a_partial_dose_is_from_stock_or_a_fill_not_both(pharmacist, w1, oxy):
    fill = dispensed(pharmacist, oxy.package)

    with pytest.raises(Invalid) as both:
        record(
            pharmacist,
            w1,
            kind="partial_dose",
            ndc="0406-0552-01",
            quantity="1",
            fill_id=fill.pk,
            balance_id=oxy.pk,
        )
    assert both.value.field == "fill_id"
    with pytest.raises(Invalid) as neither:
        record(pharmacist, w1, kind="partial_dose", ndc="0406-0552-01", quantity="1")
    assert neither.value.field == "balance_id"


# --- Patient returns ----------------------------------------------------------------------------


def test_a_patient_return_changes_no_balance(pharmacist, w1, oxy, site):
    patient = PatientFactory(site=site)
    before = snapshot()

    waste = record(
        pharmacist,
        w1,
        kind=WasteKind.PATIENT_RETURN,
        ndc="0406-0552-01",
        quantity="14",
        patient_id=patient.pk,
        lot_number="OX1",
        method="Sealed in the inner liner for the reverse distributor",
        reason="Patient's father died; family brought them back",
    )

    assert waste.move is None
    assert (waste.patient_id, waste.lot_id) == (patient.pk, oxy.lot_id)
    after = snapshot()
    assert after["balances"] == before["balances"]
    assert after["moves"] == before["moves"]
    assert StockBalance.objects.get(pk=oxy.pk).on_hand == Decimal(100)
    assert AuditEvent.objects.order_by("-id").first().patient_id == patient.pk  # type: ignore[union-attr]


def test_a_patient_return_of_a_fill_names_its_patient(pharmacist, w1, oxy):
    fill = dispensed(pharmacist, oxy.package)

    waste = record(
        pharmacist,
        w1,
        kind="patient_return",
        ndc="0406-0552-01",
        quantity="3",
        fill_id=fill.pk,
        method="Denaturing container",
    )

    assert waste.patient_id == fill.prescription.patient_id
    assert waste.move is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({}, "patient_id"),
        ({"patient_id": "{patient}", "method": ""}, "method"),
        ({"patient_id": "{patient}", "method": "Flushed it"}, "method"),
        ({"patient_id": "{patient}", "method": "bin", "balance_id": "{oxy}"}, "balance_id"),
        ({"patient_id": 999999, "method": "Denaturing container"}, "patient_id"),
        ({"patient_id": "{other}", "method": "Denaturing container"}, "patient_id"),
    ],
)
def test_a_patient_return_is_never_stock(pharmacist, w1, oxy, site, other_site, values, field):
    refs = {
        "{patient}": PatientFactory(site=site).pk,
        "{other}": PatientFactory(site=other_site).pk,
        "{oxy}": oxy.pk,
    }
    values = {k: refs.get(v, v) if isinstance(v, str) else v for k, v in values.items()}
    before = snapshot()

    with pytest.raises(Invalid) as refused:
        record(pharmacist, w1, kind="patient_return", ndc="0406-0552-01", quantity="1", **values)

    assert refused.value.field == field
    assert snapshot() == before


# --- Who ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["trainee", "inventory", "auditor", "admin_user"])
def test_who_may_not_record_waste(request, role, w1, oxy):
    actor = request.getfixturevalue(role)
    before = snapshot()

    with pytest.raises(Forbidden):
        record(actor, w1, kind="breakage", ndc="0406-0552-01", quantity="1", balance_id=oxy.pk)

    assert snapshot() == before


def test_the_witness_is_not_the_actor(technician, oxy):
    before = snapshot()

    with pytest.raises(Invalid) as refused:
        record(
            technician,
            technician,
            kind="breakage",
            ndc="0406-0552-01",
            quantity="1",
            balance_id=oxy.pk,
        )

    assert refused.value.field == "witness.username"
    assert snapshot() == before


def test_a_trainee_cannot_witness(technician, trainee, oxy):
    with pytest.raises(Invalid) as refused:
        record(
            technician,
            trainee,
            kind="breakage",
            ndc="0406-0552-01",
            quantity="1",
            balance_id=oxy.pk,
        )
    assert refused.value.field == "witness.username"


def test_a_wrong_password_records_nothing(technician, w1, oxy):
    before = snapshot()

    with pytest.raises(Invalid) as refused:
        record(
            technician,
            w1,
            kind="breakage",
            ndc="0406-0552-01",
            quantity="1",
            balance_id=oxy.pk,
            given=credentials(w1, password="wrong"),
        )

    assert refused.value.field == "witness.password"
    assert snapshot() == before


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"kind": "spilled"}, "kind"),
        ({"ndc": ""}, "ndc"),
        ({"ndc": "9999-9999-99"}, "ndc"),
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-1"}, "quantity"),
        ({"quantity": "1.2345"}, "quantity"),
        ({"quantity": "a few"}, "quantity"),
        ({"reason": ""}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"method": "x" * 201}, "method"),
        ({"balance_id": "x1"}, "balance_id"),
        ({"balance_id": None, "lot_number": "NOPE"}, "lot_number"),
        ({"fill_id": 5}, "fill_id"),
        ({"witness": None}, "witness.username"),
    ],
)
def test_bad_input_names_the_field(technician, w1, oxy, values, field):
    base = {"kind": "breakage", "ndc": "0406-0552-01", "quantity": "1", "balance_id": oxy.pk}
    before = snapshot()

    with pytest.raises(Invalid) as refused:
        if "witness" in values:
            cs_waste_record(actor=technician, reason="Broke", **(base | values))
        else:
            record(technician, w1, **(base | values))

    assert refused.value.field == field
    assert snapshot() == before


def test_only_controlled_packages(technician, w1, site):
    plain = stock(site, package(), lot="RX1", quantity=30)

    with pytest.raises(Invalid) as refused:
        record(
            technician,
            w1,
            kind="breakage",
            ndc=plain.package.ndc10,
            quantity="1",
            balance_id=plain.pk,
        )

    assert refused.value.field == "ndc"
    assert StockBalance.objects.get(pk=plain.pk).on_hand == Decimal(30)
