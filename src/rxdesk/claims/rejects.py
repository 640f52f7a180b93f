"""What a reject code (511-FB) means and what a technician does about it.

Pure knowledge, no database: the reject queue, the billing messages and the reports call
:func:`explain` for every code a payer returns. The table covers the codes of the team
reference ``messages-ncpdp-hl7-fhir.md`` §1.8 (the ~45 a pharmacy sees most) and the
family the reference describes beside it: a two-character code equal to a request field id
means "missing or invalid <that field>" (``DN`` → M/I Basis of Cost Determination), named
from :data:`rxdesk.claims.ncpdp.FIELDS`. Meanings are our paraphrases of the reference; the
advice is written for the person at the counter.

Codes 1–9 travel with or without a leading zero ("7" and "07"); both are read as "07".
A code we do not know is never an error: it comes back as "Unknown reject code X" with the
advice to call the plan's help desk, so a new code from a payer never stops the queue.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from rxdesk.claims.ncpdp import FIELDS

__all__ = [
    "CODES",
    "Fix",
    "Reject",
    "explain",
    "next_fill_date",
    "normalize",
    "preferred_ndcs",
    "summary",
]


class Fix(StrEnum):
    """The kind of work a reject usually needs; the reject queue offers its actions by it."""

    PRIOR_AUTH = "prior_auth"  # start or follow a prior authorization
    REFILL_TOO_SOON = "refill_too_soon"  # wait for the next-fill date or override (SCC)
    ALTERNATIVE = "alternative"  # a covered alternative product
    PLAN_LIMITS = "plan_limits"  # lower quantity / days supply to the plan's limit
    DUR = "dur"  # the pharmacist enters DUR/PPS codes
    PRESCRIBER = "prescriber"  # prescriber data, or something only the prescriber can give
    OTHER_PAYER = "other_payer"  # coordination of benefits: another payer first
    PATIENT_DATA = "patient_data"  # patient or coverage details (card, birth date, dates)
    PHARMACY = "pharmacy"  # the pharmacy's own data or contract
    RESUBMIT = "resubmit"  # correct the claim (or just wait) and send it again
    HELP_DESK = "help_desk"  # call the plan's help desk (or rxdesk support)


@dataclass(frozen=True)
class Reject:
    """One reject code explained: ``meaning`` in the standard's words, ``advice`` in ours."""

    code: str
    meaning: str
    fix: Fix
    advice: str


# Advice shared by several codes.
_CARD = (
    "Check the patient's insurance card against the coverage on file (BIN, PCN, group, "
    "cardholder ID, person code); correct the coverage and resubmit."
)
_PATIENT = (
    "Check the patient's details against the insurance card ({what}); correct the profile "
    "and resubmit."
)
_COVERAGE_DATES = (
    "Coverage is not in effect on the fill date: ask the patient for their current card, "
    "run an eligibility check, or bill another coverage or cash."
)
_CLAIM_FIELD = "Check the {what} on the fill, correct it and resubmit."
_NOT_COVERED = (
    "Not covered: offer a covered alternative (A-rated equivalent or formulary choice) or a "
    "PA, or cash."
)
_SOFTWARE = (
    "The claim message itself was refused (a software problem, not the patient's): resubmit "
    "once; if it comes back, call rxdesk support and the plan's help desk."
)
_SYSTEM_DOWN = (
    "The plan's system did not process the claim: resubmit in a few minutes; if it keeps "
    "failing, the pharmacist may let the fill proceed while the claim waits in the outbox."
)
_HELP = "Call the plan's help desk (phone on the claim) and ask what is needed; note the answer."

