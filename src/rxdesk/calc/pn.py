"""The parenteral nutrition (PN, TPN) order calculator: from an order to what goes in the
bag — the volume of each stock solution, the sterile water to qs, the grams and calories,
the electrolytes delivered, an estimated osmolarity, and the warnings a compounding
pharmacist must see (central line only; calcium–phosphate precipitation).

Pure: no Django, Decimal only, units through pint (:mod:`rxdesk.calc.units`).

Electrolytes are ordered as their salts (the ASPEN PN safety consensus asks for salt
forms): sodium chloride / acetate and potassium chloride / acetate in mEq, calcium
gluconate and magnesium sulfate in mEq, potassium and sodium phosphates in mmol of
phosphate. The cation a phosphate salt brings (4.4 mEq K or 4 mEq Na per 3 mmol P) is
counted in the sodium and potassium totals.

Constants, with where each comes from:

- Calories (reference identifiers-labels-math.md §6.11): dextrose monohydrate 3.4 kcal/g,
  amino acids 4 kcal/g, lipid injectable emulsion 10 % 1.1, 20 % 2.0, 30 % 3.0 kcal/mL
  (30 % is a pharmacy bulk package for compounding only, never infused as is); protein
  g ÷ 6.25 = nitrogen g.
- Stock solutions (reference §6.6 table; calcium gluconate 10 % = 0.465 mEq/mL confirmed by
  the Handbook on Injectable Drugs monograph: 9.3 mg, 0.465 mEq elemental Ca per mL):
  D70W, amino acids 10 % (or 15 %), lipid 20 %, NaCl 23.4 % 4 mEq/mL, KCl 2 mEq/mL,
  MgSO4 50 % 4.06 mEq/mL, potassium phosphates 3 mmol P + 4.4 mEq K per mL, sodium
  phosphates 3 mmol P + 4 mEq Na per mL, potassium and sodium acetate 2 mEq/mL.
- Osmolarity, estimated (mOsm per L of the final volume):
  * dextrose monohydrate: ideal, 1000 ÷ 198.17 = 5.046 mOsm/g (reference §6.7);
  * amino acids: 10 mOsm/g (rule of thumb, unverified: the figure ASPEN-derived bedside
    formulas use; the real value depends on the product's amino-acid profile);
  * electrolytes: counted as their ions on complete dissociation (ideal, §6.7): NaCl, KCl
    and the acetates 2 mOsm/mEq; calcium gluconate 1.5 mOsm/mEq (0.5 mmol Ca²⁺ + 1 mmol
    gluconate); magnesium sulfate 1 mOsm/mEq (0.5 mmol Mg²⁺ + 0.5 mmol SO₄²⁻); phosphates
    1 mOsm per mmol P plus their cation (K phosphate 1 + 4.4/3, Na phosphate 1 + 4/3
    mOsm/mmol P);
  * lipid emulsion: left out (rule of thumb, unverified: emulsions are near-isotonic and
    bedside formulas omit them; in a 3-in-1 their volume still dilutes the bag).
  The estimate is an ideal osmolarity; measured osmolality of concentrated PN runs higher.
- Peripheral limit: ~900 mOsm/L (reference §6.7: "peripheral PN limit commonly ≤ ~900").
- Calcium–phosphate: Ca (mEq/L) + phosphate (mmol/L) > 30, or Ca × phosphate > 150, warns
  (rules of thumb, unverified: thresholds quoted in practice vary — 30 to 45 for the sum,
  150 to 200 for the product; solubility depends on the amino-acid product, its
  concentration, pH, temperature and the calcium salt). The warning never replaces the
  manufacturer's solubility curve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rxdesk.calc import units
from rxdesk.calc.pharmmath import Answer, amount_places, number, volume_places
from rxdesk.calc.units import Step, UnitError

D = Decimal
HUNDRED = D(100)

DEXTROSE_KCAL_PER_G = D("3.4")
AMINO_ACID_KCAL_PER_G = D(4)
LIPID_KCAL_PER_ML = {10: D("1.1"), 20: D("2.0"), 30: D("3.0")}
LIPID_COMPOUNDING_ONLY = 30
PROTEIN_G_PER_G_NITROGEN = D("6.25")

DEXTROSE_MONOHYDRATE_MW = D("198.17")  # g/mol, reference §6.7
AMINO_ACID_MOSM_PER_G = D(10)  # rule of thumb, unverified
LIPID_MOSM_PER_ML = D(0)  # rule of thumb, unverified: left out of the estimate
PERIPHERAL_MAX_MOSM_PER_L = D(900)

CA_P_SUM_LIMIT = D(30)  # Ca mEq/L + P mmol/L; rule of thumb, unverified
CA_P_PRODUCT_LIMIT = D(150)  # Ca mEq/L × P mmol/L; rule of thumb, unverified

MAX_FINAL_VOLUME_ML = D(10000)


@dataclass(frozen=True)
class PnStocks:
    """The stock solutions the pharmacy compounds from (defaults: the reference's)."""

    dextrose_percent: Decimal = Decimal(70)
    amino_acids_percent: Decimal = Decimal(10)
    sodium_chloride_meq_per_ml: Decimal = Decimal(4)
    sodium_acetate_meq_per_ml: Decimal = Decimal(2)
    potassium_chloride_meq_per_ml: Decimal = Decimal(2)
    potassium_acetate_meq_per_ml: Decimal = Decimal(2)
    calcium_gluconate_meq_per_ml: Decimal = Decimal("0.465")
    magnesium_sulfate_meq_per_ml: Decimal = Decimal("4.06")
    potassium_phosphate_mmol_per_ml: Decimal = Decimal(3)
    potassium_phosphate_k_meq_per_ml: Decimal = Decimal("4.4")
    sodium_phosphate_mmol_per_ml: Decimal = Decimal(3)
    sodium_phosphate_na_meq_per_ml: Decimal = Decimal(4)


DEFAULT_STOCKS = PnStocks()


@dataclass(frozen=True)
class Additive:
    """One line of the compounding worksheet: what to add, how much of it, from which
    stock, and the volume to measure."""

    key: str
    name: str
    amount: Decimal
    amount_unit: str
    stock: str
    volume_ml: Decimal

    @property
    def volume_places(self) -> int:
        return volume_places(self.volume_ml)

    @property
    def volume_text(self) -> str:
        return units.show(self.volume_ml, "mL", self.volume_places)

    @property
    def amount_text(self) -> str:
        return units.show(self.amount, self.amount_unit, amount_places(self.amount))

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "amount": _plain(self.amount),
            "amount_unit": self.amount_unit,
            "stock": self.stock,
            "volume_ml": _plain(self.volume_ml),
            "volume_rounded_ml": _plain(units.rounded(self.volume_ml, self.volume_places)),
            "volume_text": self.volume_text,
        }


