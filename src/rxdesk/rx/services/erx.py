"""E-prescriptions: NCPDP SCRIPT 2017071 messages received and sent (issue 5, item 5).

Received (``erx_receive``, from ``POST /api/v1/erx/inbox`` or the drop folder):

* **NewRx** — parsed safely, checked, addressed to this pharmacy, matched to patient,
  prescriber and drug (:mod:`rxdesk.rx.matching`). When all three match, the prescription is
  created and its first fill queued in the same transaction (message QUEUED); otherwise the
  message waits for a technician (NEEDS_MATCH, with the candidates), who finishes it with
  :func:`erx_resolve` or refuses it with :func:`erx_reject`. Answered with Status 010.
* **CancelRx** — the prescription is found by PrescriberOrderNumber, else by the NewRx its
  RelatesToMessageID names; answered with CancelRxResponse (Approved or Denied with a reason).
* **RxRenewalResponse** — applied to our RxRenewalRequest (RelatesToMessageID): approved or
  replaced prescriptions are created new (``replaces`` the old one); a denial is recorded.
* **Status / Error / Verify** — acknowledgements of what we sent: recorded, not answered.

Sent: **RxRenewalRequest** (:func:`renewal_request_create`) for a prescription that is out
of refills or expired; written to ``settings.RXDESK_ERX_OUTBOX`` when set.

Every received message is idempotent by its MessageID: (site, "in", MessageID) is unique; a
replay with the same content (SHA-256) returns the stored message and the same reply; the
same MessageID with other content is a Conflict. Two deliveries racing each other meet at
the unique index: the loser's transaction rolls back whole and it returns the winner's.

Decision — what a NewRx that reads well but breaks one of our checks becomes:

* **Refused (Invalid, 422, nothing stored)** when the prescription could not lawfully be
  filled as sent: everything :func:`rxdesk.interop.script.problems` finds (a Schedule II
  with refills, more than 5 refills on a Schedule III–IV, a date written in the future,
  a zero or absurd quantity, a bad NPI/DEA check digit, a controlled substance without the
  prescriber's DEA number), the rules of the schedule our catalog gives the drug
  (:func:`rxdesk.rx.rules.validate_new_prescription`: expired, CI, refills), and a DEA
  number that is not the one on file for the prescriber the NPI names (the issue's "DEA
  number that does not fit the prescriber"; a controlled-substance red flag). The error
  names the SCRIPT element (``MedicationPrescribed.NumberOfRefills``); the sender gets an
  Error and must send a corrected message (a new MessageID, or the same one: nothing was
  stored under it).
* **Stored for a technician (NEEDS_MATCH)** when the prescription is lawful but we are not
  sure whom or what it is for, or our own files need a touch before it can be filled: no
  certain patient/prescriber/drug match, an inactive patient or prescriber, a prescriber
  without a DEA number on file for a controlled drug, a quantity unit that is not the
  package's, directions our sig module refuses (e.g. "QD"). ``candidates`` holds
  ``{"patient": [ids], "prescriber": [ids], "package": [ids], "notes": {...}}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.catalog.models import Package, Product
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.identifiers import dea_normalize
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.core.validators import normalize_phone, validate_phone, validate_postal_code
from rxdesk.interop import script
from rxdesk.patients.models import Patient, Prescriber, name_key
from rxdesk.rx import matching
from rxdesk.rx.choices import (
    ErxStatus,
    InactiveReason,
    MessageDirection,
    Origin,
    QuantityUnit,
    RxStatus,
    TransferDirection,
)
from rxdesk.rx.models import ErxMessage, Prescription
from rxdesk.rx.services.common import DISPENSED_FILLS, own, remaining
from rxdesk.rx.services.prescriptions import (
    Intake,
    audit_data,
    computed_days_supply,
    create_from_intake,
    inactivate,
)
from rxdesk.rx.sig import SigError, expand

__all__ = [
    "ACCEPTED_STATUS",
    "ErxReceipt",
    "erx_receive",
    "erx_reject",
    "erx_resolve",
    "renewal_request_create",
    "write_outbox",
]

register_actions(
    {
        "rx.erx.received": "E-prescribing message received",
        "rx.erx.resolved": "E-prescription matched and queued by a technician",
        "rx.erx.rejected": "E-prescription rejected",
        "rx.erx.cancel_applied": "Prescriber's cancel (CancelRx) applied",
        "rx.erx.renewal_applied": "Prescriber's renewal answer applied",
        "rx.erx.renewal_requested": "Renewal requested from the prescriber",
    }
)

# Status/Code 010: "successful — accepted by the ultimate receiver" (reference §2.5). The
# pharmacy is the ultimate receiver of a NewRx; 000 is what a switch answers.
ACCEPTED_STATUS = "010"
# Error/Code 900: transaction rejected, do not retry (reference §2.5).
REJECTED_ERROR = "900"
# CancelRx denial reasons (reference §2.6). AH: the patient picked the prescription up.
# AE: medication never prescribed for the patient — the nearest listed reason for "no such
# prescription here". A "transferred to another pharmacy" code exists only in later lists
# (unverified), so a transfer is denied with AG (fill not appropriate here) and the
# DenialReason names the pharmacy it went to.
CANCEL_PICKED_UP = "AH"
CANCEL_NOT_FOUND = "AE"
CANCEL_TRANSFERRED = "AG"
ASSUMED_DAYS_SUPPLY = 30
MESSAGE_ID_MAX = 35

# Fields of an intake that concern our files or the match, not the law: a technician can
# put them right (choose another record, fix the prescriber file, retype directions).
MATCH_FIELDS = frozenset(
    {"", "patient", "prescriber", "package", "product", "quantity_unit", "directions", "language"}
)
# Intake fields as the SCRIPT element that carried them, for refusals the sender reads.
SCRIPT_FIELDS = {
    "refills_authorized": "MedicationPrescribed.NumberOfRefills",
    "date_written": "MedicationPrescribed.WrittenDate",
    "quantity": "MedicationPrescribed.Quantity.Value",
    "days_supply": "MedicationPrescribed.DaysSupply",
    "daw": "MedicationPrescribed.Substitutions",
    "diagnosis_code": "MedicationPrescribed.Diagnosis.Primary.Code",
    "schedule": "MedicationPrescribed.DrugCoded.DEASchedule",
    "prescriber_dea": "Prescriber.NonVeterinarian.Identification.DEANumber",
}

_SCHEDULES = {
    "CII": script.DeaSchedule.CII,
    "CIII": script.DeaSchedule.CIII,
    "CIV": script.DeaSchedule.CIV,
    "CV": script.DeaSchedule.CV,
}
_RECEIVABLE = frozenset(
    {
        script.MessageType.NEW_RX,
        script.MessageType.CANCEL_RX,
        script.MessageType.RX_RENEWAL_RESPONSE,
        script.MessageType.STATUS,
        script.MessageType.ERROR,
        script.MessageType.VERIFY,
    }
)


@dataclass(frozen=True)
class ErxReceipt:
    message: ErxMessage  # the stored inbound message
    created: bool  # False when this MessageID was already received (a replay)
    reply_xml: str  # Status 010, CancelRxResponse, or "" for an acknowledgement


# --- Small helpers ---------------------------------------------------------------------------


def _new_message_id() -> str:
    return "RXD" + uuid.uuid4().hex.upper()  # 35 characters


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _raw(xml: bytes | str) -> bytes:
    if isinstance(xml, str):
        try:
            return xml.encode("utf-8")
        except UnicodeError:
            raise script.ScriptError(
                "The message is not valid text (UTF-8).", field="Message"
            ) from None
    if isinstance(xml, bytes | bytearray):
        return bytes(xml)
    raise script.ScriptError("The message must be XML text.", field="Message")


def _text(raw: bytes) -> str:
    """The message as text to keep: UTF-8, else the encoding it declares, else Latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = re.match(rb"\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']", raw)
    if declared:
        try:
            return raw.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return raw.decode("latin-1")


