"""The CLIA-waived point-of-care tests a community pharmacy performs, and how a result is
read. Pure: no database; the services of rxdesk.care.services_poct call it.

Each test has a code (stored on the result row), a name, its LOINC code, the specimens its
waived kits take, and its result kind:

- qualitative (antigen and antibody tests): positive, negative, or invalid (the control
  line did not show: repeat with a new device);
- numeric (meters: HbA1c, glucose, lipids, INR): a value in the unit the meter shows, with
  the meter's measuring range (anything outside it is not a result: re-test or send to a
  laboratory), the reference range, and critical limits that call for a referral now.

A combined influenza A/B device reads two results; each is recorded (and reported) under
its own LOINC code, so the catalog has one entry per analyte (flu_a, flu_b). The same
holds for a lipid panel (total cholesterol, HDL, triglycerides).

LOINC codes were checked against loinc.org and laboratory catalogs (see each entry); the
one marked "(unverified)" is the generic code where no waived-rapid-test code was found.

Reference ranges and critical limits are common adult values (ADA for HbA1c and glucose,
NCEP ATP III for lipids, the usual warfarin target for INR). The pharmacy's protocol and
the patient's prescriber decide treatment; rxdesk only flags what needs a follow-up."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# The values of rxdesk.care.choices.PocResult / PocInterpretation (plain strings here: no
# Django needed to read a result).
POSITIVE, NEGATIVE, INVALID, VALUE = "positive", "negative", "invalid", "value"
NORMAL, ABNORMAL, CRITICAL, NOT_INTERPRETED = "normal", "abnormal", "critical", ""

QUALITATIVE, NUMERIC = "qualitative", "numeric"

# Severity order of an interpretation (for sorting and the monotonicity property).
SEVERITY = {NOT_INTERPRETED: 0, NORMAL: 0, ABNORMAL: 1, CRITICAL: 2}


class ResultError(ValueError):
    """A result that cannot be recorded as given; ``field`` names the input at fault."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class PocTest:
    code: str
    name: str
    loinc: str
    specimens: tuple[str, ...]
    kind: str
    unit: str = ""
    # The meter's measuring range: a value outside it is not a result.
    plausible: tuple[Decimal, Decimal] | None = None
    # The reference range; None on a side means no limit on that side.
    ref_low: Decimal | None = None
    ref_high: Decimal | None = None
    # At or beyond these the result is critical: act now, refer.
    critical_low: Decimal | None = None
    critical_high: Decimal | None = None
    decimals: int = 0
    # A positive screen must be confirmed elsewhere (HIV, HCV): a referral is required.
    refer_positive: bool = False
    # What a positive (or out-of-range) result calls for, said to the person recording it.
    advice: str = ""

    @property
    def numeric(self) -> bool:
        return self.kind == NUMERIC

    @property
    def reference_range(self) -> str:
        """The reference range as printed on the result ("70–139 mg/dL", "Negative")."""
        if not self.numeric:
            return "Negative"
        unit = f" {self.unit}" if self.unit and self.unit != "INR" else ""
        if self.ref_low is not None and self.ref_high is not None:
            return f"{self.ref_low}–{self.ref_high}{unit}"
        if self.ref_high is not None:
            return f"≤ {self.ref_high}{unit}"
        if self.ref_low is not None:
            return f"≥ {self.ref_low}{unit}"
        return ""

    @property
    def results(self) -> tuple[str, ...]:
        """The results this test may be recorded with."""
        return (VALUE, INVALID) if self.numeric else (POSITIVE, NEGATIVE, INVALID)


def _d(text: str) -> Decimal:
    return Decimal(text)


