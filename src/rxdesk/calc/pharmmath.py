"""Pharmacy math with its work shown: ratio-proportion, percent and ratio strengths,
dilution, alligation, milliequivalents, osmolarity, weight- and BSA-based doses, IV flow
rates, temperatures and the historic pediatric rules.

Pure: no Django. Decimal throughout; every unit conversion goes through pint
(:mod:`rxdesk.calc.units`). The formulas, constants and worked problems are those of the
domain reference ``identifiers-labels-math.md`` §6 (its §6.15 problems are the tests).

Every function is keyword-only, takes each amount with its unit, and returns a
:class:`Calculation`: the answers (each kept unrounded, with the half-up rounded value to
read or measure), the steps of the arithmetic with their units (:class:`units.Step`), and
warnings. Bad input raises :class:`units.UnitError` naming the argument.

Rounding (reference §6 notes and §6.14): nothing is rounded until the end, always
``ROUND_HALF_UP``; the rounded value is shown beside the calculated one.

- volumes to measure: 0.01 mL under 1 mL, 0.1 mL from 1 mL (a syringe's graduation);
- pump rates: 0.1 mL/h; gravity drips: whole drops per minute;
- BSA: 0.01 m²; percent strengths: 4 places; kcal and mOsm/L: whole numbers;
- other amounts (mg, mEq, units…): 3 places under 1, 2 places under 100, 1 place above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import pint

from rxdesk.calc import units
from rxdesk.calc.units import Step, UnitError

D = Decimal
HUNDRED = D(100)

# Inputs larger than this are typing mistakes or hostile; refused, naming the field.
MAX_INPUT = D("1e12")
# Unit conversions are exact in theory, not in 28-digit Decimal: results are kept to 1e-18.
NOISE_PLACES = 18

# §6.8 BSA formulas (height in cm, weight in kg).
MOSTELLER_DIVISOR = D(3600)
DUBOIS_FACTOR = D("0.007184")
DUBOIS_WEIGHT_EXPONENT = D("0.425")
DUBOIS_HEIGHT_EXPONENT = D("0.725")
ADULT_BSA_M2 = D("1.73")  # the "BSA rule" of §6.8
CLARK_ADULT_LB = D(150)
YOUNG_AGE_OFFSET = D(12)
FRIED_ADULT_MONTHS = D(150)

# §6.10: macrodrip 10, 15, 20 gtt/mL; microdrip 60 gtt/mL.
DROP_FACTORS = (10, 15, 20, 60)

StrengthKind = Literal["w/v", "w/w", "v/v"]
STRENGTH_KINDS: dict[str, tuple[str, str, str]] = {
    # kind: (solute unit, preparation unit, concentration shown in)
    "w/v": ("g", "mL", "mg/mL"),
    "w/w": ("g", "g", "mg/g"),
    "v/v": ("mL", "mL", "mL/L"),
}
STRENGTH_LABELS = {
    "w/v": "w/v (g per 100 mL)",
    "w/w": "w/w (g per 100 g)",
    "v/v": "v/v (mL per 100 mL)",
}


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One answer: its calculated (unrounded) value and the half-up rounded value to read,
    measure or program, at ``places`` decimals."""

    name: str
    label: str
    value: Decimal
    unit: str
    places: int

    @property
    def rounded(self) -> Decimal:
        return units.rounded(self.value, self.places)

    @property
    def text(self) -> str:
        return units.show(self.value, self.unit, self.places)

    @property
    def calculated_text(self) -> str:
        return units.show(self.value, self.unit, max(self.places, 4))

    @property
    def was_rounded(self) -> bool:
        return self.rounded != self.value

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "value": _plain(self.value),
            "rounded": _plain(self.rounded),
            "unit": self.unit,
            "text": self.text,
        }


@dataclass(frozen=True)
class Calculation:
    """What a calculator answers: the answers, the work shown, warnings, and a one-line
    summary of the result."""

    kind: str
    title: str
    answers: list[Answer]
    steps: list[Step]
    warnings: list[str] = field(default_factory=list)
    summary: str = ""

    def answer(self, name: str) -> Answer:
        for a in self.answers:
            if a.name == name:
                return a
        raise KeyError(name)

    def value(self, name: str) -> Decimal:
        return self.answer(name).value

    def rounded(self, name: str) -> Decimal:
        return self.answer(name).rounded

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "summary": self.summary,
            "answers": [a.as_dict() for a in self.answers],
            "steps": [s.as_dict() for s in self.steps],
            "warnings": list(self.warnings),
        }


# --- helpers ----------------------------------------------------------------------------------


def _plain(value: Decimal) -> str:
    """A Decimal as plain digits (no exponent), trailing zeros dropped."""
    text = f"{Decimal(value).normalize():f}"
    return "0" if text in ("-0", "") else text


def _n(value: Decimal) -> str:
    """A number as typed in an expression (4 places at most)."""
    return units.show(Decimal(value), "", 4)


def _s(value: Decimal, unit: str, places: int = 4) -> str:
    return units.show(Decimal(value), unit, places)


def amount_places(value: Decimal) -> int:
    size = abs(value)
    if size >= 100:
        return 1
    if size >= 1:
        return 2
    return 3


def volume_places(value_ml: Decimal) -> int:
    """0.01 mL under 1 mL (a 1 mL syringe), 0.1 mL above (§6.14)."""
    return 2 if abs(value_ml) < 1 else 1


def number(value: Any, *, field: str, zero_ok: bool = False, negative_ok: bool = False) -> Decimal:
    """``value`` as a finite Decimal within rxdesk's bounds; zero and negative numbers are
    refused unless allowed (a strength, a volume, a weight cannot be)."""
    n = units.decimal_of(value, field=field)
    if abs(n) > MAX_INPUT:
        raise UnitError("That number is too large for this calculation.", field=field)
    if not negative_ok and n < 0:
        raise UnitError("Give a number that is not negative.", field=field)
    if not zero_ok and not negative_ok and n == 0:
        raise UnitError("Give a number greater than zero.", field=field)
    return n


def _clean(value: Decimal) -> Decimal:
    """Drops the noise a chain of unit conversions leaves in the 28th digit (31.25 h→min
    arithmetic giving 31.25000000000000000000000001): kept to 1e-18, far below any dose."""
    return units.rounded(value, NOISE_PLACES).normalize()


def _wv(q: Any) -> Any:
    """A percent strength as w/v (g per 100 mL); any other strength unchanged."""
    if q.units == units.unit_of("%"):
        return units.Quantity(q.magnitude, units.unit_of("g")) / units.Quantity(
            HUNDRED, units.unit_of("mL")
        )
    return q


