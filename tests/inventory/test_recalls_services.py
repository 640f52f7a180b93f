"""Entering a recall (by hand and from openFDA) quarantines matching stock at every site at
once; recalled stock is never dispensed or received; stock is tracked to closure."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import LotStatus, MoveReason, RecallStatus
from rxdesk.inventory.models import Recall, RecallItem, RecallStock, StockBalance, StockMove
from rxdesk.inventory.services.recalls import (
    letters_filename,
    recall_close,
    recall_create,
    recall_import_openfda,
    recall_stock_resolve,
)
from rxdesk.inventory.services.stock import stock_dispense, stock_receive
from tests.conftest import audit_count, last_event
from tests.factories import UserFactory
from tests.inventory.factories import package, stock
from tests.inventory.matrix_recalls import IMPORT_RECORD, make_recall

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "openfda-samples"


def _counts() -> dict[str, int]:
    return {
        "recalls": Recall.objects.count(),
        "items": RecallItem.objects.count(),
        "stock": RecallStock.objects.count(),
        "recalled": StockBalance.objects.filter(status=LotStatus.RECALLED).count(),
        "events": audit_count(),
    }


def _enter(actor, **overrides):
    values = {
        "classification": "II",
        "reason": "Tablets may contain stainless steel particles.",
        "recall_date": dt.date(2026, 1, 5),
        "recall_number": "D-1362-2026",
        "firm": "Teva Pharmaceuticals USA",
        "items": [{"ndc": "0002-3227-30", "lot_number": "A1"}],
    }
    values.update(overrides)
    return recall_create(actor=actor, **values)


# --- recall_create -------------------------------------------------------------------------


def test_it_quarantines_the_lot_at_every_site_and_records_the_stock(site, other_site, pharmacist):
    pkg = package()
    here = stock(site, pkg, "A1", 100)
    there = stock(other_site, pkg, "A1", 40)
    untouched = stock(site, pkg, "B2", 60)

    recall = _enter(pharmacist)

    here.refresh_from_db()
    there.refresh_from_db()
    untouched.refresh_from_db()
    assert (here.status, there.status, untouched.status) == (
        LotStatus.RECALLED,
        LotStatus.RECALLED,
        LotStatus.AVAILABLE,
    )
    assert here.status_reason == "Recall D-1362-2026 (class II)"
    assert sorted(
        RecallStock.objects.filter(recall=recall).values_list(
            "balance__site_id", "quantity_at_quarantine"
        )
    ) == sorted([(site.pk, Decimal("100.000")), (other_site.pk, Decimal("40.000"))])
    assert (recall.entered_at_site, recall.entered_by, recall.status) == (
        site,
        pharmacist,
        RecallStatus.OPEN,
    )
    event = last_event()
    assert (event.action, event.site_id, event.object_id) == (
        "inventory.recall.created",
        site.pk,
        str(recall.pk),
    )
    assert json.loads(event.data) == {
        "recall_number": "D-1362-2026",
        "classification": "II",
        "recall_date": "2026-01-05",
        "items": [{"ndc": "00002322730", "lot_number": "A1"}],
        "balances": 2,
        "sites": 2,
        "source": "manual",
    }
    # Nothing moved: a recall changes status, not quantities.
    assert StockMove.objects.count() == 3


def test_a_lot_number_matches_whatever_its_case_and_spaces(site, pharmacist):
    pkg = package()
    balance = stock(site, pkg, "ab12c", 10)  # stored upper-case: AB12C

    recall = _enter(pharmacist, items=[{"ndc": "00002322730", "lot_number": "  Ab12C "}])

    balance.refresh_from_db()
    assert balance.status == LotStatus.RECALLED
    assert list(recall.items.values_list("lot_number", flat=True)) == ["AB12C"]


def test_a_blank_lot_recalls_every_lot_of_the_package(site, other_site, inventory):
    pkg = package()
    other_pkg = package("0002-3228-30")
    stock(site, pkg, "A1", 10)
    stock(site, pkg, "A2", 5)
    stock(other_site, pkg, "A3", 7)
    spared = stock(site, other_pkg, "A1", 9)

    recall = _enter(inventory, items=[{"ndc": "0002-3227-30", "lot_number": ""}])

    assert sorted(
        StockBalance.objects.filter(status=LotStatus.RECALLED).values_list("lot__number", flat=True)
    ) == ["A1", "A2", "A3"]
    spared.refresh_from_db()
    assert spared.status == LotStatus.AVAILABLE
    assert RecallStock.objects.filter(recall=recall).count() == 3


def test_a_held_or_quarantined_lot_becomes_recalled_too(site, pharmacist):
    balance = stock(site, package(), "A1", 10)
    StockBalance.objects.filter(pk=balance.pk).update(status=LotStatus.QUARANTINED)

    _enter(pharmacist)

    balance.refresh_from_db()
    assert balance.status == LotStatus.RECALLED


def test_a_lot_recalled_at_one_site_can_no_longer_be_dispensed_at_another(
    site, other_site, pharmacist, outsider
):
    pkg = package()
    stock(other_site, pkg, "A1", 100)

    _enter(pharmacist)  # entered at ``site``; the stock is at ``other_site``

    with pytest.raises(Conflict, match="0 EA of NDC 0002-3227-30 can be dispensed"):
        stock_dispense(actor=outsider, ndc="0002-3227-30", quantity=10)
    with pytest.raises(Conflict, match="Lot A1 is recalled"):
        stock_dispense(actor=outsider, ndc="0002-3227-30", quantity=10, lot_number="A1")
    assert StockBalance.objects.get(site=other_site).on_hand == Decimal("100.000")


def test_a_recalled_lot_cannot_be_received(site, inventory):
    package()
    _enter(inventory, items=[{"ndc": "0002-3227-30", "lot_number": "Z9"}])

    with pytest.raises(Conflict) as caught:
        stock_receive(
            actor=inventory,
            ndc="0002-3227-30",
            lot_number="z9",
            expiry=dt.date(2030, 1, 31),
            quantity=30,
        )
    assert caught.value.field == "lot_number"
    assert "under recall D-1362-2026" in caught.value.message
    assert not StockBalance.objects.exists()


def test_it_names_each_bad_item_and_writes_nothing(site, pharmacist):
    stock(site, package(), "A1", 10)
    before = _counts()

    with pytest.raises(Invalid) as caught:
        _enter(
            pharmacist,
            items=[
                {"ndc": "0002-3227-30", "lot_number": "A1"},
                {"ndc": "99999-9999-99", "lot_number": ""},
                {"ndc": "", "lot_number": "X" * 41},
            ],
        )

    assert caught.value.errors == [
        {"field": "items.1.ndc", "message": "NDC 99999-9999-99 is not in the drug catalog."},
        {"field": "items.2.lot_number", "message": "At most 40 characters."},
        {"field": "items.2.ndc", "message": "Enter or scan the NDC."},
    ]
    assert _counts() == before


def test_it_names_a_bad_class_date_and_reason(site, pharmacist):
    package()
    before = _counts()

    with pytest.raises(Invalid) as caught:
        _enter(pharmacist, classification="IV", reason=" ", recall_date="2026-13-01")

    assert [e["field"] for e in caught.value.errors] == ["classification", "reason", "recall_date"]
    with pytest.raises(Invalid, match="in the future"):
        _enter(pharmacist, recall_date=site.today() + dt.timedelta(days=2))
    with pytest.raises(Invalid, match="at least one NDC"):
        _enter(pharmacist, items=[])
    with pytest.raises(Invalid, match="Letters, digits and dashes only"):
        _enter(pharmacist, recall_number="D-1\n2")
    assert _counts() == before


def test_it_refuses_a_second_open_recall_with_the_same_fda_number(site, pharmacist):
    stock(site, package(), "A1", 10)
    _enter(pharmacist)
    before = _counts()

    with pytest.raises(Conflict) as caught:
        _enter(pharmacist, recall_number="d-1362-2026 ")

    assert (caught.value.field, caught.value.message) == (
        "recall_number",
        "Recall D-1362-2026 is already open.",
    )
    assert _counts() == before


@pytest.mark.parametrize("role_fixture", ["technician", "trainee", "auditor", "admin_user"])
def test_a_role_without_recall_rights_writes_nothing(request, site, role_fixture):
    actor = request.getfixturevalue(role_fixture)
    stock(site, package(), "A1", 10)
    before = _counts()

    with pytest.raises(Forbidden):
        _enter(actor)

    assert _counts() == before


def test_the_operator_at_the_shell_names_the_site(site, cli_context):
    stock(site, package(), "A1", 10)
    with pytest.raises(Invalid, match="Name the site"):
        _enter(None)
    recall = _enter(None, site=site)
    assert recall.entered_at_site == site


# --- recall_import_openfda -----------------------------------------------------------------


def _atenolol_record() -> str:
    for line in (SAMPLES / "enforcement_ucm308307.json").read_text().splitlines():
        if "D-1362-2012" in line:
            return line
    raise AssertionError("sample record missing")


@pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/data/openfda-samples missing")
def test_it_imports_a_real_fda_record_and_reports_what_the_catalog_lacks(site, pharmacist):
    atenolol = package("0093-0787-01", name="Atenolol", generic_name="Atenolol")
    listed = stock(site, atenolol, "90a026", 100)
    spared = stock(site, atenolol, "90A999", 100)

    result = recall_import_openfda(actor=pharmacist, record=_atenolol_record())

    recall = result.recall
    assert (recall.recall_number, recall.classification, recall.recall_date, recall.source) == (
        "D-1362-2012",
        "II",
        dt.date(2012, 6, 13),
        "openfda",
    )
    assert recall.reason.startswith("Presence of Foreign Substance(s)")
    assert recall.firm.startswith("Recalling Firm: Teva Pharmaceuticals USA")
    assert json.loads(recall.source_record)["code-info"].startswith("Lot #'s")
    assert result.lots == ["90A024", "90A026", "90A028"]
    assert result.all_lots is False
    assert result.ndcs_not_in_catalog == ["00093-0787-10"]
    assert result.notes == ["Not in the drug catalog (nothing to quarantine): 00093-0787-10."]
    assert sorted(recall.items.values_list("lot_number", flat=True)) == [
        "90A024",
        "90A026",
        "90A028",
    ]
    listed.refresh_from_db()
    spared.refresh_from_db()
    assert (listed.status, spared.status) == (LotStatus.RECALLED, LotStatus.AVAILABLE)
    event = last_event()
    assert event.action == "inventory.recall.imported"
    data = json.loads(event.data)
    assert (data["balances"], data["sites"], data["all_lots"], data["source"]) == (
        1,
        1,
        False,
        "openfda",
    )
    assert data["ndcs_not_in_catalog"] == ["00093-0787-10"]


def test_with_no_readable_lot_it_recalls_every_lot_and_says_so(site, inventory):
    pkg = package()
    stock(site, pkg, "A1", 10)
    stock(site, pkg, "A2", 10)
    record = dict(IMPORT_RECORD, code_info="Expiration dates from 01/2026 through 05/2026")

    result = recall_import_openfda(actor=inventory, record=record)

    assert result.all_lots is True
    assert result.notes == ["No lot number could be read from the record: every lot is recalled."]
    assert list(result.recall.items.values_list("lot_number", flat=True)) == [""]
    assert StockBalance.objects.filter(status=LotStatus.RECALLED).count() == 2


def test_it_takes_the_api_response_shape_with_one_record(site, pharmacist):
    stock(site, package(), "L9", 10)

    result = recall_import_openfda(
        actor=pharmacist,
        record=json.dumps({"meta": {"results": {"total": 1}}, "results": [IMPORT_RECORD]}).encode(),
    )

    assert result.recall.recall_number == "D-0456-2026"
    assert StockBalance.objects.get().status == LotStatus.RECALLED


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ("{not json", "record", "This is not valid JSON (line 1, column 2)."),
        ({"results": [IMPORT_RECORD, IMPORT_RECORD]}, "results", "import them one at a time"),
        (dict(IMPORT_RECORD, classification="Class IV"), "classification", "Class IV"),
        (dict(IMPORT_RECORD, reason_for_recall=""), "reason_for_recall", "no reason"),
        (dict(IMPORT_RECORD, recall_initiation_date="2026"), "recall_initiation_date", "date"),
        (
            dict(IMPORT_RECORD, openfda={"package_ndc": ["12345-678-90"]}, product_description=""),
            "openfda.package_ndc",
            "None of the NDCs in the record is in the drug catalog: 12345-0678-90.",
        ),
    ],
)
def test_a_bad_record_names_the_field_and_writes_nothing(site, pharmacist, record, field, message):
    stock(site, package(), "L9", 10)
    before = _counts()

    with pytest.raises(Invalid) as caught:
        recall_import_openfda(actor=pharmacist, record=record)

    assert caught.value.field == field
    assert message in caught.value.message
    assert _counts() == before


def test_importing_needs_recall_rights(site, technician):
    stock(site, package(), "L9", 10)
    before = _counts()
    with pytest.raises(Forbidden):
        recall_import_openfda(actor=technician, record=IMPORT_RECORD)
    assert _counts() == before


# --- Tracking to closure -------------------------------------------------------------------


def test_resolving_records_the_outcome(site, inventory):
    stock(site, package(), "L1", 30)
    recall = make_recall(site)
    row = RecallStock.objects.get(recall=recall)

    resolved = recall_stock_resolve(
        actor=inventory, recall_stock=row, resolution="  Returned to vendor,   RA 5512 "
    )

    assert resolved.resolution == "Returned to vendor, RA 5512"
    assert resolved.resolved_at is not None
    event = last_event()
    assert (event.action, event.object_type, event.object_id) == (
        "inventory.recall.stock_resolved",
        "inventory.recallstock",
        str(row.pk),
    )
    assert json.loads(event.data) == {
        "recall": recall.pk,
        "ndc": "00002322730",
        "lot": "L1",
        "on_hand": "30.000",
        "resolution": "Returned to vendor, RA 5512",
    }
    with pytest.raises(Conflict, match="already been resolved"):
        recall_stock_resolve(actor=inventory, recall_stock=row, resolution="Destroyed")


def test_resolving_needs_a_text_and_this_sites_stock(site, other_site, inventory):
    stock(other_site, package(), "L1", 30)
    recall = make_recall(site)
    row = RecallStock.objects.get(recall=recall)
    before = _counts()

    with pytest.raises(Invalid, match="Say what became"):
        recall_stock_resolve(actor=inventory, recall_stock=row, resolution=" ")
    with pytest.raises(NotFound):
        recall_stock_resolve(actor=inventory, recall_stock=row, resolution="Destroyed")
    row.refresh_from_db()
    assert row.resolved_at is None
    assert _counts() == before


def test_resolving_needs_recall_rights(site, technician):
    stock(site, package(), "L1", 30)
    row = RecallStock.objects.get(recall=make_recall(site))
    before = _counts()
    with pytest.raises(Forbidden):
        recall_stock_resolve(actor=technician, recall_stock=row, resolution="Destroyed")
    row.refresh_from_db()
    assert (row.resolved_at, _counts()) == (None, before)


def test_closing_waits_for_every_site_and_never_releases_stock(site, other_site, pharmacist):
    pkg = package()
    stock(site, pkg, "L1", 30)
    stock(other_site, pkg, "L1", 12)
    recall = make_recall(site)
    there = UserFactory(site=other_site, role="inventory_specialist", username="inv-there")
    before = _counts()

    with pytest.raises(Conflict, match="2 quarantined lots at 2 sites still hold stock"):
        recall_close(actor=pharmacist, recall=recall, closing_note="Done")
    assert _counts() == before

    for row in RecallStock.objects.filter(recall=recall).select_related("balance"):
        who = pharmacist if row.balance.site_id == site.pk else there
        recall_stock_resolve(actor=who, recall_stock=row, resolution="Returned to vendor")
    closed = recall_close(actor=pharmacist, recall=recall, closing_note="All stock returned.")

    assert (closed.status, closed.closed_by, closed.closing_note) == (
        RecallStatus.CLOSED,
        pharmacist,
        "All stock returned.",
    )
    assert StockBalance.objects.filter(status=LotStatus.RECALLED).count() == 2
    event = last_event()
    assert (event.action, event.reason) == ("inventory.recall.closed", "All stock returned.")
    assert json.loads(event.data) == {
        "balances": 2,
        "resolved": 2,
        "quantity_at_quarantine": "42.000",
    }
    with pytest.raises(Conflict, match="already closed"):
        recall_close(actor=pharmacist, recall=recall, closing_note="Again")


def test_an_empty_shelf_needs_no_resolution(site, pharmacist):
    balance = stock(site, package(), "L1", 30)
    recall = make_recall(site)
    balance.refresh_from_db()
    with transaction.atomic():  # the stock left through a vendor return
        ledger.post_out(
            balance=balance, quantity=Decimal(30), reason=MoveReason.VENDOR_RETURN, actor=None
        )

    closed = recall_close(actor=pharmacist, recall=recall, closing_note="Returned.")

    assert closed.status == RecallStatus.CLOSED


def test_only_the_entering_site_closes_a_recall(site, other_site, pharmacist):
    package()
    recall = make_recall(other_site)
    before = _counts()
    with pytest.raises(Conflict, match="closed there"):
        recall_close(actor=pharmacist, recall=recall, closing_note="Done")
    with pytest.raises(Invalid, match="Say how"):
        recall_close(actor=pharmacist, recall=recall, closing_note="")
    assert _counts() == before


def test_closing_needs_recall_rights(site, technician):
    package()
    recall = make_recall(site)
    before = _counts()
    with pytest.raises(Forbidden):
        recall_close(actor=technician, recall=recall, closing_note="Done")
    recall.refresh_from_db()
    assert (recall.status, _counts()) == (RecallStatus.OPEN, before)


def test_a_closed_recall_no_longer_takes_resolutions(site, pharmacist):
    balance = stock(site, package(), "L1", 30)
    recall = make_recall(site)
    row = RecallStock.objects.get(recall=recall)
    recall_stock_resolve(actor=pharmacist, recall_stock=row, resolution="Destroyed")
    recall_close(actor=pharmacist, recall=recall, closing_note="Done")
    RecallStock.objects.filter(pk=row.pk).update(resolved_at=None)  # pretend it was never done

    with pytest.raises(Conflict, match="This recall is closed"):
        recall_stock_resolve(actor=pharmacist, recall_stock=row, resolution="Destroyed")
    balance.refresh_from_db()
    assert balance.status == LotStatus.RECALLED


def test_the_letters_file_name_is_safe_whatever_the_recall_number():
    assert letters_filename(Recall(pk=7, recall_number="D-1362-2012")) == "D-1362-2012-letters.pdf"
    assert letters_filename(Recall(pk=7, recall_number='A"B;C/D')) == "A-B-C-D-letters.pdf"
    assert letters_filename(Recall(pk=7, recall_number="")) == "recall-7-letters.pdf"
