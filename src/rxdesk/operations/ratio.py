"""The technician-to-pharmacist ratio (no database): given who would be on duty and the
state's rule, whether it is within the rule, and a sentence a technician understands.

The rule is the site's (``OperationsSettings``): technicians allowed per pharmacist on
duty, or None where the state sets no limit. With no pharmacist on duty a technician is
always flagged, whatever the limit: technicians work under a pharmacist's supervision, so
time alone (opening tasks) is recorded with its reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RatioCheck:
    technicians: int
    pharmacists: int
    limit: int | None
    over: bool
    allowed: int | None  # the most technicians allowed with these pharmacists (None: no limit)
    sentence: str


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def line(technicians: int, pharmacists: int, limit: int | None) -> str:
    """The ratio line of the duty board: "2 technicians · 1 pharmacist · state allows 3 per
    pharmacist"."""
    rule = "no state limit" if limit is None else f"state allows {limit} per pharmacist"
    return f"{_n(technicians, 'technician')} · {_n(pharmacists, 'pharmacist')} · {rule}"


def check(technicians: int, pharmacists: int, limit: int | None) -> RatioCheck:
    """Whether ``technicians`` on duty with ``pharmacists`` keep within ``limit``."""
    if technicians < 0 or pharmacists < 0:
        raise ValueError("counts cannot be negative")
    if limit is not None and limit < 1:
        raise ValueError("a limit is at least 1 technician per pharmacist")
    allowed = None if limit is None else limit * pharmacists
    if technicians > 0 and pharmacists == 0:
        return RatioCheck(
            technicians,
            0,
            limit,
            True,
            allowed,
            f"{_n(technicians, 'technician')} would be on duty with no pharmacist; "
            "a technician works under a pharmacist's supervision.",
        )
    if allowed is not None and technicians > allowed:
        return RatioCheck(
            technicians,
            pharmacists,
            limit,
            True,
            allowed,
            f"{_n(technicians, 'technician')} would be on duty with "
            f"{_n(pharmacists, 'pharmacist')}; the state allows {limit} per pharmacist "
            f"({allowed} in all).",
        )
    return RatioCheck(
        technicians, pharmacists, limit, False, allowed, line(technicians, pharmacists, limit)
    )