def _site_of(actor: User | None, site: Site | None) -> Site:
    if actor is not None:
        assert actor.site is not None
        if site is not None and site.pk != actor.site_id:
            raise NotFound("No such pharmacy.")
        return actor.site
    if site is None:
        raise Invalid("Say which pharmacy received the message.", field="site")
    return site


def _us(day: dt.date | None) -> str:
    return f"{day:%m/%d/%Y}" if day else ""


def _who(patient: script.Patient | None) -> str:
    if patient is None:
        return "an unnamed patient"
    return f"{matching.person_label(patient.name)} (DOB {_us(patient.date_of_birth)})"


def _summary(med: script.Medication | None, patient: script.Patient | None, lead: str = "") -> str:
    drug = " ".join(med.drug_description.split()) if med else "no medication given"
    return f"{lead}{drug} for {_who(patient)}"[:300]


def _parse(text: str) -> script.ScriptMessage:
    return script.parse(text)


def _store(
    *,
    site: Site,
    direction: str,
    message_type: str,
    message_id: str,
    xml: str,
    digest: str,
    status: str,
    header: script.Header | None = None,
    relates_to: str = "",
    order_number: str = "",
    reference: str = "",
    summary: str = "",
    sender: str = "",
    **links: Any,
) -> ErxMessage:
    if header is not None:
        relates_to = relates_to or header.relates_to_message_id or ""
        order_number = order_number or header.prescriber_order_number or ""
        reference = reference or header.rx_reference_number or ""
    return ErxMessage.objects.create(
        site=site,
        direction=direction,
        message_type=message_type,
        message_id=message_id[:MESSAGE_ID_MAX],
        relates_to_message_id=relates_to[:MESSAGE_ID_MAX],
        prescriber_order_number=order_number[:35],
        rx_reference_number=reference[:35],
        sender=sender[:40],
        status=status,
        xml=xml,
        digest=digest,
        summary=summary[:300],
        **links,
    )


def _reply(
    site: Site,
    inbound: ErxMessage,
    message_type: str,
    xml: bytes,
    summary: str,
    **links: Any,
) -> ErxMessage:
    """Keep what we answered as a sent message and link it to the message it answers."""
    text = xml.decode("utf-8")
    reply = _store(
        site=site,
        direction=MessageDirection.OUT,
        message_type=message_type,
        message_id=_reply_id(text),
        xml=text,
        digest=_sha256(xml),
        status=ErxStatus.SENT,
        relates_to=inbound.message_id,
        summary=summary,
        sender=site.ncpdp_id,
        **links,
    )
    inbound.reply = reply
    return reply


def _reply_id(text: str) -> str:
    found = re.search(r"<MessageID>([^<]+)</MessageID>", text)
    assert found is not None
    return found.group(1)


def _status_reply(site: Site, msg: script.ScriptMessage, inbound: ErxMessage) -> ErxMessage:
    xml = script.status(
        in_reply_to=msg.header,
        message_id=_new_message_id(),
        sent_time=timezone.now(),
        code=ACCEPTED_STATUS,
    )
    return _reply(
        site,
        inbound,
        "Status",
        xml,
        f"Accepted ({ACCEPTED_STATUS}): {inbound.message_type} {inbound.message_id}",
        prescription=inbound.prescription,
        patient=inbound.patient,
    )


def _script_invalid(errors: list[dict[str, str]], header: script.Header) -> script.ScriptError:
    problems = tuple(
        script.ScriptProblem(SCRIPT_FIELDS.get(e["field"], e["field"]), e["message"])
        for e in errors
    )
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return script.ScriptError(
        f"{first.field}: {first.message}{more}",
        field=first.field,
        header=header,
        problems=problems,
    )


