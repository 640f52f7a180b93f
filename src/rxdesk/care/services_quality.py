"""Services of safety events, medication errors (NCC MERP), adverse drug event reports
(MedWatch 3500), root-cause analysis, action items, trends.

Anyone on staff, a trainee included, reports a safety event or a medication error
(care.event): a culture of reporting needs no permission slip. A pharmacist (care.qi) runs
the root-cause analysis, submits the MedWatch report and closes the event. Every write runs
in one transaction, checks the capability first, and appends exactly one audit event last,
whose data carries ids and codes only (never the clinical narrative).

Decisions the issue left open:

* An error that reached the patient (NCC MERP C–I) needs the patient; one with harm (E–I)
  also needs the prescriber notified and a follow-up with a due date. An error is reported
  as a medication error, not as a generic event (its SafetyEvent is made with it).
* Form 3500 B.2 has no "not serious" box: a report must either check at least one outcome
  or say ``non_serious`` on purpose before it is submitted (quality_rules.NON_SERIOUS).
* A vaccine as a suspect product is refused when the report is written, changed or sent:
  vaccine reactions go to VAERS. A vaccine given alongside (concomitant) may be listed.
* Closing an event needs: a completed root-cause analysis for harm (E–I) or a serious
  adverse drug event, no open action items, and the error's follow-up done."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.care import quality_rules as rules
from rxdesk.care.choices import (
    REACHED_PATIENT,
    ActionStatus,
    ActionStrength,
    ErrorType,
    FactorCategory,
    MerpCategory,
    ProductRole,
    ReportStatus,
    SafetyEventKind,
    SafetyEventStatus,
    WorkflowStep,
    YesNoNa,
)
from rxdesk.care.models import (
    ActionItem,
    AdverseEventProduct,
    AdverseEventReport,
    ContributingFactor,
    MedicationError,
    RootCauseAnalysis,
    SafetyEvent,
)
from rxdesk.catalog.models import Package
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.choices import PHARMACIST_ROLES
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.core.validators import normalize_phone
from rxdesk.inventory.models import StockMove
from rxdesk.patients.choices import MeasurementKind
from rxdesk.patients.models import Measurement, Patient
from rxdesk.rx import sig
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill, Prescription

register_actions(
    {
        "care.event.reported": "Safety event reported",
        "care.event.opened": "Safety event with a patient opened (PHI access)",
        "care.event.closed": "Safety event closed",
        "care.error.reported": "Medication error reported (NCC MERP)",
        "care.error.follow_up_done": "Medication error follow-up done",
        "care.ade.created": "Adverse drug event report (MedWatch) started",
        "care.ade.updated": "Adverse drug event report (MedWatch) changed",
        "care.ade.submitted": "Adverse drug event report (MedWatch) submitted",
        "care.ade.opened": "Adverse drug event report opened or printed (PHI access)",
        "care.rca.started": "Root-cause analysis started",
        "care.rca.factor_added": "Contributing factor added",
        "care.rca.action_added": "Action item added",
        "care.rca.completed": "Root-cause analysis completed",
        "care.action.completed": "Action item done",
        "care.action.dropped": "Action item dropped",
    }
)

TITLE_MAX = 200
TEXT_MAX = 4000  # narrative fields (descriptions, what happened, root cause)
SHORT_MAX = 500  # factors, action items, notes
# A workstation clock a minute or two ahead of the server must not refuse a report typed
# "now"; anything further ahead is a typing mistake.
CLOCK_SKEW = dt.timedelta(minutes=5)
CANNOT_KEEP = "The text holds a character that cannot be kept (a control character)."


# --- helpers -----------------------------------------------------------------------------------


def _signed_in(actor: User | None) -> User:
    if actor is None or actor.site_id is None:
        raise Forbidden("Sign in: a safety record names who wrote it.")
    return actor


def _site(actor: User) -> Site:
    assert actor.site is not None
    return actor.site


def _own(actor: User, row_site_id: int | None, what: str) -> None:
    if row_site_id != actor.site_id:
        raise NotFound(f"No such {what} at this pharmacy.", field=what.replace(" ", "_"))


def _clean(value: Any, *, multiline: bool) -> str | None:
    """The text as kept (trimmed; one line unless ``multiline``), or None when it holds a
    control character the database cannot keep."""
    text = str(value if value is not None else "")
    if multiline:
        lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n")]
        text = "\n".join(lines).strip()
    else:
        text = " ".join(text.split())
    if any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in text):
        return None
    return text


class _Errors:
    """Collects every bad field, so that a form shows them all at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})

    def text(
        self,
        value: Any,
        field: str,
        *,
        limit: int,
        required: str = "",
        multiline: bool = False,
    ) -> str:
        text = _clean(value, multiline=multiline)
        if text is None:
            self.add(field, CANNOT_KEEP)
            return ""
        if required and not text:
            self.add(field, required)
        elif len(text) > limit:
            self.add(field, f"Keep it to {limit} characters.")
        return text

    def choice(self, value: Any, field: str, choices: Any, *, required: str = "") -> str:
        text = str(value or "").strip()
        if not text:
            if required:
                self.add(field, required)
            return ""
        if text not in choices.values:
            self.add(field, f"Choose one of: {', '.join(choices.values)}.")
            return ""
        return text

    def raise_any(self) -> None:
        if len(self.items) == 1:
            raise Invalid(self.items[0]["message"], field=self.items[0]["field"])
        if self.items:
            raise Invalid(errors=self.items)


def _moment(errors: _Errors, value: Any, field: str, *, what: str) -> dt.datetime | None:
    if value is None or value == "":
        errors.add(field, f"Enter when it {what}.")
        return None
    if not isinstance(value, dt.datetime):
        errors.add(field, "Enter a date and time.")
        return None
    if timezone.is_naive(value):
        errors.add(field, "Give the time with its time zone.")
        return None
    if value > timezone.now() + CLOCK_SKEW:
        errors.add(field, "This is in the future.")
        return None
    return value


