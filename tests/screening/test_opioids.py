"""Opioids: MME/day with CDC 2022 factors, tiers at 50 and 90, opioid + CNS depressants."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.screening.checks import opioids
from rxdesk.screening.checks.opioids import MME_FACTORS, total_mme
from rxdesk.screening.types import Context, Drug, Ingredient, Patient, Severity

TODAY = dt.date(2025, 6, 1)


def op(name: str, mg=None, label: str = "", rx=None, route="", form="", **ing) -> Drug:
    daily = {name: Decimal(str(mg))} if mg is not None else {}
    return Drug(
        label or f"{name} {mg} mg/day",
        (Ingredient(name, **ing),),
        route=route,
        dosage_form=form,
        daily_dose=daily,
        prescription_id=rx,
    )


def other(*names: str) -> Drug:
    return Drug(" / ".join(names), tuple(Ingredient(n) for n in names))


def screen(proposed: Drug, *profile: Drug):
    return opioids.check(
        Context(patient=Patient(), profile=profile, proposed=proposed, today=TODAY)
    )


def mme_alerts(alerts):
    return [a for a in alerts if a.key.startswith("mme:") and a.type == "HD"]


# --- arithmetic -----------------------------------------------------------------------------


def test_the_cdc_2022_factors():
    assert {
        "codeine": Decimal("0.15"),
        "hydrocodone": Decimal(1),
        "hydromorphone": Decimal(5),
        "methadone": Decimal("4.7"),
        "morphine": Decimal(1),
        "oxycodone": Decimal("1.5"),
        "oxymorphone": Decimal(3),
        "tapentadol": Decimal("0.4"),
        "tramadol": Decimal("0.2"),
    } == MME_FACTORS


def test_cdc_worked_examples():
    # Hydrocodone 5 mg/APAP 325 mg, one tablet four times a day = 20 MME/day.
    norco = Drug(
        "hydrocodone/APAP 5/325",
        (
            Ingredient("hydrocodone", Decimal(5), "mg"),
            Ingredient("acetaminophen", Decimal(325), "mg"),
        ),
        daily_dose={"hydrocodone": Decimal(20), "acetaminophen": Decimal(1300)},
    )
    assert total_mme([norco])[0] == Decimal(20)
    # Oxycodone ER 10 mg BID = 20 mg/day × 1.5 = 30 MME/day.
    assert total_mme([op("oxycodone", 20)])[0] == Decimal(30)


def test_fentanyl_patch_uses_the_rate_in_mcg_per_hour():
    # As resolve stores "25 ug/h": 0.025 mg/h.
    patch = op(
        "fentanyl",
        label="fentanyl 25 mcg/h patch",
        route="transdermal",
        strength=Decimal("0.025"),
        unit="mg/h",
    )
    assert total_mme([patch])[0] == Decimal(60)
    patch2 = op("fentanyl", label="fentanyl patch", strength=Decimal(50), unit="mcg/h")
    assert total_mme([patch2])[0] == Decimal(120)


def test_methadone_single_factor_and_buprenorphine_excluded():
    assert total_mme([op("methadone", 20)])[0] == Decimal(94)
    total, parts = total_mme([op("buprenorphine", 16)])
    assert total == 0 and parts == []


# --- tiers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mg,severity",
    [
        ("49.9", None),
        ("50", Severity.MODERATE),
        ("89.9", Severity.MODERATE),
        ("90", Severity.MAJOR),
    ],
)
def test_tier_boundaries(mg, severity):
    alerts = mme_alerts(screen(op("hydrocodone", mg)))
    if severity is None:
        assert alerts == []
    else:
        assert [a.severity for a in alerts] == [severity]


def test_the_total_crosses_prescriptions_and_names_each_contributor():
    alerts = screen(
        op("oxycodone", 40, label="oxycodone ER 20 mg"),
        op("hydrocodone", 30, label="hydrocodone/APAP 10/325"),
    )
    (alert,) = mme_alerts(alerts)
    assert alert.severity == Severity.MAJOR
    assert alert.interrupts
    assert alert.drugs == ("oxycodone ER 20 mg", "hydrocodone/APAP 10/325")
    assert alert.message.startswith("Total opioid dose 90 MME/day (≥ 90)")
    assert "oxycodone ER 20 mg: oxycodone 40 mg/day × 1.5 = 60 MME" in alert.message
    assert "hydrocodone/APAP 10/325: hydrocodone 30 mg/day × 1 = 30 MME" in alert.message
    assert alert.key == "mme:90|hydrocodone|oxycodone"
    assert alert.source == opioids.SOURCE_MME


def test_moderate_tier_says_naloxone():
    (alert,) = mme_alerts(screen(op("morphine", 60)))
    assert alert.severity == Severity.MODERATE
    assert "naloxone" in alert.action


def test_a_refill_of_the_same_prescription_counts_once():
    assert mme_alerts(screen(op("oxycodone", 40, rx=5), op("oxycodone", 40, rx=5))) == [
        mme_alerts(screen(op("oxycodone", 40, rx=5)))[0]
    ]


def test_a_non_opioid_fill_does_not_re_alert_the_profiles_dose():
    assert screen(other("lisinopril"), op("morphine", 200)) == []


def test_methadone_message_warns_the_estimate_is_rough():
    (alert,) = mme_alerts(screen(op("methadone", 20)))
    assert "rough estimate" in alert.message


# --- unknown MME --------------------------------------------------------------------------------


def test_a_missing_daily_dose_is_said_never_guessed():
    alerts = screen(op("oxycodone", None, label="oxycodone 5 mg"))
    assert [(a.type, a.severity) for a in alerts] == [("MS", Severity.MINOR)]
    assert "could not be computed" in alerts[0].message
    assert "daily dose unknown" in alerts[0].message


def test_an_opioid_without_a_factor_is_said_and_the_total_is_at_least():
    alerts = screen(op("meperidine", 300), op("morphine", 60))
    kinds = sorted((a.type, a.severity.value) for a in alerts)
    assert kinds == [("HD", "moderate"), ("MS", "minor")]
    hd = next(a for a in alerts if a.type == "HD")
    assert "at least 60 MME/day" in hd.message


def test_a_patch_without_a_rate_is_said():
    alerts = screen(op("fentanyl", None, label="fentanyl patch", route="transdermal"))
    assert [a.type for a in alerts] == ["MS"]
    assert "patch rate" in alerts[0].message


def test_buprenorphine_alone_gives_no_mme_alert():
    assert screen(op("buprenorphine", 16)) == []


# --- opioid + CNS depressants -------------------------------------------------------------------


def test_opioid_with_benzodiazepine_is_major_additive_toxicity_either_order():
    for proposed, profile in (
        (op("oxycodone", 10), other("alprazolam")),
        (other("alprazolam"), op("oxycodone", 10)),
    ):
        alerts = [a for a in screen(proposed, profile) if a.type == "AT"]
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert.severity == Severity.MAJOR
        assert alert.key == "at:opioid-benzodiazepine|alprazolam|oxycodone"
        assert "naloxone" in alert.action
        assert alert.source == opioids.SOURCE_BENZO


def test_the_holy_trinity_is_named():
    alerts = screen(other("alprazolam"), op("oxycodone", 10), other("carisoprodol"))
    at = [a for a in alerts if a.key.startswith("at:opioid-benzodiazepine")]
    assert "carisoprodol" in at[0].message


def test_opioid_with_gabapentinoid_is_moderate():
    (alert,) = [a for a in screen(other("gabapentin"), op("tramadol", 100)) if a.type == "AT"]
    assert alert.severity == Severity.MODERATE
    assert alert.key == "at:opioid-gabapentinoid|gabapentin|tramadol"


def test_three_cns_depressants_without_a_pair_alert_is_moderate():
    alerts = screen(other("zolpidem"), other("cyclobenzaprine"), other("alprazolam"))
    assert [(a.type, a.severity, a.key) for a in alerts] == [
        ("AT", Severity.MODERATE, "at:cns-depressants|alprazolam|cyclobenzaprine|zolpidem")
    ]


@pytest.mark.parametrize(
    "a,b",
    [("oxycodone", "sertraline"), ("alprazolam", "lisinopril"), ("zolpidem", "cyclobenzaprine")],
)
def test_no_additive_toxicity_without_the_pair(a, b):
    assert [x for x in screen(other(a), other(b)) if x.type == "AT"] == []


# --- properties -----------------------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=500, places=1, allow_nan=False, allow_infinity=False)
opioid_names = st.sampled_from(sorted(MME_FACTORS))


@given(st.lists(st.tuples(opioid_names, amounts), min_size=1, max_size=6), st.randoms())
def test_mme_is_additive_and_order_free(items, rnd):
    drugs = [op(name, mg, label=f"d{i}") for i, (name, mg) in enumerate(items)]
    total, _ = total_mme(drugs)
    assert total == sum((MME_FACTORS[n] * Decimal(str(mg)) for n, mg in items), Decimal(0))
    shuffled = list(drugs)
    rnd.shuffle(shuffled)
    assert total_mme(shuffled)[0] == total
    split = len(drugs) // 2
    assert total_mme(drugs[:split])[0] + total_mme(drugs[split:])[0] == total


@given(st.lists(st.tuples(opioid_names, amounts), min_size=1, max_size=4), st.randoms())
def test_the_alert_does_not_depend_on_which_opioid_is_proposed(items, rnd):
    drugs = [op(name, mg, label=f"d{i}") for i, (name, mg) in enumerate(items)]
    first = mme_alerts(screen(drugs[0], *drugs[1:]))
    rnd.shuffle(drugs)
    second = mme_alerts(screen(drugs[0], *drugs[1:]))
    assert [(a.severity, a.key) for a in first] == [(a.severity, a.key) for a in second]
