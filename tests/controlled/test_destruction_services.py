"""Destruction on site recorded on DEA Form 41 (rxdesk.controlled.services_disposal.cs_destroy):
two distinct witnesses who re-authenticate and are not the actor, a non-retrievable method,
controlled stock of this pharmacy in full packages and a partial count, one witnessed WASTE
move per line, all or nothing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from rxdesk.controlled.models import Destruction, DestructionLine
from rxdesk.controlled.services_disposal import cs_destroy
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.core.models import AuditEvent
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import AdjustReason, LotStatus, MoveReason
from rxdesk.inventory.models import StockBalance, StockMove
from tests.controlled.factories import (
    alprazolam,
    codeine_syrup,
    credentials,
    cs_stock,
    oxycodone,
    witness,
)
from tests.inventory.factories import package, stock

PAST = timezone.now() - dt.timedelta(hours=1)


@pytest.fixture
def w1(site):
    return witness(site, Role.TECHNICIAN, "wit-tech")


@pytest.fixture
def w2(site):
    return witness(site, Role.PHARMACIST, "wit-rph")


@pytest.fixture
def oxy(site):
    return cs_stock(site, oxycodone(), 300, lot="OX1")


def snapshot() -> dict[str, object]:
    return {
        "destructions": Destruction.objects.count(),
        "lines": DestructionLine.objects.count(),
        "moves": StockMove.objects.count(),
        "balances": sorted(StockBalance.objects.values_list("pk", "on_hand")),
        "events": AuditEvent.objects.exclude(action="auth.witness_failed").count(),
    }


def destroy(actor, lines, who, **over):
    values = {
        "destroyed_at": PAST,
        "method": "incineration",
        "location": "Back room, on-site incinerator",
        "lines": lines,
        "witnesses": [credentials(w) if not isinstance(w, dict) else w for w in who],
    }
    values.update(over)
    return cs_destroy(actor=actor, **values)


# --- What it records --------------------------------------------------------------------------


def test_it_destroys_full_packages_and_a_partial_with_two_witnesses(pharmacist, w1, w2, oxy):
    done = destroy(
        pharmacist,
        [{"balance_id": oxy.pk, "full_packages": 1, "partial_quantity": "12"}],
        [w1, w2],
        note="Expired returns",
    )

    line = DestructionLine.objects.get(destruction=done)
    assert (line.full_packages, line.partial_quantity, line.quantity) == (
        1,
        Decimal("12.000"),
        Decimal("112.000"),
    )
    assert (line.balance_id, line.package_id, line.lot_id) == (oxy.pk, oxy.package_id, oxy.lot_id)
    move = line.move
    assert move.reason == MoveReason.WASTE
    assert move.quantity == Decimal("-112")
    assert move.balance_after == Decimal("188")
    assert (move.reference_type, move.reference_id) == ("cs_destruction_line", str(line.pk))
    assert move.witness_id == w1.pk and move.witness_name == "wit-tech"
    assert move.actor_id == pharmacist.pk
    assert move.adjust_reason == AdjustReason.OTHER
    assert f"DEA Form 41 #{done.pk}" in move.note
    assert StockBalance.objects.get(pk=oxy.pk).on_hand == Decimal("188")
    assert done.method == "On-site incineration"
    assert done.location == "Back room, on-site incinerator"
    assert done.destroyed_at == PAST
    assert (done.performed_by_id, done.performer_name) == (pharmacist.pk, pharmacist.display_name)
    assert (done.witness_1_id, done.witness_1_name, done.witness_1_factors) == (
        w1.pk,
        w1.display_name,
        "password",
    )
    assert (done.witness_2_id, done.witness_2_name, done.witness_2_factors) == (
        w2.pk,
        w2.display_name,
        "password",
    )
    assert ledger.ledger_verify() == (1, [])


def test_it_writes_one_audit_event_with_both_witnesses(pharmacist, w1, w2, oxy):
    done = destroy(pharmacist, [{"balance_id": oxy.pk, "full_packages": 2}], [w1, w2])

    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None
    assert event.action == "cs.destruction.recorded"
    assert (event.object_type, event.object_id) == ("controlled.destruction", str(done.pk))
    data = json.loads(event.data)
    assert [w["user"] for w in data["witnesses"]] == ["wit-tech", "wit-rph"]
    assert [w["factors"] for w in data["witnesses"]] == ["password", "password"]
    assert data["lines"][0]["quantity"] == "200.000"
    assert data["lines"][0]["balance_after"] == "100.000"
    assert data["method"] == "On-site incineration"


def test_expired_and_damaged_stock_is_destroyed_with_its_reason(pharmacist, w1, w2, site):
    expired = cs_stock(site, oxycodone(), 100, lot="OLD1", expiry=site.today() - dt.timedelta(1))
    damaged = cs_stock(site, alprazolam(), 1000, lot="DMG1")
    with transaction.atomic():
        ledger.status_set(balance=damaged, status=LotStatus.DAMAGED, reason="Crushed")

    done = destroy(
        pharmacist,
        [
            {"balance_id": expired.pk, "full_packages": 1},
            {"balance_id": damaged.pk, "partial_quantity": "250"},
        ],
        [w1, w2],
    )

    lines = list(DestructionLine.objects.filter(destruction=done).order_by("id"))
    assert [line.move.adjust_reason for line in lines] == [
        AdjustReason.EXPIRED_WASTE,
        AdjustReason.DAMAGED,
    ]
    assert [line.move.balance_after for line in lines] == [Decimal(0), Decimal(750)]
    assert ledger.ledger_verify() == (2, [])


def test_a_line_may_name_the_ndc_and_lot_and_a_liquid_is_measured(pharmacist, w1, w2, site):
    syrup = cs_stock(site, codeine_syrup(), "946", lot="CS-9")

    done = destroy(
        pharmacist,
        [{"ndc": "0603-1585-58", "lot_number": "cs-9", "partial_quantity": "120.5"}],
        [w1, w2],
    )

    line = DestructionLine.objects.get(destruction=done)
    assert (line.balance_id, line.quantity) == (syrup.pk, Decimal("120.500"))
    assert StockBalance.objects.get(pk=syrup.pk).on_hand == Decimal("825.500")


def test_a_witness_with_an_authenticator_proves_both_factors(pharmacist, w1, w2, oxy):
    device = TOTPDevice.objects.create(user=w2, name="phone", confirmed=True)
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()

    done = destroy(
        pharmacist,
        [{"balance_id": oxy.pk, "full_packages": 1}],
        [credentials(w1), credentials(w2, otp=f"{token:06d}")],
    )

    assert (done.witness_1_factors, done.witness_2_factors) == ("password", "password+totp")


def test_other_methods_are_described_in_words(pharmacist, w1, w2, oxy):
    done = destroy(
        pharmacist,
        [{"balance_id": oxy.pk, "full_packages": 1}],
        [w1, w2],
        method="Rx Destroyer activated-charcoal container, sealed",
    )
    assert done.method == "Other: Rx Destroyer activated-charcoal container, sealed"


# --- Who may do it ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["technician", "trainee", "inventory", "auditor", "admin_user"])
def test_only_a_pharmacist_destroys(request, role, w1, w2, oxy):
    actor = request.getfixturevalue(role)
    before = snapshot()

    with pytest.raises(Forbidden):
        destroy(actor, [{"balance_id": oxy.pk, "full_packages": 1}], [w1, w2])

    assert snapshot() == before


def test_the_pic_destroys(pic, w1, w2, oxy):
    done = destroy(pic, [{"balance_id": oxy.pk, "full_packages": 3}], [w1, w2])
    assert done.lines.get().move.balance_after == Decimal(0)


def test_a_trainee_cannot_witness(pharmacist, trainee, w1, oxy):
    before = snapshot()

    with pytest.raises(Invalid) as refused:
        destroy(pharmacist, [{"balance_id": oxy.pk, "full_packages": 1}], [w1, trainee])

    assert refused.value.field == "witnesses.1.username"
    assert snapshot() == before


def test_an_outsider_cannot_witness(pharmacist, outsider, w1, oxy):
    with pytest.raises(Invalid) as refused:
        destroy(pharmacist, [{"balance_id": oxy.pk, "full_packages": 1}], [outsider, w1])
    assert refused.value.field == "witnesses.0.username"


# --- The witnesses ----------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 3])
def test_exactly_two_witnesses_sign(pharmacist, w1, w2, oxy, site, count):
    third = witness(site, Role.PHARMACIST, "wit-third")
    before = snapshot()

    with pytest.raises(Invalid) as refused:
        destroy(pharmacist, [{"balance_id": oxy.pk, "full_packages": 1}], [w1, w2, third][:count])

    assert refused.value.field == "witnesses"
    assert snapshot() == before


def test_the_two_witnesses_are_two_people(pharmacist, w1, oxy):
    before = snapshot()

    with pytest.raises(Invalid) as refused:
        destroy(pharmacist, [{"balance_id": oxy.pk, "full_packages": 1}], [w1, w1])

    assert refused.value.field == "witnesses.1.username"
    assert snapshot() == before


@pytest.mark.parametrize("position", [0, 1])
def test_the_actor_cannot_witness(pharmacist, w1, oxy, position):
    who = [w1, w1]
    who[position] = pharmacist
    before = snapshot()

    with pytest.raises(Invalid) as refused:
        destroy(pharmacist, [{"balance_id": oxy.pk, "full_packages": 1}], who)

    assert refused.value.field == f"witnesses.{position}.username"
    assert snapshot() == before


def test_a_wrong_password_refuses_and_moves_nothing(pharmacist, w1, w2, oxy):
    before = snapshot()
    failures = AuditEvent.objects.filter(action="auth.witness_failed").count()

    with pytest.raises(Invalid) as refused:
        destroy(
            pharmacist,
            [{"balance_id": oxy.pk, "full_packages": 1}],
            [credentials(w1), credentials(w2, password="not-the-password")],
        )

    assert refused.value.field == "witnesses.1.password"
    assert snapshot() == before
    assert StockBalance.objects.get(pk=oxy.pk).on_hand == Decimal(300)
    # The failed proof is kept (its own transaction), the destruction is not.
    assert AuditEvent.objects.filter(action="auth.witness_failed").count() == failures + 1


# --- The method -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        "flushed",
        "Flushed down the toilet",
        "poured into the sewer",
        "in the trash",
        "Mixed with coffee grounds",
        "mixed with kitty litter and bagged",
        "Down the sink",
    ],
)
def test_a_retrievable_method_is_refused(pharmacist, w1, w2, oxy, method):
    before = snapshot()

    with pytest.raises(Invalid) as refused:
        destroy(pharmacist, [{"balance_id": oxy.pk, "full_packages": 1}], [w1, w2], method=method)

    assert refused.value.field == "method"
    assert "non-retrievable" in refused.value.message
    assert snapshot() == before


@pytest.mark.parametrize("method", ["", "other", "   ", "burnt"])
def test_the_method_is_named(pharmacist, w1, w2, oxy, method):
    with pytest.raises(Invalid) as refused:
        destroy(pharmacist, [{"balance_id": oxy.pk, "full_packages": 1}], [w1, w2], method=method)
    assert refused.value.field == "method"


# --- When and where ---------------------------------------------------------------------------


def test_the_destruction_cannot_be_in_the_future(pharmacist, w1, w2, oxy):
    before = snapshot()

    with pytest.raises(Invalid) as refused:
        destroy(
            pharmacist,
            [{"balance_id": oxy.pk, "full_packages": 1}],
            [w1, w2],
            destroyed_at=timezone.now() + dt.timedelta(hours=1),
        )

    assert refused.value.field == "destroyed_at"
    assert snapshot() == before


def test_a_time_without_a_zone_is_the_pharmacys(pharmacist, w1, w2, oxy, site):
    local = (
        (timezone.now() - dt.timedelta(hours=2))
        .astimezone(site.tz)
        .replace(second=0, microsecond=0)
    )

    done = destroy(
        pharmacist,
        [{"balance_id": oxy.pk, "full_packages": 1}],
        [w1, w2],
        destroyed_at=local.strftime("%m/%d/%Y %H:%M"),
    )

    assert done.destroyed_at == local


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("destroyed_at", ""),
        ("destroyed_at", "yesterday"),
        ("destroyed_at", dt.date(2024, 1, 2)),
        ("location", ""),
        ("location", "x" * 201),
        ("note", "x" * 501),
        ("location", "Vault\x00"),
        ("method", "incinera\x00tion"),
    ],
)
def test_bad_input_names_the_field(pharmacist, w1, w2, oxy, field, value):
    before = snapshot()

    with pytest.raises(Invalid) as refused:
        destroy(
            pharmacist, [{"balance_id": oxy.pk, "full_packages": 1}], [w1, w2], **{field: value}
        )

    assert refused.value.field == field
    assert snapshot() == before


# --- The lines --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"full_packages": 1}, "lines.0.ndc"),
        ({"balance_id": "abc", "full_packages": 1}, "lines.0.balance_id"),
        ({"balance_id": 2**70, "full_packages": 1}, "lines.0.balance_id"),
        ({"ndc": "0406-0552-01", "full_packages": 1}, "lines.0.lot_number"),
        ({"ndc": "0406-0552-01", "lot_number": "NOPE", "full_packages": 1}, "lines.0.lot_number"),
        ({"balance_id": "{oxy}"}, "lines.0.full_packages"),
        (
            {"balance_id": "{oxy}", "full_packages": 0, "partial_quantity": "0"},
            "lines.0.full_packages",
        ),
        ({"balance_id": "{oxy}", "full_packages": -1}, "lines.0.full_packages"),
        ({"balance_id": "{oxy}", "full_packages": "1.5"}, "lines.0.full_packages"),
        ({"balance_id": "{oxy}", "full_packages": True}, "lines.0.full_packages"),
        ({"balance_id": "{oxy}", "partial_quantity": "-2"}, "lines.0.partial_quantity"),
        ({"balance_id": "{oxy}", "partial_quantity": "1.2345"}, "lines.0.partial_quantity"),
        ({"balance_id": "{oxy}", "partial_quantity": "ten"}, "lines.0.partial_quantity"),
        ({"balance_id": "{oxy}", "partial_quantity": "100"}, "lines.0.partial_quantity"),
    ],
)
def test_a_bad_line_names_its_field(pharmacist, w1, w2, oxy, line, field):
    line = {k: (oxy.pk if v == "{oxy}" else v) for k, v in line.items()}
    before = snapshot()

    with pytest.raises(Invalid) as refused:
        destroy(pharmacist, [line], [w1, w2])

    assert refused.value.field == field
    assert snapshot() == before


@pytest.mark.parametrize("lines", [[], "lines", {"balance_id": 1}])
def test_there_is_at_least_one_line(pharmacist, w1, w2, lines):
    with pytest.raises(Invalid) as refused:
        destroy(pharmacist, lines, [w1, w2])
    assert refused.value.field == "lines"


def test_a_partial_package_holds_less_than_a_full_one_to_the_unit(pharmacist, w1, w2, site):
    bottle = cs_stock(site, alprazolam(), 2000, lot="ALP1")

    with pytest.raises(Invalid) as refused:
        destroy(pharmacist, [{"balance_id": bottle.pk, "partial_quantity": "1000"}], [w1, w2])
    assert refused.value.field == "lines.0.partial_quantity"

    done = destroy(pharmacist, [{"balance_id": bottle.pk, "partial_quantity": "999"}], [w1, w2])
    assert done.lines.get().quantity == Decimal(999)


def test_a_lot_is_named_once(pharmacist, w1, w2, oxy):
    with pytest.raises(Invalid) as refused:
        destroy(
            pharmacist,
            [
                {"balance_id": oxy.pk, "full_packages": 1},
                {"ndc": "0406-0552-01", "lot_number": "OX1", "partial_quantity": "3"},
            ],
            [w1, w2],
        )
    assert refused.value.field == "lines.1.ndc"


def test_only_controlled_stock_is_destroyed_on_form_41(pharmacist, w1, w2, site):
    plain = stock(site, package(), lot="RX1", quantity=30)

    with pytest.raises(Invalid) as refused:
        destroy(pharmacist, [{"balance_id": plain.pk, "full_packages": 1}], [w1, w2])

    assert refused.value.field == "lines.0.balance_id"
    assert StockBalance.objects.get(pk=plain.pk).on_hand == Decimal(30)


def test_another_pharmacys_stock_is_not_found(pharmacist, w1, w2, other_site):
    theirs = cs_stock(other_site, oxycodone(), 100, lot="THEIRS")

    with pytest.raises(Invalid) as refused:
        destroy(pharmacist, [{"balance_id": theirs.pk, "full_packages": 1}], [w1, w2])

    assert refused.value.field == "lines.0.balance_id"
    assert StockBalance.objects.get(pk=theirs.pk).on_hand == Decimal(100)


def test_a_line_over_what_is_on_hand_refuses_the_whole_record(pharmacist, w1, w2, oxy, site):
    syrup = cs_stock(site, codeine_syrup(), "473", lot="CS-1")
    before = snapshot()

    with pytest.raises(Conflict) as refused:
        destroy(
            pharmacist,
            [
                {"balance_id": oxy.pk, "full_packages": 1},
                {"balance_id": syrup.pk, "full_packages": 1, "partial_quantity": "1"},
            ],
            [w1, w2],
        )

    assert refused.value.field == "lines.1.full_packages"
    assert snapshot() == before


def test_stock_that_left_meanwhile_is_not_destroyed_twice(pharmacist, pic, w1, w2, oxy):
    destroy(pharmacist, [{"balance_id": oxy.pk, "full_packages": 2}], [w1, w2])

    with pytest.raises(Conflict) as refused:
        destroy(pic, [{"balance_id": oxy.pk, "full_packages": 2}], [w1, w2])

    assert refused.value.field == "lines.0.full_packages"
    assert StockBalance.objects.get(pk=oxy.pk).on_hand == Decimal(100)
    assert ledger.ledger_verify() == (1, [])