@dataclass(frozen=True)
class PnResult:
    """The calculated order: the additives (sterile water last), the totals, the steps, and
    warnings (central line only, calcium–phosphate, 3-in-1 visibility)."""

    additives: list[Additive]
    totals: list[Answer]
    steps: list[Step]
    warnings: list[str] = field(default_factory=list)
    final_volume_ml: Decimal = Decimal(0)
    lipid_in_bag: bool = True
    central_line_only: bool = False
    calcium_phosphate_warning: bool = False

    def total(self, name: str) -> Answer:
        for a in self.totals:
            if a.name == name:
                return a
        raise KeyError(name)

    def value(self, name: str) -> Decimal:
        return self.total(name).value

    def additive(self, key: str) -> Additive:
        for a in self.additives:
            if a.key == key:
                return a
        raise KeyError(key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "final_volume_ml": _plain(self.final_volume_ml),
            "lipid_in_bag": self.lipid_in_bag,
            "central_line_only": self.central_line_only,
            "calcium_phosphate_warning": self.calcium_phosphate_warning,
            "additives": [a.as_dict() for a in self.additives],
            "totals": [t.as_dict() for t in self.totals],
            "steps": [s.as_dict() for s in self.steps],
            "warnings": list(self.warnings),
        }


def _plain(value: Decimal) -> str:
    text = f"{Decimal(value).normalize():f}"
    return "0" if text in ("-0", "") else text


