"""Early refill (NCPDP ER, overuse) and late refill / therapy gap (LR, underuse),
reference clinical-screening.md §7.5 and identifiers-labels-math.md (refill-too-soon).

The previous supply is the profile's fills of the same therapy: the same prescription
(``Drug.prescription_id``) or the same ingredients (the reference: "compute days remaining
across fills of the same ingredient/therapy, not just the same Rx number"). The latest of
them — the one whose supply ends last — is compared:

- **early**: less than 80 % of its days' supply has passed (90 % for a controlled
  substance, ``Drug.schedule`` set) → ER. Thresholds are the brief's within the reference's
  typical payer ranges (75–80 % / 80–90 %, "(typical values, unverified per plan)");
  ``next_date = last_fill + ceil(days × threshold)`` as in the reference's worked example
  (30-day fill on 1 March at 80 % → 25 March). Moderate; **major for Schedule II** — an
  early CII is a red flag the pharmacist resolves personally (corresponding
  responsibility, controlled-substances.md). Vacation, lost supply or a dose increase
  are the pharmacist's resolutions, not the check's guesses;
- **late**: the supply ran out more than 30 % of the days' supply ago (rxdesk's policy:
  the reference says "more than X days or X %" without a number) → LR, minor
  (adherence, listed only).

Pure, integer days and Decimal fractions."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from rxdesk.screening.checks._facts import alert_key
from rxdesk.screening.types import Alert, Context, Drug, Severity

SOURCE = "rxdesk refill-too-soon policy (reference §7.5: typical payer thresholds)"
EARLY_FRACTION = Decimal("0.80")
EARLY_FRACTION_CONTROLLED = Decimal("0.90")
LATE_FRACTION = Decimal("0.30")


def _same_therapy(proposed: Drug, entry: Drug) -> bool:
    if proposed.prescription_id is not None and entry.prescription_id == proposed.prescription_id:
        return True
    return bool(proposed.names) and entry.names == proposed.names


def _previous(ctx: Context) -> Drug | None:
    """The latest-ending earlier fill of the proposed therapy, if any."""
    best: Drug | None = None
    best_end: dt.date | None = None
    for entry in ctx.profile:
        if entry == ctx.proposed or not _same_therapy(ctx.proposed, entry):
            continue
        if entry.last_filled is None or not entry.days_supply or entry.days_supply <= 0:
            continue
        if entry.last_filled > ctx.today:
            continue
        end = entry.last_filled + dt.timedelta(days=entry.days_supply)
        if best_end is None or end > best_end:
            best, best_end = entry, end
    return best


def _controlled(drug: Drug) -> bool:
    return bool(drug.schedule.strip())


def eligible_date(last_filled: dt.date, days_supply: int, fraction: Decimal) -> dt.date:
    """First day a refill is not early: last fill + ceil(days × fraction)."""
    days = int((Decimal(days_supply) * fraction).to_integral_value(rounding=ROUND_CEILING))
    return last_filled + dt.timedelta(days=days)


def check(ctx: Context) -> list[Alert]:
    """Early- and late-refill alerts for ``ctx.proposed`` (module docstring)."""
    prev = _previous(ctx)
    if prev is None or prev.last_filled is None or prev.days_supply is None:
        return []
    drug = ctx.proposed
    controlled = _controlled(drug) or _controlled(prev)
    fraction = EARLY_FRACTION_CONTROLLED if controlled else EARLY_FRACTION
    elapsed = (ctx.today - prev.last_filled).days
    used_pct = (Decimal(elapsed) * 100 / Decimal(prev.days_supply)).quantize(
        Decimal("1"), rounding=ROUND_HALF_UP
    )
    names = drug.names or prev.names
    filled = prev.last_filled.isoformat()
    ok_on = eligible_date(prev.last_filled, prev.days_supply, fraction)
    if ctx.today < ok_on:
        schedule = (drug.schedule or prev.schedule).strip().upper()
        severity = Severity.MAJOR if schedule in ("CII", "C-II", "2", "II") else Severity.MODERATE
        remaining = prev.days_supply - elapsed
        rule = f"{int(fraction * 100)} % rule" + (", controlled substance" if controlled else "")
        return [
            Alert(
                type="ER",
                severity=severity,
                drugs=(drug.label,),
                message=(
                    f"Early refill: {prev.label} was filled on {filled} for "
                    f"{prev.days_supply} days; only {used_pct} % used, about {remaining} days "
                    f"should remain. Not due until {ok_on.isoformat()} "
                    f"({rule})."
                ),
                consequence=(
                    "Overuse or duplicate supply; for a controlled substance, possible misuse "
                    "or diversion."
                    if controlled
                    else "Overuse or duplicate supply."
                ),
                action=(
                    "Ask why (dose increase, vacation, lost supply); the pharmacist decides"
                    + (" after checking the PDMP." if controlled else ".")
                ),
                source=SOURCE,
                key=alert_key("refill.early", names),
            )
        ]
    ran_out = prev.last_filled + dt.timedelta(days=prev.days_supply)
    late_days = (ctx.today - ran_out).days
    if late_days > 0 and Decimal(late_days) > LATE_FRACTION * prev.days_supply:
        return [
            Alert(
                type="LR",
                severity=Severity.MINOR,
                drugs=(drug.label,),
                message=(
                    f"Late refill: {prev.label} ({prev.days_supply} days, filled {filled}) ran "
                    f"out {late_days} days ago."
                ),
                consequence="Gaps in therapy (non-adherence) make the treatment less effective.",
                action="Ask the patient how they are taking it; counsel on adherence.",
                source=SOURCE,
                key=alert_key("refill.late", names),
            )
        ]
    return []
