"""The rules of every schedule: may this prescription be taken in, filled, refilled now,
or transferred — and if not, why, in words a technician can act on.

Pure functions over small frozen dataclasses: no Django, no database, no clock (``today``
is always a parameter). The prescription services, the API and the screens call these and
turn a refusal into a ``DomainError``.

Sources (paraphrased in the team reference, controlled-substances.md §4 and §8.3):

* 21 CFR 1306.11 — Schedule II needs a written or electronic prescription; a fax is only
  enough for long-term-care residents, hospice patients and home-infusion compounds; an
  emergency oral order must be followed by a written one within 7 days.
* 21 CFR 1306.12 — no Schedule II refills; several Schedule II prescriptions written on one
  day for up to a 90-day supply, each with its "do not fill before" date.
* 21 CFR 1306.13 (as amended by 88 FR 46983, effective 21 Aug 2023) — Schedule II partial
  fills: 72 hours when the pharmacy cannot supply; 30 days from writing when the patient or
  prescriber asks (72 hours after issue for an emergency oral order); 60 days from issue
  for long-term-care and terminally ill patients; never more than the quantity written.
* 21 CFR 1306.22–1306.23 — Schedules III and IV: no fill more than 6 months after the date
  written, no more than 5 refills; partial fills are recorded like refills and together
  never exceed the total prescribed (quantity × (1 + refills)).
* 21 CFR 1306.25 — Schedules III–V refill transfers: once only, unless both pharmacies
  share a real-time online database. 21 CFR 1306.08(e) (effective 28 Aug 2023) — an
  unfilled electronic Schedule II–V prescription may be transferred once for initial filling.
* State law: prescription expiry and the refill-too-soon thresholds are ``StateRules``
  parameters; the defaults are the common ones (non-controlled and Schedule V: 1 year;
  Schedule II: no expiry, which is the federal rule — many states set one, e.g. 90 days).

Dates, not times: a fill is recorded by its date. The 72-hour windows are checked exactly
when both timestamps are given (``FillRecord.filled_at`` and ``now``); otherwise the window
is taken to end two days after the day it started, which is never later than 72 hours.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import IntEnum, StrEnum

__all__ = [
    "CIII_CIV_MAX_REFILLS",
    "CII_SERIES_MAX_DAYS",
    "EMERGENCY_FOLLOW_UP_DAYS",
    "MAX_QUANTITY",
    "MAX_REFILLS",
    "FillDecision",
    "FillRecord",
    "Origin",
    "PartialReason",
    "Period",
    "RuleError",
    "RuleProblem",
    "RxFacts",
    "Schedule",
    "StateRules",
    "TooSoon",
    "TransferDecision",
    "emergency_follow_up_due",
    "expires_on",
    "fill_allowed",
    "refill_too_soon",
    "transfer_allowed",
    "validate_new_prescription",
]

# 21 CFR 1306.22(a): Schedules III and IV, at most 5 refills.
CIII_CIV_MAX_REFILLS = 5
# 21 CFR 1306.12(b)(1)(iii): a series of Schedule II prescriptions covers at most 90 days.
CII_SERIES_MAX_DAYS = 90
# 21 CFR 1306.11(d)(4): the written follow-up of an emergency oral Schedule II order.
EMERGENCY_FOLLOW_UP_DAYS = 7
# NCPDP "Number of Refills Authorized" (415-DF) holds two digits.
MAX_REFILLS = 99
# A quantity above this is a typing slip (a package count typed as units, a day count as
# tablets), not a prescription; the service may pass a different limit.
MAX_QUANTITY = Decimal("10000")
# NCPDP quantities carry three implied decimals (9(7)v999).
_QUANTITY_EXPONENT = -3

# Conservative date-only stand-in for "72 hours": two days after the starting day always
# falls within 72 hours of any moment of that day.
_HOURS_72 = dt.timedelta(hours=72)
_DAYS_WITHIN_72_HOURS = 2
_CARA_PARTIAL_DAYS = 30  # 21 CFR 1306.13(b)
_LTC_PARTIAL_DAYS = 60  # 21 CFR 1306.13(c)


class RuleError(ValueError):
    """Input the rules cannot work with (a float quantity, a negative count, an unknown
    schedule code). ``field`` names the input; the message can be shown as it is."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Schedule(StrEnum):
    """DEA schedule, spelled as the catalog stores it ("" for a non-controlled drug)."""

    NONE = ""
    CI = "CI"
    CII = "CII"
    CIII = "CIII"
    CIV = "CIV"
    CV = "CV"

    @classmethod
    def from_code(cls, code: str | None) -> Schedule:
        """The schedule for a catalog code ("CII"…"CV", "" or None for non-controlled)."""
        cleaned = (code or "").strip().upper()
        try:
            return cls(cleaned)
        except ValueError:
            raise RuleError(
                f"Unknown DEA schedule {code!r}: use CI, CII, CIII, CIV, CV or leave it empty.",
                field="schedule",
            ) from None

    @property
    def is_controlled(self) -> bool:
        return self is not Schedule.NONE

    @property
    def label(self) -> str:
        """ "Schedule IV", or "non-controlled", for messages."""
        if self is Schedule.NONE:
            return "non-controlled"
        return f"Schedule {self.value[1:]}"


