"""Drug–age (NCPDP PA): AGS Beers Criteria 2023 for patients 65 and older, and the
pediatric age limits of reference clinical-screening.md §5.4.

Beers (reference §6.1) is "potentially" inappropriate: the reference says its alerts are
informational/moderate, not hard stops, so no Beers alert interrupts. rxdesk lists the
"avoid" items as **moderate** and the items that depend on an indication the pharmacy does
not see (aspirin for primary prevention, an alpha-1 blocker *for hypertension*) or that
Beers only asks to use with caution as **minor**. Beers is licensed by the AGS: these are
short paraphrases of the reference, not the criteria text. Not checked here: Beers Table 3
(drug–disease; needs conditions), Table 4/5 combinations (the additive-toxicity and
interaction checks), renal Table 6 (checks.renal).

Pediatric limits (§5.4): codeine and tramadol under 12 (and under 18 after tonsillectomy or
adenoidectomy), promethazine under 2 — contraindicated (FDA); aspirin under 18 (Reye
syndrome) — major; OTC cough/cold under 4 — moderate (major under 2); fluoroquinolones
under 18 and tetracyclines under 8 — moderate.

Class membership comes from rxdesk.screening.classes (and the drug's own class keys)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from rxdesk.screening.checks._facts import (
    age_years,
    alert_key,
    daily_mg,
    ingredient_map,
    is_extended_release,
    is_local,
    is_new_start,
    is_oral,
    mentions,
)
from rxdesk.screening.classes import members
from rxdesk.screening.types import Alert, Context, Drug, Severity

BEERS_SOURCE = "AGS Beers Criteria 2023 (reference §6.1)"
PEDIATRIC_SOURCE = "FDA and labeling pediatric age limits (reference §5.4)"
OLDER_ADULT_AGE = 65
D = Decimal

Predicate = Callable[[Context, Drug, str], bool]


def _always(_ctx: Context, _drug: Drug, _name: str) -> bool:
    return True


@dataclass(frozen=True)
class AgeRule:
    rule: str  # short id for the alert key
    names: frozenset[str]
    severity: Severity
    message: str  # what, for a technician; "{drug}" is the label
    consequence: str
    action: str
    when: Predicate = _always


def _m(*names: str) -> frozenset[str]:
    return frozenset(names)


def _cls(*keys: str) -> frozenset[str]:
    out: set[str] = set()
    for key in keys:
        out |= members(key)
    return frozenset(out)


def _oral(_ctx: Context, drug: Drug, _name: str) -> bool:
    return is_oral(drug)


def _systemic(_ctx: Context, drug: Drug, _name: str) -> bool:
    return not is_local(drug)


def _new_start(ctx: Context, _drug: Drug, name: str) -> bool:
    return is_new_start(ctx, frozenset({name}))


def _doxepin_over_6(_ctx: Context, drug: Drug, name: str) -> bool:
    # Beers: doxepin > 6 mg/day; the 3–6 mg hypnotic doses are acceptable.
    dose = daily_mg(drug, name)
    if dose is not None:
        return dose > 6
    strengths = [i.strength for i in drug.ingredients if i.name == name and i.strength]
    return not strengths or max(strengths) > 6


def _digoxin_over(_ctx: Context, drug: Drug, name: str) -> bool:
    dose = daily_mg(drug, name)
    return dose is not None and dose > D("0.125")


def _short_acting(_ctx: Context, drug: Drug, _name: str) -> bool:
    return is_oral(drug) and not is_extended_release(drug)


def _dipyridamole_ir(ctx: Context, drug: Drug, name: str) -> bool:
    # The aspirin/ER-dipyridamole combination is not the short-acting form Beers means.
    return _short_acting(ctx, drug, name) and "aspirin" not in drug.names


def _no_gastroprotection(ctx: Context, drug: Drug, _name: str) -> bool:
    if not is_oral(drug):
        return False
    protectors = members("ppi") | {"misoprostol"}
    return not any(d.names & protectors for d in (*ctx.profile, drug))


def _estrogen_not_vaginal(_ctx: Context, drug: Drug, _name: str) -> bool:
    return not (drug.route.lower() == "vaginal" or mentions(drug, "vaginal"))


def _long_course(_ctx: Context, drug: Drug, _name: str) -> bool:
    # "Long-term (suppression)": rxdesk reads a supply over 30 days as long-term (the
    # reference gives no number; a treatment course is 5–7 days).
    return drug.days_supply is not None and drug.days_supply > 30


def _ppi_long(ctx: Context, drug: Drug, name: str) -> bool:
    # "PPIs for more than 8 weeks": a supply over 56 days, or already on the profile.
    return (drug.days_supply is not None and drug.days_supply > 56) or not is_new_start(
        ctx, frozenset({name})
    )


_FALLS = "Falls, fractures, confusion and sedation in older adults."
_ANTICHOLINERGIC = "Confusion, constipation, urinary retention, dry mouth (anticholinergic)."
_REVIEW = "Ask the pharmacist to review; suggest a safer alternative to the prescriber."

BEERS: tuple[AgeRule, ...] = (
    AgeRule(
        "antihistamine-1st-gen",
        _cls("sedating_antihistamine"),
        Severity.MODERATE,
        "{drug} is a first-generation antihistamine, to avoid at 65+ (watch OTC 'PM' products).",
        _ANTICHOLINERGIC,
        _REVIEW,
        _systemic,
    ),
    AgeRule(
        "antiparkinson-anticholinergic",
        _m("benztropine", "trihexyphenidyl"),
        Severity.MODERATE,
        "{drug} is an anticholinergic antiparkinson drug, to avoid at 65+.",
        _ANTICHOLINERGIC,
        _REVIEW,
    ),
    AgeRule(
        "gi-antispasmodic",
        _m("dicyclomine", "hyoscyamine", "scopolamine", "belladonna", "clidinium"),
        Severity.MODERATE,
        "{drug} is a GI antispasmodic, to avoid at 65+.",
        _ANTICHOLINERGIC,
        _REVIEW,
    ),
    AgeRule(
        "aspirin-primary-prevention",
        _m("aspirin"),
        Severity.MINOR,
        "Beers: do not start aspirin at 65+ for primary prevention (prevention of a first "
        "heart attack or stroke).",
        "Bleeding risk outweighs benefit in primary prevention.",
        "If this is for primary prevention, let the pharmacist discuss it with the prescriber.",
        _new_start,
    ),
    AgeRule(
        "warfarin-initial",
        _m("warfarin"),
        Severity.MODERATE,
        "Beers 2023: avoid starting warfarin at 65+ for VTE or non-valvular AF unless DOACs "
        "are contraindicated.",
        "More major bleeding and intracranial haemorrhage than DOACs.",
        "Confirm with the prescriber why a DOAC is not used (continuing warfarin is fine).",
        _new_start,
    ),
    AgeRule(
        "rivaroxaban-long-term",
        _m("rivaroxaban"),
        Severity.MODERATE,
        "Beers 2023: avoid rivaroxaban for long-term AF/VTE treatment at 65+; apixaban is safer.",
        "Higher risk of major and GI bleeding than apixaban.",
        _REVIEW,
    ),
    AgeRule(
        "dabigatran-caution",
        _m("dabigatran"),
        Severity.MINOR,
        "Beers: use dabigatran with caution at 65+.",
        "Higher GI bleeding risk than other DOACs in older adults.",
        "Check kidney function and bleeding risk.",
    ),
    AgeRule(
        "p2y12-caution",
        # Reference: "Prasugrel and ticagrelor: caution (details unverified)" — kept, minor.
        _m("prasugrel", "ticagrelor"),
        Severity.MINOR,
        "Beers: use {drug} with caution at 65+.",
        "Bleeding risk rises with age.",
        "Check bleeding risk.",
    ),
    AgeRule(
        "dipyridamole-ir",
        _m("dipyridamole"),
        Severity.MODERATE,
        "Beers: avoid oral short-acting dipyridamole at 65+.",
        "Orthostatic hypotension; no benefit over alternatives.",
        _REVIEW,
        _dipyridamole_ir,
    ),
    AgeRule(
        "nitrofurantoin-long-term",
        _m("nitrofurantoin"),
        Severity.MODERATE,
        "Beers: avoid long-term nitrofurantoin (suppression) at 65+.",
        "Pulmonary toxicity, liver injury, peripheral neuropathy.",
        _REVIEW,
        _long_course,
    ),
    AgeRule(
        "alpha1-blocker",
        _m("doxazosin", "prazosin", "terazosin"),
        Severity.MINOR,
        "Beers: avoid {drug} for high blood pressure at 65+ (fine for prostate symptoms).",
        "Orthostatic hypotension and falls.",
        "If it is for blood pressure, let the pharmacist discuss alternatives.",
    ),
    AgeRule(
        "central-alpha-agonist",
        _m("clonidine", "methyldopa", "guanfacine"),
        Severity.MINOR,
        "Beers: avoid {drug} as a first-line blood-pressure drug at 65+.",
        "CNS effects, bradycardia, orthostatic hypotension.",
        _REVIEW,
        _oral,
    ),
    AgeRule(
        "nifedipine-ir",
        _m("nifedipine"),
        Severity.MODERATE,
        "Beers: avoid immediate-release nifedipine at 65+.",
        "Hypotension, myocardial ischaemia.",
        _REVIEW,
        _short_acting,
    ),
    AgeRule(
        "disopyramide",
        _m("disopyramide"),
        Severity.MODERATE,
        "Beers: avoid disopyramide at 65+.",
        "Heart failure; strongly anticholinergic.",
        _REVIEW,
    ),
    AgeRule(
        "dronedarone",
        _m("dronedarone"),
        Severity.MINOR,
        "Beers: avoid dronedarone in permanent AF or severe/decompensated heart failure.",
        "Worse outcomes in these patients.",
        "Check the indication with the pharmacist.",
    ),
    AgeRule(
        "digoxin-dose",
        _m("digoxin"),
        Severity.MODERATE,
        "Beers: avoid digoxin doses above 0.125 mg/day at 65+.",
        "Digoxin toxicity (reduced renal clearance).",
        "Confirm the dose with the prescriber.",
        _digoxin_over,
    ),
    AgeRule(
        "amiodarone-first-line",
        _m("amiodarone"),
        Severity.MINOR,
        "Beers: avoid amiodarone as first-line AF therapy unless heart failure or LVH.",
        "Thyroid, lung and QT toxicity.",
        "Check the indication with the pharmacist.",
    ),
    AgeRule(
        "tca",
        _cls("tca") - {"doxepin"},
        Severity.MODERATE,
        "{drug} is a tricyclic antidepressant, to avoid at 65+.",
        _ANTICHOLINERGIC + " Orthostatic hypotension.",
        _REVIEW,
    ),
    AgeRule(
        "doxepin-over-6mg",
        _m("doxepin"),
        Severity.MODERATE,
        "Beers: avoid doxepin above 6 mg/day at 65+.",
        _ANTICHOLINERGIC,
        _REVIEW,
        _doxepin_over_6,
    ),
    AgeRule(
        "paroxetine",
        _m("paroxetine"),
        Severity.MODERATE,
        "Beers: avoid paroxetine at 65+ (strongly anticholinergic).",
        _ANTICHOLINERGIC,
        _REVIEW,
    ),
    AgeRule(
        "antipsychotic",
        _cls("antipsychotic"),
        Severity.MODERATE,
        "Beers: avoid {drug} at 65+ except for schizophrenia, bipolar disorder, adjunctive "
        "depression treatment or short-term nausea.",
        "Stroke, cognitive decline and increased mortality in dementia (boxed warning).",
        "Check the indication with the pharmacist.",
    ),
    AgeRule(
        "barbiturate",
        _cls("barbiturate"),
        Severity.MODERATE,
        "{drug} is a barbiturate, to avoid at 65+.",
        "Dependence, tolerance, overdose at low doses.",
        _REVIEW,
    ),
    AgeRule(
        "benzodiazepine",
        _cls("benzodiazepine"),
        Severity.MODERATE,
        "{drug} is a benzodiazepine, to avoid at 65+.",
        _FALLS + " Dependence.",
        _REVIEW,
    ),
    AgeRule(
        "z-drug",
        _cls("z_drug"),
        Severity.MODERATE,
        "{drug} is a 'Z-drug' sleep medicine, to avoid at 65+.",
        _FALLS + " Emergency visits, motor-vehicle crashes.",
        _REVIEW,
    ),
    AgeRule(
        "meprobamate",
        _m("meprobamate"),
        Severity.MODERATE,
        "Beers: avoid meprobamate at 65+.",
        "Sedation, dependence.",
        _REVIEW,
    ),
    AgeRule(
        "sulfonylurea",
        _cls("sulfonylurea") - {"glipizide"},
        Severity.MODERATE,
        "Beers 2023: avoid sulfonylureas at 65+; if one is needed, short-acting glipizide.",
        "Prolonged hypoglycaemia; cardiovascular events.",
        _REVIEW,
    ),
    AgeRule(
        "glipizide",
        _m("glipizide"),
        Severity.MINOR,
        "Beers 2023 lists every sulfonylurea; glipizide is the preferred one if needed.",
        "Hypoglycaemia.",
        "No action unless the pharmacist wants to review.",
    ),
    AgeRule(
        "estrogen",
        _m("estradiol", "conjugated estrogens", "esterified estrogens", "estropipate"),
        Severity.MODERATE,
        "Beers: avoid oral or transdermal estrogen at 65+ (low-dose vaginal is acceptable).",
        "Breast and endometrial cancer; no cardioprotection or cognitive benefit.",
        _REVIEW,
        _estrogen_not_vaginal,
    ),
    AgeRule(
        "androgen",
        _m("testosterone", "methyltestosterone"),
        Severity.MINOR,
        "Beers: avoid androgens at 65+ unless hypogonadism is confirmed.",
        "Cardiac problems; prostate cancer concerns.",
        "Check the indication with the pharmacist.",
    ),
    AgeRule(
        "desiccated-thyroid",
        _m("thyroid"),
        Severity.MODERATE,
        "Beers: avoid desiccated thyroid at 65+.",
        "Cardiac effects; safer alternatives exist.",
        _REVIEW,
    ),
    AgeRule(
        "megestrol",
        _m("megestrol"),
        Severity.MODERATE,
        "Beers: avoid megestrol at 65+.",
        "Thrombosis and possibly death; minimal weight benefit.",
        _REVIEW,
    ),
    AgeRule(
        "growth-hormone",
        _m("somatropin"),
        Severity.MODERATE,
        "Beers: avoid growth hormone at 65+ except after pituitary removal.",
        "Oedema, arthralgia, carpal tunnel, gynaecomastia.",
        _REVIEW,
    ),
    AgeRule(
        "ppi-over-8-weeks",
        _cls("ppi"),
        Severity.MINOR,
        "Beers: avoid PPIs for more than 8 weeks at 65+ unless high risk.",
        "C. difficile infection, pneumonia, bone loss and fractures.",
        "Suggest a review of continued need at the next visit.",
        _ppi_long,
    ),
    AgeRule(
        "metoclopramide",
        _m("metoclopramide"),
        Severity.MODERATE,
        "Beers: avoid metoclopramide at 65+ unless for gastroparesis, with limits.",
        "Tardive dyskinesia and other movement disorders.",
        _REVIEW,
    ),
    AgeRule(
        "mineral-oil",
        _m("mineral oil"),
        Severity.MODERATE,
        "Beers: avoid oral mineral oil at 65+.",
        "Aspiration pneumonia.",
        _REVIEW,
        _oral,
    ),
    AgeRule(
        "meperidine",
        _m("meperidine"),
        Severity.MODERATE,
        "Beers: avoid meperidine at 65+.",
        "Neurotoxicity (delirium, seizures); poor oral analgesia.",
        _REVIEW,
    ),
    AgeRule(
        "nsaid-avoid",
        _m("indomethacin", "ketorolac"),
        Severity.MODERATE,
        "Beers: avoid {drug} entirely at 65+.",
        "GI bleeding, kidney injury; indomethacin also CNS effects.",
        _REVIEW,
        _systemic,
    ),
    AgeRule(
        "nsaid-chronic",
        _cls("nsaid_nonselective") - {"indomethacin", "ketorolac"},
        Severity.MODERATE,
        "Beers: avoid chronic {drug} at 65+ unless alternatives fail and a PPI or misoprostol "
        "is taken (none on the profile).",
        "GI bleeding and peptic ulcer; kidney injury.",
        _REVIEW,
        _no_gastroprotection,
    ),
    AgeRule(
        "skeletal-muscle-relaxant",
        _cls("skeletal_muscle_relaxant"),
        Severity.MODERATE,
        "{drug} is a skeletal muscle relaxant, to avoid at 65+.",
        _ANTICHOLINERGIC + " Sedation, fractures.",
        _REVIEW,
    ),
    AgeRule(
        "desmopressin-nocturia",
        _m("desmopressin"),
        Severity.MINOR,
        "Beers: avoid desmopressin for night-time urination at 65+.",
        "Hyponatraemia.",
        "Check the indication with the pharmacist.",
    ),
    AgeRule(
        "sglt2-caution",
        _m("canagliflozin", "dapagliflozin", "empagliflozin", "ertugliflozin"),
        Severity.MINOR,
        "Beers 2023: use SGLT2 inhibitors with caution at 65+.",
        "Euglycaemic ketoacidosis, urogenital infections.",
        "Counsel on hydration and infection signs.",
    ),
)


def _rule_alert(rule: AgeRule, drug: Drug, name: str, source: str, prefix: str) -> Alert:
    return Alert(
        type="PA",
        severity=rule.severity,
        drugs=(drug.label,),
        message=rule.message.format(drug=drug.label),
        consequence=rule.consequence,
        action=rule.action,
        source=source,
        key=alert_key(f"{prefix}.{rule.rule}", {name}),
    )


def _beers(ctx: Context) -> list[Alert]:
    drug = ctx.proposed
    alerts = []
    for name, own in ingredient_map(drug).items():
        for rule in BEERS:
            if name in rule.names and rule.when(ctx, drug, own):
                alerts.append(_rule_alert(rule, drug, name, BEERS_SOURCE, "age.beers"))
    return alerts


def _had_tonsillectomy(ctx: Context) -> bool:
    return any("tonsillectomy" in c or "adenoidectomy" in c for c in ctx.patient.conditions)


_COUGH_COLD = frozenset({"dextromethorphan", "guaifenesin", "pseudoephedrine", "phenylephrine"})


def _pediatric(ctx: Context, age: int) -> list[Alert]:
    drug = ctx.proposed
    names = ingredient_map(drug)
    alerts: list[Alert] = []

    def add(rule: str, name: str, severity: Severity, msg: str, harm: str, act: str) -> None:
        alerts.append(
            Alert(
                type="PA",
                severity=severity,
                drugs=(drug.label,),
                message=msg,
                consequence=harm,
                action=act,
                source=PEDIATRIC_SOURCE,
                key=alert_key(f"age.child.{rule}", {name}),
            )
        )

    for name in ("codeine", "tramadol"):
        if name not in names or is_local(drug):
            continue
        if age < 12:
            add(
                "cyp2d6-opioid",
                name,
                Severity.CONTRAINDICATED,
                f"{drug.label}: {name} is contraindicated under 12 years (FDA 2017); "
                f"this patient is {age}.",
                "Fatal breathing problems in ultra-rapid CYP2D6 metabolisers.",
                "Do not fill; the pharmacist contacts the prescriber for an alternative.",
            )
        elif age < 18 and _had_tonsillectomy(ctx):
            add(
                "cyp2d6-opioid-tonsillectomy",
                name,
                Severity.CONTRAINDICATED,
                f"{drug.label}: {name} is contraindicated under 18 years after tonsillectomy "
                "or adenoidectomy (FDA 2017).",
                "Fatal breathing problems in ultra-rapid CYP2D6 metabolisers.",
                "Do not fill; the pharmacist contacts the prescriber for an alternative.",
            )
    if "aspirin" in names and age < 18 and not is_local(drug):
        add(
            "aspirin-reye",
            "aspirin",
            Severity.MAJOR,
            f"Aspirin for a {age}-year-old: avoided in children and teenagers (Reye syndrome).",
            "Reye syndrome (liver failure, brain swelling) after a viral illness.",
            "Pharmacist to confirm the indication (e.g. Kawasaki disease) with the prescriber.",
        )
    if "promethazine" in names and age < 2:
        add(
            "promethazine-under-2",
            "promethazine",
            Severity.CONTRAINDICATED,
            f"{drug.label}: promethazine is contraindicated under 2 years (boxed warning).",
            "Fatal respiratory depression.",
            "Do not fill; the pharmacist contacts the prescriber.",
        )
    cold = sorted(_COUGH_COLD & names.keys())
    if cold and age < 4 and is_oral(drug):
        add(
            "cough-cold-under-4",
            cold[0],
            Severity.MAJOR if age < 2 else Severity.MODERATE,
            f"{drug.label}: OTC cough and cold medicines are not for children under 4 "
            "(FDA advises against them under 2).",
            "Serious side effects and overdose in young children, little benefit.",
            "Talk with the caregiver; the pharmacist can suggest alternatives.",
        )
    fq = sorted(members("fluoroquinolone") & names.keys())
    if fq and age < 18 and not is_local(drug):
        add(
            "fluoroquinolone-under-18",
            fq[0],
            Severity.MODERATE,
            f"{drug.label}: fluoroquinolones are generally avoided under 18.",
            "Tendon and joint (cartilage) harm.",
            "Pharmacist to confirm the indication.",
        )
    tc = sorted(members("tetracycline") & names.keys())
    if tc and age < 8 and not is_local(drug):
        add(
            "tetracycline-under-8",
            tc[0],
            Severity.MODERATE,
            f"{drug.label}: tetracyclines are generally avoided under 8 (exceptions, e.g. "
            "doxycycline for rickettsial disease).",
            "Permanent tooth discolouration; effects on bone growth.",
            "Pharmacist to confirm the indication.",
        )
    return alerts


def check(ctx: Context) -> list[Alert]:
    """Drug–age alerts for ``ctx.proposed`` (module docstring). Unknown age → none."""
    age = age_years(ctx)
    if age is None:
        return []
    if age >= OLDER_ADULT_AGE:
        return _beers(ctx)
    if age < 18:
        return _pediatric(ctx, age)
    return []