def _n(value: Decimal) -> str:
    return units.show(Decimal(value), "", 4)


def _s(value: Decimal, unit: str, places: int = 4) -> str:
    return units.show(Decimal(value), unit, places)


def _given(value: Any) -> bool:
    return value not in (None, "")


def _optional(value: Any, *, field: str) -> Decimal:
    """An amount that may be left blank (= none), never negative."""
    if not _given(value):
        return D(0)
    return number(value, field=field, zero_ok=True)


def _one_of(g: Any, pct: Any, *, pct_field: str, what: str) -> None:
    if _given(g) and _given(pct):
        raise UnitError(
            f"Give the {what} in grams or as a final percent, not both.", field=pct_field
        )


def _ml_of(amount_q: Any, per_ml_q: Any, *, field: str) -> Decimal:
    """The volume (mL) of a stock holding ``amount_q``, the stock holding ``per_ml_q``."""
    try:
        return Decimal((amount_q / per_ml_q).to(units.unit_of("mL")).magnitude)
    except Exception as exc:  # a unit mismatch is a programming error made visible
        raise UnitError("The stock's unit does not match the order.", field=field) from exc


def _q(value: Decimal, unit: str) -> Any:
    return units.Quantity(value, units.unit_of(unit))


def pn_calculate(
    *,
    final_volume_ml: Any,
    weight_kg: Any = None,
    dextrose_g: Any = None,
    dextrose_percent: Any = None,
    amino_acids_g: Any = None,
    amino_acids_percent: Any = None,
    lipid_g: Any = None,
    lipid_ml: Any = None,
    lipid_emulsion_percent: Any = 20,
    lipid_in_bag: bool = True,
    sodium_chloride_meq: Any = None,
    sodium_acetate_meq: Any = None,
    potassium_chloride_meq: Any = None,
    potassium_acetate_meq: Any = None,
    calcium_gluconate_meq: Any = None,
    magnesium_sulfate_meq: Any = None,
    potassium_phosphate_mmol: Any = None,
    sodium_phosphate_mmol: Any = None,
    dextrose_stock_percent: Any = None,
    amino_acids_stock_percent: Any = None,
    stocks: PnStocks = DEFAULT_STOCKS,
) -> PnResult:
    """Calculates a PN order (see the module docstring for the constants).

    ``final_volume_ml`` is the bag's volume after qs with sterile water; with
    ``lipid_in_bag`` (a 3-in-1, total nutrient admixture) the lipid is part of it, else the
    lipid is infused separately (2-in-1 plus lipid) and only its calories count. Dextrose
    and amino acids are ordered in grams or as a final percent of the bag; lipid in grams or
    in mL of the emulsion (10, 20 or 30 %). Raises :class:`UnitError` naming the field when
    the order cannot be made (the additives exceed the final volume, 30 % lipid outside a
    3-in-1, a blank order…)."""
    steps: list[Step] = []
    warnings: list[str] = []
    final = number(final_volume_ml, field="final_volume_ml")
    if final > MAX_FINAL_VOLUME_ML:
        raise UnitError(
            f"A PN bag of more than {_n(MAX_FINAL_VOLUME_ML)} mL is not a real order.",
            field="final_volume_ml",
        )
    weight = number(weight_kg, field="weight_kg") if _given(weight_kg) else None

    dex_stock = (
        number(dextrose_stock_percent, field="dextrose_stock_percent")
        if _given(dextrose_stock_percent)
        else stocks.dextrose_percent
    )
    aa_stock = (
        number(amino_acids_stock_percent, field="amino_acids_stock_percent")
        if _given(amino_acids_stock_percent)
        else stocks.amino_acids_percent
    )
    if dex_stock > 70:
        raise UnitError("Dextrose stock comes at most as D70W.", field="dextrose_stock_percent")
    if aa_stock > 20:
        raise UnitError(
            "Amino-acid stock comes at most as 20 %.", field="amino_acids_stock_percent"
        )
    emulsion_value = number(lipid_emulsion_percent, field="lipid_emulsion_percent")
    if emulsion_value not in [D(k) for k in LIPID_KCAL_PER_ML]:
        raise UnitError(
            "Lipid injectable emulsion comes as 10, 20 or 30 %.", field="lipid_emulsion_percent"
        )
    emulsion = int(emulsion_value)

    _one_of(dextrose_g, dextrose_percent, pct_field="dextrose_percent", what="dextrose")
    _one_of(
        amino_acids_g,
        amino_acids_percent,
        pct_field="amino_acids_percent",
        what="amino acids",
    )
    if _given(lipid_g) and _given(lipid_ml):
        raise UnitError("Give the lipid in grams or in mL of emulsion, not both.", field="lipid_ml")

    final_q = _q(final, "mL")
    additives: list[Additive] = []

    # Dextrose (monohydrate, as IV dextrose is).
    if _given(dextrose_percent):
        pct = number(dextrose_percent, field="dextrose_percent", zero_ok=True)
        dex_g = Decimal(
            (_q(pct, "g") / _q(HUNDRED, "mL") * final_q).to(units.unit_of("g")).magnitude
        )
        steps.append(
            Step(
                "Dextrose grams (final % × volume)",
                f"{_n(pct)} g/100 mL × {_n(final)} mL",
                _s(dex_g, "g"),
            )
        )
    else:
        dex_g = _optional(dextrose_g, field="dextrose_g")
    dex_per_ml = _q(dex_stock, "g") / _q(HUNDRED, "mL")
    dex_ml = _ml_of(_q(dex_g, "g"), dex_per_ml, field="dextrose_g")
    if dex_g:
        steps.append(
            Step(
                f"Dextrose {_n(dex_stock)} % volume",
                f"{_n(dex_g)} g ÷ {_n(dex_stock)} g/100 mL",
                _s(dex_ml, "mL"),
            )
        )
        additives.append(Additive("dextrose", "Dextrose", dex_g, "g", f"D{_n(dex_stock)}W", dex_ml))

    # Amino acids.
    if _given(amino_acids_percent):
        pct = number(amino_acids_percent, field="amino_acids_percent", zero_ok=True)
        aa_g = Decimal(
            (_q(pct, "g") / _q(HUNDRED, "mL") * final_q).to(units.unit_of("g")).magnitude
        )
        steps.append(
            Step(
                "Amino acid grams (final % × volume)",
                f"{_n(pct)} g/100 mL × {_n(final)} mL",
                _s(aa_g, "g"),
            )
        )
    else:
        aa_g = _optional(amino_acids_g, field="amino_acids_g")
    aa_ml = _ml_of(_q(aa_g, "g"), _q(aa_stock, "g") / _q(HUNDRED, "mL"), field="amino_acids_g")
    if aa_g:
        steps.append(
            Step(
                f"Amino acids {_n(aa_stock)} % volume",
                f"{_n(aa_g)} g ÷ {_n(aa_stock)} g/100 mL",
                _s(aa_ml, "mL"),
            )
        )
        additives.append(
            Additive(
                "amino_acids", "Amino acids", aa_g, "g", f"Amino acids {_n(aa_stock)} %", aa_ml
            )
        )

    # Lipid injectable emulsion.
    lipid_per_ml = _q(D(emulsion), "g") / _q(HUNDRED, "mL")
    if _given(lipid_ml):
        lip_ml = number(lipid_ml, field="lipid_ml", zero_ok=True)
        lip_g = Decimal((_q(lip_ml, "mL") * lipid_per_ml).to(units.unit_of("g")).magnitude)
    else:
        lip_g = _optional(lipid_g, field="lipid_g")
        lip_ml = _ml_of(_q(lip_g, "g"), lipid_per_ml, field="lipid_g")
    if lip_g and emulsion == LIPID_COMPOUNDING_ONLY and not lipid_in_bag:
        raise UnitError(
            "30 % lipid emulsion is a pharmacy bulk package for compounding a 3-in-1 only; "
            "it cannot be infused on its own. Put it in the bag or use 20 %.",
            field="lipid_emulsion_percent",
        )
    if lip_g:
        steps.append(
            Step(
                f"Lipid {emulsion} % volume",
                f"{_n(lip_g)} g ÷ {emulsion} g/100 mL",
                _s(lip_ml, "mL"),
            )
        )
        where = "in the bag (3-in-1)" if lipid_in_bag else "infused separately"
        additives.append(
            Additive(
                "lipid", f"Lipid emulsion ({where})", lip_g, "g", f"Lipid {emulsion} %", lip_ml
            )
        )

    if not (dex_g or aa_g or lip_g):
        raise UnitError("Order dextrose, amino acids or lipid.", field="dextrose_g")

    # Electrolytes, as salts.
    na_cl = _optional(sodium_chloride_meq, field="sodium_chloride_meq")
    na_ac = _optional(sodium_acetate_meq, field="sodium_acetate_meq")
    k_cl = _optional(potassium_chloride_meq, field="potassium_chloride_meq")
    k_ac = _optional(potassium_acetate_meq, field="potassium_acetate_meq")
    ca = _optional(calcium_gluconate_meq, field="calcium_gluconate_meq")
    mg = _optional(magnesium_sulfate_meq, field="magnesium_sulfate_meq")
    k_phos = _optional(potassium_phosphate_mmol, field="potassium_phosphate_mmol")
    na_phos = _optional(sodium_phosphate_mmol, field="sodium_phosphate_mmol")

    def salt(
        key: str, name: str, ordered: Decimal, unit: str, per_ml: Decimal, stock_name: str
    ) -> Decimal:
        ml = _ml_of(_q(ordered, unit), _q(per_ml, f"{unit}/mL"), field=f"{key}_{unit.lower()}")
        if ordered:
            steps.append(
                Step(
                    f"{name} volume", f"{_n(ordered)} {unit} ÷ {_n(per_ml)} {unit}/mL", _s(ml, "mL")
                )
            )
            additives.append(Additive(key, name, ordered, unit, stock_name, ml))
        return ml

    # Phosphate first and calcium last is the mixing order; the worksheet lists them so.
    salt(
        "potassium_phosphate",
        "Potassium phosphates",
        k_phos,
        "mmol",
        stocks.potassium_phosphate_mmol_per_ml,
        f"{_n(stocks.potassium_phosphate_mmol_per_ml)} mmol P"
        f" + {_n(stocks.potassium_phosphate_k_meq_per_ml)} mEq K per mL",
    )
    salt(
        "sodium_phosphate",
        "Sodium phosphates",
        na_phos,
        "mmol",
        stocks.sodium_phosphate_mmol_per_ml,
        f"{_n(stocks.sodium_phosphate_mmol_per_ml)} mmol P"
        f" + {_n(stocks.sodium_phosphate_na_meq_per_ml)} mEq Na per mL",
    )
    salt(
        "sodium_chloride",
        "Sodium chloride",
        na_cl,
        "mEq",
        stocks.sodium_chloride_meq_per_ml,
        f"{_n(stocks.sodium_chloride_meq_per_ml)} mEq/mL",
    )
    salt(
        "sodium_acetate",
        "Sodium acetate",
        na_ac,
        "mEq",
        stocks.sodium_acetate_meq_per_ml,
        f"{_n(stocks.sodium_acetate_meq_per_ml)} mEq/mL",
    )
    salt(
        "potassium_chloride",
        "Potassium chloride",
        k_cl,
        "mEq",
        stocks.potassium_chloride_meq_per_ml,
        f"{_n(stocks.potassium_chloride_meq_per_ml)} mEq/mL",
    )
    salt(
        "potassium_acetate",
        "Potassium acetate",
        k_ac,
        "mEq",
        stocks.potassium_acetate_meq_per_ml,
        f"{_n(stocks.potassium_acetate_meq_per_ml)} mEq/mL",
    )
    salt(
        "magnesium_sulfate",
        "Magnesium sulfate",
        mg,
        "mEq",
        stocks.magnesium_sulfate_meq_per_ml,
        f"{_n(stocks.magnesium_sulfate_meq_per_ml)} mEq/mL",
    )
    salt(
        "calcium_gluconate",
        "Calcium gluconate",
        ca,
        "mEq",
        stocks.calcium_gluconate_meq_per_ml,
        f"{_n(stocks.calcium_gluconate_meq_per_ml)} mEq/mL",
    )

    # Sterile water to qs.
    in_bag = [a for a in additives if a.key != "lipid" or lipid_in_bag]
    used = sum((a.volume_ml for a in in_bag), D(0))
    water = final - used
    steps.append(
        Step(
            "Sterile water to qs",
            f"{_n(final)} mL − {_n(used)} mL of additives",
            _s(water, "mL"),
        )
    )
    if water < 0:
        raise UnitError(
            f"The additives take {_s(used, 'mL', 1)}, more than the {_s(final, 'mL', 1)} final "
            "volume: raise the volume or use stronger stocks.",
            field="final_volume_ml",
        )
    additives.append(
        Additive("sterile_water", "Sterile water for injection (qs)", water, "mL", "", water)
    )

    # Calories and protein.
    kcal_dex = dex_g * DEXTROSE_KCAL_PER_G
    kcal_aa = aa_g * AMINO_ACID_KCAL_PER_G
    kcal_lip = lip_ml * LIPID_KCAL_PER_ML[emulsion]
    kcal = kcal_dex + kcal_aa + kcal_lip
    nonprotein = kcal_dex + kcal_lip
    nitrogen = aa_g / PROTEIN_G_PER_G_NITROGEN
    steps += [
        Step("Dextrose kcal", f"{_n(dex_g)} g × 3.4 kcal/g", _s(kcal_dex, "kcal")),
        Step("Amino acid kcal", f"{_n(aa_g)} g × 4 kcal/g", _s(kcal_aa, "kcal")),
        Step(
            "Lipid kcal",
            f"{_n(lip_ml)} mL × {_n(LIPID_KCAL_PER_ML[emulsion])} kcal/mL ({emulsion} %)",
            _s(kcal_lip, "kcal"),
        ),
        Step("Total kcal", f"{_n(kcal_dex)} + {_n(kcal_aa)} + {_n(kcal_lip)}", _s(kcal, "kcal")),
        Step("Non-protein kcal", f"{_n(kcal_dex)} + {_n(kcal_lip)}", _s(nonprotein, "kcal")),
        Step("Nitrogen", f"{_n(aa_g)} g ÷ 6.25", _s(nitrogen, "g")),
    ]
    totals = [
        Answer("dextrose_g", "Dextrose", dex_g, "g", 1),
        Answer("amino_acids_g", "Amino acids (protein)", aa_g, "g", 1),
        Answer("lipid_g", "Lipid", lip_g, "g", 1),
        Answer("kcal_dextrose", "Dextrose calories", kcal_dex, "kcal", 0),
        Answer("kcal_amino_acids", "Amino acid calories", kcal_aa, "kcal", 0),
        Answer("kcal_lipid", "Lipid calories", kcal_lip, "kcal", 0),
        Answer("kcal_total", "Total calories", kcal, "kcal", 0),
        Answer("kcal_nonprotein", "Non-protein calories", nonprotein, "kcal", 0),
        Answer("nitrogen_g", "Nitrogen", nitrogen, "g", 2),
    ]
    if nitrogen:
        ratio = nonprotein / nitrogen
        totals.append(Answer("npc_to_n", "Non-protein kcal : g nitrogen", ratio, "", 0))
    if weight is not None:
        per_kg = kcal / weight
        protein_per_kg = aa_g / weight
        steps.append(Step("kcal/kg", f"{_n(kcal)} kcal ÷ {_n(weight)} kg", _s(per_kg, "kcal/kg")))
        steps.append(
            Step("Protein g/kg", f"{_n(aa_g)} g ÷ {_n(weight)} kg", _s(protein_per_kg, "g/kg"))
        )
        totals.append(Answer("kcal_per_kg", "Calories per kg", per_kg, "kcal/kg", 1))
        totals.append(Answer("protein_g_per_kg", "Protein per kg", protein_per_kg, "g/kg", 2))

    # Electrolyte totals (the phosphates' cations counted).
    k_from_phos = (
        k_phos * stocks.potassium_phosphate_k_meq_per_ml / stocks.potassium_phosphate_mmol_per_ml
    )
    na_from_phos = (
        na_phos * stocks.sodium_phosphate_na_meq_per_ml / stocks.sodium_phosphate_mmol_per_ml
    )
    sodium = na_cl + na_ac + na_from_phos
    potassium = k_cl + k_ac + k_from_phos
    phosphate = k_phos + na_phos
    if k_phos:
        steps.append(
            Step(
                "Potassium from potassium phosphates",
                f"{_n(k_phos)} mmol × {_n(stocks.potassium_phosphate_k_meq_per_ml)} mEq K"
                f" ÷ {_n(stocks.potassium_phosphate_mmol_per_ml)} mmol P",
                _s(k_from_phos, "mEq"),
            )
        )
    if na_phos:
        steps.append(
            Step(
                "Sodium from sodium phosphates",
                f"{_n(na_phos)} mmol × {_n(stocks.sodium_phosphate_na_meq_per_ml)} mEq Na"
                f" ÷ {_n(stocks.sodium_phosphate_mmol_per_ml)} mmol P",
                _s(na_from_phos, "mEq"),
            )
        )
    steps.append(
        Step(
            "Sodium total",
            f"{_n(na_cl)} + {_n(na_ac)} + {_n(na_from_phos)} (phosphate)",
            _s(sodium, "mEq"),
        )
    )
    steps.append(
        Step(
            "Potassium total",
            f"{_n(k_cl)} + {_n(k_ac)} + {_n(k_from_phos)} (phosphate)",
            _s(potassium, "mEq"),
        )
    )
    totals += [
        Answer("sodium_meq", "Sodium", sodium, "mEq", 2),
        Answer("potassium_meq", "Potassium", potassium, "mEq", 2),
        Answer("calcium_meq", "Calcium", ca, "mEq", 2),
        Answer("magnesium_meq", "Magnesium", mg, "mEq", 2),
        Answer("phosphate_mmol", "Phosphate", phosphate, "mmol", 2),
        Answer("chloride_meq", "Chloride (from NaCl, KCl)", na_cl + k_cl, "mEq", 2),
        Answer("acetate_meq", "Acetate", na_ac + k_ac, "mEq", 2),
    ]

    # Estimated osmolarity of the final volume.
    liters = final / 1000
    mosm_dex = dex_g * 1000 / DEXTROSE_MONOHYDRATE_MW
    mosm_aa = aa_g * AMINO_ACID_MOSM_PER_G
    k_phos_particles = (
        1 + stocks.potassium_phosphate_k_meq_per_ml / stocks.potassium_phosphate_mmol_per_ml
    )
    na_phos_particles = (
        1 + stocks.sodium_phosphate_na_meq_per_ml / stocks.sodium_phosphate_mmol_per_ml
    )
    mosm_lytes = (
        2 * (na_cl + na_ac + k_cl + k_ac)
        + D("1.5") * ca
        + mg
        + k_phos * k_phos_particles
        + na_phos * na_phos_particles
    )
    mosm_lip = (lip_ml if lipid_in_bag else D(0)) * LIPID_MOSM_PER_ML
    osm = (mosm_dex + mosm_aa + mosm_lytes + mosm_lip) / liters
    steps += [
        Step(
            "Dextrose mOsm (ideal, MW 198.17)",
            f"{_n(dex_g)} g × 1000 ÷ 198.17",
            _s(mosm_dex, "mOsm"),
        ),
        Step("Amino acid mOsm (≈10 mOsm/g)", f"{_n(aa_g)} g × 10", _s(mosm_aa, "mOsm")),
        Step(
            "Electrolyte mOsm (as ions)",
            f"2 × {_n(na_cl + na_ac + k_cl + k_ac)} mEq (Na, K salts) + 1.5 × {_n(ca)} mEq Ca"
            f" + {_n(mg)} mEq Mg + {_n(k_phos_particles)} × {_n(k_phos)} mmol K phos"
            f" + {_n(na_phos_particles)} × {_n(na_phos)} mmol Na phos",
            _s(mosm_lytes, "mOsm"),
        ),
        Step(
            "Estimated osmolarity",
            f"({_n(mosm_dex)} + {_n(mosm_aa)} + {_n(mosm_lytes)}) mOsm ÷ {_n(liters)} L",
            _s(osm, "mOsm/L", 0),
        ),
    ]
    totals.append(Answer("osmolarity", "Estimated osmolarity", osm, "mOsm/L", 0))
    central = osm > PERIPHERAL_MAX_MOSM_PER_L
    if central:
        warnings.append(
            f"Estimated osmolarity {_s(osm, 'mOsm/L', 0)} is above "
            f"{_n(PERIPHERAL_MAX_MOSM_PER_L)} mOsm/L: central line only."
        )

    # Calcium–phosphate compatibility.
    ca_l = ca / liters
    p_l = phosphate / liters
    ca_p_sum = ca_l + p_l
    ca_p_product = ca_l * p_l
    totals += [
        Answer("calcium_meq_per_l", "Calcium concentration", ca_l, "mEq/L", 2),
        Answer("phosphate_mmol_per_l", "Phosphate concentration", p_l, "mmol/L", 2),
        Answer("ca_p_sum", "Ca (mEq/L) + phosphate (mmol/L)", ca_p_sum, "", 1),
        Answer("ca_p_product", "Ca (mEq/L) × phosphate (mmol/L)", ca_p_product, "", 1),
    ]
    ca_p_warning = False
    if ca and phosphate:
        over = []
        if ca_p_sum > CA_P_SUM_LIMIT:
            over.append(f"sum {_n(units.rounded(ca_p_sum, 1))} is over {_n(CA_P_SUM_LIMIT)}")
        if ca_p_product > CA_P_PRODUCT_LIMIT:
            over.append(
                f"product {_n(units.rounded(ca_p_product, 1))} is over {_n(CA_P_PRODUCT_LIMIT)}"
            )
        steps.append(
            Step(
                "Calcium–phosphate check",
                f"Ca {_n(ca_l)} mEq/L, phosphate {_n(p_l)} mmol/L: sum {_n(ca_p_sum)}"
                f" (limit {_n(CA_P_SUM_LIMIT)}), product {_n(ca_p_product)}"
                f" (limit {_n(CA_P_PRODUCT_LIMIT)})",
                "over a limit" if over else "within the rules of thumb",
            )
        )
        if over:
            ca_p_warning = True
            warnings.append(
                f"Calcium–phosphate precipitation risk: Ca {_s(ca_l, 'mEq/L', 1)} and phosphate "
                f"{_s(p_l, 'mmol/L', 1)} ({'; '.join(over)}). Check the amino-acid "
                "manufacturer's calcium–phosphate solubility curve for this formula, add the "
                "phosphate first and the calcium last (mixing between), and use calcium "
                "gluconate, not calcium chloride."
            )
        if lipid_in_bag and lip_g:
            warnings.append(
                "Calcium and phosphate in a 3-in-1: a precipitate cannot be seen through the "
                "lipid emulsion. Check compatibility before compounding."
            )
    return PnResult(
        additives=additives,
        totals=totals,
        steps=steps,
        warnings=warnings,
        final_volume_ml=final,
        lipid_in_bag=lipid_in_bag,
        central_line_only=central,
        calcium_phosphate_warning=ca_p_warning,
    )
