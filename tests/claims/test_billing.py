"""Billing a fill in real time over TCP to a real test-payer process: paid, rejected and
worked to paid, coordination of benefits, the data-verification gate, the counter's price,
reversals, the outbox and its exactly-once replay."""

from __future__ import annotations

import socket
import threading
from decimal import Decimal

import pytest

from rxdesk.claims import ncpdp, services
from rxdesk.claims.choices import BillingMode, ClaimStatus, Outcome, PriorAuthStatus
from rxdesk.claims.models import Claim, PriorAuth, Transmission
from rxdesk.claims.services_pa import pa_update
from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.patients.choices import CoverageKind
from rxdesk.pos.pricing import fill_price
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.services import workflow
from rxdesk.rx.services.fills import fill_cancel
from tests.claims.billing_helpers import (
    BIN,
    MEMBER,
    NPI,
    card,
    payer_for,
    plan_for,
    plan_rules,
    priced_rx,
)
from tests.claims.conftest import free_port
from tests.pos.factories import stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def payer(test_payer):
    return test_payer({"plans": [plan_rules()]})


@pytest.fixture
def plan(payer):
    return plan_for(payer_for(payer))


def _request(claim: Claim) -> ncpdp.Request:
    sent = claim.transmissions.order_by("pk").last()
    assert sent is not None
    return ncpdp.decode_request(sent.request.encode("latin-1"))


def test_a_paid_claim_says_what_the_patient_pays_and_unlocks_data_verification(
    technician, pharmacist, plan
):
    rx, fill = priced_rx(technician)
    card(rx.patient)

    with pytest.raises(Invalid) as blocked:
        workflow.fill_data_verify(actor=pharmacist, fill=fill)
    assert blocked.value.errors[0]["field"] == "claim"
    assert "not billed yet" in blocked.value.errors[0]["message"]

    result = services.claim_bill(actor=technician, fill=fill)

    (claim,) = result.claims
    assert claim.status == ClaimStatus.PAID
    # The plan pays 90 % of $30.00 + $1.50 = $28.50; generic co-pay $5.00.
    assert (claim.patient_pay, claim.plan_paid) == (Decimal("5.00"), Decimal("23.50"))
    assert claim.authorization_number.startswith("TP")
    assert result.patient_pay == Decimal("5.00")
    assert "patient pays $5.00" in result.message
    # What went on the wire, read back by the codec.
    request = _request(claim)
    assert (request.header.bin, request.header.pcn.strip()) == (BIN, "TESTPCN")
    assert request.header.service_provider_id.strip() == NPI
    assert request.segment(ncpdp.SegmentCode.INSURANCE)["C2"] == MEMBER
    (tx,) = request.transactions
    claim_seg = tx.segment(ncpdp.SegmentCode.CLAIM)
    assert claim_seg["D7"] == rx.package.ndc11
    assert claim_seg["E7"] == Decimal("30.000")
    assert int(claim_seg["D2"]) == rx.number
    pricing = tx.segment(ncpdp.SegmentCode.PRICING)
    assert (pricing["D9"], pricing["DC"], pricing["DU"], pricing["DQ"]) == (
        Decimal("30.00"),
        Decimal("1.75"),
        Decimal("31.75"),
        Decimal("40.00"),
    )
    assert claim.transmissions.get().outcome == Outcome.ANSWERED

    verified = workflow.fill_data_verify(actor=pharmacist, fill=fill)
    assert verified.status == FillStatus.TO_FILL
    assert fill_price(verified) == Decimal("5.00")  # the counter charges the co-pay


def test_billing_a_patient_without_a_plan_is_refused_and_the_fill_goes_on_as_cash(
    technician, pharmacist, plan
):
    _rx, fill = priced_rx(technician)
    with pytest.raises(Conflict, match="no active insurance"):
        services.claim_bill(actor=technician, fill=fill)
    assert workflow.fill_data_verify(actor=pharmacist, fill=fill).status == FillStatus.TO_FILL
    assert fill_price(fill) == Decimal("40.00")


