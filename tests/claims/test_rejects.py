"""Reject codes (511-FB): every code of the reference §1.8 explained, with the fix and the
advice a technician follows. The expected table below is written from the reference, not
copied from rxdesk.claims.rejects."""

from __future__ import annotations

import pytest

from rxdesk.claims.ncpdp import FIELDS
from rxdesk.claims.rejects import CODES, Fix, Reject, explain, summary

F = Fix
# code: (meaning as in the reference §1.8, the fix a technician works)
REFERENCE: dict[str, tuple[str, Fix]] = {
    "01": ("M/I BIN", F.PATIENT_DATA),
    "04": ("M/I Processor Control Number", F.PATIENT_DATA),
    "05": ("M/I Pharmacy (service provider) number", F.PHARMACY),
    "06": ("M/I Group ID", F.PATIENT_DATA),
    "07": ("M/I Cardholder ID", F.PATIENT_DATA),
    "08": ("M/I Person Code", F.PATIENT_DATA),
    "09": ("M/I Date of Birth", F.PATIENT_DATA),
    "10": ("M/I Patient Gender Code", F.PATIENT_DATA),
    "11": ("M/I Patient Relationship Code", F.PATIENT_DATA),
    "13": ("M/I Other Coverage Code", F.OTHER_PAYER),
    "15": ("M/I Date of Service", F.RESUBMIT),
    "16": ("M/I Rx/Service Reference Number", F.RESUBMIT),
    "17": ("M/I Fill Number", F.RESUBMIT),
    "19": ("M/I Days Supply", F.RESUBMIT),
    "20": ("M/I Compound Code", F.RESUBMIT),
    "21": ("M/I Product/Service ID", F.RESUBMIT),
    "22": ("M/I DAW/Product Selection Code", F.RESUBMIT),
    "25": ("M/I Prescriber ID", F.PRESCRIBER),
    "28": ("M/I Date Prescription Written", F.RESUBMIT),
    "29": ("M/I Number of Refills Authorized", F.RESUBMIT),
    "34": ("M/I Submission Clarification Code", F.RESUBMIT),
    "40": ("Pharmacy not contracted with plan on date of service", F.PHARMACY),
    "41": ("Submit bill to other processor or primary payer", F.OTHER_PAYER),
    "50": ("Non-matched pharmacy number", F.PHARMACY),
    "52": ("Non-matched cardholder ID", F.PATIENT_DATA),
    "54": ("Non-matched product/service ID number (NDC)", F.RESUBMIT),
    "56": ("Non-matched prescriber ID", F.PRESCRIBER),
    "60": ("Product/service not covered for patient age", F.PATIENT_DATA),
    "61": ("Not covered for patient gender", F.PATIENT_DATA),
    "62": ("Patient/cardholder ID name mismatch", F.PATIENT_DATA),
    "64": ("Claim submitted does not match prior authorization", F.PRIOR_AUTH),
    "65": ("Patient is not covered", F.PATIENT_DATA),
    "66": ("Patient age exceeds maximum age", F.PATIENT_DATA),
    "67": ("Filled before coverage effective", F.PATIENT_DATA),
    "68": ("Filled after coverage expired", F.PATIENT_DATA),
    "69": ("Filled after coverage terminated", F.PATIENT_DATA),
    "70": ("Product/service not covered", F.ALTERNATIVE),
    "71": ("Prescriber is not covered", F.PRESCRIBER),
    "73": ("Refills are not covered", F.PRESCRIBER),
    "75": ("Prior authorization required", F.PRIOR_AUTH),
    "76": ("Plan limitations exceeded (qty/days)", F.PLAN_LIMITS),
    "77": ("Discontinued product/service ID", F.ALTERNATIVE),
    "78": ("Cost exceeds maximum", F.PLAN_LIMITS),
    "79": ("Refill too soon", F.REFILL_TOO_SOON),
    "80": ("Drug–diagnosis mismatch (diagnosis does not meet coverage criteria)", F.PRESCRIBER),
    "81": ("Claim too old", F.HELP_DESK),
    "82": ("Claim is post-dated", F.RESUBMIT),
    "83": ("Duplicate paid/captured claim", F.HELP_DESK),
    "84": ("Claim has not been paid/captured (reversal of unknown claim)", F.HELP_DESK),
    "85": ("Claim not processed", F.RESUBMIT),
    "87": ("Reversal not processed", F.HELP_DESK),
    "88": ("DUR reject", F.DUR),
    "92": ("System unavailable", F.RESUBMIT),
    "95": ("Time out", F.RESUBMIT),
    "99": ("Host processing error", F.RESUBMIT),
    "AC": ("Product not covered – non-participating manufacturer", F.ALTERNATIVE),
    "AE": ("QMB (Qualified Medicare Beneficiary) – bill Medicare", F.OTHER_PAYER),
    "AG": ("Days supply limitation for product/service", F.PLAN_LIMITS),
    "AJ": ("Generic drug required", F.ALTERNATIVE),
    "AM": ("M/I Segment Identification", F.HELP_DESK),
    "E7": ("M/I Quantity Dispensed", F.RESUBMIT),
    "M1": ("Patient not covered in this aid category", F.PATIENT_DATA),
    "M2": ("Recipient locked in", F.PHARMACY),
    "MR": ("Product not on formulary", F.ALTERNATIVE),
    "N1": ("No patient match found", F.PATIENT_DATA),
    "NN": ("Transaction rejected at switch or intermediary", F.HELP_DESK),
    "PA": ("PA exhausted / not renewable", F.PRIOR_AUTH),
    "R8": ("Syntax error", F.HELP_DESK),
    "R9": ("Gross amount due does not follow pricing formula", F.RESUBMIT),
    "RU": ("Mandatory elements must occur before optional elements in a segment", F.HELP_DESK),
    "569": ("Provide notice: Medicare Prescription Drug Coverage and Your Rights", F.PHARMACY),
    "600": ("Coverage outside submitted date of service", F.PATIENT_DATA),
    "608": (
        "Step therapy: alternate drug therapy required before the submitted product",
        F.ALTERNATIVE,
    ),
    "3Y": ("Prior authorization denied", F.PRIOR_AUTH),
}
FAMILY = [f"P{n}" for n in range(1, 10)] + [f"R{n}" for n in range(1, 8)]