def _dims(unit: str) -> Any:
    return units.ureg.Quantity(1, units.unit_of(unit)).dimensionality


def qty(
    value: Any,
    unit: str,
    *,
    field: str,
    like: str | None = None,
    what: str = "",
    zero_ok: bool = False,
    unit_field: str | None = None,
) -> Any:
    """A pint quantity of ``value`` ``unit``; with ``like``, the unit must measure the same
    thing as ``like`` (a volume, a mass…), else the unit field is named."""
    n = number(value, field=field, zero_ok=zero_ok)
    ufield = unit_field or f"{field}_unit"
    u = units.unit_of(unit, field=ufield)
    q = units.Quantity(n, u)
    if like is not None and q.dimensionality != _dims(like):
        raise UnitError(f"{unit} is not {what or 'the right kind of'} unit.", field=ufield)
    return q


def magnitude(q: Any, unit: str, *, field: str, message: str | None = None) -> Decimal:
    """The Decimal magnitude of ``q`` in ``unit`` (pint does the conversion)."""
    try:
        return _clean(Decimal(q.to(units.unit_of(unit)).magnitude))
    except pint.DimensionalityError as exc:
        raise UnitError(
            message or f"{q.units:~} cannot be expressed in {unit}: they measure different things.",
            field=field,
        ) from exc


def per_weight(unit: str) -> bool:
    """True for a weight-based unit (mg/kg, mcg/kg/min, units/kg/h): a mass in the
    denominator."""
    container = units.unit_of(unit)._units
    for name, exponent in container.items():
        if exponent < 0 and units.ureg.get_dimensionality(name) == _dims("kg"):
            return True
    return False


def _time_unit(unit: str) -> str | None:
    container = units.unit_of(unit)._units
    for name, exponent in container.items():
        if exponent < 0 and units.ureg.get_dimensionality(name) == _dims("min"):
            return str(name)
    return None


def _numerator(unit: str) -> str:
    container = units.unit_of(unit)._units
    parts = [
        f"{name}**{exp}" if exp != 1 else str(name) for name, exp in container.items() if exp > 0
    ]
    return " * ".join(parts) or "dimensionless"


def _weight_kg(
    weight: Any, weight_unit: str, pounds: str, steps: list[Step], *, field: str = "weight"
) -> Decimal:
    """The weight in kg; pounds converted exactly (0.45359237 kg/lb) or by the 2.2 lb/kg
    convention when asked (§6.8)."""
    if pounds not in ("exact", "2.2"):
        raise UnitError('Choose "exact" or "2.2" for pounds.', field="pounds")
    unit = weight_unit
    if pounds == "2.2" and units.unit_of(weight_unit) == units.unit_of("lb"):
        unit = "lb_2_2"
    q = qty(weight, unit, field=field, like="kg", what="a weight", unit_field=f"{field}_unit")
    kg = magnitude(q, "kg", field=f"{field}_unit")
    if units.unit_of(weight_unit) != units.unit_of("kg"):
        how = "÷ 2.2 lb/kg" if unit == "lb_2_2" else "(1 lb = 0.45359237 kg)"
        if units.unit_of(weight_unit) != units.unit_of("lb"):
            how = "in kg"
        steps.append(Step("Weight in kg", f"{_n(D(weight))} {weight_unit} {how}", _s(kg, "kg")))
    return kg


def _check_drop_factor(drop_factor: Any) -> Decimal:
    df = number(drop_factor, field="drop_factor")
    if df not in [D(x) for x in DROP_FACTORS]:
        raise UnitError(
            "The drop factor is the set's: 10, 15 or 20 gtt/mL (macrodrip) or 60 gtt/mL "
            "(microdrip).",
            field="drop_factor",
        )
    return df


# --- ratio-proportion -------------------------------------------------------------------------


def dose_volume(
    *,
    dose: Any,
    dose_unit: str = "mg",
    strength: Any,
    strength_unit: str = "mg",
    per_volume: Any,
    per_volume_unit: str = "mL",
) -> Calculation:
    """Ratio-proportion, have/want (§6.1): the volume holding ``dose`` of a product with
    ``strength`` per ``per_volume``: x = want × have volume ÷ have amount.

    >>> dose_volume(dose=375, strength=250, per_volume=5).rounded("volume")
    Decimal('7.5')
    """
    want = qty(dose, dose_unit, field="dose")
    have = qty(strength, strength_unit, field="strength")
    per = qty(per_volume, per_volume_unit, field="per_volume", like="mL", what="a volume")
    want_in_have = magnitude(
        want,
        strength_unit,
        field="dose_unit",
        message=f"A dose in {dose_unit} cannot be measured from a strength in {strength_unit}.",
    )
    steps: list[Step] = []
    if units.unit_of(dose_unit) != units.unit_of(strength_unit):
        steps.append(
            Step(
                "Dose in the strength's unit",
                f"{_n(D(dose))} {dose_unit}",
                _s(want_in_have, strength_unit),
            )
        )
    per_ml = magnitude(per, "mL", field="per_volume_unit")
    volume = want_in_have * per_ml / have.magnitude
    steps.append(
        Step(
            "Volume (have/want)",
            f"{_n(want_in_have)} {strength_unit} × {_n(per_ml)} mL"
            f" ÷ {_n(have.magnitude)} {strength_unit}",
            _s(volume, "mL"),
        )
    )
    answer = Answer("volume", "Volume to give", volume, "mL", volume_places(volume))
    return Calculation("dose-volume", "Dose volume", [answer], steps, summary=answer.text)


# --- percent and ratio strength ---------------------------------------------------------------