# code → (meaning, fix, advice). Reference §1.8, row by row.
_TABLE: dict[str, tuple[str, Fix, str]] = {
    "01": ("M/I BIN", Fix.PATIENT_DATA, _CARD),
    "04": ("M/I Processor Control Number", Fix.PATIENT_DATA, _CARD),
    "05": (
        "M/I Pharmacy (service provider) number",
        Fix.PHARMACY,
        "The plan does not accept the pharmacy's NPI: have the pharmacist in charge check "
        "the site's NPI in rxdesk and the pharmacy's enrollment with the plan.",
    ),
    "06": ("M/I Group ID", Fix.PATIENT_DATA, _CARD),
    "07": ("M/I Cardholder ID", Fix.PATIENT_DATA, _CARD),
    "08": (
        "M/I Person Code",
        Fix.PATIENT_DATA,
        "Check the person code on the card (01 cardholder, 02 spouse, 03+ dependants); "
        "correct the coverage and resubmit.",
    ),
    "09": ("M/I Date of Birth", Fix.PATIENT_DATA, _PATIENT.format(what="date of birth")),
    "10": ("M/I Patient Gender Code", Fix.PATIENT_DATA, _PATIENT.format(what="gender")),
    "11": (
        "M/I Patient Relationship Code",
        Fix.PATIENT_DATA,
        _PATIENT.format(what="relationship to the cardholder"),
    ),
    "13": (
        "M/I Other Coverage Code",
        Fix.OTHER_PAYER,
        "The plan wants the other-coverage code: say whether the patient has other "
        "insurance (and what it paid) and resubmit with the right code.",
    ),
    "15": ("M/I Date of Service", Fix.RESUBMIT, _CLAIM_FIELD.format(what="fill date")),
    "16": (
        "M/I Rx/Service Reference Number",
        Fix.RESUBMIT,
        _CLAIM_FIELD.format(what="prescription number"),
    ),
    "17": ("M/I Fill Number", Fix.RESUBMIT, _CLAIM_FIELD.format(what="fill (refill) number")),
    "19": ("M/I Days Supply", Fix.RESUBMIT, _CLAIM_FIELD.format(what="days supply")),
    "20": ("M/I Compound Code", Fix.RESUBMIT, _CLAIM_FIELD.format(what="compound indicator")),
    "21": ("M/I Product/Service ID", Fix.RESUBMIT, _CLAIM_FIELD.format(what="NDC")),
    "22": ("M/I DAW/Product Selection Code", Fix.RESUBMIT, _CLAIM_FIELD.format(what="DAW code")),
    "25": (
        "M/I Prescriber ID",
        Fix.PRESCRIBER,
        "Prescriber ID refused: check the prescriber's NPI on the prescription (look it up if "
        "needed), correct the prescriber and resubmit.",
    ),
    "28": (
        "M/I Date Prescription Written",
        Fix.RESUBMIT,
        _CLAIM_FIELD.format(what="date the prescription was written"),
    ),
    "29": (
        "M/I Number of Refills Authorized",
        Fix.RESUBMIT,
        _CLAIM_FIELD.format(what="number of refills on the prescription"),
    ),
    "34": (
        "M/I Submission Clarification Code",
        Fix.RESUBMIT,
        "The submission clarification code is wrong or not allowed: resubmit without it or "
        "with the code the plan asks for.",
    ),
    "40": (
        "Pharmacy not contracted with plan on date of service",
        Fix.PHARMACY,
        "The pharmacy is not in this plan's network: tell the patient, offer cash or another "
        "coverage, or transfer to an in-network pharmacy.",
    ),
    "41": (
        "Submit bill to other processor or primary payer",
        Fix.OTHER_PAYER,
        "Bill the primary first / other processor: check the order of the patient's "
        "coverages, bill the primary, then this plan with the primary's paid amounts.",
    ),
    "50": (
        "Non-matched pharmacy number",
        Fix.PHARMACY,
        "The plan does not know the pharmacy's number: have the pharmacist in charge check "
        "the site's NPI and the pharmacy's enrollment with the plan.",
    ),
    "52": ("Non-matched cardholder ID", Fix.PATIENT_DATA, _CARD),
    "54": (
        "Non-matched product/service ID number (NDC)",
        Fix.RESUBMIT,
        "The plan does not know this NDC: check the NDC against the package dispensed and "
        "resubmit; if it is right, call the help desk.",
    ),
    "56": (
        "Non-matched prescriber ID",
        Fix.PRESCRIBER,
        "The plan does not know this prescriber: check the prescriber's NPI, correct it and "
        "resubmit; if it is right, call the help desk.",
    ),
    "60": (
        "Product/service not covered for patient age",
        Fix.PATIENT_DATA,
        "Check the date of birth; if it is right, the drug is not covered at this age: offer "
        "a PA, a covered alternative, or cash.",
    ),
    "61": (
        "Not covered for patient gender",
        Fix.PATIENT_DATA,
        "Check the gender on the profile against the card; if it is right, offer a PA, a "
        "covered alternative, or cash.",
    ),
    "62": (
        "Patient/cardholder ID name mismatch",
        Fix.PATIENT_DATA,
        _PATIENT.format(what="name spelled exactly as on the card"),
    ),
    "64": (
        "Claim submitted does not match prior authorization",
        Fix.PRIOR_AUTH,
        "The claim differs from the approved PA: match the drug, quantity and days supply "
        "to the PA (see the PA case) and resubmit with the PA number.",
    ),
    "65": (
        "Patient is not covered",
        Fix.PATIENT_DATA,
        "The plan says the patient is not covered: check the card and person code, run an "
        "eligibility check, bill another coverage or cash.",
    ),
    "66": (
        "Patient age exceeds maximum age",
        Fix.PATIENT_DATA,
        "The patient is too old for this coverage (e.g. a dependant who aged out): check the "
        "birth date and ask for current insurance, or bill cash.",
    ),
    "67": ("Filled before coverage effective", Fix.PATIENT_DATA, _COVERAGE_DATES),
    "68": ("Filled after coverage expired", Fix.PATIENT_DATA, _COVERAGE_DATES),
    "69": ("Filled after coverage terminated", Fix.PATIENT_DATA, _COVERAGE_DATES),
    "70": ("Product/service not covered", Fix.ALTERNATIVE, _NOT_COVERED),
    "71": (
        "Prescriber is not covered",
        Fix.PRESCRIBER,
        "The plan does not cover this prescriber: check the prescriber's NPI; if it is "
        "right, tell the patient and offer cash or ask the prescriber.",
    ),
    "73": (
        "Refills are not covered",
        Fix.PRESCRIBER,
        "The plan will not pay for refills of this prescription: ask the prescriber for a new "
        "prescription, or bill cash.",
    ),
    "75": (
        "Prior authorization required",
        Fix.PRIOR_AUTH,
        "Start a prior authorization: the prescriber asks the plan; resubmit with the PA "
        "number once approved.",
    ),
    "76": (
        "Plan limitations exceeded (qty/days)",
        Fix.PLAN_LIMITS,
        "Plan limit: lower the quantity/days supply to the plan's limit and resubmit.",
    ),
    "77": (
        "Discontinued product/service ID",
        Fix.ALTERNATIVE,
        "The NDC is discontinued: dispense a current NDC of the same drug (or an A-rated "
        "equivalent) and resubmit.",
    ),
    "78": (
        "Cost exceeds maximum",
        Fix.PLAN_LIMITS,
        "The amount billed is over the plan's maximum: check the quantity and price "
        "submitted; if they are right, call the help desk for an override.",
    ),
    "79": (
        "Refill too soon",
        Fix.REFILL_TOO_SOON,
        "Too soon: check the next-fill date; for a vacation or lost supply ask the "
        "pharmacist and resubmit with submission clarification 3 or 4.",
    ),
    "80": (
        "Drug–diagnosis mismatch (diagnosis does not meet coverage criteria)",
        Fix.PRESCRIBER,
        "Ask the prescriber for the diagnosis code and resubmit with it; if it still does not "
        "qualify, start a PA or offer an alternative.",
    ),
    "81": (
        "Claim too old",
        Fix.HELP_DESK,
        "The fill date is past the plan's billing window: call the help desk for a late-claim "
        "override, or bill cash.",
    ),
    "82": (
        "Claim is post-dated",
        Fix.RESUBMIT,
        "The fill date is in the future: correct the fill date to today and resubmit.",
    ),
    "83": (
        "Duplicate paid/captured claim",
        Fix.HELP_DESK,
        "The plan already paid this fill: check the claim history; reverse the earlier claim "
        "first if it was wrong, otherwise nothing to resubmit.",
    ),
    "84": (
        "Claim has not been paid/captured (reversal of unknown claim)",
        Fix.HELP_DESK,
        "The plan has no paid claim to reverse: check the claim history; call the help desk "
        "if the plan shows it paid.",
    ),
    "85": ("Claim not processed", Fix.RESUBMIT, _SYSTEM_DOWN),
    "87": (
        "Reversal not processed",
        Fix.HELP_DESK,
        "The reversal did not go through: try the reversal again; if it fails, call the help "
        "desk so the plan does not keep paying for a fill not picked up.",
    ),
    "88": (
        "DUR reject",
        Fix.DUR,
        "DUR reject: the pharmacist reviews it and enters DUR/PPS codes (reason, service, "
        "result) to resubmit.",
    ),
    "92": ("System unavailable", Fix.RESUBMIT, _SYSTEM_DOWN),
    "95": ("Time out", Fix.RESUBMIT, _SYSTEM_DOWN),
    "99": ("Host processing error", Fix.RESUBMIT, _SYSTEM_DOWN),
    "AC": (
        "Product not covered – non-participating manufacturer",
        Fix.ALTERNATIVE,
        "This manufacturer's product is not covered: dispense the same drug from a "
        "participating manufacturer (another NDC) or a covered alternative, or cash.",
    ),
    "AE": (
        "QMB (Qualified Medicare Beneficiary) – bill Medicare",
        Fix.OTHER_PAYER,
        "Bill Medicare (Part B) first; then this plan as secondary with Medicare's paid amounts.",
    ),
    "AG": (
        "Days supply limitation for product/service",
        Fix.PLAN_LIMITS,
        "Plan limit: lower the days supply to the plan's limit (and the quantity to match) "
        "and resubmit.",
    ),
    "AJ": (
        "Generic drug required",
        Fix.ALTERNATIVE,
        "The plan pays only for the generic: dispense an A-rated generic and resubmit, or "
        "ask the prescriber about a PA for the brand.",
    ),
    "AM": ("M/I Segment Identification", Fix.HELP_DESK, _SOFTWARE),
    "E7": ("M/I Quantity Dispensed", Fix.RESUBMIT, _CLAIM_FIELD.format(what="quantity")),
    "M1": (
        "Patient not covered in this aid category",
        Fix.PATIENT_DATA,
        "The patient's Medicaid category does not cover this: check eligibility, bill another "
        "coverage or cash.",
    ),
    "M2": (
        "Recipient locked in",
        Fix.PHARMACY,
        "The patient is locked in to another pharmacy or prescriber: call the help desk; "
        "fill only as the plan allows, or bill cash.",
    ),
    "MR": ("Product not on formulary", Fix.ALTERNATIVE, _NOT_COVERED),
    "N1": (
        "No patient match found",
        Fix.PATIENT_DATA,
        _PATIENT.format(what="name, date of birth, cardholder ID and person code"),
    ),
    "NN": (
        "Transaction rejected at switch or intermediary",
        Fix.HELP_DESK,
        "The switch refused the claim before the plan saw it: resubmit once; if it comes "
        "back, call the switch or rxdesk support.",
    ),
    "PA": (
        "PA exhausted / not renewable",
        Fix.PRIOR_AUTH,
        "The prior authorization is used up or expired: start a new PA with the prescriber, "
        "or offer an alternative or cash.",
    ),
    "R8": ("Syntax error", Fix.HELP_DESK, _SOFTWARE),
    "R9": (
        "Gross amount due does not follow pricing formula",
        Fix.RESUBMIT,
        "The amounts on the claim do not add up: check the price of the drug and resubmit; "
        "if it comes back, call rxdesk support.",
    ),
    "RU": (
        "Mandatory elements must occur before optional elements in a segment",
        Fix.HELP_DESK,
        _SOFTWARE,
    ),
    "569": (
        "Provide notice: Medicare Prescription Drug Coverage and Your Rights",
        Fix.PHARMACY,
        'Give the patient the Medicare notice "Your Rights" (Part D); it comes with another '
        "reject such as MR or 75 — work that one too.",
    ),
    "600": ("Coverage outside submitted date of service", Fix.PATIENT_DATA, _COVERAGE_DATES),
    "608": (
        "Step therapy: alternate drug therapy required before the submitted product",
        Fix.ALTERNATIVE,
        "Step therapy: the plan wants a first-line drug tried first; ask the prescriber to "
        "switch, or to start a PA showing the first-line drug was tried.",
    ),
    "3Y": (
        "Prior authorization denied",
        Fix.PRIOR_AUTH,
        "The PA was denied: the prescriber may appeal (record it on the PA case), or offer a "
        "covered alternative or cash.",
    ),
}

