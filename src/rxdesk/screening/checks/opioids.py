"""Opioid screening: total morphine milligram equivalents (MME) per day, and opioids with
other CNS depressants. Pure: no Django.

Reference §5.3 (CDC 2022 clinical practice guideline) and §7.5:
- MME/day = Σ over the active opioids (the proposed one and the profile's; a refill of the
  same prescription counts once) of daily dose (mg) × the CDC 2022 factor
  (:data:`MME_FACTORS`). Decimal throughout.
- Transdermal fentanyl: the factor 2.4 applies to the patch rate in mcg/h, read from the
  ingredient strength ("25 mcg/h" or, as rxdesk.screening.resolve stores it, 0.025 mg/h);
  one patch worn at a time. A "daily dose" in mg is not used for patches.
- Methadone: the single 2022 factor 4.7 (its long, variable half-life makes any MME a
  rough estimate; the message says so).
- Buprenorphine (pain or OUD) is excluded from MME totals: the 2022 guideline gives it no
  factor.
- An opioid without a known daily dose, or without a factor in the reference's table
  (meperidine, levorphanol, non-transdermal fentanyl, …), is never guessed: a minor alert
  ("MS", missing information) says the MME could not be computed for it, and the total
  is "at least" the known part.
- Tiers (de-facto payer/knowledge-base edits, §5.3): ≥ 50 MME/day → moderate ("offer
  naloxone, reassess"); ≥ 90 MME/day → major. Computed only when the proposed drug is an
  opioid counted in MME (a non-opioid fill does not re-alert the profile's dose).
- Additive toxicity ("AT", §7.5): opioid + benzodiazepine (FDA 2016 boxed warning) →
  major, either drug proposed; opioid + gabapentinoid (FDA 2019 warning) → moderate; three
  or more CNS depressants (classes.py "cns_depressant") → moderate when no pair alert above
  already covers the fill. Carisoprodol with the opioid + benzodiazepine pair (the "holy
  trinity", §7.5) is named in the alert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from rxdesk.screening.checks.duplication import fmt, same_therapy
from rxdesk.screening.classes import drug_members
from rxdesk.screening.types import Alert, Context, Drug, Severity

SOURCE_MME = "CDC 2022 opioid guideline, MME conversion factors (reference §5.3)"
SOURCE_BENZO = "FDA 2016 boxed warning: opioids with benzodiazepines (reference §7.5)"
SOURCE_GABA = "FDA 2019 warning: opioids with gabapentinoids (reference §7.5)"
SOURCE_CNS = "rxdesk additive toxicity: three or more CNS depressants (reference §7.5)"

# mg/day × factor = MME/day (CDC 2022).
MME_FACTORS: dict[str, Decimal] = {
    "codeine": Decimal("0.15"),
    "hydrocodone": Decimal(1),
    "hydromorphone": Decimal(5),
    "methadone": Decimal("4.7"),
    "morphine": Decimal(1),
    "oxycodone": Decimal("1.5"),
    "oxymorphone": Decimal(3),
    "tapentadol": Decimal("0.4"),
    "tramadol": Decimal("0.2"),
}
# mcg/h × factor = MME/day.
FENTANYL_PATCH_FACTOR = Decimal("2.4")
EXCLUDED = frozenset({"buprenorphine"})
MODERATE_MME = Decimal(50)
MAJOR_MME = Decimal(90)

_PER_HOUR = re.compile(r"^\s*(mg|mcg|ug|µg|μg)\s*/\s*(h|hr|hour)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Contribution:
    """One opioid ingredient of one drug: its dose (mg/day, or mcg/h for a patch), the
    factor, and the MME/day — ``mme`` None when it could not be computed (``why``)."""

    drug: Drug
    ingredient: str
    dose: Decimal | None
    unit: str
    factor: Decimal | None
    mme: Decimal | None
    why: str = ""

    def describe(self) -> str:
        if self.mme is None or self.dose is None or self.factor is None:
            return f"{self.drug.label}: MME unknown ({self.why})"
        return (
            f"{self.drug.label}: {self.ingredient} {fmt(self.dose)} {self.unit} × "
            f"{fmt(self.factor)} = {fmt(self.mme)} MME"
        )


def _patch_rate_mcg_h(drug: Drug, name: str) -> Decimal | None:
    for ingredient in drug.ingredients:
        if ingredient.name != name or ingredient.strength is None:
            continue
        match = _PER_HOUR.match(ingredient.unit or "")
        if match:
            per_mg = match.group(1).lower() == "mg"
            return ingredient.strength * 1000 if per_mg else ingredient.strength
    return None


def _transdermal(drug: Drug) -> bool:
    text = f"{drug.route} {drug.dosage_form} {drug.label}".lower()
    if "transdermal" in text or "patch" in text:
        return True
    return any(_PER_HOUR.match(i.unit or "") for i in drug.ingredients)


def contributions(drug: Drug) -> list[Contribution]:
    """The MME contributions of one drug's opioid ingredients (buprenorphine excluded)."""
    out: list[Contribution] = []
    for name in sorted(drug_members(drug, "opioid") - EXCLUDED):
        if name == "fentanyl" and _transdermal(drug):
            rate = _patch_rate_mcg_h(drug, name)
            if rate is None:
                out.append(
                    Contribution(
                        drug,
                        name,
                        None,
                        "mcg/h",
                        FENTANYL_PATCH_FACTOR,
                        None,
                        "patch rate in mcg/h unknown",
                    )
                )
            else:
                mme = rate * FENTANYL_PATCH_FACTOR
                out.append(Contribution(drug, name, rate, "mcg/h", FENTANYL_PATCH_FACTOR, mme))
            continue
        factor = MME_FACTORS.get(name)
        dose = drug.daily_dose.get(name)
        if factor is None:
            out.append(
                Contribution(
                    drug, name, dose, "mg/day", None, None, "no CDC 2022 factor in rxdesk's table"
                )
            )
        elif dose is None:
            out.append(Contribution(drug, name, None, "mg/day", factor, None, "daily dose unknown"))
        else:
            out.append(Contribution(drug, name, dose, "mg/day", factor, dose * factor))
    return out


