"""Adult standard concentrations for continuous IV infusions, and the admixture
calculator: how much drug, how much of the vial to draw, how much diluent, and the pump
rate for a dose.

Pure: no Django, Decimal only, units through pint (rxdesk.calc.units / pharmmath).

Source: ASHP Standardize 4 Safety (S4S), "Standardized concentrations — adult continuous
IV infusions", version 1.01 (November 2016, FDA Safe Use Initiative), whose table lists, per
drug, the first and second standard concentrations and the dosing unit. Confirmed from it:
amiodarone 1.5 mg/mL (peripheral) and 3.6 mg/mL (central), mg/min; diltiazem 1 mg/mL
(125 mg in 125 mL from the 125 mg vial), mg/h; dobutamine 4000 mcg/mL, mcg/kg/min;
dopamine 1600 and 3200 mcg/mL, mcg/kg/min; epinephrine 20 and 40 mcg/mL, mcg/kg/min (made
different from norepinephrine's on purpose, to avoid confusing the two).

Not confirmed from S4S itself (marked "unverified" on the row): norepinephrine 16 and
32 mcg/mL (the premixed bags are 4, 8 and 16 mg in 250 mL: 16, 32 and 64 mcg/mL, per the
Handbook on Injectable Drugs monograph; dosing unit mcg/kg/min as for epinephrine in the
same table); heparin 100 units/mL (25,000 units in 250 mL premix), units/kg/h; regular
insulin 1 unit/mL in 0.9 % sodium chloride (the Humulin R label allows 0.1–1 unit/mL in
NS in PVC bags), units/h. Potassium chloride is left out: its standard could not be
confirmed.

Diluents: D5W and NS as the labels allow; norepinephrine and epinephrine labels prefer
dextrose-containing fluids (dextrose protects against oxidation), insulin's label names NS.
A site adopting other standards edits this table (a pharmacy's P&T decision)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rxdesk.calc import pharmmath, units
from rxdesk.calc.pharmmath import Answer, Calculation, amount_places, volume_places
from rxdesk.calc.units import Step, UnitError

D = Decimal

DILUENTS = {
    "NS": "0.9 % sodium chloride (NS)",
    "D5W": "5 % dextrose in water (D5W)",
}

S4S = "ASHP Standardize 4 Safety, adult continuous infusions v1.01 (2016)"


@dataclass(frozen=True)
class Standard:
    """One standard concentration: the drug in its bag, the dosing unit the pump is
    programmed in, the diluents allowed, and the usual vial the drug is drawn from."""

    key: str
    drug: str
    name: str
    amount: Decimal
    amount_unit: str
    volume_ml: Decimal
    concentration: Decimal
    concentration_unit: str
    dosing_unit: str
    diluents: tuple[str, ...]
    vial_concentration: Decimal
    vial_unit: str
    note: str
    source: str

    @property
    def label(self) -> str:
        amount = units.show(self.amount, self.amount_unit)
        return (
            f"{self.name} {amount} in {units.show(self.volume_ml, 'mL')}"
            f" ({units.show(self.concentration, self.concentration_unit)})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "drug": self.drug,
            "name": self.name,
            "label": self.label,
            "amount": f"{self.amount.normalize():f}",
            "amount_unit": self.amount_unit,
            "volume_ml": f"{self.volume_ml.normalize():f}",
            "concentration": f"{self.concentration.normalize():f}",
            "concentration_unit": self.concentration_unit,
            "dosing_unit": self.dosing_unit,
            "diluents": list(self.diluents),
            "vial_concentration": f"{self.vial_concentration.normalize():f}",
            "vial_unit": self.vial_unit,
            "note": self.note,
            "source": self.source,
        }


def _row(
    key: str,
    drug: str,
    name: str,
    amount: str,
    amount_unit: str,
    volume: str,
    conc: str,
    conc_unit: str,
    dosing: str,
    diluents: tuple[str, ...],
    vial: str,
    vial_unit: str,
    note: str = "",
    source: str = S4S,
) -> Standard:
    return Standard(
        key, drug, name, D(amount), amount_unit, D(volume), D(conc), conc_unit, dosing,
        diluents, D(vial), vial_unit, note, source,
    )  # fmt: skip


# fmt: off
STANDARDS: tuple[Standard, ...] = (
    _row("amiodarone-1.5", "amiodarone", "Amiodarone", "150", "mg", "100", "1.5", "mg/mL",
         "mg/min", ("D5W",), "50", "mg/mL",
         "Peripheral line."),
    _row("amiodarone-3.6", "amiodarone", "Amiodarone", "900", "mg", "250", "3.6", "mg/mL",
         "mg/min", ("D5W",), "50", "mg/mL",
         "Central line only."),
    _row("diltiazem-1", "diltiazem", "Diltiazem", "125", "mg", "125", "1", "mg/mL",
         "mg/h", ("NS", "D5W"), "5", "mg/mL",
         "125 mg vial (25 mL) + 100 mL diluent."),
    _row("dobutamine-4000", "dobutamine", "Dobutamine", "1000", "mg", "250", "4000", "mcg/mL",
         "mcg/kg/min", ("D5W", "NS"), "12.5", "mg/mL",
         "Premixed bags are available."),
    _row("dopamine-1600", "dopamine", "Dopamine", "400", "mg", "250", "1600", "mcg/mL",
         "mcg/kg/min", ("D5W", "NS"), "40", "mg/mL",
         "Premixed bags are available."),
    _row("dopamine-3200", "dopamine", "Dopamine", "800", "mg", "250", "3200", "mcg/mL",
         "mcg/kg/min", ("D5W", "NS"), "40", "mg/mL",
         "Fluid-restricted patients."),
    _row("epinephrine-20", "epinephrine", "EPINEPHrine", "5", "mg", "250", "20", "mcg/mL",
         "mcg/kg/min", ("D5W", "NS"), "1", "mg/mL",
         "Differs from norepinephrine’s on purpose; label prefers dextrose-containing fluids."),
    _row("epinephrine-40", "epinephrine", "EPINEPHrine", "10", "mg", "250", "40", "mcg/mL",
         "mcg/kg/min", ("D5W", "NS"), "1", "mg/mL",
         "Higher doses or fluid restriction."),
    _row("norepinephrine-16", "norepinephrine", "NORepinephrine", "4", "mg", "250", "16",
         "mcg/mL",
         "mcg/kg/min", ("D5W", "NS"), "1", "mg/mL",
         "Label prefers dextrose-containing fluids; premixed bags are available.",
         "Premixed 4 mg/250 mL (Handbook on Injectable Drugs); S4S value unverified"),
    _row("norepinephrine-32", "norepinephrine", "NORepinephrine", "8", "mg", "250", "32",
         "mcg/mL",
         "mcg/kg/min", ("D5W", "NS"), "1", "mg/mL",
         "Central line; higher doses.",
         "Premixed 8 mg/250 mL (Handbook on Injectable Drugs); S4S value unverified"),
    _row("heparin-100", "heparin", "Heparin", "25000", "units", "250", "100", "units/mL",
         "units/kg/h", ("NS", "D5W"), "5000", "units/mL",
         "Premixed bags are available.",
         "Premixed 25,000 units/250 mL; S4S value unverified"),
    _row("insulin-1", "insulin", "Insulin regular", "100", "units", "100", "1", "units/mL",
         "units/h", ("NS",), "100", "units/mL",
         "Prime the tubing before use (insulin binds to plastic).",
         "Humulin R label: 0.1–1 unit/mL in NS; S4S value unverified"),
)
# fmt: on

BY_KEY = {s.key: s for s in STANDARDS}


def standards() -> tuple[Standard, ...]:
    return STANDARDS


def standard_for(drug: str) -> Standard:
    """The standard with this key ("norepinephrine-16"), or a drug's first standard
    ("norepinephrine"); unknown → UnitError on ``drug``."""
    wanted = (drug or "").strip().lower()
    if wanted in BY_KEY:
        return BY_KEY[wanted]
    for s in STANDARDS:
        if s.drug == wanted:
            return s
    raise UnitError(
        "No standard concentration for that drug; pick one from the list.", field="drug"
    )


@dataclass(frozen=True)
class Admixture(Calculation):
    """An admixture calculation, with the standard it was made to."""

    standard: Standard | None = None
    diluent: str = ""


def admixture(
    *,
    drug: str,
    dose: Any = None,
    dose_unit: str | None = None,
    weight: Any = None,
    weight_unit: str = "kg",
    diluent: str | None = None,
    vial_concentration: Any = None,
    vial_unit: str | None = None,
) -> Admixture:
    """Makes ``drug`` (a standard's key or a drug's name) to its standard concentration:
    the drug amount, the vial volume to draw (from the standard's usual vial or the one
    given), the diluent to add to the final volume (overfill not counted), and — with a
    ``dose`` (in the standard's dosing unit or any unit of the same kind, weight-based with
    ``weight``) — the pump rate in mL/h."""
    std = standard_for(drug)
    chosen = (diluent or std.diluents[0]).strip().upper()
    if chosen not in DILUENTS:
        raise UnitError("Choose NS or D5W.", field="diluent")
    if chosen not in std.diluents:
        allowed = " or ".join(std.diluents)
        raise UnitError(f"{std.name} is mixed in {allowed}, not {chosen}.", field="diluent")
    steps: list[Step] = []
    warnings: list[str] = []
    drug_q = units.Quantity(std.amount, units.unit_of(std.amount_unit))
    if vial_concentration not in (None, ""):
        vial_q = pharmmath.qty(
            vial_concentration,
            vial_unit or std.vial_unit,
            field="vial_concentration",
            like=std.vial_unit,
            what=f"a {std.vial_unit} concentration",
            unit_field="vial_unit",
        )
    else:
        vial_q = units.Quantity(std.vial_concentration, units.unit_of(std.vial_unit))
    vial_ml = pharmmath.magnitude(drug_q / vial_q, "mL", field="vial_unit")
    diluent_ml = std.volume_ml - vial_ml
    vial_text = f"{units.show(vial_q.magnitude, '')} {vial_unit or std.vial_unit}"
    steps.append(
        Step(
            "Standard concentration",
            f"{units.show(std.amount, std.amount_unit)} in {units.show(std.volume_ml, 'mL')}",
            units.show(std.concentration, std.concentration_unit),
        )
    )
    steps.append(
        Step(
            "Vial volume to draw",
            f"{units.show(std.amount, std.amount_unit)} ÷ {vial_text}",
            units.show(vial_ml, "mL"),
        )
    )
    if diluent_ml <= 0:
        raise UnitError(
            "That vial is too dilute: its volume fills the whole bag.", field="vial_concentration"
        )
    steps.append(
        Step(
            f"{chosen} to add",
            f"{units.show(std.volume_ml, 'mL')} − {units.show(vial_ml, 'mL')}",
            units.show(diluent_ml, "mL"),
        )
    )
    answers = [
        Answer(
            "concentration",
            "Concentration",
            std.concentration,
            std.concentration_unit,
            amount_places(std.concentration),
        ),
        Answer("drug_amount", "Drug", std.amount, std.amount_unit, amount_places(std.amount)),
        Answer("vial_volume", "Vial volume to draw", vial_ml, "mL", volume_places(vial_ml)),
        Answer("diluent_volume", f"{chosen} to add", diluent_ml, "mL", volume_places(diluent_ml)),
        Answer("final_volume", "Final volume", std.volume_ml, "mL", 1),
    ]
    summary = (
        f"{std.label}: draw {answers[2].text} of {vial_text}, add to {answers[3].text} {chosen}"
    )
    if dose not in (None, ""):
        unit = dose_unit or std.dosing_unit
        if pharmmath.per_weight(unit) != pharmmath.per_weight(std.dosing_unit):
            warnings.append(
                f"The standard doses {std.name} in {std.dosing_unit}; this dose is in {unit}. "
                "Check the order before programming the pump."
            )
        rate = pharmmath.dose_rate(
            dose=dose,
            dose_unit=unit,
            concentration=std.concentration,
            concentration_unit=std.concentration_unit,
            weight=weight,
            weight_unit=weight_unit,
        )
        steps.extend(rate.steps)
        answers.append(rate.answer("ml_per_h"))
        summary += f"; {units.show(D(dose), unit)} runs at {rate.answer('ml_per_h').text}"
    if "line" in std.note.lower():  # peripheral or central: the nurse must know
        warnings.append(std.note)
    return Admixture(
        kind="admixture",
        title=f"Admixture: {std.name}",
        answers=answers,
        steps=steps,
        warnings=warnings,
        summary=summary,
        standard=std,
        diluent=chosen,
    )