# P1–P9 and R1–R8: counts, repetitions and syntax (reference §1.8, "other families"). The
# reference gives only the family, so each gets the family's meaning; R8 is in the table.
for _n in range(1, 10):
    _TABLE.setdefault(
        f"P{_n}",
        (f"Count, repetition or syntax error in the claim (P{_n})", Fix.HELP_DESK, _SOFTWARE),
    )
for _n in range(1, 8):
    _TABLE.setdefault(
        f"R{_n}",
        (f"Count, repetition or syntax error in the claim (R{_n})", Fix.HELP_DESK, _SOFTWARE),
    )

# The "M/I <field>" family applies to the fields a pharmacy sends. The fields of the
# response segments (AM20–AM29 and the response header) are the payer's own; a code equal
# to one of them is not a "missing or invalid" of ours and stays unknown.
_RESPONSE_FIELDS = frozenset(
    {
        *("F1", "F4", "AN", "FA", "FB", "4F", "5F", "6F", "UF", "UH", "FQ", "UG", "7F", "8F"),
        *("MA", "9F", "AP", "AR", "AS", "AT", "AU", "F5", "F6", "F7", "F9", "FM", "FI", "4U"),
        *("FH", "FC", "FD", "FE", "FK", "FN", "FL", "J1", "J2", "J3", "J4", "J5", "NZ", "UJ"),
        *("UK", "UM", "UN", "UP", "U8", "U9", "G3", "UC", "UD", "J6", "FS", "FT", "FU", "FV"),
        *("FW", "FX", "FY", "NS", "2F", "J7", "J8", "PR", "PS", "PT", "RA", "RB", "PW", "PX"),
        *("UR", "UQ", "U1", "FF", "U6", "NT", "UV", "UB", "UW", "UX", "UY", "PY", "F3"),
    }
)