def total_mme(drugs: list[Drug] | tuple[Drug, ...]) -> tuple[Decimal, list[Contribution]]:
    """Σ MME/day over the drugs' computable contributions, and every contribution."""
    parts = [c for drug in drugs for c in contributions(drug)]
    return sum((c.mme for c in parts if c.mme is not None), Decimal(0)), parts


def _mme_alerts(ctx: Context, others: list[Drug]) -> list[Alert]:
    proposed = ctx.proposed
    if not drug_members(proposed, "opioid") - EXCLUDED:
        return []
    opioid_drugs = [proposed, *(d for d in others if drug_members(d, "opioid") - EXCLUDED)]
    total, parts = total_mme(opioid_drugs)
    unknown = [c for c in parts if c.mme is None]
    names = "|".join(sorted({c.ingredient for c in parts}))
    alerts: list[Alert] = []
    if unknown:
        alerts.append(
            Alert(
                type="MS",  # NCPDP "missing information/clarification"
                severity=Severity.MINOR,
                drugs=tuple(dict.fromkeys(c.drug.label for c in unknown)),
                message="Opioid dose in MME could not be computed for: "
                + "; ".join(c.describe() for c in unknown)
                + ".",
                consequence="The total opioid dose (overdose risk) is not known.",
                action="Pharmacist: work out the total daily opioid dose from the directions.",
                source=SOURCE_MME,
                key=f"mme:unknown|{'|'.join(sorted(c.ingredient for c in unknown))}",
            )
        )
    if total >= MAJOR_MME:
        severity, tier = Severity.MAJOR, MAJOR_MME
    elif total >= MODERATE_MME:
        severity, tier = Severity.MODERATE, MODERATE_MME
    else:
        return alerts
    known = [c for c in parts if c.mme is not None]
    at_least = "at least " if unknown else ""
    methadone = (
        " Methadone's MME is a rough estimate (long, variable half-life)."
        if any(c.ingredient == "methadone" for c in known)
        else ""
    )
    action = (
        "Pharmacist: reassess benefit and risk with the prescriber (avoid or justify ≥ 90 "
        "MME/day), check the PDMP, offer naloxone."
        if severity == Severity.MAJOR
        else "Offer naloxone; pharmacist to reassess benefit and risk of the dose."
    )
    alerts.append(
        Alert(
            type="HD",
            severity=severity,
            drugs=tuple(dict.fromkeys(c.drug.label for c in parts)),
            message=f"Total opioid dose {at_least}{fmt(total)} MME/day (≥ {fmt(tier)}): "
            + "; ".join(c.describe() for c in known)
            + "."
            + methadone,
            consequence="Overdose risk rises with dose: slowed or stopped breathing.",
            action=action,
            source=SOURCE_MME,
            key=f"mme:{fmt(tier)}|{names}",
        )
    )
    return alerts