CATALOG: tuple[PocTest, ...] = (
    PocTest(
        code="flu_a",
        name="Influenza A antigen (rapid)",
        # Influenza virus A Ag [Presence] in Upper respiratory specimen by Rapid immunoassay
        loinc="80382-5",
        specimens=("Nasal swab", "Nasopharyngeal swab"),
        kind=QUALITATIVE,
        advice=(
            "Influenza A: assess for antiviral treatment under protocol or refer to the prescriber."
        ),
    ),
    PocTest(
        code="flu_b",
        name="Influenza B antigen (rapid)",
        # Influenza virus B Ag [Presence] in Upper respiratory specimen by Rapid immunoassay
        loinc="80383-3",
        specimens=("Nasal swab", "Nasopharyngeal swab"),
        kind=QUALITATIVE,
        advice=(
            "Influenza B: assess for antiviral treatment under protocol or refer to the prescriber."
        ),
    ),
    PocTest(
        code="strep_a",
        name="Group A strep antigen (rapid)",
        loinc="78012-2",  # Streptococcus pyogenes Ag [Presence] in Throat by Rapid immunoassay
        specimens=("Throat swab",),
        kind=QUALITATIVE,
        advice="Group A strep: antibiotic under protocol or refer to the prescriber.",
    ),
    PocTest(
        code="covid_ag",
        name="SARS-CoV-2 antigen (rapid)",
        # SARS-CoV-2 (COVID-19) Ag [Presence] in Respiratory specimen by Rapid immunoassay
        loinc="94558-4",
        specimens=("Nasal swab", "Nasopharyngeal swab"),
        kind=QUALITATIVE,
        advice=(
            "COVID-19: assess for antiviral treatment and isolation "
            "advice; report as the state requires."
        ),
    ),
    PocTest(
        code="hba1c",
        name="Hemoglobin A1c",
        loinc="4548-4",  # Hemoglobin A1c/Hemoglobin.total in Blood
        specimens=("Capillary blood (fingerstick)",),
        kind=NUMERIC,
        unit="%",
        plausible=(_d("4.0"), _d("14.0")),
        ref_low=_d("4.0"),
        ref_high=_d("5.6"),
        decimals=1,
        advice=(
            "A1c at or above 5.7 %: prediabetes or diabetes range — "
            "refer to the primary care provider."
        ),
    ),
    PocTest(
        code="glucose",
        name="Blood glucose",
        loinc="41653-7",  # Glucose [Mass/volume] in Capillary blood by Glucometer
        specimens=("Capillary blood (fingerstick)",),
        kind=NUMERIC,
        unit="mg/dL",
        plausible=(_d("20"), _d("600")),
        ref_low=_d("70"),
        ref_high=_d("139"),
        critical_low=_d("50"),
        critical_high=_d("400"),
        advice="Glucose outside 70–139 mg/dL: counsel and refer to the primary care provider.",
    ),
    PocTest(
        code="chol_total",
        name="Total cholesterol",
        # Cholesterol [Mass/volume] in Serum or Plasma: the code laboratories and the
        # waived lipid analyzers' interfaces report total cholesterol under.
        loinc="2093-3",
        specimens=("Capillary blood (fingerstick)",),
        kind=NUMERIC,
        unit="mg/dL",
        plausible=(_d("100"), _d("500")),
        ref_high=_d("199"),
        advice="Total cholesterol 200 mg/dL or more: refer to the primary care provider.",
    ),
    PocTest(
        code="hdl",
        name="HDL cholesterol",
        loinc="2085-9",  # Cholesterol in HDL [Mass/volume] in Serum or Plasma
        specimens=("Capillary blood (fingerstick)",),
        kind=NUMERIC,
        unit="mg/dL",
        plausible=(_d("15"), _d("100")),
        ref_low=_d("40"),
        advice=(
            "HDL under 40 mg/dL: a heart-disease risk factor — refer to the primary care provider."
        ),
    ),
    PocTest(
        code="triglycerides",
        name="Triglycerides",
        loinc="2571-8",  # Triglyceride [Mass/volume] in Serum or Plasma
        specimens=("Capillary blood (fingerstick)",),
        kind=NUMERIC,
        unit="mg/dL",
        plausible=(_d("45"), _d("650")),
        ref_high=_d("149"),
        critical_high=_d("500"),
        advice=(
            "Triglycerides 150 mg/dL or more: refer; 500 or more risks pancreatitis — refer now."
        ),
    ),
    PocTest(
        code="inr",
        name="PT/INR",
        loinc="34714-6",  # INR in Blood by Coagulation assay (fingerstick meters)
        specimens=("Capillary blood (fingerstick)",),
        kind=NUMERIC,
        unit="INR",
        plausible=(_d("0.8"), _d("8.0")),
        # The usual warfarin target; the prescriber sets the patient's own goal.
        ref_low=_d("2.0"),
        ref_high=_d("3.0"),
        critical_high=_d("5.0"),
        decimals=1,
        advice=(
            "INR outside the target: adjust under the "
            "anticoagulation protocol or call the prescriber."
        ),
    ),
    PocTest(
        code="hiv",
        name="HIV-1/2 antibody (rapid)",
        loinc="80387-4",  # HIV 1+2 Ab [Presence] in Serum, Plasma or Blood by Rapid immunoassay
        specimens=("Capillary blood (fingerstick)", "Oral fluid"),
        kind=QUALITATIVE,
        refer_positive=True,
        advice=(
            "A reactive HIV screen is preliminary: refer for "
            "confirmatory testing and care the same day."
        ),
    ),
    PocTest(
        code="hcv",
        name="HCV antibody (rapid)",
        # Hepatitis C virus Ab [Presence] in Serum or Plasma by Immunoassay. (unverified: no
        # rapid-immunoassay-specific code was confirmed; the generic HCV Ab code is used.)
        loinc="13955-0",
        specimens=("Capillary blood (fingerstick)",),
        kind=QUALITATIVE,
        refer_positive=True,
        advice="A reactive HCV antibody needs an HCV RNA test: refer for confirmation and care.",
    ),
)