# Which work an "M/I <field>" needs, by the segment the field sits in.
_FIELD_FIXES: dict[Fix, frozenset[str]] = {
    Fix.PATIENT_DATA: frozenset(
        {
            *("C2", "CC", "CD", "CE", "FO", "C9", "C1", "C3", "C6", "2A", "2B", "2D", "G2"),
            *("N5", "N6", "CX", "CY", "C4", "C5", "CA", "CB", "CM", "CN", "CO", "CP", "CQ"),
            *("C7", "CZ", "1C", "2C", "HN", "4X", "A1", "A4"),
        }
    ),
    Fix.PRESCRIBER: frozenset(
        {"EZ", "DB", "DR", "2J", "2K", "2M", "2N", "2P", "PM", "2E", "DL", "4E", "VE", "WE", "DO"}
    ),
    Fix.PHARMACY: frozenset({"B1", "B2", "EY", "E9"}),
    Fix.DUR: frozenset({"7E", "E4", "E5", "E6", "8E", "J9", "H6"}),
    Fix.PRIOR_AUTH: frozenset({"EU", "EV", "PA", "PB", "PC", "PD", "PP"}),
    Fix.OTHER_PAYER: frozenset(
        {
            *("MG", "MH", "NU", "MJ", "4C", "5C", "6C", "7C", "E8", "A7", "HB", "HC", "DV"),
            *("5E", "6E", "NR", "NP", "NQ", "MU", "MV", "MW", "C8"),
        }
    ),
    Fix.HELP_DESK: frozenset({"A2", "A3", "A9", "AK"}),  # the software's own header
}
_FIELD_ADVICE = {
    Fix.PATIENT_DATA: "Check the patient and coverage details against the insurance card "
    "({name}); correct them and resubmit.",
    Fix.PRESCRIBER: "Check the prescriber details ({name}) on the prescription; correct and "
    "resubmit.",
    Fix.PHARMACY: "The pharmacy's own details ({name}) were refused: ask the pharmacist in "
    "charge to check the site's settings.",
    Fix.DUR: "The pharmacist checks the DUR/PPS codes ({name}) and resubmits.",
    Fix.PRIOR_AUTH: "Check the prior authorization details ({name}) on the PA case and resubmit.",
    Fix.OTHER_PAYER: "Check the other payer's details ({name}) from the primary's answer and "
    "resubmit.",
    Fix.HELP_DESK: _SOFTWARE,
    Fix.RESUBMIT: "Check the {name} on the claim, correct it and resubmit.",
}


