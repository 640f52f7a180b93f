"""Renal dose checking (§6.3) from Cockcroft–Gault: cut-offs, dose caps, silence when a
fact is missing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.screening.checks import renal
from rxdesk.screening.types import Context, Drug, Ingredient, Patient, Severity

D = Decimal
TODAY = dt.date(2026, 6, 1)


def drug(label: str, *names: str, daily: dict[str, str] | None = None, **kw) -> Drug:
    return Drug(
        label=label,
        ingredients=tuple(Ingredient(n) for n in names),
        daily_dose={k: D(v) for k, v in (daily or {}).items()},
        **kw,
    )


def with_crcl(crcl: str, **kw) -> Patient:
    """A 68-year-old man with SCr 1.0 and no height: (140 − 68) × W / 72 = W, so his
    Cockcroft–Gault clearance equals his weight."""
    return Patient(
        birth_date=TODAY.replace(year=TODAY.year - 68),
        sex="M",
        weight_kg=D(crcl),
        serum_creatinine_mg_dl=D("1.0"),
        **kw,
    )


def screen(proposed: Drug, patient: Patient, profile=()) -> list:
    return renal.check(Context(patient, tuple(profile), proposed, TODAY))


def test_it_shows_the_computed_clearance_in_the_message():
    # Reference problem 12: female, 72 y, 60 kg, SCr 1.2 → 40.1 mL/min.
    patient = Patient(
        birth_date=TODAY.replace(year=TODAY.year - 72),
        sex="F",
        weight_kg=D("60"),
        serum_creatinine_mg_dl=D("1.2"),
    )
    (alert,) = screen(drug("metformin 500 mg", "metformin"), patient)
    assert "CrCl 40.1 mL/min (Cockcroft–Gault, actual body weight 60.0 kg)" in alert.message
    assert alert.type == renal.RENAL_TYPE == "DL"
    assert alert.severity == Severity.MODERATE
    assert "eGFR" in alert.message


def test_nitrofurantoin_at_the_30_cut_off():
    nitro = drug("nitrofurantoin 100 mg", "nitrofurantoin")
    assert screen(nitro, with_crcl("30")) == []
    (alert,) = screen(nitro, with_crcl("29.9"))
    assert alert.severity == Severity.MAJOR
    assert alert.interrupts
    assert alert.key == "renal.nitrofurantoin|nitrofurantoin"


def test_metformin_bands():
    met = drug("metformin 500 mg", "metformin")
    assert screen(met, with_crcl("45.1")) == []
    assert screen(met, with_crcl("45"))[0].key == "renal.metformin-30-45|metformin"
    assert screen(met, with_crcl("30"))[0].key == "renal.metformin-30-45|metformin"
    assert screen(met, with_crcl("29.9"))[0].severity == Severity.MAJOR


def test_gabapentin_dose_caps_by_band():
    def gaba(mg: str) -> Drug:
        return drug("gabapentin 300 mg", "gabapentin", daily={"gabapentin": mg})

    assert screen(gaba("1800"), with_crcl("60")) == []
    assert screen(gaba("1400"), with_crcl("59.9")) == []
    (alert,) = screen(gaba("1500"), with_crcl("59.9"))
    assert "1,400 mg/day" in alert.message and "Prescribed: 1500 mg/day" in alert.message
    assert alert.severity == Severity.MODERATE
    assert screen(gaba("700"), with_crcl("15")) == []
    assert len(screen(gaba("701"), with_crcl("15"))) == 1
    assert len(screen(gaba("301"), with_crcl("14.9"))) == 1


def test_a_capped_drug_with_unknown_dose_is_listed_not_interrupting():
    (alert,) = screen(drug("dabigatran 150 mg", "dabigatran"), with_crcl("20"))
    assert alert.severity == Severity.MODERATE
    assert "Daily dose unknown" in alert.message


def test_dabigatran_above_renal_dose_interrupts():
    (alert,) = screen(
        drug("dabigatran 150 mg", "dabigatran etexilate", daily={"dabigatran etexilate": "300"}),
        with_crcl("25"),
    )
    assert alert.severity == Severity.MAJOR
    assert (
        screen(drug("dabigatran 75 mg", "dabigatran", daily={"dabigatran": "150"}), with_crcl("25"))
        == []
    )


def test_enoxaparin_twice_daily_below_30():
    bid = drug("enoxaparin 60 mg/0.6 mL", "enoxaparin", doses_per_day=D("2"))
    qd = drug("enoxaparin 30 mg/0.3 mL", "enoxaparin", doses_per_day=D("1"))
    (alert,) = screen(bid, with_crcl("25"))
    assert alert.severity == Severity.MAJOR
    assert screen(qd, with_crcl("25")) == []
    assert screen(bid, with_crcl("31")) == []


def test_fondaparinux_is_contraindicated_below_30():
    (alert,) = screen(drug("fondaparinux", "fondaparinux"), with_crcl("29"))
    assert alert.severity == Severity.CONTRAINDICATED


def test_dofetilide_bands():
    def dof(mg: str) -> Drug:
        return drug("dofetilide", "dofetilide", daily={"dofetilide": mg})

    assert screen(dof("1"), with_crcl("61")) == []
    assert screen(dof("0.5"), with_crcl("60")) == []
    assert len(screen(dof("1"), with_crcl("60"))) == 1
    assert len(screen(dof("0.5"), with_crcl("39.9"))) == 1
    assert screen(dof("0.25"), with_crcl("19.9"))[0].severity == Severity.CONTRAINDICATED


def test_nsaids_below_30_but_not_topical():
    assert screen(drug("ibuprofen", "ibuprofen"), with_crcl("29"))[0].key == "renal.nsaid|ibuprofen"
    assert screen(drug("diclofenac gel", "diclofenac", route="topical"), with_crcl("20")) == []
    assert screen(drug("ibuprofen", "ibuprofen"), with_crcl("30")) == []


def test_colchicine_with_a_strong_inhibitor_in_renal_impairment():
    colch = drug("colchicine 0.6 mg", "colchicine", daily={"colchicine": "0.3"})
    clari = drug("clarithromycin 500 mg", "clarithromycin")
    (alert,) = screen(colch, with_crcl("50"), profile=[clari])
    assert alert.severity == Severity.CONTRAINDICATED
    assert alert.key == "renal.colchicine-inhibitor|clarithromycin,colchicine"
    # the same when the inhibitor is the new drug
    (alert,) = screen(clari, with_crcl("50"), profile=[colch])
    assert alert.key == "renal.colchicine-inhibitor|clarithromycin,colchicine"
    assert screen(colch, with_crcl("60"), profile=[clari]) == []


def test_tramadol_er_below_30():
    er = drug("tramadol ER 100 mg", "tramadol", daily={"tramadol": "100"})
    keys = {a.key for a in screen(er, with_crcl("25"))}
    assert keys == {"renal.tramadol-er|tramadol"}


def test_apixaban_reduction_criteria_need_no_clearance():
    old_light = Patient(birth_date=TODAY.replace(year=TODAY.year - 82), sex="U", weight_kg=D("58"))
    api = drug("apixaban 5 mg", "apixaban", daily={"apixaban": "10"})
    (alert,) = screen(api, old_light)
    assert alert.severity == Severity.MODERATE
    assert "age 82" in alert.message and "weight 58 kg" in alert.message
    assert screen(drug("apixaban 2.5 mg", "apixaban", daily={"apixaban": "5"}), old_light) == []
    one_criterion = Patient(birth_date=TODAY.replace(year=TODAY.year - 82), weight_kg=D("70"))
    assert screen(api, one_criterion) == []


@pytest.mark.parametrize(
    "patient",
    [
        Patient(birth_date=dt.date(1950, 1, 1), sex="M", weight_kg=D("20")),  # no SCr
        Patient(birth_date=dt.date(1950, 1, 1), sex="M", serum_creatinine_mg_dl=D("4")),
        Patient(sex="M", weight_kg=D("20"), serum_creatinine_mg_dl=D("4")),  # no age
        Patient(  # unknown sex
            birth_date=dt.date(1950, 1, 1), weight_kg=D("20"), serum_creatinine_mg_dl=D("4")
        ),
        Patient(  # a child: Cockcroft–Gault does not apply
            birth_date=dt.date(2015, 1, 1),
            sex="F",
            weight_kg=D("20"),
            serum_creatinine_mg_dl=D("4"),
        ),
    ],
)
def test_it_never_guesses_kidney_function(patient):
    assert screen(drug("nitrofurantoin", "nitrofurantoin"), patient) == []


@pytest.mark.parametrize(
    "name", ["amlodipine", "atorvastatin", "levothyroxine", "sertraline", "linagliptin"]
)
def test_drugs_without_renal_rules_are_quiet_even_in_kidney_failure(name):
    assert screen(drug(name, name), with_crcl("10")) == []


@given(st.decimals(min_value=D("5"), max_value=D("150"), places=1))
def test_nitrofurantoin_alerts_exactly_below_30(crcl):
    alerts = screen(drug("nitrofurantoin", "nitrofurantoin"), with_crcl(str(crcl)))
    assert bool(alerts) == (crcl < 30)


def test_h2_blockers_are_only_minor():
    (alert,) = screen(drug("famotidine 20 mg", "famotidine"), with_crcl("40"))
    assert alert.severity == Severity.MINOR
    assert screen(drug("famotidine 20 mg", "famotidine"), with_crcl("50")) == []


def test_egfr_rules_say_they_use_an_estimate():
    (alert,) = screen(
        drug("sitagliptin 100 mg", "sitagliptin", daily={"sitagliptin": "100"}), with_crcl("40")
    )
    assert "confirm with the lab's eGFR" in alert.message
    assert (
        screen(
            drug("sitagliptin 50 mg", "sitagliptin", daily={"sitagliptin": "50"}), with_crcl("40")
        )
        == []
    )


def test_shared_band_ends_go_to_the_more_impaired_band():
    # levetiracetam "50–80: ≤ 2,000" and "30–50: ≤ 1,500": at exactly 50 the 1,500 cap holds.
    lev = drug("levetiracetam 1000 mg", "levetiracetam", daily={"levetiracetam": "2000"})
    assert len(screen(lev, with_crcl("50"))) == 1
    assert screen(lev, with_crcl("50.1")) == []


def test_the_adjusted_weight_is_used_for_an_obese_patient():
    # Reference problem 13: male 5 ft 10 in, 110 kg, 55 y, SCr 1.0 → 103.7 mL/min (AdjBW).
    patient = Patient(
        birth_date=TODAY.replace(year=TODAY.year - 55),
        sex="M",
        weight_kg=D("110"),
        height_cm=D("177.8"),
        serum_creatinine_mg_dl=D("1.0"),
    )
    (alert,) = screen(drug("edoxaban 60 mg", "edoxaban"), patient)  # > 95: reduced efficacy
    assert "CrCl 103.7 mL/min (Cockcroft–Gault, adjusted body weight 87.8 kg)" in alert.message
