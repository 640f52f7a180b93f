"""Workstation pages of the pharmacy calculators: one page with a tab per calculator
(``/compounding/calc/?kind=dilution``), the parenteral nutrition order calculator and the
IV admixture standards. Parse, call the pure modules, render — the answer with its steps
in a table, warnings first. Nothing is written; each page checks compounding.view first,
so a refused role gets 403 and nothing is computed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.calc import pharmmath, pn
from rxdesk.calc.units import UnitError
from rxdesk.compounding import admixtures
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.forms import RxForm, choice, flag
from rxdesk.core.views import FORM, actor_of, posted, screen

MASS = [("mg", "mg"), ("g", "g"), ("mcg", "mcg")]
AMOUNT = [*MASS, ("units", "units"), ("mEq", "mEq"), ("mmol", "mmol")]
VOLUME = [("mL", "mL"), ("L", "L")]
STRENGTH = [("%", "%"), ("mg/mL", "mg/mL"), ("mcg/mL", "mcg/mL"), ("g/L", "g/L")]
WEIGHT = [("kg", "kg"), ("lb", "lb"), ("g", "g")]
HEIGHT = [("cm", "cm"), ("in", "in"), ("m", "m")]
TIME = [("h", "hours"), ("min", "minutes")]
DROP_FACTORS = [("", "no drip set"), *((str(d), f"{d} gtt/mL") for d in pharmmath.DROP_FACTORS)]
PER_KG = [("mg/kg", "mg/kg"), ("mcg/kg", "mcg/kg"), ("units/kg", "units/kg"), ("mEq/kg", "mEq/kg")]
RATES = [
    ("mcg/kg/min", "mcg/kg/min"),
    ("mcg/min", "mcg/min"),
    ("mg/min", "mg/min"),
    ("mg/h", "mg/h"),
    ("mg/kg/h", "mg/kg/h"),
    ("units/h", "units/h"),
    ("units/kg/h", "units/kg/h"),
    ("mcg/kg/h", "mcg/kg/h"),
    ("mEq/h", "mEq/h"),
]
CONCENTRATIONS = [("mg/mL", "mg/mL"), ("mcg/mL", "mcg/mL"), ("units/mL", "units/mL")]


def num(label: str, *, required: bool = True, help_text: str = "") -> forms.DecimalField:
    """A number typed at the keyboard (no spinner), as the API takes it: 12 digits before
    the point, 12 after."""
    return forms.DecimalField(
        label=label,
        required=required,
        help_text=help_text,
        max_digits=24,
        decimal_places=12,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


# --- One form per calculator: its field names are the calculator's arguments. -----------------


class DoseVolumeForm(RxForm):
    FIELDSETS = (("Have / want", ("dose", "dose_unit", "strength", "strength_unit",
                                  "per_volume", "per_volume_unit")),)  # fmt: skip
    dose = num("Dose wanted")
    dose_unit = choice(AMOUNT, label="Unit")
    strength = num("Strength on hand", help_text="e.g. 250 (mg) per 5 mL")
    strength_unit = choice(AMOUNT, label="Unit")
    per_volume = num("per volume")
    per_volume_unit = choice(VOLUME, label="Unit")


class StrengthForm(RxForm):
    FIELDSETS = (
        ("Strength (give one)", ("kind", "percent", "ratio", "concentration",
                                 "concentration_unit")),
        ("Amount of preparation (optional)", ("preparation", "preparation_unit")),
    )  # fmt: skip
    kind = choice([(k, v) for k, v in pharmmath.STRENGTH_LABELS.items()], label="Kind")
    percent = num("Percent", required=False)
    ratio = num("Ratio 1:N — N", required=False, help_text="1:1000 → 1000")
    concentration = num("Concentration", required=False)
    concentration_unit = choice(
        [("mg/mL", "mg/mL"), ("mcg/mL", "mcg/mL"), ("g/L", "g/L"), ("mg/g", "mg/g")],
        label="Unit",
    )
    preparation = num("Amount of preparation", required=False)
    preparation_unit = choice([("", "mL or g by kind"), *VOLUME, ("g", "g")], label="Unit",
                              required=False)  # fmt: skip


class DilutionForm(RxForm):
    FIELDSETS = (
        ("Strengths", ("c1", "c1_unit", "c2", "c2_unit")),
        ("Amounts (give V1 or V2)", ("v2", "v1", "volume_unit")),
    )
    c1 = num("Stock strength (C1)")
    c1_unit = choice(STRENGTH, label="Unit")
    c2 = num("Final strength (C2)")
    c2_unit = choice([("", "same as C1"), *STRENGTH], label="Unit", required=False)
    v2 = num("Final amount (V2)", required=False)
    v1 = num("Stock amount (V1)", required=False)
    volume_unit = choice([*VOLUME, ("g", "g")], label="Unit")


class AlligationForm(RxForm):
    FIELDSETS = (
        ("Strengths (%)", ("high", "low", "desired")),
        ("Amount", ("total", "amount_unit")),
    )
    high = num("Higher strength (H)")
    low = num("Lower strength (L)", help_text="0 for a diluent or base")
    desired = num("Desired strength (D)")
    total = num("Total to make")
    amount_unit = choice([("g", "g"), *VOLUME], label="Unit")


class MilliequivalentsForm(RxForm):
    FIELDSETS = (
        ("Salt and amount", ("salt", "amount", "unit", "solution_percent")),
        ("Custom salt", ("mw", "valence")),
    )
    salt = choice([(k, s.name) for k, s in pharmmath.SALTS.items()] + [("custom", "Custom…")])
    amount = num("Amount")
    unit = choice([("mg", "mg"), ("g", "g"), ("mEq", "mEq"), ("mmol", "mmol")], label="Unit")
    solution_percent = num("Solution strength, % w/v", required=False,
                           help_text="e.g. 10 for KCl 10 %: gives the volume")  # fmt: skip
    mw = num("Molecular weight (g/mol)", required=False)
    valence = num("Valence", required=False)


class OsmolarityForm(RxForm):
    FIELDSETS = (
        ("Solution", ("solute", "concentration", "concentration_unit")),
        ("Custom solute", ("mw", "particles")),
    )
    solute = choice([(k, s.name) for k, s in pharmmath.SOLUTES.items()] + [("custom", "Custom…")])
    concentration = num("Concentration")
    concentration_unit = choice([("%", "% w/v"), ("g/L", "g/L"), ("mg/mL", "mg/mL")], label="Unit")
    mw = num("Molecular weight (g/mol)", required=False)
    particles = num("Particles", required=False, help_text="NaCl 2, CaCl₂ 3, dextrose 1")


class DoseForm(RxForm):
    FIELDSETS = (
        ("Dose", ("dose", "dose_unit", "per", "doses_per_day")),
        ("Patient", ("weight", "weight_unit", "pounds")),
        ("Liquid (optional)", ("strength", "strength_unit", "per_volume", "per_volume_unit")),
    )
    dose = num("Dose")
    dose_unit = choice(PER_KG, label="Unit")
    per = choice([("day", "per day"), ("dose", "per dose")], label="Per")
    doses_per_day = forms.IntegerField(label="Doses a day", min_value=1, max_value=24, initial=1)
    weight = num("Weight")
    weight_unit = choice(WEIGHT, label="Unit")
    pounds = choice([("exact", "exact (2.2046 lb/kg)"), ("2.2", "2.2 lb/kg")], label="Pounds")
    strength = num("Strength", required=False, help_text="e.g. 400 (mg) per 5 mL")
    strength_unit = choice(AMOUNT, label="Unit")
    per_volume = num("per volume", required=False)
    per_volume_unit = choice(VOLUME, label="Unit")


class BsaForm(RxForm):
    FIELDSETS = (
        ("Patient", ("height", "height_unit", "weight", "weight_unit", "formula")),
        ("Dose (optional)", ("dose_per_m2", "dose_unit")),
    )
    height = num("Height")
    height_unit = choice(HEIGHT, label="Unit")
    weight = num("Weight")
    weight_unit = choice(WEIGHT, label="Unit")
    formula = choice([("mosteller", "Mosteller"), ("dubois", "DuBois")], label="Formula")
    dose_per_m2 = num("Dose per m²", required=False)
    dose_unit = choice(AMOUNT, label="Unit")


class FlowRateForm(RxForm):
    FIELDSETS = (("Infusion", ("volume", "volume_unit", "time", "time_unit", "drop_factor")),)
    volume = num("Volume")
    volume_unit = choice(VOLUME, label="Unit")
    time = num("Over")
    time_unit = choice(TIME, label="Unit")
    drop_factor = choice(DROP_FACTORS, label="Drip set", required=False)


class InfusionTimeForm(RxForm):
    FIELDSETS = (("Infusion", ("volume", "volume_unit", "rate", "rate_unit")),)
    volume = num("Volume")
    volume_unit = choice(VOLUME, label="Unit")
    rate = num("Rate")
    rate_unit = choice([("mL/h", "mL/h"), ("mL/min", "mL/min")], label="Unit")


class DoseRateForm(RxForm):
    FIELDSETS = (
        ("Dose", ("dose", "dose_unit", "weight", "weight_unit")),
        ("Bag: concentration, or drug in volume", ("concentration", "concentration_unit",
                                                   "drug_amount", "drug_amount_unit",
                                                   "bag_volume", "bag_volume_unit")),
        ("Gravity (optional)", ("drop_factor",)),
    )  # fmt: skip
    dose = num("Dose")
    dose_unit = choice(RATES, label="Unit")
    weight = num("Weight", required=False, help_text="For a per-kg dose")
    weight_unit = choice(WEIGHT, label="Unit")
    concentration = num("Concentration", required=False)
    concentration_unit = choice(CONCENTRATIONS, label="Unit")
    drug_amount = num("Drug in the bag", required=False)
    drug_amount_unit = choice(AMOUNT, label="Unit")
    bag_volume = num("Bag volume", required=False)
    bag_volume_unit = choice(VOLUME, label="Unit")
    drop_factor = choice(DROP_FACTORS, label="Drip set", required=False)


class TemperatureForm(RxForm):
    FIELDSETS = (("Temperature", ("value", "unit")),)
    value = num("Temperature")
    unit = choice([(k, v) for k, v in pharmmath.TEMPERATURE_UNITS.items()], label="Unit")


@dataclass(frozen=True)
class Kind:
    key: str
    title: str
    form: type[RxForm]
    func: Callable[..., pharmmath.Calculation]
    shortcut: str
    hint: str


KINDS: tuple[Kind, ...] = (
    Kind("dose-volume", "Dose volume", DoseVolumeForm, pharmmath.dose_volume, "v",
         "Have/want: 375 mg from 250 mg per 5 mL."),
    Kind("percent", "Percent & ratio", StrengthForm, pharmmath.strength, "p",
         "w/v, w/w, v/v, 1:N and mg/mL; the solute in an amount of preparation."),
    Kind("dilution", "Dilution", DilutionForm, pharmmath.dilution, "d",
         "C1 × V1 = C2 × V2, and the diluent to add."),
    Kind("alligation", "Alligation", AlligationForm, pharmmath.alligation, "a",
         "Two strengths (or one and a diluent at 0) to an intermediate."),
    Kind("milliequivalents", "mEq / mmol", MilliequivalentsForm, pharmmath.milliequivalents,
         "m", "mg ↔ mmol ↔ mEq of a salt; the volume of a % solution."),
    Kind("osmolarity", "Osmolarity", OsmolarityForm, pharmmath.osmolarity, "o",
         "Ideal osmolarity: g/L ÷ MW × particles × 1000."),
    Kind("dose", "mg/kg dose", DoseForm, pharmmath.weight_dose, "k",
         "Per day divided into doses, or per dose; lb to kg; the volume of a liquid."),
    Kind("bsa", "BSA", BsaForm, pharmmath.bsa, "b", "Mosteller or DuBois; mg/m² doses."),
    Kind("flow-rate", "Flow rate", FlowRateForm, pharmmath.flow_rate, "f",
         "mL/h, and gtt/min for a drip set."),
    Kind("infusion-time", "Infusion time", InfusionTimeForm, pharmmath.infusion_time, "i",
         "Volume ÷ rate, in hours and minutes."),
    Kind("dose-rate", "Dose rate", DoseRateForm, pharmmath.dose_rate, "r",
         "mL/h for units/h, mcg/min or mcg/kg/min."),
    Kind("temperature", "Temperature", TemperatureForm, pharmmath.temperature, "t",
         "°C, °F and K."),
)  # fmt: skip
BY_KIND = {k.key: k for k in KINDS}


def _bind(form: forms.Form, exc: UnitError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def compute(form: RxForm, func: Callable[..., Any]) -> Any:
    """The calculator's answer for a valid form, or None with the error shown beside the
    field it names (the form's status becomes 422)."""
    if not form.is_valid():
        return None
    try:
        return func(**form.cleaned_data)
    except UnitError as exc:
        _bind(form, exc)
    except ArithmeticError:
        form.add_error(None, "These numbers cannot be calculated; check them.")
    return None


@screen(methods=FORM)
def calc_page(request: HttpRequest) -> HttpResponse:
    """The calculators, one tab each; the answer with its steps below the form."""
    require(actor_of(request), Cap.COMPOUNDING_VIEW)
    data = posted(request)
    wanted = (data.get("kind") if data is not None else None) or request.GET.get("kind", "")
    kind = BY_KIND.get(wanted, KINDS[0])
    form = kind.form(data)
    result = compute(form, kind.func) if data is not None else None
    context = {"kinds": KINDS, "kind": kind, "form": form, "result": result}
    return render(request, "compounding/calc.html", context, status=form.http_status())


# --- Parenteral nutrition ----------------------------------------------------------------------


class PnForm(RxForm):
    FIELDSETS = (
        ("Bag", ("final_volume_ml", "weight_kg", "lipid_in_bag")),
        ("Dextrose (grams or final %)", ("dextrose_g", "dextrose_percent",
                                         "dextrose_stock_percent")),
        ("Amino acids (grams or final %)", ("amino_acids_g", "amino_acids_percent",
                                            "amino_acids_stock_percent")),
        ("Lipid (grams or mL of emulsion)", ("lipid_g", "lipid_ml", "lipid_emulsion_percent")),
        ("Electrolytes, as salts (mEq; phosphates in mmol P)", (
            "sodium_chloride_meq", "sodium_acetate_meq", "sodium_phosphate_mmol",
            "potassium_chloride_meq", "potassium_acetate_meq", "potassium_phosphate_mmol",
            "calcium_gluconate_meq", "magnesium_sulfate_meq")),
    )  # fmt: skip
    final_volume_ml = num("Final volume, mL (qs to)")
    weight_kg = num("Weight, kg", required=False, help_text="For kcal/kg and protein g/kg")
    lipid_in_bag = flag("Lipid in the bag (3-in-1)", "Unchecked: lipid infused separately.")
    dextrose_g = num("Dextrose, g", required=False)
    dextrose_percent = num("or final %", required=False)
    dextrose_stock_percent = choice([("70", "D70W"), ("50", "D50W")], label="Stock")
    amino_acids_g = num("Amino acids, g", required=False)
    amino_acids_percent = num("or final %", required=False)
    amino_acids_stock_percent = choice([("10", "10 %"), ("15", "15 %"), ("20", "20 %")],
                                       label="Stock")  # fmt: skip
    lipid_g = num("Lipid, g", required=False)
    lipid_ml = num("or mL of emulsion", required=False)
    lipid_emulsion_percent = choice(
        [("20", "20 %"), ("10", "10 %"), ("30", "30 % (3-in-1 only)")], label="Emulsion"
    )
    sodium_chloride_meq = num("Sodium chloride, mEq", required=False)
    sodium_acetate_meq = num("Sodium acetate, mEq", required=False)
    sodium_phosphate_mmol = num("Sodium phosphates, mmol P", required=False)
    potassium_chloride_meq = num("Potassium chloride, mEq", required=False)
    potassium_acetate_meq = num("Potassium acetate, mEq", required=False)
    potassium_phosphate_mmol = num("Potassium phosphates, mmol P", required=False)
    calcium_gluconate_meq = num("Calcium gluconate, mEq", required=False)
    magnesium_sulfate_meq = num("Magnesium sulfate, mEq", required=False)


@screen(methods=FORM)
def pn_page(request: HttpRequest) -> HttpResponse:
    """The PN order calculator: the worksheet of stocks and volumes, the totals, and the
    warnings (central line only, calcium–phosphate) shown first."""
    require(actor_of(request), Cap.COMPOUNDING_VIEW)
    data = posted(request)
    form = PnForm(data, initial={"lipid_in_bag": True})
    result = compute(form, pn.pn_calculate) if data is not None else None
    context = {"form": form, "result": result, "stocks": pn.DEFAULT_STOCKS}
    return render(request, "compounding/calc_pn.html", context, status=form.http_status())


# --- IV admixtures -----------------------------------------------------------------------------


class AdmixtureForm(RxForm):
    FIELDSETS = (
        ("Standard", ("drug", "diluent")),
        ("Dose (optional: the pump rate)", ("dose", "dose_unit", "weight", "weight_unit")),
        ("Vial (optional: when not the usual one)", ("vial_concentration", "vial_unit")),
    )
    drug = choice([(s.key, s.label) for s in admixtures.STANDARDS], label="Drug and concentration")
    diluent = choice([("", "the standard's first"), *admixtures.DILUENTS.items()],
                     label="Diluent", required=False)  # fmt: skip
    dose = num("Dose", required=False)
    dose_unit = choice([("", "the standard's unit"), *RATES], label="Unit", required=False)
    weight = num("Weight", required=False, help_text="For a per-kg dose")
    weight_unit = choice(WEIGHT, label="Unit")
    vial_concentration = num("Vial concentration", required=False)
    vial_unit = choice([("", "the usual vial's unit"), *CONCENTRATIONS], label="Unit",
                       required=False)  # fmt: skip


@screen(methods=FORM)
def admixtures_page(request: HttpRequest) -> HttpResponse:
    """The adult standard concentrations, and the admixture calculator."""
    require(actor_of(request), Cap.COMPOUNDING_VIEW)
    data = posted(request)
    initial = {"drug": request.GET.get("drug", "")} if request.GET.get("drug") else None
    form = AdmixtureForm(data, initial=initial)
    result = compute(form, admixtures.admixture) if data is not None else None
    context = {
        "form": form,
        "result": result,
        "standards": admixtures.STANDARDS,
        "diluents": admixtures.DILUENTS,
    }
    return render(request, "compounding/calc_admixtures.html", context, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("calc/", calc_page, name="compounding_calc"),
    path("pn/", pn_page, name="compounding_pn"),
    path("admixtures/", admixtures_page, name="compounding_admixtures"),
]