def _icd10(med: script.Medication) -> str:
    for diag in med.diagnoses:
        if diag.primary and diag.is_icd10:
            code = diag.code.strip().upper()
            if "." not in code and len(code) > 3:
                code = f"{code[:3]}.{code[3:]}"
            if re.fullmatch(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?", code):
                return code
    return ""


def _computed_days(text: str, quantity: Decimal, unit: str, package: Package | None) -> int | None:
    """The days supply the directions and quantity give, when the sig module can read them."""
    try:
        sig = expand(" ".join(text.split()), language="en")
    except SigError:
        return None
    computed = computed_days_supply(sig, quantity, unit, package)
    if computed is None:
        return None
    return computed.days if 1 <= computed.days <= 365 else None


def _intake(
    *,
    header: script.Header,
    med: script.Medication,
    message_dea: str | None,
    patient: Patient,
    prescriber: Prescriber,
    product: Product,
    package: Package | None,
    fallback: Prescription | None = None,
    quantity_unit: str | None = None,
    days_supply: int | None = None,
    directions: str | None = None,
) -> Intake:
    """An electronic intake from a SCRIPT medication, with what the technician corrected."""
    notes: list[str] = []
    if med.note:
        notes.append(med.note.strip())
    unit = (
        quantity_unit
        or med.quantity.billing_unit
        or (package.billing_unit if package else None)
        or (fallback.quantity_unit if fallback else None)
        or QuantityUnit.EACH
    )
    sig_text = directions if directions is not None else med.sig.text
    days: int | None = days_supply if days_supply is not None else med.days_supply
    if days is None and fallback is not None:
        days = fallback.days_supply
    if days is None:
        computed = _computed_days(sig_text, med.quantity.value, unit, package)
        if computed is not None:
            days = computed
            notes.append(f"Days supply not sent; {days} days worked out from the directions.")
        else:
            days = ASSUMED_DAYS_SUPPLY
            notes.append(
                f"Days supply not sent; {ASSUMED_DAYS_SUPPLY} days assumed. Check it against "
                "the directions."
            )
    refills: int = med.refills if med.refills is not None else 0
    if med.refills is None and fallback is not None:
        refills = fallback.refills_authorized
    diagnosis = _icd10(med) or (fallback.diagnosis_code if fallback else "")
    dea = dea_normalize(message_dea or "")
    return Intake(
        patient=patient,
        prescriber=prescriber,
        product=product,
        package=package,
        origin=Origin.ELECTRONIC,
        quantity=med.quantity.value,
        quantity_unit=unit,
        days_supply=days,
        directions=sig_text,
        date_written=med.written_date,
        refills_authorized=refills,
        daw=med.daw_code,
        drug_description=" ".join(med.drug_description.split())[:200],
        diagnosis_code=diagnosis,
        notes="\n".join(notes)[:2000],
        # The DEA number is compared with the one on file; with none on file, a controlled
        # drug is stopped by intake_problems ("no DEA number on file") for a technician.
        prescriber_dea=dea if prescriber.dea_number else "",
        electronic_original=True,
        prescriber_order_number=(header.prescriber_order_number or "")[:35],
        digitally_signed=header.digitally_signed,
    )


def _create(
    intake: Intake,
    *,
    actor: User | None,
    site: Site,
    header: script.Header,
    replaces: Prescription | None = None,
) -> tuple[Prescription | None, list[dict[str, str]]]:
    """Create the prescription, or give back the errors a technician can put right; raise
    for a prescription that cannot lawfully be filled as sent (see the module doc)."""
    try:
        with transaction.atomic():
            rx, _fill = create_from_intake(intake, actor=actor, site=site, replaces=replaces)
    except Invalid as exc:
        errors = exc.errors
        unlawful = [e for e in errors if e.get("field") not in MATCH_FIELDS]
        if unlawful:
            raise _script_invalid(unlawful, header) from None
        return None, errors
    return rx, []


def _candidates(
    patient: matching.Match[Patient],
    prescriber: matching.Match[Prescriber],
    drug: matching.Match[Package],
    intake_errors: list[dict[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    def ids(m: matching.Match[Any]) -> list[int]:
        return [m.found.pk] if m.found is not None else [c.pk for c in m.candidates]

    notes = {
        k: m.note for k, m in (("patient", patient), ("prescriber", prescriber), ("package", drug))
    }
    out: dict[str, Any] = {
        "patient": ids(patient),
        "prescriber": ids(prescriber),
        "package": ids(drug),
        "notes": {k: v for k, v in notes.items() if v},
    }
    if intake_errors:
        out["notes"]["intake"] = _error_text(intake_errors)
    out.update(extra)
    return out


def _error_text(errors: list[dict[str, str]]) -> str:
    """Errors as one sentence per field, for the technician's note."""
    return " ".join(
        f"{e['field'].replace('_', ' ').capitalize()}: {e['message']}"
        if e.get("field")
        else e["message"]
        for e in errors
    )


def _needs_match_note(candidates: dict[str, Any]) -> str:
    notes = candidates.get("notes", {})
    parts = [notes[k] for k in ("patient", "prescriber", "package", "intake") if notes.get(k)]
    if candidates.get("relation"):
        parts.insert(0, candidates["relation"])
    return " ".join(parts)[:500]


# --- Receiving -------------------------------------------------------------------------------


def erx_receive(*, actor: User | None, xml: bytes | str, site: Site | None = None) -> ErxReceipt:
    """Receive one SCRIPT message: check it, store it once, act on it, and say what to
    answer. Raises Invalid (a ScriptError naming the element) for a message that cannot be
    read or accepted, Conflict for a MessageID already used by other content."""
    authorize(actor, Cap.RX_ENTER)
    site = _site_of(actor, site)
    raw = _raw(xml)
    try:
        msg = script.parse(xml)
    except script.ScriptError as exc:
        if exc.field:
            raise
        raise script.ScriptError(exc.message, field="Message", header=exc.header) from None
    header = msg.header
    if site.ncpdp_id and (header.to.qualifier != "P" or header.to.value != site.ncpdp_id):
        raise script.ScriptError(
            f"The message is addressed to {header.to.qualifier} {header.to.value[:35]}, not to "
            f"this pharmacy (NCPDP ID {site.ncpdp_id}). Send it to the right pharmacy.",
            field="Header/To",
            header=header,
        )
    if len(msg.message_id) > MESSAGE_ID_MAX:
        raise script.ScriptError(
            f"A MessageID has at most {MESSAGE_ID_MAX} characters.",
            field="Header/MessageID",
            header=header,
        )
    digest = _sha256(raw)
    existing = _received(site, msg.message_id)
    if existing is not None:
        return _replay(existing, digest)
    if msg.message_type not in _RECEIVABLE:
        raise script.ScriptError(
            f"A pharmacy does not receive {msg.message_type.value} messages.",
            field="Body",
            header=header,
        )
    script.validate(msg, today=site.today())
    handler = _HANDLERS[msg.message_type]
    try:
        with transaction.atomic():
            # The row is written first: a second delivery of the same MessageID waits on
            # the unique index here, then fails and reads what the first one stored.
            inbound = _store(
                site=site,
                direction=MessageDirection.IN,
                message_type=msg.message_type.value,
                message_id=msg.message_id,
                xml=_text(raw),
                digest=digest,
                status=ErxStatus.NEEDS_MATCH,
                header=header,
                sender=header.from_.value,
            )
            reply = handler(actor, site, msg, inbound)
    except IntegrityError:
        existing = _received(site, msg.message_id)
        if existing is None:
            raise
        return _replay(existing, digest)
    return ErxReceipt(message=inbound, created=True, reply_xml=reply.xml if reply else "")


def _received(site: Site, message_id: str) -> ErxMessage | None:
    return (
        ErxMessage.objects.filter(site=site, direction=MessageDirection.IN, message_id=message_id)
        .select_related("reply")
        .first()
    )


def _replay(existing: ErxMessage, digest: str) -> ErxReceipt:
    if existing.digest != digest:
        when = timezone.localtime(existing.received_at, existing.site.tz)
        raise Conflict(
            f"MessageID {existing.message_id} was already received on {when:%m/%d/%Y %H:%M} "
            "with different content. A corrected message needs a new MessageID.",
            field="Header/MessageID",
        )
    reply_xml = existing.reply.xml if existing.reply is not None else ""
    return ErxReceipt(message=existing, created=False, reply_xml=reply_xml)


def _finish(inbound: ErxMessage, status: str, note: str = "", *, actor: User | None = None) -> None:
    inbound.status = status
    inbound.status_note = note[:500]
    if status != ErxStatus.NEEDS_MATCH:
        inbound.handled_by = actor
        inbound.handled_at = timezone.now()
    inbound.save()


def _received_event(
    actor: User | None, site: Site, inbound: ErxMessage, rx: Prescription | None
) -> None:
    audit_record(
        actor=actor,
        site=site,
        action="rx.erx.received",
        obj=inbound,
        patient_id=inbound.patient_id,
        data={
            "message_type": inbound.message_type,
            "message_id": inbound.message_id,
            "status": inbound.status,
            "prescription_id": rx.pk if rx else None,
            **({"prescription": audit_data(rx)} if rx else {}),
        },
    )


def _on_new_rx(
    actor: User | None, site: Site, msg: script.ScriptMessage, inbound: ErxMessage
) -> ErxMessage:
    new = msg.new_rx
    med = new.medication
    inbound.summary = _summary(med, new.patient)
    patient = matching.match_patient(site, new.patient)
    prescriber = matching.match_prescriber(site, new.prescriber)
    drug = matching.match_drug(med)
    inbound.patient, inbound.prescriber = patient.found, prescriber.found
    if drug.found is not None:
        inbound.package, inbound.product = drug.found, drug.found.product
    rx: Prescription | None = None
    errors: list[dict[str, str]] = []
    if patient.found and prescriber.found and drug.found:
        intake = _intake(
            header=msg.header,
            med=med,
            message_dea=new.prescriber.dea_number,
            patient=patient.found,
            prescriber=prescriber.found,
            product=drug.found.product,
            package=drug.found,
        )
        rx, errors = _create(intake, actor=actor, site=site, header=msg.header)
    inbound.candidates = _candidates(patient, prescriber, drug, errors)
    if rx is not None:
        inbound.prescription = rx
        _finish(inbound, ErxStatus.QUEUED, f"Rx {rx.number} queued.", actor=actor)
    else:
        _finish(inbound, ErxStatus.NEEDS_MATCH, _needs_match_note(inbound.candidates))
    reply = _status_reply(site, msg, inbound)
    inbound.save(update_fields=["reply"])
    _received_event(actor, site, inbound, rx)
    return reply


def _on_acknowledgement(
    actor: User | None, site: Site, msg: script.ScriptMessage, inbound: ErxMessage
) -> ErxMessage | None:
    """Status, Error or Verify about something we sent: recorded, never answered."""
    body = msg.body
    ours = ErxMessage.objects.filter(
        site=site, direction=MessageDirection.OUT, message_id=msg.header.relates_to_message_id
    ).first()
    code = getattr(body, "code", "")
    words = getattr(body, "description", None) or ""
    inbound.summary = f"{msg.message_type.value} {code} about {msg.header.relates_to_message_id}"
    note = f"{msg.message_type.value} {code}" + (f": {words}" if words else "")
    if ours is not None:
        inbound.prescription_id = ours.prescription_id
        inbound.patient_id = ours.patient_id
        if isinstance(body, script.ErrorReply) and ours.reply_id is None:
            # The network refused what we sent: it is no longer waiting for an answer.
            ours.reply = inbound
            ours.status_note = f"Refused by the network: {note}"[:500]
            ours.save(update_fields=["reply", "status_note"])
    else:
        note += " (about a message this pharmacy did not send)"
    _finish(inbound, ErxStatus.RECORDED, note, actor=actor)
    _received_event(actor, site, inbound, None)
    return None


# --- CancelRx --------------------------------------------------------------------------------


def _agrees(rx: Prescription, cancel: script.CancelRx) -> str:
    """'' when the cancel names the prescription's patient and drug, else why not."""
    who = cancel.patient
    if (
        name_key(who.name.last)[:60] != rx.patient.last_name_key
        or who.date_of_birth != rx.patient.date_of_birth
    ):
        return (
            f"The order number matches Rx {rx.number}, but that prescription is for another "
            f"patient, not {_who(who)}."
        )
    code = cancel.medication.ndc
    ndc11 = matching.ndc11_of(code) if code else None
    if ndc11 is not None:
        package = Package.objects.filter(ndc11=ndc11).first()
        same = (rx.package is not None and rx.package.ndc11 == ndc11) or (
            package is not None and package.product_id == rx.product_id
        )
        if not same and (package is not None or rx.package is not None):
            return (
                f"The order number matches Rx {rx.number}, but that prescription is for "
                f"{rx.drug_description}, not {cancel.medication.drug_description}."
            )
    return ""


def _cancel_target(
    site: Site, msg: script.ScriptMessage
) -> tuple[Prescription | None, ErxMessage | None]:
    """The prescription a CancelRx means, or the NewRx still waiting to be matched."""
    header, cancel = msg.header, msg.cancel_rx
    pon = header.prescriber_order_number
    if pon:
        found = list(
            Prescription.objects.filter(site=site, prescriber_order_number=pon[:35])
            .select_related("patient", "package", "prescriber")
            .order_by("-pk")
        )
        npi = cancel.prescriber.npi
        found.sort(key=lambda rx: rx.prescriber.npi != npi)  # the same prescriber first
        if found:
            return found[0], None
    newrx: ErxMessage | None = None
    if header.relates_to_message_id:
        newrx = ErxMessage.objects.filter(
            site=site,
            direction=MessageDirection.IN,
            message_type=script.MessageType.NEW_RX.value,
            message_id=header.relates_to_message_id,
        ).first()
    if newrx is None and pon:
        newrx = (
            ErxMessage.objects.filter(
                site=site,
                direction=MessageDirection.IN,
                message_type=script.MessageType.NEW_RX.value,
                prescriber_order_number=pon[:35],
            )
            .order_by("-pk")
            .first()
        )
    if newrx is not None and newrx.prescription_id is not None:
        rx = Prescription.objects.select_related("patient", "package").get(pk=newrx.prescription_id)
        return rx, None
    return None, newrx


def _on_cancel_rx(
    actor: User | None, site: Site, msg: script.ScriptMessage, inbound: ErxMessage
) -> ErxMessage:
    cancel = msg.cancel_rx
    inbound.summary = _summary(cancel.medication, cancel.patient, "Cancel: ")
    rx, waiting = _cancel_target(site, msg)
    approved, code, note = False, CANCEL_NOT_FOUND, ""
    fills_cancelled: list[int] = []
    order = msg.header.prescriber_order_number or msg.header.relates_to_message_id or "?"
    if rx is None and waiting is not None and waiting.status == ErxStatus.NEEDS_MATCH:
        waiting.status = ErxStatus.REJECTED
        waiting.status_note = (
            f"Cancelled by the prescriber (CancelRx {msg.message_id}) before it was matched."
        )
        waiting.handled_by, waiting.handled_at = actor, timezone.now()
        waiting.save(update_fields=["status", "status_note", "handled_by", "handled_at"])
        approved = True
        note = "The prescription had not been filled; it will not be."
        inbound.patient_id = waiting.patient_id
    elif rx is None:
        note = (
            f"No prescription here matches order {order} for {_who(cancel.patient)}; "
            "nothing was cancelled."
        )
    else:
        rx = (
            Prescription.objects.select_for_update(of=("self",))
            .select_related("site", "patient")
            .get(pk=rx.pk)
        )
        inbound.prescription, inbound.patient = rx, rx.patient
        inbound.prescriber_id, inbound.product_id = rx.prescriber_id, rx.product_id
        inbound.package_id = rx.package_id
        mismatch = _agrees(rx, cancel)
        if mismatch:
            note = mismatch + " Nothing was cancelled; call the pharmacy."
        else:
            approved, code, note, fills_cancelled = _apply_cancel(rx, actor, msg.message_id)
    xml = script.cancel_rx_response(
        msg,
        approved=approved,
        message_id=_new_message_id(),
        sent_time=timezone.now(),
        note=note[: script.MAX_NOTE] if approved else None,
        reason_code=None if approved else code,
        reason_text=None if approved else note[: script.MAX_NOTE],
    )
    answer = "Approved" if approved else f"Denied ({code})"
    _reply(
        site,
        inbound,
        "CancelRxResponse",
        xml,
        f"Cancel {answer}: {inbound.summary}",
        prescription=inbound.prescription,
        patient=inbound.patient,
    )
    _finish(inbound, ErxStatus.APPLIED, f"{answer}. {note}", actor=actor)
    audit_record(
        actor=actor,
        site=site,
        action="rx.erx.cancel_applied",
        obj=inbound,
        patient_id=inbound.patient_id,
        data={
            "message_id": inbound.message_id,
            "prescription_id": inbound.prescription_id,
            "approved": approved,
            "reason_code": None if approved else code,
            "fills_cancelled": fills_cancelled,
            "newrx_withdrawn": waiting.pk if waiting is not None and approved else None,
        },
    )
    return inbound.reply  # type: ignore[return-value]


def _apply_cancel(
    rx: Prescription, actor: User | None, message_id: str
) -> tuple[bool, str, str, list[int]]:
    """(approved, reason code, note, fills cancelled) for a cancel of a locked ``rx``."""
    if rx.status == RxStatus.TRANSFERRED:
        out = rx.transfers.filter(direction=TransferDirection.OUT).order_by("-transferred_at")
        moved = out.first()
        where = (
            f"{moved.pharmacy_name} ({moved.pharmacy_phone or moved.pharmacy_address}) on "
            f"{_us(timezone.localtime(moved.transferred_at, rx.site.tz).date())}"
            if moved
            else "another pharmacy"
        )
        return (
            False,
            CANCEL_TRANSFERRED,
            f"Rx {rx.number} was transferred to {where}; send the cancel there.",
            [],
        )
    if rx.status == RxStatus.INACTIVE:
        return (
            True,
            "",
            f"Rx {rx.number} was already inactive ({rx.get_inactive_reason_display().lower()}); "
            "nothing more will be filled.",
            [],
        )
    dispensed = [f for f in rx.fills.all() if f.status in DISPENSED_FILLS]
    used = sum((f.quantity for f in dispensed), Decimal(0)) + rx.dispensed_elsewhere
    left = rx.quantity * (1 + rx.refills_authorized) - used
    note_for_rx = f"CancelRx {message_id}"
    if not dispensed and rx.dispensed_elsewhere <= 0:
        cancelled = inactivate(
            rx, actor=actor, reason=InactiveReason.CANCELLED_ERX, note=note_for_rx
        )
        return True, "", "Not yet dispensed; cancelled.", cancelled
    days = [f.dispensed_on for f in dispensed if f.dispensed_on]
    last = f"on {_us(max(days))}" if days else "at another pharmacy"
    if left <= 0:
        return (
            False,
            CANCEL_PICKED_UP,
            f"Rx {rx.number} was dispensed in full (last {last}); nothing is left to cancel.",
            [],
        )
    cancelled = inactivate(rx, actor=actor, reason=InactiveReason.CANCELLED_ERX, note=note_for_rx)
    return True, "", f"Previously dispensed {last}; remaining refills cancelled.", cancelled


# --- RxRenewalResponse -----------------------------------------------------------------------


def _on_renewal_response(
    actor: User | None, site: Site, msg: script.ScriptMessage, inbound: ErxMessage
) -> ErxMessage:
    response = msg.rx_renewal_response
    decision = response.response.decision
    inbound.summary = _summary(response.medication, response.patient, f"Renewal {decision.value}: ")
    request = (
        ErxMessage.objects.select_related("prescription")
        .filter(
            site=site,
            direction=MessageDirection.OUT,
            message_type=script.MessageType.RX_RENEWAL_REQUEST.value,
            message_id=msg.header.relates_to_message_id,
        )
        .first()
    )
    old = request.prescription if request is not None else None
    if request is None or old is None:
        inbound.candidates = {
            "relation": (
                f"This renewal answer names request {msg.header.relates_to_message_id}, "
                "which this pharmacy did not send. Find the prescription it is about."
            )
        }
        _finish(inbound, ErxStatus.NEEDS_MATCH, inbound.candidates["relation"])
    elif request.reply_id is not None:
        inbound.prescription = old
        inbound.patient_id = old.patient_id
        inbound.candidates = {
            "replaces": old.pk,
            "relation": (
                f"Renewal request {request.message_id} (Rx {old.number}) was already "
                "answered; check which answer holds."
            ),
        }
        _finish(inbound, ErxStatus.NEEDS_MATCH, inbound.candidates["relation"])
    else:
        old = (
            Prescription.objects.select_for_update(of=("self",))
            .select_related("site", "patient", "prescriber", "product", "package")
            .get(pk=old.pk)
        )
        inbound.patient_id = old.patient_id
        request.reply = inbound
        request.save(update_fields=["reply"])
        _apply_renewal(actor, site, msg, inbound, old)
    reply = _status_reply(site, msg, inbound)
    inbound.save(update_fields=["reply"])
    if inbound.status == ErxStatus.NEEDS_MATCH:
        _received_event(actor, site, inbound, None)
    else:
        audit_record(
            actor=actor,
            site=site,
            action="rx.erx.renewal_applied",
            obj=inbound,
            patient_id=inbound.patient_id,
            data={
                "message_id": inbound.message_id,
                "decision": decision.value,
                "replaces": old.pk if old else None,
                "prescription_id": inbound.prescription_id,
            },
        )
    return reply


def _apply_renewal(
    actor: User | None,
    site: Site,
    msg: script.ScriptMessage,
    inbound: ErxMessage,
    old: Prescription,
) -> None:
    response = msg.rx_renewal_response
    decision = response.response.decision
    if decision is script.RenewalDecision.DENIED:
        words = response.response.reason_text or ""
        reason = f"Renewal denied ({response.response.reason_code})" + (
            f": {words}" if words else ""
        )
        inbound.prescription = old
        fillable = remaining(old).allowed
        if old.status in (RxStatus.ACTIVE, RxStatus.ON_HOLD) and not fillable:
            inactivate(old, actor=actor, reason=InactiveReason.RENEWAL_DENIED, note=reason)
        else:
            old.status_note, old.updated_at = reason[:200], timezone.now()
            old.save(update_fields=["status_note", "updated_at"])
        _finish(
            inbound, ErxStatus.APPLIED, f"{reason}. Rx {old.number} stays as it was.", actor=actor
        )
        return

    med = response.medication
    package, product = old.package, old.product
    if med is not None:
        drug = matching.match_drug(med)
        if drug.found is not None:
            package, product = drug.found, drug.found.product
        elif decision is script.RenewalDecision.REPLACE or med.ndc:
            # A new drug that is not certain: a technician chooses the package.
            inbound.prescription = old
            inbound.candidates = {
                "patient": [old.patient_id],
                "prescriber": [old.prescriber_id],
                "package": [c.pk for c in drug.candidates],
                "notes": {"package": drug.note},
                "replaces": old.pk,
            }
            _finish(inbound, ErxStatus.NEEDS_MATCH, drug.note)
            return
    else:
        med = _medication_of(old, written=msg.header.sent_time.astimezone(site.tz).date())
    intake = _intake(
        header=msg.header,
        med=med,
        message_dea=(response.prescriber.dea_number if response.prescriber else None),
        patient=old.patient,
        prescriber=old.prescriber,
        product=product,
        package=package,
        fallback=old,
    )
    if response.medication is None:
        intake.directions = old.directions
    rx, errors = _create(intake, actor=actor, site=site, header=msg.header, replaces=old)
    if rx is None:
        inbound.prescription = old
        inbound.candidates = {
            "patient": [old.patient_id],
            "prescriber": [old.prescriber_id],
            "package": [package.pk] if package else [],
            "notes": {"intake": _error_text(errors)},
            "replaces": old.pk,
        }
        _finish(inbound, ErxStatus.NEEDS_MATCH, _needs_match_note(inbound.candidates))
        return
    if old.status in (RxStatus.ACTIVE, RxStatus.ON_HOLD):
        inactivate(
            old, actor=actor, reason=InactiveReason.REPLACED, note=f"Renewed as Rx {rx.number}"
        )
    inbound.prescription = rx
    inbound.prescriber_id, inbound.product_id, inbound.package_id = (
        rx.prescriber_id,
        rx.product_id,
        rx.package_id,
    )
    _finish(
        inbound,
        ErxStatus.APPLIED,
        f"Renewal {decision.value}: Rx {rx.number} replaces Rx {old.number}.",
        actor=actor,
    )


# --- Resolving and rejecting -----------------------------------------------------------------


def _locked_message(actor: User, message: ErxMessage) -> ErxMessage:
    own(actor, "e-prescribing message", message.site_id)
    locked = (
        ErxMessage.objects.select_for_update(of=("self",)).select_related("site").get(pk=message.pk)
    )
    if locked.direction != MessageDirection.IN or locked.status != ErxStatus.NEEDS_MATCH:
        state = locked.get_status_display().lower()
        raise Conflict(
            f"{locked.message_type} {locked.message_id} is {state}; only a message that "
            "needs matching can be matched or rejected.",
            field="message",
        )
    return locked


def _patient_values(p: script.Patient) -> dict[str, Any]:
    values: dict[str, Any] = {
        "first_name": p.name.first,
        "last_name": p.name.last,
        "middle_name": p.name.middle or "",
        "suffix": (p.name.suffix or "")[:10],
        "date_of_birth": p.date_of_birth,
        "sex": p.gender if p.gender in ("M", "F", "U") else "U",
    }
    address = p.address
    if address is not None:
        values["address_line1"] = (address.line1 or "")[:120]
        values["address_line2"] = (address.line2 or "")[:120]
        values["city"] = (address.city or "")[:80]
        state = (address.state or "").strip().upper()
        if re.fullmatch(r"[A-Z]{2}", state):
            values["state"] = state
        postal = (address.postal_code or "").strip()
        if re.fullmatch(r"[0-9]{9}", postal):
            postal = f"{postal[:5]}-{postal[5:]}"
        if _valid(validate_postal_code, postal):
            values["postal_code"] = postal
    phone = normalize_phone(p.phone or "")
    if _valid(validate_phone, phone):
        values["phone_home"] = phone
    if p.email:
        values["email"] = p.email[:254]
    return values


def _prescriber_values(p: script.Prescriber) -> dict[str, Any]:
    return {
        "first_name": p.name.first,
        "last_name": p.name.last,
        "middle_name": p.name.middle or "",
        "suffix": (p.name.suffix or "")[:10],
        "npi": p.npi or "",
        "dea_number": p.dea_number or "",
        "state_license": (p.state_license_number or "")[:30],
    }


def _valid(check: Callable[[str], None], value: str) -> bool:
    if not value:
        return False
    try:
        check(value)
    except ValidationError:
        return False
    return True


def _message_parts(
    message: ErxMessage, msg: script.ScriptMessage
) -> tuple[script.Medication, script.Patient | None, script.Prescriber | None, Prescription | None]:
    """The medication, patient and prescriber a waiting message brings, and the prescription
    it would replace (a renewal answer)."""
    replaces: Prescription | None = None
    if isinstance(message.candidates, dict) and message.candidates.get("replaces"):
        replaces = Prescription.objects.filter(
            site_id=message.site_id, pk=message.candidates["replaces"]
        ).first()
    if isinstance(msg.body, script.NewRx):
        return msg.body.medication, msg.body.patient, msg.body.prescriber, None
    if isinstance(msg.body, script.RxRenewalResponse):
        body = msg.body
        if body.response.decision is script.RenewalDecision.DENIED:
            raise Conflict(
                "This answer denies a renewal: there is no prescription to create. "
                "Reject it once the prescription has been looked at.",
                field="message",
            )
        med = body.medication
        if med is None:
            if replaces is None:
                raise Conflict(
                    "This renewal answer carries no prescription and names no request of "
                    "ours; call the prescriber, then reject it.",
                    field="message",
                )
            written = msg.header.sent_time.astimezone(replaces.site.tz).date()
            med = _medication_of(replaces, written=written)
        return med, body.patient, body.prescriber, replaces
    raise Conflict(f"A {msg.message_type.value} message is not matched.", field="message")


def erx_resolve(
    *,
    actor: User,
    message: ErxMessage,
    patient: Patient | None = None,
    prescriber: Prescriber | None = None,
    package: Package | None = None,
    create_patient: bool = False,
    create_prescriber: bool = False,
    quantity_unit: str | None = None,
    days_supply: int | None = None,
    directions: str | None = None,
) -> Prescription:
    """Finish an e-prescription that needed matching: the technician picks the patient,
    prescriber and package (or adds the patient or prescriber from the message) and may
    correct the quantity unit, days supply and directions; the prescription is created and
    its first fill queued."""
    from rxdesk.patients.services import patient_create, prescriber_create

    authorize(actor, Cap.RX_ENTER)
    own(actor, "e-prescribing message", message.site_id)
    if patient is not None:
        own(actor, "patient", patient.site_id)
    if prescriber is not None:
        own(actor, "prescriber", prescriber.site_id)
    if patient is not None and create_patient:
        raise Invalid("Choose a patient or add one from the message, not both.", field="patient")
    if prescriber is not None and create_prescriber:
        raise Invalid(
            "Choose a prescriber or add one from the message, not both.", field="prescriber"
        )
    site = actor.site
    assert site is not None
    with transaction.atomic():
        locked = _locked_message(actor, message)
        msg = _parse(locked.xml)
        med, their_patient, their_prescriber, replaces = _message_parts(locked, msg)
        if create_patient:
            if their_patient is None:
                raise Invalid("The message has no patient to add.", field="patient")
            patient = patient_create(actor=actor, **_patient_values(their_patient))
        patient = patient or locked.patient or (replaces.patient if replaces else None)
        if create_prescriber:
            if their_prescriber is None:
                raise Invalid("The message has no prescriber to add.", field="prescriber")
            prescriber = prescriber_create(actor=actor, **_prescriber_values(their_prescriber))
        prescriber = prescriber or locked.prescriber or (replaces.prescriber if replaces else None)
        package = package or locked.package
        errors = []
        if patient is None:
            errors.append(
                {"field": "patient", "message": "Choose the patient, or add one from the message."}
            )
        if prescriber is None:
            errors.append(
                {
                    "field": "prescriber",
                    "message": "Choose the prescriber, or add one from the message.",
                }
            )
        if package is None:
            errors.append({"field": "package", "message": "Choose the package to dispense."})
        if errors:
            raise Invalid(errors=errors)
        assert patient is not None and prescriber is not None and package is not None
        intake = _intake(
            header=msg.header,
            med=med,
            message_dea=their_prescriber.dea_number if their_prescriber else None,
            patient=patient,
            prescriber=prescriber,
            product=package.product,
            package=package,
            fallback=replaces,
            quantity_unit=quantity_unit or None,
            days_supply=days_supply,
            directions=directions if directions else None,
        )
        rx, _fill = create_from_intake(intake, actor=actor, site=site, replaces=replaces)
        if replaces is not None:
            old = Prescription.objects.select_for_update(of=("self",)).get(pk=replaces.pk)
            if old.status in (RxStatus.ACTIVE, RxStatus.ON_HOLD):
                inactivate(
                    old,
                    actor=actor,
                    reason=InactiveReason.REPLACED,
                    note=f"Renewed as Rx {rx.number}",
                )
        locked.prescription, locked.patient, locked.prescriber = rx, patient, prescriber
        locked.package, locked.product = package, package.product
        queued = ErxStatus.QUEUED if isinstance(msg.body, script.NewRx) else ErxStatus.APPLIED
        _finish(locked, queued, f"Rx {rx.number} queued after matching.", actor=actor)
        audit_record(
            actor=actor,
            action="rx.erx.resolved",
            obj=locked,
            patient_id=rx.patient_id,
            data={
                "message_id": locked.message_id,
                "prescription_id": rx.pk,
                "patient_created": create_patient,
                "prescriber_created": create_prescriber,
                "replaces": replaces.pk if replaces else None,
                "corrected": sorted(
                    k
                    for k, v in (
                        ("quantity_unit", quantity_unit),
                        ("days_supply", days_supply),
                        ("directions", directions),
                    )
                    if v
                ),
                "prescription": audit_data(rx),
            },
        )
    message.refresh_from_db()
    return rx


def erx_reject(*, actor: User, message: ErxMessage, reason: str) -> ErxMessage:
    """Refuse an e-prescription that needed matching (not our patient, a duplicate…): the
    message is closed and the sender gets an Error 900 with the reason."""
    authorize(actor, Cap.RX_ENTER)
    own(actor, "e-prescribing message", message.site_id)
    reason = " ".join((reason or "").split())
    if not reason:
        raise Invalid("Say why the e-prescription is rejected.", field="reason")
    site = actor.site
    assert site is not None
    with transaction.atomic():
        locked = _locked_message(actor, message)
        header = _parse(locked.xml).header
        xml = script.error(
            in_reply_to=header,
            message_id=_new_message_id(),
            sent_time=timezone.now(),
            code=REJECTED_ERROR,
            description=reason,
        )
        _reply(
            site,
            locked,
            "Error",
            xml,
            f"Rejected ({REJECTED_ERROR}): {reason}",
            patient=locked.patient,
        )
        _finish(locked, ErxStatus.REJECTED, reason, actor=actor)
        audit_record(
            actor=actor,
            action="rx.erx.rejected",
            obj=locked,
            patient_id=locked.patient_id,
            reason=reason[:500],
            data={"message_id": locked.message_id, "reply_id": locked.reply_id},
        )
    return locked


# --- Renewal requests ------------------------------------------------------------------------


def _unit_code(rx: Prescription) -> str:
    if rx.quantity_unit == QuantityUnit.ML:
        return "C28254"
    if rx.quantity_unit == QuantityUnit.GRAM:
        return "C48155"
    form = (rx.product.dosage_form or "").upper()
    if "CAPSULE" in form:
        return "C48480"
    if "TABLET" in form:
        return "C48542"
    return "C64933"


def _medication_of(
    rx: Prescription,
    *,
    written: dt.date | None = None,
    quantity: Decimal | None = None,
    days: int | None = None,
    last_fill: dt.date | None = None,
    note: str | None = None,
) -> script.Medication:
    """Our prescription as a SCRIPT medication."""
    diagnoses = (
        (script.Diagnosis(code=rx.diagnosis_code, qualifier="ABF"),) if rx.diagnosis_code else ()
    )
    return script.Medication(
        drug_description=(rx.drug_description or str(rx.product))[: script.MAX_DRUG_DESCRIPTION],
        quantity=script.Quantity(
            value=quantity if quantity is not None else rx.quantity,
            code_list_qualifier="38",
            unit_code=_unit_code(rx),
        ),
        written_date=written or rx.date_written,
        substitutions=1 if rx.daw == 1 else 0,
        sig=script.Sig(text=(rx.directions_en or rx.directions)[: script.MAX_SIG_TEXT]),
        product_code=script.Code(rx.package.ndc11, "ND") if rx.package else None,
        dea_schedule=_SCHEDULES.get(rx.schedule),
        days_supply=days if days is not None else rx.days_supply,
        refills=rx.refills_authorized,
        diagnoses=diagnoses,
        note=note or None,
        last_fill_date=last_fill,
    )


def _pharmacy_of(site: Site) -> script.Pharmacy:
    return script.Pharmacy(
        ncpdp_id=site.ncpdp_id,
        npi=site.npi or None,
        business_name=site.name[:70] or None,
        address=script.PostalAddress(
            line1=site.address_line1 or None,
            line2=site.address_line2 or None,
            city=site.city or None,
            state=site.state or None,
            postal_code=site.postal_code or None,
            country="US",
        ),
        phone=site.phone or None,
    )


def _patient_of(p: Patient) -> script.Patient:
    return script.Patient(
        name=script.Name(
            last=p.last_name,
            first=p.first_name,
            middle=p.middle_name or None,
            suffix=p.suffix or None,
        ),
        gender=p.sex if p.sex in ("M", "F", "U") else "U",
        date_of_birth=p.date_of_birth,
        address=script.PostalAddress(
            line1=p.address_line1 or None,
            line2=p.address_line2 or None,
            city=p.city or None,
            state=p.state or None,
            postal_code=p.postal_code or None,
            country="US",
        )
        if p.address_line1
        else None,
        phone=p.phone_mobile or p.phone_home or p.phone_work or None,
    )


def _prescriber_of(p: Prescriber) -> script.Prescriber:
    office = p.addresses.order_by("-primary", "pk").first()
    return script.Prescriber(
        name=script.Name(
            last=p.last_name,
            first=p.first_name,
            middle=p.middle_name or None,
            suffix=p.suffix or None,
        ),
        npi=p.npi,
        dea_number=p.dea_number or None,
        state_license_number=p.state_license or None,
        address=script.PostalAddress(
            line1=office.address_line1,
            line2=office.address_line2 or None,
            city=office.city,
            state=office.state,
            postal_code=office.postal_code,
            country="US",
        )
        if office
        else None,
        phone=office.phone if office else None,
    )


def _original_newrx(rx: Prescription) -> ErxMessage | None:
    return (
        ErxMessage.objects.filter(
            site_id=rx.site_id,
            direction=MessageDirection.IN,
            message_type=script.MessageType.NEW_RX.value,
            prescription=rx,
        )
        .order_by("pk")
        .first()
    )


def write_outbox(message_id: str, xml: bytes) -> Path | None:
    """Write a message we send to ``settings.RXDESK_ERX_OUTBOX`` as ``<MessageID>.xml`` (all
    at once: a gateway watching the folder never reads half a file). None when unset."""
    folder = getattr(settings, "RXDESK_ERX_OUTBOX", None)
    if not folder:
        return None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,34}", message_id):
        raise ValueError(f"{message_id!r} cannot name a file")
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target, prefix=".sending-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(xml)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target / f"{message_id}.xml")
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target / f"{message_id}.xml"


def renewal_request_create(
    *, actor: User, prescription: Prescription, note: str = ""
) -> ErxMessage:
    """Ask the prescriber to renew a prescription that is out of refills or expired
    (RxRenewalRequest). Refused while refills remain, when the original e-prescription
    forbade renewal requests, or while an earlier request waits for its answer."""
    authorize(actor, Cap.RX_ENTER)
    own(actor, "prescription", prescription.site_id)
    site = actor.site
    assert site is not None
    note = " ".join((note or "").split())
    if len(note) > script.MAX_NOTE:
        raise Invalid(f"Keep the note to {script.MAX_NOTE} characters.", field="note")
    with transaction.atomic():
        rx = (
            Prescription.objects.select_for_update(of=("self",))
            .select_related("site", "patient", "prescriber", "product", "package")
            .get(pk=prescription.pk)
        )
        if rx.status in (RxStatus.INACTIVE, RxStatus.TRANSFERRED):
            raise Conflict(
                f"Rx {rx.number} is {rx.get_status_display().lower()}; only a prescription "
                "on file here can be renewed.",
                field="prescription",
            )
        decision = remaining(rx)
        if decision.allowed:
            left = decision.refills_remaining
            raise Conflict(
                f"Rx {rx.number} can still be filled ({left} refill{'s' if left != 1 else ''} "
                "left); ask for a renewal once it is out of refills or expired.",
                field="prescription",
            )
        if decision.code not in ("no_refills", "expired"):
            raise Conflict(
                f"Rx {rx.number} cannot be filled for another reason: {decision.reason} "
                "A renewal would not help.",
                field="prescription",
            )
        original = _original_newrx(rx)
        parsed = _parse(original.xml) if original is not None else None
        if (
            parsed is not None
            and isinstance(parsed.body, script.NewRx)
            and parsed.body.prohibit_renewal_request
        ):
            raise Conflict(
                f"The prescriber asked not to be sent renewal requests for Rx {rx.number}; "
                "call the office instead.",
                field="prescription",
            )
        if not rx.prescriber.npi:
            raise Conflict(
                f"{rx.prescriber.full_name} has no NPI on file; add it to send a renewal request.",
                field="prescriber",
            )
        if not site.ncpdp_id:
            raise Conflict(
                "This pharmacy has no NCPDP ID in its site settings; add it to send renewal "
                "requests.",
                field="ncpdp_id",
            )
        pending = (
            ErxMessage.objects.filter(
                site=site,
                direction=MessageDirection.OUT,
                message_type=script.MessageType.RX_RENEWAL_REQUEST.value,
                prescription=rx,
                status=ErxStatus.SENT,
                reply__isnull=True,
            )
            .order_by("-pk")
            .first()
        )
        if pending is not None:
            sent = timezone.localtime(pending.received_at, site.tz)
            raise Conflict(
                f"A renewal request for Rx {rx.number} was sent on {sent:%m/%d/%Y} and is "
                "still waiting for the prescriber's answer.",
                field="prescription",
            )
        # Sent back to where the e-prescription came from; otherwise to the prescriber's
        # NPI (Qualifier D: the network maps it to the prescriber's system).
        to = (
            script.Endpoint(parsed.header.from_.qualifier, parsed.header.from_.value)
            if parsed is not None
            else script.Endpoint("D", rx.prescriber.npi)
        )
        last = (
            rx.fills.filter(status__in=DISPENSED_FILLS).order_by("-dispensed_on", "-number").first()
        )
        dispensed = _medication_of(
            rx,
            quantity=last.quantity if last else None,
            days=last.days_supply if last else None,
            last_fill=last.dispensed_on if last else None,
            note=note,
        )
        message_id = _new_message_id()
        xml = script.rx_renewal_request(
            to=to,
            message_id=message_id,
            sent_time=timezone.now(),
            patient=_patient_of(rx.patient),
            pharmacy=_pharmacy_of(site),
            prescriber=_prescriber_of(rx.prescriber),
            dispensed=dispensed,
            prescribed=_medication_of(rx),
            rx_reference_number=str(rx.number),
            prescriber_order_number=rx.prescriber_order_number or None,
        )
        text = xml.decode("utf-8")
        request = _store(
            site=site,
            direction=MessageDirection.OUT,
            message_type=script.MessageType.RX_RENEWAL_REQUEST.value,
            message_id=message_id,
            xml=text,
            digest=_sha256(xml),
            status=ErxStatus.SENT,
            order_number=rx.prescriber_order_number,
            reference=str(rx.number),
            summary=f"Renewal request: {rx.drug_description} for Rx {rx.number}",
            sender=site.ncpdp_id,
            patient=rx.patient,
            prescriber=rx.prescriber,
            product=rx.product,
            package=rx.package,
            prescription=rx,
            handled_by=actor,
            handled_at=timezone.now(),
            status_note=note[:500],
        )
        audit_record(
            actor=actor,
            action="rx.erx.renewal_requested",
            obj=request,
            patient_id=rx.patient_id,
            data={
                "message_id": message_id,
                "prescription_id": rx.pk,
                "to": f"{to.qualifier}:{to.value}",
                "reason": decision.code,
            },
        )
        write_outbox(message_id, xml)
    return request


_HANDLERS: dict[
    script.MessageType,
    Callable[[User | None, Site, script.ScriptMessage, ErxMessage], ErxMessage | None],
] = {
    script.MessageType.NEW_RX: _on_new_rx,
    script.MessageType.CANCEL_RX: _on_cancel_rx,
    script.MessageType.RX_RENEWAL_RESPONSE: _on_renewal_response,
    script.MessageType.STATUS: _on_acknowledgement,
    script.MessageType.ERROR: _on_acknowledgement,
    script.MessageType.VERIFY: _on_acknowledgement,
}