def _field_family(code: str) -> Reject | None:
    # Two digits are reject numbers, never field ids ("28" is a reject, not Unit of Measure).
    if len(code) != 2 or code.isdigit() or code in _RESPONSE_FIELDS:
        return None
    spec = FIELDS.get(code)
    if spec is None or not spec.name:
        return None
    fix = next((f for f, ids in _FIELD_FIXES.items() if code in ids), Fix.RESUBMIT)
    return Reject(code, f"M/I {spec.name}", fix, _FIELD_ADVICE[fix].format(name=spec.name))


def normalize(code: str) -> str:
    """The code as the table keys it: trimmed, upper case, numbers as at least two digits."""
    text = str(code).strip().upper()
    if text.isdigit():
        return str(int(text)).zfill(2)
    return text


CODES: Mapping[str, Reject] = MappingProxyType(
    {code: Reject(code, meaning, fix, advice) for code, (meaning, fix, advice) in _TABLE.items()}
)
"""Every code of the table (the field-id family is computed by :func:`explain`)."""


def explain(code: str) -> Reject:
    """What reject ``code`` means and what to do; unknown codes send the technician to the
    plan's help desk."""
    key = normalize(code)
    known = CODES.get(key) or _field_family(key)
    if known is not None:
        return known
    shown = key or "(blank)"
    return Reject(
        key,
        f"Unknown reject code {shown}",
        Fix.HELP_DESK,
        f"rxdesk does not know reject {shown}: {_HELP}",
    )


