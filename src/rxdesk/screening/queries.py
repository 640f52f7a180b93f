"""Reads of clinical screening that more than one caller needs: screening facts sent by an
integration (the API's check), a prescription as typed, a fill's DUR/PPS segment data for
the claim, the alerts of a fill, and the alert and override rates per rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q
from django.utils import timezone

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.rx.models import Fill, Prescription
from rxdesk.screening import engine, resolve
from rxdesk.screening.models import FillAlert
from rxdesk.screening.types import Alert, Context, Drug, Patient

# D.0 allows up to 9 DUR/PPS occurrences on a claim (reference §7.1).
DUR_MAX = 9
# The report reads at most this many days at once (a year and a day: a quarterly or an
# annual P&T review).
REPORT_MAX_DAYS = 366


def check(*, actor: User, patient: Patient, profile: Sequence[Drug], proposed: Drug) -> list[Alert]:
    """Screen ``proposed`` for facts the caller sends (no patient record is read or
    kept): the API's ``POST /screening/check``."""
    authorize(actor, Cap.RX_VIEW)
    today = actor.site.today() if actor.site is not None else timezone.localdate()
    ctx = Context(patient=patient, profile=tuple(profile), proposed=proposed, today=today)
    return engine.screen(ctx)


def screen_prescription(*, actor: User, rx: Prescription) -> list[Alert]:
    """The alerts a prescription raises as typed, against the patient's active profile
    (nothing is kept: a fill's alerts are kept when the fill is screened)."""
    authorize(actor, Cap.RX_VIEW)
    if actor.site_id != rx.site_id:
        raise NotFound("No such prescription at this pharmacy.")
    today = rx.site.today()
    profile = resolve.profile_of(rx.patient, exclude_rx=rx, today=today)
    if rx.replaces_id:
        profile = tuple(d for d in profile if d.prescription_id != rx.replaces_id)
    ctx = Context(
        patient=resolve.patient_facts(rx.patient),
        profile=profile,
        proposed=resolve.drug_from_prescription(rx),
        today=today,
    )
    return engine.screen(ctx)


def _ranked(rows: Sequence[FillAlert]) -> list[FillAlert]:
    from rxdesk.screening.types import RANK, Severity

    return sorted(
        rows,
        key=lambda r: (0 if r.interrupting else 1, -RANK[Severity(r.severity)], r.type, r.key),
    )


def fill_alerts(*, actor: User, fill: Fill) -> list[FillAlert]:
    """Every alert kept on a fill, ranked (interrupting first), resolutions included."""
    authorize(actor, Cap.RX_VIEW)
    if actor.site_id != fill.site_id:
        raise NotFound("No such fill at this pharmacy.")
    return _ranked(list(FillAlert.objects.filter(fill=fill).select_related("resolved_by")))


def alert_get(*, actor: User, alert_id: int) -> FillAlert:
    authorize(actor, Cap.RX_VIEW)
    row = None
    if 0 < alert_id < 2**63:
        row = (
            FillAlert.objects.filter(pk=alert_id, site_id=actor.site_id)
            .select_related("fill__prescription__patient", "resolved_by")
            .first()
        )
    if row is None:
        raise NotFound("No such alert at this pharmacy.")
    return row


# --- the claim's DUR/PPS segment ---------------------------------------------------------------


def _co_agent(row: FillAlert, profile: Sequence[Drug], own: Drug) -> str:
    named = {d.lower() for d in row.drugs}
    for drug in profile:
        mentioned = drug.label.lower() in named or bool(drug.names & named)
        if drug.ndc and mentioned and drug.names != own.names:
            return drug.ndc
    return ""


def fill_dur(fill: Fill) -> list[dict[str, str]]:
    """The DUR/PPS segment (NCPDP D.0 segment 08) for a fill's claim: one occurrence per
    resolved alert, interrupting ones first, at most nine — reason for service (439-E4),
    professional service (440-E5), result of service (441-E6), level of effort (474-8E,
    not recorded: blank) and the co-agent, the other drug of the conflict as an NDC
    (475-J9 qualifier 03, 476-H6) when it is on the patient's profile."""
    rows = _ranked(list(FillAlert.objects.filter(fill=fill, resolved_at__isnull=False)))
    if not rows:
        return []
    fill = Fill.objects.select_related("prescription__patient", "prescription__site").get(
        pk=fill.pk
    )
    rx = fill.prescription
    profile = resolve.profile_of(rx.patient, exclude_rx=rx)
    own = resolve.drug_from_prescription(rx, fill)
    out = []
    for row in rows[:DUR_MAX]:
        agent = _co_agent(row, profile, own)
        out.append(
            {
                "reason_for_service": row.type,
                "professional_service": row.professional_service,
                "result_of_service": row.result_of_service,
                "level_of_effort": "",
                "co_agent_qualifier": "03" if agent else "",
                "co_agent_id": agent,
            }
        )
    return out


# --- alert and override rates ------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRate:
    """One rule's figures over a period. ``overridden`` counts interrupting alerts a
    pharmacist resolved as filled anyway (result of service 1x); ``override_rate`` is that
    share of the interrupting alerts, in percent (None when the rule never interrupted):
    a rule overridden nine times in ten is a candidate for downgrading (reference §7.7)."""

    rule: str
    type: str
    source: str
    raised: int
    interrupted: int
    resolved: int
    overridden: int
    override_rate: Decimal | None


def _window(actor: User, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    if end < start:
        raise Invalid("The end date is before the start date.", field="end")
    if (end - start).days >= REPORT_MAX_DAYS:
        raise Invalid(f"Report at most {REPORT_MAX_DAYS} days at a time.", field="end")
    tz = actor.site.tz if actor.site is not None else dt.UTC
    first = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return first, after


def alert_rates(*, actor: User, start: dt.date, end: dt.date) -> list[RuleRate]:
    """Per rule, the alerts raised at this pharmacy between ``start`` and ``end`` (its
    days), how many interrupted, were resolved, and were overridden; most raised first."""
    authorize(actor, Cap.SCREENING_REPORT)
    first, after = _window(actor, start, end)
    rows = (
        FillAlert.objects.filter(site_id=actor.site_id, raised_at__gte=first, raised_at__lt=after)
        .values("rule", "type", "source")
        .annotate(
            raised=Count("pk"),
            interrupted=Count("pk", filter=Q(interrupting=True)),
            resolved=Count("pk", filter=Q(resolved_at__isnull=False)),
            overridden=Count("pk", filter=Q(interrupting=True, result_of_service__startswith="1")),
        )
        .order_by("-raised", "rule", "type", "source")
    )
    out = []
    for r in rows:
        rate = None
        if r["interrupted"]:
            rate = (Decimal(100) * r["overridden"] / r["interrupted"]).quantize(Decimal("0.1"))
        out.append(
            RuleRate(
                rule=r["rule"],
                type=r["type"],
                source=r["source"],
                raised=r["raised"],
                interrupted=r["interrupted"],
                resolved=r["resolved"],
                overridden=r["overridden"],
                override_rate=rate,
            )
        )
    return out
