"""Every write of clinical screening: the alerts raised on a fill, and a pharmacist's
resolution of one.

Screening a fill keeps its alerts as FillAlert rows (one per fill and alert key): a re-run
adds what is new, refreshes what nobody has resolved yet, and keeps every resolution. An
interrupting alert (contraindicated or major) stops data verification until a pharmacist
resolves it with the NCPDP professional-service (440-E5) and result-of-service (441-E6)
codes and a note; the triplet goes on the claim's DUR/PPS segment
(rxdesk.screening.queries.fill_dur). The fill workflow reaches this module through
rxdesk.rx.seams (registered in ScreeningConfig.ready)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.rx import seams
from rxdesk.rx.models import Fill
from rxdesk.screening import engine, resolve
from rxdesk.screening.models import FillAlert
from rxdesk.screening.types import Alert, Context

register_actions(
    {
        "screening.fill.screened": "Clinical screening raised alerts on a fill",
        "screening.alert.resolved": "Pharmacist resolved a screening alert (DUR/PPS codes)",
    }
)

# NCPDP 440-E5 Professional Service Code (reference §7.3; the codes marked unverified there
# are left out). M0, P0 and R0 end in the digit zero.
PROFESSIONAL_SERVICE: dict[str, str] = {
    "00": "No intervention",
    "AS": "Patient assessment",
    "CC": "Coordination of care",
    "DE": "Dosing evaluation/determination",
    "FE": "Formulary enforcement",
    "GP": "Generic product selection",
    "M0": "Prescriber consulted",
    "MA": "Medication administration",
    "MR": "Medication review",
    "P0": "Patient consulted",
    "PE": "Patient education/instruction",
    "PH": "Patient medication history",
    "PM": "Patient monitoring",
    "PT": "Perform laboratory test",
    "R0": "Pharmacist consulted other source",
    "RT": "Recommend laboratory test",
    "SC": "Self-care consultation",
    "SW": "Literature search/review",
    "TC": "Payer/processor consultation",
}
# NCPDP 441-E6 Result of Service Code (reference §7.4). 1x: filled; 2x: not filled;
# 3x: cognitive outcomes.
RESULT_OF_SERVICE: dict[str, str] = {
    "00": "Not specified",
    "1A": "Filled as is, false positive",
    "1B": "Filled prescription as is",
    "1C": "Filled with different dose",
    "1D": "Filled with different directions",
    "1E": "Filled with different drug",
    "1F": "Filled with different quantity",
    "1G": "Filled with prescriber approval",
    "1H": "Brand-to-generic change",
    "1J": "Rx-to-OTC change",
    "1K": "Filled with different dosage form",
    "2A": "Prescription not filled",
    "2B": "Not filled, directions clarified",
    "3A": "Recommendation accepted",
    "3B": "Recommendation not accepted",
    "3C": "Discontinued drug",
    "3D": "Regimen changed",
    "3E": "Therapy changed",
    "3F": "Therapy changed, cost increase acknowledged",
    "3G": "Drug therapy unchanged",
    "3H": "Follow-up/report",
    "3J": "Patient referral",
    "3K": "Instructions understood",
    "3M": "Compliance aid provided",
    "3N": "Medication administered",
}
NOTE_MAX = 500


def _rule_of(key: str) -> str:
    return key.split("|", 1)[0][:80]


def fill_context(fill: Fill) -> Context:
    """What screening sees for a fill: the patient's facts, the active profile without
    this prescription (nor the one it replaces), and the fill's drug with its directions
    and history, on the pharmacy's date."""
    rx = fill.prescription
    patient = rx.patient
    today = rx.site.today()
    profile = resolve.profile_of(patient, exclude_rx=rx, today=today)
    if rx.replaces_id:
        profile = tuple(d for d in profile if d.prescription_id != rx.replaces_id)
    return Context(
        patient=resolve.patient_facts(patient),
        profile=profile,
        proposed=resolve.drug_from_prescription(rx, fill),
        today=today,
    )


def _own(actor: User, fill: Fill) -> None:
    if actor.site_id != fill.site_id:
        raise NotFound("No such fill at this pharmacy.")