def summary(codes: Iterable[str]) -> str:
    """One line for a list of rejects: ``"75 Prior authorization required; 88 DUR reject"``.

    Blank codes are skipped and a code repeated by the payer is shown once."""
    seen: dict[str, Reject] = {}
    for code in codes:
        if not str(code).strip():
            continue
        reject = explain(code)
        seen.setdefault(reject.code, reject)
    return "; ".join(f"{r.code} {r.meaning}" for r in seen.values())


# Payers word the date a refill may be filled in their message (504-F4, 526-FQ) in many
# ways: "NEXT FILL 20250412", "Next fill date: 04/12/2025", "FILL ON OR AFTER 2025-04-12".
_NEXT_FILL = re.compile(
    r"(?:NEXT\s+(?:AVAILABLE\s+)?FILL(?:\s+DATE)?|FILL(?:ABLE)?\s+ON(?:\s+OR\s+AFTER)?|"
    r"REFILL\s+(?:ON|AFTER))\s*:?\s*"
    r"(?P<date>\d{8}|\d{1,2}/\d{1,2}/\d{2,4}|\d{4}-\d{2}-\d{2})",
    re.IGNORECASE,
)
# "Plan prefers NDC 00093123456, 00378123401" (what the billing service keeps of AM22's
# preferred products) or a payer's own "PREFERRED NDC 00093123456".
_PREFERRED = re.compile(r"PREF(?:ERS|ERRED)\s+(?:PRODUCT\s+)?(?:NDC|ID)?S?\s*:?\s*", re.I)
_NDC11 = re.compile(r"\b\d{11}\b")


def _date(text: str) -> dt.date | None:
    formats = ("%Y%m%d", "%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d")
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def next_fill_date(message: str) -> dt.date | None:
    """The first day a refill rejected 79 may be filled, when the payer's message says it."""
    match = _NEXT_FILL.search(message or "")
    return _date(match.group("date")) if match else None


def preferred_ndcs(message: str) -> list[str]:
    """The 11-digit NDCs a payer names as preferred (after a 70 or MR), in its order."""
    text = message or ""
    found: list[str] = []
    for match in _PREFERRED.finditer(text):
        tail = text[match.end() :].split(";", 1)[0]
        for ndc in _NDC11.findall(tail):
            if ndc not in found:
                found.append(ndc)
    return found
