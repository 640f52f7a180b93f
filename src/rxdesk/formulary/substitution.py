"""Generic substitution rules (no database): whether a prescription's DAW code lets the
pharmacy offer a therapeutically equivalent product, and how the offered products rank.

NCPDP 408-D8 product selection (DAW) codes, and what rxdesk does with each:

* 0 — no product selection indicated: substitution allowed; offer the A-rated equivalents.
* 1 — substitution not allowed by the prescriber: none offered (the prescriber's call).
* 2 — substitution allowed, patient requested the product dispensed: none offered (the
  patient asked for this product; change it only if the patient changes their mind).
* 3 — substitution allowed, pharmacist selected the product: offer (the pharmacist chooses).
* 4 — substitution allowed, generic not in stock: offer (stock is ranked; a generic may have
  arrived since).
* 5 — substitution allowed, brand dispensed as a generic: offer (the pharmacy may still
  choose another equivalent).
* 6 — override (a payer-specific use): offer, and say to check the plan's instructions.
* 7 — substitution not allowed, brand mandated by law: none offered (state law).
* 8 — substitution allowed, generic not available in the marketplace: none offered (the
  code says none exists; if one has reached the market, the code needs changing first).
* 9 — substitution allowed by the prescriber but the plan requests the brand: keep the
  brand; none offered.

Only A-rated products are ever offered (Orange Book TE code starting with A); the catalog's
``equivalents`` already keeps to the same ingredient, strength and form, and a numbered code
(AB1, AB2) to its own group. Ranking: on formulary (preferred, then on formulary, then
restricted, then no entry, then non-formulary), in stock at the site, cheapest per unit
(latest acquisition cost; unknown last), then name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

DAW_CODES = range(10)


@dataclass(frozen=True)
class DawRule:
    """What a DAW code means for substitution: whether to offer, and why in words."""

    code: int
    offer: bool
    reason: str


_RULES: dict[int, tuple[bool, str]] = {
    0: (True, "No product selection indicated: an A-rated equivalent may be dispensed."),
    1: (False, "DAW 1: the prescriber wrote 'dispense as written'. No substitution."),
    2: (
        False,
        "DAW 2: the patient asked for the product as written. No substitution unless the "
        "patient changes their mind (and the DAW code with it).",
    ),
    3: (True, "DAW 3: the pharmacist selects the product; an A-rated equivalent may be used."),
    4: (True, "DAW 4: the generic was not in stock; check again, equivalents are listed."),
    5: (True, "DAW 5: the brand is dispensed as a generic; another equivalent may be chosen."),
    6: (True, "DAW 6: override. Check the plan's instructions before changing the product."),
    7: (False, "DAW 7: the brand is required by law. No substitution."),
    8: (
        False,
        "DAW 8: no generic is on the market. If one is now available, correct the DAW code first.",
    ),
    9: (False, "DAW 9: the plan asks for the brand. Keep the brand; no substitution."),
}


def daw_rule(code: int) -> DawRule:
    """The substitution rule of a DAW code (0–9); ValueError for any other code."""
    if code not in _RULES:
        raise ValueError(f"DAW code {code!r} is not 0 to 9")
    offer, reason = _RULES[code]
    return DawRule(code=code, offer=offer, reason=reason)


def a_rated(te_code: str) -> bool:
    """Whether a TE code field carries an A rating ('AB', 'AB1,AB2', 'AA', 'AN' …)."""
    return any(
        c.strip().upper().startswith("A") for c in (te_code or "").replace(";", ",").split(",")
    )


# Lower ranks first. A product with no entry sits between restricted and non-formulary.
STATUS_RANK = {"preferred": 0, "formulary": 1, "restricted": 2, "": 3, "non_formulary": 4}


@dataclass(frozen=True)
class Candidate:
    """An equivalent product as the ranking sees it."""

    product_id: int
    name: str
    te_code: str
    formulary_status: str = ""
    on_hand: Decimal = Decimal(0)
    unit_cost: Decimal | None = None

    @property
    def in_stock(self) -> bool:
        return self.on_hand > 0


def rank_key(c: Candidate) -> tuple[int, int, int, Decimal, str, int]:
    return (
        STATUS_RANK.get(c.formulary_status, 3),
        0 if c.in_stock else 1,
        0 if c.unit_cost is not None else 1,
        c.unit_cost if c.unit_cost is not None else Decimal(0),
        c.name.lower(),
        c.product_id,
    )


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The A-rated candidates, best first (B-rated and unrated ones are dropped)."""
    return sorted((c for c in candidates if a_rated(c.te_code)), key=rank_key)


def offered(daw: int, candidates: Iterable[Candidate]) -> list[Candidate]:
    """What may be offered under ``daw``: the ranked A-rated candidates, or nothing."""
    return rank(candidates) if daw_rule(daw).offer else []
