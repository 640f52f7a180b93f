"""The plan file's services: payers and plans are kept by pharmacists, the PIC and the admin
(claims.plans), read by whoever works claims (claims.view); every field is checked with a
message naming it, BIN+PCN+group is unique, each write is audited with before and after,
and a deactivated plan keeps its claims.

``make_payer``, ``make_plan`` and ``make_claim`` are shared by the other claims tests."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from rxdesk.claims import services_plans as plans
from rxdesk.claims.choices import ClaimStatus
from rxdesk.claims.models import Claim, Payer, Plan
from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent, Site, User
from rxdesk.patients.models import Coverage
from rxdesk.rx.models import Fill

pytestmark = pytest.mark.django_db


# --- Shared helpers ---------------------------------------------------------------------------


def make_payer(**over: Any) -> Payer:
    values: dict[str, Any] = {
        "name": "Test Processor",
        "processor_name": "Test PBM",
        "help_desk_phone": "8005550100",
        "host": "127.0.0.1",
        "port": 7010,
    }
    values.update(over)
    return Payer.objects.create(**values)


def make_plan(payer: Payer | None = None, **over: Any) -> Plan:
    values: dict[str, Any] = {
        "name": "Test Commercial",
        "bin": "610014",
        "pcn": "TESTPCN",
        "group": "",
        "return_to_stock_days": 14,
        "dispensing_fee": Decimal("1.75"),
    }
    values.update(over)
    return Plan.objects.create(payer=payer or make_payer(), **values)


def make_claim(fill: Fill, plan: Plan, **over: Any) -> Claim:
    """A claim row as the billing service leaves it (the tests of reports do not wait for
    billing): paid by default, for ``fill`` under a coverage of the fill's patient."""
    patient = fill.prescription.patient
    coverage = over.pop("coverage", None) or (
        Coverage.objects.filter(patient=patient, bin=plan.bin, active=True).first()
        or Coverage.objects.create(
            patient=patient,
            rank=over.get("payer_rank", 1),
            bin=plan.bin,
            pcn=plan.pcn,
            member_id="ZX123456",
        )
    )
    values: dict[str, Any] = {
        "site": fill.site,
        "fill": fill,
        "coverage": coverage,
        "plan": plan,
        "payer_rank": 1,
        "status": ClaimStatus.PAID,
        "rx_number": fill.prescription.number,
        "fill_number": fill.number,
        "date_of_service": fill.site.today(),
        "ndc": fill.prescription.package.ndc11 if fill.prescription.package else "00002323030",
        "quantity": fill.quantity,
        "days_supply": fill.days_supply,
    }
    values.update(over)
    return Claim.objects.create(**values)


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def plan_values(**over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "Acme Rx Gold",
        "bin": "004336",
        "pcn": " adv ",
        "group": " rx1234 ",
        "help_desk_phone": "(800) 555-0199",
        "return_to_stock_days": 10,
        "max_days_supply": 34,
        "max_days_supply_mail": 90,
        "dispensing_fee": Decimal("2.50"),
    }
    values.update(over)
    return values


def payer_values(**over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "CVS Caremark",
        "processor_name": "Caremark",
        "help_desk_phone": "1-800-555-0142",
        "host": " 127.0.0.1 ",
        "port": 7011,
        "timeout_seconds": 20,
    }
    values.update(over)
    return values


def rows() -> tuple[int, int, int]:
    return Payer.objects.count(), Plan.objects.count(), AuditEvent.objects.count()


# --- Payers -----------------------------------------------------------------------------------


def test_a_pharmacist_adds_a_payer_and_it_is_audited(pharmacist):
    payer = plans.payer_create(actor=pharmacist, **payer_values())

    assert (payer.name, payer.help_desk_phone, payer.host, payer.port, payer.timeout_seconds) == (
        "CVS Caremark",
        "8005550142",
        "127.0.0.1",
        7011,
        20,
    )
    [event] = events("claims.payer.created")
    assert (event.actor_id, event.site_id, event.object_type, event.object_id) == (
        pharmacist.pk,
        pharmacist.site_id,
        "claims.payer",
        str(payer.pk),
    )
    assert json.loads(event.data)["after"] == {
        "name": "CVS Caremark",
        "processor_name": "Caremark",
        "help_desk_phone": "8005550142",
        "host": "127.0.0.1",
        "port": 7011,
        "timeout_seconds": 20,
        "software_vendor_id": "",
        "active": True,
    }


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"name": "  "}, "name", "Type the payer's name."),
        ({"port": None}, "port", "Type the switch's port (1 to 65535)."),
        ({"port": 0}, "port", "Ensure this value is greater than or equal to 1."),
        ({"port": 65536}, "port", "Ensure this value is less than or equal to 65535."),
        ({"timeout_seconds": 0}, "timeout_seconds", "greater than or equal to 1"),
        ({"timeout_seconds": 121}, "timeout_seconds", "less than or equal to 120"),
        ({"help_desk_phone": "555-0142"}, "help_desk_phone", "A phone number is 10 digits"),
    ],
)
def test_a_bad_payer_is_refused_naming_the_field_and_nothing_is_written(
    pharmacist, over, field, message
):
    before = rows()
    with pytest.raises(Invalid) as caught:
        plans.payer_create(actor=pharmacist, **payer_values(**over))
    assert caught.value.errors[0]["field"] == field
    assert message in caught.value.errors[0]["message"]
    assert rows() == before