def test_a_card_with_no_plan_on_file_names_the_coverage(technician, plan):
    rx, fill = priced_rx(technician)
    card(rx.patient, bin="999999")
    with pytest.raises(Invalid) as error:
        services.claim_bill(actor=technician, fill=fill)
    assert error.value.field == "coverage" and "BIN 999999" in error.value.message
    assert not Claim.objects.exists()


@pytest.mark.parametrize("role", ["trainee", "auditor", "inventory", "admin_user"])
def test_only_pharmacy_staff_bill(request, role, technician, plan):
    rx, fill = priced_rx(technician)
    card(rx.patient)
    with pytest.raises(Forbidden):
        services.claim_bill(actor=request.getfixturevalue(role), fill=fill)
    assert not Claim.objects.exists()


def test_another_pharmacy_cannot_bill_our_fill(technician, outsider, plan):
    rx, fill = priced_rx(technician)
    card(rx.patient)
    with pytest.raises(Exception, match="No such fill"):
        services.claim_bill(actor=outsider, fill=fill)


def test_a_prior_authorization_reject_opens_a_case_and_its_number_lifts_it(
    test_payer, technician, pharmacist
):
    rx, fill = priced_rx(technician)
    # The payer rejects this very NDC with 75.
    rules = {"plans": [plan_rules(prior_auth=[rx.package.ndc11], pa_numbers=["PA1234567"])]}
    process = test_payer(rules)
    plan = plan_for(payer_for(process))
    card(rx.patient)

    first = services.claim_bill(actor=technician, fill=fill)
    (claim,) = first.claims
    assert claim.status == ClaimStatus.REJECTED and claim.reject_codes == ["75"]
    assert "Prior authorization" in first.message
    case = PriorAuth.objects.get(prescription=rx, plan=plan)
    assert case.status == PriorAuthStatus.NEEDED and case.claim == claim

    case = pa_update(actor=technician, prior_auth=case, status=PriorAuthStatus.SUBMITTED)
    case = pa_update(
        actor=technician,
        prior_auth=case,
        status=PriorAuthStatus.APPROVED,
        number="PA1234567",
        approved_from=fill.site.today(),
        approved_to=fill.site.today().replace(year=fill.site.today().year + 1),
    )
    # The approved PA's number flows into the resubmitted claim by itself.
    again = services.claim_resubmit(actor=technician, claim=claim)
    (paid,) = again.claims
    assert paid.pk == claim.pk and paid.status == ClaimStatus.PAID
    tx = _request(paid).transactions[0].segment(ncpdp.SegmentCode.CLAIM)
    assert (tx["EU"], tx["EV"]) == ("1", "PA1234567")
    assert paid.attempts == 2


def test_a_plan_limit_is_met_by_lowering_days_supply_and_quantity(
    test_payer, technician, pharmacist
):
    process = test_payer({"plans": [plan_rules(max_days_supply=34)]})
    plan_for(payer_for(process))
    rx, fill = priced_rx(technician, quantity=Decimal("90"), days_supply=90)
    card(rx.patient)
    (claim,) = services.claim_bill(actor=technician, fill=fill).claims
    assert claim.reject_codes == ["76"]

    with pytest.raises(Invalid) as error:
        services.claim_resubmit(actor=technician, claim=claim, quantity=Decimal("120"))
    assert error.value.field == "quantity"
    fill.refresh_from_db()
    assert fill.quantity == Decimal("90")  # nothing changed

    result = services.claim_resubmit(
        actor=technician, claim=claim, days_supply=30, quantity=Decimal("30")
    )
    fill.refresh_from_db()
    assert (fill.quantity, fill.days_supply) == (Decimal("30.000"), 30)
    assert result.claims[0].status == ClaimStatus.PAID
    assert result.claims[0].quantity == Decimal("30.000")