def _patient_of(actor: User, patient: Patient | None) -> Patient | None:
    if patient is not None:
        _own(actor, patient.site_id, "patient")
    return patient


def _display(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def _local(site: Site, when: dt.datetime) -> str:
    return f"{when.astimezone(site.tz):%m/%d/%Y %H:%M}"


# --- safety events -----------------------------------------------------------------------------


def safety_event_report(
    *,
    actor: User | None,
    kind: str,
    title: str,
    occurred_at: dt.datetime,
    description: str,
    step: str = "",
    error_type: str = "",
    category: str = "",
    patient: Patient | None = None,
) -> SafetyEvent:
    """Report a safety event that is not a medication error or an adverse drug event (those
    have their own reports): a near miss, an equipment or process problem. Anyone on staff
    may report; the event is open until a pharmacist closes it."""
    authorize(actor, Cap.CARE_EVENT)
    actor = _signed_in(actor)
    site = _site(actor)
    patient = _patient_of(actor, patient)
    errors = _Errors()
    kind = errors.choice(kind, "kind", SafetyEventKind, required="Choose what kind of event.")
    if kind == SafetyEventKind.MEDICATION_ERROR:
        errors.add("kind", "Report a medication error on the medication error form.")
    elif kind == SafetyEventKind.ADVERSE_DRUG_EVENT:
        errors.add("kind", "Report an adverse drug event on the MedWatch (adverse event) form.")
    title = errors.text(title, "title", limit=TITLE_MAX, required="Give the event a title.")
    description = errors.text(
        description,
        "description",
        limit=TEXT_MAX,
        required="Describe what happened.",
        multiline=True,
    )
    when = _moment(errors, occurred_at, "occurred_at", what="happened")
    step = errors.choice(step, "step", WorkflowStep)
    error_type = errors.choice(error_type, "error_type", ErrorType)
    category = errors.choice(category, "category", MerpCategory)
    if category in REACHED_PATIENT:
        errors.add(
            "category",
            "An error that reached the patient (C–I) is reported as a medication error.",
        )
    errors.raise_any()
    assert when is not None
    with transaction.atomic():
        event = SafetyEvent.objects.create(
            site=site,
            kind=kind,
            title=title,
            occurred_at=when,
            step=step,
            error_type=error_type,
            category=category,
            description=description,
            patient=patient,
            reported_by=actor,
        )
        audit_record(
            actor=actor,
            action="care.event.reported",
            obj=event,
            patient_id=event.patient_id,
            data={"kind": kind, "step": step, "error_type": error_type, "category": category},
        )
    return event


def safety_event_opened(*, actor: User | None, event: SafetyEvent, output: str = "screen") -> None:
    """Record that an event naming a patient was opened (HIPAA access accounting). An
    event with no patient holds no PHI and writes nothing."""
    authorize(actor, Cap.CARE_VIEW)
    authorize(actor, Cap.PATIENT_VIEW)
    actor = _signed_in(actor)
    _own(actor, event.site_id, "event")
    if event.patient_id is None:
        return
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="care.event.opened",
            obj=event,
            patient_id=event.patient_id,
            data={"format": output},
        )


# --- medication errors -------------------------------------------------------------------------


def medication_error_report(
    *,
    actor: User | None,
    step: str,
    error_type: str,
    category: str,
    description: str,
    occurred_at: dt.datetime,
    discovered_at: dt.datetime,
    patient: Patient | None = None,
    prescription: Prescription | None = None,
    fill: Fill | None = None,
    caught_at_step: str = "",
    immediate_action: str = "",
    patient_notified: bool = False,
    prescriber_notified: bool = False,
    follow_up: str = "",
    follow_up_due: dt.date | None = None,
) -> MedicationError:
    """Report a medication error with its NCC MERP category and the step where it happened
    (and where it was caught). Its safety event is made in the same transaction: a near
    miss for A–B, a medication error for C–I. The patient is taken from the prescription or
    fill when not given."""
    authorize(actor, Cap.CARE_EVENT)
    actor = _signed_in(actor)
    site = _site(actor)
    errors = _Errors()
    step = errors.choice(step, "step", WorkflowStep, required="Choose the step where it happened.")
    error_type = errors.choice(
        error_type, "error_type", ErrorType, required="Choose the type of error."
    )
    category = errors.choice(
        category, "category", MerpCategory, required="Choose the NCC MERP category (A–I)."
    )
    caught_at_step = errors.choice(caught_at_step, "caught_at_step", WorkflowStep)
    description = errors.text(
        description,
        "description",
        limit=TEXT_MAX,
        required="Describe what happened.",
        multiline=True,
    )
    immediate_action = errors.text(
        immediate_action, "immediate_action", limit=TEXT_MAX, multiline=True
    )
    follow_up = errors.text(follow_up, "follow_up", limit=TEXT_MAX, multiline=True)
    occurred = _moment(errors, occurred_at, "occurred_at", what="happened")
    discovered = _moment(errors, discovered_at, "discovered_at", what="was found")
    if occurred and discovered and discovered < occurred:
        errors.add("discovered_at", "It cannot be found before it happened.")

    # The patient, the prescription and the fill must tell the same story.
    if fill is not None:
        _own(actor, fill.site_id, "fill")
        if prescription is None:
            prescription = fill.prescription
        elif fill.prescription_id != prescription.pk:
            errors.add("fill", "This fill is not of that prescription.")
    if prescription is not None:
        _own(actor, prescription.site_id, "prescription")
        if patient is None:
            patient = prescription.patient
        elif prescription.patient_id != patient.pk:
            errors.add("prescription", "This prescription is not the patient's.")
    patient = _patient_of(actor, patient)

    if category in REACHED_PATIENT and patient is None:
        errors.add("patient", "The error reached the patient (C–I): choose the patient.")
    if rules.harmful(category):
        if not prescriber_notified:
            errors.add(
                "prescriber_notified",
                "The error harmed the patient (E–I): notify the prescriber first.",
            )
        if not follow_up:
            errors.add("follow_up", "The error harmed the patient (E–I): plan the follow-up.")
        if follow_up_due is None:
            errors.add("follow_up_due", "Give the follow-up a due date.")
    if follow_up_due is not None:
        if not isinstance(follow_up_due, dt.date) or isinstance(follow_up_due, dt.datetime):
            errors.add("follow_up_due", "Enter a date.")
        elif follow_up_due < site.today():
            errors.add("follow_up_due", "The follow-up cannot be due in the past.")
        elif not follow_up:
            errors.add("follow_up", "Say what the follow-up is.")
    errors.raise_any()
    assert occurred is not None and discovered is not None
    near_miss = category not in REACHED_PATIENT
    title = f"{ErrorType(error_type).label} at {WorkflowStep(step).label.lower()}"
    with transaction.atomic():
        event = SafetyEvent.objects.create(
            site=site,
            kind=SafetyEventKind.NEAR_MISS if near_miss else SafetyEventKind.MEDICATION_ERROR,
            title=f"{title} (category {category})"[:TITLE_MAX],
            occurred_at=occurred,
            step=step,
            error_type=error_type,
            category=category,
            description=description,
            patient=patient,
            reported_by=actor,
        )
        error = MedicationError.objects.create(
            site=site,
            safety_event=event,
            patient=patient,
            prescription=prescription,
            fill=fill,
            occurred_at=occurred,
            discovered_at=discovered,
            discovered_by=actor,
            step=step,
            caught_at_step=caught_at_step,
            error_type=error_type,
            category=category,
            description=description,
            immediate_action=immediate_action,
            patient_notified=bool(patient_notified),
            prescriber_notified=bool(prescriber_notified),
            follow_up=follow_up,
            follow_up_due=follow_up_due,
            reported_by=actor,
        )
        audit_record(
            actor=actor,
            action="care.error.reported",
            obj=error,
            patient_id=error.patient_id,
            data={
                "event": event.pk,
                "kind": event.kind,
                "step": step,
                "caught_at_step": caught_at_step,
                "error_type": error_type,
                "category": category,
                "prescription": prescription.number if prescription else None,
                "fill": fill.pk if fill else None,
                "patient_notified": bool(patient_notified),
                "prescriber_notified": bool(prescriber_notified),
                "follow_up_due": _display(follow_up_due),
            },
        )
    return error


