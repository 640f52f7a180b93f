"""Services of reporting to the state registry (IIS): VXU messages, MLLP sending, ACKs,
retries, deadlines, batch files; the site's registry settings.

A message is a snapshot: the VXU is built when the dose is recorded (or corrected, or
deleted) and sent as it was built. Life of a message::

    queued ──send──> accepted | warning | rejected
       │  └─ no answer / unreadable ACK ─> failed ─(retry_minutes × 2^(attempts-1))─> …
       │                                     └─ retry_max_attempts used ─> gave_up
       └─ batch export ─> exported
    rejected ──retry──> cancelled + a new message rebuilt from the record (new control id)

Sending never holds a database transaction open across the network: a message is first
*claimed* (a conditional update: attempts + 1 and a lease on next_attempt_at, so a second
sender — two cron runs — skips it), then sent, then its result recorded in its own
transaction with its audit event. Messages of one dose go out in the order they were
queued: a later one waits while an earlier one is still undelivered."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize, full_clean
from rxdesk.immunizations import mllp, vxu
from rxdesk.immunizations.ack import ACCEPTED, WARNING, MalformedAck, parse_ack
from rxdesk.immunizations.choices import (
    ProcessingId,
    RegistryAction,
    RegistryStatus,
    Transport,
)
from rxdesk.immunizations.common import settings_of
from rxdesk.immunizations.models import (
    Immunization,
    ImmunizationSettings,
    RegistryBatch,
    RegistryMessage,
)

register_actions(
    {
        "immunizations.registry_message.queued": "VXU queued for the state registry",
        "immunizations.registry_message.sent": "VXU sent to the state registry (its answer)",
        "immunizations.registry_message.retried": "VXU to the state registry sent again",
        "immunizations.registry_batch.exported": "Registry batch file exported",
        "immunizations.registry_settings.changed": "Registry connection settings changed",
        "immunizations.registry_vxu.opened": "VXU of a dose opened (PHI)",
        "immunizations.registry_batch.downloaded": "Registry batch file downloaded (PHI)",
    }
)

SENDABLE = (RegistryStatus.QUEUED, RegistryStatus.FAILED)
RETRYABLE = (RegistryStatus.FAILED, RegistryStatus.GAVE_UP, RegistryStatus.REJECTED)
BATCHABLE = (RegistryStatus.QUEUED, RegistryStatus.FAILED, RegistryStatus.GAVE_UP)
LEASE = dt.timedelta(seconds=60)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
_HL7_ID = re.compile(r"^[^|^~\\&\x00-\x1f\x7f]*$")

SETTINGS_FIELDS = (
    "transport",
    "iis_host",
    "iis_port",
    "timeout_seconds",
    "sending_application",
    "sending_facility",
    "receiving_application",
    "receiving_facility",
    "processing_id",
    "reporting_deadline_hours",
    "retry_max_attempts",
    "retry_minutes",
    # The state's rules on who may vaccinate whom (read by the administration services).
    "technicians_administer",
    "minimum_age_months",
    "technician_minimum_age_months",
)
BOOLEAN_FIELDS = frozenset({"technicians_administer"})


def _control_id(site_id: int, immunization_id: int, action: str) -> str:
    """MSH-10: unique (a random tail), readable (site, dose, action)."""
    return f"RX{site_id}-{immunization_id}-{action}-{secrets.token_hex(4).upper()}"


def _due_at(immunization: Immunization, settings: ImmunizationSettings) -> dt.datetime:
    if immunization.reporting_due_at is not None:
        return immunization.reporting_due_at
    return immunization.administered_at + dt.timedelta(hours=settings.reporting_deadline_hours)


def _never_left(message: RegistryMessage) -> bool:
    """Queued and never tried nor exported: the registry has not seen it."""
    return (
        message.status == RegistryStatus.QUEUED and message.attempts == 0 and not message.batch_id
    )


def registry_enqueue(
    *, immunization: Immunization, action: RegistryAction, actor: User
) -> RegistryMessage | None:
    """Queue the VXU of ``immunization`` for the registry, inside the caller's transaction.

    Called by the administration services: ADD when a dose is recorded, UPDATE when it is
    corrected, DELETE when it is marked entered in error. Returns None when nothing is to
    be reported (a historical dose is reported only when the site reports history).

    No capability of its own: the caller (who recorded, corrected or deleted the dose)
    has checked its own. rxdesk does not report historical doses (the site that gave them
    reports them); their rows stay in rxdesk. A message of the same dose still waiting
    unsent (never tried, never exported) is replaced rather than followed: its ADD is
    carried into the new message (the registry never heard of the dose), and a DELETE of a
    dose the registry never heard of cancels the waiting ADD and sends nothing."""
    if not immunization.given_here:
        return None
    action = RegistryAction(action)
    site = immunization.site
    with transaction.atomic():
        settings = settings_of(site)
        waiting = [
            m
            for m in RegistryMessage.objects.filter(immunization=immunization).order_by("pk")
            if m.status != RegistryStatus.CANCELLED
        ]
        unsent = [
            m
            for m in waiting
            if _never_left(m)
            # a sender may claim it this instant: only what is cancelled here counts
            and RegistryMessage.objects.filter(
                pk=m.pk, status=RegistryStatus.QUEUED, attempts=0, batch__isnull=True
            ).update(status=RegistryStatus.CANCELLED, next_attempt_at=None)
        ]
        everything_unsent = len(unsent) == len(waiting)
        if action == RegistryAction.DELETE and waiting and everything_unsent:
            return None
        if action == RegistryAction.DELETE and not waiting:
            return None
        if action == RegistryAction.UPDATE and any(m.action == RegistryAction.ADD for m in unsent):
            action = RegistryAction.ADD
        now = timezone.now()
        control_id = _control_id(site.pk, immunization.pk, action)
        message = RegistryMessage.objects.create(
            site=site,
            immunization=immunization,
            action=action,
            control_id=control_id,
            message=vxu.build_vxu(
                immunization, settings=settings, control_id=control_id, now=now, action=action
            ),
            status=RegistryStatus.QUEUED,
            next_attempt_at=now,
            due_at=_due_at(immunization, settings),
            created_by=actor,
            created_at=now,
        )
        audit_record(
            actor=actor,
            action="immunizations.registry_message.queued",
            site=site,
            obj=message,
            patient_id=immunization.patient_id,
            data={
                "control_id": control_id,
                "immunization": immunization.pk,
                "action": str(action),
                "replaced": [m.control_id for m in unsent],
            },
        )
    return message


# --- Sending ---------------------------------------------------------------------------------


@dataclass
class SendSummary:
    """What one run of sending did."""

    transport: str
    sent: int = 0
    accepted: int = 0
    warnings: int = 0
    rejected: int = 0
    failed: int = 0
    gave_up: int = 0
    skipped: int = 0
    waiting: int = 0
    problems: list[str] = field(default_factory=list)

    def in_words(self) -> str:
        if self.transport == Transport.NONE:
            return (
                f"Registry not configured: {self.waiting} message(s) wait in the queue "
                "(set the connection in Registry settings)."
            )
        if self.transport == Transport.BATCH:
            return f"Batch-file reporting: {self.waiting} message(s) wait for the next batch file."
        if not self.sent:
            return "Nothing due to send."
        parts = [f"{self.sent} sent", f"{self.accepted} accepted"]
        if self.warnings:
            parts.append(f"{self.warnings} accepted with warnings")
        if self.rejected:
            parts.append(f"{self.rejected} rejected")
        if self.failed:
            parts.append(f"{self.failed} not delivered (will retry)")
        if self.gave_up:
            parts.append(f"{self.gave_up} not delivered (retries used up)")
        return ", ".join(parts) + "."


def _due(site: Site, now: dt.datetime) -> Q:
    return Q(site=site, status__in=SENDABLE) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def _claim(message: RegistryMessage, settings: ImmunizationSettings, now: dt.datetime) -> bool:
    lease = now + dt.timedelta(seconds=settings.timeout_seconds) + LEASE
    claimed = RegistryMessage.objects.filter(
        pk=message.pk, status=message.status, attempts=message.attempts
    ).update(attempts=message.attempts + 1, last_attempt_at=now, next_attempt_at=lease)
    if claimed:
        message.attempts += 1
        message.last_attempt_at = now
    return bool(claimed)


def _earlier_pending(message: RegistryMessage) -> bool:
    return RegistryMessage.objects.filter(
        immunization_id=message.immunization_id, pk__lt=message.pk, status__in=SENDABLE
    ).exists()


def _deliver(
    *,
    actor: User | None,
    message: RegistryMessage,
    settings: ImmunizationSettings,
    now: dt.datetime,
    audit_action: str = "immunizations.registry_message.sent",
) -> str:
    """Claim, send over MLLP, record the answer. Returns the new status ('' when another
    sender had claimed it)."""
    if not _claim(message, settings, now):
        return ""
    reply = ""
    problem = ""
    ack = None
    try:
        reply = mllp.send(
            settings.iis_host,
            int(settings.iis_port or 0),
            message.message,
            float(settings.timeout_seconds),
        )
        ack = parse_ack(reply, message.control_id)
    except mllp.TransportError as exc:
        problem = exc.message
    except MalformedAck as exc:
        problem = f"The registry's answer cannot be read: {exc.message}"
    answered_at = timezone.now()
    changes: dict[str, Any] = {"last_attempt_at": now, "ack_text": reply[:65536]}
    if ack is not None:
        outcome = ack.outcome
        status = {
            ACCEPTED: RegistryStatus.ACCEPTED,
            WARNING: RegistryStatus.WARNING,
        }.get(outcome, RegistryStatus.REJECTED)
        changes.update(
            status=status,
            ack_code=ack.code,
            errors=[e.as_json() for e in ack.errors],
            acked_at=answered_at,
            next_attempt_at=None,
            last_error=(ack.errors[0].in_words()[:500] if ack.errors else ""),
        )
    else:
        if message.attempts >= settings.retry_max_attempts:
            status = RegistryStatus.GAVE_UP
            next_at = None
        else:
            status = RegistryStatus.FAILED
            backoff = settings.retry_minutes * 2 ** (message.attempts - 1)
            next_at = now + dt.timedelta(minutes=backoff)
        changes.update(
            status=status, next_attempt_at=next_at, last_error=problem[:500], ack_code=""
        )
    with transaction.atomic():
        RegistryMessage.objects.filter(pk=message.pk).update(**changes)
        for key, value in changes.items():
            setattr(message, key, value)
        audit_record(
            actor=actor,
            action=audit_action,
            site=message.site,
            obj=message,
            patient_id=message.immunization.patient_id,
            data={
                "control_id": message.control_id,
                "status": str(status),
                "ack_code": changes.get("ack_code", ""),
                "attempts": message.attempts,
                "errors": len(changes.get("errors", [])),
            },
        )
    return str(status)


def _tally(summary: SendSummary, status: str) -> None:
    summary.sent += 1
    if status == RegistryStatus.ACCEPTED:
        summary.accepted += 1
    elif status == RegistryStatus.WARNING:
        summary.warnings += 1
    elif status == RegistryStatus.REJECTED:
        summary.rejected += 1
    elif status == RegistryStatus.FAILED:
        summary.failed += 1
    elif status == RegistryStatus.GAVE_UP:
        summary.gave_up += 1


def registry_send_due(
    *,
    actor: User | None,
    site: Site,
    now: dt.datetime | None = None,
    limit: int = 100,
) -> SendSummary:
    """Send the site's messages that are due (queued, or failed and past their retry
    time), oldest first, one at a time, each recorded in its own transaction. ``actor``
    None is the system (cron, ``rxdesk iis-send``), allowed only from the CLI. With batch
    reporting or no registry configured nothing is sent."""
    authorize(actor, Cap.IMM_REGISTRY)
    if actor is not None and actor.site_id != site.pk:
        raise NotFound("No such pharmacy.", field="site")
    if not 1 <= limit <= 1000:
        raise Invalid("Send between 1 and 1000 messages at a time.", field="limit")
    now = now or timezone.now()
    settings = settings_of(site)
    summary = SendSummary(transport=settings.transport)
    if settings.transport != Transport.MLLP:
        summary.waiting = RegistryMessage.objects.filter(
            site=site, status__in=SENDABLE, batch__isnull=True
        ).count()
        return summary
    due = list(
        RegistryMessage.objects.filter(_due(site, now))
        .select_related("site", "immunization")
        .order_by("pk")[:limit]
    )
    for message in due:
        if _earlier_pending(message):
            summary.skipped += 1
            continue
        status = _deliver(actor=actor, message=message, settings=settings, now=now)
        if not status:
            summary.skipped += 1
            continue
        _tally(summary, status)
        if status in (RegistryStatus.FAILED, RegistryStatus.GAVE_UP):
            summary.problems.append(f"{message.control_id}: {message.last_error}")
    summary.waiting = RegistryMessage.objects.filter(_due(site, now)).count()
    return summary


def _mine(actor: User, message: RegistryMessage) -> RegistryMessage:
    pk = getattr(message, "pk", None)
    found = (
        RegistryMessage.objects.select_related("site", "immunization")
        .filter(pk=pk, site=actor.site)
        .first()
        if pk is not None
        else None
    )
    if found is None:
        raise NotFound("No such registry message at this pharmacy.", field="message")
    return found


def registry_retry(*, actor: User, message: RegistryMessage) -> RegistryMessage:
    """Send a failed, given-up or rejected message again now. A rejected one is rebuilt
    from the dose's current record as a new message (new control id) and the old one is
    cancelled; a failed or given-up one gets its retries back. With batch reporting or no
    registry configured the message waits in the queue instead. Returns the message sent
    (the new one for a rejected message)."""
    authorize(actor, Cap.IMM_REGISTRY)
    now = timezone.now()
    with transaction.atomic():
        message = _mine(actor, message)
        if message.status not in RETRYABLE:
            raise Conflict(
                f"This message is {message.get_status_display().lower()}: only a message "
                "not delivered or rejected can be sent again.",
                field="status",
            )
        settings = settings_of(actor.site)
        old_status = message.status
        if message.status == RegistryStatus.REJECTED:
            moved = RegistryMessage.objects.filter(
                pk=message.pk, status=RegistryStatus.REJECTED
            ).update(status=RegistryStatus.CANCELLED, next_attempt_at=None)
            if not moved:
                raise Conflict("Someone else has just sent this message again.", field="status")
            imm = message.immunization
            action = RegistryAction(message.action)
            control_id = _control_id(imm.site_id, imm.pk, action)
            target = RegistryMessage.objects.create(
                site=message.site,
                immunization=imm,
                action=action,
                control_id=control_id,
                message=vxu.build_vxu(
                    imm, settings=settings, control_id=control_id, now=now, action=action
                ),
                status=RegistryStatus.QUEUED,
                next_attempt_at=now,
                due_at=message.due_at,
                created_by=actor,
                created_at=now,
            )
        else:
            moved = RegistryMessage.objects.filter(pk=message.pk, status=message.status).update(
                status=RegistryStatus.QUEUED, attempts=0, next_attempt_at=now
            )
            if not moved:
                raise Conflict("Someone else has just sent this message again.", field="status")
            target = RegistryMessage.objects.select_related("site", "immunization").get(
                pk=message.pk
            )
        audit_record(
            actor=actor,
            action="immunizations.registry_message.retried",
            obj=target,
            patient_id=target.immunization.patient_id,
            data={
                "control_id": target.control_id,
                "was": str(old_status),
                "replaces": message.control_id if target.pk != message.pk else "",
            },
        )
    if settings.transport == Transport.MLLP and not _earlier_pending(target):
        _deliver(actor=actor, message=target, settings=settings, now=now)
    target.refresh_from_db()
    return target


# --- Batch files -----------------------------------------------------------------------------


def batch_file(
    *,
    head: vxu.Header,
    control_id: str,
    file_name: str,
    now: dt.datetime,
    messages: list[str],
) -> str:
    """FHS/BHS, the messages, BTS (message count) / FTS (batch count)."""
    stamp = vxu.hl7_time(now, head.tz)
    ids = "|".join(
        vxu.escape(v)
        for v in (
            head.sending_application,
            head.sending_facility,
            head.receiving_application,
            head.receiving_facility,
        )
    )
    lines = [
        f"FHS|^~\\&|{ids}|{stamp}||{vxu.escape(file_name)}||{vxu.escape(control_id)}",
        f"BHS|^~\\&|{ids}|{stamp}||||{vxu.escape(control_id)}",
        *messages,
        f"BTS|{len(messages)}",
        "FTS|1",
    ]
    return "\r".join(lines) + "\r"


def registry_batch_export(*, actor: User) -> RegistryBatch:
    """Put every message not yet delivered (queued, failed, given up) into one batch file
    for the registry's upload page; they become *exported*."""
    authorize(actor, Cap.IMM_REGISTRY)
    site = actor.site
    now = timezone.now()
    with transaction.atomic():
        settings = settings_of(site)
        pending = list(
            RegistryMessage.objects.filter(
                site=site, status__in=BATCHABLE, batch__isnull=True
            ).order_by("pk")
        )
        if not pending:
            raise Conflict("No message is waiting: there is nothing to export.", field="batch")
        local = now.astimezone(site.tz)
        control_id = f"B{site.pk}-{local:%Y%m%d%H%M%S}-{secrets.token_hex(3).upper()}"
        file_name = f"vxu-{vxu.facility_id(settings, site)}-{local:%Y%m%d-%H%M%S}.hl7"
        file_name = re.sub(r"[^A-Za-z0-9._-]", "_", file_name)
        content = batch_file(
            head=vxu.header_of(settings, site),
            control_id=control_id,
            file_name=file_name,
            now=now,
            messages=[m.message for m in pending],
        )
        batch = RegistryBatch.objects.create(
            site=site,
            control_id=control_id,
            file_name=file_name,
            content=content,
            message_count=len(pending),
            created_by=actor,
            created_at=now,
        )
        moved = RegistryMessage.objects.filter(
            pk__in=[m.pk for m in pending], status__in=BATCHABLE, batch__isnull=True
        ).update(status=RegistryStatus.EXPORTED, batch=batch, next_attempt_at=None)
        if moved != len(pending):
            raise Conflict("The queue changed while exporting: export again.", field="batch")
        audit_record(
            actor=actor,
            action="immunizations.registry_batch.exported",
            obj=batch,
            data={"control_id": control_id, "messages": len(pending)},
        )
    return batch


