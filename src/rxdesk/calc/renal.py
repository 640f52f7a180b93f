"""Kidney function arithmetic for dosing: Cockcroft–Gault creatinine clearance and the body
weights it is computed with.

Pure: no Django, Decimal only (reference identifiers-labels-math.md §6.9 and
clinical-screening.md §6.3).

- ``CrCl (mL/min) = (140 − age) × weight (kg) / (72 × SCr (mg/dL))``, × 0.85 if female.
- IBW (Devine): male 50 kg + 2.3 kg per inch over 60 in; female 45.5 kg + 2.3 kg per inch.
- Adjusted BW = IBW + 0.4 × (TBW − IBW).
- Which weight (the reference calls it institution-configurable; rxdesk's default, changeable
  with ``obese_ratio``): TBW below IBW → TBW; TBW up to 120 % of IBW → IBW; above 120 % → AdjBW;
  height unknown → TBW (the only weight there is).
- Under 60 in the Devine line is not extended (the reference asks for a policy): rxdesk uses
  TBW for such patients, the other choice the reference names.
- Rounding SCr up to 0.8/1.0 mg/dL in the elderly is controversial: an option (``min_scr``),
  never the default.

The result is rounded half-up to 0.1 mL/min and the renal check compares that rounded value
with its cut-offs, so what the pharmacist reads in the message is what was compared."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CM_PER_INCH = Decimal("2.54")
SCR_UMOL_PER_MG_DL = Decimal("88.4")
FEMALE_FACTOR = Decimal("0.85")
ADJUSTMENT_FACTOR = Decimal("0.4")
OBESE_RATIO = Decimal("1.2")  # TBW above 120 % of IBW → adjusted body weight (some use 1.3)
DEVINE_MIN_INCHES = Decimal("60")
CRCL_QUANTUM = Decimal("0.1")
WEIGHT_QUANTUM = Decimal("0.1")

# Cockcroft–Gault was derived in adults; children need another equation (not in the reference).
MIN_ADULT_AGE = 18


class RenalCalcError(ValueError):
    """An input Cockcroft–Gault cannot be computed from (a zero creatinine, a child…)."""


@dataclass(frozen=True)
class Clearance:
    """A Cockcroft–Gault result and how it was reached, for the alert message."""

    crcl_ml_min: Decimal
    weight_kg: Decimal
    weight_basis: str  # "actual", "ideal", "adjusted"

    def describe(self) -> str:
        return (
            f"CrCl {self.crcl_ml_min} mL/min (Cockcroft–Gault, {self.weight_basis} "
            f"body weight {self.weight_kg} kg)"
        )


def scr_umol_to_mg_dl(scr_umol_l: Decimal) -> Decimal:
    """Serum creatinine µmol/L → mg/dL (÷ 88.4)."""
    return scr_umol_l / SCR_UMOL_PER_MG_DL


def ideal_body_weight(*, height_cm: Decimal, female: bool) -> Decimal:
    """Devine ideal body weight in kg, unrounded. Defined for heights of 60 in (152.4 cm)
    and more; below that this raises (see ``dosing_weight`` for the policy)."""
    inches = height_cm / CM_PER_INCH
    if inches < DEVINE_MIN_INCHES:
        raise RenalCalcError("Devine ideal body weight is not defined under 60 in (152.4 cm)")
    base = Decimal("45.5") if female else Decimal("50")
    return base + Decimal("2.3") * (inches - DEVINE_MIN_INCHES)


def adjusted_body_weight(*, ideal_kg: Decimal, actual_kg: Decimal) -> Decimal:
    """AdjBW = IBW + 0.4 × (TBW − IBW), unrounded."""
    return ideal_kg + ADJUSTMENT_FACTOR * (actual_kg - ideal_kg)


def dosing_weight(
    *,
    actual_kg: Decimal,
    height_cm: Decimal | None,
    female: bool,
    obese_ratio: Decimal = OBESE_RATIO,
) -> tuple[Decimal, str]:
    """The weight Cockcroft–Gault uses and its basis ("actual", "ideal", "adjusted"),
    following the reference's common choice (module docstring)."""
    if actual_kg <= 0:
        raise RenalCalcError("weight must be positive")
    if height_cm is None or height_cm / CM_PER_INCH < DEVINE_MIN_INCHES:
        return actual_kg, "actual"
    ideal = ideal_body_weight(height_cm=height_cm, female=female)
    if actual_kg < ideal:
        return actual_kg, "actual"
    if actual_kg <= ideal * obese_ratio:
        return ideal, "ideal"
    return adjusted_body_weight(ideal_kg=ideal, actual_kg=actual_kg), "adjusted"


def cockcroft_gault(
    *,
    age_years: int,
    weight_kg: Decimal,
    scr_mg_dl: Decimal,
    female: bool,
    min_scr: Decimal | None = None,
) -> Decimal:
    """Creatinine clearance in mL/min, rounded half-up to 0.1. ``weight_kg`` is the weight
    to use (see ``dosing_weight``); ``min_scr`` optionally rounds a low SCr up (off by
    default: the reference calls it controversial)."""
    if age_years < MIN_ADULT_AGE:
        raise RenalCalcError("Cockcroft–Gault is for adults (18 years and older)")
    if age_years >= 140:
        raise RenalCalcError("age out of range")
    if weight_kg <= 0:
        raise RenalCalcError("weight must be positive")
    if scr_mg_dl <= 0:
        raise RenalCalcError("serum creatinine must be positive")
    if min_scr is not None and scr_mg_dl < min_scr:
        scr_mg_dl = min_scr
    crcl = (Decimal(140 - age_years) * weight_kg) / (Decimal(72) * scr_mg_dl)
    if female:
        crcl *= FEMALE_FACTOR
    return crcl.quantize(CRCL_QUANTUM, rounding=ROUND_HALF_UP)


def clearance(
    *,
    age_years: int,
    sex: str,
    actual_kg: Decimal,
    height_cm: Decimal | None,
    scr_mg_dl: Decimal,
    obese_ratio: Decimal = OBESE_RATIO,
    min_scr: Decimal | None = None,
) -> Clearance:
    """Cockcroft–Gault from the patient's facts: picks the weight, then computes. ``sex``
    must be "F" or "M" (the equation has no answer for unknown sex)."""
    if sex not in ("F", "M"):
        raise RenalCalcError("Cockcroft–Gault needs sex F or M")
    female = sex == "F"
    weight, basis = dosing_weight(
        actual_kg=actual_kg, height_cm=height_cm, female=female, obese_ratio=obese_ratio
    )
    crcl = cockcroft_gault(
        age_years=age_years, weight_kg=weight, scr_mg_dl=scr_mg_dl, female=female, min_scr=min_scr
    )
    return Clearance(
        crcl_ml_min=crcl,
        weight_kg=weight.quantize(WEIGHT_QUANTUM, rounding=ROUND_HALF_UP),
        weight_basis=basis,
    )