BY_CODE: dict[str, PocTest] = {t.code: t for t in CATALOG}


def lookup(code: str) -> PocTest:
    """The catalog entry for ``code``; :class:`ResultError` if there is none."""
    found = BY_CODE.get((code or "").strip().lower())
    if found is None:
        raise ResultError("Not a point-of-care test rxdesk knows.", field="test_code")
    return found


def parse_value(test: PocTest, value: object) -> Decimal:
    """A meter reading as a Decimal in the test's unit: inside the measuring range and
    with no more decimals than the meter shows. Anything else asks for a re-test."""
    if isinstance(value, float):  # a float is never a dose or a reading here
        value = repr(value)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ResultError("Type the number the meter shows.", field="value") from None
    if not number.is_finite():
        raise ResultError("Type the number the meter shows.", field="value")
    exponent = number.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > test.decimals:
        shown = "whole numbers" if test.decimals == 0 else f"{test.decimals} decimal place"
        raise ResultError(f"The {test.name} meter shows {shown}.", field="value")
    assert test.plausible is not None
    low, high = test.plausible
    if not low <= number <= high:
        unit = f" {test.unit}" if test.unit else ""
        raise ResultError(
            f"{number}{unit} is outside what the {test.name} meter measures ({low}–{high}): "
            "re-test, or send the patient to a laboratory.",
            field="value",
        )
    return number


def interpret(test: PocTest, result: str, value: Decimal | None) -> tuple[str, bool, str]:
    """Read a result: ``(interpretation, needs_follow_up, why)``.

    The interpretation is one of normal / abnormal / critical / "" (not interpreted: an
    invalid run). A positive screen, a value outside the reference range and a critical
    value need a documented follow-up. Raises :class:`ResultError` for a result that does
    not fit the test (a value for an antigen test, a value outside the measuring range)."""
    if result not in test.results:
        allowed = ", ".join(test.results)
        raise ResultError(f"A {test.name} result is one of: {allowed}.", field="result")
    if result == INVALID:
        if value is not None:
            raise ResultError("An invalid run has no value.", field="value")
        return NOT_INTERPRETED, False, "Invalid run: repeat with a new test device."
    if not test.numeric:
        if value is not None:
            raise ResultError(f"A {test.name} result has no value.", field="value")
        if result == POSITIVE:
            return ABNORMAL, True, f"Positive. {test.advice}"
        return NORMAL, False, "Negative."
    if value is None:
        raise ResultError("Type the value the meter shows.", field="value")
    number = parse_value(test, value)
    unit = f" {test.unit}" if test.unit and test.unit != "INR" else ""
    if test.critical_low is not None and number <= test.critical_low:
        return CRITICAL, True, f"Critical: {number}{unit} (at or below {test.critical_low})."
    if test.critical_high is not None and number >= test.critical_high:
        return CRITICAL, True, f"Critical: {number}{unit} (at or above {test.critical_high})."
    if test.ref_low is not None and number < test.ref_low:
        return ABNORMAL, True, f"Low: {number}{unit} ({test.reference_range}). {test.advice}"
    if test.ref_high is not None and number > test.ref_high:
        return ABNORMAL, True, f"High: {number}{unit} ({test.reference_range}). {test.advice}"
    return NORMAL, False, f"Within the reference range ({test.reference_range})."


def needs_referral(test: PocTest, result: str, interpretation: str) -> bool:
    """Whether the result must be referred: a critical value, or a positive screen that
    only a laboratory can confirm (HIV, HCV)."""
    return interpretation == CRITICAL or (test.refer_positive and result == POSITIVE)


__all__ = [
    "ABNORMAL",
    "BY_CODE",
    "CATALOG",
    "CRITICAL",
    "INVALID",
    "NEGATIVE",
    "NORMAL",
    "NOT_INTERPRETED",
    "NUMERIC",
    "POSITIVE",
    "QUALITATIVE",
    "SEVERITY",
    "VALUE",
    "PocTest",
    "ResultError",
    "interpret",
    "lookup",
    "needs_referral",
    "parse_value",
]