def strength(
    *,
    kind: str = "w/v",
    percent: Any = None,
    ratio: Any = None,
    concentration: Any = None,
    concentration_unit: str = "mg/mL",
    preparation: Any = None,
    preparation_unit: str | None = None,
) -> Calculation:
    """Converts one strength to the others (§6.2, §6.3): percent (w/v g per 100 mL, w/w g
    per 100 g, v/v mL per 100 mL), ratio strength 1:N and a concentration (mg/mL, mg/g,
    mL/L); with ``preparation`` (an amount of the preparation), how much solute it holds.
    Give exactly one of ``percent``, ``ratio`` (the N of 1:N) or ``concentration``."""
    if kind not in STRENGTH_KINDS:
        raise UnitError("Choose w/v, w/w or v/v.", field="kind")
    solute_unit, prep_unit, shown_unit = STRENGTH_KINDS[kind]
    given = [
        n
        for n, v in (("percent", percent), ("ratio", ratio), ("concentration", concentration))
        if v not in (None, "")
    ]
    if len(given) != 1:
        raise UnitError(
            "Give exactly one of: the percent, the ratio (the N of 1:N) or the concentration.",
            field=given[1] if len(given) > 1 else "percent",
        )
    per_percent = units.Quantity(D(1), units.unit_of(solute_unit)) / units.Quantity(
        HUNDRED, units.unit_of(prep_unit)
    )
    steps: list[Step] = []
    if percent not in (None, ""):
        pct = number(percent, field="percent")
        if kind != "w/v" and pct > HUNDRED:
            raise UnitError(f"A {kind} strength cannot exceed 100 %.", field="percent")
        q = per_percent * pct
    elif ratio not in (None, ""):
        n_ratio = number(ratio, field="ratio")
        if n_ratio < 1:
            raise UnitError("A ratio strength is 1:N with N of 1 or more.", field="ratio")
        q = units.Quantity(D(1), units.unit_of(solute_unit)) / units.Quantity(
            n_ratio, units.unit_of(prep_unit)
        )
        steps.append(
            Step(
                "Ratio strength",
                f"1:{_n(n_ratio)} = 1 {solute_unit} in {_n(n_ratio)} {prep_unit}",
                f"1:{_n(n_ratio)}",
            )
        )
    else:
        q = qty(
            concentration,
            concentration_unit,
            field="concentration",
            like=shown_unit,
            what=f"a {kind} concentration",
        )
    pct = Decimal((q / per_percent).to("dimensionless").magnitude)
    if kind != "w/v" and pct > HUNDRED:
        raise UnitError(f"A {kind} strength cannot exceed 100 %.", field=given[0])
    conc = magnitude(q, shown_unit, field="concentration_unit")
    n_value = HUNDRED / pct
    steps.append(Step("Percent strength", f"{STRENGTH_LABELS[kind]}", _s(pct, "%")))
    steps.append(Step("Ratio strength", f"1:(100 ÷ {_n(pct)} %)", f"1:{_n(n_value)}"))
    steps.append(
        Step("Concentration", f"{_n(pct)} {solute_unit} per 100 {prep_unit}", _s(conc, shown_unit))
    )
    answers = [
        Answer("percent", f"Percent strength ({kind})", pct, "%", 4),
        Answer("ratio", "Ratio strength (the N of 1:N)", n_value, "", 1),
        Answer("concentration", "Concentration", conc, shown_unit, 4),
    ]
    summary = f"{_s(pct, '%')} {kind} = 1:{_n(n_value)} = {_s(conc, shown_unit)}"
    if preparation not in (None, ""):
        punit = preparation_unit or prep_unit
        prep = qty(
            preparation,
            punit,
            field="preparation",
            like=prep_unit,
            what=f"a {'volume' if prep_unit == 'mL' else 'mass'}",
        )
        solute_q = q * prep
        solute = magnitude(solute_q, solute_unit, field="preparation_unit")
        steps.append(
            Step(
                "Solute in the preparation",
                f"{_n(pct)} {solute_unit}/100 {prep_unit} × {_n(prep.magnitude)} {punit}",
                _s(solute, solute_unit),
            )
        )
        answers.append(
            Answer(
                "solute", "Solute in the preparation", solute, solute_unit, amount_places(solute)
            )
        )
        if solute_unit == "g":
            mg = magnitude(solute_q, "mg", field="preparation_unit")
            answers.append(
                Answer("solute_mg", "Solute in the preparation", mg, "mg", amount_places(mg))
            )
            summary += f"; {_n(prep.magnitude)} {punit} holds {_s(mg, 'mg', amount_places(mg))}"
        else:
            held = _s(solute, solute_unit, amount_places(solute))
            summary += f"; {_n(prep.magnitude)} {punit} holds {held}"
    return Calculation("percent", "Percent and ratio strength", answers, steps, summary=summary)


# --- dilution ---------------------------------------------------------------------------------


def dilution(
    *,
    c1: Any,
    c2: Any,
    v1: Any = None,
    v2: Any = None,
    c1_unit: str = "%",
    c2_unit: str | None = None,
    volume_unit: str = "mL",
) -> Calculation:
    """C1 × V1 = C2 × V2 (§6.4): give the stock strength ``c1``, the final strength ``c2``
    and one of ``v1`` (stock to use) or ``v2`` (final amount); the other is solved, with the
    diluent to add (V2 − V1). Also Q1 × C1 = Q2 × C2 when the amounts are weights."""
    c2_unit = c2_unit or c1_unit
    strong = qty(c1, c1_unit, field="c1")
    weak = qty(c2, c2_unit, field="c2")
    if strong.dimensionality != weak.dimensionality:
        # A percent beside a mg/mL is a w/v percent (g per 100 mL), as pharmacists mean it.
        strong, weak = _wv(strong), _wv(weak)
    weak_in_c1 = magnitude(
        weak,
        c1_unit,
        field="c2_unit",
        message=f"Give both strengths in comparable units ({c1_unit} and {c2_unit} are not).",
    )
    if weak_in_c1 >= strong.magnitude:
        raise UnitError(
            "Adding diluent only weakens: the final strength must be below the stock's.",
            field="c2",
        )
    if (v1 in (None, "")) == (v2 in (None, "")):
        raise UnitError(
            "Give either the final amount (V2) or the stock amount (V1), not both.",
            field="v2",
        )
    steps: list[Step] = []
    if units.unit_of(c2_unit) != units.unit_of(c1_unit):
        steps.append(
            Step(
                "Final strength in the stock's unit",
                f"{_n(D(c2))} {c2_unit}",
                _s(weak_in_c1, c1_unit),
            )
        )
    vu = volume_unit
    c1m = strong.magnitude
    if v2 not in (None, ""):
        final = qty(v2, vu, field="v2", unit_field="volume_unit").magnitude
        stock = final * weak_in_c1 / c1m
        steps.append(
            Step(
                "Stock to use (V1 = C2 × V2 ÷ C1)",
                f"{_n(weak_in_c1)} {c1_unit} × {_n(final)} {vu} ÷ {_n(c1m)} {c1_unit}",
                _s(stock, vu),
            )
        )
    else:
        stock = qty(v1, vu, field="v1", unit_field="volume_unit").magnitude
        final = c1m * stock / weak_in_c1
        steps.append(
            Step(
                "Final amount (V2 = C1 × V1 ÷ C2)",
                f"{_n(c1m)} {c1_unit} × {_n(stock)} {vu} ÷ {_n(weak_in_c1)} {c1_unit}",
                _s(final, vu),
            )
        )
    diluent = final - stock
    steps.append(
        Step("Diluent to add (V2 − V1)", f"{_n(final)} {vu} − {_n(stock)} {vu}", _s(diluent, vu))
    )
    is_ml = units.unit_of(vu) == units.unit_of("mL")
    places = volume_places if is_ml else amount_places
    answers = [
        Answer("v1", "Stock to use (V1)", stock, vu, places(stock)),
        Answer("v2", "Final amount (V2)", final, vu, places(final)),
        Answer("diluent", "Diluent to add", diluent, vu, places(diluent)),
    ]
    summary = (
        f"{answers[0].text} of {_n(c1m)} {c1_unit} + {answers[2].text} diluent"
        f" = {answers[1].text} of {_n(weak_in_c1)} {c1_unit}"
    )
    return Calculation("dilution", "Dilution (C1V1 = C2V2)", answers, steps, summary=summary)