def _row(fill: Fill, alert: Alert) -> FillAlert:
    return FillAlert(
        site_id=fill.site_id,
        fill=fill,
        key=alert.key[:200],
        rule=_rule_of(alert.key),
        type=alert.type[:2],
        severity=alert.severity.value,
        interrupting=alert.interrupts,
        drugs=list(alert.drugs),
        message=alert.message[:500],
        consequence=alert.consequence[:500],
        action=alert.action[:500],
        source=alert.source[:200],
    )


_REFRESHED = ("severity", "interrupting", "drugs", "message", "consequence", "action", "source")


@dataclass(frozen=True)
class Screened:
    """A fill's current alerts, ranked, each with its stored row (resolution included)."""

    alerts: list[tuple[Alert, FillAlert]]

    @property
    def waiting(self) -> list[FillAlert]:
        """Interrupting alerts that still stop data verification."""
        return [row for _, row in self.alerts if blocks(row)]


def blocks(row: FillAlert) -> bool:
    """An interrupting alert stops data verification until a pharmacist resolves it as
    filled or as a cognitive outcome; resolved as not filled (2x), it still stops it:
    the fill is to be sent back or cancelled, not filled."""
    if not row.interrupting:
        return False
    return row.resolved_at is None or row.result_of_service.startswith("2")


def fill_screen(*, actor: User, fill: Fill) -> Screened:
    """Screen ``fill`` and keep its alerts: new ones are added, unresolved ones refreshed
    (the knowledge base or the dose may have changed), resolutions are never touched.
    Anyone who reads prescriptions may run it (a technician sees the alerts at typing;
    only a pharmacist resolves them). Audited when it raises something new."""
    authorize(actor, Cap.RX_VIEW)
    _own(actor, fill)
    fill = Fill.objects.select_related("prescription__patient", "prescription__site").get(
        pk=fill.pk
    )
    return _screen(actor, fill)


def _screen(actor: User, fill: Fill) -> Screened:
    """``fill_screen`` on a fill read with its prescription, patient and site."""
    found = engine.screen(fill_context(fill))
    # No savepoint inside the workflow's transaction: nothing here is caught and carried on
    # from, so an error rolls the whole step back as it should.
    with transaction.atomic(savepoint=False):
        existing = {
            row.key: row
            for row in FillAlert.objects.filter(fill=fill).select_related("resolved_by")
        }
        fresh = [_row(fill, a) for a in found if a.key[:200] not in existing]
        for alert in found:
            row = existing.get(alert.key[:200])
            if row is None or row.resolved_at is not None:
                continue
            new = _row(fill, alert)
            changed = [f for f in _REFRESHED if getattr(row, f) != getattr(new, f)]
            if changed:
                for name in changed:
                    setattr(row, name, getattr(new, name))
                row.save(update_fields=changed)
        if fresh:
            # A concurrent run may have kept the same key first: the unique (fill, key)
            # makes the second insert a no-op, and both read the same rows below.
            FillAlert.objects.bulk_create(fresh, ignore_conflicts=True)
            audit_record(
                actor=actor,
                site=fill.prescription.site,
                action="screening.fill.screened",
                obj=fill,
                patient_id=fill.prescription.patient_id,
                data={
                    "prescription_id": fill.prescription_id,
                    "fill_number": fill.number,
                    "raised": sorted(row.key for row in fresh),
                },
            )
            rows = {
                row.key: row
                for row in FillAlert.objects.filter(fill=fill).select_related("resolved_by")
            }
        else:
            rows = existing  # refreshed in place above
    return Screened(alerts=[(a, rows[a.key[:200]]) for a in found if a.key[:200] in rows])


def _code(value: str, table: dict[str, str], field: str, what: str) -> str:
    code = (value or "").strip().upper()
    if len(code) == 2 and code[1] == "O" and f"{code[0]}0" in table:
        raise Invalid(
            f"{code} ends in the letter O; the NCPDP code is {code[0]}0 (zero).", field=field
        )
    if code not in table:
        raise Invalid(f"{code or 'Nothing'} is not an NCPDP {what} code.", field=field)
    return code