def _pair_alerts(ctx: Context, others: list[Drug]) -> list[Alert]:
    proposed = ctx.proposed
    p_opioid = drug_members(proposed, "opioid")
    everyone = [proposed, *others]
    carisoprodol = any("carisoprodol" in d.names for d in everyone)
    alerts: list[Alert] = []
    for other in others:
        o_opioid = drug_members(other, "opioid")
        for key, severity, source, what, consequence in (
            (
                "benzodiazepine",
                Severity.MAJOR,
                SOURCE_BENZO,
                "an opioid with a benzodiazepine",
                "Deep sedation, slowed or stopped breathing, coma, death.",
            ),
            (
                "gabapentinoid",
                Severity.MODERATE,
                SOURCE_GABA,
                "an opioid with gabapentin/pregabalin",
                "Slowed breathing and sedation, especially in older adults or with lung disease.",
            ),
        ):
            pairs = [(o, x) for o in p_opioid for x in drug_members(other, key)]
            pairs += [(o, x) for o in o_opioid for x in drug_members(proposed, key)]
            if not pairs:
                continue
            opioid, partner = sorted(pairs)[0]
            trinity = (
                " With carisoprodol also on the profile (opioid + benzodiazepine + "
                "carisoprodol): check the PDMP."
                if key == "benzodiazepine" and carisoprodol
                else ""
            )
            alerts.append(
                Alert(
                    type="AT",
                    severity=severity,
                    drugs=(proposed.label, other.label),
                    message=f"{proposed.label} and {other.label}: {what} ({opioid} + "
                    f"{partner}).{trinity}",
                    consequence=consequence,
                    action="Pharmacist: confirm with the prescriber that both are intended; "
                    "lowest effective doses; offer naloxone; counsel on sedation and alcohol.",
                    source=source,
                    key=f"at:opioid-{key}|{'|'.join(sorted({opioid, partner}))}",
                )
            )
    return alerts


def _cns_alert(ctx: Context, others: list[Drug]) -> Alert | None:
    proposed = ctx.proposed
    if not drug_members(proposed, "cns_depressant"):
        return None
    with_it = [d for d in others if drug_members(d, "cns_depressant")]
    if len(with_it) < 2:
        return None
    drugs = [proposed, *with_it]
    names = sorted({n for d in drugs for n in drug_members(d, "cns_depressant")})
    return Alert(
        type="AT",
        severity=Severity.MODERATE,
        drugs=tuple(d.label for d in drugs),
        message=f"{len(drugs)} CNS depressants together: {', '.join(d.label for d in drugs)}.",
        consequence="Additive sedation, falls, slowed breathing.",
        action="Pharmacist: review whether each is still needed; counsel on sedation.",
        source=SOURCE_CNS,
        key=f"at:cns-depressants|{'|'.join(names)}",
    )


def check(ctx: Context) -> list[Alert]:
    """MME tiers, unknown MME, and opioid + CNS-depressant alerts for the proposed drug."""
    others = [d for d in ctx.profile if not same_therapy(ctx.proposed, d)]
    alerts = _mme_alerts(ctx, others)
    pairs = _pair_alerts(ctx, others)
    alerts += pairs
    if not pairs:
        cns = _cns_alert(ctx, others)
        if cns is not None:
            alerts.append(cns)
    return alerts