def medication_error_follow_up_done(
    *, actor: User | None, error: MedicationError, note: str
) -> MedicationError:
    """Mark the error's follow-up done. The note is added to the follow-up text (the table
    has no column of its own for it), dated and signed."""
    authorize(actor, Cap.CARE_QI)
    actor = _signed_in(actor)
    _own(actor, error.site_id, "medication error")
    errors = _Errors()
    note = errors.text(note, "note", limit=SHORT_MAX, required="Say what was done.")
    errors.raise_any()
    with transaction.atomic():
        current = MedicationError.objects.select_for_update().get(pk=error.pk)
        if current.follow_up_done_at is not None:
            raise Conflict("The follow-up was already marked done.", field="error")
        if not current.follow_up and current.follow_up_due is None:
            raise Conflict("This error has no follow-up to mark done.", field="error")
        now = timezone.now()
        signed = f"Done {_local(_site(actor), now)} by {actor.display_name}: {note}"
        current.follow_up = f"{current.follow_up}\n{signed}".strip()
        current.follow_up_done_at = now
        current.follow_up_done_by = actor
        current.save(update_fields=["follow_up", "follow_up_done_at", "follow_up_done_by"])
        audit_record(
            actor=actor,
            action="care.error.follow_up_done",
            obj=current,
            patient_id=current.patient_id,
            data={"event": current.safety_event_id, "late": _late(current, now)},
        )
    return current


def _late(error: MedicationError, now: dt.datetime) -> bool:
    due = error.follow_up_due
    return bool(due and now.astimezone(error.site.tz).date() > due)


# --- adverse drug events (MedWatch) -----------------------------------------------------------

REPORT_FIELDS = (
    "event_date",
    "description",
    "outcomes",
    "death_date",
    "adverse_event",
    "product_problem",
    "tests_labs",
    "history",
    "weight_kg",
    "reporter_name",
    "reporter_address",
    "reporter_phone",
    "reporter_email",
    "health_professional",
    "occupation",
    "also_reported_to",
)
# Free text: the audit event names a change, never its content.
NARRATIVE = {"description", "tests_labs", "history", "reporter_address", "reporter_name"}
ALSO_REPORTED = ("manufacturer", "compounder", "user_facility", "distributor")
PRODUCT_TEXT = {
    "name": 200,
    "strength": 60,
    "manufacturer": 120,
    "lot_number": 40,
    "dose": 60,
    "frequency": 60,
    "route": 40,
    "indication": 200,
}
PRODUCT_KEYS = {
    *PRODUCT_TEXT,
    "role",
    "prescription",
    "prescription_id",
    "ndc11",
    "expiry",
    "therapy_start",
    "therapy_end",
    "dechallenge",
    "rechallenge",
}


def _reporter_defaults(actor: User) -> dict[str, Any]:
    site = _site(actor)
    where = ", ".join(
        p
        for p in (
            site.name,
            site.address_line1,
            site.city,
            f"{site.state} {site.postal_code}".strip(),
        )
        if p
    )
    return {
        "reporter_name": actor.display_name,
        "reporter_address": where[:300],
        "reporter_phone": site.phone,
        "health_professional": True,
        "occupation": "Pharmacist" if actor.role in PHARMACIST_ROLES else "Pharmacy technician",
    }


