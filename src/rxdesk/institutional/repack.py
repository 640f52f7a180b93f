"""Beyond-use dates of repackaged unit doses and of med paks (reference §6.2 and §6.3). Pure:
no database, tested directly and with hypothesis.

Who sets a repackaged unit dose's date is a per-jurisdiction setting
(:class:`~rxdesk.institutional.choices.RepackRule`):

* a state-licensed pharmacy (USP; Illinois, Maryland, Nevada…): 12 months from repackaging
  or the manufacturer's expiry, whichever comes first;
* an FDA-registered repackager (CPG 480.200, USP <1178>): 6 months, or 25 % of the time
  left to the manufacturer's expiry, or that expiry — the earliest;
* a board's own limit in months, capped by the expiry.

A med pak (customized patient medication package) is good for at most 60 days from its
preparation and never past the earliest expiry of any drug in it.

Whatever the rule, a date is never after the source's expiry and never before the day of
repackaging or preparation; an expired source is refused."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from rxdesk.core.errors import Invalid
from rxdesk.institutional.choices import RepackRule

MED_PAK_MAX_DAYS = 60  # USP: not later than 60 days from the date of preparation
MAX_MONTHS = 12
STATE_MONTHS = 12
FDA_MONTHS = 6


@dataclass(frozen=True)
class Bud:
    """A beyond-use date and, in words, which limit set it."""

    date: dt.date
    rule_text: str


def us(day: dt.date) -> str:
    return f"{day:%m/%d/%Y}"


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or that month's last day (Aug 31 + 6 months = the
    last day of February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _expiry_first(expiry: dt.date, instead: str) -> str:
    return f"the manufacturer's expiry {us(expiry)} comes first ({instead})"


def repack_bud(
    rule: str, months: int | None, repackaged_on: dt.date, expiry: dt.date | None
) -> Bud:
    """The beyond-use date of unit doses repackaged on ``repackaged_on`` from a source lot
    expiring on ``expiry`` under ``rule`` (``months`` is the custom rule's limit).

    Raises :class:`Invalid` naming ``lot`` for a source without an expiry or already
    expired, ``repack_rule`` / ``repack_months`` for a rule that is not one of ours."""
    if expiry is None:
        raise Invalid(
            "The source lot has no expiry date on file: a beyond-use date cannot be set "
            "without it. Check the package and correct the lot.",
            field="lot",
        )
    if expiry < repackaged_on:
        raise Invalid(
            f"The source lot expired on {us(expiry)}: expired stock is never repackaged.",
            field="lot",
        )
    if rule == RepackRule.STATE_12_MONTHS:
        limit = add_months(repackaged_on, STATE_MONTHS)
        if expiry <= limit:
            return Bud(expiry, _expiry_first(expiry, f"12 months would be {us(limit)}"))
        return Bud(limit, f"12 months from repackaging ({us(limit)})")
    if rule == RepackRule.FDA_6_MONTHS_25:
        six = add_months(repackaged_on, FDA_MONTHS)
        left = (expiry - repackaged_on).days
        quarter_days = left // 4  # 25 % of the days left, rounded down: never longer
        quarter = repackaged_on + dt.timedelta(days=quarter_days)
        if expiry <= six and expiry <= quarter:
            return Bud(expiry, _expiry_first(expiry, "the day of repackaging"))
        if quarter < six:
            return Bud(
                quarter,
                f"25 % of the {left} days left to the manufacturer's expiry {us(expiry)}: "
                f"{quarter_days} days ({us(quarter)})",
            )
        return Bud(six, f"6 months from repackaging ({us(six)})")
    if rule == RepackRule.CUSTOM_MONTHS:
        if isinstance(months, bool) or not isinstance(months, int):
            raise Invalid("Give the board's limit in whole months.", field="repack_months")
        if not 1 <= months <= MAX_MONTHS:
            raise Invalid(
                f"The board's limit is 1 to {MAX_MONTHS} months ({months} given).",
                field="repack_months",
            )
        limit = add_months(repackaged_on, months)
        words = f"{months} month{'s' if months != 1 else ''}"
        if expiry <= limit:
            return Bud(expiry, _expiry_first(expiry, f"{words} would be {us(limit)}"))
        return Bud(limit, f"{words} from repackaging, the board's limit ({us(limit)})")
    raise Invalid(
        "Choose the repackaging rule: state 12 months, FDA 6 months or 25 %, or the board's "
        "own months.",
        field="repack_rule",
    )


def med_pak_bud(prepared_on: dt.date, days_limit: int, expiries: Iterable[dt.date]) -> Bud:
    """A med pak's beyond-use date: ``days_limit`` (at most 60) days from preparation, or the
    earliest manufacturer's expiry of its drugs if that comes first. Raises :class:`Invalid`
    for a limit out of range (``med_pak_days``) or a drug already expired (``items``)."""
    if isinstance(days_limit, bool) or not isinstance(days_limit, int):
        raise Invalid("Give the med pak limit in whole days.", field="med_pak_days")
    if not 1 <= days_limit <= MED_PAK_MAX_DAYS:
        raise Invalid(
            f"A med pak's beyond-use limit is 1 to {MED_PAK_MAX_DAYS} days ({days_limit} given).",
            field="med_pak_days",
        )
    limit = prepared_on + dt.timedelta(days=days_limit)
    dates = sorted(expiries)
    earliest = dates[0] if dates else None
    if earliest is not None and earliest < prepared_on:
        raise Invalid(
            f"A drug in the pak expired on {us(earliest)}: expired stock is never packaged.",
            field="items",
        )
    if earliest is not None and earliest <= limit:
        return Bud(
            earliest,
            f"the earliest manufacturer's expiry {us(earliest)} comes first "
            f"({days_limit} days would be {us(limit)})",
        )
    return Bud(limit, f"{days_limit} days from preparation ({us(limit)})")