# --- Settings --------------------------------------------------------------------------------


def _check_settings(row: ImmunizationSettings) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    host = row.iis_host
    if host:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not _HOST.match(host):
                problems.append(
                    {
                        "field": "iis_host",
                        "message": "Type a host name or IP address only "
                        "(no http://, no port, no spaces).",
                    }
                )
    if host and row.iis_port is None:
        problems.append({"field": "iis_port", "message": "A registry host needs its port."})
    if row.iis_port is not None and not 1 <= row.iis_port <= 65535:
        problems.append({"field": "iis_port", "message": "A port is a number from 1 to 65535."})
    if row.iis_port is not None and not host:
        problems.append({"field": "iis_host", "message": "A port needs the registry's host."})
    if row.transport == Transport.MLLP and not (host and row.iis_port):
        problems.append(
            {
                "field": "iis_host",
                "message": "Sending over MLLP needs the registry's host and port.",
            }
        )
    for name in (
        "sending_application",
        "sending_facility",
        "receiving_application",
        "receiving_facility",
    ):
        value = getattr(row, name)
        if not _HL7_ID.match(value) or value != value.strip():
            problems.append(
                {
                    "field": name,
                    "message": "An HL7 id cannot hold | ^ ~ \\ & or leading/trailing spaces.",
                }
            )
    if row.transport != Transport.NONE and not row.sending_facility:
        problems.append(
            {
                "field": "sending_facility",
                "message": "Reporting needs the facility id the registry assigned you.",
            }
        )
    return problems


