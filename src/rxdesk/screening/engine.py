"""The screening engine: every check over one Context, one ranked list of alerts.

Pure orchestration (no Django, no database here): the interaction knowledge base arrives
as an already loaded index (rxdesk.screening.kb caches it per process and reloads it when
a knowledge base is imported), so screening a new drug against a 15-drug profile is a few
dictionary look-ups per check — well under the 5 ms the counter needs (bench/screening_bench.py).

The ranking follows the tiering evidence (Paterno 2009; reference §7.7): what interrupts
first (contraindicated, then major), then what is only listed, worst first. Two checks
that find the same thing (same key) give one alert, the more severe."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rxdesk.screening.types import RANK, Alert, Context

Check = Callable[[Context], list[Alert]]


def _checks() -> tuple[Check, ...]:
    from rxdesk.screening.checks import (
        age,
        allergy,
        dose,
        duplication,
        opioids,
        pregnancy,
        refills,
        renal,
    )

    return (
        allergy.check,
        duplication.check,
        dose.check,
        opioids.check,
        age.check,
        pregnancy.check,
        renal.check,
        refills.check,
    )


_CHECKS: tuple[Check, ...] | None = None


def checks() -> tuple[Check, ...]:
    """The context-only checks, in the order they run (imported once)."""
    global _CHECKS
    if _CHECKS is None:
        _CHECKS = _checks()
    return _CHECKS


def rank_key(alert: Alert) -> tuple[int, int, str, str]:
    """Interrupting first, then worse first, then by DUR code and key (stable order)."""
    return (0 if alert.interrupts else 1, -RANK[alert.severity], alert.type, alert.key)


def merge(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per key (the most severe when two checks raise the same), ranked."""
    best: dict[str, Alert] = {}
    for alert in alerts:
        kept = best.get(alert.key)
        if kept is None or RANK[alert.severity] > RANK[kept.severity]:
            best[alert.key] = alert
    return sorted(best.values(), key=rank_key)


def screen(ctx: Context, index: Any = None, *, only: Sequence[Check] | None = None) -> list[Alert]:
    """Every check over ``ctx``: drug–drug interactions against ``index`` (the loaded
    knowledge base; loaded — and cached — when None), then allergy, duplication, dose,
    opioids, age, pregnancy and lactation, kidneys and refills. ``only`` runs just those
    context checks (tests)."""
    from rxdesk.screening.checks import interactions

    if index is None:
        from rxdesk.screening.kb import load_index

        index = load_index()
    found: list[Alert] = list(interactions.check(ctx, index))
    for check in checks() if only is None else only:
        found.extend(check(ctx))
    return merge(found)
