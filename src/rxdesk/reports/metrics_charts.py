"""The metrics as charts and as CSV: which chart draws which metric, and the rows of each
metric's CSV file. Reads through :mod:`rxdesk.reports.metrics` (which checks the actor);
draws with :mod:`rxdesk.reports.charts`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rxdesk.core.errors import NotFound
from rxdesk.core.models import User
from rxdesk.reports import charts
from rxdesk.reports import metrics as m

# --- Charts -------------------------------------------------------------------------------------


def _errors(actor: User, p: m.Period) -> charts.Drawing:
    r = m.errors_caught(actor=actor, p=p)
    return charts.bar_chart(
        title="Errors caught per 1,000 fills, by check",
        categories=["Data verification", "Filling (scan)", "Final verification"],
        series=[charts.Series("per 1,000 fills", tuple(row.per_1000 or 0 for row in r.rows))],
        desc=f"{r.total} problems caught over {r.fills} fills filled: "
        + "; ".join(f"{row.label} {row.count}" for row in r.rows),
    )


def _alerts(actor: User, p: m.Period) -> charts.Drawing:
    r = m.alert_rates(actor=actor, p=p)
    labels = [row.severity_label for row in r.rows]
    seen: dict[str, list[int]] = {}
    for row in r.rows:
        counts = seen.setdefault(row.severity_label, [0, 0, 0])
        counts[0] += row.raised
        counts[1] += row.interrupting
        counts[2] += row.overridden
    labels = list(seen)
    return charts.bar_chart(
        title="Screening alerts by severity: raised, interrupting, overridden",
        categories=labels,
        series=[
            charts.Series("raised", tuple(seen[k][0] for k in labels)),
            charts.Series("interrupting", tuple(seen[k][1] for k in labels)),
            charts.Series("overridden", tuple(seen[k][2] for k in labels)),
        ],
        desc=f"{r.raised} alerts over {r.fills} fills; {r.overridden} of {r.interrupting} "
        "interrupting alerts overridden.",
    )


def _queues(actor: User, p: m.Period) -> charts.Drawing:
    r = m.queue_lengths(actor=actor, p=p)
    return charts.line_chart(
        title="Fills waiting in each queue at the top of the hour (average)",
        categories=[f"{h.hour:02d}" for h in r.hours],
        series=[
            charts.Series(label, tuple(h.mean[status] for h in r.hours))
            for status, label in r.queues
        ],
        desc="Average queue length by hour of the day for: "
        + ", ".join(label for _, label in r.queues),
    )


def _hourly(actor: User, p: m.Period) -> charts.Drawing:
    r = m.rx_volume(actor=actor, p=p)
    return charts.bar_chart(
        title="Prescriptions by hour of the day: new and refill",
        categories=[row.label[:2] for row in r.per_hour],
        series=[
            charts.Series("new", tuple(row.new for row in r.per_hour)),
            charts.Series("refill", tuple(row.refill for row in r.per_hour)),
        ],
        desc=f"{r.new} new and {r.refill} refills over the period, by hour asked for.",
    )


def _daily(actor: User, p: m.Period) -> charts.Drawing:
    r = m.rx_volume(actor=actor, p=p)
    return charts.bar_chart(
        title="Prescriptions per day: new and refill",
        categories=[row.label[5:] for row in r.per_day],
        series=[
            charts.Series("new", tuple(row.new for row in r.per_day)),
            charts.Series("refill", tuple(row.refill for row in r.per_day)),
        ],
        desc=f"{r.new} new and {r.refill} refills over {p.days} days.",
    )


def _steps(actor: User, p: m.Period) -> charts.Drawing:
    r = m.step_times(actor=actor, p=p)
    return charts.box_chart(
        title="Minutes between workflow steps: median and 90th percentile",
        rows=[charts.BoxRow(row.label, row.median, row.p90) for row in r.rows],
        unit="minutes",
        desc="; ".join(f"{row.label}: median {row.median}, p90 {row.p90}" for row in r.rows),
    )


def _deadstock(actor: User, p: m.Period) -> charts.Drawing:
    r = m.dead_stock(actor=actor, p=p)
    top = [row for row in r.rows if row.value is not None][:10]
    return charts.bar_chart(
        title=f"Dead stock: value of the ten largest (no dispensing in {r.days} days)",
        categories=[row.ndc for row in top],
        series=[charts.Series("value ($)", tuple(row.value or 0 for row in top))],
        unit="dollars",
        desc=f"{len(r.rows)} packages, ${r.total_value} at acquisition cost.",
    )


def _rejects_plan(actor: User, p: m.Period) -> charts.Drawing:
    r = m.claim_rejects(actor=actor, p=p)
    return charts.bar_chart(
        title="Claim reject rate by plan (% of claims submitted)",
        categories=[row.plan for row in r.by_plan],
        series=[charts.Series("reject rate %", tuple(row.rate or 0 for row in r.by_plan))],
        unit="percent",
        desc=f"{r.rejected} of {r.submitted} claims rejected.",
    )


def _rejects_code(actor: User, p: m.Period) -> charts.Drawing:
    r = m.claim_rejects(actor=actor, p=p)
    rows = r.by_code[:12]
    return charts.bar_chart(
        title="Claims rejected, by reject code (% of claims submitted)",
        categories=[row.code for row in rows],
        series=[charts.Series("% of submitted", tuple(row.share or 0 for row in rows))],
        unit="percent",
        desc="; ".join(f"{row.code} {row.meaning}: {row.claims}" for row in rows) or "No rejects.",
    )


CHARTS: dict[str, Callable[[User, m.Period], charts.Drawing]] = {
    "errors": _errors,
    "alerts": _alerts,
    "queues": _queues,
    "hourly": _hourly,
    "steps": _steps,
    "daily": _daily,
    "deadstock": _deadstock,
    "rejects-plan": _rejects_plan,
    "rejects-code": _rejects_code,
}


def chart(*, actor: User, p: m.Period, name: str) -> charts.Drawing:
    """The named chart of the period (see :data:`CHARTS`)."""
    draw = CHARTS.get(name)
    if draw is None:
        raise NotFound(f"There is no chart called {name!r}.")
    return draw(actor, p)


# --- CSV ----------------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def _csv_errors(actor: User, p: m.Period) -> str:
    r = m.errors_caught(actor=actor, p=p)
    return _table(
        ["check", "caught", "fills_filled", "per_1000_fills"],
        [(row.label, row.count, r.fills, row.per_1000) for row in r.rows],
    )


def _csv_alerts(actor: User, p: m.Period) -> str:
    r = m.alert_rates(actor=actor, p=p)
    return _table(
        [
            "type",
            "type_label",
            "severity",
            "raised",
            "interrupting",
            "overridden",
            "per_1000_fills",
            "override_percent",
        ],
        [
            (
                x.type,
                x.type_label,
                x.severity,
                x.raised,
                x.interrupting,
                x.overridden,
                x.per_1000,
                x.override_share,
            )
            for x in r.rows
        ],
    )


def _csv_queues(actor: User, p: m.Period) -> str:
    r = m.queue_lengths(actor=actor, p=p)
    header = ["hour", "samples"]
    for status, _ in r.queues:
        header += [f"{status}_mean", f"{status}_peak"]
    rows = []
    for h in r.hours:
        row: list[Any] = [f"{h.hour:02d}:00", h.samples]
        for status, _ in r.queues:
            row += [h.mean[status], h.peak[status]]
        rows.append(row)
    return _table(header, rows)


def _csv_volume(actor: User, p: m.Period) -> str:
    r = m.rx_volume(actor=actor, p=p)
    rows = [("day", x.label, x.new, x.refill, x.total) for x in r.per_day]
    rows += [("hour", x.label, x.new, x.refill, x.total) for x in r.per_hour]
    return _table(["by", "when", "new", "refill", "total"], rows)


def _csv_steps(actor: User, p: m.Period) -> str:
    r = m.step_times(actor=actor, p=p)
    return _table(
        ["segment", "fills", "median_minutes", "p90_minutes"],
        [(x.label, x.fills, x.median, x.p90) for x in r.rows],
    )


def _csv_inventory(actor: User, p: m.Period) -> str:
    t = m.inventory_turns(actor=actor, p=p)
    d = m.dead_stock(actor=actor, p=p)
    rows: list[Sequence[Any]] = [
        ("turns", "", "", "", "", t.turns),
        ("turns_annualized", "", "", "", "", t.annualized),
        ("dispensed_cost", "", "", "", "", t.dispensed_cost),
        ("average_on_hand_value", "", "", "", "", t.average_value),
    ]
    rows += [
        ("dead_stock", x.ndc, x.description, f"{x.on_hand} {x.unit}", x.last_dispensed, x.value)
        for x in d.rows
    ]
    return _table(["figure", "ndc", "description", "on_hand", "last_dispensed", "value"], rows)


def _csv_claims(actor: User, p: m.Period) -> str:
    r = m.claim_rejects(actor=actor, p=p)
    rows: list[Sequence[Any]] = [
        ("plan", x.plan, x.bin, x.submitted, x.rejected, x.rate) for x in r.by_plan
    ]
    rows += [("code", x.code, x.meaning, r.submitted, x.claims, x.share) for x in r.by_code]
    return _table(["by", "name", "detail", "submitted", "rejected", "percent"], rows)


CSVS: dict[str, Callable[[User, m.Period], str]] = {
    "errors": _csv_errors,
    "alerts": _csv_alerts,
    "queues": _csv_queues,
    "volume": _csv_volume,
    "steps": _csv_steps,
    "inventory": _csv_inventory,
    "claims": _csv_claims,
}


def csv_text(*, actor: User, p: m.Period, name: str) -> str:
    """The named metric as CSV text (a header row, then one row per figure)."""
    write = CSVS.get(name)
    if write is None:
        raise NotFound(f"There is no metric called {name!r}.")
    return write(actor, p)
