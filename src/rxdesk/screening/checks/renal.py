"""Renal dose checking, reference clinical-screening.md §6.3.

When the patient's age (18 or older), sex (F/M), weight and serum creatinine are all on
record, the check computes Cockcroft–Gault creatinine clearance (rxdesk.calc.renal: the
weight is chosen by the reference's rule — actual, ideal or adjusted — from height) and
compares the proposed drug with the §6.3 table. Any fact missing → no renal alert: never a
guessed kidney function. The computed CrCl and the weight used are in every message.

DUR code: NCPDP has no renal-function code. The finding comes from a lab value (serum
creatinine), and the reference files "metformin + eGFR" under drug–lab (DL, §7.5), so
rxdesk uses **DL** (``RENAL_TYPE``); the §6.3 heading calls it a drug–disease check, so
DC is the alternative if a payer wants it.

Cut-offs: the table's bands share their endpoints ("15–30", "30–60"); where they do, the
shared value goes to the more impaired band (the side that warns). Rules whose labeling
uses eGFR (metformin, sitagliptin, baclofen) are compared with the CrCl estimate and say
so: the pharmacist confirms with the laboratory's eGFR.

Severity: a contraindication at this CrCl → contraindicated; "avoid" or a dose above the
renal maximum for anticoagulants and dofetilide (bleeding, torsades) → major; other dose
caps and cautions → moderate; H2 blockers → minor. A capped drug whose daily dose is not
known is listed (moderate at most) with the maximum, so the dose can be checked."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rxdesk.calc.renal import Clearance, RenalCalcError, clearance
from rxdesk.screening.checks._facts import (
    age_years,
    alert_key,
    daily_mg,
    fmt_mg,
    ingredient_map,
    is_extended_release,
    is_local,
)
from rxdesk.screening.classes import members
from rxdesk.screening.types import RANK, Alert, Context, Drug, Severity

RENAL_TYPE = "DL"
SOURCE = "rxdesk renal dosing table (reference §6.3: FDA labeling, Beers 2023, ACR 2020)"
D = Decimal
EGFR_NOTE = (
    " Labeling uses eGFR; this is the Cockcroft–Gault estimate — confirm with the lab's eGFR."
)


@dataclass(frozen=True)
class Band:
    """A CrCl range in mL/min; ``None`` is open-ended."""

    lo: Decimal | None = None
    hi: Decimal | None = None
    lo_incl: bool = True
    hi_incl: bool = False

    def __contains__(self, crcl: object) -> bool:
        if not isinstance(crcl, Decimal):
            return False
        if self.lo is not None and (crcl < self.lo or (crcl == self.lo and not self.lo_incl)):
            return False
        return not (
            self.hi is not None and (crcl > self.hi or (crcl == self.hi and not self.hi_incl))
        )

    def describe(self) -> str:
        if self.lo is None and self.hi is not None:
            return f"CrCl {'≤' if self.hi_incl else '<'} {fmt_mg(self.hi)}"
        if self.hi is None and self.lo is not None:
            return f"CrCl {'≥' if self.lo_incl else '>'} {fmt_mg(self.lo)}"
        return f"CrCl {fmt_mg(self.lo or D(0))}–{fmt_mg(self.hi or D(0))}"


def below(hi: str, *, incl: bool = False) -> Band:
    return Band(hi=D(hi), hi_incl=incl)


def between(lo: str, hi: str, *, lo_incl: bool = True, hi_incl: bool = True) -> Band:
    return Band(D(lo), D(hi), lo_incl, hi_incl)


@dataclass(frozen=True)
class RenalRule:
    rule: str
    names: frozenset[str]
    band: Band
    severity: Severity
    what: str  # the rule, in words, after the CrCl
    consequence: str
    max_mg_day: Decimal | None = None  # a dose cap: alert only above it (when the dose is known)
    max_doses_per_day: Decimal | None = None
    egfr: bool = False


def _m(*names: str) -> frozenset[str]:
    return frozenset(names)


_ACCUMULATES = "The drug accumulates: more side effects and toxicity."
_BLEEDING = "Bleeding (the drug accumulates)."
_NSAIDS = members("nsaid")

RULES: tuple[RenalRule, ...] = (
    RenalRule(
        "metformin-contraindicated",
        _m("metformin"),
        below("30"),
        Severity.MAJOR,  # contraindicated by eGFR; C-G is an estimate of it, so major
        "metformin is contraindicated below eGFR 30.",
        "Lactic acidosis.",
        egfr=True,
    ),
    RenalRule(
        "metformin-30-45",
        _m("metformin"),
        between("30", "45"),
        Severity.MODERATE,
        "starting metformin is not recommended at eGFR 30–45; if already taking it, reassess "
        "(often capped around 1,000 mg/day — practice convention).",
        "Lactic acidosis risk rises as kidney function falls.",
        egfr=True,
    ),
    RenalRule(
        "nitrofurantoin",
        _m("nitrofurantoin"),
        below("30"),
        Severity.MAJOR,
        "avoid nitrofurantoin below CrCl 30 (Beers).",
        "Ineffective in the urine; toxic (neuropathy, lung and liver injury).",
    ),
    RenalRule(
        "gabapentin",
        _m("gabapentin"),
        between("30", "60", hi_incl=False),
        Severity.MODERATE,
        "gabapentin maximum 1,400 mg/day (BID) at CrCl 30–59.",
        _ACCUMULATES + " Sedation, dizziness, falls.",
        max_mg_day=D("1400"),
    ),
    RenalRule(
        "gabapentin",
        _m("gabapentin"),
        between("15", "30", hi_incl=False),
        Severity.MODERATE,
        "gabapentin maximum 700 mg/day (once daily) at CrCl 15–29.",
        _ACCUMULATES + " Sedation, dizziness, falls.",
        max_mg_day=D("700"),
    ),
    RenalRule(
        "gabapentin",
        _m("gabapentin"),
        below("15"),
        Severity.MODERATE,
        "gabapentin maximum 300 mg/day below CrCl 15.",
        _ACCUMULATES + " Sedation, dizziness, falls.",
        max_mg_day=D("300"),
    ),
    RenalRule(
        "pregabalin",
        _m("pregabalin"),
        between("30", "60", lo_incl=False),
        Severity.MODERATE,
        "pregabalin maximum 300 mg/day at CrCl 30–60.",
        _ACCUMULATES + " Sedation, dizziness, falls.",
        max_mg_day=D("300"),
    ),
    RenalRule(
        "pregabalin",
        _m("pregabalin"),
        between("15", "30", lo_incl=False),
        Severity.MODERATE,
        "pregabalin maximum 150 mg/day at CrCl 15–30.",
        _ACCUMULATES + " Sedation, dizziness, falls.",
        max_mg_day=D("150"),
    ),
    RenalRule(
        "pregabalin",
        _m("pregabalin"),
        below("15", incl=True),
        Severity.MODERATE,
        "pregabalin maximum 75 mg/day below CrCl 15.",
        _ACCUMULATES + " Sedation, dizziness, falls.",
        max_mg_day=D("75"),
    ),
    RenalRule(
        "enoxaparin",
        _m("enoxaparin"),
        below("30"),
        Severity.MAJOR,
        "enoxaparin is given ONCE daily below CrCl 30 (prophylaxis 30 mg; treatment 1 mg/kg); "
        "avoid in dialysis.",
        _BLEEDING,
        max_doses_per_day=D("1"),
    ),
    RenalRule(
        "fondaparinux",
        _m("fondaparinux"),
        below("30"),
        Severity.CONTRAINDICATED,
        "fondaparinux is contraindicated below CrCl 30.",
        _BLEEDING,
    ),
    RenalRule(
        "rivaroxaban-avoid",
        _m("rivaroxaban"),
        below("15"),
        Severity.MAJOR,
        "avoid rivaroxaban below CrCl 15.",
        _BLEEDING,
    ),
    RenalRule(
        "rivaroxaban-af",
        _m("rivaroxaban"),
        between("15", "50"),
        Severity.MODERATE,  # AF-specific; the VTE start (15 mg BID) is legitimately higher
        "for AF, rivaroxaban is 15 mg once daily at CrCl 15–50 (VTE dosing differs).",
        _BLEEDING,
        max_mg_day=D("15"),
    ),
    RenalRule(
        "dabigatran-avoid",
        _m("dabigatran"),
        below("15"),
        Severity.MAJOR,
        "avoid dabigatran below CrCl 15.",
        _BLEEDING,
    ),
    RenalRule(
        "dabigatran-15-30",
        _m("dabigatran"),
        between("15", "30"),
        Severity.MAJOR,
        "dabigatran is 75 mg BID for AF at CrCl 15–30 (not recommended for VTE at CrCl ≤ 30).",
        _BLEEDING,
        max_mg_day=D("150"),
    ),
    RenalRule(
        "edoxaban-high-crcl",
        _m("edoxaban"),
        Band(lo=D("95"), lo_incl=False),
        Severity.MODERATE,
        "do not use edoxaban for AF when CrCl is above 95 (reduced efficacy).",
        "More ischaemic strokes than with warfarin.",
    ),
    RenalRule(
        "edoxaban-15-50",
        _m("edoxaban"),
        between("15", "50"),
        Severity.MAJOR,
        "edoxaban is 30 mg once daily at CrCl 15–50.",
        _BLEEDING,
        max_mg_day=D("30"),
    ),
    RenalRule(
        "allopurinol",
        _m("allopurinol"),
        between("10", "20"),
        Severity.MODERATE,
        "allopurinol maximum 200 mg/day at CrCl 10–20 (legacy label; ACR 2020: start low, "
        "titrate).",
        "Allopurinol hypersensitivity and toxicity.",
        max_mg_day=D("200"),
    ),
    RenalRule(
        "allopurinol",
        _m("allopurinol"),
        below("10"),
        Severity.MODERATE,
        "allopurinol maximum 100 mg/day below CrCl 10 (legacy label).",
        "Allopurinol hypersensitivity and toxicity.",
        max_mg_day=D("100"),
    ),
    RenalRule(
        "colchicine",
        _m("colchicine"),
        below("30"),
        Severity.MODERATE,
        "colchicine prophylaxis starts at 0.3 mg/day below CrCl 30; treat a flare no more "
        "often than every 2 weeks.",
        "Colchicine toxicity: diarrhoea, marrow suppression, neuromuscular harm.",
        max_mg_day=D("0.3"),
    ),
    RenalRule(
        "tramadol",
        _m("tramadol"),
        below("30"),
        Severity.MODERATE,
        "tramadol IR every 12 h, maximum 200 mg/day below CrCl 30 (avoid ER).",
        "Seizures and respiratory depression (accumulation).",
        max_mg_day=D("200"),
    ),
    RenalRule(
        "levetiracetam",
        _m("levetiracetam"),
        between("50", "80", lo_incl=False),
        Severity.MODERATE,
        "levetiracetam maximum 1,000 mg every 12 h at CrCl 50–80.",
        _ACCUMULATES + " Somnolence, behavioural effects.",
        max_mg_day=D("2000"),
    ),
    RenalRule(
        "levetiracetam",
        _m("levetiracetam"),
        between("30", "50"),
        Severity.MODERATE,
        "levetiracetam maximum 750 mg every 12 h at CrCl 30–50.",
        _ACCUMULATES + " Somnolence, behavioural effects.",
        max_mg_day=D("1500"),
    ),
    RenalRule(
        "levetiracetam",
        _m("levetiracetam"),
        below("30"),
        Severity.MODERATE,
        "levetiracetam maximum 500 mg every 12 h below CrCl 30.",
        _ACCUMULATES + " Somnolence, behavioural effects.",
        max_mg_day=D("1000"),
    ),
    RenalRule(
        "smx-tmp-avoid",
        _m("sulfamethoxazole"),
        below("15"),
        Severity.MAJOR,
        "sulfamethoxazole-trimethoprim is not recommended below CrCl 15.",
        "Hyperkalaemia, accumulation, marrow toxicity.",
    ),
    RenalRule(
        "smx-tmp-half",
        _m("sulfamethoxazole"),
        between("15", "30"),
        Severity.MODERATE,
        "sulfamethoxazole-trimethoprim at 50 % of the usual dose at CrCl 15–30.",
        "Hyperkalaemia, accumulation (especially with ACE inhibitors, ARBs, spironolactone).",
    ),
    RenalRule(
        "ciprofloxacin",
        _m("ciprofloxacin"),
        between("30", "50"),
        Severity.MODERATE,
        "ciprofloxacin 250–500 mg every 12 h at CrCl 30–50.",
        _ACCUMULATES + " CNS effects, tendon injury.",
        max_mg_day=D("1000"),
    ),
    RenalRule(
        "ciprofloxacin",
        _m("ciprofloxacin"),
        between("5", "30", hi_incl=False),
        Severity.MODERATE,
        "ciprofloxacin 250–500 mg every 18 h at CrCl 5–29 (at most about 667 mg/day).",
        _ACCUMULATES + " CNS effects, tendon injury.",
        max_mg_day=D("666.7"),
    ),
    RenalRule(
        "antiviral-interval",
        _m("valacyclovir", "acyclovir"),
        below("50"),
        Severity.MODERATE,
        "extend the {name} dosing interval below CrCl about 50.",
        "Neurotoxicity (confusion, hallucinations), especially in older adults.",
    ),
    RenalRule(
        "h2-blocker",
        members("h2_blocker"),
        below("50"),
        Severity.MINOR,
        "reduce the {name} dose below CrCl 50.",
        "CNS effects and delirium.",
    ),
    RenalRule(
        "potassium-sparing",
        _m("spironolactone", "eplerenone", "amiloride", "triamterene"),
        below("30"),
        Severity.MAJOR,
        "avoid {name} below CrCl 30 (eplerenone for hypertension: contraindicated).",
        "Hyperkalaemia.",
    ),
    RenalRule(
        "nsaid",
        _NSAIDS,
        below("30"),
        Severity.MAJOR,
        "avoid NSAIDs ({name}) below CrCl 30.",
        "Acute kidney injury; worsening kidney function.",
    ),
    RenalRule(
        "duloxetine",
        _m("duloxetine"),
        below("30"),
        Severity.MAJOR,
        "avoid duloxetine below CrCl 30.",
        _ACCUMULATES,
    ),
    RenalRule(
        "baclofen",
        _m("baclofen"),
        below("60"),
        Severity.MODERATE,
        "reduce the dose or avoid baclofen below eGFR 60 (Beers).",
        "Encephalopathy (confusion, drowsiness).",
        egfr=True,
    ),
    RenalRule(
        "dofetilide",
        _m("dofetilide"),
        between("40", "60"),
        Severity.MAJOR,
        "dofetilide is 250 mcg BID at CrCl 40–60.",
        "Torsades de pointes.",
        max_mg_day=D("0.5"),
    ),
    RenalRule(
        "dofetilide",
        _m("dofetilide"),
        between("20", "40", hi_incl=False),
        Severity.MAJOR,
        "dofetilide is 125 mcg BID at CrCl 20–39.",
        "Torsades de pointes.",
        max_mg_day=D("0.25"),
    ),
    RenalRule(
        "dofetilide-contraindicated",
        _m("dofetilide"),
        below("20"),
        Severity.CONTRAINDICATED,
        "dofetilide is contraindicated below CrCl 20.",
        "Torsades de pointes.",
    ),
    RenalRule(
        "sitagliptin",
        _m("sitagliptin"),
        between("30", "45"),
        Severity.MODERATE,
        "sitagliptin maximum 50 mg/day at eGFR 30–45.",
        _ACCUMULATES,
        max_mg_day=D("50"),
        egfr=True,
    ),
    RenalRule(
        "sitagliptin",
        _m("sitagliptin"),
        below("30"),
        Severity.MODERATE,
        "sitagliptin maximum 25 mg/day below eGFR 30.",
        _ACCUMULATES,
        max_mg_day=D("25"),
        egfr=True,
    ),
    RenalRule(
        # "Avoid in CKD": rxdesk reads CKD as CrCl < 60 (stage 3), the reference gives no number.
        "glyburide",
        _m("glyburide"),
        below("60"),
        Severity.MODERATE,
        "avoid glyburide in chronic kidney disease.",
        "Prolonged hypoglycaemia (active metabolites).",
    ),
    RenalRule(
        # "Severe CKD" read as CrCl < 30 (stage 4+).
        "opioid-metabolites",
        _m("morphine", "codeine", "meperidine"),
        below("30"),
        Severity.MODERATE,
        "avoid {name} in severe kidney disease (hydromorphone or fentanyl preferred, with "
        "caution).",
        "Active metabolites accumulate: sedation, respiratory depression, seizures.",
    ),
)

# Colchicine with a P-gp or strong CYP3A4 inhibitor in renal impairment is contraindicated
# (§5.2, §6.3); rxdesk reads "renal impairment" as CrCl < 60 (the reference gives no number).
COLCHICINE_INHIBITORS = _m("clarithromycin", "ketoconazole", "ritonavir", "cyclosporine")
RENAL_IMPAIRMENT_BELOW = D("60")


def _alert(
    drug: Drug, rule: str, names: set[str], severity: Severity, msg: str, harm: str, action: str
) -> Alert:
    return Alert(
        type=RENAL_TYPE,
        severity=severity,
        drugs=(drug.label,),
        message=msg,
        consequence=harm,
        action=action,
        source=SOURCE,
        key=alert_key(f"renal.{rule}", names),
    )


def _apply(rule: RenalRule, drug: Drug, name: str, own: str, cl: Clearance) -> Alert | None:
    if cl.crcl_ml_min not in rule.band:
        return None
    severity = rule.severity
    finding = ""
    action = "Pharmacist to review the dose for kidney function with the prescriber."
    if rule.max_mg_day is not None:
        dose = daily_mg(drug, own)
        if dose is None:
            if RANK[severity] > RANK[Severity.MODERATE]:
                severity = Severity.MODERATE
            finding = " Daily dose unknown: check it."
        elif dose > rule.max_mg_day:
            finding = f" Prescribed: {fmt_mg(dose)} mg/day."
        else:
            return None
    if rule.max_doses_per_day is not None:
        per_day = drug.doses_per_day
        if per_day is None:
            if RANK[severity] > RANK[Severity.MODERATE]:
                severity = Severity.MODERATE
            finding = " Dosing frequency unknown: check it."
        elif per_day > rule.max_doses_per_day:
            finding = f" Prescribed: {fmt_mg(per_day)} doses a day."
        else:
            return None
    if (
        rule.max_mg_day is None
        and rule.max_doses_per_day is None
        and severity
        in (
            Severity.CONTRAINDICATED,
            Severity.MAJOR,
        )
    ):
        action = "Do not fill as is; the pharmacist contacts the prescriber."
    msg = f"{drug.label}: {cl.describe()}; {rule.what.format(name=name)}{finding}"
    if rule.egfr:
        msg += EGFR_NOTE
    return _alert(drug, rule.rule, {name}, severity, msg, rule.consequence, action)


def _clearance(ctx: Context) -> Clearance | None:
    p = ctx.patient
    age = age_years(ctx)
    if age is None or p.weight_kg is None or p.serum_creatinine_mg_dl is None:
        return None
    try:
        return clearance(
            age_years=age,
            sex=p.sex,
            actual_kg=p.weight_kg,
            height_cm=p.height_cm,
            scr_mg_dl=p.serum_creatinine_mg_dl,
        )
    except RenalCalcError:
        return None  # a child, unknown sex, an impossible value: no estimate, no alert


def _colchicine_inhibitor(ctx: Context, cl: Clearance) -> list[Alert]:
    if cl.crcl_ml_min >= RENAL_IMPAIRMENT_BELOW:
        return []
    drug = ctx.proposed
    profile_names = frozenset().union(*(d.names for d in ctx.profile if d != drug))
    if "colchicine" in drug.names:
        partners = profile_names & COLCHICINE_INHIBITORS
    elif drug.names & COLCHICINE_INHIBITORS and "colchicine" in profile_names:
        partners = drug.names & COLCHICINE_INHIBITORS
    else:
        return []
    if not partners:
        return []
    names = {"colchicine", *partners}
    return [
        _alert(
            drug,
            "colchicine-inhibitor",
            names,
            Severity.CONTRAINDICATED,
            f"{drug.label}: colchicine with {', '.join(sorted(partners))} in renal impairment "
            f"({cl.describe()}) is contraindicated.",
            "Fatal colchicine toxicity.",
            "Do not fill; the pharmacist contacts the prescriber.",
        )
    ]


APIXABAN_AGE = 80
APIXABAN_WEIGHT_KG = D("60")
APIXABAN_SCR = D("1.5")
APIXABAN_REDUCED_MG_DAY = D("5")


def _apixaban(ctx: Context) -> list[Alert]:
    """AF: 2.5 mg BID when two of age ≥ 80, weight ≤ 60 kg, SCr ≥ 1.5 (needs no CrCl)."""
    drug = ctx.proposed
    if "apixaban" not in drug.names:
        return []
    p = ctx.patient
    age = age_years(ctx)
    met = []
    if age is not None and age >= APIXABAN_AGE:
        met.append(f"age {age}")
    if p.weight_kg is not None and p.weight_kg <= APIXABAN_WEIGHT_KG:
        met.append(f"weight {fmt_mg(p.weight_kg)} kg")
    if p.serum_creatinine_mg_dl is not None and p.serum_creatinine_mg_dl >= APIXABAN_SCR:
        met.append(f"SCr {fmt_mg(p.serum_creatinine_mg_dl)} mg/dL")
    if len(met) < 2:
        return []
    dose = daily_mg(drug, "apixaban")
    if dose is not None and dose <= APIXABAN_REDUCED_MG_DAY:
        return []
    shown = f"{fmt_mg(dose)} mg/day" if dose is not None else "dose unknown"
    return [
        _alert(
            drug,
            "apixaban-af-reduction",
            {"apixaban"},
            Severity.MODERATE,  # AF only; VTE treatment has no renal adjustment
            f"{drug.label} ({shown}): {', '.join(met)} — for AF the dose is 2.5 mg BID when "
            "two of age ≥ 80, weight ≤ 60 kg, SCr ≥ 1.5 mg/dL apply.",
            _BLEEDING,
            "Confirm the indication and dose with the prescriber.",
        )
    ]


def check(ctx: Context) -> list[Alert]:
    """Kidney-function alerts for ``ctx.proposed`` (module docstring)."""
    drug = ctx.proposed
    alerts = _apixaban(ctx)
    cl = _clearance(ctx)
    if cl is None or is_local(drug):
        return alerts
    for name, own in ingredient_map(drug).items():
        for rule in RULES:
            if name in rule.names:
                found = _apply(rule, drug, name, own, cl)
                if found is not None:
                    alerts.append(found)
    if "tramadol" in drug.names and is_extended_release(drug) and cl.crcl_ml_min < 30:
        alerts.append(
            _alert(
                drug,
                "tramadol-er",
                {"tramadol"},
                Severity.MODERATE,
                f"{drug.label}: {cl.describe()}; avoid extended-release tramadol below CrCl 30.",
                "Seizures and respiratory depression (accumulation).",
                "Pharmacist to suggest IR tramadol every 12 h (max 200 mg/day).",
            )
        )
    alerts += _colchicine_inhibitor(ctx, cl)
    return alerts
