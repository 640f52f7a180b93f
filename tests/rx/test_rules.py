"""The rules of every schedule (pure functions; no database).

Expected values come from the team reference, controlled-substances.md §4 (21 CFR 1306)
and §8.3 (prescription expiry). Every test passes ``today``: nothing reads the clock.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.rx.rules import (
    CIII_CIV_MAX_REFILLS,
    FillDecision,
    FillRecord,
    Origin,
    PartialReason,
    Period,
    RuleError,
    RuleProblem,
    RxFacts,
    Schedule,
    StateRules,
    emergency_follow_up_due,
    expires_on,
    fill_allowed,
    refill_too_soon,
    transfer_allowed,
    validate_new_prescription,
)

D = dt.date
UTC = dt.UTC
Q30 = Decimal(30)
WRITTEN = D(2026, 1, 5)


def rx(
    schedule: Schedule = Schedule.NONE,
    written: dt.date = WRITTEN,
    quantity: Decimal = Q30,
    refills: int = 0,
    fills: tuple[FillRecord, ...] = (),
    **kwargs: object,
) -> RxFacts:
    return RxFacts(
        schedule=schedule,
        date_written=written,
        written_quantity=quantity,
        refills_authorized=refills,
        fills=fills,
        **kwargs,  # type: ignore[arg-type]
    )


def fill(
    day: dt.date, quantity: int | str | Decimal, reason: PartialReason | None = None
) -> FillRecord:
    return FillRecord(filled_on=day, quantity=Decimal(quantity), partial_reason=reason)


def new_rx(**overrides: object) -> list[RuleProblem]:
    """A clean electronic non-controlled prescription, with ``overrides``."""
    kwargs: dict[str, object] = {
        "schedule": Schedule.NONE,
        "origin": Origin.ELECTRONIC,
        "refills_authorized": 0,
        "date_written": D(2026, 3, 2),
        "today": D(2026, 3, 2),
        "quantity": Q30,
    }
    kwargs.update(overrides)
    return validate_new_prescription(**kwargs)  # type: ignore[arg-type]


def fields(problems: list[RuleProblem]) -> list[str]:
    return [p.field for p in problems]


# --- Schedule, Origin, Period ----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "schedule"),
    [
        ("", Schedule.NONE),
        (None, Schedule.NONE),
        ("CI", Schedule.CI),
        ("CII", Schedule.CII),
        ("CIII", Schedule.CIII),
        ("CIV", Schedule.CIV),
        ("CV", Schedule.CV),
        (" civ ", Schedule.CIV),
    ],
)
def test_it_reads_the_catalog_schedule_codes(code, schedule):
    assert Schedule.from_code(code) is schedule


def test_bad_codes_given_to_the_rules_name_their_field():
    with pytest.raises(RuleError) as schedule_error:
        new_rx(schedule="C2")
    with pytest.raises(RuleError) as origin_error:
        new_rx(origin=7)
    assert (schedule_error.value.field, origin_error.value.field) == ("schedule", "origin")
    assert origin_error.value.message == (
        "Unknown prescription origin 7: use an NCPDP origin code 0–5."
    )
    # Catalog strings and plain integers are accepted as they come from the database.
    assert new_rx(schedule="CIV", origin=2, refills_authorized=5) == []


def test_it_refuses_an_unknown_schedule_code_naming_the_field():
    with pytest.raises(RuleError) as error:
        Schedule.from_code("C2")
    assert error.value.field == "schedule"
    assert error.value.message == (
        "Unknown DEA schedule 'C2': use CI, CII, CIII, CIV, CV or leave it empty."
    )


def test_schedule_labels_read_as_words():
    assert Schedule.CIV.label == "Schedule IV"
    assert Schedule.CII.label == "Schedule II"
    assert Schedule.NONE.label == "non-controlled"
    assert not Schedule.NONE.is_controlled
    assert Schedule.CV.is_controlled


def test_origin_codes_are_the_ncpdp_values():
    assert [(o.name, o.value) for o in Origin] == [
        ("NOT_KNOWN", 0),
        ("WRITTEN", 1),
        ("TELEPHONE", 2),
        ("ELECTRONIC", 3),
        ("FACSIMILE", 4),
        ("PHARMACY", 5),
    ]


@pytest.mark.parametrize(
    ("period", "start", "end", "text"),
    [
        (Period(months=6), D(2026, 1, 5), D(2026, 7, 5), "6 months"),
        (Period(months=6), D(2025, 8, 31), D(2026, 2, 28), "6 months"),
        (Period(months=6), D(2023, 8, 31), D(2024, 2, 29), "6 months"),
        (Period(months=12), D(2024, 2, 29), D(2025, 2, 28), "1 year"),
        (Period(months=1), D(2026, 1, 31), D(2026, 2, 28), "1 month"),
        (Period(days=21), D(2026, 1, 5), D(2026, 1, 26), "21 days"),
        (Period(months=6, days=1), D(2026, 1, 5), D(2026, 7, 6), "6 months and 1 day"),
    ],
)
def test_a_period_counts_calendar_months_then_days(period, start, end, text):
    assert period.after(start) == end
    assert str(period) == text


def test_an_empty_period_is_refused():
    with pytest.raises(RuleError):
        Period()


# --- expiry ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "state", "expected"),
    [
        (Schedule.NONE, StateRules(), D(2027, 1, 5)),
        (Schedule.NONE, StateRules(noncontrolled_expiry=Period(months=24)), D(2028, 1, 5)),
        (Schedule.NONE, StateRules(noncontrolled_expiry=None), None),
        (Schedule.CII, StateRules(), None),  # federal law sets no Schedule II expiry
        (Schedule.CII, StateRules(cii_expiry=Period(days=90)), D(2026, 4, 5)),
        (Schedule.CII, StateRules(cii_expiry=Period(days=21)), D(2026, 1, 26)),
        (Schedule.CIII, StateRules(), D(2026, 7, 5)),
        (Schedule.CIV, StateRules(), D(2026, 7, 5)),
        # A state may shorten the federal 6 months, never lengthen it.
        (Schedule.CIV, StateRules(ciii_civ_expiry=Period(days=90)), D(2026, 4, 5)),
        (Schedule.CIV, StateRules(ciii_civ_expiry=Period(months=12)), D(2026, 7, 5)),
        (Schedule.CV, StateRules(), D(2027, 1, 5)),
        (Schedule.CV, StateRules(cv_expiry=Period(months=6)), D(2026, 7, 5)),
        (Schedule.CI, StateRules(), None),
    ],
)
def test_expiry_follows_the_schedule_and_the_state(schedule, state, expected):
    assert expires_on(schedule=schedule, date_written=D(2026, 1, 5), state=state) == expected


def test_the_emergency_follow_up_is_due_seven_days_after_the_oral_order():
    assert emergency_follow_up_due(oral_order_date=D(2026, 3, 2)) == D(2026, 3, 9)


# --- intake ----------------------------------------------------------------------------


def test_a_clean_prescription_has_no_problems():
    assert new_rx() == []
    assert new_rx(schedule=Schedule.CII, origin=Origin.ELECTRONIC) == []
    assert new_rx(schedule=Schedule.CII, origin=Origin.WRITTEN) == []
    assert new_rx(schedule=Schedule.CIV, origin=Origin.TELEPHONE, refills_authorized=5) == []
    assert new_rx(schedule=Schedule.CV, origin=Origin.FACSIMILE, refills_authorized=11) == []


def test_a_cii_with_refills_is_refused():
    # given a Schedule II prescription typed with 2 refills
    problems = new_rx(schedule=Schedule.CII, refills_authorized=2)
    # then
    assert problems == [
        RuleProblem(
            "refills_authorized",
            "Schedule II prescriptions cannot have refills (21 CFR 1306.12(a)); this one has "
            "2. Enter 0 refills — for a longer supply the prescriber may write several "
            'prescriptions with "do not fill before" dates.',
        )
    ]


@pytest.mark.parametrize("schedule", [Schedule.CIII, Schedule.CIV])
def test_a_ciii_or_civ_with_more_than_five_refills_is_refused(schedule):
    assert new_rx(schedule=schedule, refills_authorized=5) == []
    assert new_rx(schedule=schedule, refills_authorized=6) == [
        RuleProblem(
            "refills_authorized",
            f"A {schedule.label} prescription may have at most 5 refills "
            f"(21 CFR 1306.22(a)); this one has 6.",
        )
    ]


def test_refills_must_be_zero_to_ninety_nine():
    assert fields(new_rx(refills_authorized=-1)) == ["refills_authorized"]
    assert new_rx(refills_authorized=99) == []
    assert new_rx(refills_authorized=100) == [
        RuleProblem("refills_authorized", "Refills authorized cannot be more than 99.")
    ]


def test_a_cii_by_telephone_needs_the_emergency_flag():
    # given a telephoned Schedule II order
    problems = new_rx(schedule=Schedule.CII, origin=Origin.TELEPHONE)
    # then it is refused unless the pharmacist marks it an emergency
    assert problems == [
        RuleProblem(
            "origin",
            "A Schedule II prescription cannot be taken by telephone except in an emergency "
            "(21 CFR 1306.11(d)). Mark it as an emergency, or ask for a written or "
            "electronic prescription.",
        )
    ]
    assert new_rx(schedule=Schedule.CII, origin=Origin.TELEPHONE, emergency=True) == []


def test_a_faxed_cii_is_not_an_original():
    problems = new_rx(schedule=Schedule.CII, origin=Origin.FACSIMILE)
    assert fields(problems) == ["origin"]
    assert problems[0].message.startswith(
        "A faxed Schedule II prescription is only enough to prepare the fill"
    )


@pytest.mark.parametrize("flag", ["ltc_facility", "hospice", "home_infusion"])
def test_a_faxed_cii_is_the_original_for_ltc_hospice_and_home_infusion(flag):
    assert new_rx(schedule=Schedule.CII, origin=Origin.FACSIMILE, **{flag: True}) == []


def test_a_cii_must_say_how_it_arrived():
    assert new_rx(schedule=Schedule.CII, origin=Origin.NOT_KNOWN) == [
        RuleProblem(
            "origin",
            "Say how this Schedule II prescription arrived: it must be written or electronic.",
        )
    ]
    # Non-controlled prescriptions may carry "not known" (NCPDP code 0).
    assert new_rx(origin=Origin.NOT_KNOWN) == []


def test_a_cii_transferred_in_must_be_the_electronic_original():
    assert fields(new_rx(schedule=Schedule.CII, origin=Origin.PHARMACY)) == ["origin"]
    assert new_rx(schedule=Schedule.CII, origin=Origin.PHARMACY, electronic_original=True) == []


@pytest.mark.parametrize(
    ("schedule", "origin"),
    [
        (Schedule.CII, Origin.ELECTRONIC),
        (Schedule.CIV, Origin.TELEPHONE),
        (Schedule.NONE, Origin.TELEPHONE),
    ],
)
def test_the_emergency_flag_is_only_for_telephoned_cii(schedule, origin):
    assert new_rx(schedule=schedule, origin=origin, emergency=True) == [
        RuleProblem(
            "emergency",
            "The emergency rule is only for Schedule II prescriptions telephoned by the "
            "prescriber (21 CFR 1306.11(d)).",
        )
    ]


def test_a_date_written_in_the_future_is_refused():
    assert new_rx(date_written=D(2026, 3, 3), today=D(2026, 3, 2)) == [
        RuleProblem("date_written", "The date written (03/03/2026) is in the future.")
    ]


def test_a_prescription_already_expired_at_intake_is_refused():
    # given a Schedule IV prescription written seven months ago
    problems = new_rx(schedule=Schedule.CIV, date_written=D(2025, 8, 1), today=D(2026, 3, 2))
    # then
    assert problems == [
        RuleProblem(
            "date_written",
            "This Schedule IV prescription was written on 08/01/2025 and expired on "
            "02/01/2026 (6 months). It cannot be filled.",
        )
    ]


def test_schedule_i_cannot_be_taken_in():
    assert fields(new_rx(schedule=Schedule.CI)) == ["schedule"]


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (Decimal(0), "The quantity must be more than zero."),
        (Decimal(-5), "The quantity must be more than zero."),
        (
            Decimal(250000),
            "A quantity of 250000 is not plausible (the most accepted is 10000). Check the "
            "quantity and its unit.",
        ),
        (Decimal("2.0005"), "A quantity has at most 3 decimal places."),
    ],
)
def test_a_quantity_of_zero_or_absurd_size_is_refused(quantity, message):
    assert new_rx(quantity=quantity) == [RuleProblem("quantity", message)]


def test_quantities_with_three_decimals_and_whole_numbers_pass():
    assert new_rx(quantity=Decimal("2.5")) == []
    assert new_rx(quantity=Decimal("118.125")) == []
    assert new_rx(quantity=10000) == []
    assert new_rx(quantity=Decimal(500), max_quantity=Decimal(100)) == [
        RuleProblem(
            "quantity",
            "A quantity of 500 is not plausible (the most accepted is 100). Check the "
            "quantity and its unit.",
        )
    ]


def test_a_float_quantity_is_a_programming_error():
    with pytest.raises(RuleError) as error:
        new_rx(quantity=30.0)
    assert error.value.field == "quantity"


def test_days_supply_must_be_at_least_one():
    assert new_rx(days_supply=0) == [
        RuleProblem("days_supply", "The days supply must be at least 1.")
    ]
    assert new_rx(days_supply=30) == []


def test_a_series_of_cii_prescriptions_with_do_not_fill_before_dates():
    # given the second and third of three 30-day Schedule II prescriptions written 03/02
    for day in (D(2026, 4, 1), D(2026, 5, 1)):
        assert (
            new_rx(
                schedule=Schedule.CII,
                do_not_fill_before=day,
                days_supply=30,
                series_days_supply=90,
            )
            == []
        )


def test_do_not_fill_before_cannot_precede_the_date_written():
    assert new_rx(do_not_fill_before=D(2026, 3, 1)) == [
        RuleProblem(
            "do_not_fill_before",
            'The "do not fill before" date (03/01/2026) is before the date written (03/02/2026).',
        )
    ]


def test_do_not_fill_before_after_the_state_expiry_could_never_be_filled():
    # given a state where Schedule II prescriptions expire 30 days after writing
    state = StateRules(cii_expiry=Period(days=30))
    problems = new_rx(schedule=Schedule.CII, do_not_fill_before=D(2026, 4, 15), state=state)
    assert problems == [
        RuleProblem(
            "do_not_fill_before",
            'The "do not fill before" date (04/15/2026) is after the prescription expires '
            "(04/01/2026), so it could never be filled.",
        )
    ]


def test_a_cii_series_covers_at_most_ninety_days():
    assert fields(new_rx(schedule=Schedule.CII, do_not_fill_before=D(2026, 6, 1))) == [
        "do_not_fill_before"
    ]
    assert new_rx(schedule=Schedule.CII, series_days_supply=120) == [
        RuleProblem(
            "days_supply",
            "Schedule II prescriptions written together may cover at most a 90-day supply "
            "(21 CFR 1306.12(b)); these cover 120 days.",
        )
    ]


def test_a_state_may_forbid_cii_series():
    state = StateRules(cii_multiple_prescriptions=False)
    problems = new_rx(schedule=Schedule.CII, do_not_fill_before=D(2026, 4, 1), state=state)
    assert fields(problems) == ["do_not_fill_before"]


def test_every_problem_is_reported_at_once():
    # given a telephoned Schedule II with refills, written tomorrow, quantity zero
    problems = new_rx(
        schedule=Schedule.CII,
        origin=Origin.TELEPHONE,
        refills_authorized=3,
        date_written=D(2026, 3, 3),
        quantity=Decimal(0),
    )
    assert fields(problems) == ["quantity", "refills_authorized", "date_written", "origin"]


# --- fill_allowed: expiry and refills --------------------------------------------------


def test_a_civ_expires_six_months_after_writing():
    # given a Schedule IV prescription written 01/05/2026 with refills left
    civ = rx(Schedule.CIV, refills=5, fills=(fill(D(2026, 1, 5), 30),))
    # when a refill is asked for on the six-month date, it is allowed
    on_the_day = fill_allowed(rx=civ, today=D(2026, 7, 5), requested_quantity=Q30)
    assert on_the_day.allowed
    assert on_the_day.expires_on == D(2026, 7, 5)
    # when it is asked for the day after, it is refused and says why
    late = fill_allowed(rx=civ, today=D(2026, 7, 6), requested_quantity=Q30)
    assert late == FillDecision(
        allowed=False,
        code="expired",
        reason="This Schedule IV prescription was written on 01/05/2026 and expired on "
        "07/05/2026 (6 months).",
        refills_remaining=5,
        quantity_remaining=Decimal(150),
        expires_on=D(2026, 7, 5),
        is_partial=False,
    )


def test_a_non_controlled_prescription_expires_after_one_year():
    written = D(2025, 3, 10)
    noncontrolled = rx(written=written, refills=11)
    assert fill_allowed(rx=noncontrolled, today=D(2026, 3, 10), requested_quantity=Q30).allowed
    late = fill_allowed(rx=noncontrolled, today=D(2026, 3, 11), requested_quantity=Q30)
    assert late.reason == (
        "This non-controlled prescription was written on 03/10/2025 and expired on "
        "03/10/2026 (1 year)."
    )


def test_a_state_without_expiry_keeps_a_non_controlled_prescription_open():
    state = StateRules(noncontrolled_expiry=None)
    decision = fill_allowed(
        rx=rx(written=D(2023, 1, 5), refills=11),
        today=D(2026, 1, 5),
        requested_quantity=Q30,
        state=state,
    )
    assert decision.allowed
    assert decision.expires_on is None


def test_a_cv_follows_the_state_year():
    cv = rx(Schedule.CV, written=D(2025, 6, 1), refills=3)
    assert fill_allowed(rx=cv, today=D(2026, 6, 1), requested_quantity=Q30).allowed
    assert fill_allowed(rx=cv, today=D(2026, 6, 2), requested_quantity=Q30).code == "expired"


def test_refills_count_down_as_fills_are_dispensed():
    # given a Schedule III prescription for 30 with 5 refills
    fills: tuple[FillRecord, ...] = ()
    seen = []
    for n in range(6):
        decision = fill_allowed(
            rx=rx(Schedule.CIII, refills=5, fills=fills),
            today=D(2026, 1, 5) + dt.timedelta(days=25 * n),
            requested_quantity=Q30,
        )
        assert decision.allowed
        seen.append((decision.refills_remaining, decision.quantity_remaining))
        fills = (*fills, fill(D(2026, 1, 5) + dt.timedelta(days=25 * n), 30))
    # then the original does not use a refill; each later fill uses one
    assert seen == [(5, 180), (5, 150), (4, 120), (3, 90), (2, 60), (1, 30)]
    # and the seventh dispensing is refused
    done = fill_allowed(
        rx=rx(Schedule.CIII, refills=5, fills=fills),
        today=D(2026, 6, 30),
        requested_quantity=Q30,
    )
    assert done.code == "no_refills"
    assert done.reason == (
        "No refills remain: the original and 5 refills (180 in all) have been dispensed. "
        "A new prescription is needed."
    )
    assert (done.refills_remaining, done.quantity_remaining) == (0, Decimal(0))


def test_a_civ_typed_with_too_many_refills_counts_only_five():
    decision = fill_allowed(
        rx=rx(Schedule.CIV, refills=8), today=D(2026, 1, 5), requested_quantity=Q30
    )
    assert decision.refills_remaining == CIII_CIV_MAX_REFILLS
    assert decision.quantity_remaining == Decimal(180)


def test_ciii_partial_fills_count_against_the_total_quantity():
    # given a Schedule III for 30 with 5 refills, of which 10 were dispensed
    partly = rx(Schedule.CIII, refills=5, fills=(fill(D(2026, 1, 5), 10),))
    # when the rest of the first fill is asked for
    rest = fill_allowed(rx=partly, today=D(2026, 1, 8), requested_quantity=Decimal(20))
    # then it completes the fill (not a partial) and the refills are all still there
    assert (rest.allowed, rest.is_partial) == (True, False)
    assert (rest.refills_remaining, rest.quantity_remaining) == (5, Decimal(170))
    # and 10 more would again be partial
    again = fill_allowed(rx=partly, today=D(2026, 1, 8), requested_quantity=Decimal(10))
    assert (again.allowed, again.is_partial) == (True, True)


def test_one_fill_is_at_most_the_written_quantity():
    decision = fill_allowed(rx=rx(refills=3), today=D(2026, 1, 5), requested_quantity=Decimal(90))
    assert decision.code == "over_fill_quantity"
    assert decision.reason == "One fill can be at most the quantity written (30); 90 was asked for."


def test_the_last_refill_cannot_exceed_what_remains():
    # given 160 of 180 dispensed
    used = tuple(
        fill(D(2026, 1, 5) + dt.timedelta(days=20 * n), q)
        for n, q in enumerate([30, 30, 30, 30, 30, 10])
    )
    decision = fill_allowed(
        rx=rx(Schedule.CIV, refills=5, fills=used), today=D(2026, 5, 1), requested_quantity=Q30
    )
    assert decision.code == "over_remaining"
    assert decision.reason == "Only 20 remains on this prescription; 30 was asked for."
    assert fill_allowed(
        rx=rx(Schedule.CIV, refills=5, fills=used),
        today=D(2026, 5, 1),
        requested_quantity=Decimal(20),
    ).allowed


def test_decimal_quantities_are_counted_exactly():
    # given an inhaler-sized liquid: 118.5 mL per fill, one refill
    liquid = rx(quantity=Decimal("118.5"), refills=1, fills=(fill(D(2026, 1, 5), "118.5"),))
    decision = fill_allowed(rx=liquid, today=D(2026, 2, 5), requested_quantity=Decimal("118.5"))
    assert decision.allowed
    assert decision.quantity_remaining == Decimal("118.5")
    assert decision.refills_remaining == 1


def test_a_transferred_in_prescription_counts_what_was_dispensed_elsewhere():
    # given a Schedule IV for 30 with 5 refills, two fills used at the other pharmacy
    transferred_in = rx(Schedule.CIV, refills=5, dispensed_elsewhere=Decimal(60))
    decision = fill_allowed(rx=transferred_in, today=D(2026, 3, 1), requested_quantity=Q30)
    assert decision.allowed
    assert (decision.refills_remaining, decision.quantity_remaining) == (4, Decimal(120))


def test_a_prescription_transferred_out_cannot_be_filled_here():
    decision = fill_allowed(
        rx=rx(refills=3, transferred_out=True), today=D(2026, 1, 5), requested_quantity=Q30
    )
    assert decision.code == "transferred_out"
    assert decision.reason == (
        "This prescription was transferred to another pharmacy and can no longer be filled here."
    )


def test_a_prescription_written_after_today_cannot_be_filled():
    decision = fill_allowed(
        rx=rx(written=D(2026, 1, 6)), today=D(2026, 1, 5), requested_quantity=Q30
    )
    assert decision.code == "not_yet_written"


def test_schedule_i_is_never_filled():
    decision = fill_allowed(rx=rx(Schedule.CI), today=D(2026, 1, 5), requested_quantity=Q30)
    assert decision.code == "schedule_i"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"requested_quantity": Decimal(0)}, "quantity"),
        ({"requested_quantity": 30.0}, "requested_quantity"),
        ({"now": dt.datetime(2026, 1, 5, 9, 0)}, "now"),  # naive: no time zone
    ],
)
def test_bad_fill_input_raises_a_rule_error(change, field):
    kwargs = {"rx": rx(), "today": D(2026, 1, 5), "requested_quantity": Q30, **change}
    with pytest.raises(RuleError) as error:
        fill_allowed(**kwargs)
    assert error.value.field == field


# --- fill_allowed: Schedule II ---------------------------------------------------------

CII_WRITTEN = D(2026, 3, 2)


def cii(fills: tuple[FillRecord, ...] = (), **kwargs: object) -> RxFacts:
    return rx(Schedule.CII, written=CII_WRITTEN, fills=fills, **kwargs)


def test_a_cii_is_filled_once_and_never_refilled():
    first = fill_allowed(rx=cii(), today=CII_WRITTEN, requested_quantity=Q30)
    assert first.allowed
    assert (first.refills_remaining, first.quantity_remaining, first.expires_on) == (
        0,
        Q30,
        None,
    )
    second = fill_allowed(
        rx=cii((fill(CII_WRITTEN, 30),)), today=D(2026, 4, 1), requested_quantity=Q30
    )
    assert second.code == "no_refills"
    assert second.reason == (
        "This Schedule II prescription has been dispensed in full, and Schedule II "
        "prescriptions cannot be refilled (21 CFR 1306.12(a)). A new prescription is needed."
    )


def test_a_cii_entered_with_refills_is_not_filled():
    decision = fill_allowed(rx=cii(refills=2), today=CII_WRITTEN, requested_quantity=Q30)
    assert decision.code == "cii_refills"
    assert decision.refills_remaining == 0


def test_a_cii_honours_its_do_not_fill_before_date():
    # given the second prescription of a series, not to be filled before 04/01/2026
    second = cii(do_not_fill_before=D(2026, 4, 1))
    early = fill_allowed(rx=second, today=D(2026, 3, 31), requested_quantity=Q30)
    assert early.code == "too_early"
    assert early.reason == (
        'The prescriber wrote "do not fill before 04/01/2026"; it cannot be filled until '
        "then (21 CFR 1306.12(b))."
    )
    assert fill_allowed(rx=second, today=D(2026, 4, 1), requested_quantity=Q30).allowed


def test_a_cii_expires_under_a_state_rule():
    state = StateRules(cii_expiry=Period(days=90))
    decision = fill_allowed(rx=cii(), today=D(2026, 6, 1), requested_quantity=Q30, state=state)
    assert decision.reason == (
        "This Schedule II prescription was written on 03/02/2026 and expired on 05/31/2026 "
        "(90 days)."
    )


def test_a_cii_partial_fill_must_say_why():
    decision = fill_allowed(rx=cii(), today=CII_WRITTEN, requested_quantity=Decimal(10))
    assert decision.code == "partial_reason_required"
    assert decision.is_partial


def test_a_shortage_partial_leaves_72_hours_for_the_rest():
    # given the pharmacy has only 20 of 30 on 03/02 at 15:00 UTC
    now = dt.datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    decision = fill_allowed(
        rx=cii(),
        today=CII_WRITTEN,
        requested_quantity=Decimal(20),
        partial_reason=PartialReason.PHARMACY_SHORTAGE,
        now=now,
    )
    # then it is allowed and the rest is due within 72 hours
    assert (decision.allowed, decision.is_partial) == (True, True)
    assert decision.remainder_deadline == D(2026, 3, 4)
    assert decision.remainder_deadline_at == dt.datetime(2026, 3, 5, 15, 0, tzinfo=UTC)


def test_the_rest_of_a_shortage_partial_by_date_alone():
    partly = cii((fill(CII_WRITTEN, 20, PartialReason.PHARMACY_SHORTAGE),))
    # Without the hour, two days later is certainly within 72 hours…
    in_time = fill_allowed(rx=partly, today=D(2026, 3, 4), requested_quantity=Decimal(10))
    assert in_time.allowed
    assert in_time.remainder_deadline == D(2026, 3, 4)
    assert in_time.quantity_remaining == Decimal(10)
    # …and three days later may not be.
    late = fill_allowed(rx=partly, today=D(2026, 3, 5), requested_quantity=Decimal(10))
    assert late.code == "partial_window_closed"
    assert late.reason == (
        "The rest of this Schedule II prescription had to be dispensed by 03/04/2026 (72 "
        "hours after the partial fill on 03/02/2026, 21 CFR 1306.13(a)); the remaining "
        "quantity is void. Tell the prescriber; a new prescription is needed."
    )


def test_the_rest_of_a_shortage_partial_by_the_hour():
    filled_at = dt.datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    partly = cii(
        (
            FillRecord(
                CII_WRITTEN, Decimal(20), PartialReason.PHARMACY_SHORTAGE, filled_at=filled_at
            ),
        )
    )
    just_in_time = fill_allowed(
        rx=partly,
        today=D(2026, 3, 5),
        requested_quantity=Decimal(10),
        now=dt.datetime(2026, 3, 5, 14, 59, tzinfo=UTC),
    )
    assert just_in_time.allowed
    assert just_in_time.remainder_deadline_at == dt.datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    too_late = fill_allowed(
        rx=partly,
        today=D(2026, 3, 5),
        requested_quantity=Decimal(10),
        now=dt.datetime(2026, 3, 5, 15, 1, tzinfo=UTC),
    )
    assert too_late.code == "partial_window_closed"


def test_a_patient_requested_partial_may_be_completed_within_30_days_of_writing():
    # given the patient took 10 of 30 on the day written
    partly = cii((fill(CII_WRITTEN, 10, PartialReason.PATIENT_REQUEST),))
    # then more partials are allowed until 04/01/2026
    first = fill_allowed(rx=partly, today=D(2026, 3, 15), requested_quantity=Decimal(10))
    assert (first.allowed, first.is_partial, first.remainder_deadline) == (
        True,
        True,
        D(2026, 4, 1),
    )
    assert fill_allowed(rx=partly, today=D(2026, 4, 1), requested_quantity=Decimal(20)).allowed
    late = fill_allowed(rx=partly, today=D(2026, 4, 2), requested_quantity=Decimal(20))
    assert late.reason == (
        "The rest of this Schedule II prescription had to be dispensed by 04/01/2026 (30 "
        "days after the date written, 21 CFR 1306.13(b)); the remaining quantity is void. "
        "Tell the prescriber; a new prescription is needed."
    )


def test_a_patient_requested_partial_of_an_emergency_oral_order_has_72_hours():
    partly = cii((fill(CII_WRITTEN, 5, PartialReason.PATIENT_REQUEST),), emergency_oral=True)
    assert fill_allowed(rx=partly, today=D(2026, 3, 4), requested_quantity=Decimal(5)).allowed
    late = fill_allowed(rx=partly, today=D(2026, 3, 5), requested_quantity=Decimal(5))
    assert late.code == "partial_window_closed"


def test_a_patient_requested_partial_after_30_days_warns_the_rest_is_lost():
    decision = fill_allowed(
        rx=cii(),
        today=D(2026, 4, 6),
        requested_quantity=Decimal(10),
        partial_reason=PartialReason.PATIENT_REQUEST,
    )
    assert decision.allowed
    assert decision.note == (
        "The rest of this prescription cannot be dispensed on a later day: the window ends "
        "04/01/2026 (30 days after the date written, 21 CFR 1306.13(b))."
    )


def test_a_state_may_forbid_patient_requested_cii_partials():
    decision = fill_allowed(
        rx=cii(),
        today=CII_WRITTEN,
        requested_quantity=Decimal(10),
        partial_reason=PartialReason.PRESCRIBER_REQUEST,
        state=StateRules(cii_partial_on_request=False),
    )
    assert decision.code == "partial_not_allowed"


@pytest.mark.parametrize("reason", [PartialReason.LTC_PATIENT, PartialReason.TERMINALLY_ILL])
def test_ltc_and_terminal_partials_run_60_days_from_writing(reason):
    # given a Schedule II for 60 written 01/10/2026 dispensed five at a time
    written = D(2026, 1, 10)
    partly = rx(
        Schedule.CII,
        written=written,
        quantity=Decimal(60),
        fills=(fill(written, 5, reason), fill(D(2026, 1, 20), 5, reason)),
    )
    ok = fill_allowed(rx=partly, today=D(2026, 3, 11), requested_quantity=Decimal(5))
    assert (ok.allowed, ok.remainder_deadline, ok.quantity_remaining) == (
        True,
        D(2026, 3, 11),
        Decimal(50),
    )
    late = fill_allowed(rx=partly, today=D(2026, 3, 12), requested_quantity=Decimal(5))
    assert late.code == "partial_window_closed"


def test_an_ltc_partial_cannot_start_after_60_days():
    decision = fill_allowed(
        rx=cii(),
        today=D(2026, 5, 2),
        requested_quantity=Decimal(5),
        partial_reason=PartialReason.LTC_PATIENT,
    )
    assert decision.code == "partial_window_closed"
    assert decision.reason == (
        "Partial fills for long-term-care and terminally ill patients are allowed only until "
        "05/01/2026 (60 days after the date written for long-term-care and terminally ill "
        "patients, 21 CFR 1306.13(c))."
    )


def test_a_state_cii_expiry_shortens_the_partial_window():
    state = StateRules(cii_expiry=Period(days=21))
    partly = cii((fill(CII_WRITTEN, 5, PartialReason.LTC_PATIENT),))
    decision = fill_allowed(
        rx=partly, today=D(2026, 3, 10), requested_quantity=Decimal(5), state=state
    )
    assert decision.remainder_deadline == D(2026, 3, 23)


def test_a_partial_recorded_without_a_reason_gets_the_strictest_window():
    partly = cii((fill(CII_WRITTEN, 10),))
    assert fill_allowed(rx=partly, today=D(2026, 3, 5), requested_quantity=Decimal(20)).code == (
        "partial_window_closed"
    )


# --- refill too soon -------------------------------------------------------------------


def test_a_non_controlled_refill_is_too_soon_before_80_percent():
    # given 30 days dispensed on 03/01/2026
    early = refill_too_soon(
        last_fill_date=D(2026, 3, 1), days_supply=30, today=D(2026, 3, 24), schedule=Schedule.NONE
    )
    assert (early.too_soon, early.fillable_on, early.days_early, early.threshold) == (
        True,
        D(2026, 3, 25),
        1,
        Decimal("0.80"),
    )
    assert early.message == (
        "Too soon: last filled 03/01/2026 for 30 days; it can be refilled on 03/25/2026 "
        "(80 % of the days supply), 1 day from now."
    )
    due = refill_too_soon(
        last_fill_date=D(2026, 3, 1), days_supply=30, today=D(2026, 3, 25), schedule=Schedule.NONE
    )
    assert (due.too_soon, due.days_early, due.message) == (False, 0, "")


@pytest.mark.parametrize("schedule", [Schedule.CII, Schedule.CIII, Schedule.CIV, Schedule.CV])
def test_a_controlled_refill_waits_for_90_percent(schedule):
    result = refill_too_soon(
        last_fill_date=D(2026, 3, 1), days_supply=30, today=D(2026, 3, 25), schedule=schedule
    )
    assert (result.too_soon, result.fillable_on, result.days_early) == (True, D(2026, 3, 28), 3)


@pytest.mark.parametrize(
    ("days_supply", "wait"),
    [(7, 6), (10, 8), (28, 23), (90, 72), (1, 1)],  # 80 %, rounded up to whole days
)
def test_the_wait_is_rounded_up_to_whole_days(days_supply, wait):
    result = refill_too_soon(
        last_fill_date=D(2026, 1, 1),
        days_supply=days_supply,
        today=D(2026, 1, 1),
        schedule=Schedule.NONE,
    )
    assert result.fillable_on == D(2026, 1, 1) + dt.timedelta(days=wait)


def test_the_thresholds_are_state_parameters():
    state = StateRules(refill_threshold=Decimal("0.75"), controlled_refill_threshold=Decimal(1))
    assert refill_too_soon(
        last_fill_date=D(2026, 3, 1),
        days_supply=30,
        today=D(2026, 3, 1),
        schedule=Schedule.NONE,
        state=state,
    ).fillable_on == D(2026, 3, 24)
    assert refill_too_soon(
        last_fill_date=D(2026, 3, 1),
        days_supply=30,
        today=D(2026, 3, 1),
        schedule=Schedule.CIV,
        state=state,
    ).fillable_on == D(2026, 3, 31)


@pytest.mark.parametrize("threshold", [Decimal(0), Decimal("1.5"), 0.8])
def test_a_threshold_outside_zero_to_one_is_refused(threshold):
    with pytest.raises(RuleError) as error:
        StateRules(refill_threshold=threshold)
    assert error.value.field == "refill_threshold"


def test_a_days_supply_of_zero_is_refused():
    with pytest.raises(RuleError) as error:
        refill_too_soon(
            last_fill_date=D(2026, 3, 1), days_supply=0, today=D(2026, 3, 1), schedule=Schedule.NONE
        )
    assert error.value.field == "days_supply"


# --- transfers -------------------------------------------------------------------------


def transfer(**overrides: object):
    kwargs: dict[str, object] = {
        "schedule": Schedule.CIV,
        "date_written": D(2026, 1, 5),
        "today": D(2026, 3, 1),
        "has_been_filled": True,
        "refills_remaining": 3,
        "electronic": False,
        "already_transferred": False,
    }
    kwargs.update(overrides)
    return transfer_allowed(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("schedule", [Schedule.CIII, Schedule.CIV, Schedule.CV])
def test_a_ciii_to_cv_refill_transfer_is_allowed_once(schedule):
    first = transfer(schedule=schedule)
    assert (first.allowed, first.rule) == (True, "21 CFR 1306.25(a)")
    second = transfer(schedule=schedule, already_transferred=True)
    assert second.code == "already_transferred"
    assert second.reason == (
        f"A {schedule.label} prescription can be transferred for refills only once, unless "
        f"both pharmacies share a real-time online database (21 CFR 1306.25(a)). This one "
        f"was transferred before; the patient needs a new prescription."
    )


def test_pharmacies_sharing_a_real_time_database_may_transfer_again():
    assert transfer(already_transferred=True, shared_database=True).allowed


def test_a_controlled_prescription_without_refills_left_is_not_transferred():
    result = transfer(refills_remaining=0)
    assert (result.allowed, result.code) == (False, "no_refills")


def test_an_expired_prescription_is_not_transferred():
    result = transfer(today=D(2026, 7, 6))
    assert result.code == "expired"
    assert result.reason == (
        "This Schedule IV prescription was written on 01/05/2026 and expired on 07/05/2026 "
        "(6 months). It cannot be transferred."
    )


def test_an_unfilled_electronic_cii_may_be_transferred_once_for_its_first_fill():
    first = transfer(schedule=Schedule.CII, has_been_filled=False, electronic=True)
    assert (first.allowed, first.rule) == (True, "21 CFR 1306.08(e)")
    again = transfer(
        schedule=Schedule.CII, has_been_filled=False, electronic=True, already_transferred=True
    )
    assert again.code == "already_transferred"


def test_a_paper_cii_is_never_transferred():
    result = transfer(schedule=Schedule.CII, has_been_filled=False, refills_remaining=0)
    assert result.code == "not_electronic"
    assert result.reason == (
        "An unfilled Schedule II prescription can be transferred only if it is an electronic "
        "prescription (21 CFR 1306.08(e)); paper, fax and telephone ones cannot."
    )


def test_a_cii_dispensed_even_in_part_is_never_transferred():
    result = transfer(schedule=Schedule.CII, electronic=True, refills_remaining=0)
    assert result.code == "cii_filled"


def test_an_unfilled_electronic_civ_may_be_transferred_with_its_refills():
    assert transfer(has_been_filled=False, electronic=True, refills_remaining=5).allowed
    assert transfer(has_been_filled=False, electronic=False).code == "not_electronic"


def test_non_controlled_transfers_have_no_federal_limit():
    assert transfer(schedule=Schedule.NONE, already_transferred=True).allowed
    assert transfer(schedule=Schedule.NONE, has_been_filled=False, refills_remaining=0).allowed
    assert transfer(schedule=Schedule.NONE, refills_remaining=0).code == "no_refills"


def test_schedule_i_is_never_transferred():
    assert transfer(schedule=Schedule.CI).code == "schedule_i"


# --- properties ------------------------------------------------------------------------

attempts = st.lists(
    # (days after the last try, quantity asked for in thousandths of the written quantity)
    st.tuples(st.integers(0, 45), st.integers(1, 1200)),
    min_size=1,
    max_size=15,
)


def _simulate(
    facts: RxFacts, tries: list[tuple[int, int]], reasons: list[PartialReason | None]
) -> tuple[RxFacts, list[tuple[dt.date, FillDecision]]]:
    """Try each (gap, quantity) in turn; record the allowed fills on the prescription."""
    day = facts.date_written
    history = []
    for n, (gap, share) in enumerate(tries):
        day += dt.timedelta(days=gap)
        reason = reasons[n % len(reasons)]
        quantity = max(
            Decimal("0.001"), (facts.written_quantity * share / 1000).quantize(Decimal("0.001"))
        )
        decision = fill_allowed(
            rx=facts, today=day, requested_quantity=quantity, partial_reason=reason
        )
        history.append((day, decision))
        if decision.allowed:
            facts = RxFacts(
                schedule=facts.schedule,
                date_written=facts.date_written,
                written_quantity=facts.written_quantity,
                refills_authorized=facts.refills_authorized,
                fills=(*facts.fills, fill(day, quantity, reason)),
            )
    return facts, history


@settings(max_examples=150, deadline=None)
@given(
    schedule=st.sampled_from([Schedule.CIII, Schedule.CIV]),
    written=st.dates(D(2020, 1, 1), D(2030, 12, 31)),
    per_fill=st.integers(1, 120),
    refills=st.integers(0, 9),
    tries=attempts,
)
def test_a_ciii_or_civ_is_never_filled_after_six_months_or_beyond_five_refills(
    schedule, written, per_fill, refills, tries
):
    facts, history = _simulate(rx(schedule, written, Decimal(per_fill), refills), tries, [None])
    six_months = Period(months=6).after(written)
    for day, decision in history:
        assert decision.refills_remaining <= CIII_CIV_MAX_REFILLS
        if decision.allowed:
            assert day <= six_months
    dispensed = sum(f.quantity for f in facts.fills)
    assert dispensed <= per_fill * (1 + min(refills, CIII_CIV_MAX_REFILLS))
    # Whatever happened, the day after six months nothing more may be dispensed.
    after = fill_allowed(
        rx=facts, today=six_months + dt.timedelta(days=1), requested_quantity=Decimal(1)
    )
    assert not after.allowed


@settings(max_examples=150, deadline=None)
@given(
    written=st.dates(D(2020, 1, 1), D(2030, 12, 31)),
    per_fill=st.integers(1, 120),
    tries=attempts,
    reasons=st.lists(st.sampled_from([None, *PartialReason]), min_size=1, max_size=3),
)
def test_a_cii_never_has_a_refill(written, per_fill, tries, reasons):
    facts, history = _simulate(rx(Schedule.CII, written, Decimal(per_fill)), tries, reasons)
    assert all(decision.refills_remaining == 0 for _, decision in history)
    assert sum(f.quantity for f in facts.fills) <= per_fill
    if sum(f.quantity for f in facts.fills) == per_fill:
        final = fill_allowed(rx=facts, today=history[-1][0], requested_quantity=Decimal(1))
        assert final.code == "no_refills"


@settings(max_examples=150, deadline=None)
@given(
    schedule=st.sampled_from(list(Schedule)),
    per_fill=st.integers(1, 120),
    refills=st.integers(0, 12),
    tries=attempts,
)
def test_fills_never_exceed_the_total_authorized(schedule, per_fill, refills, tries):
    facts, history = _simulate(
        rx(schedule, D(2026, 1, 5), Decimal(per_fill), refills),
        tries,
        [PartialReason.PATIENT_REQUEST],
    )
    counted = 0 if schedule is Schedule.CII else refills
    if schedule in (Schedule.CIII, Schedule.CIV):
        counted = min(refills, CIII_CIV_MAX_REFILLS)
    assert sum(f.quantity for f in facts.fills) <= per_fill * (1 + counted)
    for _, decision in history:
        assert decision.quantity_remaining >= 0


@settings(max_examples=150, deadline=None)
@given(
    last=st.dates(D(2020, 1, 1), D(2030, 12, 31)),
    supply=st.integers(1, 365),
    offset=st.integers(-5, 400),
    schedule=st.sampled_from(list(Schedule)),
)
def test_too_soon_means_before_the_threshold_share_of_the_supply(last, supply, offset, schedule):
    today = last + dt.timedelta(days=offset)
    result = refill_too_soon(
        last_fill_date=last, days_supply=supply, today=today, schedule=schedule
    )
    wait = (result.fillable_on - last).days
    assert result.threshold * supply <= wait < result.threshold * supply + 1
    assert result.too_soon == (today < result.fillable_on)
    assert result.days_early == max(0, (result.fillable_on - today).days)


@settings(max_examples=150, deadline=None)
@given(start=st.dates(D(2000, 1, 1), D(2090, 12, 31)), months=st.integers(1, 36))
def test_a_period_lands_in_the_right_month_and_never_before_its_start(start, months):
    end = Period(months=months).after(start)
    assert end > start
    assert (end.year - start.year) * 12 + end.month - start.month == months
    assert end.day <= start.day