# --- alligation -------------------------------------------------------------------------------


def alligation(
    *,
    high: Any,
    low: Any,
    desired: Any,
    total: Any,
    amount_unit: str = "g",
    strength_unit: str = "%",
) -> Calculation:
    """Alligation alternate (§6.5): how much of a ``high`` and a ``low`` strength (low = 0
    for a diluent or base) make ``total`` of the ``desired`` strength (L < D < H; the
    strengths in one unit, usually %). Parts of H = D − L, parts of L = H − D."""
    h = number(high, field="high")
    lo = number(low, field="low", zero_ok=True)
    d = number(desired, field="desired")
    tot = qty(total, amount_unit, field="total", unit_field="amount_unit").magnitude
    if lo >= h:
        raise UnitError("The lower strength must be below the higher strength.", field="low")
    if not lo < d < h:
        raise UnitError(
            f"The desired strength must lie between the two strengths ({_n(lo)} and {_n(h)}).",
            field="desired",
        )
    parts_h = d - lo
    parts_l = h - d
    parts = h - lo
    amount_h = tot * parts_h / parts
    amount_l = tot * parts_l / parts
    mixed = (amount_h * h + amount_l * lo) / (amount_h + amount_l)
    u = amount_unit
    steps = [
        Step("Parts of the higher strength (D − L)", f"{_n(d)} − {_n(lo)}", _n(parts_h)),
        Step("Parts of the lower strength (H − D)", f"{_n(h)} − {_n(d)}", _n(parts_l)),
        Step("Total parts (H − L)", f"{_n(h)} − {_n(lo)}", _n(parts)),
        Step(
            "Amount of the higher strength",
            f"{_n(tot)} {u} × {_n(parts_h)} ÷ {_n(parts)}",
            _s(amount_h, u),
        ),
        Step(
            "Amount of the lower strength",
            f"{_n(tot)} {u} × {_n(parts_l)} ÷ {_n(parts)}",
            _s(amount_l, u),
        ),
        Step(
            "Check: strength of the mixture",
            f"({_n(amount_h)} × {_n(h)} + {_n(amount_l)} × {_n(lo)}) ÷ {_n(tot)}",
            _n(mixed),
        ),
    ]
    is_ml = units.unit_of(u) == units.unit_of("mL")
    places = volume_places if is_ml else amount_places
    answers = [
        Answer("parts_high", "Parts of the higher strength", parts_h, "parts", 4),
        Answer("parts_low", "Parts of the lower strength", parts_l, "parts", 4),
        Answer("amount_high", f"Amount of {_n(h)} {strength_unit}", amount_h, u, places(amount_h)),
        Answer(
            "amount_low",
            f"Amount of {_n(lo)} {strength_unit}" + (" (diluent)" if lo == 0 else ""),
            amount_l,
            u,
            places(amount_l),
        ),
    ]
    su = strength_unit
    summary = (
        f"{answers[2].text} of {_n(h)} {su} + {answers[3].text} of {_n(lo)} {su}"
        f" = {_n(tot)} {u} of {_n(d)} {su}"
    )
    return Calculation("alligation", "Alligation", answers, steps, summary=summary)


# --- milliequivalents -------------------------------------------------------------------------


@dataclass(frozen=True)
class Salt:
    """A salt of the reference's §6.6 table: molecular weight (g/mol), the charges of the ion
    of interest per formula unit (valence; None for a non-electrolyte), and the particles
    it dissociates into (for ideal osmolarity, §6.7)."""

    key: str
    name: str
    mw: Decimal
    valence: int | None
    ion: str
    particles: int
    phosphate: bool = False
    note: str = ""


SALTS: dict[str, Salt] = {
    s.key: s
    for s in (
        Salt("kcl", "Potassium chloride (KCl)", D("74.55"), 1, "K⁺", 2),
        Salt("nacl", "Sodium chloride (NaCl)", D("58.44"), 1, "Na⁺", 2),
        Salt("cacl2", "Calcium chloride dihydrate (CaCl₂·2H₂O)", D("147.01"), 2, "Ca²⁺", 3),
        Salt(
            "ca_gluconate",
            "Calcium gluconate (labeling basis, 430.4)",
            D("430.4"),
            2,
            "Ca²⁺",
            3,
            note="The labeling's 4.65 mEq/g and 10 % = 0.465 mEq/mL use MW 430.4.",
        ),
        Salt("ca_gluconate_monohydrate", "Calcium gluconate monohydrate", D("448.4"), 2, "Ca²⁺", 3),
        Salt("mgso4", "Magnesium sulfate heptahydrate (MgSO₄·7H₂O)", D("246.47"), 2, "Mg²⁺", 2),
        Salt("nahco3", "Sodium bicarbonate (NaHCO₃)", D("84.01"), 1, "Na⁺", 2),
        Salt("k_acetate", "Potassium acetate", D("98.14"), 1, "K⁺", 2),
        Salt("na_acetate", "Sodium acetate", D("82.03"), 1, "Na⁺", 2),
        Salt("kh2po4", "Potassium phosphate monobasic (KH₂PO₄)", D("136.09"), 1, "K⁺", 2, True),
        Salt("k2hpo4", "Potassium phosphate dibasic (K₂HPO₄)", D("174.18"), 2, "K⁺", 3, True),
        Salt(
            "nah2po4",
            "Sodium phosphate monobasic monohydrate (NaH₂PO₄·H₂O)",
            D("137.99"),
            1,
            "Na⁺",
            2,
            True,
        ),
        Salt("na2hpo4", "Sodium phosphate dibasic (Na₂HPO₄)", D("141.96"), 2, "Na⁺", 3, True),
    )
}

