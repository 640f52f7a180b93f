"""Therapeutic duplication (NCPDP "TD"), ingredient duplication ("ID") and the cumulative
acetaminophen dose ("HD"). Pure: no Django.

Reference §4 (clinical-screening.md):
- TD: the proposed drug and an active profile drug have DIFFERENT ingredients from the
  same duplicate-therapy class of §4.2 (:data:`RULES`). The intended combinations of §4.3
  (basal + bolus insulin, metformin + anything, thiazide + ACEI/ARB + CCB, ICS/LABA + SABA,
  ER + IR opioid, acetaminophen + NSAID, aspirin + P2Y12, loop + metolazone, spironolactone
  + ACEI, antidepressant + low-dose trazodone/mirtazapine) are in no rule, or in a minor
  one (PPI + H2 blocker, DHP + non-DHP CCB, levothyroxine + liothyronine, clozapine
  augmentation, two short-acting opioids).
- ID: the same ingredient in two products (two acetaminophen products, two strengths of
  warfarin): moderate — "check whether combined dosing is intended" (§4.1); an opioid
  given as an ER and an IR product (breakthrough dosing, §4.3) is minor.
- A topical or eye/ear/nose product on either side makes a TD or ID minor (§7.7.4: local
  forms rarely act systemically), except two beta-blockers (§4.2: timolol eye drops count).
- Acetaminophen across products (§4.4): Σ daily mg over every product that contains it;
  above 4,000 mg/24 h (adults; children: 75 mg/kg/day, never above 4,000 mg) → HD major;
  above 3,000 mg for a patient 65 or older or with liver disease or alcohol use (the
  reference's optional soft limit) → HD moderate. The HD alert replaces the acetaminophen
  ID alert. Only computed when two or more products contain acetaminophen: a single
  product's dose is the dose check's (checks.dose).
- A refill of the same prescription (equal ``prescription_id``) is the same therapy and
  never duplicates itself; the profile is already limited to active drugs (resolve).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from rxdesk.screening.classes import CLASS_MEMBERS, classes_of, drug_members
from rxdesk.screening.types import Alert, Context, Drug, Severity

SOURCE_TD = "rxdesk duplicate-therapy classes (reference §4.2–4.3)"
SOURCE_ID = "rxdesk ingredient duplication (reference §4.1)"
SOURCE_APAP = (
    "FDA acetaminophen labeling: 4,000 mg/24 h from all sources (reference §4.4); "
    "pediatric 75 mg/kg/day"
)

APAP = "acetaminophen"
APAP_ADULT_MAX_MG = Decimal(4000)
# §4.4: "optionally at >3,000 mg (soft; elderly/hepatic/alcohol)".
APAP_SOFT_MAX_MG = Decimal(3000)
APAP_CHILD_MG_PER_KG = Decimal(75)
ADULT_AGE = 18
OLDER_ADULT_AGE = 65
# §4.2: aspirin duplicates an NSAID only "at analgesic doses"; the reference names 81 mg as
# low-dose and gives no analgesic cut-off. rxdesk counts aspirin above 325 mg/day (the
# largest antiplatelet tablet) as analgesic — rxdesk's choice, to be confirmed by a
# pharmacist. Unknown aspirin dose: not counted (quiet).
ASPIRIN_ANALGESIC_ABOVE_MG = Decimal(325)

_LIVER_OR_ALCOHOL = re.compile(
    r"\b(alcohol\w*|liver|hepatic|hepatitis|cirrhosis|k7[0-7](\.\w*)?|f10(\.\w*)?)\b"
)
_DIABETES = re.compile(r"\b(diabet\w*|e(0[89]|1[0-3])(\.\w*)?)\b")
_ER_WORDS = re.compile(
    r"\b(er|xr|xl|sr|cr|la|sa|12 hr|24 hr|extended|sustained|controlled|long[- ]acting)\b"
)


DEFAULT_ACTION = (
    "Pharmacist: check with the patient and prescriber whether both are meant to be taken; "
    "usually one is stopped."
)


@dataclass(frozen=True)
class DupRule:
    """Two drugs duplicate when one has an ingredient in a ``left`` class and the other a
    DIFFERENT ingredient in a ``right`` class (either way round)."""

    rule: str
    left: frozenset[str]
    right: frozenset[str]
    severity: Severity
    what: str  # "two NSAIDs"
    consequence: str
    action: str = DEFAULT_ACTION
    inhaled: bool = False  # both drugs must be inhaled products
    # Ingredient pairs that are an intended combination: minor instead.
    intended: frozenset[frozenset[str]] = frozenset()


def _same(
    rule: str,
    key: str,
    severity: Severity,
    what: str,
    consequence: str,
    *,
    action: str = DEFAULT_ACTION,
    inhaled: bool = False,
    intended: frozenset[frozenset[str]] = frozenset(),
) -> DupRule:
    keys = frozenset({key})
    return DupRule(rule, keys, keys, severity, what, consequence, action, inhaled, intended)


def _group(
    rule: str, keys: Iterable[str], severity: Severity, what: str, consequence: str
) -> DupRule:
    group = frozenset(keys)
    return DupRule(rule, group, group, severity, what, consequence)


MAJOR, MODERATE, MINOR = Severity.MAJOR, Severity.MODERATE, Severity.MINOR

RULES: tuple[DupRule, ...] = (
    _same(
        "nsaid",
        "nsaid",
        MODERATE,
        "two NSAIDs",
        "Stomach bleeding and kidney injury; no added pain relief.",
    ),
    _group(
        "serotonergic-antidepressant",
        ("ssri", "snri"),
        MODERATE,
        "two SSRI/SNRI antidepressants",
        "Serotonin syndrome; no added benefit (a short cross-taper during a switch is legitimate).",
    ),
    _group(
        "sedative-hypnotic",
        ("benzodiazepine", "z_drug"),
        MODERATE,
        "two benzodiazepines / sleep drugs",
        "Sedation, falls and slowed breathing (worse with opioids).",
    ),
    _group(
        "raas",
        ("ace_inhibitor", "arb", "renin_inhibitor"),
        MAJOR,
        "two drugs blocking the renin–angiotensin system (ACE inhibitor / ARB / aliskiren)",
        "Dual RAAS blockade: high potassium, kidney injury, low blood pressure. Generally "
        "not recommended.",
    ),
    _same(
        "statin", "statin", MODERATE, "two statins", "No added benefit; muscle injury (myopathy)."
    ),
    _same("ppi", "ppi", MODERATE, "two proton pump inhibitors", "No added benefit."),
    _same("h2-blocker", "h2_blocker", MODERATE, "two H2 blockers", "No added benefit."),
    DupRule(
        "ppi-h2",
        frozenset({"ppi"}),
        frozenset({"h2_blocker"}),
        MINOR,
        "a proton pump inhibitor and an H2 blocker",
        "Usually unnecessary; a bedtime H2 blocker for night-time symptoms is sometimes intended.",
        action="Pharmacist: confirm the H2 blocker is intended (e.g. bedtime add-on).",
    ),
    _same(
        "anticoagulant",
        "anticoagulant",
        MAJOR,
        "two anticoagulants",
        "Major bleeding. A switch or bridging overlap is legitimate but brief.",
        action="Pharmacist: confirm with the prescriber whether this is a planned switch or "
        "bridge (and when the first stops); otherwise one must be stopped.",
    ),
    _same(
        "p2y12",
        "p2y12_inhibitor",
        MAJOR,
        "two P2Y12 antiplatelet drugs",
        "Bleeding with no added benefit (aspirin + one P2Y12 drug is intended DAPT; two "
        "P2Y12 drugs are not).",
    ),
    _same(
        "bladder-antimuscarinic",
        "bladder_antimuscarinic",
        MODERATE,
        "two bladder anticholinergics",
        "Anticholinergic burden: confusion, constipation, urinary retention (delirium in "
        "older adults).",
    ),
    _same(
        "antipsychotic",
        "antipsychotic",
        MODERATE,
        "two antipsychotics",
        "Metabolic, QT and movement-disorder burden.",
        intended=frozenset(
            frozenset({"clozapine", other})
            for other in CLASS_MEMBERS["antipsychotic"] - {"clozapine"}
        ),
    ),
    _same(
        "sulfonylurea",
        "sulfonylurea",
        MODERATE,
        "two sulfonylureas",
        "Low blood sugar; no added benefit.",
    ),
    _group(
        "incretin",
        ("dpp4_inhibitor", "glp1_agonist"),
        MODERATE,
        "two incretin drugs (DPP-4 inhibitor / GLP-1 agonist)",
        "Overlapping mechanism; no added benefit.",
    ),
    _same(
        "beta-blocker",
        "beta_blocker",
        MODERATE,
        "two beta-blockers (eye drops count)",
        "Slow heart rate, low blood pressure.",
    ),
    _same(
        "ccb-dhp",
        "ccb_dihydropyridine",
        MODERATE,
        "two dihydropyridine calcium channel blockers",
        "Low blood pressure, ankle swelling.",
    ),
    _same(
        "ccb-non-dhp",
        "ccb_nondihydropyridine",
        MODERATE,
        "two non-dihydropyridine calcium channel blockers",
        "Slow heart rate, heart block, low blood pressure.",
    ),
    DupRule(
        "ccb-dhp-non-dhp",
        frozenset({"ccb_dihydropyridine"}),
        frozenset({"ccb_nondihydropyridine"}),
        MINOR,
        "two calcium channel blockers of different subclasses",
        "Low blood pressure; occasionally intended.",
        action="Pharmacist: confirm both are intended.",
    ),
    _same(
        "thyroid",
        "thyroid_hormone",
        MODERATE,
        "two thyroid hormone products",
        "Over-replacement: fast heart rate, bone loss.",
        intended=frozenset({frozenset({"levothyroxine", "liothyronine"})}),
    ),
    _same(
        "bisphosphonate",
        "bisphosphonate",
        MODERATE,
        "two bisphosphonates",
        "No added benefit; more side effects.",
    ),
    _same(
        "muscle-relaxant",
        "skeletal_muscle_relaxant",
        MODERATE,
        "two skeletal muscle relaxants",
        "Sedation, falls.",
    ),
    _same(
        "sedating-antihistamine",
        "sedating_antihistamine",
        MODERATE,
        "two sedating antihistamines",
        "Sedation, confusion, anticholinergic effects.",
    ),
    _same(
        "triptan",
        "triptan",
        MODERATE,
        "two triptans",
        "Vasoconstriction; two triptans within 24 h are not advised.",
    ),
    _same(
        "stimulant",
        "stimulant",
        MODERATE,
        "two stimulants",
        "High blood pressure, fast heart rate, insomnia.",
    ),
    _same(
        "ics",
        "inhaled_corticosteroid",
        MODERATE,
        "two inhaled corticosteroids",
        "No added benefit; more steroid side effects.",
        inhaled=True,
    ),
    _same(
        "laba",
        "laba",
        MODERATE,
        "two long-acting beta-agonists (LABA)",
        "Fast heart rate, tremor; LABA overdose risk.",
        inhaled=True,
    ),
    _same(
        "lama",
        "lama",
        MODERATE,
        "two long-acting anticholinergic inhalers (LAMA)",
        "Anticholinergic side effects; no added benefit.",
        inhaled=True,
    ),
)


# --- facts about a drug ---------------------------------------------------------------------


def same_therapy(a: Drug, b: Drug) -> bool:
    """A refill of the same prescription: never a duplicate of itself."""
    return a.prescription_id is not None and a.prescription_id == b.prescription_id


def is_long_acting(drug: Drug) -> bool:
    """An extended-release or long-acting product (ER/LA): ER words in the label or dosage
    form, a transdermal product, or methadone (long-acting by pharmacology)."""
    text = f"{drug.label} {drug.dosage_form}".lower()
    if "methadone" in drug.names:
        return True
    return bool(_ER_WORDS.search(text)) or _is_transdermal(drug)


def _is_transdermal(drug: Drug) -> bool:
    text = f"{drug.route} {drug.dosage_form} {drug.label}".lower()
    return "transdermal" in text or "patch" in text


_LOCAL = re.compile(
    r"\b(topical|ophthalmic|otic|nasal|vaginal|cream|gel|ointment|lotion|shampoo|drops?)\b"
)


def _is_local(drug: Drug) -> bool:
    """A product acting where applied (cream, eye/ear/nose drops): little systemic dose."""
    return bool(_LOCAL.search(f"{drug.route} {drug.dosage_form} {drug.label}".lower()))


def _is_inhaled(drug: Drug) -> bool:
    text = f"{drug.route} {drug.dosage_form} {drug.label}".lower()
    return "inhal" in text or "respiratory" in text


def _members(drug: Drug, keys: frozenset[str]) -> frozenset[str]:
    out: set[str] = set()
    for key in keys:
        out |= drug_members(drug, key)
    if "nsaid" in keys and "aspirin" in drug.names:
        dose = drug.daily_dose.get("aspirin")
        if dose is not None and dose > ASPIRIN_ANALGESIC_ABOVE_MG:
            out.add("aspirin")
    return frozenset(out)


def _age(ctx: Context) -> int | None:
    return ctx.patient.age_on(ctx.today)


def _conditions(ctx: Context) -> str:
    return " ".join(c.lower() for c in ctx.patient.conditions)


def fmt(value: Decimal) -> str:
    """A Decimal as a person reads it: 4000 → "4,000", 32.50 → "32.5"."""
    text = f"{value.normalize():,f}"
    return text


# --- therapeutic duplication --------------------------------------------------------------------


def _td(ctx: Context, proposed: Drug, other: Drug) -> list[Alert]:
    alerts: list[Alert] = []
    for rule in RULES:
        if rule.inhaled and not (_is_inhaled(proposed) and _is_inhaled(other)):
            continue
        pairs = {
            (a, b)
            for left, right in ((rule.left, rule.right), (rule.right, rule.left))
            for a in _members(proposed, left)
            for b in _members(other, right)
            if a != b
        }
        if not pairs:
            continue
        a, b = sorted(pairs)[0]
        severity = rule.severity
        if frozenset({a, b}) in rule.intended:
            severity = MINOR
        # §7.7.4: topical and eye/ear/nose forms rarely act systemically — listed only;
        # except beta-blockers, where §4.2 counts timolol eye drops with an oral one.
        if rule.rule != "beta-blocker" and (_is_local(proposed) or _is_local(other)):
            severity = MINOR
        consequence = rule.consequence
        if rule.rule == "raas" and "aliskiren" in {a, b} and _DIABETES.search(_conditions(ctx)):
            severity = Severity.CONTRAINDICATED
            consequence = (
                "Aliskiren with an ACE inhibitor or ARB is contraindicated in diabetes. "
                + consequence
            )
        names = sorted({a, b})
        alerts.append(
            Alert(
                type="TD",
                severity=severity,
                drugs=(proposed.label, other.label),
                message=f"Duplicate therapy: {proposed.label} and {other.label} are "
                f"{rule.what} ({names[0]}, {names[1]}).",
                consequence=consequence,
                action=rule.action,
                source=SOURCE_TD,
                key=f"td:{rule.rule}|{'|'.join(names)}",
            )
        )
    return alerts


def _opioid_td(proposed: Drug, other: Drug) -> Alert | None:
    """§4.2: two long-acting opioids (overdose; CMS soft edit) → major; two short-acting →
    minor (the MME and acetaminophen checks carry the risk); ER + IR is intended (§4.3)."""
    a_names = drug_members(proposed, "opioid") - {"buprenorphine"}
    b_names = drug_members(other, "opioid") - {"buprenorphine"}
    if not a_names or not b_names:
        return None
    a_la, b_la = is_long_acting(proposed), is_long_acting(other)
    if a_la != b_la:
        return None
    names = sorted(a_names | b_names)
    if a_la:
        severity, what, rule = MAJOR, "two long-acting opioids", "opioid-long-acting"
        consequence = "Overdose: slowed or stopped breathing."
        action = (
            "Pharmacist: contact the prescriber — two long-acting opioids are rarely intended; "
            "check the total MME and offer naloxone."
        )
    else:
        severity, what, rule = MINOR, "two short-acting opioids", "opioid-short-acting"
        consequence = "Cumulative opioid dose (MME) and acetaminophen from combination products."
        action = "Pharmacist: check the total MME and acetaminophen; confirm both are intended."
    return Alert(
        type="TD",
        severity=severity,
        drugs=(proposed.label, other.label),
        message=f"Duplicate therapy: {proposed.label} and {other.label} are {what}.",
        consequence=consequence,
        action=action,
        source=SOURCE_TD,
        key=f"td:{rule}|{'|'.join(names)}",
    )


# --- ingredient duplication and acetaminophen ----------------------------------------------------


def _id(proposed: Drug, others: list[Drug], name: str, severity: Severity, note: str) -> Alert:
    labels = [proposed.label, *(o.label for o in others)]
    return Alert(
        type="ID",
        severity=severity,
        drugs=tuple(labels),
        message=f"Same ingredient twice: {name} is in {', '.join(labels)}.{note}",
        consequence="Too much of one drug when both are taken.",
        action="Pharmacist: check whether the prescriber intends combined dosing (e.g. two "
        "strengths) or whether one replaces the other.",
        source=SOURCE_ID,
        key=f"id:{name}|{'|'.join(sorted(labels))}",
    )


def apap_limit(ctx: Context) -> tuple[Decimal, Decimal | None]:
    """(hard limit, soft limit or None) for acetaminophen mg/day for this patient (§4.4)."""
    age = _age(ctx)
    weight = ctx.patient.weight_kg
    if age is not None and age < ADULT_AGE and weight is not None and weight > 0:
        return min(APAP_CHILD_MG_PER_KG * weight, APAP_ADULT_MAX_MG), None
    risk = (age is not None and age >= OLDER_ADULT_AGE) or bool(
        _LIVER_OR_ALCOHOL.search(_conditions(ctx))
    )
    return APAP_ADULT_MAX_MG, (APAP_SOFT_MAX_MG if risk else None)


def _apap(ctx: Context, drugs: list[Drug]) -> Alert | None:
    known = [d for d in drugs if APAP in d.daily_dose]
    unknown = [d for d in drugs if APAP not in d.daily_dose]
    total = sum((d.daily_dose[APAP] for d in known), Decimal(0))
    hard, soft = apap_limit(ctx)
    if total > hard:
        severity = MAJOR
        limit_text = f"the maximum of {fmt(hard)} mg/day"
    elif soft is not None and total > soft:
        severity = MODERATE
        limit_text = (
            f"{fmt(soft)} mg/day, the lower limit advised for older adults, liver disease or "
            "regular alcohol use"
        )
    else:
        return None
    parts = "; ".join(f"{d.label}: {fmt(d.daily_dose[APAP])} mg" for d in known)
    more = (
        f" (at least: daily dose unknown for {', '.join(d.label for d in unknown)})"
        if unknown
        else ""
    )
    labels = [d.label for d in drugs]
    return Alert(
        type="HD",
        severity=severity,
        drugs=tuple(labels),
        message=f"Total acetaminophen {fmt(total)} mg/day{more} is above {limit_text}: {parts}.",
        consequence="Liver damage (acetaminophen overdose), possibly liver failure.",
        action="Pharmacist: contact the prescriber to lower the dose or stop one product; "
        "tell the patient to avoid OTC acetaminophen (Tylenol, cold/flu and PM products).",
        source=SOURCE_APAP,
        key=f"hd:acetaminophen-total|{'|'.join(sorted(labels))}",
    )


def _ingredient_duplication(ctx: Context, proposed: Drug, others: list[Drug]) -> list[Alert]:
    alerts: list[Alert] = []
    for name in sorted(proposed.names):
        with_it = [o for o in others if name in o.names]
        if not with_it:
            continue
        if name == APAP:
            hd = _apap(ctx, [proposed, *with_it])
            if hd is not None:
                alerts.append(hd)
                continue
            unknown = [d for d in (proposed, *with_it) if APAP not in d.daily_dose]
            note = (
                " Total daily acetaminophen could not be computed (daily dose unknown for "
                f"{', '.join(d.label for d in unknown)}): check it stays within 4,000 mg/day."
                if unknown
                else " Total daily acetaminophen: "
                f"{fmt(sum((d.daily_dose[APAP] for d in (proposed, *with_it)), Decimal(0)))} mg."
            )
            alerts.append(_id(proposed, with_it, name, MODERATE, note))
            continue
        severity = MINOR if _is_local(proposed) or any(_is_local(o) for o in with_it) else MODERATE
        if "opioid" in classes_of(name) and all(
            is_long_acting(o) != is_long_acting(proposed) for o in with_it
        ):
            severity = MINOR  # ER + IR of one opioid: breakthrough dosing (§4.3)
        alerts.append(_id(proposed, with_it, name, severity, ""))
    return alerts


def check(ctx: Context) -> list[Alert]:
    """TD, ID and cumulative-acetaminophen HD alerts for the proposed drug against the
    active profile (see the module docstring)."""
    proposed = ctx.proposed
    others = [d for d in ctx.profile if not same_therapy(proposed, d)]
    alerts = _ingredient_duplication(ctx, proposed, others)
    for other in others:
        alerts += _td(ctx, proposed, other)
        opioid = _opioid_td(proposed, other)
        if opioid is not None:
            alerts.append(opioid)
    return alerts
