"""Medication reconciliation, the comparison: the best possible medication history (BPMH)
beside the profile's active prescriptions, and the discrepancies a pharmacist should look at.

Pure: no Django, no database. The caller (rxdesk.care.queries_medrec) turns rows into
:class:`HistoryLine` and :class:`ProfileLine` (ingredients resolved through the catalog) and
calls :func:`compare`.

How lines are paired (each profile prescription with at most one "own" history line, but
several history lines may point at one prescription):

1. a history line linked to a prescription (imported from the fill history, or linked by
   hand) pairs with it;
2. else the normalised name ("Simvastatin 20 mg tablet" -> "simvastatin") of a profile
   line, preferring one not yet paired and with the same dose and frequency;
3. else a shared active ingredient (brand "Zocor" and generic simvastatin).

Suggested discrepancies (the pharmacist decides; these are only suggestions):

* omission — taking it (or as needed, or unsure), not on the profile;
* commission — on the profile, and no history line says the patient takes it (or one says
  "not taking");
* dose / frequency / route — paired, and both sides are readable and differ. A side that
  cannot be read (free text, a dose in mg against a dose in tablets) is not guessed at: the
  pharmacist sees both side by side;
* duplication — two lines the patient takes share an active ingredient and are not the
  same medication (different names), unless each is its own profile prescription (a
  duplication already on the profile is screening's, not med rec's).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Final

from rxdesk.core.errors import Invalid
from rxdesk.rx.sig import SigFlagCode, expand
from rxdesk.screening.names import ingredient_name

OMISSION: Final = "omission"
COMMISSION: Final = "commission"
DOSE: Final = "dose"
FREQUENCY: Final = "frequency"
ROUTE: Final = "route"
DUPLICATION: Final = "duplication"

# Taking choices (rxdesk.care.choices.Taking values; repeated so this module stays pure).
TAKING: Final = "taking"
DIFFERENTLY: Final = "differently"
AS_NEEDED: Final = "as_needed"
NOT_TAKING: Final = "not_taking"
UNSURE: Final = "unsure"
TAKES = frozenset({TAKING, DIFFERENTLY, AS_NEEDED, UNSURE})

# Words of a drug's description that are not its name: strength units, forms, release.
_FORM_WORDS: Final = frozenset(
    """mg mcg g gm gram grams ml l unit units iu meq % mg/ml mcg/ml mg/5ml tab tabs tablet
    tablets cap caps capsule capsules er xr xl sr cr dr ec la odt ir oral solution susp
    suspension syrup liquid elixir cream ointment gel patch patches inhaler inh hfa spray
    drops drop injection inj pen vial chewable chew film coated delayed extended release
    sustained controlled immediate disintegrating orally powder packet solr soln""".split()
)
_STRENGTH: Final = re.compile(r"^[0-9][0-9.,/]*(mg|mcg|g|ml|%|units?|meq|iu)?$")
_DOSE_NUMBER: Final = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z%]+)?\.?\s*$")
_UNIT_WORDS: Final = {
    "t": "tablet",
    "tab": "tablet",
    "tabs": "tablet",
    "tablet": "tablet",
    "tablets": "tablet",
    "c": "capsule",
    "cap": "capsule",
    "caps": "capsule",
    "capsule": "capsule",
    "capsules": "capsule",
    "puff": "puff",
    "puffs": "puff",
    "spray": "spray",
    "sprays": "spray",
    "drop": "drop",
    "drops": "drop",
    "gtt": "drop",
    "gtts": "drop",
    "ml": "mL",
    "mg": "mg",
    "mcg": "mcg",
    "g": "g",
    "unit": "unit",
    "units": "unit",
    "patch": "patch",
    "patches": "patch",
    "patchs": "patch",
}
_COUNTED: Final = frozenset({"tablet", "capsule", "puff", "spray", "drop", "patch", "unit"})
_ROUTES: Final = {
    "po": "oral",
    "oral": "oral",
    "by mouth": "oral",
    "mouth": "oral",
    "sl": "sublingual",
    "sublingual": "sublingual",
    "under the tongue": "sublingual",
    "top": "topical",
    "topical": "topical",
    "topically": "topical",
    "inh": "inhaled",
    "inhale": "inhaled",
    "inhaled": "inhaled",
    "inhalation": "inhaled",
    "respiratory (inhalation)": "inhaled",
    "sc": "subcutaneous",
    "sq": "subcutaneous",
    "subq": "subcutaneous",
    "subcutaneous": "subcutaneous",
    "im": "intramuscular",
    "intramuscular": "intramuscular",
    "iv": "intravenous",
    "intravenous": "intravenous",
    "pr": "rectal",
    "rectal": "rectal",
    "td": "transdermal",
    "transdermal": "transdermal",
    "nasal": "nasal",
    "in": "nasal",
    "intranasal": "nasal",
    "ophthalmic": "ophthalmic",
    "eye": "ophthalmic",
    "otic": "otic",
    "ear": "otic",
    "vaginal": "vaginal",
    "pv": "vaginal",
}


@dataclass(frozen=True)
class HistoryLine:
    """One line of the BPMH as the comparison sees it (``key``: the item's id)."""

    key: int
    drug_name: str
    dose: str = ""
    frequency: str = ""
    route: str = ""
    taking: str = TAKING
    prescription_id: int | None = None
    ingredients: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ProfileLine:
    """One active prescription of the profile (dose, frequency and route read from the
    directions by the caller, see :func:`profile_line_parts`)."""

    prescription_id: int
    drug_name: str
    dose: str = ""
    frequency: str = ""
    route: str = ""
    ingredients: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Suggestion:
    """A discrepancy the comparison suggests."""

    kind: str
    description: str
    item_key: int | None = None
    prescription_id: int | None = None


@dataclass
class Row:
    """One row of the side-by-side view: a history line, its profile line, or both."""

    history: HistoryLine | None
    profile: ProfileLine | None
    kinds: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return self.history is not None and self.profile is not None


@dataclass(frozen=True)
class Comparison:
    rows: tuple[Row, ...]
    suggestions: tuple[Suggestion, ...]


# --- normalising ------------------------------------------------------------------------------


def name_key(drug_name: str) -> str:
    """The drug's name without strength, form and release words, lower case: "Simvastatin
    20 MG Oral Tablet" -> "simvastatin"; "Lisinopril/HCTZ 10-12.5" -> "lisinopril/hctz"."""
    words = []
    for raw in re.split(r"[\s,()]+", drug_name.lower()):
        word = raw.strip(".;:")
        if not word or word in _FORM_WORDS or _STRENGTH.match(word):
            continue
        if re.fullmatch(r"[0-9.\-/]+", word):
            continue
        words.append(word)
    return " ".join(words) or " ".join(drug_name.lower().split())


def ingredients_of_name(drug_name: str) -> frozenset[str]:
    """The ingredients a typed name suggests when the catalog knows nothing better: the
    name's base ("metoprolol succinate" -> "metoprolol"), split at "/" and " and "."""
    key = name_key(drug_name)
    parts = re.split(r"\s*/\s*|\s+and\s+|\s*-\s*", key)
    return frozenset(ingredient_name(p) for p in parts if p.strip())


def _sig(text: str) -> object | None:
    try:
        result = expand(text)
    except Invalid:
        return None
    if any(f.code in (SigFlagCode.FREE_TEXT, SigFlagCode.COMPLEX) for f in result.flags):
        return None
    return result


def parse_dose(text: str) -> tuple[Decimal, str] | None:
    """``(amount, unit)`` of a typed dose ("1 tablet", "2 puffs", "10 mg", "1 T"); unit is
    "" when none was typed. None when it cannot be read."""
    words = " ".join(text.lower().split())
    if not words:
        return None
    match = _DOSE_NUMBER.match(words)
    if match:
        try:
            amount = Decimal(match.group(1))
        except InvalidOperation:
            return None
        unit = match.group(2) or ""
        if unit and unit not in _UNIT_WORDS:
            return None
        return amount, _UNIT_WORDS.get(unit, "")
    result = _sig(text)
    dose = getattr(result, "dose", None)
    if dose is None:
        return None
    return Decimal(dose), _UNIT_WORDS.get(str(getattr(result, "dose_unit", "") or ""), "")


def parse_frequency(text: str) -> tuple[Decimal | None, bool] | None:
    """``(times a day, as needed)`` of a typed frequency ("BID", "twice daily", "Q8H PRN",
    "at bedtime"); None when it cannot be read."""
    if not text.strip():
        return None
    result = _sig(text)
    if result is None:
        return None
    per_day = getattr(result, "frequency_per_day", None)
    prn = bool(getattr(result, "prn", False))
    if per_day is None and not prn:
        return None
    return (Decimal(per_day) if per_day is not None else None), prn


def parse_route(text: str) -> str | None:
    words = " ".join(text.lower().split()).strip(".")
    if not words:
        return None
    return _ROUTES.get(words)


def frequency_words(per_day: Decimal | None, prn: bool) -> str:
    """Words for a frequency: 1 -> "once daily", 2 -> "twice daily", 1/7 -> "every 7 days"."""
    text = ""
    if per_day is not None and per_day > 0:
        if per_day == 1:
            text = "once daily"
        elif per_day == 2:
            text = "twice daily"
        elif per_day == per_day.to_integral_value():
            text = f"{int(per_day)} times daily"
        else:
            every = (Decimal(1) / per_day).quantize(Decimal("0.1"))
            if every == every.to_integral_value():
                text = f"every {int(every)} days"
    if prn:
        text = f"{text} as needed".strip()
    return text


def profile_line_parts(directions: str) -> tuple[str, str, str]:
    """``(dose, frequency, route)`` in words, read from a prescription's directions ("1 CAP
    PO BID" -> ("1 capsule", "twice daily", "oral")); "" for what cannot be read."""
    try:
        result = expand(directions)
    except Invalid:
        return "", "", ""
    if any(f.code is SigFlagCode.COMPLEX for f in result.flags):
        return "", "", ""
    dose = ""
    if result.dose is not None:
        unit = result.dose_unit or ""
        if unit in _COUNTED and result.dose != 1:
            unit += "s"
        dose = f"{result.dose.normalize():f} {unit}".strip()
    frequency = frequency_words(result.frequency_per_day, result.prn)
    route = parse_route(result.route or "") or ""
    return dose, frequency, route


# --- comparing --------------------------------------------------------------------------------


def _same_dose(a: str, b: str) -> bool | None:
    """True/False when both doses can be compared; None when they cannot."""
    pa, pb = parse_dose(a), parse_dose(b)
    if pa is None or pb is None:
        return None
    if pa[1] and pb[1] and pa[1] != pb[1]:
        return None  # mg against tablets: not comparable here
    return pa[0] == pb[0]


def _same_frequency(a: str, b: str) -> bool | None:
    pa, pb = parse_frequency(a), parse_frequency(b)
    if pa is None or pb is None:
        return None
    if pa[1] != pb[1]:
        return False
    if pa[0] is None or pb[0] is None:
        return True if pa[0] == pb[0] else None
    return pa[0] == pb[0]


def _same_route(a: str, b: str) -> bool | None:
    ra, rb = parse_route(a), parse_route(b)
    if ra is None or rb is None:
        return None
    return ra == rb


def _ingredients(line: HistoryLine | ProfileLine) -> frozenset[str]:
    return line.ingredients or ingredients_of_name(line.drug_name)


def _pair(history: Sequence[HistoryLine], profile: Sequence[ProfileLine]) -> dict[int, ProfileLine]:
    """History line key -> its profile line."""
    by_rx = {p.prescription_id: p for p in profile}
    paired: dict[int, ProfileLine] = {}
    used: set[int] = set()
    for h in history:
        if h.prescription_id is not None and h.prescription_id in by_rx:
            paired[h.key] = by_rx[h.prescription_id]
            used.add(h.prescription_id)

    def best(candidates: list[ProfileLine], h: HistoryLine) -> ProfileLine | None:
        if not candidates:
            return None

        def score(p: ProfileLine) -> tuple[int, int, int]:
            return (
                0 if p.prescription_id not in used else 1,
                0 if _same_dose(h.dose, p.dose) else 1,
                0 if _same_frequency(h.frequency, p.frequency) else 1,
            )

        return min(candidates, key=score)

    rest = [h for h in history if h.key not in paired]
    for h in rest:
        key = name_key(h.drug_name)
        found = best([p for p in profile if name_key(p.drug_name) == key], h)
        if found is not None:
            paired[h.key] = found
            used.add(found.prescription_id)
    for h in rest:
        if h.key in paired:
            continue
        mine = _ingredients(h)
        found = best([p for p in profile if mine & _ingredients(p)], h)
        if found is not None:
            paired[h.key] = found
            used.add(found.prescription_id)
    return paired


def _label(line: HistoryLine | ProfileLine) -> str:
    return " ".join(line.drug_name.split())[:120]


def compare(history: Iterable[HistoryLine], profile: Iterable[ProfileLine]) -> Comparison:
    """The side-by-side rows and the suggested discrepancies (see the module doc)."""
    hist = list(history)
    prof = list(profile)
    paired = _pair(hist, prof)
    rows: list[Row] = []
    out: list[Suggestion] = []
    taken_rx: set[int] = set()

    def add(row: Row, s: Suggestion) -> None:
        row.kinds.append(s.kind)
        out.append(s)

    rows_by_key: dict[int, Row] = {}
    for h in hist:
        p = paired.get(h.key)
        row = Row(history=h, profile=p)
        rows.append(row)
        rows_by_key[h.key] = row
        if p is None:
            if h.taking in TAKES:
                add(
                    row,
                    Suggestion(
                        OMISSION,
                        f"{_label(h)}: the patient takes it; it is not on the profile.",
                        item_key=h.key,
                    ),
                )
            continue
        if h.taking == NOT_TAKING:
            continue
        taken_rx.add(p.prescription_id)
        rx = p.prescription_id
        if _same_dose(h.dose, p.dose) is False:
            add(
                row,
                Suggestion(
                    DOSE,
                    f"{_label(h)}: takes {h.dose.strip()}; the profile says {p.dose}.",
                    h.key,
                    rx,
                ),
            )
        freq = _same_frequency(h.frequency, p.frequency)
        if freq is None and h.taking == AS_NEEDED:
            parsed = parse_frequency(p.frequency)
            if parsed is not None and not parsed[1]:
                freq = False
        if freq is False:
            add(
                row,
                Suggestion(
                    FREQUENCY,
                    f"{_label(h)}: takes it {h.frequency.strip() or 'as needed'}; "
                    f"the profile says {p.frequency}.",
                    h.key,
                    rx,
                ),
            )
        if _same_route(h.route, p.route) is False:
            add(
                row,
                Suggestion(
                    ROUTE,
                    f"{_label(h)}: uses it {h.route.strip()}; the profile says {p.route}.",
                    h.key,
                    rx,
                ),
            )
    for p in prof:
        if p.prescription_id in taken_rx:
            continue
        owner = next((rows_by_key[k] for k, v in paired.items() if v is p), None)
        if owner is None:
            owner = Row(history=None, profile=p)
            rows.append(owner)
        add(
            owner,
            Suggestion(
                COMMISSION,
                f"{_label(p)}: on the profile; the patient does not take it.",
                item_key=owner.history.key if owner.history is not None else None,
                prescription_id=p.prescription_id,
            ),
        )
    # Duplication: pairs of lines taken that share an ingredient.
    taking = [h for h in hist if h.taking in TAKES]
    seen: set[frozenset[int]] = set()
    for i, a in enumerate(taking):
        for b in taking[i + 1 :]:
            shared = _ingredients(a) & _ingredients(b)
            if not shared or name_key(a.drug_name) == name_key(b.drug_name):
                continue
            pa, pb = paired.get(a.key), paired.get(b.key)
            if pa is not None and pb is not None and pa is not pb:
                continue  # both on the profile as their own prescriptions
            pair = frozenset({a.key, b.key})
            if pair in seen:
                continue
            seen.add(pair)
            add(
                rows_by_key[b.key],
                Suggestion(
                    DUPLICATION,
                    f"{_label(a)} and {_label(b)} both contain {', '.join(sorted(shared))}.",
                    item_key=b.key,
                    prescription_id=pb.prescription_id if pb is not None else None,
                ),
            )
    return Comparison(rows=tuple(rows), suggestions=tuple(out))


__all__ = [
    "COMMISSION",
    "DOSE",
    "DUPLICATION",
    "FREQUENCY",
    "OMISSION",
    "ROUTE",
    "Comparison",
    "HistoryLine",
    "ProfileLine",
    "Row",
    "Suggestion",
    "compare",
    "frequency_words",
    "ingredients_of_name",
    "name_key",
    "parse_dose",
    "parse_frequency",
    "parse_route",
    "profile_line_parts",
]