# Non-electrolytes for osmolarity. Dextrose monohydrate 198.17 is the reference's (§6.7);
# anhydrous glucose C6H12O6 is 180.16 g/mol.
SOLUTES: dict[str, Salt] = {
    **SALTS,
    "dextrose": Salt(
        "dextrose", "Dextrose monohydrate (as in IV solutions)", D("198.17"), None, "", 1
    ),
    "dextrose_anhydrous": Salt(
        "dextrose_anhydrous", "Dextrose anhydrous", D("180.16"), None, "", 1
    ),
}


def _salt(key: str, mw: Any, valence: Any, *, table: dict[str, Salt], need_valence: bool) -> Salt:
    if key == "custom":
        weight = number(mw, field="mw")
        if need_valence:
            v = number(valence, field="valence")
            if v != v.to_integral_value() or v > 8:
                raise UnitError(
                    "The valence is a whole number of charges (1, 2, 3…).", field="valence"
                )
            return Salt("custom", f"Salt of MW {_n(weight)}", weight, int(v), "ion", 2)
        p = number(valence, field="particles")
        if p != p.to_integral_value() or p > 10:
            raise UnitError(
                "Give the whole number of particles (1 for dextrose, 2 for NaCl…).",
                field="particles",
            )
        return Salt("custom", f"Solute of MW {_n(weight)}", weight, None, "", int(p))
    found = table.get(key)
    if found is None:
        raise UnitError(
            "Pick a salt from the list (or custom, with its MW).",
            field="salt" if need_valence else "solute",
        )
    return found


def milliequivalents(
    *,
    salt: str = "kcl",
    amount: Any,
    unit: str = "mg",
    mw: Any = None,
    valence: Any = None,
    solution_percent: Any = None,
) -> Calculation:
    """mg ↔ mmol ↔ mEq of a salt (§6.6): mmol = mg ÷ MW; mEq = mmol × valence; with
    ``solution_percent`` (w/v), the volume of that solution holding the amount. ``unit`` is
    a mass (mg, g), mEq or mmol. Phosphate is ordered in mmol (its mEq depends on pH): for a
    phosphate salt the mEq are those of the cation and mmol of salt = mmol of phosphate."""
    s = _salt(salt, mw, valence, table=SALTS, need_valence=True)
    assert s.valence is not None
    q = qty(amount, unit, field="amount", unit_field="unit")
    mw_q = units.Quantity(s.mw, units.unit_of("g/mol"))
    per_mmol = units.Quantity(D(s.valence), units.unit_of("mEq/mmol"))
    steps: list[Step] = []
    dims = q.dimensionality
    if dims == _dims("mg"):
        mg = magnitude(q, "mg", field="unit")
        mmol = magnitude(q / mw_q, "mmol", field="unit")
        meq = magnitude(q / mw_q * per_mmol, "mEq", field="unit")
        steps.append(Step("mmol = mg ÷ MW", f"{_n(mg)} mg ÷ {_n(s.mw)} mg/mmol", _s(mmol, "mmol")))
        steps.append(Step("mEq = mmol × valence", f"{_n(mmol)} mmol × {s.valence}", _s(meq, "mEq")))
    elif dims == _dims("mEq"):
        meq = magnitude(q, "mEq", field="unit")
        mmol = magnitude(q / per_mmol, "mmol", field="unit")
        mg = magnitude(q / per_mmol * mw_q, "mg", field="unit")
        steps.append(Step("mmol = mEq ÷ valence", f"{_n(meq)} mEq ÷ {s.valence}", _s(mmol, "mmol")))
        steps.append(
            Step(
                "mg = mEq × MW ÷ valence", f"{_n(meq)} mEq × {_n(s.mw)} ÷ {s.valence}", _s(mg, "mg")
            )
        )
    elif dims == _dims("mmol"):
        mmol = magnitude(q, "mmol", field="unit")
        mg = magnitude(q * mw_q, "mg", field="unit")
        meq = magnitude(q * per_mmol, "mEq", field="unit")
        steps.append(Step("mg = mmol × MW", f"{_n(mmol)} mmol × {_n(s.mw)} mg/mmol", _s(mg, "mg")))
        steps.append(Step("mEq = mmol × valence", f"{_n(mmol)} mmol × {s.valence}", _s(meq, "mEq")))
    else:
        raise UnitError("Give the amount in mg, g, mEq or mmol.", field="unit")
    ion = s.ion or "ion"
    answers = [
        Answer("mg", f"Mass of {s.name}", mg, "mg", amount_places(mg)),
        Answer("meq", f"Milliequivalents of {ion}", meq, "mEq", 2),
        Answer(
            "mmol",
            "Millimoles" + (" of phosphate" if s.phosphate else " of the salt"),
            mmol,
            "mmol",
            2,
        ),
    ]
    summary = f"{answers[0].text} {s.name} = {answers[1].text} {ion} = {answers[2].text}"
    if solution_percent not in (None, ""):
        pct = number(solution_percent, field="solution_percent")
        per_ml = units.Quantity(pct, units.unit_of("g")) / units.Quantity(
            HUNDRED, units.unit_of("mL")
        )
        ml = magnitude(
            units.Quantity(mg, units.unit_of("mg")) / per_ml, "mL", field="solution_percent"
        )
        steps.append(
            Step(
                f"Volume of {_n(pct)} % solution", f"{_n(mg)} mg ÷ {_n(pct)} g/100 mL", _s(ml, "mL")
            )
        )
        answers.append(
            Answer("volume", f"Volume of {_n(pct)} % solution", ml, "mL", volume_places(ml))
        )
        summary += f" = {answers[-1].text} of {_n(pct)} %"
    return Calculation("milliequivalents", "Milliequivalents", answers, steps, summary=summary)


# --- osmolarity -------------------------------------------------------------------------------