def _weight(patient: Patient, on: dt.date) -> Decimal | None:
    """The latest weight on or before the event (else the latest at all)."""
    rows = Measurement.objects.filter(patient=patient, kind=MeasurementKind.WEIGHT)
    row = rows.filter(measured_on__lte=on).order_by("-measured_on", "-pk").first()
    row = row or rows.order_by("-measured_on", "-pk").first()
    return row.value if row else None


def _from_prescription(rx: Prescription) -> dict[str, Any]:
    """Section D as the pharmacy knows it: the product, its NDC, the lot of the last fill
    dispensed, the dose and frequency read from the directions, the therapy dates."""
    product = rx.product
    package = rx.package
    fills = list(
        Fill.objects.filter(prescription=rx, status=FillStatus.DISPENSED)
        .exclude(dispensed_on=None)
        .order_by("dispensed_on", "number")
    )
    last = fills[-1] if fills else None
    if last is not None and last.package_id:
        package = last.package
    lot_number, expiry = "", None
    if last is not None:
        move = (
            StockMove.objects.filter(site=rx.site, reference_type="fill", reference_id=str(last.pk))
            .select_related("lot")
            .order_by("pk")
            .first()
        )
        if move is not None:
            lot_number, expiry = move.lot.number, move.lot.expiry
    dose, frequency = "", ""
    try:
        parsed = sig.expand(rx.directions)
    except (Invalid, ValueError, ArithmeticError):  # free text the parser cannot read
        parsed = None
    if parsed is not None and parsed.dose is not None:
        unit = (parsed.dose_unit or "").lower()
        dose = f"{parsed.dose.normalize():f} {unit}".strip()
    if parsed is not None and parsed.frequency_per_day is not None:
        per_day = parsed.frequency_per_day
        frequency = (
            f"{per_day.normalize():f} times a day"
            if per_day >= 1
            else f"every {(1 / per_day).quantize(Decimal('1'))} days"
        )
        if parsed.prn:
            frequency += " as needed"
    if not frequency:
        frequency = (rx.directions_en or rx.directions)[:60]
    return {
        "name": product.display_name,
        "strength": (product.strength or "")[:60],
        "manufacturer": (product.labeler or "")[:120],
        "ndc11": package.ndc11 if package else "",
        "lot_number": lot_number,
        "expiry": expiry,
        "dose": dose[:60],
        "frequency": frequency[:60],
        "route": (parsed.route if parsed and parsed.route else product.route or "")[:40],
        "therapy_start": fills[0].dispensed_on if fills else rx.date_written,
        "indication": "",
        "_product_type": product.product_type,
    }


def _product_rows(
    actor: User, patient: Patient, products: Sequence[Mapping[str, Any]], errors: _Errors
) -> list[dict[str, Any]]:
    """The products as rows to save, each checked; vaccines as suspects refused (VAERS)."""
    out: list[dict[str, Any]] = []
    for i, given in enumerate(products):
        field = f"products.{i}"
        if not isinstance(given, Mapping):
            errors.add(field, "Each product is a set of fields.")
            continue
        unknown = sorted(set(given) - PRODUCT_KEYS)
        if unknown:
            errors.add(f"{field}.{unknown[0]}", "This field cannot be set here.")
            continue
        row: dict[str, Any] = {}
        rx = given.get("prescription")
        rx_id = given.get("prescription_id")
        if rx is None and rx_id:
            rx = Prescription.objects.filter(pk=rx_id, site_id=actor.site_id).first()
            if rx is None:
                raise NotFound("No such prescription at this pharmacy.", field=f"{field}.rx")
        if rx is not None:
            _own(actor, rx.site_id, "prescription")
            if rx.patient_id != patient.pk:
                errors.add(f"{field}.prescription_id", "This prescription is not the patient's.")
                continue
            row.update(_from_prescription(rx))
        row["prescription"] = rx
        role = errors.choice(given.get("role") or ProductRole.SUSPECT, f"{field}.role", ProductRole)
        row["role"] = role
        for key, limit in PRODUCT_TEXT.items():
            if key in given and given[key] not in (None, ""):
                row[key] = errors.text(given[key], f"{field}.{key}", limit=limit)
            else:
                row.setdefault(key, "")
        if not row["name"]:
            errors.add(f"{field}.name", "Enter the product's name (or choose a prescription).")
        ndc = "".join(ch for ch in str(given.get("ndc11") or "") if ch.isdigit())
        if ndc:
            if len(ndc) != 11:
                errors.add(f"{field}.ndc11", "Enter the NDC as 11 digits.")
            row["ndc11"] = ndc
            package = Package.objects.filter(ndc11=ndc).select_related("product").first()
            if package is not None:
                row["_product_type"] = package.product.product_type
        row.setdefault("ndc11", "")
        for key in ("expiry", "therapy_start", "therapy_end"):
            if given.get(key) not in (None, ""):
                value = given[key]
                if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
                    errors.add(f"{field}.{key}", "Enter a date.")
                else:
                    row[key] = value
            row.setdefault(key, None)
        if (
            row["therapy_start"]
            and row["therapy_end"]
            and row["therapy_end"] < row["therapy_start"]
        ):
            errors.add(f"{field}.therapy_end", "Therapy cannot stop before it started.")
        for key in ("dechallenge", "rechallenge"):
            row[key] = (
                errors.choice(given.get(key), f"{field}.{key}", YesNoNa) or YesNoNa.UNKNOWN.value
            )
        if role == ProductRole.SUSPECT and rules.is_vaccine(
            name=row["name"], product_type=row.get("_product_type", "")
        ):
            errors.add(f"{field}.name", rules.VAERS_MESSAGE)
        out.append(row)
    return out