class Origin(IntEnum):
    """NCPDP Prescription Origin Code (field 419-DJ)."""

    NOT_KNOWN = 0
    WRITTEN = 1
    TELEPHONE = 2
    ELECTRONIC = 3
    FACSIMILE = 4
    PHARMACY = 5  # transferred in from another pharmacy


class PartialReason(StrEnum):
    """Why a Schedule II prescription is dispensed in part; each has its own window."""

    PHARMACY_SHORTAGE = "pharmacy_shortage"  # 1306.13(a): 72 hours
    PATIENT_REQUEST = "patient_request"  # 1306.13(b): 30 days from writing
    PRESCRIBER_REQUEST = "prescriber_request"  # 1306.13(b)
    LTC_PATIENT = "ltc_patient"  # 1306.13(c): 60 days from issue
    TERMINALLY_ILL = "terminally_ill"  # 1306.13(c)


@dataclass(frozen=True)
class Period:
    """A length of time counted from the date written: calendar months, then days."""

    months: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        if self.months < 0 or self.days < 0 or (self.months == 0 and self.days == 0):
            raise RuleError("A period must be some months or days.", field="period")

    def after(self, start: dt.date) -> dt.date:
        """``start`` plus this period; 6 months after 31 August is 28 (or 29) February."""
        index = start.month - 1 + self.months
        year, month = start.year + index // 12, index % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return dt.date(year, month, day) + dt.timedelta(days=self.days)

    def __str__(self) -> str:
        parts = []
        if self.months:
            years, months = divmod(self.months, 12)
            if years and not months:
                parts.append(_plural(years, "year"))
            else:
                parts.append(_plural(self.months, "month"))
        if self.days:
            parts.append(_plural(self.days, "day"))
        return " and ".join(parts)


_SIX_MONTHS = Period(months=6)  # 21 CFR 1306.22(a)
_ONE_YEAR = Period(months=12)


