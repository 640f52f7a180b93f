"""The disposal register (rxdesk.controlled.queries_disposal.disposal_register): every Form 41
line, every controlled line shipped to a reverse distributor (Schedule II with its DEA Form
222), every waste record over the pharmacy's calendar days — on screen and as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import transaction

from rxdesk.controlled.models import Form222Line, Form222Order
from rxdesk.controlled.queries_disposal import (
    CSV_HEADER,
    destroyable_stock,
    disposal_register,
    register_csv,
)
from rxdesk.controlled.services_disposal import cs_destroy, cs_waste_record
from rxdesk.core.choices import Role
from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import LotStatus
from rxdesk.inventory.models import Supplier
from rxdesk.inventory.services.removal import vendor_return_create, vendor_return_ship
from tests.conftest import earlier_today
from tests.controlled.factories import alprazolam, credentials, cs_stock, oxycodone, witness
from tests.inventory.factories import package, stock


@pytest.fixture
def w1(site):
    return witness(site, Role.TECHNICIAN, "wit-tech")


@pytest.fixture
def w2(site):
    return witness(site, Role.PHARMACIST, "wit-rph")


@pytest.fixture
def history(site, pharmacist, w1, w2):
    """One destruction, one reverse-distributor shipment (a C-II line with its 222, a C-IV
    line, a non-controlled line) and one breakage, all today."""
    oxy = cs_stock(site, oxycodone(), 500, lot="OX1")
    alp = cs_stock(site, alprazolam(), 2000, lot="AL1")
    plain = stock(site, package(), lot="RX1", quantity=30)
    cs_destroy(
        actor=pharmacist,
        destroyed_at=earlier_today(site, minutes=30),
        method="chemical_digestion",
        location="Vault",
        lines=[{"balance_id": oxy.pk, "full_packages": 1}],
        witnesses=[credentials(w1), credentials(w2)],
    )
    rd = Supplier.objects.create(
        site=site, name="Return Logistics", reverse_distributor=True, dea_number="RR1234567"
    )
    # The reverse distributor issued a Form 222 for the Schedule II line (written to the
    # table: the order forms are another screen's work).
    order = Form222Order.objects.create(
        site=site,
        form="222",
        direction="supply",
        number="220012345",
        supplier=rd,
        executed_on=site.today(),
        signer_name="R. Logistics",
    )
    Form222Line.objects.create(order=order, line_no=1, package=oxy.package, packages_ordered=5)
    packed = vendor_return_create(
        actor=pharmacist,
        kind="reverse_distributor",
        supplier=rd.pk,
        lines=[
            {"balance": oxy.pk, "quantity": "50", "reason": "Expired", "dea_form_222": "220012345"},
            {"balance": alp.pk, "quantity": "1000", "reason": "Expired"},
            {"balance": plain.pk, "quantity": "30", "reason": "Expired"},
        ],
    )
    vendor_return_ship(
        actor=pharmacist, vendor_return=packed, carrier="UPS", tracking_number="1Z999"
    )
    cs_waste_record(
        actor=pharmacist,
        kind="breakage",
        ndc="0228-2029-96",
        quantity="3",
        balance_id=alp.pk,
        reason="Tablets crushed on the floor",
        witness=credentials(w1),
    )
    return {"oxy": oxy, "alp": alp, "return": packed}


def test_it_lists_everything_that_left_for_good(pharmacist, history, site, w1, w2):
    register = disposal_register(actor=pharmacist)

    assert [(r.kind, r.ndc, r.lot, r.quantity) for r in register.rows] == [
        ("destruction", "0406-0552-01", "OX1", Decimal(100)),
        ("reverse_distributor", "0406-0552-01", "OX1", Decimal(50)),
        ("reverse_distributor", "0228-2029-96", "AL1", Decimal(1000)),
        ("breakage", "0228-2029-96", "AL1", Decimal(3)),
    ]
    destroyed, oxy_shipped, alp_shipped, broken = register.rows
    assert destroyed.witnesses == (w1.display_name, w2.display_name)
    assert destroyed.who == pharmacist.display_name
    assert destroyed.detail == "Chemical digestion / denaturing container at Vault"
    assert oxy_shipped.form_222 == "220012345"
    assert alp_shipped.form_222 == ""
    assert oxy_shipped.detail == "To Return Logistics (DEA RR1234567); UPS 1Z999"
    assert broken.witnesses == (w1.display_name,)
    assert broken.detail == "Tablets crushed on the floor"
    assert (register.start, register.end) == (site.today() - dt.timedelta(30), site.today())


def test_the_csv_has_a_row_per_line(pharmacist, history, site):
    register = disposal_register(actor=pharmacist)

    rows = list(csv.reader(io.StringIO(register_csv(register))))

    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == 1 + 4
    shipped = dict(zip(CSV_HEADER, rows[2], strict=True))
    assert shipped["kind"] == "reverse_distributor"
    assert shipped["dea_form_222"] == "220012345"
    assert shipped["quantity"] == "50"
    assert shipped["date"] == site.today().isoformat()
    destroyed = dict(zip(CSV_HEADER, rows[1], strict=True))
    assert destroyed["witness_1"] and destroyed["witness_2"]


def test_days_outside_the_range_are_left_out(pharmacist, history, site):
    yesterday = site.today() - dt.timedelta(days=1)

    assert disposal_register(actor=pharmacist, start=yesterday, end=yesterday).rows == []


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (dt.date(2025, 2, 1), dt.date(2025, 1, 1), "end"),
        (dt.date(2022, 1, 1), dt.date(2025, 1, 1), "start"),
    ],
)
def test_a_bad_range_names_the_field(pharmacist, start, end, field):
    with pytest.raises(Invalid) as refused:
        disposal_register(actor=pharmacist, start=start, end=end)
    assert refused.value.field == field


@pytest.mark.parametrize("role", ["trainee", "admin_user"])
def test_who_may_not_read_it(request, role):
    with pytest.raises(Forbidden):
        disposal_register(actor=request.getfixturevalue(role))


def test_the_auditor_reads_it(auditor, history):
    assert len(disposal_register(actor=auditor).rows) == 4


def test_another_pharmacys_disposals_are_not_shown(outsider, history):
    assert disposal_register(actor=outsider).rows == []


def test_stock_due_for_destruction_comes_first(pharmacist, site):
    fresh = cs_stock(site, alprazolam(), 1000, lot="A-NEW")
    cs_stock(site, oxycodone(), 100, lot="O-OLD", expiry=site.today() - dt.timedelta(1))
    held = cs_stock(site, oxycodone(), 100, lot="O-HELD")
    with transaction.atomic():
        ledger.status_set(balance=held, status=LotStatus.QUARANTINED, reason="Recall check")
    stock(site, package(), lot="PLAIN", quantity=10)

    found = destroyable_stock(actor=pharmacist)

    assert [b.lot.number for b in found] == ["O-OLD", "O-HELD", "A-NEW"]
    assert fresh in found
