"""Where the fill workflow calls the parts built in later issues: clinical screening at
data verification, and the claim after it (and its reversal on return to stock).

Those apps register their functions here when they are installed (in their AppConfig
``ready``). With none registered the workflow goes on, and the fill's history says so
("no clinical screening configured", "no claim: cash"), so nobody mistakes a step that did
not run for one that passed. Nothing here pretends to screen or bill."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rxdesk.core.models import User
    from rxdesk.rx.models import Fill


@dataclass(frozen=True)
class Outcome:
    """What a seam did: ``ran`` is False when nothing is registered. ``blocking`` lists
    problems that stop the step (e.g. an interaction the pharmacist has not overridden),
    each as {"field", "message"}; ``record`` is kept in the fill's history."""

    ran: bool
    note: str
    blocking: list[dict[str, str]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)


Screening = Callable[["Fill", "User"], Outcome]
Claim = Callable[["Fill", "User | None"], Outcome]

_screening: list[Screening] = []
_claims: list[Claim] = []
_reversals: list[Claim] = []
_checks: list[Claim] = []


def register_screening(check: Screening) -> None:
    if check not in _screening:
        _screening.append(check)


def register_claim(submit: Claim, reverse: Claim, check: Claim | None = None) -> None:
    """``submit`` runs at data verification (its blocking problems stop it), ``reverse`` on
    return to stock and cancellation, ``check`` at final verification (e.g. the NDC in the
    bottle is the NDC billed)."""
    if submit not in _claims:
        _claims.append(submit)
        _reversals.append(reverse)
        if check is not None:
            _checks.append(check)


def _run(hooks: list[Any], none_note: str, *args: Any) -> Outcome:
    if not hooks:
        return Outcome(ran=False, note=none_note)
    outcomes = [hook(*args) for hook in hooks]
    return Outcome(
        ran=True,
        note="; ".join(o.note for o in outcomes if o.note),
        blocking=[b for o in outcomes for b in o.blocking],
        record={"results": [o.record for o in outcomes]},
    )


def screen(fill: Fill, actor: User) -> Outcome:
    return _run(_screening, "No clinical screening is configured.", fill, actor)


def claim(fill: Fill, actor: User | None) -> Outcome:
    return _run(_claims, "No claim sent: no claims processing is configured (cash).", fill, actor)


def claim_reverse(fill: Fill, actor: User | None) -> Outcome:
    return _run(_reversals, "No claim to reverse.", fill, actor)


def claim_check(fill: Fill, actor: User | None) -> Outcome:
    return _run(_checks, "", fill, actor)