def _report_values(
    actor: User,
    patient: Patient,
    values: Mapping[str, Any],
    errors: _Errors,
    *,
    current: AdverseEventReport | None = None,
) -> dict[str, Any]:
    """Check the report's own fields (those given; the rest kept)."""
    site = _site(actor)
    out: dict[str, Any] = {}
    unknown = sorted(set(values) - set(REPORT_FIELDS))
    for name in unknown:
        errors.add(name, "This field cannot be set here.")
    today = site.today()
    if "event_date" in values:
        day = values["event_date"]
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            errors.add("event_date", "Enter the date of the event.")
        elif day > today:
            errors.add("event_date", "The event cannot be in the future.")
        elif day < patient.date_of_birth:
            errors.add("event_date", "The event cannot be before the patient was born.")
        else:
            out["event_date"] = day
    for name, limit, multi in (
        ("description", TEXT_MAX, True),
        ("tests_labs", TEXT_MAX, True),
        ("history", TEXT_MAX, True),
        ("reporter_name", 120, False),
        ("reporter_address", 300, False),
        ("occupation", 60, False),
    ):
        if name in values:
            out[name] = errors.text(values[name], name, limit=limit, multiline=multi)
    if "reporter_phone" in values:
        phone = normalize_phone(str(values["reporter_phone"] or ""))
        if phone and len(phone) != 10:
            errors.add("reporter_phone", "Enter a 10-digit phone number.")
        out["reporter_phone"] = phone
    if "reporter_email" in values:
        email = str(values["reporter_email"] or "").strip()
        if email and ("@" not in email or len(email) > 254 or " " in email):
            errors.add("reporter_email", "Enter an e-mail address.")
        out["reporter_email"] = email
    for name in ("adverse_event", "product_problem", "health_professional"):
        if name in values:
            out[name] = bool(values[name])
    if "outcomes" in values:
        outcomes = [str(o) for o in (values["outcomes"] or [])]
        problem = rules.outcome_problem(outcomes)
        if problem:
            errors.add("outcomes", problem)
        out["outcomes"] = outcomes
    if "also_reported_to" in values:
        also = [str(o) for o in (values["also_reported_to"] or [])]
        bad = [a for a in also if a not in ALSO_REPORTED]
        if bad:
            errors.add("also_reported_to", f"Choose from: {', '.join(ALSO_REPORTED)}.")
        out["also_reported_to"] = sorted(set(also))
    if "weight_kg" in values and values["weight_kg"] not in (None, ""):
        try:
            weight = Decimal(str(values["weight_kg"]))
        except ArithmeticError:
            weight = Decimal(-1)
        if not weight.is_finite() or weight <= 0 or weight >= 1000:
            errors.add("weight_kg", "Enter the weight in kg (more than 0, less than 1000).")
        else:
            out["weight_kg"] = weight.quantize(Decimal("0.01"))
    elif "weight_kg" in values:
        out["weight_kg"] = None
    if "death_date" in values:
        death = values["death_date"]
        if death in (None, ""):
            out["death_date"] = None
        elif not isinstance(death, dt.date) or isinstance(death, dt.datetime):
            errors.add("death_date", "Enter the date of death.")
        else:
            out["death_date"] = death
    # Rules across fields, on the report as it will be.
    event_day = out.get("event_date", current.event_date if current else None)
    outcomes_now = out.get("outcomes", current.outcomes if current else [])
    death_now = out.get("death_date", current.death_date if current else None)
    if death_now is not None:
        if "death" not in outcomes_now:
            errors.add("death_date", "A date of death goes with the outcome 'death'.")
        elif death_now > today:
            errors.add("death_date", "The date of death cannot be in the future.")
        elif event_day and death_now < event_day:
            errors.add("death_date", "The date of death cannot be before the event.")
    return out


def ade_report_create(
    *,
    actor: User | None,
    patient: Patient,
    event_date: dt.date,
    description: str,
    outcomes: Sequence[str] = (),
    products: Sequence[Mapping[str, Any]] = (),
    **fields: Any,
) -> AdverseEventReport:
    """Start a MedWatch (FDA Form 3500) report as a DRAFT, with its safety event (kind
    adverse drug event). Section A comes from the patient: the initials (never the name),
    the age at the event, the sex, the latest weight. Products come from the patient's
    prescriptions (``{"prescription_id": …, "role": "suspect"}``) or are typed. The
    reporter defaults to the signed-in person at the pharmacy's address and phone."""
    authorize(actor, Cap.CARE_EVENT)
    actor = _signed_in(actor)
    site = _site(actor)
    _own(actor, patient.site_id, "patient")
    errors = _Errors()
    values = {
        **_reporter_defaults(actor),
        **fields,
        "event_date": event_date,
        "description": description,
        "outcomes": list(outcomes),
    }
    if "weight_kg" not in fields:
        values.pop("weight_kg", None)
    checked = _report_values(actor, patient, values, errors)
    if not checked.get("description") and "description" not in {e["field"] for e in errors.items}:
        errors.add("description", "Describe the event.")
    rows = _product_rows(actor, patient, products, errors)
    errors.raise_any()
    day = checked["event_date"]
    age = rules.age_at(patient.date_of_birth, day)
    weight = checked.pop("weight_kg", None)
    if weight is None:
        weight = _weight(patient, day)
    with transaction.atomic():
        event = SafetyEvent.objects.create(
            site=site,
            kind=SafetyEventKind.ADVERSE_DRUG_EVENT,
            title=f"Adverse drug event {day:%m/%d/%Y}",
            occurred_at=dt.datetime.combine(day, dt.time(12), tzinfo=site.tz),
            description=checked["description"],
            patient=patient,
            reported_by=actor,
        )
        report = AdverseEventReport.objects.create(
            site=site,
            safety_event=event,
            patient=patient,
            patient_identifier=rules.initials(patient.first_name, patient.last_name),
            age=age[0] if age else None,
            age_unit=age[1] if age else "",
            sex=patient.sex if patient.sex in ("M", "F") else "",
            weight_kg=weight,
            report_date=site.today(),
            created_by=actor,
            **checked,
        )
        _save_products(report, rows)
        audit_record(
            actor=actor,
            action="care.ade.created",
            obj=report,
            patient_id=patient.pk,
            data={
                "event": event.pk,
                "outcomes": report.outcomes,
                "products": [
                    {"role": r["role"], "prescription": r["prescription"].number}
                    if r["prescription"]
                    else {"role": r["role"], "ndc11": r["ndc11"]}
                    for r in rows
                ],
            },
        )
    return report


