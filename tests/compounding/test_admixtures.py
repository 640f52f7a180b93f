"""IV admixture standards and the admixture calculator: every standard is internally
consistent, the brief's worked example (norepinephrine 0.1 mcg/kg/min, 80 kg, 16 mcg/mL →
30 mL/h), the vial and diluent volumes, and refusals naming the field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rxdesk.calc import units
from rxdesk.calc.units import UnitError
from rxdesk.compounding import admixtures
from rxdesk.compounding.admixtures import STANDARDS, admixture, standard_for

D = Decimal


@pytest.mark.parametrize("std", STANDARDS, ids=[s.key for s in STANDARDS])
def test_every_standard_is_its_amount_in_its_volume(std):
    amount = units.quantity(std.amount, std.amount_unit)
    volume = units.quantity(std.volume_ml, "mL")
    assert (amount / volume).to(std.concentration_unit).magnitude == std.concentration
    assert std.diluents and set(std.diluents) <= set(admixtures.DILUENTS)
    assert units.known_unit(std.dosing_unit)
    assert std.source
    # The vial can make it: its volume is less than the bag's.
    made = admixture(drug=std.key)
    assert D(0) < made.value("vial_volume") < std.volume_ml


def test_the_keys_are_unique_and_each_drug_has_a_first_standard():
    keys = [s.key for s in STANDARDS]
    assert len(keys) == len(set(keys))
    assert standard_for("norepinephrine").key == "norepinephrine-16"
    assert standard_for("Dopamine").key == "dopamine-1600"
    assert standard_for("amiodarone-3.6").concentration == D("3.6")


def test_the_confirmed_s4s_values():
    # ASHP S4S v1.01: amiodarone 1.5/3.6 mg/mL mg/min; diltiazem 1 mg/mL mg/h; dobutamine
    # 4000 mcg/mL; dopamine 1600/3200 mcg/mL; epinephrine 20/40 mcg/mL.
    expected = {
        "amiodarone-1.5": ("1.5", "mg/mL", "mg/min"),
        "amiodarone-3.6": ("3.6", "mg/mL", "mg/min"),
        "diltiazem-1": ("1", "mg/mL", "mg/h"),
        "dobutamine-4000": ("4000", "mcg/mL", "mcg/kg/min"),
        "dopamine-1600": ("1600", "mcg/mL", "mcg/kg/min"),
        "dopamine-3200": ("3200", "mcg/mL", "mcg/kg/min"),
        "epinephrine-20": ("20", "mcg/mL", "mcg/kg/min"),
        "epinephrine-40": ("40", "mcg/mL", "mcg/kg/min"),
    }
    for key, (conc, unit, dosing) in expected.items():
        s = admixtures.BY_KEY[key]
        assert (s.concentration, s.concentration_unit, s.dosing_unit) == (D(conc), unit, dosing)
        assert "Standardize 4 Safety" in s.source


def test_the_norepinephrine_example():
    # 0.1 mcg/kg/min × 80 kg = 8 mcg/min = 480 mcg/h ÷ 16 mcg/mL = 30 mL/h; the bag is 4 mg
    # (4 mL of 1 mg/mL) + 246 mL D5W.
    got = admixture(drug="norepinephrine", dose="0.1", dose_unit="mcg/kg/min", weight=80)
    assert got.value("ml_per_h") == D(30)
    assert got.value("drug_amount") == D(4)
    assert got.value("vial_volume") == D(4)
    assert got.value("diluent_volume") == D(246)
    assert got.diluent == "D5W"
    assert got.standard is not None and got.standard.key == "norepinephrine-16"
    assert got.warnings == []
    assert [s.result for s in got.steps][-2:] == ["8 mcg/min", "30 mL/h"]


def test_heparin_by_weight_in_ns():
    # 18 units/kg/h × 80 kg = 1,440 units/h ÷ 100 units/mL = 14.4 mL/h; 25,000 units from
    # 5,000 units/mL = 5 mL + 245 mL NS.
    got = admixture(drug="heparin-100", dose=18, dose_unit="units/kg/h", weight=80, diluent="NS")
    assert got.value("ml_per_h") == D("14.4")
    assert (got.value("vial_volume"), got.value("diluent_volume")) == (D(5), D(245))


def test_another_vial_strength():
    # Heparin 25,000 units from 1,000 units/mL vials: 25 mL + 225 mL.
    got = admixture(drug="heparin-100", vial_concentration=1000, vial_unit="units/mL")
    assert (got.value("vial_volume"), got.value("diluent_volume")) == (D(25), D(225))


def test_a_central_line_standard_says_so():
    got = admixture(drug="amiodarone-3.6", dose=1, dose_unit="mg/min")
    assert got.value("vial_volume") == D(18)  # 900 mg ÷ 50 mg/mL
    assert got.rounded("ml_per_h") == D("16.7")  # 60 mg/h ÷ 3.6 mg/mL = 16.67
    assert "Central line only." in got.warnings


def test_a_dose_in_another_basis_than_the_standard_is_flagged():
    # The standard doses norepinephrine per kg; a mcg/min order still computes, with a warning.
    got = admixture(drug="norepinephrine-16", dose=8, dose_unit="mcg/min")
    assert got.value("ml_per_h") == D(30)
    assert any("mcg/kg/min" in w and "Check the order" in w for w in got.warnings)


def test_the_dose_defaults_to_the_standards_unit():
    got = admixture(drug="insulin", dose=5)  # units/h, 1 unit/mL
    assert got.value("ml_per_h") == D(5)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"drug": "unobtainium"}, "drug"),
        ({"drug": ""}, "drug"),
        ({"drug": "insulin", "diluent": "D5W"}, "diluent"),
        ({"drug": "insulin", "diluent": "LR"}, "diluent"),
        ({"drug": "norepinephrine", "dose": "0.1", "dose_unit": "mcg/kg/min"}, "weight"),
        ({"drug": "heparin", "dose": 1000, "dose_unit": "mg/h"}, "dose_unit"),
        ({"drug": "heparin", "dose": -5, "dose_unit": "units/h"}, "dose"),
        ({"drug": "heparin", "vial_concentration": 0}, "vial_concentration"),
        ({"drug": "heparin", "vial_concentration": 10, "vial_unit": "mg/mL"}, "vial_unit"),
        # 25,000 units from 100 units/mL would fill the whole 250 mL bag.
        ({"drug": "heparin", "vial_concentration": 100}, "vial_concentration"),
    ],
)
def test_it_refuses_naming_the_field(kwargs, field):
    with pytest.raises(UnitError) as caught:
        admixture(**kwargs)
    assert caught.value.field == field
