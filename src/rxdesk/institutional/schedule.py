"""Administration times of a long-term-care order, from its directions (pure: no database).

A facility gives medications at its pass times, each in a slot of the day (morning, noon,
evening, bedtime). An order's sig names how often (``1 CAP PO BID``); the usual times for
that frequency are the facility's pass times of the matching slots. Anything the rules do
not recognise gives no times: the technician picks them (a guess here would put a dose on
the MAR that nobody ordered). An as-needed (PRN) order has no scheduled times."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from rxdesk.institutional.choices import Slot

# The slots each frequency is given in, in the order of the day.
MORNING, NOON, EVENING, BEDTIME = Slot.MORNING, Slot.NOON, Slot.EVENING, Slot.BEDTIME
FREQUENCY_SLOTS: dict[str, tuple[str, ...]] = {
    "QD": (MORNING,),
    "DAILY": (MORNING,),
    "QAM": (MORNING,),
    "BID": (MORNING, EVENING),
    "Q12H": (MORNING, EVENING),
    "TID": (MORNING, NOON, EVENING),
    "QID": (MORNING, NOON, EVENING, BEDTIME),
    "QHS": (BEDTIME,),
    "HS": (BEDTIME,),
}
# The same frequencies in words, as typed or as the English directions say them.
PHRASES: tuple[tuple[str, str], ...] = (
    (r"\bAT BEDTIME\b", "QHS"),
    (r"\bEVERY NIGHT AT BEDTIME\b", "QHS"),
    (r"\bFOUR TIMES (A|PER|EACH) DAY\b|\bFOUR TIMES DAILY\b", "QID"),
    (r"\bTHREE TIMES (A|PER|EACH) DAY\b|\bTHREE TIMES DAILY\b", "TID"),
    (r"\bTWICE (A|PER|EACH) DAY\b|\bTWICE DAILY\b|\bTWO TIMES (A|PER) DAY\b", "BID"),
    (r"\bEVERY 12 HOURS\b", "Q12H"),
    (r"\bONCE (A|PER|EACH) DAY\b|\bONCE DAILY\b|\bEVERY DAY\b|\bEVERY MORNING\b", "QD"),
)
PRN_WORDS = re.compile(r"\bPRN\b|\bAS NEEDED\b|\bIF NEEDED\b")
TIME_TEXT = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def clock(value: dt.time) -> str:
    """A pass time as the MAR and the order's times write it: ``"08:00"``."""
    return f"{value.hour:02d}:{value.minute:02d}"


def parse_clock(text: str) -> dt.time | None:
    """``"08:00"`` (or ``"8:00"``) to a time; None when it is not a clock time."""
    raw = str(text or "").strip()
    if re.fullmatch(r"\d:[0-5]\d", raw):
        raw = "0" + raw
    found = TIME_TEXT.match(raw)
    if found is None:
        return None
    return dt.time(int(found.group(1)), int(found.group(2)))


def frequency_of(directions: str) -> str | None:
    """The frequency code a sig names (``"BID"``), ``"PRN"`` for an as-needed order, or None
    when none (or more than one) is recognised."""
    text = " ".join(str(directions or "").upper().replace(".", " ").split())
    if not text:
        return None
    if PRN_WORDS.search(text):
        return "PRN"
    for pattern, code in PHRASES:  # words first: "twice daily" is not "daily"
        text = re.sub(pattern, f" {code} ", text)
    codes = {tok for tok in re.split(r"[\s,;/]+", text) if tok in FREQUENCY_SLOTS}
    slots = {FREQUENCY_SLOTS[c] for c in codes}
    if len(slots) != 1:
        return None  # nothing recognised, or two frequencies that disagree: ask a person
    return sorted(codes)[0]


def default_times(directions: str, pass_times: Sequence[tuple[dt.time, str]]) -> list[str]:
    """The usual administration times (``["08:00", "17:00"]``) of an order with these
    directions at a facility with these pass times ``[(time, slot)]``: the first pass time
    of each slot the frequency is given in. PRN, an unknown frequency, or a facility without
    a pass time in one of the slots needed: ``[]`` (the technician picks)."""
    code = frequency_of(directions)
    if code is None or code == "PRN":
        return []
    first_of_slot: dict[str, dt.time] = {}
    for time, slot in sorted(pass_times, key=lambda pair: pair[0]):
        first_of_slot.setdefault(str(slot), time)
    wanted = FREQUENCY_SLOTS[code]
    if any(slot not in first_of_slot for slot in wanted):
        return []
    return sorted(clock(first_of_slot[slot]) for slot in wanted)


def doses_per_day(times: Iterable[str], dose: Decimal) -> Decimal:
    """Units given in a day: the dose at each of the order's times."""
    if isinstance(dose, float):
        raise TypeError("A dose is a Decimal, never a float.")
    return Decimal(len(list(times))) * Decimal(dose)