def test_dur_codes_on_a_resubmission_are_the_pharmacists(test_payer, technician, pharmacist):
    rx, fill = priced_rx(technician)
    process = test_payer({"plans": [plan_rules(dur_reject={rx.package.ndc11: "DD"})]})
    plan_for(payer_for(process))
    card(rx.patient)
    (claim,) = services.claim_bill(actor=technician, fill=fill).claims
    assert claim.reject_codes == ["88"]
    assert claim.dur_response and claim.dur_response[0]["E4"] == "DD"

    codes = [{"reason_for_service": "DD", "professional_service": "M0", "result_of_service": "1G"}]
    with pytest.raises(Forbidden):
        services.claim_resubmit(actor=technician, claim=claim, dur_pps=codes)
    with pytest.raises(Invalid) as error:
        services.claim_resubmit(
            actor=pharmacist,
            claim=claim,
            dur_pps=[{"reason_for_service": "DD", "professional_service": "M"}],
        )
    assert error.value.field == "dur_pps"
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED and claim.attempts == 1

    paid = services.claim_resubmit(actor=pharmacist, claim=claim, dur_pps=codes).claims[0]
    assert paid.status == ClaimStatus.PAID
    dur = _request(paid).transactions[0].segment(ncpdp.SegmentCode.DUR_PPS)
    assert (dur["E4"], dur["E5"], dur["E6"]) == ("DD", "M0", "1G")


def test_coordination_of_benefits_bills_the_secondary_and_the_copay_card_last(
    test_payer, technician, pharmacist
):
    rules = {
        "plans": [
            plan_rules(copay={"generic": "20.00", "brand": "20.00"}),
            plan_rules(
                bin="610020",
                pcn="SECOND",
                name="Test Secondary",
                copay={"generic": "5.00", "brand": "5.00"},
                secondary_only=True,
            ),
            plan_rules(
                bin="600426",
                pcn="CARD",
                name="Test Copay Card",
                copay={"generic": "0.00", "brand": "0.00"},
                copay_card=True,
                secondary_only=True,
            ),
        ]
    }
    process = test_payer(rules)
    pbm = payer_for(process)
    primary = plan_for(pbm)
    secondary = plan_for(pbm, bin="610020", pcn="SECOND", name="Test Secondary")
    copay_card = plan_for(pbm, bin="600426", pcn="CARD", name="Test Copay Card")
    rx, fill = priced_rx(technician)
    card(rx.patient, rank=1)
    card(rx.patient, rank=3, bin="600426", pcn="CARD", kind=CoverageKind.COPAY_CARD)
    card(rx.patient, rank=2, bin="610020", pcn="SECOND", member_id="SEC1")

    result = services.claim_bill(actor=technician, fill=fill)

    first, second, third = result.claims
    assert [c.plan for c in result.claims] == [primary, secondary, copay_card]
    assert [c.status for c in result.claims] == [ClaimStatus.PAID] * 3
    assert first.patient_pay == Decimal("20.00")
    assert second.other_coverage_code == 2 and third.other_coverage_code == 8
    cob = _request(second).transactions[0].segment(ncpdp.SegmentCode.COORDINATION_OF_BENEFITS)
    assert cob["7C"] == BIN and cob["DV"] == first.plan_paid and cob["NQ"] == Decimal("20.00")
    assert second.patient_pay is not None and second.patient_pay < first.patient_pay
    assert third.patient_pay == Decimal("0.00")
    assert result.patient_pay == Decimal("0.00") == fill_price(fill)


def test_the_switch_down_the_claim_waits_and_replays_exactly_once(
    test_payer, technician, pharmacist
):
    process = test_payer({"plans": [plan_rules()]})
    plan_for(payer_for(process, timeout=2))
    rx, fill = priced_rx(technician)
    card(rx.patient)
    process.stop()

    result = services.claim_bill(actor=technician, fill=fill)
    (claim,) = result.claims
    assert claim.status == ClaimStatus.QUEUED
    assert "waits in the outbox" in result.message
    assert claim.transmissions.get().outcome == Outcome.NO_CONNECTION

    # The fill waits, unless a pharmacist lets it go on collecting the usual co-pay.
    with pytest.raises(Invalid):
        workflow.fill_data_verify(actor=pharmacist, fill=fill)
    with pytest.raises(Forbidden):
        services.fill_proceed(actor=technician, fill=fill, collect="5.00", reason="Switch down")
    with pytest.raises(Invalid) as bad:
        services.fill_proceed(actor=pharmacist, fill=fill, collect="5.001", reason="Down")
    assert bad.value.field == "collect"
    decision = services.fill_proceed(
        actor=pharmacist, fill=fill, collect="5.00", reason="Switch down at noon"
    )
    assert decision.mode == BillingMode.PROCEED
    assert workflow.fill_data_verify(actor=pharmacist, fill=fill).status == FillStatus.TO_FILL
    assert fill_price(fill) == Decimal("5.00")

    process.start_again()
    summary = services.outbox_replay(site=fill.site)
    assert (summary.sent, summary.paid, summary.still_waiting) == (1, 1, 0)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID and not claim.duplicate
    # Replaying again sends nothing: it is no longer in the outbox.
    assert services.outbox_replay(site=fill.site).sent == 0
    process.wait_for(" paid ")  # the payer's log is read by a thread: wait for the line
    assert sum(" paid " in line for line in process.log) == 1


