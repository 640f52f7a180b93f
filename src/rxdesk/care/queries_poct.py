"""Reads of point-of-care tests: the tests log, a result, a patient's results, what the
site permits. Every read is scoped to the actor's site; results name patients, so they
need care.view and patient.view (the caller records a PHI access for a single result:
services_poct.poct_viewed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Case, IntegerField, QuerySet, Value, When

from rxdesk.care import poct_tests
from rxdesk.care.choices import PocStatus
from rxdesk.care.common import settings_of
from rxdesk.care.models import CareSettings, PocTestResult
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.patients.models import Patient

LOG_LIMIT = 200


def _reader(actor: User) -> None:
    authorize(actor, Cap.CARE_VIEW)
    authorize(actor, Cap.PATIENT_VIEW)


def result_get(*, actor: User, result_id: int) -> PocTestResult:
    """One result of the actor's site, or NotFound (never another site's)."""
    _reader(actor)
    row = (
        PocTestResult.objects.select_related("patient", "performed_by", "reviewed_by")
        .filter(pk=result_id, site_id=actor.site_id)
        .first()
    )
    if row is None:
        raise NotFound("No such test result at this pharmacy.")
    return row


def results_log(
    *,
    actor: User,
    day: dt.date | None = None,
    patient: Patient | None = None,
    limit: int = LOG_LIMIT,
) -> QuerySet[PocTestResult]:
    """The tests log: one day's results (default: today at the pharmacy), or a patient's
    results. A pharmacist sees those waiting for review first."""
    _reader(actor)
    site = actor.site
    qs = PocTestResult.objects.select_related("patient", "performed_by").filter(site=site)
    if patient is not None:
        qs = qs.filter(patient=patient)
    if day is not None or patient is None:
        day = day or site.today()
        start = dt.datetime.combine(day, dt.time.min, tzinfo=site.tz)
        qs = qs.filter(collected_at__gte=start, collected_at__lt=start + dt.timedelta(days=1))
    if has(actor, Cap.CARE_INTERVENE):
        qs = qs.annotate(
            _todo=Case(
                When(status=PocStatus.RECORDED, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        ).order_by("_todo", "-collected_at", "-pk")
    else:
        qs = qs.order_by("-collected_at", "-pk")
    return qs[:limit]


def for_patient(patient: Patient) -> QuerySet[PocTestResult]:
    """A patient's results, newest first (for the patient's page)."""
    return PocTestResult.objects.filter(site_id=patient.site_id, patient=patient).order_by(
        "-collected_at", "-pk"
    )


def unreviewed_count(*, actor: User) -> int:
    """Results waiting for the pharmacist's review (the care home page's count)."""
    authorize(actor, Cap.CARE_VIEW)
    return PocTestResult.objects.filter(site_id=actor.site_id, status=PocStatus.RECORDED).count()


@dataclass(frozen=True)
class CatalogRow:
    test: poct_tests.PocTest
    permitted: bool


def catalog(*, actor: User) -> tuple[CareSettings, list[CatalogRow]]:
    """The catalog of waived tests with what this site permits."""
    authorize(actor, Cap.CARE_VIEW)
    row = settings_of(actor.site)
    allowed = set(row.poct_tests or []) if row.poct_enabled else set()
    return row, [CatalogRow(t, t.code in allowed) for t in poct_tests.CATALOG]


def care_settings(*, actor: User) -> CareSettings:
    authorize(actor, Cap.CARE_VIEW)
    return settings_of(actor.site)
