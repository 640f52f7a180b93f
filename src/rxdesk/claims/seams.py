"""Where later programs mark a claim before it is sent: 340B (submission clarification
code 20 where the payer asks for it, basis of cost 08) and medication synchronization
(code 47, a shortened days supply to align fills).

A program registers a function in its AppConfig ``ready``; the claim builder asks each
one about the fill and the plan it is billing, and merges what they say into the request
(codes the claim already carries — a technician's resubmission — come first; duplicates
are dropped; NCPDP allows at most three). With none registered a claim is sent as typed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rxdesk.claims.models import Plan
    from rxdesk.rx.models import Fill


@dataclass(frozen=True)
class ClaimMarks:
    """What a program adds to one claim: 420-DK submission clarification codes, and a
    423-DN basis of cost determination that replaces the price's own (e.g. "08" for 340B
    acquisition cost); empty means "nothing to add"."""

    clarification_codes: tuple[str, ...] = ()
    basis_of_cost: str = ""


ClaimMarker = Callable[["Fill", "Plan"], ClaimMarks]

_markers: list[ClaimMarker] = []


def register_claim_marker(marker: ClaimMarker) -> None:
    if marker not in _markers:
        _markers.append(marker)


def marks_for(fill: Fill, plan: Plan, given: tuple[str, ...] = ()) -> ClaimMarks:
    """The codes to send for ``fill`` billed to ``plan``: ``given`` (the claim's own) then
    every registered program's, without duplicates, at most three; the last program that
    names a basis of cost wins."""
    codes = list(dict.fromkeys(c for c in given if c))
    basis = ""
    for marker in _markers:
        marks = marker(fill, plan)
        for code in marks.clarification_codes:
            if code not in codes:
                codes.append(code)
        basis = marks.basis_of_cost or basis
    return ClaimMarks(clarification_codes=tuple(codes[:3]), basis_of_cost=basis)