def _save_products(report: AdverseEventReport, rows: list[dict[str, Any]]) -> None:
    AdverseEventProduct.objects.bulk_create(
        [
            AdverseEventProduct(
                report=report, **{k: v for k, v in row.items() if not k.startswith("_")}
            )
            for row in rows
        ]
    )


def _refuse_submitted(report: AdverseEventReport) -> None:
    if report.status != ReportStatus.DRAFT:
        raise Conflict(
            "This report was submitted to FDA and can no longer be changed.", field="report"
        )


def ade_report_update(
    *,
    actor: User | None,
    report: AdverseEventReport,
    products: Sequence[Mapping[str, Any]] | None = None,
    **changes: Any,
) -> AdverseEventReport:
    """Change a draft report (the fields given; ``products`` replaces the whole list).
    A submitted report is read-only. Section A follows a changed event date."""
    authorize(actor, Cap.CARE_EVENT)
    actor = _signed_in(actor)
    _own(actor, report.site_id, "report")
    report = AdverseEventReport.objects.select_related("patient").get(pk=report.pk)
    _refuse_submitted(report)
    patient = report.patient
    errors = _Errors()
    checked = _report_values(actor, patient, changes, errors, current=report)
    if "description" in checked and not checked["description"]:
        errors.add("description", "Describe the event.")
    rows = _product_rows(actor, patient, products, errors) if products is not None else None
    errors.raise_any()
    with transaction.atomic():
        current = AdverseEventReport.objects.select_for_update().get(pk=report.pk)
        _refuse_submitted(current)
        changed = sorted(k for k, v in checked.items() if getattr(current, k) != v)
        for key in changed:
            setattr(current, key, checked[key])
        if "event_date" in changed:
            age = rules.age_at(patient.date_of_birth, current.event_date)
            current.age, current.age_unit = (age[0], age[1]) if age else (None, "")
            changed += ["age", "age_unit"]
        current.updated_at = timezone.now()
        current.save()
        event_fields = []
        if "description" in changed:
            current.safety_event.description = current.description
            event_fields.append("description")
        if "event_date" in changed:
            event = current.safety_event
            event.occurred_at = dt.datetime.combine(
                current.event_date, dt.time(12), tzinfo=current.site.tz
            )
            event.title = f"Adverse drug event {current.event_date:%m/%d/%Y}"
            event_fields += ["occurred_at", "title"]
        if event_fields:
            current.safety_event.save(update_fields=event_fields)
        if rows is not None:
            current.products.all().delete()
            _save_products(current, rows)
            changed.append("products")
        data: dict[str, Any] = {
            "changed": changed,
            "values": {
                k: _display(getattr(current, k))
                for k in changed
                if k not in NARRATIVE and k != "products"
            },
        }
        audit_record(
            actor=actor,
            action="care.ade.updated",
            obj=current,
            patient_id=current.patient_id,
            data=data,
        )
    return current


def ade_report_missing(report: AdverseEventReport) -> list[dict[str, str]]:
    """What the report still needs before it may be submitted (every field named)."""
    products = [
        {"role": p.role, "name": p.name, "_product_type": p.prescription.product.product_type}
        if p.prescription is not None
        else {"role": p.role, "name": p.name}
        for p in report.products.select_related("prescription__product")
    ]
    values = {
        name: getattr(report, name)
        for name in (
            "patient_identifier",
            "event_date",
            "description",
            "outcomes",
            "death_date",
            "adverse_event",
            "product_problem",
            "reporter_name",
            "reporter_phone",
            "reporter_email",
            "reporter_address",
        )
    }
    missing = rules.missing_for_submit(values, products)
    for i, p in enumerate(products):
        if p["role"] == ProductRole.SUSPECT and rules.is_vaccine(
            name=p["name"], product_type=p.get("_product_type", "")
        ):
            missing.append({"field": f"products.{i}.name", "message": rules.VAERS_MESSAGE})
    return missing


def ade_report_submit(
    *, actor: User | None, report: AdverseEventReport, fda_reference: str = ""
) -> AdverseEventReport:
    """Mark the report submitted to FDA (the pharmacist sends it through MedWatch and
    keeps the report number FDA gives). Refused, with every missing field named at once,
    until it is complete; a vaccine as a suspect product is refused (VAERS)."""
    authorize(actor, Cap.CARE_QI)
    actor = _signed_in(actor)
    _own(actor, report.site_id, "report")
    errors = _Errors()
    reference = errors.text(fda_reference, "fda_reference", limit=40)
    errors.raise_any()
    with transaction.atomic():
        current = AdverseEventReport.objects.select_for_update().get(pk=report.pk)
        _refuse_submitted(current)
        missing = ade_report_missing(current)
        if missing:
            raise Invalid(
                "The report is not complete: " + "; ".join(m["message"] for m in missing),
                errors=missing,
            )
        current.status = ReportStatus.SUBMITTED
        current.submitted_by = actor
        current.submitted_at = timezone.now()
        current.fda_reference = reference
        current.save(update_fields=["status", "submitted_by", "submitted_at", "fda_reference"])
        audit_record(
            actor=actor,
            action="care.ade.submitted",
            obj=current,
            patient_id=current.patient_id,
            data={
                "event": current.safety_event_id,
                "fda_reference": reference,
                "serious": rules.serious(current.outcomes),
            },
        )
    return current


def ade_report_opened(*, actor: User | None, report: AdverseEventReport, output: str) -> None:
    """Record that a MedWatch report was opened or printed (HIPAA access accounting)."""
    authorize(actor, Cap.CARE_VIEW)
    authorize(actor, Cap.PATIENT_VIEW)
    actor = _signed_in(actor)
    _own(actor, report.site_id, "report")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="care.ade.opened",
            obj=report,
            patient_id=report.patient_id,
            data={"format": output},
        )


