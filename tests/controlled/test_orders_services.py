"""Schedule II order forms (DEA Form 222, CSOS): recorded by a pharmacist, voided with the
supplier's statement, and filled by the inventory's own receiving — a posted Schedule II
line is recorded on its form line by line, or the whole post is refused. The other
direction: a Schedule II return ships only against the form the reverse distributor
issued. Every service: its audit event, a broken rule, a forbidden role writing nothing."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

import pytest
from django.db import connection

from rxdesk.controlled import queries_orders, services_orders
from rxdesk.controlled.models import Form222Line, Form222Order, Form222Receipt
from rxdesk.core import context
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.inventory.choices import MoveReason, ReceiptStatus, VendorReturnStatus
from rxdesk.inventory.models import Receipt, StockBalance, StockMove, VendorReturn
from rxdesk.inventory.services import receiving, removal
from tests.conftest import audit_count, last_event
from tests.controlled.factories import alprazolam, cs_stock, oxycodone
from tests.controlled.matrix_orders import (
    deliver,
    hydromorphone,
    reverse_distributor,
    supplier,
)
from tests.factories import SiteFactory, UserFactory
from tests.inventory.factories import package

pytestmark = pytest.mark.django_db


def data(event) -> dict:
    return json.loads(event.data)


def counts() -> dict[str, int]:
    return {
        "orders": Form222Order.objects.count(),
        "lines": Form222Line.objects.count(),
        "received": Form222Receipt.objects.count(),
        "moves": StockMove.objects.count(),
        "events": audit_count(),
    }


def record(site, actor, number="221234567", *, lines=None, **values) -> Form222Order:
    values.setdefault("supplier", supplier(site))
    values.setdefault("executed_on", site.today())
    return services_orders.form222_create(
        actor=actor,
        number=number,
        lines=lines if lines is not None else [{"ndc": oxycodone().ndc10, "packages": 3}],
        **values,
    )


# --- Recording a form --------------------------------------------------------------------------


def test_it_records_a_form_222_with_its_numbered_lines(site, pharmacist):
    oxycodone()
    hydromorphone()
    order = record(
        site,
        pharmacist,
        " 2212 34567 ",
        lines=[
            {"ndc": "0406-0552-01", "packages": 3},
            {"ndc": "0054-0264-25", "packages": "1"},
        ],
        note="Monthly C-II order",
    )
    assert (order.form, order.direction, order.number, order.status) == (
        "222",
        "purchase",
        "221234567",
        "open",
    )
    assert (order.signer, order.signer_name, order.created_by) == (
        pharmacist,
        pharmacist.display_name,
        pharmacist,
    )
    assert list(order.lines.values_list("line_no", "package__ndc10", "packages_ordered")) == [
        (1, "0406-0552-01", 3),
        (2, "0054-0264-25", 1),
    ]
    event = last_event()
    assert (event.action, event.object_id) == ("cs.order.recorded", str(order.pk))
    today = site.today()
    assert data(event) == {
        "form": "222",
        "direction": "purchase",
        "number": "221234567",
        "supplier": supplier(site).pk,
        "supplier_dea": "PM1234563",
        "executed_on": today.isoformat(),
        "expires_on": (today + dt.timedelta(days=60)).isoformat(),
        "purchase_order": None,
        "signer_name": pharmacist.display_name,
        "lines": [
            {"line_no": 1, "ndc": "00406055201", "packages": 3},
            {"line_no": 2, "ndc": "00054026425", "packages": 1},
        ],
    }


def test_a_csos_order_keeps_its_signed_text_and_may_have_more_than_20_lines(site, pharmacist):
    packages = [
        package(f"0555-{n:04d}-01", name=f"Opioid {n}", directory_dea_schedule="CII")
        for n in range(21)
    ]
    signed = "-----BEGIN PKCS7-----\nMIIB...\n-----END PKCS7-----\n"
    order = record(
        site,
        pharmacist,
        "csos-2026-0042",
        form="csos",
        csos_signed_order=signed,
        signer_name="Dana Reyes (POA)",
        lines=[{"ndc": p.ndc10, "packages": 1} for p in packages],
    )
    assert (order.number, order.csos_signed_order, order.signer, order.signer_name) == (
        "CSOS-2026-0042",
        signed,
        None,
        "Dana Reyes (POA)",
    )
    assert order.lines.count() == 21
    # A paper form takes exactly 20 numbered lines (21: see the next test).
    paper = record(
        site,
        pharmacist,
        "221234567",
        lines=[{"ndc": p.ndc10, "packages": 1} for p in packages[:20]],
    )
    assert list(paper.lines.values_list("line_no", flat=True)) == list(range(1, 21))


def test_a_paper_form_has_at_most_20_lines(site, pharmacist):
    before = counts()
    with pytest.raises(Invalid) as caught:
        record(site, pharmacist, lines=[{"ndc": "0406-0552-01", "packages": 1}] * 21)
    assert caught.value.errors == [
        {
            "field": "lines",
            "message": "A Form 222 has 20 numbered lines: put the rest on a second form.",
        }
    ]
    assert counts() == before


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"lines": [{"ndc": "0228-2029-96", "packages": 1}]},
            "lines.0.ndc",
            "NDC 0228-2029-96 is Schedule IV: order Schedule III–V on an ordinary purchase order.",
        ),
        (
            {"lines": [{"ndc": "0002-3227-30", "packages": 1}]},
            "lines.0.ndc",
            "NDC 0002-3227-30 is not a Schedule II drug: a Form 222 or CSOS order is for "
            "Schedule II only.",
        ),
        (
            {
                "lines": [
                    {"ndc": "0406-0552-01", "packages": 1},
                    {"ndc": "00406055201", "packages": 2},
                ]
            },
            "lines.1.ndc",
            "NDC 0406-0552-01 is already on line 1: one item per numbered line — add the "
            "containers there.",
        ),
        (
            {"lines": [{"ndc": "0406-0552-01", "packages": 0}]},
            "lines.0.packages",
            "Order at least one container.",
        ),
        (
            {"lines": [{"ndc": "0406-0552-01", "packages": "2.5"}]},
            "lines.0.packages",
            "'2.5' is not a whole number of containers.",
        ),
        ({"lines": []}, "lines", "Add at least one line (NDC and containers)."),
        ({"number": "  "}, "number", "Enter the form's serial number or the CSOS order number."),
        ({"form": "fax"}, "form", "Choose Form 222 (paper) or CSOS."),
        (
            {"form": "csos"},
            "csos_signed_order",
            "Paste the signed electronic order (kept as it is, with its signature).",
        ),
        ({"executed_on": "2026-13-01"}, "executed_on", "Enter a date as YYYY-MM-DD."),
        ({"note": "x" * 501}, "note", "Keep it to 500 characters at most."),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(site, pharmacist, change, field, message):
    alprazolam()
    package()
    before = counts()
    values = {
        "number": "221234567",
        "lines": [{"ndc": oxycodone().ndc10, "packages": 3}],
        "supplier": supplier(site),
        "executed_on": site.today(),
    }
    values.update(change)
    with pytest.raises(Invalid) as caught:
        services_orders.form222_create(actor=pharmacist, **values)
    assert caught.value.errors == [{"field": field, "message": message}]
    assert counts() == before


def test_the_supplier_is_this_pharmacys_and_has_a_dea_number(site, other_site, pharmacist):
    no_dea = supplier(site, "Local Wholesale", dea_number="")
    theirs = supplier(other_site, "Their Wholesale")
    before = counts()
    with pytest.raises(Invalid) as caught:
        record(site, pharmacist, supplier=no_dea)
    assert caught.value.errors == [
        {
            "field": "supplier",
            "message": "Local Wholesale has no DEA registration on file: a Schedule II order "
            "names the supplier's registration. Add it to the supplier first.",
        }
    ]
    with pytest.raises(Invalid, match="No such supplier at this pharmacy") as caught:
        record(site, pharmacist, supplier=theirs.pk)
    assert caught.value.field == "supplier"
    assert counts() == before


def test_a_form_is_not_signed_in_the_future(site, pharmacist):
    before = counts()
    with pytest.raises(Invalid, match="A form cannot be signed in the future") as caught:
        record(site, pharmacist, executed_on=site.today() + dt.timedelta(days=1))
    assert caught.value.field == "executed_on"
    assert counts() == before


def test_a_number_is_on_file_once_per_kind_of_form(site, pharmacist):
    record(site, pharmacist, "221234567")
    before = counts()
    with pytest.raises(Conflict, match="DEA Form 222 \\(paper\\) 221234567 is already on file"):
        record(site, pharmacist, "221234567")
    assert counts() == before
    # The same digits as a CSOS order number are another document.
    assert record(site, pharmacist, "221234567", form="csos", csos_signed_order="signed").pk


@pytest.mark.parametrize("role", ["technician", "inventory", "auditor", "trainee"])
def test_only_a_pharmacist_records_a_form(site, role, request):
    actor = request.getfixturevalue(role)
    before = counts()
    with pytest.raises(Forbidden):
        record(site, actor)
    assert counts() == before


# --- Voiding -----------------------------------------------------------------------------------


def test_a_form_returned_unaccepted_is_voided_with_the_statement(site, pharmacist):
    order = record(site, pharmacist)
    voided = services_orders.form222_void(
        actor=pharmacist, order=order, reason="Returned unaccepted: erasure on line 1"
    )
    assert (voided.status, voided.void_reason) == ("void", "Returned unaccepted: erasure on line 1")
    event = last_event()
    assert (event.action, event.reason) == (
        "cs.order.voided",
        "Returned unaccepted: erasure on line 1",
    )
    assert data(event) == {"number": "221234567", "form": "222", "status": ["open", "void"]}
    with pytest.raises(Conflict, match="already void"):
        services_orders.form222_void(actor=pharmacist, order=order, reason="again")


def test_a_form_something_arrived_on_is_not_voided(site, pharmacist, technician):
    order = record(site, pharmacist)
    receiving.receipt_post(actor=technician, receipt=deliver(site, technician, "221234567"))
    before = counts()
    with pytest.raises(Conflict, match="Containers were received on DEA Form 222"):
        services_orders.form222_void(actor=pharmacist, order=order, reason="lost")
    assert counts() == before


def test_voiding_needs_a_reason_a_pharmacist_and_this_pharmacys_form(
    site, pharmacist, technician, other_site
):
    order = record(site, pharmacist)
    theirs = record(
        other_site,
        UserFactory(site=other_site, role="pharmacist", username="their-rph"),
        supplier=supplier(other_site),
    )
    before = counts()
    with pytest.raises(Invalid) as caught:
        services_orders.form222_void(actor=pharmacist, order=order, reason=" ")
    assert caught.value.field == "reason"
    with pytest.raises(Forbidden):
        services_orders.form222_void(actor=technician, order=order, reason="lost")
    with pytest.raises(NotFound):
        services_orders.form222_void(actor=pharmacist, order=theirs, reason="lost")
    assert counts() == before
    assert Form222Order.objects.get(pk=order.pk).status == "open"


# --- Receiving against a form --------------------------------------------------------------------


def test_a_schedule_ii_delivery_is_recorded_on_its_form_line(site, pharmacist, technician):
    order = record(site, pharmacist, "CSOS-77", form="csos", csos_signed_order="signed")
    rec = deliver(site, technician, "csos-77", packages=3, damaged=1)

    receiving.receipt_post(actor=technician, receipt=rec)

    today = site.today()
    (received,) = Form222Receipt.objects.all()
    line = order.lines.get()
    assert (received.line, received.packages, received.received_on) == (line, 2, today)
    assert (received.receipt_line, received.recorded_by) == (rec.lines.get(), technician)
    line.refresh_from_db()
    order.refresh_from_db()
    assert (line.packages_received, line.last_received_on, order.status) == (2, today, "partial")
    assert StockBalance.objects.get(site=site).on_hand == Decimal("200.000")
    event = next(e for e in _events() if e.action == "cs.order.received")
    assert data(event) == {
        "receipt": rec.pk,
        "invoice_number": "INV-1",
        "number": "CSOS-77",
        "form": "csos",
        "on": today.isoformat(),
        "lines": [{"line_no": 1, "packages": 2}],
        "status": ["open", "partial"],
    }
    assert last_event().action == "inventory.receipt.posted"

    receiving.receipt_post(
        actor=technician, receipt=deliver(site, technician, "CSOS-77", lot="OX2", invoice="INV-2")
    )
    order.refresh_from_db()
    assert order.status == "complete"
    assert list(Form222Receipt.objects.values_list("packages", flat=True)) == [2, 1]


def _events():
    from rxdesk.core.models import AuditEvent

    return list(AuditEvent.objects.order_by("-id")[:5])


def test_the_line_is_named_by_its_place_on_the_receipt(site, pharmacist, technician):
    rec = receiving.receipt_create(
        actor=technician,
        supplier=supplier(site),
        dscsa_transaction_info="TI",
        dscsa_statement_received=True,
    )
    receiving.receipt_line_add(
        actor=technician, receipt=rec, ndc=package(), lot_number="P1", expiry="2030-01-31"
    )
    receiving.receipt_line_add(
        actor=technician,
        receipt=rec,
        ndc=oxycodone(),
        lot_number="OX1",
        expiry="2030-01-31",
        dea_order_number="229999999",
    )
    with pytest.raises(Invalid) as caught:
        receiving.receipt_post(actor=technician, receipt=rec)
    assert caught.value.errors == [
        {
            "field": "lines.1.dea_order_number",
            "message": "No DEA Form 222 or CSOS order 229999999 is recorded here: record the "
            "form (Controlled substances → Order forms) before this one.",
        }
    ]


def _expired(site, pharmacist):
    record(site, pharmacist, executed_on=site.today() - dt.timedelta(days=61))


def _void(site, pharmacist):
    services_orders.form222_void(actor=pharmacist, order=record(site, pharmacist), reason="lost")


def _not_on_it(site, pharmacist):
    record(site, pharmacist, lines=[{"ndc": hydromorphone().ndc10, "packages": 3}])


def _another_supplier(site, pharmacist):
    record(site, pharmacist, supplier=supplier(site, "Cardinal Health", "BC1234563"))


def _one_left(site, pharmacist):
    record(site, pharmacist, lines=[{"ndc": oxycodone().ndc10, "packages": 1}])


@pytest.mark.parametrize(
    ("setup", "packages", "field", "message"),
    [
        (
            lambda s, p: None,
            1,
            "lines.0.dea_order_number",
            "No DEA Form 222 or CSOS order 221234567 is recorded here",
        ),
        (_void, 1, "lines.0.dea_order_number", "Order form 221234567 is void"),
        (_expired, 1, "lines.0.dea_order_number", "Order form 221234567 was signed"),
        (_not_on_it, 1, "lines.0.dea_order_number", "NDC 0406-0552-01 is not on order form"),
        (
            _another_supplier,
            1,
            "lines.0.dea_order_number",
            "Order form 221234567 names Cardinal Health, not Matrix CII Wholesale",
        ),
        (
            _one_left,
            2,
            "lines.0.packages_received",
            "Line 1 of order form 221234567 has 1 of 1 container left; 2 arrived.",
        ),
    ],
)
def test_a_delivery_the_form_does_not_cover_is_refused_whole(
    site, pharmacist, technician, setup, packages, field, message
):
    setup(site, pharmacist)
    rec = deliver(site, technician, "221234567", packages=packages)
    before = counts()
    with pytest.raises(Invalid) as caught:
        receiving.receipt_post(actor=technician, receipt=rec)
    assert [e["field"] for e in caught.value.errors] == [field]
    assert caught.value.errors[0]["message"].startswith(message)
    assert counts() == before
    assert Receipt.objects.get(pk=rec.pk).status == ReceiptStatus.OPEN
    assert not StockBalance.objects.filter(site=site).exists()


def test_a_form_is_good_through_its_sixtieth_day(site, pharmacist, technician):
    order = record(site, pharmacist, executed_on=site.today() - dt.timedelta(days=60))
    receiving.receipt_post(actor=technician, receipt=deliver(site, technician, "221234567"))
    assert order.lines.get().packages_received == 1


def test_schedule_iii_to_v_arrive_on_the_invoice_without_a_form(site, technician):
    rec = deliver(site, technician, "", pkg=alprazolam(), lot="AL1")
    receiving.receipt_post(actor=technician, receipt=rec)
    assert Form222Receipt.objects.count() == 0
    assert StockMove.objects.get(reason=MoveReason.RECEIVE).quantity == Decimal("1000.000")


@pytest.mark.postgres
def test_two_deliveries_racing_for_the_last_container_fill_it_once(transactional_db):
    site = SiteFactory()
    rph = UserFactory(site=site, role="pharmacist", username="rph-race")
    tech = UserFactory(site=site, role="technician", username="tech-race")
    record(site, rph, lines=[{"ndc": oxycodone().ndc10, "packages": 1}])
    receipts = [deliver(site, tech, "221234567", lot=f"R{n}") for n in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def post(rec) -> None:
        try:
            with context.using(context.RequestInfo(request_id="race", channel="web")):
                barrier.wait()
                receiving.receipt_post(actor=tech, receipt=rec)
            outcomes.append("posted")
        except Invalid:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(r,)) for r in receipts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["posted", "refused"]
    assert Form222Line.objects.get().packages_received == 1
    assert Form222Receipt.objects.count() == 1


# --- Shipping against a form another registrant issued -----------------------------------------


def _packed_return(site, technician, number: str) -> VendorReturn:
    balance = cs_stock(site, oxycodone(), 250, lot="RD1")
    return removal.vendor_return_create(
        actor=technician,
        kind="reverse_distributor",
        supplier=reverse_distributor(site),
        lines=[
            {"balance": balance.pk, "quantity": "250", "reason": "Expired", "dea_form_222": number}
        ],
    )


def test_a_schedule_ii_return_ships_on_the_reverse_distributors_form(site, pharmacist, technician):
    order = record(
        site, pharmacist, "229900001", direction="supply", supplier=reverse_distributor(site)
    )
    packed = _packed_return(site, technician, "229900001")

    removal.vendor_return_ship(
        actor=technician, vendor_return=packed, carrier="UPS", tracking_number="1Z9"
    )

    (shipped,) = Form222Receipt.objects.all()
    # 250 tablets of a 100-count bottle: two full bottles and an opened one.
    assert (shipped.packages, shipped.vendor_return_line, shipped.receipt_line) == (
        3,
        packed.lines.get(),
        None,
    )
    order.refresh_from_db()
    assert (order.status, order.vendor_return) == ("complete", packed)
    assert StockBalance.objects.get(site=site).on_hand == 0


def test_a_schedule_ii_return_without_the_form_on_file_does_not_ship(site, pharmacist, technician):
    # A purchase form with that number does not cover a shipment.
    record(site, pharmacist, "229900001", supplier=reverse_distributor(site))
    packed = _packed_return(site, technician, "229900001")
    before = counts()
    with pytest.raises(Invalid) as caught:
        removal.vendor_return_ship(
            actor=technician, vendor_return=packed, carrier="UPS", tracking_number="1Z9"
        )
    assert caught.value.errors[0]["field"] == "lines.0.dea_form_222"
    assert caught.value.errors[0]["message"].startswith(
        "No DEA Form 222 or CSOS order 229900001 is issued to the pharmacy here"
    )
    assert counts() == before
    assert VendorReturn.objects.get().status == VendorReturnStatus.DRAFT
    assert StockBalance.objects.get(site=site).on_hand == Decimal("250.000")


# --- Reading -------------------------------------------------------------------------------------


def test_a_form_past_its_60_days_shows_expired(site, pharmacist):
    old = record(site, pharmacist, "220000001", executed_on=site.today() - dt.timedelta(days=61))
    fresh = record(site, pharmacist, "220000002")
    rows = {row.order.pk: row.status for row in queries_orders.orders(actor=pharmacist)}
    assert rows == {old.pk: "expired", fresh.pk: "open"}
    assert [r.order.pk for r in queries_orders.orders(actor=pharmacist, status="expired")] == [
        old.pk
    ]
    assert [r.order.pk for r in queries_orders.orders(actor=pharmacist, status="open")] == [
        fresh.pk
    ]
    assert Form222Order.objects.get(pk=old.pk).status == "open"  # nothing rewritten


def test_the_receipts_list_shows_supplier_invoice_date_and_the_222_number(
    site, pharmacist, technician
):
    order = record(site, pharmacist)
    receiving.receipt_post(
        actor=technician, receipt=deliver(site, technician, "221234567", packages=2)
    )
    receiving.receipt_post(
        actor=technician, receipt=deliver(site, technician, "", pkg=alprazolam(), invoice="")
    )
    receiving.receipt_post(
        actor=technician,
        receipt=deliver(site, technician, "", pkg=package(), lot="P1", invoice="INV-9"),
    )
    today = site.today()

    start, end, rows = queries_orders.cs_receipts(actor=technician)

    assert (start, end) == (today, today)
    assert [
        (r.schedule, r.supplier, r.supplier_dea, r.invoice_number, r.no_invoice, r.ndc10)
        for r in rows
    ] == [
        ("CII", "Matrix CII Wholesale", "PM1234563", "INV-1", False, "0406-0552-01"),
        ("CIV", "Matrix CII Wholesale", "PM1234563", "", True, "0228-2029-96"),
    ]
    assert [(r.received_on, r.containers, r.dea_order_number, r.order_id) for r in rows] == [
        (today, 2, "221234567", order.pk),
        (today, 1, "", None),
    ]
    _s, _e, only_ii = queries_orders.cs_receipts(actor=technician, group="II")
    assert [r.ndc10 for r in only_ii] == ["0406-0552-01"]
    yesterday = today - dt.timedelta(days=1)
    assert queries_orders.cs_receipts(actor=technician, start=yesterday, end=yesterday)[2] == []
    text = queries_orders.cs_receipts_csv(rows).splitlines()
    assert text[0].startswith("received_on,schedule,supplier,supplier_address,supplier_dea,")
    assert text[2].split(",")[:8] == [
        today.isoformat(),
        "CIV",
        "Matrix CII Wholesale",
        "",
        "PM1234563",
        "",
        "yes",
        "0228-2029-96",
    ]


def test_the_receipts_list_refuses_a_backwards_range_and_a_forbidden_role(
    site, technician, admin_user
):
    today = site.today()
    with pytest.raises(Invalid, match="The last day comes on or after the first") as caught:
        queries_orders.cs_receipts(actor=technician, start=today, end=today - dt.timedelta(days=1))
    assert caught.value.field == "end"
    with pytest.raises(Invalid) as caught:
        queries_orders.cs_receipts(actor=technician, group="IV")
    assert caught.value.field == "group"
    with pytest.raises(Forbidden):
        queries_orders.cs_receipts(actor=admin_user)