@dataclass(frozen=True)
class StateRules:
    """What the dispensing pharmacy's state adds to the federal rules.

    Expiry periods run from the date written; ``None`` means no expiry. Schedule III and IV
    always keep the federal 6 months, and ``ciii_civ_expiry`` can only make it shorter.
    Refill thresholds are the share of the last fill's days supply that must pass before
    the next fill (0.80 → a 30-day fill may be refilled on day 24).
    """

    noncontrolled_expiry: Period | None = _ONE_YEAR
    # Federal law sets no Schedule II expiry; many states do (e.g. 90 days) — configure it.
    cii_expiry: Period | None = None
    ciii_civ_expiry: Period | None = None
    cv_expiry: Period | None = _ONE_YEAR
    refill_threshold: Decimal = Decimal("0.80")
    controlled_refill_threshold: Decimal = Decimal("0.90")
    # 21 U.S.C. 829(f): patient-requested Schedule II partial fills "if not prohibited by
    # State law"; 21 CFR 1306.12(b): multiple Schedule II prescriptions "if permissible
    # under applicable State laws".
    cii_partial_on_request: bool = True
    cii_multiple_prescriptions: bool = True

    def __post_init__(self) -> None:
        for name in ("refill_threshold", "controlled_refill_threshold"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not Decimal(0) < value <= Decimal(1):
                raise RuleError(
                    "A refill threshold is a Decimal above 0 and at most 1.", field=name
                )


@dataclass(frozen=True)
class RuleProblem:
    """One reason a prescription cannot be taken in as typed."""

    field: str
    message: str


@dataclass(frozen=True)
class FillRecord:
    """A dispensing already made on the prescription (original, refill or partial)."""

    filled_on: dt.date
    quantity: Decimal
    partial_reason: PartialReason | None = None
    # Only needed for the exact 72-hour windows; must be timezone-aware.
    filled_at: dt.datetime | None = None


@dataclass(frozen=True)
class RxFacts:
    """What the fill rules need to know about one prescription.

    ``written_quantity`` is the quantity per fill. ``dispensed_elsewhere`` is the quantity
    already dispensed at other pharmacies before the prescription was transferred in
    (written quantity × fills used, from the transfer record); it counts against the total.
    """

    schedule: Schedule
    date_written: dt.date
    written_quantity: Decimal
    refills_authorized: int
    fills: tuple[FillRecord, ...] = ()
    do_not_fill_before: dt.date | None = None
    emergency_oral: bool = False
    transferred_out: bool = False
    dispensed_elsewhere: Decimal = Decimal(0)


@dataclass(frozen=True)
class FillDecision:
    """May the requested quantity be dispensed today, and where the prescription stands.

    ``code`` is stable for programs ("ok", "expired", "no_refills", …); ``reason`` says why
    not in words; ``note`` is a caution on an allowed fill. ``refills_remaining`` and
    ``quantity_remaining`` are before this fill. ``remainder_deadline`` is the last day the
    rest of a Schedule II partial fill may be dispensed (``remainder_deadline_at`` the exact
    moment, when the 72-hour rule applies and times are known).
    """

    allowed: bool
    code: str
    reason: str
    refills_remaining: int
    quantity_remaining: Decimal
    expires_on: dt.date | None
    is_partial: bool
    remainder_deadline: dt.date | None = None
    remainder_deadline_at: dt.datetime | None = None
    note: str = ""


@dataclass(frozen=True)
class TooSoon:
    """Refill timing: ``too_soon`` until ``fillable_on``; ``days_early`` counts the wait."""

    too_soon: bool
    fillable_on: dt.date
    days_early: int
    threshold: Decimal
    message: str


@dataclass(frozen=True)
class TransferDecision:
    """May this prescription be transferred to another pharmacy, and under which rule."""

    allowed: bool
    code: str
    reason: str
    rule: str = ""


# --- helpers ---------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _us(day: dt.date) -> str:
    return day.strftime("%m/%d/%Y")


def _qty(value: Decimal) -> str:
    """A quantity as a technician writes it: 30, 2.5, 0.75 — no trailing zeros."""
    return format(value.normalize(), "f")


def _decimal(value: object, name: str) -> Decimal:
    # Floats are refused: 0.1 tablets of binary floating point is not 0.1 tablets.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise RuleError(
            f"The {name.replace('_', ' ')} must be a whole or decimal number.", field=name
        )
    result = Decimal(value)
    if not result.is_finite():
        raise RuleError(f"The {name.replace('_', ' ')} is not a number.", field=name)
    return result


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError(f"The {name.replace('_', ' ')} must be a whole number.", field=name)
    return value


def _schedule(value: object) -> Schedule:
    if isinstance(value, Schedule):
        return value
    if value is None or isinstance(value, str):
        return Schedule.from_code(value)
    raise RuleError("The schedule must be a DEA schedule code.", field="schedule")


def _origin(value: object) -> Origin:
    try:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(value)
        return Origin(value)
    except ValueError:
        raise RuleError(
            f"Unknown prescription origin {value!r}: use an NCPDP origin code 0–5.",
            field="origin",
        ) from None


def _aware(moment: dt.datetime | None, name: str) -> dt.datetime | None:
    if moment is not None and moment.utcoffset() is None:
        raise RuleError("Times must carry a time zone.", field=name)
    return moment


def _expiry_period(schedule: Schedule, date_written: dt.date, state: StateRules) -> Period | None:
    if schedule is Schedule.NONE:
        return state.noncontrolled_expiry
    if schedule is Schedule.CII:
        return state.cii_expiry
    if schedule in (Schedule.CIII, Schedule.CIV):
        stricter = state.ciii_civ_expiry
        if stricter is not None and stricter.after(date_written) < _SIX_MONTHS.after(date_written):
            return stricter
        return _SIX_MONTHS
    if schedule is Schedule.CV:
        return state.cv_expiry
    return None  # Schedule I is never dispensed; nothing to expire.


def expires_on(
    *, schedule: Schedule, date_written: dt.date, state: StateRules | None = None
) -> dt.date | None:
    """The last day the prescription may be filled, or None when no rule limits it.

    21 CFR 1306.22(a) forbids a fill "more than six months after the date on which such
    prescription was issued", so the six-month date itself is still a fill day; state
    periods are read the same way.
    """
    period = _expiry_period(schedule, date_written, state or StateRules())
    return None if period is None else period.after(date_written)


