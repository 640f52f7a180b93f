"""Drug–pregnancy (NCPDP PG) and drug–lactation (NR), reference clinical-screening.md §6.2.

Runs only on a recorded status: ``patient.pregnant`` / ``patient.breastfeeding``. The
reference says not to infer pregnancy from sex and age, so nothing is guessed; a patient
recorded as male ("M") never gets a pregnancy alert (a status set on a male record is a
data error, not a pregnancy).

Severity (rxdesk's reading of the reference's wording, since PLLR removed the letter
categories):
- **contraindicated** — the teratogens the reference calls contraindicated / REMS /
  old category X: isotretinoin and oral retinoids, warfarin, valproate, methotrexate,
  leflunomide/teriflunomide, mycophenolate, thalidomide and analogues, endothelin receptor
  antagonists, misoprostol, ribavirin, ACE inhibitors/ARBs/aliskiren/ARNI (boxed fetal
  toxicity; "stop as soon as pregnancy is detected"), danazol, androgens, radioactive
  iodine, live vaccines, diethylstilbestrol;
- **major** — "avoid": other teratogenic antiepileptics, statins (no longer formally
  contraindicated since FDA 2021, but "most pregnant patients should still stop"),
  tetracyclines (2nd/3rd trimester), DOACs, 5-alpha-reductase inhibitors (handling),
  mifepristone (unless prescribed to end the pregnancy);
- **moderate** — "often flagged"/small or conditional risk: lithium, paroxetine,
  fluoroquinolones, trimethoprim (1st trimester), NSAIDs (from 20 weeks; aspirin ≤ 81 mg
  exempt, as in FDA's 2020 warning), high-dose/long fluconazole, GLP-1 agonists.
The reference gives gestational age nowhere in the patient record, so trimester-limited
risks are listed with their window in the message.

Lactation: the reference names only statins ("breastfeeding is still not recommended"),
so that is the whole NR list — moderate. A licensed knowledge base should supply the rest."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rxdesk.screening.checks._facts import (
    alert_key,
    daily_mg,
    ingredient_map,
    is_local,
)
from rxdesk.screening.classes import members
from rxdesk.screening.types import Alert, Context, Drug, Severity

PREGNANCY_SOURCE = "rxdesk teratogen list (reference §6.2: FDA labeling, PLLR, REMS)"
LACTATION_SOURCE = "FDA statin labeling, 2021 (reference §6.2)"
D = Decimal


@dataclass(frozen=True)
class PregnancyRule:
    rule: str
    names: frozenset[str]
    severity: Severity
    message: str  # "{drug}" is the label
    consequence: str
    systemic_only: bool = True


def _m(*names: str) -> frozenset[str]:
    return frozenset(names)


_STOP = "Do not fill; the pharmacist contacts the prescriber."
_RAAS = members("ace_inhibitor") | members("arb") | members("renin_inhibitor") | {"sacubitril"}
_NSAIDS = members("nsaid")

RULES: tuple[PregnancyRule, ...] = (
    PregnancyRule(
        "retinoid",
        _m("isotretinoin", "acitretin", "bexarotene"),
        Severity.CONTRAINDICATED,
        "{drug} is contraindicated in pregnancy (iPLEDGE/REMS for isotretinoin).",
        "Severe birth defects (brain, face, heart).",
    ),
    PregnancyRule(
        "warfarin",
        _m("warfarin"),
        Severity.CONTRAINDICATED,
        "Warfarin in pregnancy (contraindicated except with a mechanical heart valve).",
        "Warfarin embryopathy (weeks 6–12), fetal CNS effects and bleeding.",
    ),
    PregnancyRule(
        "valproate",
        _m("valproate"),
        Severity.CONTRAINDICATED,
        "{drug} (valproate) in pregnancy: contraindicated for migraine; avoid unless other "
        "drugs fail.",
        "Neural tube defects, other malformations, lower IQ and autism risk.",
    ),
    PregnancyRule(
        "methotrexate",
        _m("methotrexate"),
        Severity.CONTRAINDICATED,
        "Methotrexate is contraindicated in pregnancy (arthritis, psoriasis).",
        "Miscarriage and birth defects.",
    ),
    PregnancyRule(
        "leflunomide",
        _m("leflunomide", "teriflunomide"),
        Severity.CONTRAINDICATED,
        "{drug} is contraindicated in pregnancy (needs a cholestyramine washout).",
        "Birth defects.",
    ),
    PregnancyRule(
        "mycophenolate",
        _m("mycophenolate"),
        Severity.CONTRAINDICATED,
        "{drug} (mycophenolate) in pregnancy: REMS, contraindicated.",
        "First-trimester loss; ear, lip and palate malformations.",
    ),
    PregnancyRule(
        "thalidomide",
        _m("thalidomide", "lenalidomide", "pomalidomide"),
        Severity.CONTRAINDICATED,
        "{drug} in pregnancy: contraindicated (restricted REMS program).",
        "Severe limb and other birth defects.",
    ),
    PregnancyRule(
        "era",
        _m("bosentan", "ambrisentan", "macitentan"),
        Severity.CONTRAINDICATED,
        "{drug} (endothelin receptor antagonist) in pregnancy: embryo-fetal toxicity.",
        "Birth defects.",
    ),
    PregnancyRule(
        "misoprostol",
        _m("misoprostol"),
        Severity.CONTRAINDICATED,
        "Misoprostol in pregnancy (boxed warning).",
        "Abortion, birth defects, uterine rupture.",
    ),
    PregnancyRule(
        "ribavirin",
        _m("ribavirin"),
        Severity.CONTRAINDICATED,
        "Ribavirin in pregnancy: contraindicated (both partners, and 6 months after).",
        "Birth defects and fetal death.",
    ),
    PregnancyRule(
        "raas",
        _RAAS,
        Severity.CONTRAINDICATED,
        "{drug} in pregnancy: boxed fetal-toxicity warning; stop as soon as pregnancy is known.",
        "Oligohydramnios, fetal kidney failure, skull hypoplasia, death (2nd/3rd trimester).",
    ),
    PregnancyRule(
        "androgen",
        _m("danazol", "testosterone", "methyltestosterone"),
        Severity.CONTRAINDICATED,
        "{drug} in pregnancy: contraindicated.",
        "Virilisation of a female fetus.",
    ),
    PregnancyRule(
        "radioactive-iodine",
        _m("sodium iodide i-131", "iodine i-131"),
        Severity.CONTRAINDICATED,
        "Radioactive iodine in pregnancy: contraindicated.",
        "Destruction of the fetal thyroid.",
    ),
    PregnancyRule(
        "diethylstilbestrol",
        _m("diethylstilbestrol"),
        Severity.CONTRAINDICATED,
        "Diethylstilbestrol in pregnancy: contraindicated.",
        "Reproductive-tract cancers and malformations in the child.",
    ),
    PregnancyRule(
        "antiepileptic",
        _m("carbamazepine", "phenytoin", "topiramate", "phenobarbital"),
        Severity.MAJOR,
        "{drug} in pregnancy: a known teratogen. Do not stop it abruptly.",
        "Neural tube defects (carbamazepine), fetal hydantoin syndrome (phenytoin), oral "
        "clefts (topiramate).",
    ),
    PregnancyRule(
        "statin",
        members("statin"),
        Severity.MAJOR,
        "{drug} (statin) in pregnancy: most patients should stop (FDA 2021 removed the formal "
        "contraindication; very high-risk patients may continue after discussion).",
        "Possible fetal harm; little benefit during pregnancy.",
    ),
    PregnancyRule(
        "tetracycline",
        members("tetracycline"),
        Severity.MAJOR,
        "{drug} in pregnancy: avoid in the 2nd and 3rd trimesters (from about week 15).",
        "Tooth discolouration and effects on fetal bone growth.",
    ),
    PregnancyRule(
        "doac",
        _m("apixaban", "rivaroxaban", "dabigatran", "edoxaban"),
        Severity.MAJOR,
        "{drug} in pregnancy: avoid (limited data; heparins are preferred).",
        "Fetal bleeding risk; unknown fetal effects.",
    ),
    PregnancyRule(
        "5-ari",
        _m("finasteride", "dutasteride"),
        Severity.MAJOR,
        "{drug}: a pregnant person should not take it or handle crushed/broken tablets or "
        "leaking capsules.",
        "Abnormal genitals in a male fetus.",
    ),
    PregnancyRule(
        "mifepristone",
        _m("mifepristone"),
        Severity.MAJOR,
        "Mifepristone for a pregnant patient: confirm it is prescribed to end the pregnancy.",
        "Pregnancy loss.",
    ),
    PregnancyRule(
        "lithium",
        _m("lithium", "lithium carbonate", "lithium citrate"),
        Severity.MODERATE,
        "Lithium in pregnancy: small absolute risk of Ebstein anomaly; needs monitoring.",
        "Ebstein anomaly (heart).",
    ),
    PregnancyRule(
        "paroxetine",
        _m("paroxetine"),
        Severity.MODERATE,
        "Paroxetine in pregnancy: cardiac malformations with 1st-trimester exposure.",
        "Cardiac malformations.",
    ),
    PregnancyRule(
        "fluoroquinolone",
        members("fluoroquinolone"),
        Severity.MODERATE,
        "{drug} in pregnancy: fluoroquinolones are generally avoided.",
        "Cartilage concerns (animal data; human data reassuring).",
    ),
    PregnancyRule(
        "trimethoprim",
        _m("trimethoprim"),
        Severity.MODERATE,
        "{drug} in pregnancy: trimethoprim is a folate antagonist, avoided in the 1st trimester.",
        "Neural tube and other defects.",
    ),
    PregnancyRule(
        "glp1",
        members("glp1_agonist"),
        Severity.MODERATE,
        "{drug} in pregnancy: GLP-1 agonists are stopped before pregnancy.",
        "Unknown fetal effects (animal toxicity).",
    ),
)

# Live vaccines: matched on words in the ingredient name ("measles virus vaccine live").
_LIVE_VACCINE_WORDS = ("measles", "mumps", "rubella", "varicella")
NSAID_LOW_DOSE_ASPIRIN_MG = D("81")  # FDA 2020 warning exempts low-dose (81 mg) aspirin
FLUCONAZOLE_SINGLE_DOSE_MG = D("150")  # the usual single dose; above or longer is "high/long"
FLUCONAZOLE_SHORT_DAYS = 7  # rxdesk reading of "long-term": more than a week (reference gives none)


def _alert(
    drug: Drug,
    rule: str,
    names: set[str],
    severity: Severity,
    message: str,
    harm: str,
) -> Alert:
    interrupting = severity in (Severity.CONTRAINDICATED, Severity.MAJOR)
    return Alert(
        type="PG",
        severity=severity,
        drugs=(drug.label,),
        message=message,
        consequence=harm,
        action=_STOP if interrupting else "Pharmacist to review the benefit and risk.",
        source=PREGNANCY_SOURCE,
        key=alert_key(f"pregnancy.{rule}", names),
    )


def _pregnancy(ctx: Context) -> list[Alert]:
    drug = ctx.proposed
    names = ingredient_map(drug)
    local = is_local(drug)
    alerts = []
    for rule in RULES:
        hit = rule.names & names.keys()
        if hit and not (rule.systemic_only and local):
            msg = rule.message.format(drug=drug.label)
            alerts.append(_alert(drug, rule.rule, set(hit), rule.severity, msg, rule.consequence))
    live = [n for n in names if "vaccine" in n and any(w in n for w in _LIVE_VACCINE_WORDS)]
    if live:
        alerts.append(
            _alert(
                drug,
                "live-vaccine",
                set(live),
                Severity.CONTRAINDICATED,
                f"{drug.label}: live vaccines are contraindicated in pregnancy.",
                "Possible fetal infection.",
            )
        )
    nsaids = {n for n in _NSAIDS & names.keys()}
    aspirin_mg = daily_mg(drug, names["aspirin"]) if "aspirin" in names else None
    if aspirin_mg is not None and aspirin_mg > NSAID_LOW_DOSE_ASPIRIN_MG:
        nsaids.add("aspirin")
    if nsaids and not local:
        alerts.append(
            _alert(
                drug,
                "nsaid",
                nsaids,
                Severity.MODERATE,
                f"{drug.label} in pregnancy: avoid NSAIDs from 20 weeks, never from 30 weeks.",
                "Fetal kidney dysfunction and low amniotic fluid (≥ 20 weeks); premature "
                "closure of the ductus arteriosus (≥ 30 weeks).",
            )
        )
    if "fluconazole" in names and not local:
        dose = daily_mg(drug, names["fluconazole"])
        long_course = drug.days_supply is not None and drug.days_supply > FLUCONAZOLE_SHORT_DAYS
        if (dose is not None and dose > FLUCONAZOLE_SINGLE_DOSE_MG) or long_course:
            alerts.append(
                _alert(
                    drug,
                    "fluconazole-high-dose",
                    {"fluconazole"},
                    Severity.MODERATE,
                    f"{drug.label} in pregnancy: high-dose or long-term fluconazole is avoided.",
                    "Birth defects with high doses in the 1st trimester.",
                )
            )
    return alerts


def _lactation(ctx: Context) -> list[Alert]:
    drug = ctx.proposed
    hit = members("statin") & ingredient_map(drug).keys()
    if not hit:
        return []
    return [
        Alert(
            type="NR",
            severity=Severity.MODERATE,
            drugs=(drug.label,),
            message=f"{drug.label} while breastfeeding: statins are not recommended.",
            consequence="Possible effects on the infant's lipid metabolism.",
            action="Pharmacist to discuss with the prescriber (pause while breastfeeding).",
            source=LACTATION_SOURCE,
            key=alert_key("lactation.statin", hit),
        )
    ]


def check(ctx: Context) -> list[Alert]:
    """Pregnancy (PG) and lactation (NR) alerts for ``ctx.proposed`` (module docstring)."""
    if ctx.patient.sex == "M":
        return []
    alerts = []
    if ctx.patient.pregnant:
        alerts += _pregnancy(ctx)
    if ctx.patient.breastfeeding:
        alerts += _lactation(ctx)
    return alerts