# --- root-cause analysis and action items ------------------------------------------------------


def _refuse_closed(event: SafetyEvent) -> None:
    if event.status == SafetyEventStatus.CLOSED:
        raise Conflict("This event is closed.", field="event")


def _refuse_complete(rca: RootCauseAnalysis) -> None:
    if rca.completed_at is not None:
        raise Conflict("This root-cause analysis is complete.", field="rca")


def rca_start(
    *, actor: User | None, event: SafetyEvent, what_happened: str, team: str = ""
) -> RootCauseAnalysis:
    """Start the root-cause analysis of an event; the event is under analysis until it
    closes."""
    authorize(actor, Cap.CARE_QI)
    actor = _signed_in(actor)
    _own(actor, event.site_id, "event")
    errors = _Errors()
    what = errors.text(
        what_happened,
        "what_happened",
        limit=TEXT_MAX,
        required="Describe what happened, step by step.",
        multiline=True,
    )
    team_text = errors.text(team, "team", limit=300)
    errors.raise_any()
    with transaction.atomic():
        current = SafetyEvent.objects.select_for_update().get(pk=event.pk)
        _refuse_closed(current)
        if RootCauseAnalysis.objects.filter(event=current).exists():
            raise Conflict("This event already has a root-cause analysis.", field="event")
        rca = RootCauseAnalysis.objects.create(
            event=current, led_by=actor, team=team_text, what_happened=what
        )
        current.status = SafetyEventStatus.ANALYSIS
        current.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="care.rca.started",
            obj=rca,
            patient_id=current.patient_id,
            data={"event": current.pk, "status": [event.status, current.status]},
        )
    return rca


def _rca_for_write(actor: User, rca: RootCauseAnalysis) -> RootCauseAnalysis:
    current = RootCauseAnalysis.objects.select_related("event").get(pk=rca.pk)
    _own(actor, current.event.site_id, "rca")
    _refuse_closed(current.event)
    return current


def rca_factor_add(
    *, actor: User | None, rca: RootCauseAnalysis, category: str, description: str
) -> ContributingFactor:
    """Add a contributing factor (while the analysis is open)."""
    authorize(actor, Cap.CARE_QI)
    actor = _signed_in(actor)
    _own(actor, rca.event.site_id, "rca")
    errors = _Errors()
    category = errors.choice(
        category, "category", FactorCategory, required="Choose the kind of factor."
    )
    text = errors.text(description, "description", limit=SHORT_MAX, required="Describe the factor.")
    errors.raise_any()
    with transaction.atomic():
        current = _rca_for_write(actor, rca)
        _refuse_complete(current)
        factor = ContributingFactor.objects.create(rca=current, category=category, description=text)
        audit_record(
            actor=actor,
            action="care.rca.factor_added",
            obj=factor,
            patient_id=current.event.patient_id,
            data={"rca": current.pk, "event": current.event_id, "category": category},
        )
    return factor


def rca_action_add(
    *,
    actor: User | None,
    rca: RootCauseAnalysis,
    description: str,
    strength: str,
    owner: User | None,
    due_on: dt.date | None,
) -> ActionItem:
    """Add an action item with its owner (an active member of this pharmacy's staff) and
    its due date (today or later). Allowed until the event closes."""
    authorize(actor, Cap.CARE_QI)
    actor = _signed_in(actor)
    _own(actor, rca.event.site_id, "rca")
    site = _site(actor)
    errors = _Errors()
    text = errors.text(description, "description", limit=SHORT_MAX, required="Describe the action.")
    strength = errors.choice(
        strength, "strength", ActionStrength, required="Choose how strong the action is."
    )
    if owner is None:
        errors.add("owner", "Choose who owns the action.")
    elif owner.site_id != site.pk or not owner.is_active:
        errors.add("owner", "The owner must be a current member of this pharmacy's staff.")
    if due_on is None or not isinstance(due_on, dt.date) or isinstance(due_on, dt.datetime):
        errors.add("due_on", "Enter the due date.")
    elif due_on < site.today():
        errors.add("due_on", "The due date cannot be in the past.")
    errors.raise_any()
    assert owner is not None and due_on is not None
    with transaction.atomic():
        current = _rca_for_write(actor, rca)
        item = ActionItem.objects.create(
            rca=current,
            description=text,
            strength=strength,
            owner=owner,
            due_on=due_on,
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action="care.rca.action_added",
            obj=item,
            patient_id=current.event.patient_id,
            data={
                "rca": current.pk,
                "event": current.event_id,
                "strength": strength,
                "owner": owner.username,
                "due_on": due_on.isoformat(),
            },
        )
    return item


def _item_for_write(actor: User, item: ActionItem) -> ActionItem:
    current = ActionItem.objects.select_related("rca__event").get(pk=item.pk)
    _own(actor, current.rca.event.site_id, "action")
    if current.status != ActionStatus.OPEN:
        raise Conflict(f"This action item is already {current.get_status_display().lower()}.")
    return current


def action_item_complete(*, actor: User | None, item: ActionItem, note: str = "") -> ActionItem:
    """Mark an action item done: its owner, or a pharmacist running quality (care.qi)."""
    authorize(actor, Cap.CARE_EVENT)
    actor = _signed_in(actor)
    _own(actor, item.rca.event.site_id, "action")
    if item.owner_id != actor.pk:
        authorize(actor, Cap.CARE_QI)
    errors = _Errors()
    text = errors.text(note, "note", limit=SHORT_MAX)
    errors.raise_any()
    return _close_item(actor, item, ActionStatus.DONE, text, "care.action.completed")


