"""The counting and removal screens: the count sheet (scan, type, Enter to the next line),
blind until submitted; the review with investigation and approval; the expiring report
with its CSV and the sweep; returns packed, shipped, credited and printed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.catalog.ndc import gs1_check_digit
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import LocationKind
from rxdesk.inventory.models import (
    CycleCount,
    StockBalance,
    StockMove,
    StorageLocation,
    Supplier,
    VendorReturn,
)
from rxdesk.inventory.services.counts import (
    cycle_count_create,
    cycle_count_record,
    cycle_count_submit,
)
from rxdesk.inventory.services.removal import vendor_return_create, vendor_return_ship
from tests.conftest import audit_count
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sheet_url(count: CycleCount) -> str:
    return reverse("inventory_count_detail", kwargs={"pk": count.pk})


def record_url(count: CycleCount) -> str:
    return reverse("inventory_count_record", kwargs={"pk": count.pk})


def three_lots(site):
    shelf = StorageLocation.objects.create(site=site, code="A-1", name="Shelf A1")
    pkg = package()
    for number in ("L1", "L2", "L3"):
        stock(site, pkg, number, 10, location=shelf)
    return pkg


# --- Starting a count ----------------------------------------------------------------------


def test_a_count_is_started_from_its_screen(site, technician):
    three_lots(site)
    client = client_for(technician)

    response = client.post(
        reverse("inventory_count_create"),
        {"scope": "shelf", "scope_value": "A-1", "blind": "on", "note": ""},
    )

    count = CycleCount.objects.get()
    assert response.status_code == 302
    assert response["Location"] == sheet_url(count)
    assert (count.scope, count.scope_value, count.blind, count.lines.count()) == (
        "shelf",
        "A-1",
        True,
        3,
    )


def test_a_scope_matching_nothing_is_shown_beside_the_field(site, technician):
    response = client_for(technician).post(
        reverse("inventory_count_create"), {"scope": "shelf", "scope_value": "Z-9"}
    )
    assert response.status_code == 422
    assert "No storage location Z-9 here." in response.content.decode()
    assert CycleCount.objects.count() == 0


# --- The count sheet ---------------------------------------------------------------------------


def test_enter_saves_the_line_and_moves_to_the_next(site, technician):
    three_lots(site)
    count = cycle_count_create(actor=technician, scope="full")
    first, second, _third = count.lines.order_by("pk")
    client = client_for(technician)

    response = client.post(record_url(count), {"line": first.pk, "counted": "9"}, **HX)

    assert response.status_code == 200
    html = response.content.decode()
    first.refresh_from_db()
    assert first.counted == Decimal(9)
    # The saved row, then the next row (out of band) with the cursor in it.
    assert html.index(f'id="line-{first.pk}"') < html.index(f'id="line-{second.pk}"')
    next_row = html[html.index(f'id="line-{second.pk}"') :]
    assert 'hx-swap-oob="true"' in next_row.split(">")[0]
    assert "autofocus" in next_row.split("</tr>")[0]
    assert "autofocus" not in html[: html.index(f'id="line-{second.pk}"')]
    assert "<strong>1</strong> of 3 lines counted" in html


def test_after_the_last_line_enter_goes_to_submit(site, technician):
    three_lots(site)
    count = cycle_count_create(actor=technician, scope="full")
    lines = list(count.lines.order_by("pk"))
    for line in lines[:2]:
        cycle_count_record(actor=technician, line=line, counted=10)

    html = (
        client_for(technician)
        .post(record_url(count), {"line": lines[2].pk, "counted": "10"}, **HX)
        .content.decode()
    )

    actions = html[html.index('id="count-actions"') :]
    assert "autofocus" in actions and "Submit the count" in actions
    assert "<strong>3</strong> of 3 lines counted" in actions


def test_a_bad_count_stays_in_its_row_with_the_error(site, technician):
    three_lots(site)
    count = cycle_count_create(actor=technician, scope="full")
    line = count.lines.order_by("pk").first()

    response = client_for(technician).post(
        record_url(count), {"line": line.pk, "counted": "-3"}, **HX
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert "A count cannot be negative." in html and 'value="-3"' in html and "autofocus" in html
    line.refresh_from_db()
    assert line.counted is None


def test_without_htmx_the_sheet_reloads_at_the_next_line(site, technician):
    three_lots(site)
    count = cycle_count_create(actor=technician, scope="full")
    first, second, _ = count.lines.order_by("pk")
    client = client_for(technician)

    response = client.post(record_url(count), {"line": first.pk, "counted": "10"})

    assert response.status_code == 302
    assert response["Location"] == f"{sheet_url(count)}?next={second.pk}#line-{second.pk}"
    page = client.get(response["Location"]).content.decode()
    row = page[page.index(f'id="line-{second.pk}"') :].split("</tr>")[0]
    assert "autofocus" in row


def gs1(lot: str, expiry: dt.date) -> str:
    body = "0030002322730"
    return f"(01){body}{gs1_check_digit(body)}(17){expiry:%y%m%d}(10){lot}"


def test_a_scan_puts_the_cursor_on_its_line(site, technician):
    three_lots(site)
    count = cycle_count_create(actor=technician, scope="full")
    l2 = count.lines.get(lot__number="L2")

    page = (
        client_for(technician)
        .get(sheet_url(count), {"scan": gs1("L2", dt.date(2030, 12, 31))})
        .content.decode()
    )

    row = page[page.index(f'id="line-{l2.pk}"') :].split("</tr>")[0]
    assert "autofocus" in row
    assert page.count("autofocus") == 1


def test_a_scanned_lot_not_on_the_count_is_offered_as_a_found_lot(site, technician):
    three_lots(site)
    count = cycle_count_create(actor=technician, scope="full")
    client = client_for(technician)

    page = client.get(
        sheet_url(count), {"scan": gs1("NEW9", dt.date(2031, 6, 30))}
    ).content.decode()

    assert "NDC 0002-3227-30 lot NEW9 is not on this count." in page
    add = reverse("inventory_count_add_line", kwargs={"pk": count.pk})
    assert f"{add}?ndc=" in page and "lot_number=NEW9" in page and "expiry=06%2F30%2F2031" in page

    response = client.post(
        add,
        {
            "ndc": "0002-3227-30",
            "lot_number": "NEW9",
            "expiry": "06/30/2031",
            "counted": "4",
            "location": "A-1",
        },
    )
    assert response.status_code == 302
    added = count.lines.get(lot__number="NEW9")
    assert (added.counted, added.expected, added.location.code) == (Decimal(4), 0, "A-1")


def test_an_unknown_code_is_shown_beside_the_scan_box(site, technician):
    three_lots(site)
    count = cycle_count_create(actor=technician, scope="full")
    page = client_for(technician).get(sheet_url(count), {"scan": "99999-9999-99"}).content.decode()
    assert "is not in the drug catalog" in page


ON_FILE = 4711


def test_a_blind_count_shows_no_quantity_on_file_on_any_screen(
    site, technician, auditor, pharmacist
):
    stock(site, package(), "BLIND", ON_FILE)
    count = cycle_count_create(actor=technician, scope="full")
    line = count.lines.get()
    counter = client_for(technician)
    pages = [
        counter.post(record_url(count), {"line": line.pk, "counted": "4700"}, **HX),
        counter.post(record_url(count), {"line": line.pk, "counted": "4701"}),
        counter.post(record_url(count), {"line": line.pk, "counted": "x"}, **HX),
    ]
    for user in (technician, auditor, pharmacist):
        client = client_for(user)
        pages += [
            client.get(sheet_url(count)),
            client.get(reverse("inventory_counts")),
        ]
    pages.append(
        counter.get(
            reverse("inventory_count_investigate", kwargs={"pk": count.pk, "line_pk": line.pk})
        )
    )

    assert [p.status_code for p in pages] == [200, 302, 422] + [200] * 7
    for page in pages:
        assert str(ON_FILE) not in page.content.decode()
    assert "On file" not in pages[3].content.decode()

    cycle_count_submit(actor=technician, count=count)
    review = counter.get(sheet_url(count)).content.decode()
    assert "4,711" in review or "4711" in review
    assert '<strong class="short">-10</strong>' in review


# --- Review and approval -------------------------------------------------------------------


def submitted(site, technician, counted_quantity="8"):
    stock(site, package(), "P1", 10)
    count = cycle_count_create(actor=technician, scope="full")
    cycle_count_record(actor=technician, line=count.lines.get(), counted=counted_quantity)
    return cycle_count_submit(actor=technician, count=count)


def test_submitting_from_the_sheet(site, technician):
    stock(site, package(), "P1", 10)
    count = cycle_count_create(actor=technician, scope="full")
    client = client_for(technician)
    submit = reverse("inventory_count_submit", kwargs={"pk": count.pk})

    refused = client.post(submit, follow=True)
    assert "1 line not counted yet" in refused.content.decode()
    cycle_count_record(actor=technician, line=count.lines.get(), counted=9)
    done = client.post(submit, follow=True)

    assert f"Count {count.pk} submitted: 1 of 1 lines vary." in done.content.decode()
    count.refresh_from_db()
    assert count.status == "submitted"


def test_a_variance_is_investigated_and_approved_from_the_review(site, technician, pharmacist):
    count = submitted(site, technician)
    line = count.lines.get()
    investigate = reverse(
        "inventory_count_investigate", kwargs={"pk": count.pk, "line_pk": line.pk}
    )
    counter = client_for(technician)

    empty = counter.post(investigate, {})
    assert empty.status_code == 422
    assert "Write what you found." in empty.content.decode()
    saved = counter.post(investigate, {"note": "Two broken", "adjust_reason": "broken"})
    assert saved.status_code == 302
    review = counter.get(sheet_url(count)).content.decode()
    assert "Two broken" in review and "Broken or spilled" in review
    # The counter submitted it: the approve button is not offered to them.
    assert "Approve and post" not in review

    approver = client_for(pharmacist)
    assert "Approve and post 1 adjustment" in approver.get(sheet_url(count)).content.decode()
    done = approver.post(reverse("inventory_count_approve", kwargs={"pk": count.pk}), follow=True)

    assert "approved; its variances are posted" in done.content.decode()
    assert StockBalance.objects.get().on_hand == Decimal(8)
    assert ledger.ledger_verify() == (1, [])


def test_approval_refused_for_a_missing_reason_says_which_line(site, technician, pharmacist):
    count = submitted(site, technician)
    client = client_for(pharmacist)
    before = (StockMove.objects.count(), audit_count())

    page = client.post(reverse("inventory_count_approve", kwargs={"pk": count.pk}), follow=True)

    assert "Give a reason code for each variance" in page.content.decode()
    assert (StockMove.objects.count(), audit_count()) == before


def test_cancelling_a_count_needs_a_reason(site, technician):
    stock(site, package(), "P1", 10)
    count = cycle_count_create(actor=technician, scope="full")
    url = reverse("inventory_count_cancel", kwargs={"pk": count.pk})
    client = client_for(technician)

    assert client.post(url, {"reason": ""}).status_code == 422
    response = client.post(url, {"reason": "Wrong shelf"})

    assert response.status_code == 302
    count.refresh_from_db()
    assert count.status == "cancelled"


def test_the_count_pages_read_in_a_fixed_number_of_queries(
    site, technician, django_assert_max_num_queries
):
    pkg = package()
    for n in range(12):
        stock(site, pkg, f"L{n:02}", 5)
    count = cycle_count_create(actor=technician, scope="full")
    client = client_for(technician)

    with django_assert_max_num_queries(12):
        sheet = client.get(sheet_url(count))
    with django_assert_max_num_queries(10):
        listing = client.get(reverse("inventory_counts"))

    assert sheet.content.decode().count('class="count-input') == 12
    assert "0 of 12" in listing.content.decode()


# --- Expiring stock ------------------------------------------------------------------------


def test_the_expiring_report_its_csv_and_the_sweep(site, inventory, django_assert_max_num_queries):
    cage = StorageLocation.objects.create(
        site=site, code="Q-1", name="Quarantine", kind=LocationKind.QUARANTINE
    )
    pkg = package()
    for n in range(5):
        stock(site, pkg, f"S{n}", 2, expiry=site.today() + dt.timedelta(days=20 + n))
    stock(site, pkg, "GONE", 3, expiry=site.today() - dt.timedelta(days=4))
    client = client_for(inventory)

    with django_assert_max_num_queries(10):
        page = client.get(reverse("inventory_expiring"), {"days": "30"})

    html = page.content.decode()
    assert "6 lots · 1 expired" in html and "expired 4 d ago" in html
    assert 'value="Q-1"' in html  # the sweep may move stock to the quarantine area
    csv = client.get(reverse("inventory_expiring_csv"), {"days": "30"})
    assert csv["Content-Type"] == "text/csv"
    assert "attachment;" in csv["Content-Disposition"]
    rows = b"".join(csv.streaming_content).decode().splitlines()
    assert len(rows) == 7 and rows[1].startswith("0002-3227-30,Prozac,20 mg/1,CAPSULE,,GONE,")

    swept = client.post(reverse("inventory_expired_quarantine"), {"location": "Q-1"}, follow=True)

    assert "1 expired lot set aside." in swept.content.decode()
    gone = StockBalance.objects.get(lot__number="GONE")
    assert (gone.status, gone.location) == ("expired", cage)


def test_a_bad_horizon_is_shown_beside_the_days_field(site, technician):
    page = client_for(technician).get(reverse("inventory_expiring"), {"days": "-4"})
    assert page.status_code == 422
    assert "Ensure this value is greater than or equal to 0." in page.content.decode()


def test_a_technician_sees_the_report_but_not_the_sweep(site, technician):
    stock(site, package(), "GONE", 3, expiry=site.today() - dt.timedelta(days=4))
    client = client_for(technician)
    html = client.get(reverse("inventory_expiring")).content.decode()
    assert "Set expired stock aside" not in html
    before = audit_count()

    assert client.post(reverse("inventory_expired_quarantine")).status_code == 403

    assert audit_count() == before
    assert StockBalance.objects.get().status == "available"


# --- Returns -------------------------------------------------------------------------------


def test_a_return_is_packed_from_the_expiring_report(site, technician):
    gone = stock(site, package(), "GONE", 30, expiry=site.today() - dt.timedelta(days=2))
    inmar = Supplier.objects.create(site=site, name="Inmar", reverse_distributor=True)
    client = client_for(technician)
    form = client.get(reverse("inventory_return_create"), {"balance": gone.pk}).content.decode()
    assert 'name="lines.0.lot_number" value="GONE"' in form
    assert 'name="lines.0.quantity" value="30"' in form
    assert 'name="lines.0.reason" value="Expired"' in form

    data = {
        "kind": "reverse_distributor",
        "supplier": str(inmar.pk),
        "credit_expected": "5.00",
        "note": "",
        "rows": "3",
        "lines.0.ndc": "0002-3227-30",
        "lines.0.lot_number": "GONE",
        "lines.0.quantity": "30",
        "lines.0.reason": "Expired",
        "lines.0.dea_form_222": "",
    }
    response = client.post(reverse("inventory_return_create"), data)

    packed = VendorReturn.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory_return_detail", kwargs={"pk": packed.pk})
    assert [(x.lot.number, x.quantity) for x in packed.lines.all()] == [("GONE", Decimal(30))]


def test_a_line_error_is_shown_on_its_own_row(site, technician):
    stock(site, package(), "L1", 3)
    vendor = Supplier.objects.create(site=site, name="Cardinal")
    data = {
        "kind": "vendor",
        "supplier": str(vendor.pk),
        "rows": "4",
        # Row 0 left blank: the service's line 0 is the form's row 2.
        "lines.2.ndc": "0002-3227-30",
        "lines.2.lot_number": "L1",
        "lines.2.quantity": "9",
    }

    response = client_for(technician).post(reverse("inventory_return_create"), data)

    assert response.status_code == 409
    html = response.content.decode()
    row = html[html.index('name="lines.2.quantity"') :].split("</td>")[0]
    assert "Only 3 EA of lot L1 on hand; cannot return 9." in row
    assert VendorReturn.objects.count() == 0


def packed(site, technician):
    balance = stock(site, package(), "L1", 10)
    return vendor_return_create(
        actor=technician,
        kind="vendor",
        supplier=Supplier.objects.create(site=site, name="Cardinal", dea_number="RC1234563"),
        lines=[{"balance": balance.pk, "quantity": 6, "reason": "Overstock"}],
        credit_expected="9.99",
    )


def test_a_return_is_shipped_credited_and_closed_from_its_page(site, technician):
    box = packed(site, technician)
    client = client_for(technician)
    url = reverse("inventory_return_detail", kwargs={"pk": box.pk})

    empty = client.post(reverse("inventory_return_ship", kwargs={"pk": box.pk}), {})
    assert empty.status_code == 422
    shipped = client.post(
        reverse("inventory_return_ship", kwargs={"pk": box.pk}),
        {"carrier": "UPS", "tracking_number": "1Z555"},
    )
    assert shipped.status_code == 302 and shipped["Location"] == url
    assert StockBalance.objects.get().on_hand == Decimal(4)
    client.post(reverse("inventory_return_credit", kwargs={"pk": box.pk}), {"credit_received": "9"})
    client.post(reverse("inventory_return_close", kwargs={"pk": box.pk}), {"note": ""})

    box.refresh_from_db()
    assert (box.status, box.credit_received) == ("closed", Decimal("9.00"))


def test_the_chain_of_custody_page(site, technician, inventory):
    box = packed(site, technician)
    vendor_return_ship(actor=inventory, vendor_return=box, carrier="FedEx", tracking_number="7788")

    html = (
        client_for(technician)
        .get(reverse("inventory_return_custody", kwargs={"pk": box.pk}))
        .content.decode()
    )

    for text in (
        "Chain of custody — return",
        "0002-3227-30",
        "L1",
        "12/31/2030",
        "6 EA",
        "Overstock",
        "(tech)",
        "FedEx",
        "7788",
        "$9.99",
        "DEA RC1234563",
    ):
        assert text in html, text


def test_the_returns_list_reads_in_a_fixed_number_of_queries(
    site, technician, django_assert_max_num_queries
):
    vendor = Supplier.objects.create(site=site, name="Cardinal")
    for n in range(3):
        balance = stock(site, package(), f"L{n}", 10)
        vendor_return_create(
            actor=technician,
            kind="vendor",
            supplier=vendor,
            lines=[{"balance": balance.pk, "quantity": 1}],
        )
    client = client_for(technician)

    with django_assert_max_num_queries(10):
        page = client.get(reverse("inventory_returns"))

    assert page.content.decode().count("Cardinal") == 3