def test_an_answer_lost_after_the_payer_paid_is_replayed_as_a_duplicate_not_paid_twice(
    test_payer, technician
):
    process = test_payer({"plans": [plan_rules(drop_after_paying=[MEMBER])]})
    plan_for(payer_for(process, timeout=2))
    rx, fill = priced_rx(technician)
    card(rx.patient)

    (claim,) = services.claim_bill(actor=technician, fill=fill).claims
    assert claim.status == ClaimStatus.QUEUED
    assert claim.transmissions.get().outcome == Outcome.NO_ANSWER

    services.outbox_replay(site=fill.site)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID and claim.duplicate
    # The very same request went twice (same Rx, fill, date of service).
    first, second = claim.transmissions.order_by("pk")
    assert first.request == second.request
    assert Claim.objects.filter(fill=fill, status=ClaimStatus.PAID).count() == 1


def test_an_unreadable_answer_needs_attention_and_keeps_the_bytes(technician):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def answer_garbage() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"\x02D0B11AGARBAGE\x03")
        conn.close()

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    from rxdesk.claims.models import Payer

    pbm = Payer.objects.create(name="Broken switch", port=port, timeout_seconds=3)
    plan_for(pbm)
    rx, fill = priced_rx(technician)
    card(rx.patient)
    (claim,) = services.claim_bill(actor=technician, fill=fill).claims
    thread.join(5)
    server.close()
    assert claim.status == ClaimStatus.ATTENTION
    assert "could not be read" in claim.attention
    sent = claim.transmissions.get()
    assert sent.outcome == Outcome.UNREADABLE and "GARBAGE" in sent.response


def test_return_to_stock_reverses_the_paid_claim(
    technician, pharmacist, plan, django_capture_on_commit_callbacks
):
    rx, fill = priced_rx(technician)
    card(rx.patient)
    stock(rx.site, rx.package, lot="LOT-A", quantity=100)
    services.claim_bill(actor=technician, fill=fill)
    fill = workflow.fill_data_verify(actor=pharmacist, fill=fill)
    fill = workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    fill = workflow.fill_final_verify(actor=pharmacist, fill=fill)

    with django_capture_on_commit_callbacks(execute=True):
        workflow.fill_return_to_stock(actor=technician, fill=fill, reason="Not picked up")

    claim = Claim.objects.get(fill=fill)
    assert claim.status == ClaimStatus.REVERSED and claim.reversed_at is not None
    assert claim.transmissions.order_by("pk").last().kind == "B2"
    assert fill_price(fill) == Decimal("40.00")  # no paid claim any more


def test_cancelling_a_billed_fill_reverses_it_and_a_lost_reversal_waits_in_the_outbox(
    test_payer, technician, django_capture_on_commit_callbacks
):
    process = test_payer({"plans": [plan_rules()]})
    plan_for(payer_for(process, timeout=2))
    rx, fill = priced_rx(technician)
    card(rx.patient)
    services.claim_bill(actor=technician, fill=fill)
    process.stop()

    with django_capture_on_commit_callbacks(execute=True):
        fill_cancel(actor=technician, fill=fill, reason="Patient changed their mind")
    claim = Claim.objects.get(fill=fill)
    assert claim.status == ClaimStatus.REVERSAL_QUEUED

    process.start_again()
    assert services.outbox_replay(site=fill.site).reversed == 1
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REVERSED