def osmolarity(
    *,
    solute: str = "nacl",
    concentration: Any,
    concentration_unit: str = "%",
    mw: Any = None,
    particles: Any = None,
) -> Calculation:
    """Ideal osmolarity (§6.7): mOsm/L = g/L ÷ MW × n × 1000, n the particles on complete
    dissociation. ``concentration`` in % (w/v) or a mass per volume (g/L, mg/mL)."""
    s = _salt(solute, mw, particles, table=SOLUTES, need_valence=False)
    if concentration_unit.strip() in ("%", "percent"):
        pct = number(concentration, field="concentration")
        q = units.Quantity(pct, units.unit_of("g")) / units.Quantity(HUNDRED, units.unit_of("mL"))
        shown = f"{_n(pct)} % w/v"
    else:
        q = qty(
            concentration,
            concentration_unit,
            field="concentration",
            like="g/L",
            what="a mass-per-volume",
        )
        shown = f"{_n(q.magnitude)} {concentration_unit}"
    g_l = magnitude(q, "g/L", field="concentration_unit")
    mw_q = units.Quantity(s.mw, units.unit_of("g/mol"))
    mmol_l = magnitude(q / mw_q, "mmol/L", field="concentration_unit")
    per_mmol = units.Quantity(D(s.particles), units.unit_of("mOsm/mmol"))
    mosm = magnitude(q / mw_q * per_mmol, "mOsm/L", field="concentration_unit")
    steps = [
        Step("Grams per liter", shown, _s(g_l, "g/L")),
        Step(
            "mmol per liter (g/L ÷ MW × 1000)",
            f"{_n(g_l)} g/L ÷ {_n(s.mw)} g/mol × 1000",
            _s(mmol_l, "mmol/L"),
        ),
        Step("× particles", f"{_n(mmol_l)} mmol/L × {s.particles}", _s(mosm, "mOsm/L")),
    ]
    answer = Answer("osmolarity", f"Ideal osmolarity of {s.name}", mosm, "mOsm/L", 0)
    return Calculation("osmolarity", "Osmolarity (ideal)", [answer], steps, summary=answer.text)


# --- weight-based dosing ----------------------------------------------------------------------


def weight_dose(
    *,
    dose: Any,
    dose_unit: str = "mg/kg",
    weight: Any,
    weight_unit: str = "kg",
    per: str = "day",
    doses_per_day: Any = 1,
    strength: Any = None,
    strength_unit: str = "mg",
    per_volume: Any = None,
    per_volume_unit: str = "mL",
    pounds: str = "exact",
) -> Calculation:
    """mg/kg dosing (§6.8): ``dose`` per kg either per day (divided into ``doses_per_day``)
    or per dose; with a liquid's ``strength`` per ``per_volume``, the volume of each dose.
    Pounds are converted exactly, or with ``pounds="2.2"`` by the 2.2 lb/kg convention."""
    if per not in ("day", "dose"):
        raise UnitError("Say whether the dose is per day or per dose.", field="per")
    if not per_weight(dose_unit):
        raise UnitError(
            "Give a weight-based dose unit (mg/kg, mcg/kg, units/kg, mEq/kg).", field="dose_unit"
        )
    n = number(doses_per_day, field="doses_per_day")
    if n != n.to_integral_value() or n > 24:
        raise UnitError("Give the number of doses a day (1 to 24).", field="doses_per_day")
    steps: list[Step] = []
    kg = _weight_kg(weight, weight_unit, pounds, steps)
    per_kg = qty(dose, dose_unit, field="dose")
    amount_unit = _numerator(dose_unit)
    shown_unit = dose_unit.split("/")[0].strip()
    total = magnitude(
        per_kg * units.Quantity(kg, units.unit_of("kg")), amount_unit, field="dose_unit"
    )
    if per == "day":
        daily, each = total, total / n
        steps.append(
            Step(
                "Dose per day",
                f"{_n(per_kg.magnitude)} {dose_unit} × {_n(kg)} kg",
                _s(daily, shown_unit),
            )
        )
        steps.append(
            Step("Dose per dose", f"{_n(daily)} {shown_unit} ÷ {_n(n)} doses", _s(each, shown_unit))
        )
    else:
        each, daily = total, total * n
        steps.append(
            Step(
                "Dose per dose",
                f"{_n(per_kg.magnitude)} {dose_unit} × {_n(kg)} kg",
                _s(each, shown_unit),
            )
        )
        steps.append(
            Step("Dose per day", f"{_n(each)} {shown_unit} × {_n(n)} doses", _s(daily, shown_unit))
        )
    answers = [
        Answer("weight_kg", "Weight", kg, "kg", 2),
        Answer("daily_dose", "Dose per day", daily, shown_unit, amount_places(daily)),
        Answer("dose", "Dose per dose", each, shown_unit, amount_places(each)),
    ]
    summary = f"{answers[2].text} per dose ({answers[1].text} a day)"
    if strength not in (None, "") or per_volume not in (None, ""):
        liquid = dose_volume(
            dose=each,
            dose_unit=shown_unit,
            strength=strength,
            strength_unit=strength_unit,
            per_volume=per_volume,
            per_volume_unit=per_volume_unit,
        )
        steps.extend(liquid.steps)
        answers.append(liquid.answer("volume"))
        summary += f" = {liquid.answer('volume').text} per dose"
    return Calculation("dose", "Weight-based dose", answers, steps, summary=summary)


# --- body surface area ------------------------------------------------------------------------


def bsa(
    *,
    height: Any,
    height_unit: str = "cm",
    weight: Any,
    weight_unit: str = "kg",
    formula: str = "mosteller",
    dose_per_m2: Any = None,
    dose_unit: str = "mg",
) -> Calculation:
    """Body surface area (§6.8): Mosteller √(cm × kg / 3600) or DuBois
    0.007184 × kg^0.425 × cm^0.725; with ``dose_per_m2``, the dose = mg/m² × BSA (from the
    unrounded BSA)."""
    if formula not in ("mosteller", "dubois"):
        raise UnitError("Choose Mosteller or DuBois.", field="formula")
    cm = magnitude(
        qty(height, height_unit, field="height", like="cm", what="a length"),
        "cm",
        field="height_unit",
    )
    kg = magnitude(
        qty(weight, weight_unit, field="weight", like="kg", what="a weight"),
        "kg",
        field="weight_unit",
    )
    steps: list[Step] = []
    if units.unit_of(height_unit) != units.unit_of("cm"):
        steps.append(Step("Height in cm", f"{_n(D(height))} {height_unit}", _s(cm, "cm")))
    if units.unit_of(weight_unit) != units.unit_of("kg"):
        steps.append(Step("Weight in kg", f"{_n(D(weight))} {weight_unit}", _s(kg, "kg")))
    if formula == "mosteller":
        inner = cm * kg / MOSTELLER_DIVISOR
        area = inner.sqrt()
        steps.append(
            Step(
                "Mosteller: √(cm × kg ÷ 3600)",
                f"√({_n(cm)} × {_n(kg)} ÷ 3600) = √{_n(inner)}",
                _s(area, "m²"),
            )
        )
    else:
        area = DUBOIS_FACTOR * kg**DUBOIS_WEIGHT_EXPONENT * cm**DUBOIS_HEIGHT_EXPONENT
        steps.append(
            Step(
                "DuBois: 0.007184 × kg^0.425 × cm^0.725",
                f"0.007184 × {_n(kg)}^0.425 × {_n(cm)}^0.725",
                _s(area, "m²"),
            )
        )
    answers = [
        Answer("bsa", f"BSA ({'Mosteller' if formula == 'mosteller' else 'DuBois'})", area, "m²", 2)
    ]
    summary = answers[0].text
    if dose_per_m2 not in (None, ""):
        per = qty(dose_per_m2, dose_unit, field="dose_per_m2", unit_field="dose_unit")
        dose = per.magnitude * area
        steps.append(
            Step(
                "Dose = dose/m² × BSA",
                f"{_n(per.magnitude)} {dose_unit}/m² × {_n(area)} m²",
                _s(dose, dose_unit),
            )
        )
        answers.append(Answer("dose", "Dose", dose, dose_unit, amount_places(dose)))
        summary += f"; dose {answers[-1].text}"
    return Calculation("bsa", "Body surface area", answers, steps, summary=summary)