def alert_resolve(
    *,
    actor: User,
    alert: FillAlert,
    professional_service: str,
    result_of_service: str,
    note: str,
) -> FillAlert:
    """A pharmacist's resolution of a screening alert on a fill: what was done (440-E5),
    the outcome (441-E6) and a note, kept with the fill and sent on the claim's DUR/PPS
    segment. A resolution is final: a second one is a Conflict."""
    authorize(actor, Cap.SCREENING_RESOLVE)
    if actor.site_id != alert.site_id:
        raise NotFound("No such alert at this pharmacy.")
    errors: list[dict[str, str]] = []
    codes: dict[str, str] = {}
    for field, value, table, what in (
        (
            "professional_service",
            professional_service,
            PROFESSIONAL_SERVICE,
            "professional service",
        ),
        ("result_of_service", result_of_service, RESULT_OF_SERVICE, "result of service"),
    ):
        try:
            codes[field] = _code(value, table, field, what)
        except Invalid as exc:
            errors.extend(exc.errors)
    if codes.get("result_of_service") == "00":
        errors.append(
            {
                "field": "result_of_service",
                "message": "Say what happened to the prescription (00 is 'not specified').",
            }
        )
    text = " ".join((note or "").split())
    if not text:
        errors.append({"field": "note", "message": "Write a note: what you checked and why."})
    elif len(text) > NOTE_MAX:
        errors.append({"field": "note", "message": f"A note is at most {NOTE_MAX} characters."})
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        now = timezone.now()
        # A conditional update: two pharmacists resolving at once cannot both win.
        done = FillAlert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(
            resolved_by=actor,
            resolved_at=now,
            professional_service=codes["professional_service"],
            result_of_service=codes["result_of_service"],
            note=text,
        )
        row = FillAlert.objects.select_related("fill__prescription", "resolved_by").get(pk=alert.pk)
        if not done:
            by = row.resolved_by.username if row.resolved_by else "someone"
            raise Conflict(f"This alert was already resolved by {by}.", field="alert")
        rx = row.fill.prescription
        audit_record(
            actor=actor,
            site=actor.site,
            action="screening.alert.resolved",
            obj=row,
            patient_id=rx.patient_id,
            data={
                "fill_id": row.fill_id,
                "prescription_id": rx.pk,
                "key": row.key,
                "type": row.type,
                "severity": row.severity,
                "professional_service": row.professional_service,
                "result_of_service": row.result_of_service,
            },
        )
    return row


# --- the fill workflow's seam -----------------------------------------------------------------


def _blocking_message(row: FillAlert) -> str:
    drugs = " + ".join(row.drugs) if row.drugs else "this drug"
    if row.resolved_at is not None:
        return (
            f"{row.type} {row.severity} ({drugs}) was resolved as not filled "
            f"({row.result_of_service}): send the fill back or cancel it."
        )
    return f"{row.type} {row.severity}: {row.message} ({drugs}) — a pharmacist must resolve it."


def summary(row: FillAlert) -> dict[str, Any]:
    return {
        "key": row.key,
        "type": row.type,
        "severity": row.severity,
        "interrupting": row.interrupting,
        "resolved": row.resolved_at is not None,
        "professional_service": row.professional_service,
        "result_of_service": row.result_of_service,
    }


def fill_seam(fill: Fill, actor: User) -> seams.Outcome:
    """Data verification's screening step (rxdesk.rx.seams): every interrupting alert not
    resolved on this fill blocks it; the fill's history keeps the alerts' summary."""
    authorize(actor, Cap.RX_VIEW)
    _own(actor, fill)
    # The workflow's fill, locked and read with its prescription, patient and site.
    screened = _screen(actor, fill)
    rows = [row for _, row in screened.alerts]
    waiting = screened.waiting
    interrupting = sum(1 for r in rows if r.interrupting)
    resolved = sum(1 for r in rows if r.interrupting and r.resolved_at is not None)
    if not rows:
        note = "Clinical screening: no alerts."
    else:
        note = (
            f"Clinical screening: {len(rows)} alert(s), {interrupting} interrupting, "
            f"{resolved} resolved by a pharmacist."
        )
    return seams.Outcome(
        ran=True,
        note=note,
        blocking=[{"field": "alerts", "message": _blocking_message(r)} for r in waiting],
        record={"alerts": [summary(r) for r in rows]},
    )