def test_two_payers_cannot_share_a_name(pharmacist):
    make_payer(name="CVS Caremark")
    with pytest.raises(Invalid) as caught:
        plans.payer_create(actor=pharmacist, **payer_values(name="cvs caremark"))
    assert caught.value.errors == [
        {"field": "name", "message": "Another payer is already called CVS Caremark."}
    ]


@pytest.mark.parametrize("username", ["tech", "trainee", "inventory", "auditor"])
def test_only_the_plan_keepers_add_or_change_payers(personas, username):
    actor: User = {p.username: p for p in personas.values()}[username]
    payer = make_payer()
    before = rows()
    with pytest.raises(Forbidden):
        plans.payer_create(actor=actor, **payer_values())
    with pytest.raises(Forbidden):
        plans.payer_update(actor=actor, payer=payer, port=9999)
    assert rows() == before
    payer.refresh_from_db()
    assert payer.port == 7010


def test_the_admin_keeps_the_plan_file(admin_user, pic):
    payer = plans.payer_create(actor=admin_user, **payer_values())
    plan = plans.plan_create(actor=pic, payer=payer, **plan_values())
    assert (payer.pk, plan.payer_id) == (payer.pk, payer.pk)


def test_changing_a_payer_records_before_and_after_of_what_changed(pharmacist):
    payer = make_payer()
    plans.payer_update(
        actor=pharmacist, payer=payer, port=7020, timeout_seconds=15, host="127.0.0.1"
    )
    payer.refresh_from_db()
    assert payer.port == 7020
    [event] = events("claims.payer.updated")
    assert json.loads(event.data) == {"before": {"port": 7010}, "after": {"port": 7020}}


def test_a_change_that_changes_nothing_writes_nothing(pharmacist):
    payer = make_payer()
    before = rows()
    plans.payer_update(actor=pharmacist, payer=payer, port=7010, name=" Test Processor ")
    assert rows() == before


def test_an_unknown_field_is_refused_by_name(pharmacist):
    with pytest.raises(Invalid) as caught:
        plans.payer_create(actor=pharmacist, **payer_values(color="blue"))
    assert caught.value.errors == [{"field": "color", "message": "This field cannot be set here."}]


# --- Plans ------------------------------------------------------------------------------------