# --- pediatric rules (historic) ---------------------------------------------------------------


def pediatric_rule(
    *,
    rule: str,
    adult_dose: Any,
    dose_unit: str = "mg",
    weight: Any = None,
    weight_unit: str = "lb",
    age_years: Any = None,
    age_months: Any = None,
    bsa_m2: Any = None,
) -> Calculation:
    """The historic pediatric rules of §6.8 — Clark (adult × lb ÷ 150), Young (ages 1–12:
    adult × age ÷ (age + 12)), Fried (infants: adult × months ÷ 150) and the BSA rule
    (adult × BSA ÷ 1.73). Educational: real pediatric dosing uses mg/kg or mg/m²."""
    adult = qty(adult_dose, dose_unit, field="adult_dose", unit_field="dose_unit").magnitude
    warnings = ["Historic rule: dose children by mg/kg or mg/m² from a pediatric reference."]
    if rule == "clark":
        lb = magnitude(
            qty(weight, weight_unit, field="weight", like="lb", what="a weight"),
            "lb",
            field="weight_unit",
        )
        dose = adult * lb / CLARK_ADULT_LB
        expression = f"{_n(adult)} {dose_unit} × {_n(lb)} lb ÷ 150 lb"
    elif rule == "young":
        age = number(age_years, field="age_years")
        if not 1 <= age <= 12:
            warnings.append("Young's rule is meant for ages 1 to 12.")
        dose = adult * age / (age + YOUNG_AGE_OFFSET)
        expression = f"{_n(adult)} {dose_unit} × {_n(age)} ÷ ({_n(age)} + 12)"
    elif rule == "fried":
        months = number(age_months, field="age_months")
        dose = adult * months / FRIED_ADULT_MONTHS
        expression = f"{_n(adult)} {dose_unit} × {_n(months)} months ÷ 150"
    elif rule == "bsa":
        area = number(bsa_m2, field="bsa_m2")
        dose = adult * area / ADULT_BSA_M2
        expression = f"{_n(adult)} {dose_unit} × {_n(area)} m² ÷ 1.73 m²"
    else:
        raise UnitError("Choose Clark's, Young's, Fried's or the BSA rule.", field="rule")
    answer = Answer("dose", "Child's dose", dose, dose_unit, amount_places(dose))
    return Calculation(
        "pediatric-rule",
        "Pediatric rule",
        [answer],
        [
            Step(
                f"{rule.capitalize()}'s rule" if rule != "bsa" else "BSA rule",
                expression,
                _s(dose, dose_unit),
            )
        ],
        warnings,
        summary=answer.text,
    )


# --- IV flow rates ----------------------------------------------------------------------------


def _drops(ml_per_min: Any, drop_factor: Any, steps: list[Step], answers: list[Answer]) -> Answer:
    df = _check_drop_factor(drop_factor)
    gtt_q = ml_per_min * units.Quantity(df, units.unit_of("gtt/mL"))
    gtt = magnitude(gtt_q, "gtt/min", field="drop_factor")
    ml_min = magnitude(ml_per_min, "mL/min", field="drop_factor")
    steps.append(
        Step(
            "Drops per minute (mL/min × drop factor)",
            f"{_n(ml_min)} mL/min × {_n(df)} gtt/mL",
            _s(gtt, "gtt/min"),
        )
    )
    answer = Answer(
        "gtt_per_min", f"Drip rate ({_n(df)} gtt/mL set, whole drops)", gtt, "gtt/min", 0
    )
    answers.append(answer)
    return answer


def flow_rate(
    *,
    volume: Any,
    volume_unit: str = "mL",
    time: Any,
    time_unit: str = "h",
    drop_factor: Any = None,
) -> Calculation:
    """mL/h = volume ÷ time (§6.10); with a ``drop_factor`` (10, 15, 20 or 60 gtt/mL),
    gtt/min = mL × drop factor ÷ min, rounded to the nearest whole drop."""
    vol = qty(volume, volume_unit, field="volume", like="mL", what="a volume")
    dur = qty(time, time_unit, field="time", like="h", what="a time")
    rate_q = vol / dur
    ml_h = magnitude(rate_q, "mL/h", field="time_unit")
    steps = [
        Step(
            "Rate = volume ÷ time",
            f"{_n(vol.magnitude)} {volume_unit} ÷ {_n(dur.magnitude)} {time_unit}",
            _s(ml_h, "mL/h"),
        ),
    ]
    answers = [Answer("ml_per_h", "Pump rate", ml_h, "mL/h", 1)]
    summary = answers[0].text
    if drop_factor not in (None, ""):
        drops = _drops(rate_q, drop_factor, steps, answers)
        summary += f" = {drops.text}"
    return Calculation("flow-rate", "Flow rate", answers, steps, summary=summary)


