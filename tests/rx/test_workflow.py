"""The fill workflow: every step, who may take it, the barcode check, the stock ledger
moving with the fill, send-backs, holds, sale and return to stock, and the history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.inventory.models import StockBalance, StockMove
from rxdesk.rx import queries, services
from rxdesk.rx.choices import FillStatus, FillStep
from rxdesk.rx.models import Fill, FillEvent
from rxdesk.rx.services import workflow
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.conftest import last_event
from tests.factories import UserFactory
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx

pytestmark = pytest.mark.django_db


def _ready_to_fill(technician, pharmacist, **over):
    rx = make_rx(technician, **over)
    stock(rx.site, rx.package, lot="LOT-A", quantity=100)
    fill = workflow.fill_data_verify(actor=pharmacist, fill=first_fill(rx))
    return rx, fill


def _on_hand(package) -> Decimal:
    return sum((b.on_hand for b in StockBalance.objects.filter(package=package)), Decimal(0))


def test_the_whole_way_from_queue_to_sale(technician, pharmacist, site):
    rx, fill = _ready_to_fill(technician, pharmacist)
    assert fill.status == FillStatus.TO_FILL and fill.data_verified_by == pharmacist

    filled = workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    assert filled.status == FillStatus.FILLED and filled.filled_by == technician
    assert filled.dispensed_on == site.today()
    assert _on_hand(rx.package) == 70
    move = StockMove.objects.get(reference_type="fill", reference_id=str(fill.pk))
    assert move.quantity == -30 and move.patient_id == rx.patient_id

    ready = workflow.fill_final_verify(actor=pharmacist, fill=fill)
    assert (ready.status, ready.bin) == (FillStatus.READY, "D")  # patient Doe
    sold = workflow.fill_sell(actor=technician, fill=fill)
    assert sold.status == FillStatus.DISPENSED

    steps = list(fill.events.order_by("at", "pk").values_list("step", "to_status"))
    assert steps == [
        (FillStep.ENTERED, FillStatus.QUEUED),
        (FillStep.DATA_VERIFIED, FillStatus.TO_FILL),
        (FillStep.FILLED, FillStatus.FILLED),
        (FillStep.FINAL_VERIFIED, FillStatus.READY),
        (FillStep.SOLD, FillStatus.DISPENSED),
    ]
    event = fill.events.get(step=FillStep.DATA_VERIFIED)
    # Clinical screening ran (rxdesk.screening) and found nothing for fluoxetine alone.
    assert event.data["screening"] == {"results": [{"alerts": []}]}
    # Claims ran (rxdesk.claims): the patient has no plan on file, so nothing was billed.
    assert event.data["claim"] == {"results": [{"billing": "no coverage"}]}


@pytest.mark.parametrize("role", ["technician", "trainee", "inventory", "auditor", "admin_user"])
def test_only_a_pharmacist_verifies(request, role, technician, pharmacist):
    actor = request.getfixturevalue(role)
    rx = make_rx(technician)
    stock(rx.site, rx.package, quantity=100)
    with pytest.raises(Forbidden):
        workflow.fill_data_verify(actor=actor, fill=first_fill(rx))
    fill = workflow.fill_data_verify(actor=pharmacist, fill=first_fill(rx))
    workflow.fill_product(actor=pharmacist, fill=fill, scanned_code=rx.package.ndc10)
    with pytest.raises(Forbidden):
        workflow.fill_final_verify(actor=actor, fill=fill)
    assert Fill.objects.get(pk=fill.pk).status == FillStatus.FILLED


def test_a_wrong_product_is_refused_with_the_reason(technician, pharmacist):
    rx, fill = _ready_to_fill(technician, pharmacist)
    other = PackageFactory(
        product=ProductFactory(name="Zoloft", generic_name="Sertraline", strength="50 mg/1"),
        ndc10="0049-4900-30",
    )
    stock(rx.site, other, quantity=100)
    with pytest.raises(Invalid) as exc:
        workflow.fill_product(actor=technician, fill=fill, scanned_code="0049-4900-30")
    assert exc.value.errors[0]["field"] == "scanned_code"
    assert "Zoloft" in exc.value.message and "neither the prescribed" in exc.value.message
    # Not even a pharmacist can accept a different drug.
    with pytest.raises(Invalid):
        workflow.fill_product(
            actor=pharmacist, fill=fill, scanned_code="0049-4900-30", override_reason="sure"
        )
    assert _on_hand(other) == 100 and Fill.objects.get(pk=fill.pk).status == FillStatus.TO_FILL


def test_the_same_drug_from_another_labeler_needs_a_pharmacists_reason(technician, pharmacist):
    rx, fill = _ready_to_fill(technician, pharmacist)
    generic = PackageFactory(
        product=ProductFactory(name="Fluoxetine", labeler="Generic Labs"), ndc10="1234-5678-90"
    )
    stock(rx.site, generic, quantity=100)
    with pytest.raises(Invalid):
        workflow.fill_product(actor=technician, fill=fill, scanned_code="1234-5678-90")
    with pytest.raises(Forbidden):
        workflow.fill_product(
            actor=technician, fill=fill, scanned_code="1234-5678-90", override_reason="ok"
        )
    filled = workflow.fill_product(
        actor=pharmacist,
        fill=fill,
        scanned_code="1234-5678-90",
        override_reason="Authorized generic; Orange Book data missing",
    )
    assert filled.scan_override_reason.startswith("Authorized generic")
    assert filled.events.filter(step=FillStep.SCAN_OVERRIDDEN).exists()
    # The pharmacist who accepted the scan does not verify it too.
    with pytest.raises(Conflict):
        workflow.fill_final_verify(actor=pharmacist, fill=fill)


def test_a_scanned_expired_lot_is_refused(technician, pharmacist, site):
    rx, fill = _ready_to_fill(technician, pharmacist)
    old = (site.today() - dt.timedelta(days=2)).strftime("%y%m%d")
    gtin = "003" + rx.package.ndc10.replace("-", "")  # GTIN-14 of an NDC: 003 + 10 digits + check
    digits = [int(c) for c in gtin]
    check = (10 - sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits)) % 10) % 10
    code = f"01{gtin}{check}17{old}10LOT-A"
    with pytest.raises(Invalid) as exc:
        workflow.fill_product(actor=technician, fill=fill, scanned_code=code)
    assert "expired" in exc.value.message
    assert _on_hand(rx.package) == 100


def test_no_scan_needs_a_pharmacist_and_the_right_package(technician, pharmacist):
    rx, fill = _ready_to_fill(technician, pharmacist)
    with pytest.raises(Invalid) as exc:
        workflow.fill_product(actor=technician, fill=fill)
    assert exc.value.errors[0]["field"] == "scanned_code"
    filled = workflow.fill_product(
        actor=pharmacist, fill=fill, package=rx.package, override_reason="Label torn"
    )
    assert filled.status == FillStatus.FILLED


def test_not_enough_stock_changes_nothing(technician, pharmacist):
    rx = make_rx(technician)
    stock(rx.site, rx.package, lot="LOW", quantity=10)
    fill = workflow.fill_data_verify(actor=pharmacist, fill=first_fill(rx))
    with pytest.raises(Conflict):
        workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    assert Fill.objects.get(pk=fill.pk).status == FillStatus.TO_FILL
    assert _on_hand(rx.package) == 10


def test_sent_back_at_final_verification_puts_the_product_back(technician, pharmacist):
    rx, fill = _ready_to_fill(technician, pharmacist)
    workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    with pytest.raises(Invalid):
        workflow.fill_final_verify(actor=pharmacist, fill=fill, approve=False, reason=" ")
    back = workflow.fill_final_verify(
        actor=pharmacist, fill=fill, approve=False, reason="Count was 29"
    )
    assert back.status == FillStatus.TO_FILL and back.dispensed_on is None
    assert _on_hand(rx.package) == 100
    assert FillEvent.objects.filter(fill=fill, step=FillStep.SENT_BACK).count() == 1
    assert last_event().action == "rx.fill.sent_back"


def test_return_to_stock_puts_back_the_exact_lot_and_reopens_the_quantity(
    technician, pharmacist, site
):
    rx, fill = _ready_to_fill(technician, pharmacist, refills_authorized=0)
    stock(
        rx.site, rx.package, lot="LOT-B", quantity=100, expiry=site.today() + dt.timedelta(days=30)
    )
    workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    # First expiry first out: LOT-B leaves, and LOT-B comes back.
    assert StockBalance.objects.get(lot__number="LOT-B").on_hand == 70
    workflow.fill_final_verify(actor=pharmacist, fill=fill)
    assert queries.rx_state(rx, site.today()).can_fill is False

    done = workflow.fill_return_to_stock(actor=technician, fill=fill, reason="Not picked up")
    assert done.status == FillStatus.RETURNED
    assert StockBalance.objects.get(lot__number="LOT-B").on_hand == 100
    state = queries.rx_state(rx, site.today())
    assert state.quantity_remaining == 30 and state.can_fill
    with pytest.raises(Conflict):
        workflow.fill_sell(actor=technician, fill=fill)


def test_return_to_stock_lists_what_waited_too_long(technician, pharmacist, site):
    rx, fill = _ready_to_fill(technician, pharmacist)
    workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    workflow.fill_final_verify(actor=pharmacist, fill=fill)
    assert workflow.return_to_stock_due(actor=technician) == []
    Fill.objects.filter(pk=fill.pk).update(ready_at=timezone.now() - dt.timedelta(days=11))
    assert [f.pk for f in workflow.return_to_stock_due(actor=technician)] == [fill.pk]


def test_hold_and_release_come_back_where_they_were(technician, pharmacist):
    rx, fill = _ready_to_fill(technician, pharmacist)
    with pytest.raises(Invalid):
        workflow.fill_hold(actor=technician, fill=fill, reason="lunch")
    held = workflow.fill_hold(actor=technician, fill=fill, reason="out_of_stock")
    assert held.status == FillStatus.ON_HOLD
    with pytest.raises(Conflict):
        workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    assert workflow.fill_release(actor=technician, fill=fill).status == FillStatus.TO_FILL


def test_priority_and_promised_time(technician):
    rx = make_rx(technician)
    fill = first_fill(rx)
    with pytest.raises(Invalid) as exc:
        workflow.fill_priority_set(actor=technician, fill=fill, priority="promised")
    assert exc.value.errors[0]["field"] == "promised_at"
    later = timezone.now() + dt.timedelta(hours=2)
    done = workflow.fill_priority_set(
        actor=technician, fill=fill, priority="promised", promised_at=later
    )
    assert (done.priority, done.promised_at) == ("promised", later)


def test_a_prescription_with_a_fill_in_will_call_cannot_be_stopped(technician, pharmacist):
    rx, fill = _ready_to_fill(technician, pharmacist)
    workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    with pytest.raises(Conflict) as exc:
        services.prescription_inactivate(actor=technician, prescription=rx, reason="discontinued")
    assert "return it to stock first" in exc.value.message


def test_history_is_append_only(technician):
    rx = make_rx(technician)
    event = first_fill(rx).events.get()
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        FillEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(TypeError):
        event.delete()


def test_metrics_time_the_steps_and_count_send_backs(technician, pharmacist):
    start = timezone.now() - dt.timedelta(minutes=1)
    rx, fill = _ready_to_fill(technician, pharmacist)
    workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    workflow.fill_final_verify(actor=pharmacist, fill=fill, approve=False, reason="Wrong count")
    workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    workflow.fill_final_verify(actor=pharmacist, fill=fill)

    metrics = queries.fill_metrics(actor=pharmacist, since=start)

    assert metrics.sent_back == {"final_verification": 1}
    assert metrics.verified == {"data_verification": 1, "final_verification": 1}
    assert metrics.rejection_rate("final_verification") == 0.5
    spans = {m.step: m for m in metrics.steps}
    assert spans["entered:data_verified"].count == 1
    assert spans["entered:final_verified"].median_minutes is not None
    with pytest.raises(Forbidden):
        queries.fill_metrics(actor=UserFactory(site=rx.site, role="auditor"), since=start)