def action_item_drop(*, actor: User | None, item: ActionItem, note: str) -> ActionItem:
    """Drop an action item that will not be done, saying why (care.qi)."""
    authorize(actor, Cap.CARE_QI)
    actor = _signed_in(actor)
    _own(actor, item.rca.event.site_id, "action")
    errors = _Errors()
    text = errors.text(note, "note", limit=SHORT_MAX, required="Say why the action is dropped.")
    errors.raise_any()
    return _close_item(actor, item, ActionStatus.DROPPED, text, "care.action.dropped")


def _close_item(actor: User, item: ActionItem, status: str, note: str, action: str) -> ActionItem:
    with transaction.atomic():
        current = _item_for_write(actor, item)
        now = timezone.now()
        current.status = status
        current.done_at = now
        current.done_by = actor
        current.done_note = note
        current.save(update_fields=["status", "done_at", "done_by", "done_note"])
        late = now.astimezone(_site(actor).tz).date() > current.due_on
        audit_record(
            actor=actor,
            action=action,
            obj=current,
            patient_id=current.rca.event.patient_id,
            data={"rca": current.rca_id, "event": current.rca.event_id, "late": late},
        )
    return current


def rca_complete(
    *, actor: User | None, rca: RootCauseAnalysis, root_cause: str
) -> RootCauseAnalysis:
    """Complete the analysis with its root cause: it needs at least one contributing factor
    and one action item (not dropped)."""
    authorize(actor, Cap.CARE_QI)
    actor = _signed_in(actor)
    _own(actor, rca.event.site_id, "rca")
    errors = _Errors()
    cause = errors.text(
        root_cause,
        "root_cause",
        limit=TEXT_MAX,
        required="State the root cause.",
        multiline=True,
    )
    errors.raise_any()
    with transaction.atomic():
        current = _rca_for_write(actor, rca)
        _refuse_complete(current)
        problems = _Errors()
        if not current.factors.exists():
            problems.add("factors", "Add at least one contributing factor.")
        if not current.actions.exclude(status=ActionStatus.DROPPED).exists():
            problems.add("actions", "Add at least one action item (not dropped).")
        problems.raise_any()
        current.root_cause = cause
        current.completed_by = actor
        current.completed_at = timezone.now()
        current.save(update_fields=["root_cause", "completed_by", "completed_at"])
        audit_record(
            actor=actor,
            action="care.rca.completed",
            obj=current,
            patient_id=current.event.patient_id,
            data={
                "event": current.event_id,
                "factors": current.factors.count(),
                "actions": current.actions.count(),
            },
        )
    return current


def needs_rca(event: SafetyEvent) -> bool:
    """An event with harm (NCC MERP E–I) or a serious adverse drug event needs a completed
    root-cause analysis before it closes."""
    if rules.harmful(event.category):
        return True
    report = AdverseEventReport.objects.filter(safety_event=event).only("outcomes").first()
    return report is not None and rules.serious(report.outcomes)


def close_blockers(event: SafetyEvent) -> list[dict[str, str]]:
    """Why the event cannot close yet (empty when it can)."""
    out: list[dict[str, str]] = []
    rca = RootCauseAnalysis.objects.filter(event=event).first()
    if needs_rca(event) and (rca is None or rca.completed_at is None):
        why = "harm (E–I)" if rules.harmful(event.category) else "a serious adverse event"
        out.append(
            {
                "field": "rca",
                "message": f"An event with {why} needs a completed root-cause analysis.",
            }
        )
    if rca is not None:
        open_items = rca.actions.filter(status=ActionStatus.OPEN).count()
        if open_items:
            s = "" if open_items == 1 else "s"
            out.append(
                {
                    "field": "actions",
                    "message": f"{open_items} action item{s} still open: finish or drop them.",
                }
            )
    error = MedicationError.objects.filter(safety_event=event).first()
    if error is not None and error.follow_up_due is not None and error.follow_up_done_at is None:
        out.append({"field": "follow_up", "message": "The error's follow-up is not done yet."})
    return out


def safety_event_close(*, actor: User | None, event: SafetyEvent, note: str) -> SafetyEvent:
    """Close an event with a note (care.qi). Refused while it needs a completed root-cause
    analysis, has open action items, or its error's follow-up is not done."""
    authorize(actor, Cap.CARE_QI)
    actor = _signed_in(actor)
    _own(actor, event.site_id, "event")
    errors = _Errors()
    text = errors.text(
        note, "note", limit=TEXT_MAX, required="Say how the event was closed.", multiline=True
    )
    errors.raise_any()
    with transaction.atomic():
        current = SafetyEvent.objects.select_for_update().get(pk=event.pk)
        _refuse_closed(current)
        blockers = close_blockers(current)
        if blockers:
            raise Conflict(
                "The event cannot close yet: " + " ".join(b["message"] for b in blockers),
                field=blockers[0]["field"],
                errors=blockers,
            )
        before = current.status
        current.status = SafetyEventStatus.CLOSED
        current.closed_by = actor
        current.closed_at = timezone.now()
        current.closing_note = text
        current.save(update_fields=["status", "closed_by", "closed_at", "closing_note"])
        audit_record(
            actor=actor,
            action="care.event.closed",
            obj=current,
            patient_id=current.patient_id,
            data={"status": [before, current.status]},
        )
    return current


def may_complete(actor: User, item: ActionItem) -> bool:
    """Whether the screen offers "done" on this item to this user."""
    return has(actor, Cap.CARE_EVENT) and (item.owner_id == actor.pk or has(actor, Cap.CARE_QI))


__all__ = [
    "action_item_complete",
    "action_item_drop",
    "ade_report_create",
    "ade_report_missing",
    "ade_report_opened",
    "ade_report_submit",
    "ade_report_update",
    "close_blockers",
    "medication_error_follow_up_done",
    "medication_error_report",
    "needs_rca",
    "rca_action_add",
    "rca_complete",
    "rca_factor_add",
    "rca_start",
    "safety_event_close",
    "safety_event_opened",
    "safety_event_report",
]