def _expired_message(schedule: Schedule, date_written: dt.date, state: StateRules) -> str:
    period = _expiry_period(schedule, date_written, state)
    assert period is not None
    return (
        f"This {schedule.label} prescription was written on {_us(date_written)} and expired "
        f"on {_us(period.after(date_written))} ({period})."
    )


def emergency_follow_up_due(*, oral_order_date: dt.date) -> dt.date:
    """The last day the prescriber's written "Authorization for Emergency Dispensing" may
    arrive for an emergency oral Schedule II order; if it does not, the pharmacy must
    notify DEA (21 CFR 1306.11(d)(4))."""
    return oral_order_date + dt.timedelta(days=EMERGENCY_FOLLOW_UP_DAYS)


# --- intake ----------------------------------------------------------------------------


def validate_new_prescription(
    *,
    schedule: Schedule,
    origin: Origin,
    refills_authorized: int,
    date_written: dt.date,
    today: dt.date,
    quantity: Decimal,
    days_supply: int | None = None,
    emergency: bool = False,
    do_not_fill_before: dt.date | None = None,
    series_days_supply: int | None = None,
    ltc_facility: bool = False,
    hospice: bool = False,
    home_infusion: bool = False,
    electronic_original: bool = False,
    state: StateRules | None = None,
    max_quantity: Decimal = MAX_QUANTITY,
) -> list[RuleProblem]:
    """Every reason the prescription cannot be taken in as typed; empty when it can.

    ``ltc_facility``, ``hospice`` and ``home_infusion`` are the cases where a faxed
    Schedule II prescription serves as the original (21 CFR 1306.11(e)–(g)).
    ``electronic_original`` says a transferred-in prescription (origin 5) is the original
    electronic prescription, which is how a Schedule II may arrive by transfer
    (21 CFR 1306.08(e)). ``series_days_supply`` is the total days supply of a series of
    Schedule II prescriptions written the same day, when the prescriber sent several.
    """
    state = state or StateRules()
    schedule = _schedule(schedule)
    origin = _origin(origin)
    refills = _count(refills_authorized, "refills_authorized")
    qty = _decimal(quantity, "quantity")
    problems: list[RuleProblem] = []

    def problem(name: str, message: str) -> None:
        problems.append(RuleProblem(name, message))

    if schedule is Schedule.CI:
        problem(
            "schedule",
            "Schedule I drugs have no accepted medical use and cannot be dispensed on a "
            "prescription.",
        )

    # Quantity
    if qty <= 0:
        problem("quantity", "The quantity must be more than zero.")
    elif qty > max_quantity:
        problem(
            "quantity",
            f"A quantity of {_qty(qty)} is not plausible (the most accepted is "
            f"{_qty(max_quantity)}). Check the quantity and its unit.",
        )
    elif qty.as_tuple().exponent < _QUANTITY_EXPONENT:  # type: ignore[operator]
        problem("quantity", "A quantity has at most 3 decimal places.")

    if days_supply is not None and _count(days_supply, "days_supply") < 1:
        problem("days_supply", "The days supply must be at least 1.")

    # Refills
    if refills < 0:
        problem("refills_authorized", "Refills authorized cannot be negative.")
    elif schedule is Schedule.CII and refills > 0:
        problem(
            "refills_authorized",
            f"Schedule II prescriptions cannot have refills (21 CFR 1306.12(a)); this one "
            f"has {refills}. Enter 0 refills — for a longer supply the prescriber may write "
            f'several prescriptions with "do not fill before" dates.',
        )
    elif schedule in (Schedule.CIII, Schedule.CIV) and refills > CIII_CIV_MAX_REFILLS:
        problem(
            "refills_authorized",
            f"A {schedule.label} prescription may have at most {CIII_CIV_MAX_REFILLS} refills "
            f"(21 CFR 1306.22(a)); this one has {refills}.",
        )
    elif refills > MAX_REFILLS:
        problem("refills_authorized", f"Refills authorized cannot be more than {MAX_REFILLS}.")

    # Date written
    last_day = expires_on(schedule=schedule, date_written=date_written, state=state)
    if date_written > today:
        problem("date_written", f"The date written ({_us(date_written)}) is in the future.")
    elif last_day is not None and today > last_day:
        problem(
            "date_written",
            _expired_message(schedule, date_written, state) + " It cannot be filled.",
        )

    # How a Schedule II prescription may arrive (21 CFR 1306.11, 1306.08(e)).
    if schedule is Schedule.CII:
        if origin is Origin.TELEPHONE and not emergency:
            problem(
                "origin",
                "A Schedule II prescription cannot be taken by telephone except in an "
                "emergency (21 CFR 1306.11(d)). Mark it as an emergency, or ask for a "
                "written or electronic prescription.",
            )
        elif origin is Origin.FACSIMILE and not (ltc_facility or hospice or home_infusion):
            problem(
                "origin",
                "A faxed Schedule II prescription is only enough to prepare the fill: the "
                "signed original must be presented before dispensing (21 CFR 1306.11(a)). "
                "A fax serves as the original only for long-term-care residents, hospice "
                "patients and home-infusion compounds.",
            )
        elif origin is Origin.NOT_KNOWN:
            problem(
                "origin",
                "Say how this Schedule II prescription arrived: it must be written or electronic.",
            )
        elif origin is Origin.PHARMACY and not electronic_original:
            problem(
                "origin",
                "Only an unfilled electronic Schedule II prescription can be transferred "
                "from another pharmacy (21 CFR 1306.08(e)); paper ones cannot.",
            )
    if emergency and not (schedule is Schedule.CII and origin is Origin.TELEPHONE):
        problem(
            "emergency",
            "The emergency rule is only for Schedule II prescriptions telephoned by the "
            "prescriber (21 CFR 1306.11(d)).",
        )

    # "Do not fill before" (21 CFR 1306.12(b)).
    if do_not_fill_before is not None:
        if do_not_fill_before < date_written:
            problem(
                "do_not_fill_before",
                f'The "do not fill before" date ({_us(do_not_fill_before)}) is before the '
                f"date written ({_us(date_written)}).",
            )
        elif last_day is not None and do_not_fill_before > last_day:
            problem(
                "do_not_fill_before",
                f'The "do not fill before" date ({_us(do_not_fill_before)}) is after the '
                f"prescription expires ({_us(last_day)}), so it could never be filled.",
            )
        if schedule is Schedule.CII:
            if not state.cii_multiple_prescriptions:
                problem(
                    "do_not_fill_before",
                    "This state does not allow a series of Schedule II prescriptions with "
                    '"do not fill before" dates.',
                )
            elif (do_not_fill_before - date_written).days > CII_SERIES_MAX_DAYS:
                problem(
                    "do_not_fill_before",
                    f"A series of Schedule II prescriptions covers at most a "
                    f"{CII_SERIES_MAX_DAYS}-day supply (21 CFR 1306.12(b)); a "
                    f'"do not fill before" date of {_us(do_not_fill_before)} is more than '
                    f"{CII_SERIES_MAX_DAYS} days after the date written.",
                )
    if (
        schedule is Schedule.CII
        and series_days_supply is not None
        and _count(series_days_supply, "series_days_supply") > CII_SERIES_MAX_DAYS
    ):
        problem(
            "days_supply",
            f"Schedule II prescriptions written together may cover at most a "
            f"{CII_SERIES_MAX_DAYS}-day supply (21 CFR 1306.12(b)); these cover "
            f"{series_days_supply} days.",
        )
    return problems


