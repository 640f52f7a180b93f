"""Refused packages: a package of a delivery that may not go into stock (expired or
short-dated, a recalled lot, damaged, the wrong item) is recorded against the delivery as a
discrepancy so the supplier credits it, never received; posting keeps it and does not open
it a second time. The service, the API and the receiving screen's scan box."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.catalog.ndc import ndc_to_gtin14
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.inventory.choices import DiscrepancyKind, ReceiptStatus
from rxdesk.inventory.models import (
    Discrepancy,
    Lot,
    ReceiptLine,
    StockBalance,
    StockMove,
)
from rxdesk.inventory.services import receiving
from tests.conftest import audit_count, last_event
from tests.e2e.test_browser import http_site, page  # noqa: F401  (shared fixtures)
from tests.factories import PASSWORD
from tests.inventory.matrix_receiving import (
    datamatrix,
    prozac,
    receipt,
    receipt_line,
)
from tests.inventory.test_receiving_services import recall

pytestmark = pytest.mark.django_db

P = "/api/v1/inventory"
JSON = "application/json"
HX = {"HX-Request": "true"}
OLD = dt.date(2024, 1, 31)
INVOICE_4 = "NDC,Description,Qty,Unit Cost\n0002-3227-30,PROZAC 20MG 30,4,12.50\n"


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


def data(event) -> dict:
    return json.loads(event.data)


def counts() -> dict[str, int]:
    return {
        "discrepancies": Discrepancy.objects.count(),
        "lines": ReceiptLine.objects.count(),
        "lots": Lot.objects.count(),
        "moves": StockMove.objects.count(),
        "balances": StockBalance.objects.count(),
        "events": audit_count(),
    }


def sign_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Service -------------------------------------------------------------------------------


def test_an_expired_scan_is_recorded_with_its_lot_expiry_and_serial(technician, site):
    rec = receipt(site)
    prozac()
    before = counts()
    found = receiving.receipt_discrepancy_add(
        actor=technician,
        receipt=rec,
        kind="expired",
        scan=datamatrix(prozac(), "old7", OLD, serial="SN9"),
    )
    note = (
        "NDC 0002-3227-30, lot OLD7, expiry 01/31/2024, serial SN9. "
        "Expired 01/31/2024, before it arrived."
    )
    assert (found.kind, found.packages, found.note, found.status) == ("expired", 1, note, "open")
    assert (found.receipt, found.receipt_line, found.package, found.opened_by) == (
        rec,
        None,
        prozac(),
        technician,
    )
    # Recorded, not received: no lot, no line, no stock; one event.
    assert counts() == {**before, "discrepancies": 1, "events": before["events"] + 1}
    assert not Lot.objects.filter(number="OLD7").exists()
    event = last_event()
    assert (event.action, event.object_type, event.object_id) == (
        "inventory.receipt.discrepancy_added",
        "inventory.receipt",
        str(rec.pk),
    )
    assert data(event) == {
        "discrepancy": found.pk,
        "kind": "expired",
        "ndc": "00002322730",
        "lot": "OLD7",
        "expiry": "2024-01-31",
        "serial": "SN9",
        "packages": 1,
        "recall": None,
        "note": note,
    }


def test_a_recalled_lot_is_recorded_with_its_recall_number(technician, site):
    recall(site, prozac(), "BAD1")
    rec = receipt(site)
    found = receiving.receipt_discrepancy_add(
        actor=technician,
        receipt=rec,
        kind=DiscrepancyKind.WRONG_ITEM,
        scan=datamatrix(prozac(), "BAD1", serial="S1"),
        note="In the returns tote",
    )
    assert found.kind == "wrong_item"
    assert found.note == (
        "NDC 0002-3227-30, lot BAD1, expiry 12/31/2030, serial S1. "
        "Recalled lot BAD1 under recall D-0412-2026. In the returns tote"
    )
    assert data(last_event())["recall"] == "D-0412-2026"
    assert Lot.objects.count() == 0 and StockMove.objects.count() == 0


def test_a_recall_of_every_lot_is_named_too(technician, site):
    recall(site, prozac())
    found = receiving.receipt_discrepancy_add(
        actor=technician,
        receipt=receipt(site),
        kind="wrong_item",
        ndc="0002-3227-30",
        lot_number="z9",
    )
    assert found.note == "NDC 0002-3227-30, lot Z9. Recalled lot Z9 under recall D-0412-2026."


def test_a_short_dated_package_is_recorded_with_its_days_left(technician, site):
    prozac()
    soon = site.today() + dt.timedelta(days=20)
    found = receiving.receipt_discrepancy_add(
        actor=technician,
        receipt=receipt(site),
        kind="expired",
        ndc="0002-3227-30",
        lot_number="sd1",
        expiry=soon.isoformat(),
        packages=2,
    )
    assert found.packages == 2
    assert found.note == (
        f"NDC 0002-3227-30, lot SD1, expiry {soon:%m/%d/%Y}. "
        f"Short-dated: expires {soon:%m/%d/%Y}, 20 days after it arrived."
    )


def test_a_damaged_package_needs_no_lot(technician, site):
    prozac()
    found = receiving.receipt_discrepancy_add(
        actor=technician,
        receipt=receipt(site),
        kind="damaged",
        ndc="00002322730",
        note="Carton crushed, vial cracked",
    )
    assert (found.kind, found.note) == ("damaged", "NDC 0002-3227-30. Carton crushed, vial cracked")


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"kind": "lost", "ndc": "0002-3227-30"},
            "kind",
            "Choose what is wrong with the package from the list.",
        ),
        ({"kind": "", "ndc": "0002-3227-30"}, "kind", None),
        ({"kind": "damaged", "ndc": "0002-3227-30", "packages": 0}, "packages", None),
        ({"kind": "damaged", "ndc": "0002-3227-30", "packages": "-2"}, "packages", None),
        ({"kind": "damaged", "ndc": "0002-3227-30", "packages": "two"}, "packages", None),
        (
            {"kind": "damaged", "ndc": "99999-9999-99"},
            "ndc",
            "NDC 99999-9999-99 is not in the drug catalog.",
        ),
        ({"kind": "damaged"}, "scan", "Scan the package or type its NDC."),
        ({"kind": "damaged", "scan": "hello"}, "scan", None),
        (
            {"kind": "expired", "ndc": "0002-3227-30", "lot_number": "A1"},
            "expiry",
            "Enter the expiry date printed on the package.",
        ),
        (
            {"kind": "expired", "ndc": "0002-3227-30", "expiry": "2024-01-31"},
            "lot_number",
            "Enter the lot number printed on the package.",
        ),
        (
            {"kind": "expired", "ndc": "0002-3227-30", "lot_number": "A1", "expiry": "31/01/24"},
            "expiry",
            "Enter a date as YYYY-MM-DD.",
        ),
        ({"kind": "damaged", "ndc": "0002-3227-30", "lot_number": "L" * 41}, "lot_number", None),
        ({"kind": "damaged", "ndc": "0002-3227-30", "note": "x" * 161}, "note", None),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(technician, site, values, field, message):
    prozac()
    rec = receipt(site)
    before = counts()
    with pytest.raises(Invalid) as caught:
        receiving.receipt_discrepancy_add(actor=technician, receipt=rec, **values)
    assert [e["field"] for e in caught.value.errors] == [field]
    if message is not None:
        assert caught.value.errors[0]["message"] == message
    assert counts() == before


def test_a_serial_names_one_package(technician, site):
    rec = receipt(site)
    before = counts()
    with pytest.raises(Invalid) as caught:
        receiving.receipt_discrepancy_add(
            actor=technician,
            receipt=rec,
            kind="expired",
            scan=datamatrix(prozac(), "OLD", OLD, serial="S1"),
            packages=2,
        )
    assert caught.value.errors == [
        {
            "field": "packages",
            "message": "A serial number names one package: record each package on its own.",
        }
    ]
    assert counts() == before


def test_the_same_serial_is_not_recorded_twice(technician, site):
    rec = receipt(site)
    code = datamatrix(prozac(), "OLD", OLD, serial="S1")
    receiving.receipt_discrepancy_add(actor=technician, receipt=rec, kind="expired", scan=code)
    # S1 is recorded; S1X only begins like it.
    receiving.receipt_discrepancy_add(
        actor=technician,
        receipt=rec,
        kind="expired",
        scan=datamatrix(prozac(), "OLD", OLD, serial="S1X"),
    )
    before = counts()
    with pytest.raises(Conflict) as caught:
        receiving.receipt_discrepancy_add(actor=technician, receipt=rec, kind="expired", scan=code)
    assert caught.value.errors == [
        {
            "field": "scan",
            "message": "Serial S1 of NDC 0002-3227-30 is already recorded on this receipt "
            "(scanned twice?).",
        }
    ]
    assert counts() == before


def test_a_serial_checked_in_on_a_line_is_not_also_refused(technician, site):
    rec = receipt(site)
    receiving.receipt_line_add(
        actor=technician, receipt=rec, scan=datamatrix(prozac(), "A1", serial="S7")
    )
    before = counts()
    with pytest.raises(Conflict, match="Serial S7 of NDC 0002-3227-30 is checked in on this"):
        receiving.receipt_discrepancy_add(
            actor=technician,
            receipt=rec,
            kind="damaged",
            scan=datamatrix(prozac(), "A1", serial="S7"),
        )
    assert counts() == before


def test_a_posted_receipt_takes_no_refused_package(technician, site):
    rec = receipt(site, status=ReceiptStatus.POSTED)
    prozac()
    before = counts()
    with pytest.raises(Conflict) as caught:
        receiving.receipt_discrepancy_add(
            actor=technician, receipt=rec, kind="damaged", ndc="0002-3227-30"
        )
    assert caught.value.errors == [
        {
            "field": "status",
            "message": f"Receipt {rec.pk} is posted to stock; record a refused package while "
            "the delivery is being checked in.",
        }
    ]
    assert counts() == before


@pytest.mark.parametrize("persona", ["trainee", "auditor", "admin_user"])
def test_roles_without_receiving_record_nothing(request, site, persona):
    user = request.getfixturevalue(persona)
    rec = receipt(site)
    before = counts()
    with pytest.raises(Forbidden):
        receiving.receipt_discrepancy_add(
            actor=user, receipt=rec, kind="expired", scan=datamatrix(prozac(), "OLD", OLD)
        )
    assert counts() == before


def test_another_pharmacys_receipt_is_not_found(technician, other_site):
    rec = receipt(other_site)
    before = counts()
    with pytest.raises(NotFound):
        receiving.receipt_discrepancy_add(
            actor=technician, receipt=rec, kind="expired", scan=datamatrix(prozac(), "OLD", OLD)
        )
    assert counts() == before


def test_posting_keeps_a_refused_package_and_does_not_count_it_short(technician, site):
    prozac()
    rec = receipt(site)
    receiving.receipt_import_invoice(actor=technician, receipt=rec, text=INVOICE_4)
    for serial in ("S1", "S2"):
        receiving.receipt_line_add(
            actor=technician, receipt=rec, scan=datamatrix(prozac(), "A1", serial=serial)
        )
    refused = receiving.receipt_discrepancy_add(
        actor=technician,
        receipt=rec,
        kind="expired",
        scan=datamatrix(prozac(), "OLD", OLD, serial="S3"),
    )

    receiving.receipt_post(actor=technician, receipt=rec)

    found = list(
        Discrepancy.objects.order_by("id").values_list(
            "id", "kind", "packages", "note", "status", "receipt_line_id"
        )
    )
    line = ReceiptLine.objects.get()
    assert found == [
        (refused.pk, "expired", 1, refused.note, "open", None),
        # Invoiced 4, received 2, refused 1: one is short, not two.
        (
            found[1][0],
            "short",
            1,
            "NDC 0002-3227-30: invoiced 4, received 2, refused 1.",
            "open",
            line.pk,
        ),
    ]
    assert data(last_event())["discrepancies"] == [
        {"kind": "short", "ndc": "00002322730", "packages": 1}
    ]
    assert list(Lot.objects.values_list("number", flat=True)) == ["A1"]
    assert StockBalance.objects.get().on_hand == 60


def test_a_shortage_recorded_at_check_in_is_not_opened_again(technician, site):
    prozac()
    rec = receipt(site)
    receiving.receipt_import_invoice(actor=technician, receipt=rec, text=INVOICE_4)
    receiving.receipt_line_add(
        actor=technician,
        receipt=rec,
        scan=datamatrix(prozac(), "A1"),
        packages_received=2,
    )
    receiving.receipt_discrepancy_add(
        actor=technician, receipt=rec, kind="damaged", ndc="0002-3227-30", note="Wet"
    )
    receiving.receipt_discrepancy_add(
        actor=technician, receipt=rec, kind="short", ndc="0002-3227-30", note="Tote 2 missing"
    )
    receiving.receipt_post(actor=technician, receipt=rec)
    assert sorted(Discrepancy.objects.values_list("kind", "packages", "note")) == [
        ("damaged", 1, "NDC 0002-3227-30. Wet"),
        ("short", 1, "NDC 0002-3227-30. Tote 2 missing"),
    ]


def test_a_refused_package_is_followed_up_like_any_discrepancy(technician, site):
    rec = receipt(site)
    refused = receiving.receipt_discrepancy_add(
        actor=technician, receipt=rec, kind="expired", scan=datamatrix(prozac(), "OLD", OLD)
    )
    followed = receiving.discrepancy_update(
        actor=technician,
        discrepancy=refused,
        follow_up="RA 5512 from McKesson",
        status="reported",
        credit_expected="12.50",
    )
    assert (followed.status, str(followed.credit_expected)) == ("reported", "12.50")
    assert followed.follow_up.endswith(" tech: RA 5512 from McKesson")
    assert last_event().action == "inventory.discrepancy.updated"


# --- API -----------------------------------------------------------------------------------


def test_the_api_records_a_refused_package(technician, site):
    rec = receipt(site)
    api = sign_in(technician)
    response = api.post(
        f"{P}/receipts/{rec.pk}/discrepancies",
        {"kind": "expired", "scan": datamatrix(prozac(), "OLD", OLD, serial="SN9")},
        content_type=JSON,
    )
    assert response.status_code == 201
    body = response.json()
    found = Discrepancy.objects.get()
    assert {k: v for k, v in body.items() if k not in ("package", "opened_at")} == {
        "id": found.pk,
        "receipt_id": rec.pk,
        "receipt_line_id": None,
        "supplier": "McKesson",
        "invoice_number": "",
        "kind": "expired",
        "packages": 1,
        "note": "NDC 0002-3227-30, lot OLD, expiry 01/31/2024, serial SN9. "
        "Expired 01/31/2024, before it arrived.",
        "status": "open",
        "follow_up": "",
        "credit_expected": None,
        "credit_received": None,
        "opened_by": "tech",
        "resolved_at": None,
    }
    assert body["package"]["ndc10"] == "0002-3227-30"
    listed = api.get(f"{P}/receipts/{rec.pk}").json()["discrepancies"]
    assert listed == [{**body, "opened_at": listed[0]["opened_at"]}]
    assert StockMove.objects.count() == 0 and Lot.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "lost", "ndc": "0002-3227-30"}, "kind"),
        ({"kind": "damaged", "ndc": "99999-9999-99"}, "ndc"),
        ({"kind": "damaged", "ndc": "0002-3227-30", "packages": 0}, "packages"),
        ({"kind": "expired", "ndc": "0002-3227-30", "lot_number": "A1"}, "expiry"),
    ],
)
def test_the_api_names_the_bad_field(technician, site, payload, field):
    prozac()
    rec = receipt(site)
    api = sign_in(technician)
    before = counts()
    response = api.post(f"{P}/receipts/{rec.pk}/discrepancies", payload, content_type=JSON)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert counts() == before


def test_the_api_refuses_a_posted_a_foreign_or_a_forbidden_receipt(
    technician, trainee, site, other_site
):
    prozac()
    body = {"kind": "damaged", "ndc": "0002-3227-30"}
    posted = receipt(site, status=ReceiptStatus.POSTED)
    foreign = receipt(other_site)
    api = sign_in(technician)
    as_trainee = sign_in(trainee)
    before = counts()
    refused = api.post(f"{P}/receipts/{posted.pk}/discrepancies", body, content_type=JSON)
    assert refused.status_code == 409
    assert refused["Content-Type"] == "application/problem+json"
    assert (
        api.post(f"{P}/receipts/{foreign.pk}/discrepancies", body, content_type=JSON).status_code
        == 404
    )
    forbidden = as_trainee.post(
        f"{P}/receipts/{receipt(site).pk}/discrepancies", body, content_type=JSON
    )
    assert forbidden.status_code == 403
    assert counts() == before


# --- Screens -------------------------------------------------------------------------------


def _refusal_form(shown: str) -> dict[str, str]:
    """The hidden fields of the "Record as a discrepancy" form beside the scan box."""
    form = shown.split('id="scan-refused"')[1].split("</form>")[0]
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)
        if name != "csrfmiddlewaretoken"
    }


def test_an_expired_scan_offers_to_record_it_and_the_button_does(technician, site):
    rec = receipt(site)
    client = sign_in(technician)
    code = datamatrix(prozac(), "OLD", OLD, serial="SN9")
    refused = client.post(
        reverse("inventory_receipt_scan", args=[rec.pk]), {"scan": code}, headers=HX
    )
    shown = refused.content.decode()
    assert refused.status_code == 422
    assert shown.count("This lot expired on 01/31/2024") == 2  # beside the box and its field
    scan_input = shown.split('id="id_scan"')[1].split(">")[0]
    assert "autofocus" not in scan_input  # the button has the focus: Enter records it
    button = shown.split('id="scan-refused"')[1].split("</form>")[0]
    assert '<button type="submit" class="primary" autofocus>Record as a discrepancy</button>' in (
        button
    )
    assert f'hx-post="/inventory/receipts/{rec.pk}/discrepancies/new/"' in shown
    assert "Expired or short-dated on arrival" in button
    values = _refusal_form(shown)
    assert values == {
        "kind": "expired",
        "scan": code,
        "lot_number": "",
        "expiry": "",
        "packages": "1",
    }
    assert ReceiptLine.objects.count() == 0

    recorded = client.post(
        reverse("inventory_receipt_discrepancy_add", args=[rec.pk]), values, headers=HX
    )
    shown = recorded.content.decode()
    assert recorded.status_code == 200 and "<html" not in shown
    found = Discrepancy.objects.get()
    assert (found.kind, found.note) == (
        "expired",
        "NDC 0002-3227-30, lot OLD, expiry 01/31/2024, serial SN9. "
        "Expired 01/31/2024, before it arrived.",
    )
    assert (
        "Recorded as a discrepancy (expired or short-dated on arrival, 1 package): "
        "NDC 0002-3227-30, lot OLD" in shown
    )
    assert 'id="scan-refused"' not in shown
    assert "autofocus" in shown.split('id="id_scan"')[1].split(">")[0]  # ready for the next scan
    listed = shown.split('id="discrepancies" hx-swap-oob="true"')[1]
    assert "refused at check-in · tech" in listed and 'badge warn">Open<' in listed
    assert ReceiptLine.objects.count() == 0 and StockMove.objects.count() == 0

    again = client.post(
        reverse("inventory_receipt_discrepancy_add", args=[rec.pk]), values, headers=HX
    )
    shown = again.content.decode()
    assert again.status_code == 422
    assert "Not recorded as a discrepancy:" in shown
    assert "Serial SN9 of NDC 0002-3227-30 is already recorded on this receipt" in shown
    assert "Correct it in the refused-package form" in shown
    assert Discrepancy.objects.count() == 1


def test_a_recalled_scan_offers_wrong_item(technician, site):
    recall(site, prozac(), "BAD1")
    rec = receipt(site)
    shown = (
        sign_in(technician)
        .post(
            reverse("inventory_receipt_scan", args=[rec.pk]),
            {"scan": datamatrix(prozac(), "BAD1"), "packages_received": "3"},
            headers=HX,
        )
        .content.decode()
    )
    values = _refusal_form(shown)
    assert (values["kind"], values["packages"]) == ("wrong_item", "3")
    assert "as <strong>Wrong item</strong>" in shown


def test_other_refusals_offer_no_discrepancy(technician, site):
    rec = receipt(site)
    shown = (
        sign_in(technician)
        .post(reverse("inventory_receipt_scan", args=[rec.pk]), {"scan": "hello"}, headers=HX)
        .content.decode()
    )
    assert "This is not an NDC" in shown and 'id="scan-refused"' not in shown
    assert "autofocus" in shown.split('id="id_scan"')[1].split(">")[0]


def test_without_htmx_the_refused_scan_button_returns_to_the_screen(technician, site):
    prozac()
    rec = receipt(site)
    client = sign_in(technician)
    shown = client.post(
        reverse("inventory_receipt_scan", args=[rec.pk]),
        {"scan": "0002-3227-30", "lot_number": "old", "expiry": "01/31/2024"},
    ).content.decode()
    values = _refusal_form(shown)
    assert values == {
        "kind": "expired",
        "scan": "0002-3227-30",
        "lot_number": "old",
        "expiry": "01/31/2024",
        "packages": "1",
    }
    response = client.post(
        reverse("inventory_receipt_discrepancy_add", args=[rec.pk]), values, follow=True
    )
    assert response.redirect_chain == [(reverse("inventory_receipt", args=[rec.pk]), 302)]
    assert "Recorded as a discrepancy (expired or short-dated on arrival" in (
        response.content.decode()
    )
    assert Discrepancy.objects.get().note == (
        "NDC 0002-3227-30, lot OLD, expiry 01/31/2024. Expired 01/31/2024, before it arrived."
    )


def test_the_refused_package_form(technician, site):
    rec = receipt(site)
    prozac()
    client = sign_in(technician)
    url = reverse("inventory_receipt_discrepancy_add", args=[rec.pk])
    detail = client.get(reverse("inventory_receipt", args=[rec.pk])).content.decode()
    assert f'href="{url}" accesskey="d"' in detail
    filled = client.get(url, {"kind": "wrong_item", "scan": "0002-3227-30", "packages": "2"})
    shown = filled.content.decode()
    assert filled.status_code == 200
    assert '<option value="wrong_item" selected>Wrong item</option>' in shown
    assert 'value="0002-3227-30"' in shown
    empty = client.post(url, {})
    assert empty.status_code == 422 and "This field is required." in empty.content.decode()
    unknown = client.post(url, {"kind": "damaged", "scan": "99999-9999-99"})
    assert unknown.status_code == 422
    assert "NDC 99999-9999-99 is not in the drug catalog." in unknown.content.decode()
    saved = client.post(
        url, {"kind": "damaged", "scan": "0002-3227-30", "packages": "2", "note": "Leaking"}
    )
    assert saved.status_code == 302 and saved["Location"] == reverse(
        "inventory_receipt", args=[rec.pk]
    )
    found = Discrepancy.objects.get()
    assert (found.kind, found.packages, found.note) == ("damaged", 2, "NDC 0002-3227-30. Leaking")


def test_the_receipt_lists_refused_and_posting_discrepancies(
    technician, site, django_assert_max_num_queries
):
    rec = receipt(site)
    line = receipt_line(rec)
    for n in range(5):
        receiving.receipt_discrepancy_add(
            actor=technician, receipt=rec, kind="damaged", ndc="0002-3227-30", note=f"Box {n}"
        )
    Discrepancy.objects.create(
        site=site,
        receipt=rec,
        receipt_line=line,
        package=line.package,
        kind="short",
        packages=1,
        note="NDC 0002-3227-30: invoiced 3, received 2.",
        status="reported",
    )
    client = sign_in(technician)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("inventory_receipt", args=[rec.pk]))
    listed = response.content.decode().split('id="discrepancies"')[1]
    assert listed.count("refused at check-in · tech") == 5
    assert "on posting" in listed and "Reported to supplier" in listed
    assert "NDC 0002-3227-30. Box 4" in listed


def test_a_receipt_without_discrepancies_says_so(auditor, site):
    rec = receipt(site)
    shown = sign_in(auditor).get(reverse("inventory_receipt", args=[rec.pk])).content.decode()
    assert "None recorded." in shown and "Record a refused package" not in shown


@pytest.mark.e2e
def test_in_a_browser_enter_records_a_refused_scan(http_site, technician, site, page):  # noqa: F811
    from playwright.sync_api import expect

    prozac()
    rec = receipt(site)
    page.goto(http_site.url + reverse("login"))
    page.fill("#id_username", technician.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    expect(page.locator(".who")).to_contain_text("Pharmacy technician")

    page.goto(http_site.url + reverse("inventory_receipt", args=[rec.pk]))
    expect(page.locator("#id_scan")).to_be_focused()
    gtin = ndc_to_gtin14("0002-3227-30")
    page.keyboard.type(f"(01){gtin}(17)240131(10)OLD7(21)SN9", delay=2)
    page.keyboard.press("Enter")
    # Refused: the button beside the box has the focus, so Enter records the package.
    button = page.get_by_role("button", name="Record as a discrepancy")
    expect(button).to_be_focused()
    page.screenshot(path="/tmp/ui-receiving-refused.png")
    page.keyboard.press("Enter")
    expect(page.locator(".scan-ok")).to_contain_text("Recorded as a discrepancy")
    expect(page.locator("#id_scan")).to_be_focused()
    expect(page.locator("#discrepancies")).to_contain_text("refused at check-in")
    page.screenshot(path="/tmp/ui-receiving-recorded.png")
    found = Discrepancy.objects.get()
    assert (found.kind, found.receipt_id) == ("expired", rec.pk)
    assert found.note.startswith("NDC 0002-3227-30, lot OLD7, expiry 01/31/2024, serial SN9.")
    assert ReceiptLine.objects.count() == 0 and page.script_errors == []
