"""Small facts the patient-centred checks (dose, age, pregnancy, renal, refills) share:
the patient's age, the route, whether a drug is a new start, the alert key. Pure."""

from __future__ import annotations

import re
from decimal import Decimal

from rxdesk.screening.types import Context, Drug

# Routes by where the drug acts. An empty route means "not recorded": then the form and
# label decide, and most prescriptions are oral (the dose tables are oral).
_ORAL_ROUTES = frozenset({"oral", "po", "by mouth", "sublingual", "buccal", "enteral"})
_SYSTEMIC_ROUTE_WORDS = (
    "transdermal",
    "patch",
    "inject",
    "intraven",
    "intramusc",
    "subcut",
    "parenteral",
)
_LOCAL_WORDS = re.compile(
    r"\b(topical|ophthalmic|otic|vaginal|nasal|intranasal|cream|ointment|gel|lotion|"
    r"shampoo|inhal\w*|rectal|suppositor\w*|enema|eye|ear|transdermal|patch)\b"
)
_SYSTEMIC_FORM_WORDS = frozenset({"transdermal", "patch"})
_ER_WORDS = re.compile(r"\b(er|xr|xl|sr|cr|la|extended|sustained|controlled|12 ?hr|24 ?hr)\b")


# Names the catalog produces for one moiety that the rules know under another.
_ALIASES = {
    "dabigatran etexilate": "dabigatran",
    "valproic acid": "valproate",
    "divalproex": "valproate",
    "mycophenolate mofetil": "mycophenolate",
    "mycophenolic acid": "mycophenolate",
    "acetylsalicylic acid": "aspirin",
}


def canonical(name: str) -> str:
    """The name the rule tables use for ingredient ``name``."""
    return _ALIASES.get(name, name)


def ingredient_map(drug: Drug) -> dict[str, str]:
    """Rule name → the drug's own ingredient name (the key of ``drug.daily_dose``)."""
    return {canonical(n): n for n in sorted(drug.names)}


def age_years(ctx: Context) -> int | None:
    return ctx.patient.age_on(ctx.today)


def _text(drug: Drug) -> str:
    return f" {drug.dosage_form} {drug.label} ".lower().replace("-", " ").replace(",", " ")


def is_oral(drug: Drug) -> bool:
    """Taken by mouth: a recorded oral route, or no route and no non-oral form word
    ("gelcap" and "infant drops" are oral; "gel", "cream", "eye drops", "patch" are not)."""
    route = drug.route.strip().lower()
    if route:
        return route in _ORAL_ROUTES
    return _LOCAL_WORDS.search(_text(drug)) is None


def is_local(drug: Drug) -> bool:
    """Topical, eye, ear, vaginal, nasal, inhaled or rectal: acts mostly where applied.
    Transdermal patches and injections act on the whole body and are not local."""
    route = drug.route.strip().lower()
    if route:
        systemic = route in _ORAL_ROUTES or any(w in route for w in _SYSTEMIC_ROUTE_WORDS)
        return not systemic
    found = {m.group(1) for m in _LOCAL_WORDS.finditer(_text(drug))}
    return bool(found - _SYSTEMIC_FORM_WORDS)


def is_extended_release(drug: Drug) -> bool:
    return _ER_WORDS.search(_text(drug)) is not None


def mentions(drug: Drug, *words: str) -> bool:
    """Any of ``words`` appears as a whole word in the drug's form or label."""
    text = _text(drug)
    return any(re.search(rf"\b{re.escape(w)}\b", text) for w in words)


def daily_mg(drug: Drug, name: str) -> Decimal | None:
    dose = drug.daily_dose.get(name)
    return dose if dose is not None and dose > 0 else None


def is_new_start(ctx: Context, names: frozenset[str]) -> bool:
    """No drug on the active profile holds any of ``names``: the proposed drug starts it."""
    return not any(d.names & names for d in ctx.profile if d != ctx.proposed)


def alert_key(rule: str, names: frozenset[str] | set[str] | tuple[str, ...]) -> str:
    """Stable id ``<rule>|<sorted drug names>``: finds a pharmacist's resolution again."""
    return f"{rule}|{','.join(sorted(names))}"


def fmt_mg(value: Decimal) -> str:
    """A dose for a message: no trailing zeros, no exponent ("4000", "0.125")."""
    return format(value.normalize(), "f")