@pytest.mark.parametrize("code", sorted(REFERENCE))
def test_it_explains_every_reference_code(code):
    meaning, fix = REFERENCE[code]

    reject = explain(code)

    assert reject == Reject(code, meaning, fix, reject.advice)
    assert reject.advice.endswith(".")
    assert len(reject.advice) >= 40
    assert "Unknown" not in reject.meaning


@pytest.mark.parametrize("code", FAMILY)
def test_it_explains_the_count_and_syntax_family(code):
    reject = explain(code)

    assert reject.meaning == f"Count, repetition or syntax error in the claim ({code})"
    assert reject.fix == Fix.HELP_DESK
    assert "software problem" in reject.advice


def test_the_table_holds_exactly_the_reference_codes_and_the_family():
    assert set(CODES) == set(REFERENCE) | set(FAMILY)
    assert all(CODES[code].code == code for code in CODES)


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        (
            "75",
            "Start a prior authorization: the prescriber asks the plan; resubmit with the PA "
            "number once approved.",
        ),
        (
            "79",
            "Too soon: check the next-fill date; for a vacation or lost supply ask the "
            "pharmacist and resubmit with submission clarification 3 or 4.",
        ),
        (
            "70",
            "Not covered: offer a covered alternative (A-rated equivalent or formulary choice) "
            "or a PA, or cash.",
        ),
        (
            "MR",
            "Not covered: offer a covered alternative (A-rated equivalent or formulary choice) "
            "or a PA, or cash.",
        ),
        ("76", "Plan limit: lower the quantity/days supply to the plan's limit and resubmit."),
        (
            "88",
            "DUR reject: the pharmacist reviews it and enters DUR/PPS codes (reason, service, "
            "result) to resubmit.",
        ),
    ],
)
def test_the_workhorse_codes_give_the_counter_advice(code, advice):
    assert explain(code).advice == advice


