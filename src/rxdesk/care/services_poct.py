"""Services of point-of-care tests (CLIA-waived) and the site's patient-care settings.

A pharmacy performs a waived test only under a current CLIA certificate of waiver, and
only the tests its state lets it perform (the PIC lists them in the care settings). Where
the state lets technicians perform them, the PIC says so; otherwise a pharmacist does.

A result row is recorded once and never edited: a wrong row is marked "entered in error"
by a pharmacist (with the reason) and recorded again. The pharmacist reviews each result;
telling the patient (or prescriber) the result is recorded with its time."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.care import poct_tests
from rxdesk.care.choices import PocStatus
from rxdesk.care.common import settings_of
from rxdesk.care.models import CareSettings, PocTestResult
from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.choices import PHARMACIST_ROLES
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.patients.choices import PatientStatus
from rxdesk.patients.models import Patient

register_actions(
    {
        "care.settings.updated": "Patient-care settings changed (point-of-care testing, callbacks)",
        "care.poct.recorded": "Point-of-care test result recorded",
        "care.poct.communicated": "Point-of-care test result given to the patient",
        "care.poct.reviewed": "Point-of-care test result reviewed by the pharmacist",
        "care.poct.entered_in_error": "Point-of-care test result marked entered in error",
        "care.poct.viewed": "Point-of-care test result opened or printed (PHI)",
    }
)

CLIA_RE = re.compile(r"\d{2}D\d{7}")
CALLBACK_HOURS = (1, 168)
LOT_MAX, KIT_MAX, REFER_TO_MAX, REASON_MAX, NOTE_MAX, FOLLOW_UP_MAX = 40, 120, 200, 300, 300, 2000
# A result is recorded when the test is read; a paper log caught up within a week is the
# furthest back a row may be dated. A few minutes ahead is a workstation's clock drifting.
BACKDATE_LIMIT = dt.timedelta(days=7)
FUTURE_SLACK = dt.timedelta(minutes=5)

SETTINGS_FIELDS = [
    "poct_enabled",
    "clia_certificate",
    "clia_expires",
    "poct_tests",
    "technicians_perform_poct",
    "callback_hours",
]


# --- Helpers ----------------------------------------------------------------------------------


def _signed_in(actor: User | None) -> User:
    if actor is None:
        raise Forbidden("Sign in: a test result names who performed it.")
    return actor


def _text(value: Any, *, field: str, limit: int, required: bool = False, what: str = "") -> str:
    text = str(value if value is not None else "").strip()
    if required and not text:
        raise Invalid(f"Enter {what or field.replace('_', ' ')}.", field=field)
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return text


def _local(site: Site, when: dt.datetime) -> str:
    return f"{when.astimezone(site.tz):%m/%d/%Y %H:%M}"


def _aware(value: Any, *, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise Invalid("Give the date and time.", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid("Give the time with its time-zone offset.", field=field)
    return value


def _result_of(site: Site, result: PocTestResult) -> PocTestResult:
    found = (
        PocTestResult.objects.select_for_update()
        .filter(pk=getattr(result, "pk", 0) or 0, site=site)
        .first()
    )
    if found is None:
        raise NotFound("No such test result at this pharmacy.", field="result")
    return found


def _snapshot(row: CareSettings) -> dict[str, Any]:
    return {
        "poct_enabled": row.poct_enabled,
        "clia_certificate": row.clia_certificate,
        "clia_expires": row.clia_expires.isoformat() if row.clia_expires else None,
        "poct_tests": list(row.poct_tests or []),
        "technicians_perform_poct": row.technicians_perform_poct,
        "callback_hours": row.callback_hours,
    }


def clia_problem(row: CareSettings, on: dt.date) -> str | None:
    """Why the site may not perform waived tests on ``on``, or None."""
    if not row.poct_enabled:
        return "This pharmacy does not offer point-of-care testing (care settings)."
    if not row.clia_certificate or row.clia_expires is None:
        return "The pharmacy's CLIA certificate of waiver is not on file (care settings)."
    if row.clia_expires < on:
        return (
            f"The CLIA certificate of waiver {row.clia_certificate} expired on "
            f"{row.clia_expires:%m/%d/%Y}: no waived test may be performed until it is renewed."
        )
    return None


# --- Settings ---------------------------------------------------------------------------------


def _tests(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise Invalid("Give a list of test codes.", field="poct_tests")
    codes: set[str] = set()
    for item in value:
        code = str(item or "").strip().lower()
        if code not in poct_tests.BY_CODE:
            raise Invalid(f"{str(item)[:30]!r} is not a test in the catalog.", field="poct_tests")
        codes.add(code)
    return [t.code for t in poct_tests.CATALOG if t.code in codes]  # catalog order


def care_settings_set(
    *,
    actor: User | None,
    poct_enabled: bool,
    clia_certificate: str = "",
    clia_expires: dt.date | None = None,
    poct_tests: Iterable[str] | None = None,
    technicians_perform_poct: bool = False,
    callback_hours: int = 4,
) -> CareSettings:
    """Set the site's patient-care rules (the pharmacist-in-charge): whether it offers
    point-of-care testing, its CLIA certificate of waiver, the tests its state permits,
    whether technicians may perform them, and the default time to call back."""
    authorize(actor, Cap.CARE_SETUP)
    actor = _signed_in(actor)
    site = actor.site
    clia = re.sub(r"[\s-]", "", str(clia_certificate or "")).upper()
    if clia and not CLIA_RE.fullmatch(clia):
        raise Invalid(
            "A CLIA number is 10 characters: 2 digits, the letter D, 7 digits (like 05D1234567).",
            field="clia_certificate",
        )
    if clia_expires is not None and not isinstance(clia_expires, dt.date):
        raise Invalid("Give the expiry date.", field="clia_expires")
    if isinstance(clia_expires, dt.datetime):
        raise Invalid("Give the expiry as a date.", field="clia_expires")
    codes = _tests(poct_tests)
    if isinstance(callback_hours, bool) or not isinstance(callback_hours, int):
        raise Invalid("Give whole hours.", field="callback_hours")
    low, high = CALLBACK_HOURS
    if not low <= callback_hours <= high:
        raise Invalid(f"Call back within {low} to {high} hours.", field="callback_hours")
    if poct_enabled:
        if not clia:
            raise Invalid(
                "Point-of-care testing needs the CLIA certificate of waiver number.",
                field="clia_certificate",
            )
        if clia_expires is None:
            raise Invalid("Give the date the certificate expires.", field="clia_expires")
        if clia_expires < site.today():
            raise Invalid(
                f"That certificate expired on {clia_expires:%m/%d/%Y}: renew it first.",
                field="clia_expires",
            )
        if not codes:
            raise Invalid("Choose the tests this pharmacy may perform.", field="poct_tests")
    with transaction.atomic():
        row = CareSettings.objects.select_for_update().filter(site=site).first() or settings_of(
            site
        )
        before = _snapshot(row)
        row.poct_enabled = bool(poct_enabled)
        row.clia_certificate = clia
        row.clia_expires = clia_expires
        row.poct_tests = codes
        row.technicians_perform_poct = bool(technicians_perform_poct)
        row.callback_hours = callback_hours
        changes = diff(before, _snapshot(row))
        if not changes:
            return row
        row.updated_at = timezone.now()
        row.updated_by = actor
        row.save()
        audit_record(
            actor=actor,
            action="care.settings.updated",
            obj=row,
            object_id=site.pk,
            data={"changes": changes},
        )
    return row


def permitted_tests(site: Site) -> list[poct_tests.PocTest]:
    """The catalog entries the site permits (none while testing is off)."""
    row = settings_of(site)
    if not row.poct_enabled:
        return []
    allowed = set(row.poct_tests or [])
    return [t for t in poct_tests.CATALOG if t.code in allowed]


# --- Recording a result -----------------------------------------------------------------------


def poct_record(
    *,
    actor: User | None,
    patient: Patient,
    test_code: str,
    specimen: str = "",
    collected_at: dt.datetime | None,
    kit_lot: str,
    kit_expiry: dt.date | None,
    result: str,
    value: Decimal | str | None = None,
    kit_name: str = "",
    follow_up: str = "",
    referred: bool = False,
    referral_to: str = "",
    referral_reason: str = "",
) -> PocTestResult:
    """Record a waived test's result. The site must offer testing under a current CLIA
    certificate of waiver and permit this test; a technician performs it only where the
    site allows. The kit must be in date when the specimen was collected; the result must
    fit the test (a value inside the meter's range). The interpretation is computed; a
    positive, out-of-range or critical result needs a follow-up, and a critical result (or
    a positive HIV/HCV screen) a referral naming to whom and why."""
    authorize(actor, Cap.CARE_POCT)
    actor = _signed_in(actor)
    site = actor.site
    now = timezone.now()
    if patient is None or getattr(patient, "site_id", None) != site.pk:
        raise Invalid("No such patient at this pharmacy.", field="patient")
    if patient.status == PatientStatus.DECEASED:
        raise Invalid("That patient is recorded as deceased.", field="patient")
    row = settings_of(site)
    problem = clia_problem(row, site.today())
    if problem:
        raise Conflict(problem, field="test_code")
    try:
        test = poct_tests.lookup(test_code)
    except poct_tests.ResultError as exc:
        raise Invalid(exc.message, field=exc.field) from None
    if test.code not in (row.poct_tests or []):
        raise Conflict(
            f"{test.name} is not among the tests this pharmacy may perform (care settings).",
            field="test_code",
        )
    if actor.role not in PHARMACIST_ROLES and not row.technicians_perform_poct:
        raise Forbidden(
            "Here only a pharmacist performs point-of-care tests (the state does not let "
            "technicians perform them, or the PIC has not allowed it).",
            capability=str(Cap.CARE_POCT),
        )
    spec = _text(specimen, field="specimen", limit=40) or test.specimens[0]
    match = next((s for s in test.specimens if s.lower() == spec.lower()), None)
    if match is None:
        raise Invalid(f"A {test.name} takes: {', '.join(test.specimens)}.", field="specimen")
    if collected_at is None:
        raise Invalid("Give when the specimen was collected.", field="collected_at")
    collected = _aware(collected_at, field="collected_at")
    if collected > now + FUTURE_SLACK:
        raise Invalid(
            f"{_local(site, collected)} has not come yet: record the test when it is read.",
            field="collected_at",
        )
    if collected < now - BACKDATE_LIMIT:
        raise Invalid(
            "That is more than 7 days ago: a late result goes on the paper log and to the PIC.",
            field="collected_at",
        )
    lot = _text(kit_lot, field="kit_lot", limit=LOT_MAX, required=True, what="the kit's lot")
    if not isinstance(kit_expiry, dt.date) or isinstance(kit_expiry, dt.datetime):
        raise Invalid("Give the kit's expiry date.", field="kit_expiry")
    collected_day = collected.astimezone(site.tz).date()
    if kit_expiry < collected_day:
        raise Invalid(
            f"That kit expired on {kit_expiry:%m/%d/%Y}: an expired kit's result is not "
            "valid. Use an in-date kit and test again.",
            field="kit_expiry",
        )
    kit = _text(kit_name, field="kit_name", limit=KIT_MAX)
    number: Decimal | None = None
    try:
        if result not in test.results:
            raise poct_tests.ResultError(
                f"A {test.name} result is one of: {', '.join(test.results)}.", field="result"
            )
        if value is not None and str(value).strip() != "":
            if not test.numeric:
                raise poct_tests.ResultError(f"A {test.name} result has no value.", field="value")
            number = poct_tests.parse_value(test, value)
        interpretation, needs_follow_up, why = poct_tests.interpret(test, result, number)
    except poct_tests.ResultError as exc:
        raise Invalid(exc.message, field=exc.field) from None
    follow = _text(follow_up, field="follow_up", limit=FOLLOW_UP_MAX)
    if needs_follow_up and not follow:
        raise Invalid(f"{why} Write the follow-up given.", field="follow_up")
    refer_to = _text(referral_to, field="referral_to", limit=REFER_TO_MAX)
    refer_why = _text(referral_reason, field="referral_reason", limit=REASON_MAX)
    must_refer = poct_tests.needs_referral(test, result, interpretation)
    if must_refer and not referred:
        raise Invalid(f"{why} This result is referred: say to whom and why.", field="referred")
    if referred or refer_to or refer_why:
        if not refer_to:
            raise Invalid("Say to whom the patient is referred.", field="referral_to")
        if not refer_why:
            raise Invalid("Say why the patient is referred.", field="referral_reason")
    with transaction.atomic():
        poc = PocTestResult.objects.create(
            site=site,
            patient=patient,
            test_code=test.code,
            test_name=test.name,
            loinc=test.loinc,
            kit_name=kit,
            kit_lot=lot,
            kit_expiry=kit_expiry,
            specimen=match,
            collected_at=collected,
            performed_by=actor,
            result=result,
            value=number,
            unit=test.unit if test.numeric else "",
            reference_range=test.reference_range,
            interpretation=interpretation,
            follow_up=follow,
            referred=bool(referred or refer_to),
            referral_to=refer_to,
            referral_reason=refer_why,
            recorded_at=now,
        )
        audit_record(
            actor=actor,
            action="care.poct.recorded",
            obj=poc,
            patient_id=patient.pk,
            data={
                "test_code": test.code,
                "loinc": test.loinc,
                "result": result,
                "value": str(number) if number is not None else None,
                "interpretation": interpretation,
                "referred": poc.referred,
            },
        )
    return poc


def poct_result_communicated(
    *, actor: User | None, result: PocTestResult, at: dt.datetime | None = None
) -> PocTestResult:
    """Record when the result was given to the patient (once)."""
    authorize(actor, Cap.CARE_POCT)
    actor = _signed_in(actor)
    site = actor.site
    now = timezone.now()
    when = now if at is None else _aware(at, field="at")
    if when > now + FUTURE_SLACK:
        raise Invalid("That time has not come yet.", field="at")
    with transaction.atomic():
        row = _result_of(site, result)
        if row.status == PocStatus.ENTERED_IN_ERROR:
            raise Conflict("That result was entered in error: it is not given out.")
        if row.communicated_at is not None:
            raise Conflict(
                f"The result was given to the patient at {_local(site, row.communicated_at)}."
            )
        if when < row.collected_at:
            raise Invalid("A result is given after the specimen was collected.", field="at")
        row.communicated_at = when
        row.save(update_fields=["communicated_at"])
        audit_record(
            actor=actor,
            action="care.poct.communicated",
            obj=row,
            patient_id=row.patient_id,
            data={"communicated_at": when.isoformat()},
        )
    return row


def poct_review(*, actor: User | None, result: PocTestResult, note: str = "") -> PocTestResult:
    """The pharmacist reviews a result (its interpretation, follow-up and referral)."""
    authorize(actor, Cap.CARE_INTERVENE)
    actor = _signed_in(actor)
    text = _text(note, field="note", limit=NOTE_MAX)
    with transaction.atomic():
        row = _result_of(actor.site, result)
        if row.status == PocStatus.ENTERED_IN_ERROR:
            raise Conflict("That result was entered in error: there is nothing to review.")
        if row.status == PocStatus.REVIEWED:
            raise Conflict("That result is already reviewed.")
        row.status = PocStatus.REVIEWED
        row.status_reason = text
        row.reviewed_by = actor
        row.reviewed_at = timezone.now()
        row.save(update_fields=["status", "status_reason", "reviewed_by", "reviewed_at"])
        audit_record(
            actor=actor,
            action="care.poct.reviewed",
            obj=row,
            patient_id=row.patient_id,
            data={"status": row.status, "with_note": bool(text)},
        )
    return row


def poct_mark_entered_in_error(
    *, actor: User | None, result: PocTestResult, reason: str
) -> PocTestResult:
    """A pharmacist marks a result entered in error (wrong patient, wrong test): the row
    stays, struck through, with the reason."""
    authorize(actor, Cap.CARE_INTERVENE)
    actor = _signed_in(actor)
    why = _text(reason, field="reason", limit=REASON_MAX, required=True, what="the reason")
    with transaction.atomic():
        row = _result_of(actor.site, result)
        if row.status == PocStatus.ENTERED_IN_ERROR:
            raise Conflict("That result is already marked entered in error.")
        before = row.status
        row.status = PocStatus.ENTERED_IN_ERROR
        row.status_reason = why
        if row.reviewed_by_id is None:
            row.reviewed_by = actor
            row.reviewed_at = timezone.now()
        row.save(update_fields=["status", "status_reason", "reviewed_by", "reviewed_at"])
        audit_record(
            actor=actor,
            action="care.poct.entered_in_error",
            obj=row,
            patient_id=row.patient_id,
            data={"status": [before, row.status]},
        )
    return row


def poct_viewed(*, actor: User | None, result: PocTestResult, output: str = "screen") -> None:
    """Record that a result was opened or printed (HIPAA access accounting)."""
    authorize(actor, Cap.CARE_VIEW)
    authorize(actor, Cap.PATIENT_VIEW)
    actor = _signed_in(actor)
    if result is None or result.site_id != actor.site_id:
        raise NotFound("No such test result at this pharmacy.", field="result")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="care.poct.viewed",
            obj=result,
            patient_id=result.patient_id,
            data={"output": output},
        )


def may_perform(actor: User, site: Site) -> bool:
    """Whether ``actor`` may record a test here now (for screens: what to offer)."""
    if not has(actor, Cap.CARE_POCT):
        return False
    row = settings_of(site)
    if clia_problem(row, site.today()):
        return False
    return actor.role in PHARMACIST_ROLES or row.technicians_perform_poct