def test_switching_to_cash_closes_a_rejected_claim(test_payer, technician, pharmacist):
    process = test_payer({"plans": [plan_rules(members=["SOMEONE-ELSE"])]})
    plan_for(payer_for(process))
    rx, fill = priced_rx(technician)
    card(rx.patient)
    (claim,) = services.claim_bill(actor=technician, fill=fill).claims
    assert claim.reject_codes == ["52"]

    with pytest.raises(Invalid) as error:
        services.fill_bill_cash(actor=technician, fill=fill, reason="  ")
    assert error.value.field == "reason"
    services.fill_bill_cash(actor=technician, fill=fill, reason="Patient pays cash")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.CLOSED
    assert workflow.fill_data_verify(actor=pharmacist, fill=fill).status == FillStatus.TO_FILL
    assert fill_price(fill) == Decimal("40.00")
    with pytest.raises(Conflict, match="switched to cash"):
        services.claim_bill(actor=technician, fill=fill)


def test_a_product_filled_from_another_ndc_is_rebilled_before_final_verification(
    technician, pharmacist, plan
):
    rx, fill = priced_rx(technician)
    card(rx.patient)
    services.claim_bill(actor=technician, fill=fill)
    fill = workflow.fill_data_verify(actor=pharmacist, fill=fill)
    # Another bottle size of the same product: same drug, different NDC.
    from tests.catalog.factories import PackageFactory
    from tests.pos.factories import price

    bigger = PackageFactory(product=rx.product, ndc10="0002-7777-90", package_quantity=90)
    price(bigger, "90.00", kind="list")
    stock(rx.site, bigger, lot="LOT-B", quantity=90)
    fill = workflow.fill_product(actor=technician, fill=fill, scanned_code=bigger.ndc10)

    with pytest.raises(Invalid) as blocked:
        workflow.fill_final_verify(actor=pharmacist, fill=fill)
    assert "rebill" in blocked.value.errors[0]["message"]

    claim = Claim.objects.get(fill=fill)
    result = services.claim_rebill(actor=technician, claim=claim)
    assert result.claims[0].status == ClaimStatus.PAID
    assert result.claims[0].ndc == bigger.ndc11
    assert _request(result.claims[0]).header.transaction_code == ncpdp.TransactionCode.REBILL
    assert workflow.fill_final_verify(actor=pharmacist, fill=fill).status == FillStatus.READY


def test_eligibility_check_asks_the_payer(technician, plan):
    rx, _ = priced_rx(technician)
    active = card(rx.patient)
    check = services.eligibility_check(actor=technician, coverage=active)
    assert check.status == "active"
    assert check.transmissions.get().kind == "E1"

    cash = card(rx.patient, rank=2, bin="", member_id="", kind=CoverageKind.CASH)
    with pytest.raises(Invalid):
        services.eligibility_check(actor=technician, coverage=cash)


def test_a_claim_being_sent_is_not_sent_twice(technician, plan):
    rx, fill = priced_rx(technician)
    coverage = card(rx.patient)
    Claim.objects.create(
        site=fill.site,
        fill=fill,
        coverage=coverage,
        plan=plan,
        status=ClaimStatus.SENDING,
        rx_number=rx.number,
        fill_number=fill.number,
        date_of_service=fill.site.today(),
        ndc=rx.package.ndc11,
        quantity=fill.quantity,
        days_supply=fill.days_supply,
    )
    with pytest.raises(Conflict, match="being sent"):
        services.claim_bill(actor=technician, fill=fill)
    assert not Transmission.objects.exists()


def test_a_dead_switch_port_is_reported_in_words(technician):
    from rxdesk.claims.models import Payer

    plan_for(Payer.objects.create(name="Nobody home", port=free_port(), timeout_seconds=1))
    rx, fill = priced_rx(technician)
    card(rx.patient)
    result = services.claim_bill(actor=technician, fill=fill)
    assert result.claims[0].status == ClaimStatus.QUEUED
    assert "refused" in result.message or "not reachable" in result.message.lower()