INTEGER_FIELDS = frozenset(
    {
        "iis_port",
        "timeout_seconds",
        "reporting_deadline_hours",
        "retry_max_attempts",
        "retry_minutes",
        "minimum_age_months",
        "technician_minimum_age_months",
    }
)


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid("Type a whole number.", field=name)
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise Invalid("Type a whole number.", field=name) from None


def registry_settings_set(*, actor: User, **fields: Any) -> ImmunizationSettings:
    """Change the site's registry connection and reporting rules, and the state's rules on
    who may vaccinate whom (PIC). Fields: transport, iis_host, iis_port, timeout_seconds,
    sending_application, sending_facility, receiving_application, receiving_facility,
    processing_id, reporting_deadline_hours, retry_max_attempts, retry_minutes,
    technicians_administer, minimum_age_months, technician_minimum_age_months."""
    authorize(actor, Cap.IMM_SETUP)
    unknown = sorted(set(fields) - set(SETTINGS_FIELDS))
    if unknown:
        raise Invalid(f"{unknown[0]} is not a registry setting.", field=unknown[0])
    with transaction.atomic():
        row = settings_of(actor.site)
        before = {name: getattr(row, name) for name in SETTINGS_FIELDS}
        for name, value in fields.items():
            if isinstance(value, str):
                value = value.strip()
            if name == "iis_port" and value in ("", None):
                value = None
            elif name in INTEGER_FIELDS:
                value = _integer(name, value)
            elif name in BOOLEAN_FIELDS and not isinstance(value, bool):
                raise Invalid("Answer yes or no.", field=name)
            setattr(row, name, value)
        if row.technician_minimum_age_months < row.minimum_age_months:
            raise Invalid(
                "A technician's youngest patient cannot be younger than the pharmacy's.",
                field="technician_minimum_age_months",
            )
        if row.transport not in Transport.values:
            raise Invalid("Choose how to reach the registry.", field="transport")
        if row.processing_id not in ProcessingId.values:
            raise Invalid("Processing id is P, T or D.", field="processing_id")
        problems = _check_settings(row)
        if problems:
            raise Invalid(problems[0]["message"], field=problems[0]["field"], errors=problems)
        full_clean(row, exclude=["site", "updated_by"])
        changed = {
            name: [before[name], getattr(row, name)]
            for name in SETTINGS_FIELDS
            if before[name] != getattr(row, name)
        }
        if not changed:
            return row
        row.updated_at = timezone.now()
        row.updated_by = actor
        row.save(update_fields=[*changed, "updated_at", "updated_by"])
        audit_record(
            actor=actor,
            action="immunizations.registry_settings.changed",
            obj=row,
            object_id=str(row.pk),
            data={"changed": changed},
        )
    return row


# --- PHI access ------------------------------------------------------------------------------


def registry_vxu_opened(
    *, actor: User, immunization: Immunization, message: RegistryMessage | None, output: str
) -> None:
    """Record that a dose's VXU (the patient's demographics and the dose) was shown."""
    authorize(actor, Cap.PATIENT_VIEW)
    if immunization.site_id != actor.site_id:
        raise NotFound("No such immunization at this pharmacy.", field="immunization")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="immunizations.registry_vxu.opened",
            obj=immunization,
            patient_id=immunization.patient_id,
            data={"message": message.control_id if message else "", "output": output},
        )


def registry_batch_downloaded(*, actor: User, batch: RegistryBatch) -> None:
    """Record that a batch file (many patients' demographics and doses) was downloaded."""
    authorize(actor, Cap.IMM_REGISTRY)
    authorize(actor, Cap.PATIENT_VIEW)
    if batch.site_id != actor.site_id:
        raise NotFound("No such batch file at this pharmacy.", field="batch")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="immunizations.registry_batch.downloaded",
            obj=batch,
            data={"control_id": batch.control_id, "messages": batch.message_count},
        )
