"""API of the pharmacy calculators, the PN order calculator and the IV admixture
standards. Parse, call the pure modules (rxdesk.calc.pharmmath, rxdesk.calc.pn,
rxdesk.compounding.admixtures), serialize.

Every operation is compounding.view (technicians, pharmacists, the pharmacist-in-charge,
auditors), checked before the body is read. Nothing is written. Numbers come in as JSON
numbers or strings (at most 12 digits before the point and 12 after) and go out as
strings; every answer comes with its steps. Bad input — an unknown unit, a zero where one
is impossible, a strength outside the alligation's range, NaN, 1e400 — is a 422 problem
body naming the field."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import StrictBool

from rxdesk.calc import pharmmath, pn
from rxdesk.calc.units import UnitError
from rxdesk.compounding import admixtures
from rxdesk.compounding.api_common import StrictIn, gate
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid

router = Router(tags=["compounding"])

VIEW = gate(Cap.COMPOUNDING_VIEW)

Num = Annotated[
    Decimal,
    Field(max_digits=24, decimal_places=12, description="A number (JSON number or string)"),
]
Unit = Annotated[
    str,
    Field(
        min_length=1,
        max_length=24,
        pattern=r"^[A-Za-z0-9/%.*^² _-]+$",
        description="A unit as pharmacists write it: mg, g, mcg, mL, L, mEq, mmol, units, "
        "mg/mL, mcg/kg/min, units/h, %…",
    ),
]
SALT_KEYS = Literal[
    "kcl",
    "nacl",
    "cacl2",
    "ca_gluconate",
    "ca_gluconate_monohydrate",
    "mgso4",
    "nahco3",
    "k_acetate",
    "na_acetate",
    "kh2po4",
    "k2hpo4",
    "nah2po4",
    "na2hpo4",
    "custom",
]
SOLUTE_KEYS = Literal[
    "kcl",
    "nacl",
    "cacl2",
    "ca_gluconate",
    "ca_gluconate_monohydrate",
    "mgso4",
    "nahco3",
    "k_acetate",
    "na_acetate",
    "kh2po4",
    "k2hpo4",
    "nah2po4",
    "na2hpo4",
    "dextrose",
    "dextrose_anhydrous",
    "custom",
]
DropFactor = Literal[10, 15, 20, 60]


# --- Output -----------------------------------------------------------------------------------


class AnswerOut(Schema):
    name: str
    label: str
    value: str = Field(..., description="As calculated (unrounded)")
    rounded: str = Field(..., description="Rounded half-up to what is read or measured")
    unit: str
    text: str = Field(..., description="The rounded value with its unit")


class CalcStepOut(Schema):
    label: str
    expression: str = Field(..., description="The arithmetic, with units")
    result: str


class CalcOut(Schema):
    kind: str
    title: str
    summary: str
    answers: list[AnswerOut]
    steps: list[CalcStepOut]
    warnings: list[str]


class AdditiveOut(Schema):
    key: str
    name: str
    amount: str
    amount_unit: str
    stock: str
    volume_ml: str = Field(..., description="As calculated")
    volume_rounded_ml: str = Field(..., description="To measure (0.1 mL; 0.01 mL under 1 mL)")
    volume_text: str


class PnOut(Schema):
    final_volume_ml: str
    lipid_in_bag: bool
    central_line_only: bool = Field(..., description="Estimated osmolarity above 900 mOsm/L")
    calcium_phosphate_warning: bool = Field(
        ..., description="Ca + P above 30 or Ca × P above 150 (rules of thumb)"
    )
    additives: list[AdditiveOut] = Field(..., description="In mixing order; sterile water last")
    totals: list[AnswerOut]
    steps: list[CalcStepOut]
    warnings: list[str]


class StandardOut(Schema):
    key: str
    drug: str
    name: str
    label: str
    amount: str
    amount_unit: str
    volume_ml: str
    concentration: str
    concentration_unit: str
    dosing_unit: str
    diluents: list[str]
    vial_concentration: str
    vial_unit: str
    note: str
    source: str


class AdmixtureOut(CalcOut):
    standard: StandardOut
    diluent: str


# --- Input ------------------------------------------------------------------------------------


class DoseVolumeIn(StrictIn):
    dose: Num = Field(..., description="The dose wanted")
    dose_unit: Unit = "mg"
    strength: Num = Field(..., description="The product's strength (have)…")
    strength_unit: Unit = "mg"
    per_volume: Num = Field(..., description="…per this volume")
    per_volume_unit: Unit = "mL"


class StrengthIn(StrictIn):
    kind: Literal["w/v", "w/w", "v/v"] = "w/v"
    percent: Num | None = None
    ratio: Num | None = Field(None, description="The N of 1:N")
    concentration: Num | None = None
    concentration_unit: Unit = "mg/mL"
    preparation: Num | None = Field(None, description="An amount of the preparation")
    preparation_unit: Unit | None = None


class DilutionIn(StrictIn):
    c1: Num = Field(..., description="Stock strength")
    c1_unit: Unit = "%"
    c2: Num = Field(..., description="Final strength (weaker)")
    c2_unit: Unit | None = None
    v1: Num | None = Field(None, description="Stock amount (give V1 or V2)")
    v2: Num | None = Field(None, description="Final amount (give V1 or V2)")
    volume_unit: Unit = "mL"


class AlligationIn(StrictIn):
    high: Num
    low: Num = Field(..., description="0 for a diluent or base")
    desired: Num
    total: Num
    amount_unit: Unit = "g"
    strength_unit: Unit = "%"


class MilliequivalentsIn(StrictIn):
    salt: SALT_KEYS = "kcl"
    amount: Num
    unit: Unit = Field("mg", description="mg, g, mEq or mmol")
    mw: Num | None = Field(None, description="Custom salt: molecular weight (g/mol)")
    valence: Num | None = Field(None, description="Custom salt: charges per formula unit")
    solution_percent: Num | None = Field(None, description="A w/v % solution to measure from")


class OsmolarityIn(StrictIn):
    solute: SOLUTE_KEYS = "nacl"
    concentration: Num
    concentration_unit: Unit = Field("%", description="% (w/v), g/L, mg/mL…")
    mw: Num | None = None
    particles: Num | None = None


class DoseIn(StrictIn):
    dose: Num
    dose_unit: Unit = "mg/kg"
    weight: Num
    weight_unit: Unit = "kg"
    per: Literal["day", "dose"] = "day"
    doses_per_day: Num = Decimal(1)
    strength: Num | None = None
    strength_unit: Unit = "mg"
    per_volume: Num | None = None
    per_volume_unit: Unit = "mL"
    pounds: Literal["exact", "2.2"] = "exact"


class BsaIn(StrictIn):
    height: Num
    height_unit: Unit = "cm"
    weight: Num
    weight_unit: Unit = "kg"
    formula: Literal["mosteller", "dubois"] = "mosteller"
    dose_per_m2: Num | None = None
    dose_unit: Unit = "mg"


class FlowRateIn(StrictIn):
    volume: Num
    volume_unit: Unit = "mL"
    time: Num
    time_unit: Unit = "h"
    drop_factor: DropFactor | None = None


class InfusionTimeIn(StrictIn):
    volume: Num
    volume_unit: Unit = "mL"
    rate: Num
    rate_unit: Unit = "mL/h"


class DoseRateIn(StrictIn):
    dose: Num
    dose_unit: Unit = Field(..., description="A rate: mcg/min, units/h, mcg/kg/min…")
    concentration: Num | None = None
    concentration_unit: Unit | None = None
    drug_amount: Num | None = None
    drug_amount_unit: Unit | None = None
    bag_volume: Num | None = None
    bag_volume_unit: Unit = "mL"
    weight: Num | None = None
    weight_unit: Unit = "kg"
    drop_factor: DropFactor | None = None


class TemperatureIn(StrictIn):
    value: Num
    unit: Literal["degC", "degF", "K"] = "degC"


class PnIn(StrictIn):
    final_volume_ml: Num = Field(..., description="The bag after qs with sterile water")
    weight_kg: Num | None = None
    dextrose_g: Num | None = None
    dextrose_percent: Num | None = Field(None, description="Final % of the bag (or grams)")
    amino_acids_g: Num | None = None
    amino_acids_percent: Num | None = None
    lipid_g: Num | None = None
    lipid_ml: Num | None = Field(None, description="mL of the emulsion (or grams)")
    lipid_emulsion_percent: Literal[10, 20, 30] = 20
    lipid_in_bag: StrictBool = Field(True, description="3-in-1; false: lipid infused separately")
    sodium_chloride_meq: Num | None = None
    sodium_acetate_meq: Num | None = None
    potassium_chloride_meq: Num | None = None
    potassium_acetate_meq: Num | None = None
    calcium_gluconate_meq: Num | None = None
    magnesium_sulfate_meq: Num | None = None
    potassium_phosphate_mmol: Num | None = None
    sodium_phosphate_mmol: Num | None = None
    dextrose_stock_percent: Num | None = Field(None, description="Default D70W")
    amino_acids_stock_percent: Num | None = Field(None, description="Default 10 %")


class AdmixtureIn(StrictIn):
    drug: str = Field(
        ..., min_length=1, max_length=40, description='A standard\'s key ("norepinephrine-16")'
    )
    dose: Num | None = None
    dose_unit: Unit | None = None
    weight: Num | None = None
    weight_unit: Unit = "kg"
    diluent: Literal["NS", "D5W"] | None = None
    vial_concentration: Num | None = None
    vial_unit: Unit | None = None


# --- Operations -------------------------------------------------------------------------------


def run(func: Callable[..., Any], payload: Schema) -> Any:
    """Calls a calculator with the body's fields; its UnitError becomes a 422 naming the
    field (never a 500)."""
    try:
        return func(**payload.model_dump())
    except UnitError as exc:
        raise Invalid(exc.message, field=exc.field) from exc
    except ArithmeticError as exc:
        raise Invalid("These numbers cannot be calculated; check them.", field="body") from exc


def _calc(func: Callable[..., pharmmath.Calculation], payload: Schema) -> dict[str, Any]:
    return run(func, payload).as_dict()


@router.post("/calc/dose-volume", auth=VIEW, response=CalcOut, summary="Dose volume (have/want)")
def calc_dose_volume(request: HttpRequest, payload: DoseVolumeIn) -> dict[str, Any]:
    return _calc(pharmmath.dose_volume, payload)


@router.post("/calc/percent", auth=VIEW, response=CalcOut, summary="Percent and ratio strength")
def calc_percent(request: HttpRequest, payload: StrengthIn) -> dict[str, Any]:
    return _calc(pharmmath.strength, payload)


@router.post("/calc/dilution", auth=VIEW, response=CalcOut, summary="Dilution, C1V1 = C2V2")
def calc_dilution(request: HttpRequest, payload: DilutionIn) -> dict[str, Any]:
    return _calc(pharmmath.dilution, payload)


@router.post("/calc/alligation", auth=VIEW, response=CalcOut, summary="Alligation alternate")
def calc_alligation(request: HttpRequest, payload: AlligationIn) -> dict[str, Any]:
    return _calc(pharmmath.alligation, payload)


@router.post(
    "/calc/milliequivalents", auth=VIEW, response=CalcOut, summary="mg ↔ mmol ↔ mEq of a salt"
)
def calc_milliequivalents(request: HttpRequest, payload: MilliequivalentsIn) -> dict[str, Any]:
    return _calc(pharmmath.milliequivalents, payload)


@router.post("/calc/osmolarity", auth=VIEW, response=CalcOut, summary="Ideal osmolarity")
def calc_osmolarity(request: HttpRequest, payload: OsmolarityIn) -> dict[str, Any]:
    return _calc(pharmmath.osmolarity, payload)


@router.post("/calc/dose", auth=VIEW, response=CalcOut, summary="Weight-based (mg/kg) dose")
def calc_dose(request: HttpRequest, payload: DoseIn) -> dict[str, Any]:
    return _calc(pharmmath.weight_dose, payload)


@router.post("/calc/bsa", auth=VIEW, response=CalcOut, summary="Body surface area and mg/m²")
def calc_bsa(request: HttpRequest, payload: BsaIn) -> dict[str, Any]:
    return _calc(pharmmath.bsa, payload)


@router.post("/calc/flow-rate", auth=VIEW, response=CalcOut, summary="mL/h and gtt/min")
def calc_flow_rate(request: HttpRequest, payload: FlowRateIn) -> dict[str, Any]:
    return _calc(pharmmath.flow_rate, payload)


@router.post("/calc/infusion-time", auth=VIEW, response=CalcOut, summary="Infusion time")
def calc_infusion_time(request: HttpRequest, payload: InfusionTimeIn) -> dict[str, Any]:
    return _calc(pharmmath.infusion_time, payload)


@router.post("/calc/dose-rate", auth=VIEW, response=CalcOut, summary="Dose-based pump rate")
def calc_dose_rate(request: HttpRequest, payload: DoseRateIn) -> dict[str, Any]:
    return _calc(pharmmath.dose_rate, payload)


@router.post("/calc/temperature", auth=VIEW, response=CalcOut, summary="°C, °F and K")
def calc_temperature(request: HttpRequest, payload: TemperatureIn) -> dict[str, Any]:
    return _calc(pharmmath.temperature, payload)


@router.post("/pn", auth=VIEW, response=PnOut, summary="Parenteral nutrition order calculator")
def pn_order(request: HttpRequest, payload: PnIn) -> dict[str, Any]:
    return run(pn.pn_calculate, payload).as_dict()


@router.get(
    "/admixtures",
    auth=VIEW,
    response=list[StandardOut],
    summary="Adult standard concentrations for continuous infusions",
)
def admixture_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [s.as_dict() for s in admixtures.standards()]


@router.post(
    "/admixtures/calculate",
    auth=VIEW,
    response=AdmixtureOut,
    summary="Make an admixture to its standard; pump rate for a dose",
)
def admixture_calculate(request: HttpRequest, payload: AdmixtureIn) -> dict[str, Any]:
    made = run(admixtures.admixture, payload)
    out: dict[str, Any] = made.as_dict()
    out["standard"] = made.standard.as_dict()
    out["diluent"] = made.diluent
    return out