def test_a_pharmacist_adds_a_plan_with_pcn_and_group_in_capitals(pharmacist):
    payer = make_payer()
    plan = plans.plan_create(actor=pharmacist, payer=payer, **plan_values())

    plan.refresh_from_db()
    assert (plan.bin, plan.pcn, plan.group, plan.help_desk_phone) == (
        "004336",
        "ADV",
        "RX1234",
        "8005550199",
    )
    assert (plan.max_days_supply, plan.max_days_supply_mail, plan.dispensing_fee) == (
        34,
        90,
        Decimal("2.50"),
    )
    [event] = events("claims.plan.created")
    data = json.loads(event.data)["after"]
    assert (data["payer_id"], data["bin"], data["pcn"], data["group"], data["dispensing_fee"]) == (
        payer.pk,
        "004336",
        "ADV",
        "RX1234",
        "2.50",
    )


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"bin": "61001"}, "bin", "A BIN is exactly 6 digits."),
        ({"bin": "61001X"}, "bin", "A BIN is exactly 6 digits."),
        ({"bin": ""}, "bin", "Type the BIN from the card (6 digits)."),
        ({"name": ""}, "name", "Type the plan's name."),
        ({"help_desk_phone": "12345"}, "help_desk_phone", "A phone number is 10 digits"),
        ({"return_to_stock_days": 0}, "return_to_stock_days", "greater than or equal to 1"),
        ({"return_to_stock_days": 91}, "return_to_stock_days", "less than or equal to 90"),
        ({"max_days_supply": 0}, "max_days_supply", "greater than or equal to 1"),
        ({"max_days_supply": 366}, "max_days_supply", "less than or equal to 365"),
        ({"max_days_supply_mail": 400}, "max_days_supply_mail", "less than or equal to 365"),
        ({"dispensing_fee": Decimal("-0.01")}, "dispensing_fee", "greater than or equal to 0"),
        ({"pcn": "X" * 11}, "pcn", "at most 10 characters"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_field_and_nothing_is_written(
    pharmacist, over, field, message
):
    payer = make_payer()
    before = rows()
    with pytest.raises(Invalid) as caught:
        plans.plan_create(actor=pharmacist, payer=payer, **plan_values(**over))
    assert caught.value.errors[0]["field"] == field
    assert message in caught.value.errors[0]["message"]
    assert rows() == before


def test_the_same_bin_pcn_and_group_cannot_be_added_twice(pharmacist):
    payer = make_payer()
    plans.plan_create(actor=pharmacist, payer=payer, **plan_values())
    before = rows()
    with pytest.raises(Invalid) as caught:
        plans.plan_create(
            actor=pharmacist, payer=payer, **plan_values(name="Other", pcn="ADV", group="rx1234")
        )
    assert caught.value.errors == [
        {
            "field": "bin",
            "message": "BIN 004336, PCN ADV, group RX1234 is already in the plan file. "
            "Change the existing plan instead of adding it again.",
        }
    ]
    assert rows() == before
    # Another group under the same BIN and PCN, and the any-group plan, are other plans.
    plans.plan_create(actor=pharmacist, payer=payer, **plan_values(group="RX9999"))
    plans.plan_create(actor=pharmacist, payer=payer, **plan_values(group=""))
    assert Plan.objects.filter(bin="004336").count() == 3


def test_changing_a_plan_onto_another_plans_key_is_refused(pharmacist):
    payer = make_payer()
    first = make_plan(payer, group="A")
    second = make_plan(payer, name="Second", group="B")
    with pytest.raises(Invalid) as caught:
        plans.plan_update(actor=pharmacist, plan=second, group="a")
    assert caught.value.errors[0]["field"] == "bin"
    second.refresh_from_db()
    assert (first.group, second.group) == ("A", "B")


@pytest.mark.parametrize("username", ["tech", "trainee", "inventory", "auditor"])
def test_only_the_plan_keepers_add_or_change_plans(personas, username):
    actor = {p.username: p for p in personas.values()}[username]
    payer = make_payer()
    plan = make_plan(payer)
    before = rows()
    with pytest.raises(Forbidden):
        plans.plan_create(actor=actor, payer=payer, **plan_values())
    with pytest.raises(Forbidden):
        plans.plan_update(actor=actor, plan=plan, active=False)
    assert rows() == before
    plan.refresh_from_db()
    assert plan.active is True


def test_a_plan_change_is_audited_with_before_and_after(pharmacist):
    payer = make_payer()
    other = make_payer(name="Other Processor")
    plan = make_plan(payer)
    plans.plan_update(
        actor=pharmacist, plan=plan, return_to_stock_days=7, payer=other, dispensing_fee="1.75"
    )
    plan.refresh_from_db()
    assert (plan.return_to_stock_days, plan.payer_id) == (7, other.pk)
    [event] = events("claims.plan.updated")
    assert json.loads(event.data) == {
        "before": {"payer_id": payer.pk, "return_to_stock_days": 14},
        "after": {"payer_id": other.pk, "return_to_stock_days": 7},
    }


def test_deactivating_a_plan_keeps_its_claims(pharmacist, technician):
    from tests.rx.factories import first_fill, make_rx

    plan = make_plan()
    claim = make_claim(first_fill(make_rx(technician)), plan)

    plans.plan_update(actor=pharmacist, plan=plan, active=False)

    plan.refresh_from_db()
    claim.refresh_from_db()
    assert plan.active is False
    assert (claim.plan_id, claim.status) == (plan.pk, ClaimStatus.PAID)
    assert list(plans.plan_list(actor=technician, include_inactive=False)) == []
    assert list(plans.plan_list(actor=technician)) == [plan]


# --- Reads ------------------------------------------------------------------------------------


def test_whoever_works_claims_or_keeps_the_file_reads_it(technician, pharmacist, admin_user):
    plan = make_plan()
    make_plan(plan.payer, name="Other BIN", bin="003858", pcn="A4")
    for actor in (technician, pharmacist, admin_user):
        assert [p.bin for p in plans.plan_list(actor=actor, bin="610014")] == ["610014"]
        assert plans.plan_get(actor=actor, plan_id=plan.pk) == plan
        assert [p.name for p in plans.payer_list(actor=actor)] == ["Test Processor"]


@pytest.mark.parametrize("username", ["trainee", "inventory", "auditor"])
def test_others_do_not_read_the_plan_file(personas, username):
    actor = {p.username: p for p in personas.values()}[username]
    plan = make_plan()
    with pytest.raises(Forbidden):
        plans.plan_list(actor=actor)
    with pytest.raises(Forbidden):
        plans.plan_get(actor=actor, plan_id=plan.pk)
    with pytest.raises(Forbidden):
        plans.payer_list(actor=actor)


@pytest.mark.parametrize("plan_id", [0, 999_999, 2**63])
def test_a_plan_that_does_not_exist_is_not_found(technician, plan_id):
    with pytest.raises(NotFound, match=r"No such plan in the plan file\."):
        plans.plan_get(actor=technician, plan_id=plan_id)


def test_the_operator_at_the_shell_keeps_the_file_into_the_first_sites_chain(site, cli_context):
    payer = plans.payer_create(actor=None, **payer_values())
    plans.plan_create(actor=None, payer=payer, **plan_values())
    [created] = events("claims.plan.created")
    assert (created.site_id, created.actor_id, created.actor_kind) == (
        Site.objects.order_by("pk").first().pk,  # type: ignore[union-attr]
        None,
        "system",
    )


def test_the_operator_is_refused_outside_the_shell(site):
    with pytest.raises(Forbidden):
        plans.payer_create(actor=None, **payer_values())
