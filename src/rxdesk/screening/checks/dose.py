"""Dose range (NCPDP HD high dose, LD low dose, MS missing information).

What it checks, for each ingredient of the proposed drug whose daily dose (mg/day) is known:

- the adult maximum daily dose (reference clinical-screening.md §5.2, typical US labeling,
  oral): above the labeled maximum → HD **major** (interrupts); above a usual or
  population-specific maximum (older adults, women for zolpidem, a co-prescribed drug that
  caps simvastatin or citalopram) → HD **moderate** (listed). The table applies to every
  age: the reference caps children's doses at the adult maximum too (§5.4);
- children (< 18 years): mg/kg/day limits of §5.4 (amoxicillin, acetaminophen, ibuprofen,
  clavulanate). A child on one of these drugs with no weight on record gets an **MS**
  (missing information) alert, moderate: the dose cannot be checked without it;
- once-weekly drugs typed as daily — "methotrexate is taken once a WEEK": oral/SC
  methotrexate with daily directions is **contraindicated** (the reference's hard stop,
  §5.2 and §7.7); alendronate/risedronate weekly strengths taken daily are **major**.

No daily dose known → no dose alert (the caller works it out from directions × strength).
Low dose (LD) only where the reference gives a floor: pediatric amoxicillin under the
older-labeling minimum of 25 mg/kg/day (minor). Non-oral routes are not compared with the
oral table. All arithmetic is Decimal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from rxdesk.screening.checks._facts import (
    age_years,
    alert_key,
    daily_mg,
    fmt_mg,
    ingredient_map,
    is_extended_release,
    is_new_start,
    is_oral,
    mentions,
)
from rxdesk.screening.types import Alert, Context, Drug, Severity

ADULT_SOURCE = "rxdesk adult maximum daily dose table (reference §5.2, typical US labeling)"
PEDIATRIC_SOURCE = (
    "rxdesk pediatric mg/kg/day table (reference §5.4: AAP 2013 otitis media; OTC labeling)"
)
WEEKLY_SOURCE = "ISMP: once-weekly methotrexate given daily (reference §5.2, §7.7)"
BISPHOSPHONATE_SOURCE = "Product labeling: once-weekly bisphosphonate strengths (unverified)"

PEDIATRIC_AGE = 18
OLDER_ADULT_AGE = 65
D = Decimal


@dataclass(frozen=True)
class Limit:
    """A daily maximum in mg: above it, an alert of ``severity``; ``why`` says whose limit."""

    max_mg: Decimal
    severity: Severity
    why: str


def _hard(mg: str, why: str = "labeled adult maximum") -> Limit:
    return Limit(D(mg), Severity.MAJOR, why)


def _soft(mg: str, why: str) -> Limit:
    return Limit(D(mg), Severity.MODERATE, why)


# Ingredients with one fixed labeled maximum (mg/day), §5.2.
_FIXED: dict[str, str] = {
    "ibuprofen": "3200",
    "meloxicam": "15",
    "celecoxib": "400",
    "ketorolac": "40",
    "aspirin": "4000",
    "glimepiride": "8",
    "lisinopril": "80",
    "enalapril": "40",
    "losartan": "100",
    "valsartan": "320",
    "hydrochlorothiazide": "50",
    "amlodipine": "10",
    "atorvastatin": "80",
    "rosuvastatin": "40",
    "pravastatin": "80",
    "allopurinol": "800",
    "febuxostat": "80",
    "gabapentin": "3600",
    "pregabalin": "600",
    "sertraline": "200",
    "fluoxetine": "80",
    "duloxetine": "120",
    "mirtazapine": "45",
    "lorazepam": "10",
    "diazepam": "40",
    "cyclobenzaprine": "30",
    "omeprazole": "360",  # Zollinger-Ellison 120 mg TID; GERD is 20–40
    "furosemide": "600",
    "spironolactone": "400",
    "quetiapine": "800",
    "aripiprazole": "30",
    "olanzapine": "20",
    "risperidone": "16",
    "sildenafil": "100",
    "apixaban": "20",  # VTE treatment 10 mg BID for 7 days
    "rivaroxaban": "30",  # VTE treatment 15 mg BID for 21 days
    "dabigatran": "300",
    "diphenhydramine": "300",
}

# Simvastatin caps with a co-prescribed drug (FDA 2011, §5.2).
_SIMVASTATIN_CAP_10 = frozenset({"verapamil", "diltiazem", "dronedarone"})
_SIMVASTATIN_CAP_20 = frozenset({"amiodarone", "amlodipine", "ranolazine"})
_CYP2C19_INHIBITORS_NAMED = frozenset({"cimetidine"})  # the one the reference names


def _adult_limits(ctx: Context, drug: Drug, name: str, age: int | None) -> list[Limit]:
    """The daily maxima that apply to ``name`` in ``drug`` for this patient."""
    older = age is not None and age >= OLDER_ADULT_AGE
    er = is_extended_release(drug)
    others = frozenset().union(*(d.names for d in ctx.profile if d != drug))
    limits: list[Limit] = []
    if name in _FIXED:
        limits.append(_hard(_FIXED[name]))
    match name:
        case "acetaminophen":
            limits.append(_hard("4000", "maximum from all sources (FDA; §4.4)"))
            if older:
                limits.append(_soft("3000", "conservative maximum for older adults (§4.4)"))
        case "naproxen":
            limits.append(_hard("1500", "labeled maximum, for limited periods"))
            limits.append(_soft("1000", "usual maximum (1,500 mg/day only for limited periods)"))
        case "diclofenac":
            limits.append(_hard("200", "maximum (some rheumatoid arthritis labeling)"))
            limits.append(_soft("150", "usual labeled maximum"))
        case "metformin":
            limits.append(_hard("2000", "extended-release maximum") if er else _hard("2550"))
        case "glipizide":
            limits.append(_hard("20", "extended-release maximum") if er else _hard("40"))
        case "glyburide":
            micronized = mentions(drug, "micronized")
            limits.append(_hard("12", "micronized maximum") if micronized else _hard("20"))
        case "metoprolol":
            succinate = er or mentions(drug, "succinate")
            limits.append(_hard("400", "succinate maximum") if succinate else _hard("450"))
        case "carvedilol":
            heavy = ctx.patient.weight_kg is not None and ctx.patient.weight_kg > 85
            limits.append(_hard("100", "heart failure, over 85 kg") if heavy else _hard("50"))
        case "simvastatin":
            limits.append(_hard("80"))
            limits.append(_soft("40", "80 mg is restricted to patients already on it 12 months"))
            with10 = sorted(others & _SIMVASTATIN_CAP_10)
            with20 = sorted(others & _SIMVASTATIN_CAP_20)
            if with10:
                limits.append(_hard("10", f"maximum with {', '.join(with10)} (FDA 2011)"))
            if with20:
                limits.append(_soft("20", f"maximum with {', '.join(with20)} (FDA 2011)"))
        case "lovastatin":
            limits.append(_hard("60", "extended-release maximum") if er else _hard("80"))
        case "levothyroxine":
            limits.append(_soft("0.3", "doses over 200–300 mcg/day warrant review"))
        case "warfarin":
            limits.append(_soft("15", "unusually high warfarin dose"))
            if is_new_start(ctx, frozenset({"warfarin"})):
                limits.append(_soft("10", "new warfarin starts over 10 mg/day"))
        case "digoxin":
            limits.append(_soft("0.25", "usual maximum 0.125–0.25 mg/day (level-guided)"))
        case "colchicine":
            limits.append(_hard("2.4", "maximum (familial Mediterranean fever)"))
            limits.append(_soft("1.2", "gout prophylaxis maximum"))
        case "paroxetine":
            if er:
                limits.append(_hard("62.5", "controlled-release maximum"))
            else:
                limits.append(_hard("60", "maximum (OCD/panic)"))
                limits.append(_soft("50", "maximum for depression"))
                if older:
                    limits.append(_soft("40", "maximum for elderly patients"))
        case "citalopram":
            limits.append(_hard("40", "maximum (FDA QT safety communication)"))
            if age is not None and age > 60:
                limits.append(_hard("20", "maximum over 60 years (FDA: QT prolongation)"))
            if others & _CYP2C19_INHIBITORS_NAMED:
                limits.append(_hard("20", "maximum with cimetidine (FDA: QT prolongation)"))
        case "escitalopram":
            limits.append(_hard("20"))
            if older:
                limits.append(_soft("10", "recommended maximum for elderly patients"))
        case "venlafaxine":
            if er:
                limits.append(_hard("225", "extended-release maximum"))
            else:
                limits.append(_hard("375", "maximum (inpatients)"))
                limits.append(_soft("225", "outpatient maximum"))
        case "bupropion":
            sr = mentions(drug, "sr", "12 hr", "12hr", "sustained")
            limits.append(_hard("400", "sustained-release maximum") if sr else _hard("450"))
        case "trazodone":
            limits.append(_hard("600", "maximum (inpatients)"))
            limits.append(_soft("400", "outpatient maximum"))
        case "zolpidem":
            lower = ctx.patient.sex == "F" or older
            if er:
                limits.append(_hard("12.5", "extended-release maximum"))
                if lower:
                    limits.append(_soft("6.25", "recommended for women and elderly (FDA 2013)"))
            else:
                limits.append(_hard("10"))
                if lower:
                    limits.append(_soft("5", "recommended for women and elderly (FDA 2013)"))
        case "eszopiclone":
            limits.append(_hard("3"))
            if older:
                limits.append(_hard("2", "maximum for elderly patients"))
        case "alprazolam":
            limits.append(_hard("10", "maximum (panic disorder)"))
            limits.append(_soft("4", "maximum for anxiety"))
        case "clonazepam":
            limits.append(_hard("20", "maximum (seizures)"))
            limits.append(_soft("4", "maximum for panic disorder"))
        case "tramadol":
            limits.append(_hard("300", "extended-release maximum") if er else _hard("400"))
            if age is not None and age > 75:
                limits.append(_hard("300", "maximum over 75 years"))
        case "tapentadol":
            limits.append(_hard("500", "extended-release maximum") if er else _hard("600"))
        case "clopidogrel":
            limits.append(_soft("75", "maintenance dose (a 300–600 mg load is one day only)"))
    return limits


def _daily_dose_for_limit(drug: Drug, name: str, dose: Decimal) -> Decimal:
    # Naproxen sodium 550 mg ≈ naproxen 500 mg (§5.2): the limits are in naproxen base.
    if name == "naproxen" and mentions(drug, "sodium"):
        return (dose * D(500) / D(550)).quantize(D("0.1"), rounding=ROUND_HALF_UP)
    return dose


def _adult_alerts(ctx: Context, drug: Drug, age: int | None) -> list[tuple[str, Alert]]:
    if not is_oral(drug):
        return []
    alerts = []
    for name, own in ingredient_map(drug).items():
        dose = daily_mg(drug, own)
        if dose is None:
            continue
        dose = _daily_dose_for_limit(drug, name, dose)
        exceeded = [lim for lim in _adult_limits(ctx, drug, name, age) if dose > lim.max_mg]
        if not exceeded:
            continue
        # The most severe, then the lowest limit passed, is the one to explain.
        worst = min(exceeded, key=lambda lim: (lim.severity != Severity.MAJOR, lim.max_mg))
        alerts.append(
            (
                name,
                Alert(
                    type="HD",
                    severity=worst.severity,
                    drugs=(drug.label,),
                    message=(
                        f"{drug.label}: {fmt_mg(dose)} mg/day of {name} is above "
                        f"{fmt_mg(worst.max_mg)} mg/day ({worst.why})."
                    ),
                    consequence=_HIGH_DOSE_HARM.get(name, "Dose-related toxicity."),
                    action=(
                        "Check the directions and strength; confirm the dose with the prescriber "
                        "before filling."
                        if worst.severity == Severity.MAJOR
                        else "Review the dose; confirm it is intended for this patient."
                    ),
                    source=ADULT_SOURCE,
                    key=alert_key(
                        f"dose.max.{'hard' if worst.severity == Severity.MAJOR else 'soft'}", {name}
                    ),
                ),
            )
        )
    return alerts


_HIGH_DOSE_HARM = {
    "acetaminophen": "Liver injury (acetaminophen hepatotoxicity), possibly fatal.",
    "citalopram": "QT prolongation and torsades de pointes.",
    "simvastatin": "Myopathy and rhabdomyolysis.",
    "colchicine": "Colchicine toxicity: diarrhoea, bone-marrow suppression, neuromuscular harm.",
    "tramadol": "Seizures, serotonin syndrome, respiratory depression.",
    "bupropion": "Seizures (risk rises with dose).",
    "zolpidem": "Next-morning impairment (driving), falls, complex sleep behaviours.",
    "warfarin": "Bleeding.",
    "digoxin": "Digoxin toxicity: nausea, confusion, arrhythmia.",
    "ibuprofen": "GI bleeding, kidney injury.",
    "naproxen": "GI bleeding, kidney injury.",
    "diclofenac": "GI bleeding, kidney injury, cardiovascular events.",
    "ketorolac": "GI bleeding, kidney injury.",
    "metformin": "GI intolerance; lactic acidosis risk.",
    "levothyroxine": "Iatrogenic hyperthyroidism: arrhythmia, bone loss.",
}


# Children: mg/kg/day maximum, absolute cap (mg/day), §5.4 and §4.4.
@dataclass(frozen=True)
class PediatricLimit:
    max_mg_kg_day: Decimal
    cap_mg_day: Decimal | None
    severity: Severity
    harm: str
    min_mg_kg_day: Decimal | None = None  # LD floor, where the reference gives one
    note: str = ""


_PEDIATRIC: dict[str, PediatricLimit] = {
    "amoxicillin": PediatricLimit(
        D("90"),
        D("4000"),  # "usually max 4 g/day (max unverified)" — kept, flagged as unverified
        Severity.MAJOR,
        "Overdose: GI upset, rash, crystalluria; high doses beyond 90 mg/kg/day add no benefit.",
        min_mg_kg_day=D("25"),  # older labeling's lowest standard dose (§5.4)
        note="high-dose otitis media is 80–90 mg/kg/day",
    ),
    "acetaminophen": PediatricLimit(
        D("75"),
        D("4000"),
        Severity.MAJOR,
        "Liver injury (acetaminophen hepatotoxicity), possibly fatal.",
        note="10–15 mg/kg per dose, at most 5 doses a day",
    ),
    "ibuprofen": PediatricLimit(
        D("40"),
        D("2400"),  # "2,400 mg/day under supervision (unverified)"
        Severity.MAJOR,
        "GI bleeding, kidney injury.",
        note="5–10 mg/kg per dose every 6–8 h",
    ),
    "clavulanate": PediatricLimit(
        D("10"),
        None,
        Severity.MODERATE,
        "Diarrhoea (clavulanate above about 10 mg/kg/day).",
        note="high-dose otitis media uses the 14:1 (ES-600) product, 6.4 mg/kg/day",
    ),
}


def _pediatric_alerts(ctx: Context, drug: Drug, age: int) -> list[tuple[str, Alert]]:
    weight = ctx.patient.weight_kg
    weighted = sorted(n for n in drug.names if n in _PEDIATRIC)
    if not weighted:
        return []
    if weight is None or weight <= 0:
        return [
            (
                "",
                Alert(
                    type="MS",
                    severity=Severity.MODERATE,
                    drugs=(drug.label,),
                    message=(
                        f"No weight on record for this {age}-year-old: the dose of {drug.label} "
                        "is weight-based and cannot be checked."
                    ),
                    consequence="A pediatric overdose or underdose would go unnoticed.",
                    action="Record a current weight (kg, with date) before filling.",
                    source=PEDIATRIC_SOURCE,
                    key=alert_key("dose.child.weight-missing", set(weighted)),
                ),
            )
        ]
    alerts = []
    for name in weighted:
        dose = daily_mg(drug, name)
        if dose is None:
            continue
        lim = _PEDIATRIC[name]
        per_kg = (dose / weight).quantize(D("0.1"), rounding=ROUND_HALF_UP)
        allowed = lim.max_mg_kg_day * weight
        if lim.cap_mg_day is not None:
            allowed = min(allowed, lim.cap_mg_day)
        if dose > allowed:
            alerts.append(
                (
                    name,
                    Alert(
                        type="HD",
                        severity=lim.severity,
                        drugs=(drug.label,),
                        message=(
                            f"{drug.label}: {fmt_mg(dose)} mg/day of {name} is {per_kg} mg/kg/day "
                            f"for {fmt_mg(weight)} kg; the most is {fmt_mg(allowed.normalize())} "
                            f"mg/day ({lim.max_mg_kg_day} mg/kg/day"
                            + (
                                f", never over {fmt_mg(lim.cap_mg_day)} mg/day"
                                if lim.cap_mg_day
                                else ""
                            )
                            + f"; {lim.note})."
                        ),
                        consequence=lim.harm,
                        action="Check weight, strength (mg/mL) and directions with the prescriber.",
                        source=PEDIATRIC_SOURCE,
                        key=alert_key("dose.child.max", {name}),
                    ),
                )
            )
        elif lim.min_mg_kg_day is not None and dose < lim.min_mg_kg_day * weight:
            alerts.append(
                (
                    name,
                    Alert(
                        type="LD",
                        severity=Severity.MINOR,
                        drugs=(drug.label,),
                        message=(
                            f"{drug.label}: {per_kg} mg/kg/day of {name} is below the usual "
                            f"{lim.min_mg_kg_day} mg/kg/day."
                        ),
                        consequence="Under-treatment of the infection.",
                        action="Check the weight and the directions.",
                        source=PEDIATRIC_SOURCE,
                        key=alert_key("dose.child.min", {name}),
                    ),
                )
            )
    return alerts


# Drugs taken once a week that are dangerous — or pointless — typed as daily.
_WEEKLY_STRENGTH_MG = {"alendronate": D("70"), "risedronate": D("35")}
_METHOTREXATE_ROUTES = frozenset({"", "oral", "po", "subcutaneous", "sc", "subq"})


def _weekly_alerts(drug: Drug) -> list[tuple[str, Alert]]:
    if drug.weekly:
        return []
    alerts = []
    if "methotrexate" in drug.names and drug.route.lower() in _METHOTREXATE_ROUTES:
        typed_daily = drug.doses_per_day is not None or daily_mg(drug, "methotrexate") is not None
        if typed_daily:
            alerts.append(
                (
                    "methotrexate",
                    Alert(
                        type="HD",
                        severity=Severity.CONTRAINDICATED,
                        drugs=(drug.label,),
                        message=(
                            f"{drug.label} is entered as a DAILY dose. Methotrexate for arthritis "
                            "or psoriasis is taken once a WEEK."
                        ),
                        consequence=(
                            "Daily methotrexate has killed patients: bone-marrow suppression, "
                            "mucositis, liver and kidney injury."
                        ),
                        action=(
                            "Do not fill. Confirm with the prescriber the weekly dose and the day "
                            "of the week; daily dosing only on a confirmed oncology protocol."
                        ),
                        source=WEEKLY_SOURCE,
                        key=alert_key("dose.weekly-as-daily", {"methotrexate"}),
                    ),
                )
            )
    for name, weekly_mg in sorted(_WEEKLY_STRENGTH_MG.items()):
        dose = daily_mg(drug, name)
        if name in drug.names and dose is not None and dose >= weekly_mg:
            alerts.append(
                (
                    name,
                    Alert(
                        type="HD",
                        severity=Severity.MAJOR,
                        drugs=(drug.label,),
                        message=(
                            f"{drug.label}: {fmt_mg(dose)} mg of {name} a day. The "
                            f"{fmt_mg(weekly_mg)} mg strength is taken once a WEEK."
                        ),
                        consequence="Oesophageal ulceration, hypocalcaemia.",
                        action="Confirm once-weekly directions with the prescriber.",
                        source=BISPHOSPHONATE_SOURCE,
                        key=alert_key("dose.weekly-as-daily", {name}),
                    ),
                )
            )
    return alerts


def check(ctx: Context) -> list[Alert]:
    """Dose-range alerts for ``ctx.proposed`` (module docstring). One alert per ingredient:
    a weekly-as-daily finding replaces the dose comparison, and a child's mg/kg finding
    replaces the adult one for the same ingredient."""
    drug = ctx.proposed
    age = age_years(ctx)
    found = _weekly_alerts(drug)
    if age is not None and age < PEDIATRIC_AGE and is_oral(drug):
        found += _pediatric_alerts(ctx, drug, age)
    covered = {name for name, alert in found if alert.type == "HD"}
    found += [(n, a) for n, a in _adult_alerts(ctx, drug, age) if n not in covered]
    return [alert for _, alert in found]
