"""The sig-code table: the shorthand a technician types and what the label says for it.

Pure data, no Django. ``rxdesk.rx.sig`` reads it to expand directions. Sources (team
reference ``identifiers-labels-math.md``): §4.1 (common abbreviations and expansions),
§4.2 (how pharmacy systems expand sigs: a table with per-code calculation data and one
text column per language), §3.4 (USP <17>: plain words, numerals, no Latin) and §3.5 (ISMP
error-prone abbreviations and the Joint Commission "Do Not Use" list).

Each entry carries one text per language in ``LANGUAGES``; adding a language means adding a
key to every ``text`` (and ``plural``) mapping and to every template in ``TEMPLATES`` — the
tests check that no entry is missing one.

Three kinds of abbreviation are handled differently:

* ``REFUSED``: the Joint Commission "Do Not Use" list (U, IU, QD, QOD, MS, MSO4, MgSO4) and
  a few ambiguous ones (CC, SS, D/C, abbreviated drug names). Typing them is an error whose
  message says what to type instead, because the ambiguity is in the input itself.
* entries with ``error_prone`` set (OD/OS/OU, AD/AS/AU, HS/QHS, SC/SQ/SUBQ, BIW/TIW, UD):
  on ISMP's error-prone list but unambiguous once typed, so they are accepted, printed in
  full words, and flagged for the pharmacist to confirm the intent.
* everything else: expanded silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Final

__all__ = [
    "CODES",
    "DO_NOT_USE",
    "FORMS",
    "LANGUAGES",
    "LOOKUP",
    "REFUSED",
    "TEMPLATES",
    "Entry",
    "Kind",
]

LANGUAGES: Final = ("en", "es")


class Kind(StrEnum):
    """What a code says about the directions; decides where it goes and what it counts."""

    VERB = "verb"  # Take, Instill, Apply ...
    FORM = "form"  # what one dose is counted in: tablet, mL, puff, unit ...
    ROUTE = "route"  # by mouth, under the tongue, subcutaneously ...
    SITE = "site"  # right eye, both ears, each nostril
    FREQUENCY = "frequency"  # how often: daily, twice daily, weekly (not additive)
    TIME_OF_DAY = "time_of_day"  # in the morning, at bedtime (these add up)
    TIMING = "timing"  # before meals, with food: no count of doses
    PRN = "prn"  # as needed
    INDICATION = "indication"  # what "as needed" is for
    AS_DIRECTED = "as_directed"
    CONNECTOR = "connector"  # and, then


@dataclass(frozen=True)
class Entry:
    """One sig code: its canonical spelling, what it means and its label text per language."""

    code: str
    kind: Kind
    text: Mapping[str, str]
    aliases: tuple[str, ...] = ()
    plural: Mapping[str, str] = field(default_factory=dict)
    # FORM: the dose unit handed to days supply; a teaspoon is counted as 5 mL (§4.1: print
    # "5 mL", not "1 teaspoonful", so the patient measures with the oral syringe).
    unit: str | None = None
    to_unit: Decimal = Decimal(1)
    # FORM: the largest single dose accepted; a guard against typing errors (5000 for 50),
    # not a clinical maximum — dose screening is DUR's job.
    max_dose: Decimal | None = None
    # FORM, ROUTE: swallowed (used to refuse "OD" = right eye next to a tablet).
    oral: bool = False
    # FREQUENCY, TIME_OF_DAY: administrations per day.
    per_day: Decimal | None = None
    # FORM, ROUTE, SITE: the verb the label starts with when none was typed.
    verb: str | None = None
    # SITE: both eyes, both ears, each nostril = 2 doses per administration.
    sites: int = 1
    organ: str | None = None  # SITE: "eye" or "ear"
    # Why ISMP lists the code as error-prone; set = accepted but flagged.
    error_prone: str | None = None


def _t(en: str, es: str) -> dict[str, str]:
    return {"en": en, "es": es}


_D = Decimal

# ISMP reasons, quoted in the pharmacist's flag.
_EYE_EAR = "OD/OS/OU and AD/AS/AU are mixed up with each other, and OD with 'once daily'"
_SUBCUT = "SC is read as SL and SQ as '5 every'"
_BEDTIME = "HS is read as 'half-strength' and QHS as 'every hour'"
_WEEKLY = "read as 'times a day' instead of 'times a week'"

CODES: Final[tuple[Entry, ...]] = (
    # --- verbs (§4.2: the verb follows the dose form when none is typed) ---------------
    Entry("TAKE", Kind.VERB, _t("Take", "Tome"), ("T", "TK")),
    Entry("INSTILL", Kind.VERB, _t("Instill", "Ponga"), ("I", "INST")),
    Entry("INHALE", Kind.VERB, _t("Inhale", "Inhale")),
    Entry("APPLY", Kind.VERB, _t("Apply", "Aplique"), ("APP", "AP")),
    Entry("INJECT", Kind.VERB, _t("Inject", "Inyecte"), ("INJ",)),
    Entry("INSERT", Kind.VERB, _t("Insert", "Introduzca"), ("INS",)),
    Entry("PLACE", Kind.VERB, _t("Place", "Coloque"), ("PL",)),
    Entry("USE", Kind.VERB, _t("Use", "Use")),
    Entry("CHEW", Kind.VERB, _t("Chew", "Mastique")),
    Entry("DISSOLVE", Kind.VERB, _t("Dissolve", "Disuelva")),
    Entry("SPRAY", Kind.VERB, _t("Spray", "Rocíe")),
    # --- dose forms and units ----------------------------------------------------------
    Entry(
        "TAB",
        Kind.FORM,
        _t("tablet", "tableta"),
        ("T", "TABS", "TABLET", "TABLETS"),
        plural=_t("tablets", "tabletas"),
        unit="tablet",
        max_dose=_D(50),
        oral=True,
        verb="TAKE",
    ),
    Entry(
        "CAP",
        Kind.FORM,
        _t("capsule", "cápsula"),
        ("C", "CAPS", "CAPSULE", "CAPSULES"),
        plural=_t("capsules", "cápsulas"),
        unit="capsule",
        max_dose=_D(50),
        oral=True,
        verb="TAKE",
    ),
    Entry(
        "GTT",
        Kind.FORM,
        _t("drop", "gota"),
        ("GTTS", "DROP", "DROPS"),
        plural=_t("drops", "gotas"),
        unit="drop",
        max_dose=_D(100),
        verb="INSTILL",
    ),
    # ISMP: "mL", never "cc"; the same symbol in Spanish.
    Entry(
        "ML",
        Kind.FORM,
        _t("mL", "mL"),
        ("MLS",),
        plural=_t("mL", "mL"),
        unit="mL",
        max_dose=_D(1000),
        verb="TAKE",
    ),
    Entry(
        "TSP",
        Kind.FORM,
        _t("mL", "mL"),
        ("TEASPOON", "TEASPOONS", "TEASPOONFUL"),
        plural=_t("mL", "mL"),
        unit="mL",
        to_unit=_D(5),
        max_dose=_D(1000),
        verb="TAKE",
    ),
    Entry(
        "TBSP",
        Kind.FORM,
        _t("mL", "mL"),
        ("TABLESPOON", "TABLESPOONS", "TABLESPOONFUL"),
        plural=_t("mL", "mL"),
        unit="mL",
        to_unit=_D(15),
        max_dose=_D(1000),
        verb="TAKE",
    ),
    Entry(
        "PUFF",
        Kind.FORM,
        _t("puff", "inhalación"),
        ("PUFFS",),
        plural=_t("puffs", "inhalaciones"),
        unit="puff",
        max_dose=_D(20),
        verb="INHALE",
    ),
    Entry(
        "SPRAY",
        Kind.FORM,
        _t("spray", "atomización"),
        ("SPRAYS",),
        plural=_t("sprays", "atomizaciones"),
        unit="spray",
        max_dose=_D(20),
        verb="USE",
    ),
    # ISMP: "units" spelled out, never U or IU (both refused below).
    Entry(
        "UNITS",
        Kind.FORM,
        _t("unit", "unidad"),
        ("UNIT",),
        plural=_t("units", "unidades"),
        unit="unit",
        max_dose=_D(1000),
        verb="INJECT",
    ),
    Entry(
        "PATCH",
        Kind.FORM,
        _t("patch", "parche"),
        ("PATCHES",),
        plural=_t("patches", "parches"),
        unit="patch",
        max_dose=_D(10),
        verb="APPLY",
    ),
    Entry(
        "SUPP",
        Kind.FORM,
        _t("suppository", "supositorio"),
        ("SUPPS", "SUPPOSITORY", "SUPPOSITORIES"),
        plural=_t("suppositories", "supositorios"),
        unit="suppository",
        max_dose=_D(5),
        verb="INSERT",
    ),
    Entry(
        "PKT",
        Kind.FORM,
        _t("packet", "sobre"),
        ("PACKET", "PACKETS"),
        plural=_t("packets", "sobres"),
        unit="packet",
        max_dose=_D(10),
        verb="TAKE",
    ),
    Entry(
        "LOZ",
        Kind.FORM,
        _t("lozenge", "pastilla"),
        ("LOZENGE", "LOZENGES"),
        plural=_t("lozenges", "pastillas"),
        unit="lozenge",
        max_dose=_D(10),
        oral=True,
        verb="TAKE",
    ),
    Entry(
        "VIAL",
        Kind.FORM,
        _t("vial", "vial"),
        ("VIALS",),
        plural=_t("vials", "viales"),
        unit="vial",
        max_dose=_D(5),
    ),
    Entry("MG", Kind.FORM, _t("mg", "mg"), plural=_t("mg", "mg"), unit="mg", max_dose=_D(10000)),
    # ISMP: "mcg", never "µg" (read as mg); typed µg/ug is accepted and printed as mcg.
    Entry(
        "MCG", Kind.FORM, _t("mcg", "mcg"), plural=_t("mcg", "mcg"), unit="mcg", max_dose=_D(50000)
    ),
    Entry(
        "UG",
        Kind.FORM,
        _t("mcg", "mcg"),
        ("µG", "μG"),
        plural=_t("mcg", "mcg"),
        unit="mcg",
        max_dose=_D(50000),
        error_prone="µg is read as mg",
    ),
    Entry(
        "G",
        Kind.FORM,
        _t("g", "g"),
        ("GM", "GRAM", "GRAMS"),
        plural=_t("g", "g"),
        unit="g",
        max_dose=_D(100),
    ),
    # --- routes (§4.1; ISMP: "by mouth", not "per os") ------------------------------------
    Entry(
        "PO",
        Kind.ROUTE,
        _t("by mouth", "por vía oral"),
        ("BY MOUTH", "ORALLY"),
        oral=True,
        verb="TAKE",
    ),
    Entry(
        "SL",
        Kind.ROUTE,
        _t("under the tongue", "debajo de la lengua"),
        ("UNDER THE TONGUE",),
        oral=True,
        verb="PLACE",
    ),
    Entry(
        "BUCC",
        Kind.ROUTE,
        _t("between the cheek and gum", "entre la mejilla y la encía"),
        ("BUCCAL",),
        oral=True,
        verb="PLACE",
    ),
    Entry("TOP", Kind.ROUTE, _t("to the skin", "sobre la piel"), ("TOPICALLY",), verb="APPLY"),
    Entry(
        "AAA",
        Kind.ROUTE,
        _t("to the affected area", "en el área afectada"),
        ("TO AFFECTED AREA", "TO THE AFFECTED AREA"),
        verb="APPLY",
    ),
    # Printed only when the verb is not already "Inhale" (see sig._render).
    Entry("INH", Kind.ROUTE, _t("by inhalation", "por inhalación"), ("INHALED",), verb="INHALE"),
    Entry(
        "NEB",
        Kind.ROUTE,
        _t("using a nebulizer", "con un nebulizador"),
        ("VIA NEBULIZER",),
        verb="INHALE",
    ),
    Entry(
        "SUBCUT",
        Kind.ROUTE,
        _t("subcutaneously", "por vía subcutánea"),
        ("SUBCUTANEOUSLY",),
        verb="INJECT",
    ),
    Entry(
        "SUBQ",
        Kind.ROUTE,
        _t("subcutaneously", "por vía subcutánea"),
        ("SUB Q",),
        verb="INJECT",
        error_prone=_SUBCUT,
    ),
    Entry(
        "SC",
        Kind.ROUTE,
        _t("subcutaneously", "por vía subcutánea"),
        verb="INJECT",
        error_prone=_SUBCUT,
    ),
    Entry(
        "SQ",
        Kind.ROUTE,
        _t("subcutaneously", "por vía subcutánea"),
        verb="INJECT",
        error_prone=_SUBCUT,
    ),
    Entry(
        "IM",
        Kind.ROUTE,
        _t("into the muscle", "en el músculo"),
        ("INTRAMUSCULARLY",),
        verb="INJECT",
    ),
    Entry(
        "IV",
        Kind.ROUTE,
        _t("intravenously", "por vía intravenosa"),
        ("INTRAVENOUSLY",),
        verb="INJECT",
    ),
    Entry(
        "ID",
        Kind.ROUTE,
        _t("into the skin", "por vía intradérmica"),
        ("INTRADERMALLY",),
        verb="INJECT",
    ),
    Entry("PR", Kind.ROUTE, _t("rectally", "por vía rectal"), ("RECTALLY",), verb="INSERT"),
    Entry("PV", Kind.ROUTE, _t("vaginally", "por vía vaginal"), ("VAGINALLY",), verb="INSERT"),
    # ISMP: "NAS" or "intranasal", never "IN" (read as IM or IV) — so IN is not a code.
    Entry("NAS", Kind.ROUTE, _t("in the nose", "en la nariz"), ("NASALLY", "INTRANASALLY")),
    # --- sites: eyes, ears, nostrils (ISMP: print the words, never OD/OS/OU/AD/AS/AU) -----
    Entry(
        "OD",
        Kind.SITE,
        _t("in the right eye", "en el ojo derecho"),
        verb="INSTILL",
        organ="eye",
        error_prone=_EYE_EAR,
    ),
    Entry(
        "OS",
        Kind.SITE,
        _t("in the left eye", "en el ojo izquierdo"),
        verb="INSTILL",
        organ="eye",
        error_prone=_EYE_EAR,
    ),
    Entry(
        "OU",
        Kind.SITE,
        _t("in both eyes", "en ambos ojos"),
        verb="INSTILL",
        sites=2,
        organ="eye",
        error_prone=_EYE_EAR,
    ),
    Entry(
        "AD",
        Kind.SITE,
        _t("in the right ear", "en el oído derecho"),
        verb="INSTILL",
        organ="ear",
        error_prone=_EYE_EAR,
    ),
    Entry(
        "AS",
        Kind.SITE,
        _t("in the left ear", "en el oído izquierdo"),
        verb="INSTILL",
        organ="ear",
        error_prone=_EYE_EAR,
    ),
    Entry(
        "AU",
        Kind.SITE,
        _t("in both ears", "en ambos oídos"),
        verb="INSTILL",
        sites=2,
        organ="ear",
        error_prone=_EYE_EAR,
    ),
    Entry(
        "RIGHT EYE",
        Kind.SITE,
        _t("in the right eye", "en el ojo derecho"),
        ("IN THE RIGHT EYE", "IN RIGHT EYE"),
        verb="INSTILL",
        organ="eye",
    ),
    Entry(
        "LEFT EYE",
        Kind.SITE,
        _t("in the left eye", "en el ojo izquierdo"),
        ("IN THE LEFT EYE", "IN LEFT EYE"),
        verb="INSTILL",
        organ="eye",
    ),
    Entry(
        "BOTH EYES",
        Kind.SITE,
        _t("in both eyes", "en ambos ojos"),
        ("IN BOTH EYES", "EACH EYE", "IN EACH EYE"),
        verb="INSTILL",
        sites=2,
        organ="eye",
    ),
    Entry(
        "RIGHT EAR",
        Kind.SITE,
        _t("in the right ear", "en el oído derecho"),
        ("IN THE RIGHT EAR", "IN RIGHT EAR"),
        verb="INSTILL",
        organ="ear",
    ),
    Entry(
        "LEFT EAR",
        Kind.SITE,
        _t("in the left ear", "en el oído izquierdo"),
        ("IN THE LEFT EAR", "IN LEFT EAR"),
        verb="INSTILL",
        organ="ear",
    ),
    Entry(
        "BOTH EARS",
        Kind.SITE,
        _t("in both ears", "en ambos oídos"),
        ("IN BOTH EARS", "EACH EAR", "IN EACH EAR"),
        verb="INSTILL",
        sites=2,
        organ="ear",
    ),
    Entry(
        "IEN",
        Kind.SITE,
        _t("in each nostril", "en cada fosa nasal"),
        ("EACH NOSTRIL", "IN EACH NOSTRIL"),
        sites=2,
    ),
    # --- frequencies: fixed counts per day (every N hours / days come from sig's patterns) --
    # ISMP: "daily", never QD (refused); "every other day", never QOD (refused).
    Entry(
        "DAILY",
        Kind.FREQUENCY,
        _t("once daily", "una vez al día"),
        ("ONCE DAILY", "EVERY DAY", "ONCE A DAY"),
        per_day=_D(1),
    ),
    Entry(
        "BID",
        Kind.FREQUENCY,
        _t("twice daily", "dos veces al día"),
        (
            "TWICE DAILY",
            "TWICE A DAY",
            "2 TIMES DAILY",
            "2 TIMES A DAY",
            "TWO TIMES DAILY",
            "TWO TIMES A DAY",
        ),
        per_day=_D(2),
    ),
    Entry(
        "TID",
        Kind.FREQUENCY,
        _t("3 times daily", "3 veces al día"),
        ("3 TIMES DAILY", "3 TIMES A DAY", "THREE TIMES DAILY", "THREE TIMES A DAY"),
        per_day=_D(3),
    ),
    Entry(
        "QID",
        Kind.FREQUENCY,
        _t("4 times daily", "4 veces al día"),
        ("4 TIMES DAILY", "4 TIMES A DAY", "FOUR TIMES DAILY", "FOUR TIMES A DAY"),
        per_day=_D(4),
    ),
    Entry(
        "EVERY OTHER DAY",
        Kind.FREQUENCY,
        _t("every other day", "un día sí y otro no"),
        per_day=_D(1) / _D(2),
    ),
    Entry(
        "QWK",
        Kind.FREQUENCY,
        _t("once a week", "una vez a la semana"),
        ("QW", "WEEKLY", "ONCE WEEKLY", "ONCE A WEEK"),
        per_day=_D(1) / _D(7),
    ),
    Entry(
        "BIW",
        Kind.FREQUENCY,
        _t("2 times a week", "2 veces a la semana"),
        per_day=_D(2) / _D(7),
        error_prone=_WEEKLY,
    ),
    Entry(
        "TIW",
        Kind.FREQUENCY,
        _t("3 times a week", "3 veces a la semana"),
        per_day=_D(3) / _D(7),
        error_prone=_WEEKLY,
    ),
    # --- times of day: each adds one dose ("QAM AND QHS" = 2 a day) ---------------------
    # USP <17> prefers general times of day to intervals or clock times.
    Entry(
        "QAM",
        Kind.TIME_OF_DAY,
        _t("in the morning", "por la mañana"),
        ("EVERY MORNING", "IN THE MORNING"),
        per_day=_D(1),
    ),
    Entry("QNOON", Kind.TIME_OF_DAY, _t("at noon", "al mediodía"), ("AT NOON",), per_day=_D(1)),
    Entry(
        "QPM",
        Kind.TIME_OF_DAY,
        _t("in the evening", "por la noche"),
        ("EVERY EVENING", "IN THE EVENING"),
        per_day=_D(1),
    ),
    Entry(
        "BEDTIME",
        Kind.TIME_OF_DAY,
        _t("at bedtime", "al acostarse"),
        ("AT BEDTIME", "NIGHTLY"),
        per_day=_D(1),
    ),
    Entry(
        "QHS",
        Kind.TIME_OF_DAY,
        _t("at bedtime", "al acostarse"),
        per_day=_D(1),
        error_prone=_BEDTIME,
    ),
    Entry(
        "HS",
        Kind.TIME_OF_DAY,
        _t("at bedtime", "al acostarse"),
        per_day=_D(1),
        error_prone=_BEDTIME,
    ),
    # --- timing without a count ---------------------------------------------------------
    Entry("AC", Kind.TIMING, _t("before meals", "antes de las comidas"), ("BEFORE MEALS",)),
    Entry("PC", Kind.TIMING, _t("after meals", "después de las comidas"), ("AFTER MEALS",)),
    Entry("WF", Kind.TIMING, _t("with food", "con alimentos"), ("WITH FOOD", "WITH MEALS")),
    Entry("ATC", Kind.TIMING, _t("around the clock", "a toda hora"), ("AROUND THE CLOCK",)),
    Entry("STAT", Kind.TIMING, _t("right away", "de inmediato"), ("NOW", "RIGHT AWAY")),
    Entry("ONCE", Kind.TIMING, _t("one time only", "una sola vez"), ("ONE TIME", "ONE TIME ONLY")),
    # --- as needed, and what for ------------------------------------------------------
    Entry("PRN", Kind.PRN, _t("as needed", "según sea necesario"), ("AS NEEDED",)),
    Entry("PAIN", Kind.INDICATION, _t("pain", "el dolor")),
    Entry(
        "SOB",
        Kind.INDICATION,
        _t("shortness of breath", "la falta de aire"),
        ("SHORTNESS OF BREATH",),
    ),
    Entry("WHEEZING", Kind.INDICATION, _t("wheezing", "las sibilancias")),
    Entry("NAUSEA", Kind.INDICATION, _t("nausea", "las náuseas")),
    Entry("N/V", Kind.INDICATION, _t("nausea and vomiting", "las náuseas y los vómitos"), ("NV",)),
    Entry("HA", Kind.INDICATION, _t("headache", "el dolor de cabeza"), ("HEADACHE",)),
    Entry("FEVER", Kind.INDICATION, _t("fever", "la fiebre")),
    Entry("ITCHING", Kind.INDICATION, _t("itching", "la picazón"), ("ITCH",)),
    Entry("ANXIETY", Kind.INDICATION, _t("anxiety", "la ansiedad")),
    Entry("SLEEP", Kind.INDICATION, _t("sleep", "dormir"), ("INSOMNIA",)),
    Entry("COUGH", Kind.INDICATION, _t("cough", "la tos")),
    Entry("CP", Kind.INDICATION, _t("chest pain", "el dolor de pecho"), ("CHEST PAIN",)),
    Entry("CONSTIPATION", Kind.INDICATION, _t("constipation", "el estreñimiento")),
    Entry("DIARRHEA", Kind.INDICATION, _t("diarrhea", "la diarrea")),
    Entry(
        "SPASM",
        Kind.INDICATION,
        _t("muscle spasms", "los espasmos musculares"),
        ("SPASMS", "MUSCLE SPASM", "MUSCLE SPASMS"),
    ),
    Entry("MIGRAINE", Kind.INDICATION, _t("migraine", "la migraña")),
    Entry("ALLERGIES", Kind.INDICATION, _t("allergies", "las alergias")),
    # --- as directed: accepted, but USP <17> wants explicit directions ------------------
    Entry(
        "AS DIRECTED", Kind.AS_DIRECTED, _t("as directed", "según las indicaciones"), ("AS DIR",)
    ),
    Entry(
        "UD",
        Kind.AS_DIRECTED,
        _t("as directed", "según las indicaciones"),
        ("UTD",),
        error_prone="UD is read as 'unit dose'",
    ),
    # --- connectors (ISMP: "and", never "&" or "+") -----------------------------------------
    Entry("AND", Kind.CONNECTOR, _t("and", "y"), ("&", "+")),
    Entry("THEN", Kind.CONNECTOR, _t("then", "luego")),
)

# Patterns that are generated rather than listed: every N hours (Q6H), every N to M hours
# (Q4-6H), every N days (Q3D), for N days / weeks (X7D), "do not take more than" (NTE).
TEMPLATES: Final[Mapping[str, Mapping[str, str]]] = {
    "every_hour": _t("every hour", "cada hora"),
    "every_hours": _t("every {n} hours", "cada {n} horas"),
    "every_hours_range": _t("every {low} to {high} hours", "cada {low} a {high} horas"),
    "every_days": _t("every {n} days", "cada {n} días"),
    "for_day": _t("for 1 day", "durante 1 día"),
    "for_days": _t("for {n} days", "durante {n} días"),
    "for_week": _t("for 1 week", "durante 1 semana"),
    "for_weeks": _t("for {n} weeks", "durante {n} semanas"),
    "range": _t("{low} to {high}", "{low} a {high}"),
    "prn_for": _t("as needed for {what}", "según sea necesario para {what}"),
    "limit_take": _t(
        "Do not take more than {amount} in 24 hours.", "No tome más de {amount} en 24 horas."
    ),
    "limit_use": _t(
        "Do not use more than {amount} in 24 hours.", "No use más de {amount} en 24 horas."
    ),
}

_TJC = "is on the Joint Commission 'Do Not Use' list"

# Refused outright (key: the typed token, upper case, full stops removed). The message says
# what to type instead (reference §3.5 rules 3–6, 14, 16, 22; §4.1 "cc" in sigs).
REFUSED: Final[Mapping[str, str]] = {
    "QD": f"QD {_TJC} (read as QID, 4 times a day): type DAILY.",
    "Q1D": f"Q1D {_TJC} (read as QID, 4 times a day): type DAILY.",
    "QOD": f"QOD {_TJC} (read as QD or QID): type EVERY OTHER DAY or Q48H.",
    "U": f"U for units {_TJC} (read as 0 or 4, so 4U becomes 40): type UNITS.",
    "IU": f"IU {_TJC} (read as IV or 10): type UNITS.",
    "MS": f"MS {_TJC} (morphine or magnesium sulfate?): write the drug name in full.",
    "MSO4": f"MSO4 {_TJC} (confused with MgSO4): write the drug name in full.",
    "MGSO4": f"MgSO4 {_TJC} (confused with MSO4): write the drug name in full.",
    "CC": "CC is ambiguous (cubic centimetres or 'with food'): type ML or WF.",
    "SS": "SS is ambiguous (one-half, 55 or sliding scale): type 1/2 or SLIDING SCALE.",
    "D/C": "D/C is ambiguous (discharge or discontinue): write the word in full.",
    "APAP": "APAP is an abbreviated drug name (ISMP): write acetaminophen.",
    "HCTZ": "HCTZ is an abbreviated drug name (ISMP): write hydrochlorothiazide.",
    "MTX": "MTX is an abbreviated drug name (ISMP): write methotrexate.",
    "PTU": "PTU is an abbreviated drug name (ISMP): write propylthiouracil.",
    "CPZ": "CPZ is an abbreviated drug name (ISMP): write the drug name in full.",
    "AZT": "AZT is an abbreviated drug name (ISMP): write zidovudine.",
    "TAC": "TAC is an abbreviated drug name (ISMP): write the drug name in full.",
    "ZNSO4": "ZnSO4 is an abbreviated drug name (ISMP): write zinc sulfate.",
}

# The Joint Commission list is refused even inside a longer token ("4U", "10IU", "MS-IR");
# the other refusals only as a whole word, so "HCTZ" is refused but "SS" inside "LESS" is not.
DO_NOT_USE: Final = frozenset({"QD", "Q1D", "QOD", "U", "IU", "MS", "MSO4", "MGSO4"})


def _lookup() -> dict[str, Entry]:
    table: dict[str, Entry] = {}
    # The verb and form readings of T and SPRAY are told apart by sig (a number before
    # them means the form); the table keeps the verb under the bare key.
    for entry in CODES:
        for key in (entry.code, *entry.aliases):
            if entry.kind is Kind.FORM and key in table and table[key].kind is Kind.VERB:
                continue
            table.setdefault(key, entry)
    return table


LOOKUP: Final[Mapping[str, Entry]] = _lookup()
FORMS: Final[Mapping[str, Entry]] = {
    key: entry for entry in CODES if entry.kind is Kind.FORM for key in (entry.code, *entry.aliases)
}