def _answering(raw: bytes) -> tuple[socket.socket, threading.Thread]:
    """A switch that answers any request with ``raw`` (framed), once."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"\x02" + raw + b"\x03")
        conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return server, thread


def _bad_answers() -> list[tuple[str, bytes]]:
    from tests.claims.test_ncpdp import GS, PAID

    return [
        ("cut short", PAID.split(GS.encode())[0]),
        ("unknown segment", PAID.replace(b"AM22", b"AM99")),
        ("field too long", PAID.replace(b"D2000000123456", b"D20000001234567")),
        ("money not overpunch", PAID.replace(b"F5100{", b"F510.00")),
    ]


@pytest.mark.parametrize(("case", "raw"), _bad_answers(), ids=[c for c, _ in _bad_answers()])
def test_a_malformed_answer_needs_attention_and_nothing_is_lost(technician, case, raw):
    from rxdesk.claims.models import Payer

    server, thread = _answering(raw)
    plan_for(Payer.objects.create(name="Odd switch", port=server.getsockname()[1]))
    rx, fill = priced_rx(technician)
    card(rx.patient)

    result = services.claim_bill(actor=technician, fill=fill)
    thread.join(5)
    server.close()

    (claim,) = result.claims
    assert claim.status == ClaimStatus.ATTENTION, case
    assert claim.attention.startswith("The payer's answer could not be read (")
    assert claim.patient_pay is None and claim.plan_paid is None
    sent = claim.transmissions.get()
    assert sent.outcome == Outcome.UNREADABLE
    assert sent.response.encode("latin-1") == raw  # the bytes are kept as they came
    # It waits in the reject queue, and data verification does not let the fill through.
    from rxdesk.claims.queries import reject_queue

    assert [c.pk for c in reject_queue(actor=technician)] == [claim.pk]


def test_the_waiting_fills_are_billed_in_one_go_with_progress(technician, trainee, plan):
    from io import StringIO

    from django.core.management import call_command

    insured = []
    for _ in range(2):
        rx, fill = priced_rx(technician)
        card(rx.patient)
        insured.append(fill)
    unknown_rx, _unknown = priced_rx(technician)
    card(unknown_rx.patient, bin="999999")  # no plan on file: refused, the rest go on
    priced_rx(technician)  # no card: not billed at all
    services.claim_bill(actor=technician, fill=insured[0])  # already billed: left alone

    with pytest.raises(Forbidden):
        services.claims_bill_waiting(actor=trainee)
    seen: list[tuple[int, int]] = []
    summary = services.claims_bill_waiting(
        actor=technician, progress=lambda d, t: seen.append((d, t))
    )

    assert (summary.billed, summary.paid, summary.refused) == (1, 1, 1)
    assert seen == [(1, 2), (2, 2)]
    assert Claim.objects.filter(fill=insured[1], status=ClaimStatus.PAID).exists()
    assert Claim.objects.count() == 2

    out = StringIO()
    call_command("claims", "bill", "--username", technician.username, stdout=out)
    assert "Billed 0 fill(s)" in out.getvalue() and "1 could not be billed" in out.getvalue()


@pytest.mark.parametrize(
    ("corrections", "field"),
    [
        ({"daw": "x"}, "daw"),
        ({"daw": 10}, "daw"),
        ({"other_coverage_code": "²"}, "other_coverage_code"),
        ({"clarification_codes": ["3a"]}, "clarification_codes"),
        ({"clarification_codes": ["0"]}, "clarification_codes"),
        ({"clarification_codes": ["1", "2", "5", "6"]}, "clarification_codes"),
        ({"dur_pps": ["DD M0 1G"]}, "dur_pps"),
        ({"prior_auth_number": "PA-12"}, "prior_auth_number"),
    ],
)
def test_bad_corrections_name_the_field_and_send_nothing(
    test_payer, technician, pharmacist, corrections, field
):
    rx, fill = priced_rx(technician)
    plan_for(payer_for(test_payer({"plans": [plan_rules(not_covered=[rx.package.ndc11])]})))
    card(rx.patient)
    (claim,) = services.claim_bill(actor=technician, fill=fill).claims
    with pytest.raises(Invalid) as error:
        services.claim_resubmit(actor=pharmacist, claim=claim, **corrections)
    assert error.value.field == field
    claim.refresh_from_db()
    assert (claim.status, claim.attempts, claim.transmissions.count()) == (
        ClaimStatus.REJECTED,
        1,
        1,
    )