def infusion_time(
    *,
    volume: Any,
    volume_unit: str = "mL",
    rate: Any,
    rate_unit: str = "mL/h",
) -> Calculation:
    """Infusion time = volume ÷ rate (§6.10), in hours and as h + min (to the whole
    minute, half-up)."""
    vol = qty(volume, volume_unit, field="volume", like="mL", what="a volume")
    r = qty(rate, rate_unit, field="rate", like="mL/h", what="a flow-rate (mL/h)")
    hours = magnitude(vol / r, "h", field="rate_unit")
    minutes = magnitude(vol / r, "min", field="rate_unit")
    whole = minutes.quantize(D(1), rounding=ROUND_HALF_UP)
    h, m = divmod(int(whole), 60)
    text = f"{h} h {m} min"
    steps = [
        Step(
            "Time = volume ÷ rate",
            f"{_n(vol.magnitude)} {volume_unit} ÷ {_n(r.magnitude)} {rate_unit}",
            _s(hours, "h"),
        ),
        Step("In hours and minutes", f"{_n(hours)} h = {_n(minutes)} min", text),
    ]
    answers = [
        Answer("hours", "Infusion time", hours, "h", 2),
        Answer("minutes", "Infusion time", minutes, "min", 0),
    ]
    return Calculation("infusion-time", "Infusion time", answers, steps, summary=text)


def dose_rate(
    *,
    dose: Any,
    dose_unit: str,
    concentration: Any = None,
    concentration_unit: str | None = None,
    drug_amount: Any = None,
    drug_amount_unit: str | None = None,
    bag_volume: Any = None,
    bag_volume_unit: str = "mL",
    weight: Any = None,
    weight_unit: str = "kg",
    drop_factor: Any = None,
) -> Calculation:
    """Dose-based rate (§6.10): mL/h = dose per hour ÷ concentration; weight-based doses
    (mcg/kg/min, units/kg/h) are first multiplied by the weight. The concentration is given
    directly or as ``drug_amount`` in ``bag_volume``."""
    steps: list[Step] = []
    answers: list[Answer] = []
    if concentration not in (None, ""):
        if drug_amount not in (None, "") or bag_volume not in (None, ""):
            raise UnitError(
                "Give the concentration, or the drug amount and bag volume, not both.",
                field="concentration",
            )
        conc = qty(concentration, concentration_unit or "mg/mL", field="concentration")
        conc_text = f"{_n(conc.magnitude)} {concentration_unit}"
    else:
        if drug_amount in (None, "") or bag_volume in (None, ""):
            raise UnitError(
                "Give the bag's concentration, or the drug amount and the bag volume.",
                field="concentration",
            )
        drug = qty(drug_amount, drug_amount_unit or "mg", field="drug_amount")
        bag = qty(bag_volume, bag_volume_unit, field="bag_volume", like="mL", what="a volume")
        conc = drug / bag
        per_ml_unit = f"{drug_amount_unit}/mL"
        conc_value = magnitude(conc, per_ml_unit, field="drug_amount_unit")
        conc_text = f"{_n(conc_value)} {per_ml_unit}"
        steps.append(
            Step(
                "Concentration = drug ÷ volume",
                f"{_n(drug.magnitude)} {drug_amount_unit} ÷ {_n(bag.magnitude)} {bag_volume_unit}",
                _s(conc_value, per_ml_unit),
            )
        )
        answers.append(
            Answer(
                "concentration", "Concentration", conc_value, per_ml_unit, amount_places(conc_value)
            )
        )
    ordered = qty(dose, dose_unit, field="dose")
    time = _time_unit(dose_unit)
    if time is None:
        raise UnitError(
            "Give the dose as a rate (per min or per h: mcg/min, units/h, mcg/kg/min).",
            field="dose_unit",
        )
    per_time = ordered
    if per_weight(dose_unit):
        if weight in (None, ""):
            raise UnitError(f"A dose in {dose_unit} needs the patient's weight.", field="weight")
        w = qty(weight, weight_unit, field="weight", like="kg", what="a weight")
        kg = magnitude(w, "kg", field="weight_unit")
        per_time = ordered * units.Quantity(kg, units.unit_of("kg"))
        target = f"{_numerator(dose_unit)} / {time}"
        dose_value = magnitude(per_time, target, field="dose_unit")
        shown = f"{dose_unit.split('/')[0].strip()}/{dose_unit.split('/')[-1].strip()}"
        steps.append(
            Step(
                "Dose × weight",
                f"{_n(ordered.magnitude)} {dose_unit} × {_n(kg)} kg",
                _s(dose_value, shown),
            )
        )
    rate_q = per_time / conc
    bag_unit = conc_text.split(" ", 1)[1]
    ml_h = magnitude(
        rate_q,
        "mL/h",
        field="dose_unit",
        message=f"A dose in {dose_unit} cannot be given from a bag measured in {bag_unit}.",
    )
    hourly_unit = f"{dose_unit.split('/')[0].strip()}/h"
    hourly = magnitude(per_time, f"{_numerator(dose_unit)} / h", field="dose_unit")
    steps.append(
        Step(
            "Rate = dose per hour ÷ concentration",
            f"{_s(hourly, hourly_unit)} ÷ {conc_text}",
            _s(ml_h, "mL/h"),
        )
    )
    answers.append(Answer("ml_per_h", "Pump rate", ml_h, "mL/h", 1))
    summary = answers[-1].text
    if drop_factor not in (None, ""):
        drops = _drops(rate_q, drop_factor, steps, answers)
        summary += f" = {drops.text}"
    return Calculation("dose-rate", "Dose-based rate", answers, steps, summary=summary)


# --- temperature ------------------------------------------------------------------------------

TEMPERATURE_UNITS = {"degC": "°C", "degF": "°F", "K": "K"}


def temperature(*, value: Any, unit: str = "degC") -> Calculation:
    """°C ↔ °F ↔ K (§6.12): °F = °C × 9/5 + 32; °C = (°F − 32) × 5/9; K = °C + 273.15."""
    if unit not in TEMPERATURE_UNITS:
        raise UnitError("Choose °C, °F or K.", field="unit")
    t = number(value, field="value", negative_ok=True)
    q = units.Quantity(t, units.unit_of(unit))
    kelvin = magnitude(q, "K", field="value")
    if kelvin < 0:
        raise UnitError("That is below absolute zero.", field="value")
    answers = []
    steps = []
    for target, label in TEMPERATURE_UNITS.items():
        converted = magnitude(q, target, field="unit")
        answers.append(Answer(target, f"In {label}", converted, label, 2))
        if target != unit:
            steps.append(
                Step(f"In {label}", f"{_n(t)} {TEMPERATURE_UNITS[unit]}", _s(converted, label, 2))
            )
    summary = " = ".join(a.text for a in answers)
    return Calculation("temperature", "Temperature", answers, steps, summary=summary)