# --- filling ---------------------------------------------------------------------------


def _window_end(
    reason: PartialReason | None, first: FillRecord, rx: RxFacts
) -> tuple[dt.date, dt.datetime | None, str]:
    """When the rest of a partly filled Schedule II prescription must have been dispensed:
    (last day, exact moment if known, the rule in words)."""
    if reason in (PartialReason.LTC_PATIENT, PartialReason.TERMINALLY_ILL):
        return (
            rx.date_written + dt.timedelta(days=_LTC_PARTIAL_DAYS),
            None,
            f"{_LTC_PARTIAL_DAYS} days after the date written for long-term-care and "
            f"terminally ill patients, 21 CFR 1306.13(c)",
        )
    if reason in (PartialReason.PATIENT_REQUEST, PartialReason.PRESCRIBER_REQUEST):
        if rx.emergency_oral:
            return (
                rx.date_written + dt.timedelta(days=_DAYS_WITHIN_72_HOURS),
                None,
                "72 hours after an emergency oral prescription was issued, 21 CFR 1306.13(b)",
            )
        return (
            rx.date_written + dt.timedelta(days=_CARA_PARTIAL_DAYS),
            None,
            f"{_CARA_PARTIAL_DAYS} days after the date written, 21 CFR 1306.13(b)",
        )
    # A shortage — and, to be safe, a partial fill recorded without its reason.
    exact = None if first.filled_at is None else first.filled_at + _HOURS_72
    return (
        first.filled_on + dt.timedelta(days=_DAYS_WITHIN_72_HOURS),
        exact,
        f"72 hours after the partial fill on {_us(first.filled_on)}, 21 CFR 1306.13(a)",
    )


