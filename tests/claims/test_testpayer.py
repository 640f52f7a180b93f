"""The test payer: adjudication rules tested directly (requests built by hand), then the
real ``rxdesk test-payer`` process over the socket through the ``test_payer`` fixture."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from rxdesk.claims import testpayer
from rxdesk.claims.ncpdp import (
    HeaderStatus,
    Request,
    RequestHeader,
    Response,
    ResponseTransaction,
    Segment,
    SegmentCode,
    Transaction,
    TransactionCode,
    decode_response,
    encode_request,
    encode_response,
)
from rxdesk.claims.testpayer import (
    DEFAULT_RULES,
    Payer,
    RulesError,
    load_rules,
    rules_from_dict,
)
from rxdesk.claims.transport import SwitchNoAnswer, SwitchUnreachable, exchange

DOS = dt.date(2025, 3, 15)
PHARMACY = "1234567893"
PRESCRIBER = "1987654328"  # a well-formed NPI (Luhn with the 80840 prefix)
CARDHOLDER = "ZZQ900112233"
GENERIC = "00093505801"
BRAND = "00071015523"
PLAN: dict[str, Any] = {
    "bin": "610014",
    "pcn": "TESTPCN",
    "name": "Test Commercial",
    "copay": {"generic": "5.00", "brand": "25.00"},
    "brand_ndcs": [BRAND],
    "ingredient_cost_percent": "90",
    "dispensing_fee": "1.50",
}


def make_payer(*, state=None, **rules: Any) -> Payer:
    return Payer(rules_from_dict({"plans": [PLAN | rules]}), state=state)


def claim(
    *,
    rx: str = "1042",
    fill: str = "0",
    ndc: str = GENERIC,
    quantity: str = "30",
    days: str = "30",
    cost: str | None = "12.35",
    prescriber: str | None = PRESCRIBER,
    other_coverage: str = "1",
    claim_fields: tuple[tuple[str, Any], ...] = (),
    segments: tuple[Segment, ...] = (),
) -> Transaction:
    """One claim group: Claim, Prescriber, Pricing and any extra segments."""
    fields: list[tuple[str, Any]] = [("EM", "1"), ("D2", rx), ("E1", "03"), ("D7", ndc)]
    fields += [("E7", Decimal(quantity)), ("D3", fill), ("D5", days), ("D6", "1")]
    fields += [("D8", "0"), ("C8", other_coverage), *claim_fields]
    group = [Segment(SegmentCode.CLAIM, tuple(f for f in fields if f[1] != ""))]
    if prescriber is not None:
        group.append(Segment(SegmentCode.PRESCRIBER, (("EZ", "01"), ("DB", prescriber))))
    if cost is not None:
        pricing = (("D9", Decimal(cost)), ("DC", Decimal("1.75")), ("DU", Decimal(cost) + 2))
        group.append(Segment(SegmentCode.PRICING, pricing))
    group += segments
    return Transaction(tuple(group))


def request(
    *transactions: Transaction,
    code: TransactionCode = TransactionCode.BILLING,
    bin_number: str = "610014",
    pcn: str = "TESTPCN",
    dos: dt.date = DOS,
    cardholder: str = CARDHOLDER,
) -> Request:
    insurance = [("C2", cardholder)] if cardholder else []
    insurance += [("C1", "GRP0042"), ("C3", "01")]
    return Request(
        RequestHeader(
            bin=bin_number,
            transaction_code=code,
            pcn=pcn,
            service_provider_id=PHARMACY,
            date_of_service=dos,
        ),
        (Segment(SegmentCode.INSURANCE, tuple(insurance)),),
        transactions or (claim(),),
    )


def answer(payer: Payer, req: Request) -> tuple[Response, ResponseTransaction]:
    """Adjudicate, and check that the answer survives the wire."""
    response = payer.adjudicate(req)
    assert decode_response(encode_response(response)) == response
    return response, response.transactions[0]


def fields(group: ResponseTransaction, code: SegmentCode) -> dict[str, Any]:
    segment = group.segment(code)
    assert segment is not None, f"no {code.label}"
    return dict(segment.fields)


def message(response: Response) -> str:
    segment = response.segment(SegmentCode.RESPONSE_MESSAGE)
    assert segment is not None
    return str(segment["F4"])


# --------------------------------------------------------------------------------------
# Paid


def test_it_pays_a_generic_with_the_plans_price_and_copay_to_the_cent():
    payer = make_payer()
    response, group = answer(payer, request(claim(cost="12.35")))
    # 12.35 x 90% = 11.115 -> 11.12 (half up); + 1.50 fee = 12.62; generic copay 5.00.
    assert response.header.status is HeaderStatus.ACCEPTED
    assert message(response) == "PAID"
    assert fields(group, SegmentCode.RESPONSE_STATUS) == {"AN": "P", "F3": "TP0000000001"}
    assert fields(group, SegmentCode.RESPONSE_CLAIM) == {"EM": "1", "D2": "1042"}
    assert fields(group, SegmentCode.RESPONSE_PRICING) == {
        "F5": Decimal("5.00"),
        "F6": Decimal("11.12"),
        "F7": Decimal("1.50"),
        "FI": Decimal("5.00"),
        "F9": Decimal("7.62"),
    }
    assert group.is_paid and group.patient_pay_amount == Decimal("5.00")


def test_a_brand_pays_the_brand_copay_and_authorization_numbers_are_unique():
    payer = make_payer()
    answer(payer, request(claim(rx="1")))
    _, group = answer(payer, request(claim(rx="2", ndc=BRAND, cost="200.00")))
    assert group.authorization_number == "TP0000000002"
    assert fields(group, SegmentCode.RESPONSE_PRICING) == {
        "F5": Decimal("25.00"),
        "F6": Decimal("180.00"),
        "F7": Decimal("1.50"),
        "FI": Decimal("25.00"),
        "F9": Decimal("156.50"),
    }


def test_the_copay_is_never_more_than_the_claim_pays():
    _, group = answer(make_payer(), request(claim(ndc=BRAND, cost="2.00")))
    pricing = fields(group, SegmentCode.RESPONSE_PRICING)
    assert (pricing["F5"], pricing["FI"], pricing["F9"]) == (
        Decimal("3.30"),
        Decimal("3.30"),
        Decimal("0.00"),
    )


@pytest.mark.parametrize(
    ("cost", "patient", "plan"),
    [
        ("12.35", "2.52", "10.10"),  # 20% of 12.62 = 2.524 -> 2.52
        ("1.00", "2.00", "0.40"),  # 20% of 2.40 = 0.48, raised to the 2.00 minimum
        ("1000.00", "50.00", "851.50"),  # 20% of 901.50, capped at 50.00
        ("0.10", "1.59", "0.00"),  # the minimum, but never more than the 1.59 paid
    ],
)
def test_a_coinsurance_is_a_percent_of_the_pay_within_its_minimum_and_maximum(cost, patient, plan):
    payer = make_payer(copay={"coinsurance_percent": "20", "min": "2.00", "max": "50.00"})
    _, group = answer(payer, request(claim(cost=cost)))
    pricing = fields(group, SegmentCode.RESPONSE_PRICING)
    assert (pricing["F5"], pricing["4U"], pricing["F9"]) == (
        Decimal(patient),
        Decimal(patient),
        Decimal(plan),
    )
    assert "FI" not in pricing


# --------------------------------------------------------------------------------------
# Rejects


def reject_codes(payer: Payer, req: Request) -> list[str]:
    response, group = answer(payer, req)
    assert response.header.status is HeaderStatus.ACCEPTED
    status = fields(group, SegmentCode.RESPONSE_STATUS)
    assert status["AN"] == "R"
    codes = list(group.reject_codes)
    assert status["FA"] == str(len(codes))
    assert "F3" not in status and group.segment(SegmentCode.RESPONSE_PRICING) is None
    assert payer.paid_claims() == []
    return codes


@pytest.mark.parametrize(
    ("rules", "req", "codes"),
    [
        ({}, request(cardholder=""), ["07"]),
        ({}, request(claim(rx="")), ["16"]),
        ({}, request(claim(rx="12A")), ["16"]),
        ({}, request(claim(fill="")), ["17"]),
        ({}, request(claim(days="0")), ["19"]),
        ({}, request(claim(ndc="1234")), ["21"]),
        ({}, request(claim(quantity="0")), ["E7"]),
        ({}, request(claim(cost=None)), ["D9"]),
        ({"members": ["SOMEONEELSE"]}, request(), ["52"]),
        ({"terminated": [CARDHOLDER]}, request(), ["65"]),
        ({"covered_from": "2025-03-16"}, request(), ["67"]),  # DOS 2025-03-15
        ({"covered_to": "2025-03-14"}, request(), ["68"]),
        ({}, request(claim(prescriber=None)), ["25"]),
        ({}, request(claim(prescriber="1987654321")), ["25"]),  # check digit wrong
        ({"blocked_prescribers": [PRESCRIBER]}, request(), ["25"]),
        ({"secondary_only": True}, request(), ["41"]),
        ({"not_covered": [GENERIC]}, request(), ["70"]),
        ({"non_formulary": [GENERIC]}, request(), ["MR"]),
        ({"max_days_supply": 29}, request(), ["76"]),
        ({"max_quantity": {GENERIC: "29.5"}}, request(), ["76"]),
        ({"prior_auth": [GENERIC]}, request(), ["75"]),
        (
            {"not_covered": [GENERIC], "max_days_supply": 10, "prior_auth": [GENERIC]},
            request(claim(prescriber=None)),
            ["25", "70", "76", "75"],
        ),
    ],
)
def test_each_broken_rule_rejects_the_claim_with_its_code(rules, req, codes):
    assert reject_codes(make_payer(**rules), req) == codes


def test_a_reject_names_its_reasons_in_the_message():
    response, _ = answer(make_payer(not_covered=[GENERIC], max_days_supply=10), request())
    assert message(response) == (
        "REJECTED: 70 PRODUCT/SERVICE NOT COVERED; 76 PLAN LIMITATIONS EXCEEDED"
    )


def test_a_non_formulary_reject_names_the_preferred_product():
    payer = make_payer(non_formulary=[GENERIC], preferred={GENERIC: BRAND})
    _, group = answer(payer, request())
    assert group.reject_codes == ("MR",)
    assert fields(group, SegmentCode.RESPONSE_CLAIM) == {
        "EM": "1",
        "D2": "1042",
        "9F": "1",
        "AP": "03",
        "AR": BRAND,
    }


@pytest.mark.parametrize(
    ("number", "paid"),
    [
        ("PA0000001", True),  # listed
        ("PA1234567", True),  # matches the pattern
        ("PA123", False),
        ("", False),
    ],
)
def test_a_prior_authorization_number_lifts_reject_75(number, paid):
    payer = make_payer(prior_auth=[GENERIC], pa_numbers=["PA0000001"], pa_pattern="^PA[0-9]{7}$")
    _, group = answer(payer, request(claim(claim_fields=(("EU", "1"), ("EV", number)))))
    assert group.is_paid is paid
    assert group.reject_codes == (() if paid else ("75",))


def dur(*occurrences: tuple[str, str, str]) -> Segment:
    values: list[tuple[str, str]] = []
    for n, (reason, service, result) in enumerate(occurrences, 1):
        values += [("7E", str(n)), ("E4", reason), ("E5", service), ("E6", result)]
    return Segment(SegmentCode.DUR_PPS, tuple(values))


@pytest.mark.parametrize(
    ("answers", "paid"),
    [
        ((), False),
        ((("DD", "M0", "1G"),), True),
        ((("TD", "M0", "1G"), ("DD", "R0", "1B")), True),  # the second occurrence answers
        ((("TD", "M0", "1G"),), False),  # another reason
        ((("DD", "M0", ""),), False),  # no result of service
        ((("DD", "", "1G"),), False),  # no professional service
    ],
)
def test_reject_88_is_lifted_by_the_dur_codes_that_answer_it(answers, paid):
    payer = make_payer(dur_reject={GENERIC: "DD"})
    segments = (dur(*answers),) if answers else ()
    _, group = answer(payer, request(claim(segments=segments)))
    assert group.is_paid is paid
    if not paid:
        assert group.reject_codes == ("88",)
        assert fields(group, SegmentCode.RESPONSE_DUR_PPS) == {"J6": "1", "E4": "DD", "FS": "1"}


# --------------------------------------------------------------------------------------
# Refill too soon


def test_a_refill_before_75_percent_of_the_supply_is_rejected_79_with_the_next_fill_date():
    payer = make_payer()
    answer(payer, request(claim(rx="1042", fill="0"), dos=dt.date(2025, 3, 1)))
    # 30 days x 75% = 22.5 -> 22 whole days: next fill 2025-03-23.
    response, group = answer(payer, request(claim(fill="1"), dos=dt.date(2025, 3, 22)))
    assert group.reject_codes == ("79",)
    status = fields(group, SegmentCode.RESPONSE_STATUS)
    assert (status["UF"], status["UH"], status["FQ"]) == ("1", "01", "NEXT FILL 20250323")
    assert fields(group, SegmentCode.RESPONSE_DUR_PPS) == {
        "J6": "1",
        "E4": "ER",
        "FS": "1",
        "FU": "20250301",
        "FV": Decimal("30.000"),
    }
    assert message(response) == "REJECTED: 79 REFILL TOO SOON"
    _, group = answer(payer, request(claim(fill="1"), dos=dt.date(2025, 3, 23)))
    assert group.is_paid


@pytest.mark.parametrize(("scc", "paid"), [("3", True), ("5", True), ("1", False)])
def test_a_vacation_supply_or_therapy_change_lifts_79(scc, paid):
    payer = make_payer()
    answer(payer, request(claim(fill="0"), dos=dt.date(2025, 3, 1)))
    refill = claim(fill="1", claim_fields=(("NX", "1"), ("DK", scc)))
    _, group = answer(payer, request(refill, dos=dt.date(2025, 3, 10)))
    assert group.is_paid is paid


def test_79_counts_the_same_drug_for_the_same_cardholder_and_not_a_reversed_fill():
    payer = make_payer()
    first = request(claim(fill="0"), dos=dt.date(2025, 3, 1))
    answer(payer, first)
    later = dt.date(2025, 3, 10)
    assert answer(payer, request(claim(rx="7", ndc=BRAND), dos=later))[1].is_paid
    assert answer(payer, request(claim(rx="8"), dos=later, cardholder="OTHER1"))[1].is_paid
    assert answer(payer, request(claim(rx="9"), dos=later))[1].reject_codes == ("79",)
    answer(
        payer,
        request(claim(fill="0"), code=TransactionCode.REVERSAL, dos=first.header.date_of_service),
    )
    assert answer(payer, request(claim(rx="9"), dos=later))[1].is_paid


def test_79_can_be_switched_off():
    payer = make_payer(refill_too_soon_percent=0)
    answer(payer, request(dos=dt.date(2025, 3, 1)))
    assert answer(payer, request(claim(fill="1"), dos=dt.date(2025, 3, 2)))[1].is_paid


# --------------------------------------------------------------------------------------
# Duplicates, reversals, rebills


def test_a_paid_claim_sent_again_is_a_duplicate_with_the_original_amounts():
    payer = make_payer()
    _, first = answer(payer, request(claim(cost="12.35")))
    # Same Rx, fill and date of service (leading zeros do not make another claim), even
    # with a different price: the payer never pays twice.
    response, again = answer(payer, request(claim(rx="000001042", fill="00", cost="99.00")))
    assert message(response) == "DUPLICATE OF PAID CLAIM"
    assert fields(again, SegmentCode.RESPONSE_STATUS) == {"AN": "D", "F3": "TP0000000001"}
    assert again.segment(SegmentCode.RESPONSE_PRICING) == first.segment(
        SegmentCode.RESPONSE_PRICING
    )
    assert len(payer.paid_claims()) == 1


def test_a_reversal_then_a_new_billing_pays_again_with_a_new_authorization():
    payer = make_payer()
    answer(payer, request())
    response, reversal = answer(payer, request(claim(), code=TransactionCode.REVERSAL))
    assert message(response) == "REVERSAL ACCEPTED"
    assert fields(reversal, SegmentCode.RESPONSE_STATUS) == {"AN": "A", "F3": "TP0000000001"}
    assert payer.paid_claims()[0].reversed is True
    _, billed = answer(payer, request())
    assert fields(billed, SegmentCode.RESPONSE_STATUS) == {"AN": "P", "F3": "TP0000000002"}


def test_a_reversal_sent_twice_is_a_duplicate_of_approved_the_second_time():
    payer = make_payer()
    answer(payer, request())
    answer(payer, request(code=TransactionCode.REVERSAL))
    response, again = answer(payer, request(code=TransactionCode.REVERSAL))
    assert message(response) == "CLAIM ALREADY REVERSED"
    assert fields(again, SegmentCode.RESPONSE_STATUS) == {"AN": "S", "F3": "TP0000000001"}


def test_reversing_a_claim_the_payer_never_paid_is_rejected_84():
    response, group = answer(make_payer(), request(code=TransactionCode.REVERSAL))
    assert fields(group, SegmentCode.RESPONSE_STATUS) == {"AN": "R", "FA": "1", "FB": "84"}
    assert message(response) == "REJECTED: 84 CLAIM HAS NOT BEEN PAID/CAPTURED"


def test_a_rebill_reverses_the_paid_claim_and_pays_the_corrected_one():
    payer = make_payer()
    answer(payer, request(claim(cost="12.35")))
    _, group = answer(payer, request(claim(cost="20.00"), code=TransactionCode.REBILL))
    assert fields(group, SegmentCode.RESPONSE_STATUS) == {"AN": "P", "F3": "TP0000000002"}
    assert group.total_amount_paid == Decimal("14.50")  # 18.00 + 1.50 - 5.00
    assert [c.reversed for c in payer.paid_claims()] == [False]  # the key now holds the rebill


def test_a_transmission_of_several_claims_answers_each():
    payer = make_payer(not_covered=[BRAND])
    response, _ = answer(payer, request(claim(rx="1"), claim(rx="2", ndc=BRAND)))
    assert [t.status for t in response.transactions] == ["P", "R"]
    assert message(response) == "CLAIM 1 PAID / CLAIM 2 REJECTED: 70 PRODUCT/SERVICE NOT COVERED"


# --------------------------------------------------------------------------------------
# Coordination of benefits


def cob(*, paid: str, owed: str | None) -> Segment:
    values: list[tuple[str, Any]] = [("4C", "1"), ("5C", "01"), ("6C", "03"), ("7C", "610014")]
    values += [("HB", "1"), ("HC", "07"), ("DV", Decimal(paid))]
    if owed is not None:
        values += [("NR", "1"), ("NP", "06"), ("NQ", Decimal(owed))]
    return Segment(SegmentCode.COORDINATION_OF_BENEFITS, tuple(values))


def secondary_claim(paid: str, owed: str | None, cost: str = "12.35") -> Transaction:
    return claim(cost=cost, other_coverage="2", segments=(cob(paid=paid, owed=owed),))


@pytest.mark.parametrize(
    ("paid", "owed", "patient", "plan"),
    [
        ("4.62", "8.00", "5.00", "3.00"),  # the copay stays with the patient
        ("9.62", "3.00", "3.00", "0.00"),  # less owed than the copay
        ("0.00", "50.00", "42.38", "7.62"),  # never more than it pays as primary
        ("4.35", None, "5.00", "5.00"),  # no NQ: gross due 14.35 - 4.35 paid = 10.00 owed
    ],
)
def test_a_secondary_pays_within_what_the_primary_left_to_the_patient(paid, owed, patient, plan):
    payer = make_payer(secondary_only=True)
    _, group = answer(payer, request(secondary_claim(paid, owed)))
    pricing = fields(group, SegmentCode.RESPONSE_PRICING)
    assert (pricing["F5"], pricing["F9"], pricing["J5"]) == (
        Decimal(patient),
        Decimal(plan),
        Decimal(paid),
    )


@pytest.mark.parametrize(
    ("floor", "card_max", "owed", "patient", "plan"),
    [
        ("0.00", None, "25.00", "0.00", "25.00"),
        ("10.00", None, "25.00", "10.00", "15.00"),
        ("0.00", "20.00", "25.00", "5.00", "20.00"),
        ("10.00", None, "4.00", "4.00", "0.00"),
    ],
)
def test_a_copay_card_pays_the_patients_share_down_to_its_floor(
    floor, card_max, owed, patient, plan
):
    card = {"bin": "600426", "pcn": "CARDPCN", "copay_card": True, "secondary_only": True}
    card |= {"copay_floor": floor, "card_max": card_max}
    payer = Payer(rules_from_dict({"plans": [card]}))
    req = request(secondary_claim("30.00", owed), bin_number="600426", pcn="CARDPCN")
    _, group = answer(payer, req)
    assert fields(group, SegmentCode.RESPONSE_PRICING) == {
        "F5": Decimal(patient),
        "F9": Decimal(plan),
        "J5": Decimal("30.00"),
    }


def test_a_copay_card_billed_as_primary_is_rejected_41():
    card = {"bin": "600426", "pcn": "CARDPCN", "copay_card": True, "secondary_only": True}
    payer = Payer(rules_from_dict({"plans": [card]}))
    assert reject_codes(payer, request(bin_number="600426", pcn="CARDPCN")) == ["41"]


# --------------------------------------------------------------------------------------
# Eligibility and unknown plans


def eligibility(cardholder: str = CARDHOLDER) -> Request:
    return request(Transaction(()), code=TransactionCode.ELIGIBILITY, cardholder=cardholder)


def test_an_eligible_member_gets_the_plan_and_group():
    response, group = answer(make_payer(), eligibility())
    assert message(response) == "ELIGIBLE"
    assert group.status == "A"
    insurance = response.segment(SegmentCode.RESPONSE_INSURANCE)
    assert insurance is not None
    assert dict(insurance.fields) == {"C1": "GRP0042", "FO": "Test Com", "C2": CARDHOLDER}


@pytest.mark.parametrize(
    ("rules", "cardholder", "codes"),
    [
        ({"members": ["SOMEONEELSE"]}, CARDHOLDER, ("52",)),
        ({"terminated": [CARDHOLDER]}, CARDHOLDER, ("65",)),
        ({"covered_to": "2025-01-01"}, CARDHOLDER, ("68",)),
        ({}, "", ("07",)),
    ],
)
def test_an_eligibility_check_for_a_non_member_is_rejected(rules, cardholder, codes):
    response, group = answer(make_payer(**rules), eligibility(cardholder))
    assert group.status == "R" and group.reject_codes == codes
    assert message(response).startswith("NOT ELIGIBLE: ")
    assert response.segment(SegmentCode.RESPONSE_INSURANCE) is None


@pytest.mark.parametrize(
    ("bin_number", "pcn", "code", "words"),
    [("999999", "TESTPCN", "01", "M/I BIN"), ("610014", "OTHER", "04", "M/I PCN")],
)
def test_an_unknown_bin_or_pcn_rejects_the_whole_transmission(bin_number, pcn, code, words):
    payer = make_payer()
    response, _ = answer(payer, request(claim(), claim(rx="2"), bin_number=bin_number, pcn=pcn))
    assert response.header.status is HeaderStatus.REJECTED
    assert message(response) == words
    assert [t.reject_codes for t in response.transactions] == [(code,), (code,)]
    assert payer.paid_claims() == []


# --------------------------------------------------------------------------------------
# Bytes in, bytes out: unreadable requests and the fault rules


def test_garbage_is_answered_with_a_rejected_transmission():
    reply = make_payer().respond(b"this is not a claim")
    assert reply.payload is not None
    response = decode_response(reply.payload)
    assert response.header.status is HeaderStatus.REJECTED
    assert response.transactions == ()
    assert message(response).startswith("TRANSMISSION REJECTED: ")
    assert "cut short" in message(response)


def test_a_request_with_a_readable_header_and_a_broken_body_is_rejected_r8():
    wire = encode_request(request()) + b"\x1e\x1cAM99\x1cXX1"
    response = decode_response(make_payer().respond(wire).payload or b"")
    assert response.header.status is HeaderStatus.REJECTED
    assert response.header.service_provider_id == PHARMACY
    assert response.header.date_of_service == DOS
    assert [t.reject_codes for t in response.transactions] == [("R8",)]
    assert "AM99" in message(response)


def test_drop_reads_the_request_and_answers_nothing_and_records_nothing():
    payer = make_payer(drop=[CARDHOLDER])
    assert payer.respond(encode_request(request())).payload is None
    assert payer.paid_claims() == []
    other = request(cardholder="SOMEONEELSE")
    assert payer.respond(encode_request(other)).payload is not None


def test_drop_after_paying_records_the_claim_and_drops_only_the_first_answer():
    payer = make_payer(drop_after_paying=[CARDHOLDER])
    wire = encode_request(request())
    assert payer.respond(wire).payload is None
    assert len(payer.paid_claims()) == 1
    again = decode_response(payer.respond(wire).payload or b"")
    assert fields(again.transactions[0], SegmentCode.RESPONSE_STATUS) == {
        "AN": "D",
        "F3": "TP0000000001",
    }


def test_delay_answers_late():
    payer = make_payer(delay_ms={CARDHOLDER: 1500})
    reply = payer.respond(encode_request(request()))
    assert reply.delay == 1.5 and reply.payload is not None
    assert payer.respond(encode_request(request(cardholder="X1"))).delay == 0


def test_the_memory_survives_a_restart_through_the_state_file(tmp_path):
    state = tmp_path / "state.jsonl"
    first = make_payer(state=state)
    answer(first, request(claim(rx="1")))
    answer(first, request(claim(rx="2", ndc=BRAND)))
    answer(first, request(claim(rx="2", ndc=BRAND), code=TransactionCode.REVERSAL))
    first.close()
    with state.open("a") as journal:
        journal.write('{"paid": {"key": [')  # a line cut short by a kill
    second = make_payer(state=state)
    _, duplicate = answer(second, request(claim(rx="1")))
    assert fields(duplicate, SegmentCode.RESPONSE_STATUS) == {"AN": "D", "F3": "TP0000000001"}
    _, rebilled = answer(second, request(claim(rx="2", ndc=BRAND)))
    assert fields(rebilled, SegmentCode.RESPONSE_STATUS) == {"AN": "P", "F3": "TP0000000003"}


# --------------------------------------------------------------------------------------
# Rules documents


def test_the_default_rules_know_the_demo_plans():
    assert [(p.bin, p.pcn) for p in DEFAULT_RULES.plans] == [
        ("610014", "TESTPCN"),
        ("004336", "MEDDPCN"),
        ("610020", "SECPCN"),
        ("600426", "CARDPCN"),
    ]
    assert rules_from_dict(json.loads(json.dumps(testpayer.DEFAULT_RULES_DOCUMENT))) == (
        DEFAULT_RULES
    )


def test_rules_read_json_numbers_exactly(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(
        '{"plans": [{"bin": "610014", "pcn": "", "copay": {"generic": 5.1}, '
        '"dispensing_fee": 1.10, "max_days_supply": 34}]}'
    )
    plan = load_rules(path).plans[0]
    assert (plan.copay_generic, plan.copay_brand, plan.dispensing_fee) == (
        Decimal("5.10"),
        Decimal("5.10"),
        Decimal("1.10"),
    )


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        (
            {"bin": "610014", "pcn": "X", "copay_generic": "5"},
            "plans[0]: unknown key 'copay_generic'",
        ),
        ({"pcn": "X"}, "plans[0]: 'bin' is required"),
        ({"bin": "61001", "pcn": "X"}, "plans[0].bin: '61001' is not a 6-digit BIN"),
        ({"bin": "610014", "pcn": "X", "copay": {"generic": "5.001"}}, "plans[0].copay.generic"),
        ({"bin": "610014", "pcn": "X", "dispensing_fee": "-1"}, "plans[0].dispensing_fee"),
        ({"bin": "610014", "pcn": "X", "not_covered": ["0009-3505-01"]}, "not_covered[0]"),
        ({"bin": "610014", "pcn": "X", "pa_pattern": "(["}, "plans[0].pa_pattern"),
        ({"bin": "610014", "pcn": "X", "secondary_only": "yes"}, "plans[0].secondary_only"),
        ({"bin": "610014", "pcn": "X", "dur_reject": {GENERIC: "drug"}}, "dur_reject"),
        ({"bin": "610014", "pcn": "X", "refill_too_soon_percent": "120"}, "more than 100"),
        ({"bin": "610014", "pcn": "X", "covered_to": "31/12/2026"}, "plans[0].covered_to"),
    ],
)
def test_a_bad_rules_document_is_refused_naming_the_key(plan, words):
    with pytest.raises(RulesError) as caught:
        rules_from_dict({"plans": [plan]})
    assert words in str(caught.value)


def test_a_plan_listed_twice_is_refused():
    with pytest.raises(RulesError, match="listed twice"):
        rules_from_dict({"plans": [PLAN, PLAN]})


# --------------------------------------------------------------------------------------
# The real process, over the socket


def over_the_wire(payer, req: Request, *, timeout: float = 5) -> Response:
    return decode_response(exchange(payer.host, payer.port, encode_request(req), timeout=timeout))


def test_the_process_adjudicates_over_tcp_and_survives_garbage(test_payer):
    payer = test_payer({"plans": [PLAN]})
    assert payer.log[0] == f"Test payer listening on 127.0.0.1:{payer.port}"
    response = over_the_wire(payer, request())
    assert response.transactions[0].is_paid
    assert payer.wait_for("B1 Rx 1042-0") == (
        "B1 Rx 1042-0 paid $7.62 patient pays $5.00 auth TP0000000001"
    )
    garbage = decode_response(exchange(payer.host, payer.port, b"\x1c\x1dgarbage", timeout=5))
    assert garbage.header.status is HeaderStatus.REJECTED
    payer.wait_for("transmission rejected")
    again = over_the_wire(payer, request(claim(rx="1043", ndc=BRAND)))
    assert again.transactions[0].authorization_number == "TP0000000002"


def test_the_process_drops_and_delays_as_told(test_payer):
    rules = PLAN | {
        "drop": ["DROPME"],
        "drop_after_paying": ["PAYTHENDROP"],
        "delay_ms": {"SLOWPOKE": 1500},
    }
    payer = test_payer({"plans": [rules]})
    with pytest.raises(SwitchNoAnswer):
        over_the_wire(payer, request(cardholder="DROPME"))
    with pytest.raises(SwitchNoAnswer):
        over_the_wire(payer, request(cardholder="PAYTHENDROP"))
    duplicate = over_the_wire(payer, request(cardholder="PAYTHENDROP"))
    assert duplicate.transactions[0].status == "D"
    assert duplicate.transactions[0].authorization_number == "TP0000000001"
    with pytest.raises(SwitchNoAnswer, match=r"within 0\.5 s"):
        over_the_wire(payer, request(claim(rx="77"), cardholder="SLOWPOKE"), timeout=0.5)
    # The late claim was recorded: sent again, it is a duplicate.
    late = over_the_wire(payer, request(claim(rx="77"), cardholder="SLOWPOKE"), timeout=5)
    assert late.transactions[0].status == "D"
    assert payer.wait_for("dropped (no answer)") == "B1 Rx 1042-0 dropped (no answer)"


def test_the_switch_goes_down_and_comes_back_remembering_what_it_paid(test_payer):
    payer = test_payer()  # the built-in rules
    port = payer.port
    paid = over_the_wire(payer, request())
    payer.stop()
    with pytest.raises(SwitchUnreachable, match="refused the connection"):
        over_the_wire(payer, request())
    payer.start_again()
    assert payer.port == port
    again = over_the_wire(payer, request())
    assert again.transactions[0].status == "D"
    assert again.transactions[0].authorization_number == paid.transactions[0].authorization_number
    payer.start_again(keep_memory=False)
    assert over_the_wire(payer, request()).transactions[0].status == "P"


def test_the_command_refuses_bad_rules_naming_the_key(tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"plans": [PLAN | {"copay": {"generic": "five"}}]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "RXDESK_"))}
    env |= {"DJANGO_SETTINGS_MODULE": "rxdesk.settings", "RXDESK_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "rxdesk.cli", "test-payer", "--port", "0", "--rules", str(rules)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode != 0
    assert "plans[0].copay.generic: 'five' is not an amount of money" in done.stderr
    assert done.stdout == ""


def test_serve_runs_in_process_until_told_to_stop():
    ports: list[int] = []
    lines: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=testpayer.serve,
        args=(rules_from_dict({"plans": [PLAN]}),),
        kwargs={"ready": ports.append, "log": lines.append, "stop": stop},
    )
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not ports and time.monotonic() < deadline:
            time.sleep(0.01)
        response = decode_response(
            exchange("127.0.0.1", ports[0], encode_request(request()), timeout=5)
        )
        assert response.transactions[0].is_paid
        assert lines == ["B1 Rx 1042-0 paid $7.62 patient pays $5.00 auth TP0000000001"]
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    with pytest.raises(SwitchUnreachable):
        exchange("127.0.0.1", ports[0], encode_request(request()), timeout=1)
