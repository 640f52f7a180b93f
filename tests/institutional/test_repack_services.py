"""Unit-dose repackaging through the services: the stock moves (source down, the internal
lot up and quarantined, released on the check, wasted on reject; the ledger verifies), the
rules (solid oral only, the source lot dispensable, whole units, the site's BUD rule), the
second person's check, the audit events, the forbidden roles (nothing written), the site's
settings and appearances, and the recall seam."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import transaction

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.institutional import services_packaging as services
from rxdesk.institutional.choices import PackagingStatus, RepackRule
from rxdesk.institutional.models import Appearance, InstitutionalSettings, RepackRecord
from rxdesk.institutional.repack import add_months
from rxdesk.inventory import ledger, seams
from rxdesk.inventory.choices import LotStatus, MoveReason
from rxdesk.inventory.models import StockBalance, StockMove
from tests.conftest import audit_count, last_event
from tests.institutional.matrix_packaging import (
    capsules,
    checker_of,
    liquid,
    maker_of,
    repacked,
    source,
)
from tests.inventory.factories import stock

pytestmark = pytest.mark.django_db


def _balance(site, number):
    return StockBalance.objects.get(site=site, lot__number=number)


def test_repackaging_takes_the_source_and_quarantines_the_unit_doses(site):
    src = source(site, quantity=100)
    today = site.today()

    record = repacked(site)

    assert record.number == f"R{today:%y%m%d}-001"
    assert record.status == PackagingStatus.MADE
    assert record.quantity == Decimal("30")
    assert record.source_lot.number == "SRC1" and record.source_expiry == src.lot.expiry
    assert record.bud == add_months(today, 12)
    assert record.bud_rule == f"12 months from repackaging ({add_months(today, 12):%m/%d/%Y})"
    assert _balance(site, "SRC1").on_hand == Decimal("70")
    unit_doses = _balance(site, record.number)
    assert unit_doses.on_hand == Decimal("30")
    assert unit_doses.status == LotStatus.QUARANTINED
    assert unit_doses.status_reason == "awaiting the pharmacist's check"
    assert unit_doses.lot.expiry == record.bud
    assert record.lot_id == unit_doses.lot_id
    moves = StockMove.objects.filter(reference_type="repack", reference_id=str(record.pk))
    assert sorted((m.reason, m.quantity) for m in moves) == [
        (MoveReason.REPACKAGE, Decimal("-30")),
        (MoveReason.REPACKAGED, Decimal("30")),
    ]
    assert ledger.ledger_verify(site_id=site.pk)[1] == []
    event = last_event()
    assert event.action == "institutional.repack.created"
    assert (
        json.loads(event.data)["source_lot"] == "SRC1"
        and json.loads(event.data)["quantity"] == "30"
    )


def test_internal_lots_count_up_within_the_day(site):
    source(site, quantity=100)
    first, second = repacked(site, quantity="10"), repacked(site, quantity="10")
    assert first.number.endswith("-001") and second.number.endswith("-002")


def test_the_quarantined_unit_doses_cannot_be_dispensed_before_the_check(site):
    record = repacked(site)
    with transaction.atomic(), pytest.raises(Conflict):
        ledger.take(
            site=site,
            package=record.package,
            quantity=Decimal("1"),
            reason=MoveReason.DISPENSE,
            actor=None,
            lot=record.lot,
        )


def test_the_check_releases_the_unit_doses(site):
    record = repacked(site)
    checker = checker_of(site)

    done = services.repack_check(actor=checker, record=record)

    assert done.status == PackagingStatus.CHECKED and done.checked_by == checker
    assert _balance(site, record.number).status == LotStatus.AVAILABLE
    assert last_event().action == "institutional.repack.checked"


def test_the_person_who_repackaged_does_not_check(site):
    pharmacist = checker_of(site)
    record = repacked(site, actor=pharmacist)
    before = audit_count()
    with pytest.raises(Conflict) as caught:
        services.repack_check(actor=pharmacist, record=record)
    assert "second person" in caught.value.message
    assert audit_count() == before
    assert _balance(site, record.number).status == LotStatus.QUARANTINED


def test_a_technician_may_not_check(site):
    record = repacked(site)
    with pytest.raises(Forbidden):
        services.repack_check(actor=maker_of(site), record=record)
    record.refresh_from_db()
    assert record.status == PackagingStatus.MADE


def test_a_checked_record_is_not_checked_again(site):
    record = services.repack_check(actor=checker_of(site), record=repacked(site))
    with pytest.raises(Conflict):
        services.repack_check(actor=checker_of(site), record=record)


def test_a_rejected_repackaging_is_destroyed(site):
    record = repacked(site)

    done = services.repack_reject(actor=checker_of(site), record=record, reason="Seal failed")

    assert done.status == PackagingStatus.REJECTED
    assert "Rejected: Seal failed" in done.note
    assert _balance(site, record.number).on_hand == 0
    waste = StockMove.objects.get(reference_type="repack", reason=MoveReason.WASTE)
    assert waste.quantity == Decimal("-30")
    assert _balance(site, "SRC1").on_hand == Decimal("70")  # the source stays used
    assert ledger.ledger_verify(site_id=site.pk)[1] == []
    assert last_event().action == "institutional.repack.rejected"
    with pytest.raises(Conflict):
        services.repack_check(actor=checker_of(site), record=done)


def test_a_reject_needs_a_reason(site):
    with pytest.raises(Invalid) as caught:
        services.repack_reject(actor=checker_of(site), record=repacked(site), reason=" ")
    assert caught.value.field == "reason"


def test_an_expired_source_is_refused_and_nothing_moves(site):
    stock(site, capsules(), lot="OLD1", quantity=50, expiry=site.today() - dt.timedelta(days=1))
    source(site)
    before = (StockMove.objects.count(), RepackRecord.objects.count(), audit_count())
    with pytest.raises(Invalid) as caught:
        repacked(site, lot_number="OLD1")
    assert caught.value.field == "lot"
    assert "expired" in caught.value.message
    assert (StockMove.objects.count(), RepackRecord.objects.count(), audit_count()) == before


def test_a_recalled_source_is_refused(site):
    balance = source(site)
    with transaction.atomic():
        ledger.status_set(balance=balance, status=LotStatus.RECALLED, reason="FDA recall")
    with pytest.raises(Invalid) as caught:
        repacked(site)
    assert caught.value.field == "lot"
    assert "recalled" in caught.value.message
    assert RepackRecord.objects.count() == 0


def test_a_lot_not_in_stock_here_is_refused(site, other_site):
    stock(other_site, capsules(), lot="THEIRS", quantity=50)
    with pytest.raises(Invalid) as caught:
        repacked(site, lot_number="THEIRS")
    assert caught.value.field == "lot"


def test_more_than_on_hand_is_refused(site):
    source(site, quantity=20)
    with pytest.raises(Invalid) as caught:
        repacked(site, quantity="21")
    assert caught.value.field == "quantity"
    assert _balance(site, "SRC1").on_hand == 20


@pytest.mark.parametrize("quantity", ["0", "-3", "2.5", "abc"])
def test_the_quantity_is_a_whole_positive_count(site, quantity):
    source(site)
    with pytest.raises(Invalid) as caught:
        repacked(site, quantity=quantity)
    assert caught.value.field == "quantity"


def test_liquids_are_refused(site):
    stock(site, liquid(), lot="LIQ1", quantity=473)
    with pytest.raises(Invalid) as caught:
        repacked(site, package=liquid(), lot_number="LIQ1")
    assert caught.value.field == "package"
    assert "only tablets and capsules" in caught.value.message
    assert RepackRecord.objects.count() == 0


def test_container_and_class_are_required(site):
    source(site)
    with pytest.raises(Invalid) as caught:
        repacked(site, container="")
    assert caught.value.field == "container"
    with pytest.raises(Invalid) as caught:
        repacked(site, container_class="C")
    assert caught.value.field == "container_class"


def test_a_gs1_scan_gives_the_lot_and_its_expiry_must_match(site):
    source(site, lot="SRC1", expiry=dt.date(2030, 12, 31))
    pkg = capsules()
    gtin = "003" + pkg.ndc10.replace("-", "")
    check = (10 - sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(gtin)) % 10) % 10
    code = f"01{gtin}{check}17301231" + "10SRC1"
    record = repacked(site, package=None, lot_number=None, scan=code)
    assert record.source_lot.number == "SRC1"
    wrong = f"01{gtin}{check}17301130" + "10SRC1"
    with pytest.raises(Invalid) as caught:
        repacked(site, package=None, lot_number=None, scan=wrong)
    assert caught.value.field == "lot"


def test_the_sites_fda_rule_applies(site, pic):
    services.packaging_settings_save(
        actor=pic,
        repack_rule=RepackRule.FDA_6_MONTHS_25,
        repack_months=12,
        med_pak_days=60,
        discrepancy_hours=12,
    )
    today = site.today()
    stock(site, capsules(), lot="NEAR", quantity=50, expiry=today + dt.timedelta(days=100))
    record = repacked(site, lot_number="NEAR")
    assert record.bud == today + dt.timedelta(days=25)
    assert record.bud <= record.source_expiry


def test_a_trainee_and_an_auditor_may_not_repackage(site, trainee, auditor):
    source(site)
    before = (StockMove.objects.count(), audit_count())
    for who in (trainee, auditor):
        with pytest.raises(Forbidden):
            repacked(site, actor=who)
    assert (StockMove.objects.count(), audit_count()) == before


def test_another_pharmacys_record_is_not_found(site, other_site):
    record = repacked(site)
    with pytest.raises(NotFound):
        services.repack_check(actor=checker_of(other_site), record=record)


# --- settings and appearances -----------------------------------------------------------------


def test_the_pic_saves_the_rules(site, pic):
    kept = services.packaging_settings_save(
        actor=pic,
        repack_rule=RepackRule.CUSTOM_MONTHS,
        repack_months=9,
        med_pak_days=45,
        discrepancy_hours=8,
    )
    assert (kept.repack_rule, kept.repack_months, kept.med_pak_days) == ("custom_months", 9, 45)
    event = last_event()
    assert event.action == "institutional.packaging_settings.saved"
    assert (
        json.loads(event.data)["before"] is None
        and json.loads(event.data)["after"]["med_pak_days"] == 45
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("med_pak_days", 61),
        ("med_pak_days", 0),
        ("repack_months", 13),
        ("discrepancy_hours", 25),
        ("repack_rule", "forever"),
        ("med_pak_days", "x"),
    ],
)
def test_the_rules_out_of_range_are_refused(site, pic, field, value):
    values = {
        "repack_rule": RepackRule.STATE_12_MONTHS,
        "repack_months": 12,
        "med_pak_days": 60,
        "discrepancy_hours": 12,
        field: value,
    }
    with pytest.raises(Invalid) as caught:
        services.packaging_settings_save(actor=pic, **values)
    assert caught.value.field == field
    assert InstitutionalSettings.objects.count() == 0


def test_a_pharmacist_may_not_change_the_rules(site, pharmacist):
    with pytest.raises(Forbidden):
        services.packaging_settings_save(
            actor=pharmacist,
            repack_rule=RepackRule.STATE_12_MONTHS,
            repack_months=12,
            med_pak_days=30,
            discrepancy_hours=12,
        )
    assert InstitutionalSettings.objects.count() == 0


def test_an_appearance_is_saved_and_changed(site, technician):
    product = capsules().product
    services.appearance_save(actor=technician, product=product, color="green", shape="capsule")
    found = services.appearance_save(
        actor=technician, product=product, color="green/cream", shape="capsule", imprint="3105"
    )
    assert str(found) == "green/cream capsule, imprint 3105"
    assert Appearance.objects.count() == 1
    assert json.loads(last_event().data)["before"]["color"] == "green"


def test_an_appearance_needs_colour_and_shape_and_a_maker(site, technician, auditor):
    product = capsules().product
    with pytest.raises(Invalid) as caught:
        services.appearance_save(actor=technician, product=product, color="", shape="round")
    assert caught.value.field == "color"
    with pytest.raises(Forbidden):
        services.appearance_save(actor=auditor, product=product, color="red", shape="round")
    assert Appearance.objects.count() == 0


# --- the recall seam --------------------------------------------------------------------------


def test_a_recall_lists_the_unit_doses_repackaged_from_the_lot(site, technician, inventory):
    record = repacked(site)
    uses = seams.lot_uses(technician, site.pk, [record.source_lot_id])
    mine = [u for u in uses if record.number in u.what]
    assert len(mine) == 1
    assert mine[0].lot_number == "SRC1"
    assert mine[0].url == f"/institutional/repackaging/{record.pk}/"
    assert "pull the internal lot too" in mine[0].what
    assert seams.lot_uses(technician, site.pk, [record.lot_id]) == []
    # Without long-term-care access, nothing is shown.
    assert [u for u in seams.lot_uses(inventory, site.pk, [record.source_lot_id])] == []