def fill_allowed(
    *,
    rx: RxFacts,
    today: dt.date,
    requested_quantity: Decimal,
    partial_reason: PartialReason | None = None,
    now: dt.datetime | None = None,
    state: StateRules | None = None,
) -> FillDecision:
    """May ``requested_quantity`` be dispensed on ``rx`` today?

    Quantities are counted, not fills: the total authorized is the written quantity times
    (1 + refills) — 1 for Schedule II, and at most 6 for Schedules III–IV whatever was
    typed — and every dispensing, partial or not, counts against it (21 CFR 1306.23(b)).
    One dispensing is at most the written quantity. ``partial_reason`` is required when a
    Schedule II prescription is first dispensed in part; later partial fills follow the
    reason of the first.
    """
    state = state or StateRules()
    schedule = _schedule(rx.schedule)
    requested = _decimal(requested_quantity, "requested_quantity")
    per_fill = _decimal(rx.written_quantity, "written_quantity")
    refills = _count(rx.refills_authorized, "refills_authorized")
    now = _aware(now, "now")
    if requested <= 0:
        raise RuleError("The quantity to dispense must be more than zero.", field="quantity")
    if per_fill <= 0:
        raise RuleError("The written quantity must be more than zero.", field="quantity")
    if refills < 0:
        raise RuleError("Refills authorized cannot be negative.", field="refills_authorized")
    fills = sorted(rx.fills, key=lambda f: f.filled_on)
    for fill in fills:
        if _decimal(fill.quantity, "quantity") <= 0:
            raise RuleError("A recorded fill has no quantity.", field="fills")
        _aware(fill.filled_at, "filled_at")

    # 21 CFR 1306.12(a) and 1306.22(a): refills that cannot lawfully count do not count.
    if schedule is Schedule.CII:
        counted_refills = 0
    elif schedule in (Schedule.CIII, Schedule.CIV):
        counted_refills = min(refills, CIII_CIV_MAX_REFILLS)
    else:
        counted_refills = refills
    authorized = per_fill * (1 + counted_refills)
    dispensed = _decimal(rx.dispensed_elsewhere, "dispensed_elsewhere") + sum(
        (f.quantity for f in fills), Decimal(0)
    )
    remaining = max(Decimal(0), authorized - dispensed)
    started = dispensed > 0
    if not started:
        refills_remaining = counted_refills
    else:
        refills_remaining = min(counted_refills, int(remaining // per_fill))
    open_balance = (per_fill - dispensed % per_fill) if dispensed % per_fill else Decimal(0)
    full_now = min(open_balance or per_fill, remaining)
    is_partial = requested < full_now
    last_day = expires_on(schedule=schedule, date_written=rx.date_written, state=state)

    base = FillDecision(
        allowed=True,
        code="ok",
        reason="",
        refills_remaining=refills_remaining,
        quantity_remaining=remaining,
        expires_on=last_day,
        is_partial=is_partial,
    )

    def refuse(code: str, reason: str) -> FillDecision:
        return replace(base, allowed=False, code=code, reason=reason)

    if schedule is Schedule.CI:
        return refuse("schedule_i", "Schedule I drugs cannot be dispensed on a prescription.")
    if rx.transferred_out:
        return refuse(
            "transferred_out",
            "This prescription was transferred to another pharmacy and can no longer be "
            "filled here.",
        )
    if today < rx.date_written:
        return refuse(
            "not_yet_written",
            f"The date written ({_us(rx.date_written)}) is after today; check the date.",
        )
    if schedule is Schedule.CII and refills > 0:
        return refuse(
            "cii_refills",
            f"This Schedule II prescription was entered with {refills} refills; Schedule II "
            f"prescriptions cannot have refills (21 CFR 1306.12(a)). Correct it to 0 first.",
        )
    if not started and rx.do_not_fill_before is not None and today < rx.do_not_fill_before:
        return refuse(
            "too_early",
            f'The prescriber wrote "do not fill before {_us(rx.do_not_fill_before)}"; it '
            f"cannot be filled until then (21 CFR 1306.12(b)).",
        )
    if last_day is not None and today > last_day:
        return refuse("expired", _expired_message(schedule, rx.date_written, state))
    if remaining <= 0:
        if schedule is Schedule.CII:
            reason = (
                "This Schedule II prescription has been dispensed in full, and Schedule II "
                "prescriptions cannot be refilled (21 CFR 1306.12(a)). A new prescription is "
                "needed."
            )
        else:
            reason = (
                f"No refills remain: the original and {_plural(counted_refills, 'refill')} "
                f"({_qty(authorized)} in all) have been dispensed. A new prescription is "
                f"needed."
            )
        return refuse("no_refills", reason)
    if requested > per_fill:
        return refuse(
            "over_fill_quantity",
            f"One fill can be at most the quantity written ({_qty(per_fill)}); "
            f"{_qty(requested)} was asked for.",
        )
    if requested > remaining:
        return refuse(
            "over_remaining",
            f"Only {_qty(remaining)} remains on this prescription; {_qty(requested)} was "
            f"asked for.",
        )

    if schedule is not Schedule.CII:
        return base
    return _cii_fill(rx, fills, today, now, requested, partial_reason, state, base)


def _cii_fill(
    rx: RxFacts,
    fills: list[FillRecord],
    today: dt.date,
    now: dt.datetime | None,
    requested: Decimal,
    partial_reason: PartialReason | None,
    state: StateRules,
    base: FillDecision,
) -> FillDecision:
    """Schedule II partial fills (21 CFR 1306.13): the window for the rest of the quantity."""

    def capped(deadline: dt.date, exact: dt.datetime | None) -> tuple[dt.date, dt.datetime | None]:
        # A state expiry that comes first ends the window on its day, not at an hour.
        if base.expires_on is not None and base.expires_on < deadline:
            return base.expires_on, None
        return deadline, exact

    def refuse(
        code: str,
        reason: str,
        deadline: dt.date | None = None,
        exact: dt.datetime | None = None,
    ) -> FillDecision:
        return replace(
            base,
            allowed=False,
            code=code,
            reason=reason,
            remainder_deadline=deadline,
            remainder_deadline_at=exact,
        )

    if fills or rx.dispensed_elsewhere > 0:
        # The rest of a partial fill: the first partial's reason sets the window. A
        # quantity dispensed elsewhere has no recorded reason, so the strictest rule holds.
        first = fills[0] if fills else FillRecord(rx.date_written, rx.dispensed_elsewhere)
        deadline, exact, rule = _window_end(first.partial_reason, first, rx)
        deadline, exact = capped(deadline, exact)
        closed = now > exact if exact is not None and now is not None else today > deadline
        if closed:
            return refuse(
                "partial_window_closed",
                f"The rest of this Schedule II prescription had to be dispensed by "
                f"{_us(deadline)} ({rule}); the remaining quantity is void. Tell the "
                f"prescriber; a new prescription is needed.",
                deadline,
                exact,
            )
        return replace(base, remainder_deadline=deadline, remainder_deadline_at=exact)

    if not base.is_partial:
        return base

    # A first fill of less than the quantity written.
    if partial_reason is None:
        return refuse(
            "partial_reason_required",
            "Say why this Schedule II prescription is dispensed in part: the pharmacy is "
            "short, the patient or prescriber asked, or the patient is in long-term care or "
            "terminally ill (21 CFR 1306.13).",
        )
    partial_reason = PartialReason(partial_reason)
    if (
        partial_reason in (PartialReason.PATIENT_REQUEST, PartialReason.PRESCRIBER_REQUEST)
        and not state.cii_partial_on_request
    ):
        return refuse(
            "partial_not_allowed",
            "This state does not allow Schedule II partial fills at the patient's or "
            "prescriber's request.",
        )
    this_fill = FillRecord(today, requested, partial_reason, now)
    deadline, exact, rule = _window_end(partial_reason, this_fill, rx)
    deadline, exact = capped(deadline, exact)
    if partial_reason in (PartialReason.LTC_PATIENT, PartialReason.TERMINALLY_ILL) and (
        today > deadline
    ):
        return refuse(
            "partial_window_closed",
            f"Partial fills for long-term-care and terminally ill patients are allowed only "
            f"until {_us(deadline)} ({rule}).",
            deadline,
        )
    note = ""
    if today >= deadline:
        note = (
            f"The rest of this prescription cannot be dispensed on a later day: the window "
            f"ends {_us(deadline)} ({rule})."
        )
    return replace(base, remainder_deadline=deadline, remainder_deadline_at=exact, note=note)


# --- refill timing ---------------------------------------------------------------------


def refill_too_soon(
    *,
    last_fill_date: dt.date,
    days_supply: int,
    today: dt.date,
    schedule: Schedule,
    state: StateRules | None = None,
) -> TooSoon:
    """Is a refill asked for ``today`` too soon after the last fill?

    The next fill becomes possible once the threshold share of the last days supply has
    passed (rounded up to whole days): with 80 %, a 30-day fill is refillable 24 days after
    it was dispensed. Controlled substances use the stricter threshold. This is the
    pharmacy's own check; payers answer with reject 79 by their own rules.
    """
    state = state or StateRules()
    supply = _count(days_supply, "days_supply")
    if supply < 1:
        raise RuleError("The days supply must be at least 1.", field="days_supply")
    schedule = _schedule(schedule)
    threshold = (
        state.controlled_refill_threshold if schedule.is_controlled else state.refill_threshold
    )
    wait = math.ceil(threshold * supply)
    fillable_on = last_fill_date + dt.timedelta(days=wait)
    days_early = max(0, (fillable_on - today).days)
    percent = _qty(threshold * 100)
    if days_early:
        message = (
            f"Too soon: last filled {_us(last_fill_date)} for {_plural(supply, 'day')}; "
            f"it can be refilled on {_us(fillable_on)} ({percent} % of the days supply), "
            f"{_plural(days_early, 'day')} from now."
        )
    else:
        message = ""
    return TooSoon(
        too_soon=days_early > 0,
        fillable_on=fillable_on,
        days_early=days_early,
        threshold=threshold,
        message=message,
    )


# --- transfers -------------------------------------------------------------------------


def transfer_allowed(
    *,
    schedule: Schedule,
    date_written: dt.date,
    today: dt.date,
    has_been_filled: bool,
    refills_remaining: int,
    electronic: bool,
    already_transferred: bool,
    shared_database: bool = False,
    state: StateRules | None = None,
) -> TransferDecision:
    """May the prescription be transferred to another pharmacy today?

    ``already_transferred`` is true when this prescription has been transferred before,
    in either direction, including an initial-fill transfer under 21 CFR 1306.08(e).
    ``shared_database`` is true when both pharmacies work on one real-time online database
    (e.g. the same chain), which lifts the once-only limit for Schedules III–V refills.
    Federal law sets no transfer limit for non-controlled prescriptions.
    """
    state = state or StateRules()
    schedule = _schedule(schedule)
    refills = _count(refills_remaining, "refills_remaining")
    last_day = expires_on(schedule=schedule, date_written=date_written, state=state)

    if schedule is Schedule.CI:
        return TransferDecision(
            False, "schedule_i", "Schedule I drugs cannot be dispensed on a prescription."
        )
    if last_day is not None and today > last_day:
        return TransferDecision(
            False,
            "expired",
            _expired_message(schedule, date_written, state) + " It cannot be transferred.",
        )
    if not has_been_filled:
        if not schedule.is_controlled:
            return TransferDecision(True, "ok", "")
        rule = "21 CFR 1306.08(e)"
        if not electronic:
            return TransferDecision(
                False,
                "not_electronic",
                f"An unfilled {schedule.label} prescription can be transferred only if it is "
                f"an electronic prescription ({rule}); paper, fax and telephone ones cannot.",
                rule,
            )
        if already_transferred:
            return TransferDecision(
                False,
                "already_transferred",
                f"An unfilled electronic {schedule.label} prescription can be transferred for "
                f"its first fill only once ({rule}), and this one already was.",
                rule,
            )
        return TransferDecision(True, "ok", "", rule)

    if schedule is Schedule.CII:
        return TransferDecision(
            False,
            "cii_filled",
            "A Schedule II prescription that has been dispensed, even in part, cannot be "
            "transferred; only an unfilled electronic one can (21 CFR 1306.08(e)).",
            "21 CFR 1306.08(e)",
        )
    if refills < 1:
        return TransferDecision(
            False, "no_refills", "No refills remain on this prescription; nothing to transfer."
        )
    if not schedule.is_controlled:
        return TransferDecision(True, "ok", "")
    rule = "21 CFR 1306.25(a)"
    if already_transferred and not shared_database:
        return TransferDecision(
            False,
            "already_transferred",
            f"A {schedule.label} prescription can be transferred for refills only once, "
            f"unless both pharmacies share a real-time online database ({rule}). This one "
            f"was transferred before; the patient needs a new prescription.",
            rule,
        )
    return TransferDecision(True, "ok", "", rule)