def test_25_and_41_say_what_to_fix():
    assert "NPI" in explain("25").advice
    assert "prescriber" in explain("25").advice
    assert explain("41").advice.startswith("Bill the primary first / other processor")


@pytest.mark.parametrize(
    ("given", "code"),
    [("7", "07"), ("07", "07"), ("007", "07"), (" 75 ", "75"), ("mr", "MR"), ("3y", "3Y")],
)
def test_it_reads_codes_with_or_without_the_leading_zero_and_in_any_case(given, code):
    assert explain(given) == CODES[code]


@pytest.mark.parametrize(
    ("code", "meaning", "fix"),
    [
        ("DN", "M/I Basis of Cost Determination", F.RESUBMIT),
        ("DU", "M/I Gross Amount Due", F.RESUBMIT),
        ("EZ", "M/I Prescriber ID Qualifier", F.PRESCRIBER),
        ("CY", "M/I Patient ID", F.PATIENT_DATA),
        ("AK", "M/I Software Vendor/Certification ID", F.HELP_DESK),
        ("A9", "M/I Transaction Count", F.HELP_DESK),
        ("C2", "M/I Cardholder ID", F.PATIENT_DATA),
        ("EV", "M/I Prior Authorization Number Submitted", F.PRIOR_AUTH),
        ("E4", "M/I Reason for Service Code", F.DUR),
        ("DV", "M/I Other Payer Amount Paid", F.OTHER_PAYER),
        ("B1", "M/I Service Provider ID", F.PHARMACY),
    ],
)
def test_a_request_field_id_means_missing_or_invalid_that_field(code, meaning, fix):
    reject = explain(code)

    assert (reject.code, reject.meaning, reject.fix) == (code, meaning, fix)
    assert FIELDS[code].name in reject.advice or fix == F.HELP_DESK


def test_every_request_field_id_not_in_the_table_is_named():
    for field_id, spec in FIELDS.items():
        if len(field_id) != 2 or field_id.isdigit() or field_id in CODES:
            continue
        reject = explain(field_id)
        if reject.meaning.startswith("Unknown"):
            continue  # a response field: the payer's, never "missing" in our claim
        assert reject.meaning == f"M/I {spec.name}", field_id


@pytest.mark.parametrize("code", ["F5", "FB", "AN", "PY", "F3"])
def test_response_field_ids_are_not_read_as_missing_fields(code):
    assert explain(code).meaning == f"Unknown reject code {code}"


def test_the_table_wins_over_a_field_id_of_the_same_spelling():
    assert explain("PA").meaning == "PA exhausted / not renewable"  # PA is also Request Type
    assert explain("28").meaning == "M/I Date Prescription Written"  # 28 is Unit of Measure


@pytest.mark.parametrize("code", ["8W", "ZZ9", "X", "00", "1234"])
def test_an_unknown_code_sends_the_technician_to_the_help_desk(code):
    reject = explain(code)

    assert reject.code == code
    assert reject.meaning == f"Unknown reject code {code}"
    assert reject.fix == Fix.HELP_DESK
    assert "help desk" in reject.advice


def test_a_blank_code_is_unknown_not_an_error():
    assert explain("  ").meaning == "Unknown reject code (blank)"


def test_summary_joins_code_and_meaning_in_order():
    assert summary(["75", "88"]) == "75 Prior authorization required; 88 DUR reject"


def test_summary_normalizes_skips_blanks_and_shows_a_repeat_once():
    assert summary(["7", "", "07", "8W"]) == "07 M/I Cardholder ID; 8W Unknown reject code 8W"


def test_summary_of_nothing_is_empty():
    assert summary([]) == ""


def test_fix_values_are_stable_names():
    assert [f.value for f in Fix] == [
        "prior_auth",
        "refill_too_soon",
        "alternative",
        "plan_limits",
        "dur",
        "prescriber",
        "other_payer",
        "patient_data",
        "pharmacy",
        "resubmit",
        "help_desk",
    ]
