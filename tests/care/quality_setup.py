"""Set-up of the safety and quality tests: events, errors, MedWatch drafts, analyses and
action items made through the services (so that each carries its audit event)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from rxdesk.care import services_quality as services
from rxdesk.care.models import (
    ActionItem,
    AdverseEventReport,
    MedicationError,
    RootCauseAnalysis,
    SafetyEvent,
)
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient
from tests.care.factories import staff
from tests.factories import PatientFactory


def reporter(site: Site) -> User:
    return staff(site, Role.TECHNICIAN, username=f"qi-tech-{site.pk}")


def rph(site: Site) -> User:
    return staff(site, Role.PHARMACIST, username=f"qi-rph-{site.pk}")


def patient(site: Site, **over: Any) -> Patient:
    over.setdefault("first_name", "Maria")
    over.setdefault("last_name", "Lopez")
    over.setdefault("date_of_birth", dt.date(1950, 3, 4))
    return PatientFactory(site=site, **over)


def ago(**delta: Any) -> dt.datetime:
    return timezone.now() - dt.timedelta(**delta)


def near_miss(site: Site, **over: Any) -> SafetyEvent:
    values: dict[str, Any] = {
        "kind": "near_miss",
        "title": "Look-alike bottles side by side",
        "occurred_at": ago(hours=2),
        "description": "Hydroxyzine picked for hydralazine; caught at the count.",
        "step": "fill",
        "error_type": "wrong_drug",
        "category": "B",
    }
    values.update(over)
    return services.safety_event_report(actor=reporter(site), **values)


def error(site: Site, category: str = "B", **over: Any) -> MedicationError:
    values: dict[str, Any] = {
        "step": "entry",
        "error_type": "wrong_strength",
        "category": category,
        "description": "Typed 50 mg for 25 mg.",
        "occurred_at": ago(hours=5),
        "discovered_at": ago(hours=4),
        "caught_at_step": "final_verification" if category in "AB" else "",
    }
    if category in "CDEFGHI":
        values.setdefault("patient", over.pop("patient", None) or patient(site))
    if category in "EFGHI":
        values.update(
            prescriber_notified=True,
            follow_up="Call the patient in 3 days about dizziness.",
            follow_up_due=site.today() + dt.timedelta(days=3),
        )
    values.update(over)
    return services.medication_error_report(actor=reporter(site), **values)


def with_follow_up(site: Site) -> MedicationError:
    return error(
        site,
        "D",
        follow_up="Check blood pressure at the next visit.",
        follow_up_due=site.today() + dt.timedelta(days=7),
    )


def ade_draft(site: Site, *, complete: bool = True, **over: Any) -> AdverseEventReport:
    values: dict[str, Any] = {
        "patient": over.pop("patient", None) or patient(site),
        "event_date": site.today() - dt.timedelta(days=2),
        "description": "Hives and itching on day 3 of amoxicillin.",
        "outcomes": ["intervention"] if complete else [],
        "products": [{"role": "suspect", "name": "Amoxicillin 500 mg capsule"}] if complete else [],
        "reporter_phone": "3125550142",
    }
    values.update(over)
    return services.ade_report_create(actor=reporter(site), **values)


def rca_of(site: Site, event: SafetyEvent | None = None) -> RootCauseAnalysis:
    return services.rca_start(
        actor=rph(site),
        event=event or near_miss(site),
        what_happened="Two look-alike bottles shelved side by side.",
        team="PIC, lead technician",
    )


def factor(rca: RootCauseAnalysis) -> Any:
    return services.rca_factor_add(
        actor=rph(rca.event.site),
        rca=rca,
        category="look_alike",
        description="Look-alike names shelved next to each other.",
    )


def action(rca: RootCauseAnalysis, owner: User | None = None, **over: Any) -> ActionItem:
    site = rca.event.site
    values: dict[str, Any] = {
        "description": "Separate the bottles; add shelf talkers.",
        "strength": "intermediate",
        "owner": owner or reporter(site),
        "due_on": site.today() + dt.timedelta(days=14),
    }
    values.update(over)
    return services.rca_action_add(actor=rph(site), rca=rca, **values)
