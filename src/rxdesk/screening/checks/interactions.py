"""Drug–drug interactions (NCPDP DUR reason "DD"): the proposed drug against each drug of
the active profile, through the loaded knowledge base (rxdesk.screening.kb).

Pure: the index is passed in (``kb.load_index()`` in the engine, ``kb.index_from_csv`` in
tests). A drug matches a rule side by any of its ingredients, or by a class key the rule
names (``class:<key>``) — a class the knowledge base lists members for, or one of rxdesk's
own classes in ``Drug.classes``. Either drug may be the object or the precipitant.

One alert per (rule, pair of drugs). A drug never interacts with itself: a match only
through the same ingredient on both sides (e.g. citalopram against a refill of citalopram,
both "QT-prolonging") is no interaction — duplication is another check's business."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rxdesk.screening.types import RANK, Alert, Context, Drug

if TYPE_CHECKING:
    from rxdesk.screening.kb import InteractionIndex, Rule

TYPE = "DD"
_OTHER = {"object": "precipitant", "precipitant": "object"}

# rule -> side -> the drug's ingredient names that put it on that side
Hits = dict["Rule", dict[str, set[str]]]


def _names(drug: Drug) -> frozenset[str]:
    return drug.names or frozenset({drug.label.lower()})


def hits(drug: Drug, index: InteractionIndex) -> Hits:
    """The rules ``drug`` takes part in, with the side(s) and the ingredients doing it."""
    out: Hits = {}
    for name in drug.names:
        for rule, side in index.get(name):
            out.setdefault(rule, {}).setdefault(side, set()).add(name)
    if drug.classes:
        whole = _names(drug)
        for key in drug.classes:
            for rule, side in index.get("class:" + key):
                out.setdefault(rule, {}).setdefault(side, set()).update(whole)
    return out


def _interacts(mine: dict[str, set[str]], theirs: dict[str, set[str]]) -> bool:
    """Some ingredient of one drug on a side, and a DIFFERENT one of the other drug on the
    other side."""
    for side, names in mine.items():
        others = theirs.get(_OTHER[side])
        if others and any(a != b for a in names for b in others):
            return True
    return False


def drug_key(drug: Drug) -> str:
    """How a drug is named in an alert key: its sorted ingredient names."""
    return "+".join(sorted(_names(drug)))


def check(ctx: Context, index: InteractionIndex) -> list[Alert]:
    """DD alerts for ``ctx.proposed`` against ``ctx.profile``, worst first."""
    proposed = hits(ctx.proposed, index)
    if not proposed:
        return []
    alerts: dict[str, Alert] = {}
    mine = drug_key(ctx.proposed)
    for drug in ctx.profile:
        for rule, sides in hits(drug, index).items():
            own = proposed.get(rule)
            if own is None or not _interacts(own, sides):
                continue
            a, b = sorted((mine, drug_key(drug)))
            key = f"dd:{rule.source_key}:{rule.rule_id}|{a}|{b}"
            if key in alerts:
                continue
            alerts[key] = Alert(
                type=TYPE,
                severity=rule.severity,
                drugs=(ctx.proposed.label, drug.label),
                message=rule.message,
                consequence=rule.consequence,
                action=rule.action,
                source=rule.source,
                key=key,
            )
    return sorted(alerts.values(), key=lambda al: (-RANK[al.severity], al.key))
