"""The CMEA arithmetic: salts, base per unit, limits (reference controlled-substances.md §7),
checked against the DEA Pharmacist's Manual Appendix G counts."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.calc import cmea
from rxdesk.calc.cmea import CmeaError, History, Limits

D = Decimal
NONE = History()
FEDERAL = Limits()


def test_it_derives_the_published_factors_from_the_molecular_weights():
    hcl = cmea.factor_from_weights(cmea.MW_PSE_BASE, cmea.MW_HCL_SALT)
    sulfate = cmea.factor_from_weights(cmea.MW_PSE_BASE, cmea.MW_SULFATE_SALT, 2)
    ppa = cmea.factor_from_weights(cmea.MW_PPA_BASE, cmea.MW_PPA_HCL)
    assert sulfate.quantize(D("0.0001")) == cmea.FACTOR_SULFATE == D("0.7711")
    assert ppa.quantize(D("0.0001")) == cmea.FACTOR_PPA_HCL == D("0.8057")
    # 0.81923 is published as 0.8193: rounded up, the stricter side, never down.
    assert D("0.8193") == cmea.FACTOR_HCL
    assert hcl.quantize(D("0.0001")) == D("0.8192")
    assert D(0) < cmea.FACTOR_HCL - hcl < D("0.0001")


@pytest.mark.parametrize(
    ("name", "base", "form", "factor"),
    [
        ("PSEUDOEPHEDRINE HYDROCHLORIDE", "pseudoephedrine", "hydrochloride", "0.8193"),
        ("Pseudoephedrine HCl", "pseudoephedrine", "hydrochloride", "0.8193"),
        ("PSEUDOEPHEDRINE HCI", "pseudoephedrine", "hydrochloride", "0.8193"),
        ("PSEUDOEPHEDRINE SULFATE", "pseudoephedrine", "sulfate", "0.7711"),
        ("EPHEDRINE HYDROCHLORIDE", "ephedrine", "hydrochloride", "0.8193"),
        ("EPHEDRINE SULFATE", "ephedrine", "sulfate", "0.7711"),
        ("PHENYLPROPANOLAMINE HYDROCHLORIDE", "phenylpropanolamine", "hydrochloride", "0.8057"),
        ("PSEUDOEPHEDRINE", "pseudoephedrine", "base", "1"),
        ("EPHEDRINE", "ephedrine", "base", "1"),
    ],
)
def test_it_knows_each_salt(name, base, form, factor):
    salt = cmea.salt_of(name)
    assert salt is not None
    assert (salt.base, salt.form, salt.factor) == (base, form, D(factor))


@pytest.mark.parametrize(
    "name",
    ["METHYLEPHEDRINE HYDROCHLORIDE, DL-", "PHENYLEPHRINE HYDROCHLORIDE", "GUAIFENESIN", ""],
)
def test_it_leaves_other_ingredients_alone(name):
    assert cmea.salt_of(name) is None
    assert cmea.base_mg_per_unit(name, "10", "mg/1") is None


def test_it_refuses_a_listed_chemical_in_an_unknown_salt():
    with pytest.raises(CmeaError):
        cmea.salt_of("PSEUDOEPHEDRINE TANNATE")
    assert cmea.is_listed("PSEUDOEPHEDRINE TANNATE")


@pytest.mark.parametrize(
    ("strength", "unit", "per_unit"),
    [
        ("120", "mg/1", "120"),
        ("30", "mg/5mL", "6"),
        ("5", "mg/mL", "5"),
        ("60", "mg/30mL", "2"),
        ("60", "mg/350mg", "60"),
        ("0.03", "g/1", "30"),
    ],
)
def test_it_reads_the_strength_per_unit(strength, unit, per_unit):
    assert cmea.salt_mg_per_unit(strength, unit) == D(per_unit)


@pytest.mark.parametrize(
    ("strength", "unit"), [("0", "mg/1"), ("x", "mg/1"), ("30", "[iU]/1"), ("30", "mg/cm2")]
)
def test_it_refuses_a_strength_it_cannot_read(strength, unit):
    with pytest.raises(CmeaError):
        cmea.base_mg_per_unit("PSEUDOEPHEDRINE HYDROCHLORIDE", strength, unit)


def test_it_converts_liquids_per_ml():
    # 30 mg/5 mL of the HCl salt: 6 mg salt per mL, 4.9158 mg base per mL.
    assert cmea.base_mg_per_unit("PSEUDOEPHEDRINE HYDROCHLORIDE", "30", "mg/5mL") == D("4.9158")


def test_it_rounds_base_per_unit_up():
    # 15 mg/3.5 mL × 0.8193 = 3.51128… mg base per mL
    assert cmea.base_mg_per_unit("PSEUDOEPHEDRINE HYDROCHLORIDE", "15", "mg/3.5mL") == D("3.5113")


# DEA Pharmacist's Manual, Appendix G: (salt, mg) → (per day, per 30 days, by mail in 30 days)
APPENDIX_G = [
    ("PSEUDOEPHEDRINE HYDROCHLORIDE", "30", 146, 366, 305),
    ("PSEUDOEPHEDRINE HYDROCHLORIDE", "60", 73, 183, 152),
    ("PSEUDOEPHEDRINE HYDROCHLORIDE", "120", 36, 91, 76),
    ("PSEUDOEPHEDRINE SULFATE", "30", 155, 389, 324),
    ("PSEUDOEPHEDRINE SULFATE", "60", 77, 194, 162),
    ("PSEUDOEPHEDRINE SULFATE", "120", 38, 97, 81),
    ("EPHEDRINE HYDROCHLORIDE", "25", 175, 439, 366),
    ("EPHEDRINE SULFATE", "25", 186, 466, 389),
]


@pytest.mark.parametrize(("salt", "mg", "day", "thirty", "mail"), APPENDIX_G)
def test_it_matches_appendix_g(salt, mg, day, thirty, mail):
    base = cmea.base_mg_per_unit(salt, mg, "mg/1")
    assert base is not None
    assert cmea.max_units(base, NONE, FEDERAL) == day
    # Over 30 days the daily limit does not bind: count with a fresh day each time.
    no_daily = Limits(daily_mg=D("9000"))
    assert cmea.max_units(base, NONE, no_daily) == thirty
    assert cmea.max_units(base, NONE, no_daily, mail_order=True) == mail
    # … and the decision agrees at the count and one past it.
    assert cmea.decide(base_per_unit=base, units=D(day), history=NONE, limits=FEDERAL).allowed
    over = cmea.decide(base_per_unit=base, units=D(day + 1), history=NONE, limits=FEDERAL)
    assert (over.allowed, over.broken, over.max_units) == (False, "daily", day)


def test_it_allows_exactly_the_daily_limit_and_refuses_one_unit_more():
    base = cmea.base_mg_per_unit("PSEUDOEPHEDRINE", "100", "mg/1")  # 100 mg base
    assert base == D(100)
    at = cmea.decide(base_per_unit=base, units=D(36), history=NONE, limits=FEDERAL)
    assert (at.allowed, at.today_after_mg, at.max_units) == (True, D(3600), 36)
    over = cmea.decide(base_per_unit=base, units=D(37), history=NONE, limits=FEDERAL)
    assert (over.allowed, over.broken, over.limit_mg) == (False, "daily", D(3600))


def test_it_counts_todays_purchases_against_the_day():
    bought = History(today_mg=D("3500"), thirty_day_mg=D("3500"))
    assert cmea.decide(base_per_unit=D(100), units=D(1), history=bought, limits=FEDERAL).allowed
    second = cmea.decide(base_per_unit=D(100), units=D(2), history=bought, limits=FEDERAL)
    assert (second.allowed, second.max_units) == (False, 1)


def test_it_allows_exactly_the_30_day_limit_and_refuses_one_unit_more():
    bought = History(today_mg=D(0), thirty_day_mg=D("8900"))
    at = cmea.decide(base_per_unit=D(100), units=D(1), history=bought, limits=FEDERAL)
    assert (at.allowed, at.thirty_day_after_mg) == (True, D(9000))
    over = cmea.decide(base_per_unit=D(100), units=D(2), history=bought, limits=FEDERAL)
    assert (over.allowed, over.broken, over.max_units) == (False, "30-day", 1)


def test_it_holds_mail_orders_to_7_5_grams():
    bought = History(thirty_day_mg=D("7400"), mail_thirty_day_mg=D("7400"))
    assert cmea.decide(
        base_per_unit=D(100), units=D(1), history=bought, limits=FEDERAL, mail_order=True
    ).allowed
    over = cmea.decide(
        base_per_unit=D(100), units=D(2), history=bought, limits=FEDERAL, mail_order=True
    )
    assert (over.allowed, over.broken, over.limit_mg) == (False, "mail", D(7500))
    # At the counter, the same purchaser may still buy up to the 9 g.
    assert cmea.decide(base_per_unit=D(100), units=D(16), history=bought, limits=FEDERAL).allowed


def test_it_applies_a_states_lower_limits():
    state = Limits(daily_mg=D("3600"), thirty_day_mg=D("7200"))
    bought = History(thirty_day_mg=D("7000"))
    over = cmea.decide(base_per_unit=D(100), units=D(3), history=bought, limits=state)
    assert (over.allowed, over.broken, over.limit_mg, over.max_units) == (
        False,
        "30-day",
        D(7200),
        2,
    )


def test_it_says_grams():
    assert cmea.grams(D("3600")) == "3.6 g"
    assert cmea.grams(D("3588.54")) == "3.588 g"


bases = st.decimals(min_value=D("0.5"), max_value=D("500"), places=4)
used = st.decimals(min_value=D(0), max_value=D("9500"), places=2)


@given(base=bases, today=used, thirty=used, mail=st.booleans())
def test_max_units_is_the_largest_allowed_count(base, today, thirty, mail):
    history = History(today_mg=min(today, thirty), thirty_day_mg=thirty, mail_thirty_day_mg=thirty)
    n = cmea.max_units(base, history, FEDERAL, mail_order=mail)
    assert n >= 0
    if n:
        assert cmea.decide(
            base_per_unit=base, units=D(n), history=history, limits=FEDERAL, mail_order=mail
        ).allowed
    refused = cmea.decide(
        base_per_unit=base, units=D(n + 1), history=history, limits=FEDERAL, mail_order=mail
    )
    assert not refused.allowed
    assert refused.max_units == n


@given(base=bases, units=st.integers(min_value=1, max_value=1000))
def test_a_purchase_never_counts_less_than_its_base(base, units):
    counted = cmea.purchase_base_mg(base, D(units))
    assert counted >= base * units
    assert counted - base * units < D("0.01")


@given(
    salt=st.sampled_from(
        ["PSEUDOEPHEDRINE HYDROCHLORIDE", "PSEUDOEPHEDRINE SULFATE", "EPHEDRINE SULFATE"]
    ),
    mg=st.decimals(min_value=D("1"), max_value=D("240"), places=1),
)
def test_base_is_never_more_than_salt(salt, mg):
    base = cmea.base_mg_per_unit(salt, str(mg), "mg/1")
    assert base is not None
    assert D(0) < base < mg


# --- The FDA directory ---------------------------------------------------------------------

PRODUCTS = Path("/work/shared/data/fda-ndc/product.txt")


def _otc_listed_products() -> list[dict[str, str]]:
    with PRODUCTS.open(encoding="latin-1", newline="") as fh:
        rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [
            r
            for r in rows
            if r["PRODUCTTYPENAME"] == "HUMAN OTC DRUG"
            and any(cmea.is_listed(s) for s in r["SUBSTANCENAME"].split(";"))
        ]


def _ingredients(row: dict[str, str]) -> list[tuple[str, str, str]]:
    names = [s.strip() for s in row["SUBSTANCENAME"].split(";")]
    strengths = [s.strip() for s in row["ACTIVE_NUMERATOR_STRENGTH"].split(";")]
    units = [s.strip() for s in row["ACTIVE_INGRED_UNIT"].split(";")]
    return list(zip(names, strengths, units, strict=False))


@pytest.mark.slow
@pytest.mark.skipif(not PRODUCTS.exists(), reason="the FDA NDC directory is not on this machine")
def test_every_otc_listed_product_in_the_directory_converts():
    rows = _otc_listed_products()
    assert len(rows) > 300
    failed: dict[str, str] = {}
    by_ndc: dict[str, Decimal] = {}
    for row in rows:
        try:
            base = cmea.product_base_mg(_ingredients(row))
        except CmeaError as exc:
            failed[row["PRODUCTNDC"]] = str(exc)
            continue
        if base is None or base <= 0:
            failed[row["PRODUCTNDC"]] = "no base amount"
            continue
        by_ndc[row["PRODUCTNDC"]] = base
    assert failed == {}, failed
    # Real products against Appendix G.
    zephrex = by_ndc["0113-0401"]  # Zephrex D, PSE HCl 30 mg
    assert zephrex == D("24.579")
    assert cmea.max_units(zephrex, NONE, FEDERAL) == 146
    sulfate_240 = by_ndc["0113-1165"]  # PSE sulfate 240 mg
    assert sulfate_240 == D("185.064")
    assert cmea.max_units(sulfate_240, NONE, FEDERAL) == 19
    ephedrine = by_ndc["0143-3145"]  # ephedrine sulfate 25 mg
    assert cmea.max_units(ephedrine, NONE, FEDERAL) == 186
