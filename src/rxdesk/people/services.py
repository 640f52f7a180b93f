"""Writes of people and training: the renewal rules, the skills catalog, training plans,
competency assessments, precepting and continuing education.

Each service runs in one transaction, checks the actor's capability first, enforces the
rules and writes exactly one audit event last. Assessments, precepting entries and CE rows
are never edited: a wrong CE row is marked entered in error with the reason (it may back a
license renewal an inspector asks about), and a wrong assessment is followed by a new one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.people import acpe, renewal
from rxdesk.people.choices import (
    AssessmentMethod,
    AssessmentResult,
    CeStatus,
    PlanStatus,
    SkillCategory,
)
from rxdesk.people.models import (
    CompetencyAssessment,
    ContinuingEducation,
    PeopleSettings,
    PreceptorshipEntry,
    Skill,
    TrainingPlan,
    TrainingPlanItem,
)
from rxdesk.people.queries import settings_of

register_actions(
    {
        "people.settings.updated": "Training and renewal settings changed",
        "people.skill.created": "Training skill added to the catalog",
        "people.skill.updated": "Training skill changed",
        "people.plan.created": "Training plan assigned",
        "people.competency.recorded": "Competency assessment recorded",
        "people.precepting.logged": "Precepting hours logged",
        "people.precepting.signed": "Precepting hours signed by the preceptor",
        "people.ce.recorded": "Continuing education recorded",
        "people.ce.entered_in_error": "Continuing education marked entered in error",
    }
)

TITLE_MAX, NAME_MAX, TEXT_MAX, REASON_MAX = 120, 120, 2000, 300
PROVIDER_MAX, CE_TITLE_MAX, CERT_MAX = 120, 200, 60
MAX_HOURS_CE = Decimal("100")
MAX_HOURS_DAY = Decimal("24")
# A paper precepting log or CE certificate caught up within two years is the furthest back
# a row may be dated: older records belong to a cycle already renewed.
BACKDATE_DAYS = 2 * 366
SETTINGS_FIELDS = [
    "alert_window_days",
    "tech_ce_hours",
    "tech_ce_law_hours",
    "tech_ce_safety_hours",
    "tech_cycle_months",
    "rph_ce_hours",
    "rph_ce_law_hours",
    "rph_ce_safety_hours",
    "rph_cycle_months",
]


# --- Helpers ----------------------------------------------------------------------------------


def _signed_in(actor: User | None) -> User:
    if actor is None:
        raise Forbidden("Sign in: a training record names who wrote it.")
    return actor


def _text(value: Any, *, field: str, limit: int, required: bool = False, what: str = "") -> str:
    text = str(value if value is not None else "").strip()
    if required and not text:
        raise Invalid(f"Enter {what or field.replace('_', ' ')}.", field=field)
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return text


def _hours(value: Any, *, field: str, low: Decimal, high: Decimal, exclusive_low: bool) -> Decimal:
    try:
        hours = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Invalid("Give the hours as a number, e.g. 1.5.", field=field) from None
    if not hours.is_finite() or hours != hours.quantize(Decimal("0.01")):
        raise Invalid("Give the hours to the hundredth at most, e.g. 1.25.", field=field)
    too_low = hours <= low if exclusive_low else hours < low
    if too_low or hours > high:
        more = "more than" if exclusive_low else "at least"
        raise Invalid(f"Hours must be {more} {low} and at most {high}.", field=field)
    return hours


def _day(value: Any, *, field: str, today: dt.date, past_only: bool = True) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise Invalid("Give the date.", field=field)
    if past_only and value > today:
        raise Invalid("The date cannot be in the future.", field=field)
    if (today - value).days > BACKDATE_DAYS:
        raise Invalid("That is more than two years ago: too late to record it.", field=field)
    return value


def _staff(actor: User, person: User | None, *, field: str) -> User:
    """A member of the actor's site (another pharmacy's staff do not exist here)."""
    if person is None or person.site_id != actor.site_id:
        raise NotFound("No such member of staff at this pharmacy.", field=field)
    if not person.is_active:
        raise Invalid(f"{person.display_name} no longer works here.", field=field)
    return person


def _skill(actor: User, skill: Skill | None, *, field: str = "skill") -> Skill:
    if skill is None or skill.site_id != actor.site_id:
        raise NotFound("No such skill at this pharmacy.", field=field)
    return skill


def _choice(value: Any, choices: Any, *, field: str, what: str) -> str:
    text = str(value or "")
    if text not in choices.values:
        raise Invalid(f"Choose {what}.", field=field)
    return text


# --- Settings ---------------------------------------------------------------------------------


def _settings_snapshot(row: PeopleSettings) -> dict[str, str]:
    out = {}
    for name in SETTINGS_FIELDS:
        value = getattr(row, name)
        out[name] = f"{Decimal(value):.2f}" if isinstance(value, Decimal) else str(value)
    return out


def people_settings_set(
    *,
    actor: User | None,
    alert_window_days: int,
    tech_ce_hours: Decimal,
    tech_ce_law_hours: Decimal,
    tech_ce_safety_hours: Decimal,
    tech_cycle_months: int,
    rph_ce_hours: Decimal,
    rph_ce_law_hours: Decimal,
    rph_ce_safety_hours: Decimal,
    rph_cycle_months: int,
) -> PeopleSettings:
    """Set the site's alert window and CE renewal rules (the PIC, for the state's rules)."""
    actor = _signed_in(actor)
    with transaction.atomic():
        authorize(actor, Cap.PEOPLE_SETUP)
        row = settings_of(actor.site)
        before = _settings_snapshot(row)
        if not 1 <= int(alert_window_days) <= 365:
            raise Invalid("Announce lapses 1 to 365 days ahead.", field="alert_window_days")
        for name, months in (
            ("tech_cycle_months", tech_cycle_months),
            ("rph_cycle_months", rph_cycle_months),
        ):
            if not 1 <= int(months) <= 60:
                raise Invalid("A renewal cycle lasts 1 to 60 months.", field=name)
        values: dict[str, Any] = {
            "alert_window_days": int(alert_window_days),
            "tech_cycle_months": int(tech_cycle_months),
            "rph_cycle_months": int(rph_cycle_months),
        }
        for name, value in (
            ("tech_ce_hours", tech_ce_hours),
            ("tech_ce_law_hours", tech_ce_law_hours),
            ("tech_ce_safety_hours", tech_ce_safety_hours),
            ("rph_ce_hours", rph_ce_hours),
            ("rph_ce_law_hours", rph_ce_law_hours),
            ("rph_ce_safety_hours", rph_ce_safety_hours),
        ):
            values[name] = _hours(
                value, field=name, low=Decimal(0), high=Decimal(200), exclusive_low=False
            )
        for prefix in ("tech", "rph"):
            parts = values[f"{prefix}_ce_law_hours"] + values[f"{prefix}_ce_safety_hours"]
            if parts > values[f"{prefix}_ce_hours"]:
                raise Invalid(
                    "Law and patient-safety hours are part of the total: the total must be at "
                    "least their sum.",
                    field=f"{prefix}_ce_hours",
                )
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_by = actor
        row.updated_at = timezone.now()
        row.save()
        after = _settings_snapshot(row)
        audit_record(
            actor=actor, action="people.settings.updated", obj=row, data=diff(before, after)
        )
    return row


# --- Skills -----------------------------------------------------------------------------------


def _months(value: Any) -> int:
    try:
        months = int(value)
    except (TypeError, ValueError):
        raise Invalid("Give the months as a whole number.", field="renew_months") from None
    if not 0 <= months <= 120:
        raise Invalid("Renew every 0 (never) to 120 months.", field="renew_months")
    return months


def skill_create(
    *, actor: User | None, code: str, name: str, category: str, renew_months: int
) -> Skill:
    """Add a skill to the site's catalog."""
    actor = _signed_in(actor)
    with transaction.atomic():
        authorize(actor, Cap.PEOPLE_SETUP)
        code = _text(code, field="code", limit=20, required=True, what="a short code").lower()
        if not all(ch.isalnum() or ch in "-_" for ch in code):
            raise Invalid("Use letters, digits, - and _ in the code.", field="code")
        row = Skill(
            site=actor.site,
            code=code,
            name=_text(name, field="name", limit=NAME_MAX, required=True, what="the skill's name"),
            category=_choice(category, SkillCategory, field="category", what="the category"),
            renew_months=_months(renew_months),
        )
        if Skill.objects.filter(site=actor.site, code=code).exists():
            raise Conflict(f"The code {code} is already a skill here.", field="code")
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            raise Conflict(f"The code {code} is already a skill here.", field="code") from None
        audit_record(
            actor=actor,
            action="people.skill.created",
            obj=row,
            data={
                "code": code,
                "name": row.name,
                "category": row.category,
                "renew_months": row.renew_months,
            },
        )
    return row


def skill_update(
    *,
    actor: User | None,
    skill: Skill,
    name: str | None = None,
    category: str | None = None,
    renew_months: int | None = None,
    active: bool | None = None,
) -> Skill:
    """Rename, recategorize, change how often a skill is renewed, or retire it. A changed
    interval applies to assessments recorded from now on (their due dates are on record)."""
    actor = _signed_in(actor)
    with transaction.atomic():
        authorize(actor, Cap.PEOPLE_SETUP)
        row = _skill(actor, skill)
        fields = ["name", "category", "renew_months", "active"]
        before = {f: getattr(row, f) for f in fields}
        if name is not None:
            row.name = _text(
                name, field="name", limit=NAME_MAX, required=True, what="the skill's name"
            )
        if category is not None:
            row.category = _choice(category, SkillCategory, field="category", what="the category")
        if renew_months is not None:
            row.renew_months = _months(renew_months)
        if active is not None:
            row.active = bool(active)
        changes = diff(before, {f: getattr(row, f) for f in fields})
        if not changes:
            raise Invalid("Nothing changed.", field="name")
        row.save(update_fields=list(changes))
        audit_record(actor=actor, action="people.skill.updated", obj=row, data=changes)
    return row


# --- Training plans ---------------------------------------------------------------------------


def training_plan_create(
    *,
    actor: User | None,
    trainee: User,
    title: str,
    started_on: dt.date,
    due_on: dt.date,
    skills: Sequence[Skill],
) -> TrainingPlan:
    """Assign a trainee a plan: the skills to be assessed on by ``due_on``."""
    actor = _signed_in(actor)
    with transaction.atomic():
        authorize(actor, Cap.PEOPLE_TRAIN)
        trainee = _staff(actor, trainee, field="trainee")
        today = actor.site.today()
        title = _text(title, field="title", limit=TITLE_MAX, required=True, what="the plan's title")
        if not isinstance(started_on, dt.date) or not isinstance(due_on, dt.date):
            raise Invalid("Give the start and due dates.", field="due_on")
        if (today - started_on).days > BACKDATE_DAYS:
            raise Invalid("That is more than two years ago.", field="started_on")
        if due_on < started_on:
            raise Invalid("The plan is due on or after the day it starts.", field="due_on")
        chosen = [_skill(actor, s, field="skills") for s in skills]
        if not chosen:
            raise Invalid("Choose at least one skill.", field="skills")
        if len({s.pk for s in chosen}) != len(chosen):
            raise Invalid("A skill is listed twice.", field="skills")
        retired = [s.name for s in chosen if not s.active]
        if retired:
            raise Invalid(f"{', '.join(retired)} is retired from the catalog.", field="skills")
        plan = TrainingPlan.objects.create(
            site=actor.site,
            trainee=trainee,
            title=title,
            started_on=started_on,
            due_on=due_on,
            created_by=actor,
        )
        TrainingPlanItem.objects.bulk_create(
            [TrainingPlanItem(site=actor.site, plan=plan, skill=s, due_on=due_on) for s in chosen]
        )
        audit_record(
            actor=actor,
            action="people.plan.created",
            obj=plan,
            data={
                "trainee": trainee.username,
                "title": title,
                "started_on": started_on.isoformat(),
                "due_on": due_on.isoformat(),
                "skills": [s.code for s in chosen],
            },
        )
    return plan


# --- Competency -------------------------------------------------------------------------------


def competency_record(
    *,
    actor: User | None,
    person: User,
    skill: Skill,
    assessed_on: dt.date,
    method: str,
    result: str,
    score: Decimal | None = None,
    notes: str = "",
) -> CompetencyAssessment:
    """Record an assessment, the actor being the assessor. A pass is current until the
    skill's interval has run (``next_due``) and completes the person's open plan items for
    the skill; a fail or "needs retraining" leaves the skill not current."""
    actor = _signed_in(actor)
    with transaction.atomic():
        authorize(actor, Cap.PEOPLE_TRAIN)
        person = _staff(actor, person, field="person")
        if person.pk == actor.pk:
            raise Invalid(
                "An assessor may not assess themself: ask another pharmacist.", field="person"
            )
        skill = _skill(actor, skill)
        if not skill.active:
            raise Invalid(f"{skill.name} is retired from the catalog.", field="skill")
        assessed_on = _day(assessed_on, field="assessed_on", today=actor.site.today())
        method = _choice(method, AssessmentMethod, field="method", what="how it was assessed")
        result = _choice(result, AssessmentResult, field="result", what="the result")
        if score is not None:
            try:
                score = Decimal(str(score))
            except (InvalidOperation, ValueError):
                raise Invalid("Give the score as a number from 0 to 100.", field="score") from None
            if (
                not score.is_finite()
                or not 0 <= score <= 100
                or score != score.quantize(Decimal("0.01"))
            ):
                raise Invalid("Give the score as a number from 0 to 100.", field="score")
        passed = result == AssessmentResult.PASS
        row = CompetencyAssessment.objects.create(
            site=actor.site,
            person=person,
            skill=skill,
            assessor=actor,
            assessor_name=actor.display_name[:150],
            assessed_on=assessed_on,
            method=method,
            result=result,
            score=score,
            next_due=renewal.next_due(assessed_on, skill.renew_months, passed=passed),
            notes=_text(notes, field="notes", limit=TEXT_MAX),
        )
        completed: list[int] = []
        if passed:
            items = TrainingPlanItem.objects.filter(
                site=actor.site,
                plan__trainee=person,
                plan__status=PlanStatus.OPEN,
                plan__started_on__lte=assessed_on,
                skill=skill,
                completed_by__isnull=True,
            )
            plan_ids = set(items.values_list("plan_id", flat=True))
            items.update(completed_by=row)
            for plan_id in sorted(plan_ids):
                if not TrainingPlanItem.objects.filter(
                    plan_id=plan_id, completed_by__isnull=True
                ).exists():
                    TrainingPlan.objects.filter(pk=plan_id).update(
                        status=PlanStatus.COMPLETED, completed_on=assessed_on
                    )
                    completed.append(plan_id)
        audit_record(
            actor=actor,
            action="people.competency.recorded",
            obj=row,
            data={
                "person": person.username,
                "skill": skill.code,
                "assessed_on": assessed_on.isoformat(),
                "method": method,
                "result": result,
                "score": str(score) if score is not None else None,
                "next_due": row.next_due.isoformat() if row.next_due else None,
                "plans_completed": completed,
            },
        )
    return row


# --- Precepting -------------------------------------------------------------------------------


def preceptorship_log(
    *,
    actor: User | None,
    trainee: User,
    preceptor: User,
    on: dt.date,
    hours: Decimal,
    activities: str,
) -> PreceptorshipEntry:
    """Log hours a trainee spent under a preceptor (the trainee or the preceptor logs them;
    only the preceptor signs them, see :func:`preceptorship_sign`)."""
    actor = _signed_in(actor)
    with transaction.atomic():
        authorize(actor, Cap.PEOPLE_CE)
        trainee = _staff(actor, trainee, field="trainee")
        preceptor = _staff(actor, preceptor, field="preceptor")
        if actor.pk not in (trainee.pk, preceptor.pk):
            raise Forbidden("Only the trainee or the preceptor logs precepting hours.")
        if trainee.pk == preceptor.pk:
            raise Invalid("A trainee cannot precept themself.", field="preceptor")
        if not has(preceptor, Cap.PEOPLE_TRAIN):
            raise Invalid(
                f"{preceptor.display_name} is not a preceptor (a pharmacist precepts).",
                field="preceptor",
            )
        row = PreceptorshipEntry.objects.create(
            site=actor.site,
            trainee=trainee,
            preceptor=preceptor,
            on=_day(on, field="on", today=actor.site.today()),
            hours=_hours(
                hours, field="hours", low=Decimal(0), high=MAX_HOURS_DAY, exclusive_low=True
            ),
            activities=_text(
                activities, field="activities", limit=TEXT_MAX, required=True, what="what was done"
            ),
            logged_by=actor,
        )
        audit_record(
            actor=actor,
            action="people.precepting.logged",
            obj=row,
            data={
                "trainee": trainee.username,
                "preceptor": preceptor.username,
                "on": row.on.isoformat(),
                "hours": str(row.hours),
            },
        )
    return row


def preceptorship_sign(*, actor: User | None, entry: PreceptorshipEntry) -> PreceptorshipEntry:
    """The preceptor signs a day's precepting hours (once; the trainee cannot)."""
    actor = _signed_in(actor)
    with transaction.atomic():
        authorize(actor, Cap.PEOPLE_TRAIN)
        row = (
            PreceptorshipEntry.objects.select_for_update()
            .filter(pk=getattr(entry, "pk", 0) or 0, site=actor.site)
            .first()
        )
        if row is None:
            raise NotFound("No such precepting entry at this pharmacy.", field="entry")
        if row.preceptor_id != actor.pk:
            raise Forbidden("Only the preceptor named on the entry signs it.")
        now = timezone.now()
        if (
            PreceptorshipEntry.objects.filter(pk=row.pk, signed_at__isnull=True).update(
                signed_at=now
            )
            != 1
        ):
            raise Conflict("These hours are already signed.", field="entry")
        row.signed_at = now
        audit_record(
            actor=actor,
            action="people.precepting.signed",
            obj=row,
            data={"trainee_id": row.trainee_id, "on": row.on.isoformat(), "hours": str(row.hours)},
        )
    return row


# --- Continuing education ---------------------------------------------------------------------


def ce_record(
    *,
    actor: User | None,
    provider: str,
    title: str,
    completed_on: dt.date,
    hours: Decimal,
    uan: str = "",
    topic: str = "",
    certificate_number: str = "",
) -> ContinuingEducation:
    """Record a CE activity the actor completed (one's own record only). With an ACPE UAN
    the topic comes from the UAN; without one (a college course, a non-ACPE provider) the
    topic is chosen, general pharmacy by default."""
    actor = _signed_in(actor)
    with transaction.atomic():
        authorize(actor, Cap.PEOPLE_CE)
        uan_text = acpe.normalize(uan)
        if uan_text:
            parsed = acpe.parse(uan_text)
            if parsed is None:
                raise Invalid(
                    "An ACPE UAN reads like 0197-0000-23-104-H05-T (provider, joint provider, "
                    "year, number, format and topic, P or T).",
                    field="uan",
                )
            if topic and topic != parsed.topic:
                raise Invalid(f"The UAN says topic {parsed.topic}, not {topic}.", field="topic")
            topic = parsed.topic
        else:
            topic = str(topic or acpe.GENERAL)
            if topic not in acpe.TOPICS:
                raise Invalid("Choose the topic.", field="topic")
        row = ContinuingEducation(
            site=actor.site,
            person=actor,
            provider=_text(
                provider, field="provider", limit=PROVIDER_MAX, required=True, what="the provider"
            ),
            title=_text(
                title, field="title", limit=CE_TITLE_MAX, required=True, what="the activity's title"
            ),
            uan=uan_text,
            topic=topic,
            completed_on=_day(completed_on, field="completed_on", today=actor.site.today()),
            hours=_hours(
                hours, field="hours", low=Decimal(0), high=MAX_HOURS_CE, exclusive_low=True
            ),
            certificate_number=_text(
                certificate_number, field="certificate_number", limit=CERT_MAX
            ),
        )
        if (
            uan_text
            and ContinuingEducation.objects.filter(
                person=actor, uan=uan_text, status=CeStatus.ACTIVE
            ).exists()
        ):
            raise Conflict(
                f"You already recorded {uan_text}: an activity counts once.", field="uan"
            )
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            raise Conflict(
                f"You already recorded {uan_text}: an activity counts once.", field="uan"
            ) from None
        audit_record(
            actor=actor,
            action="people.ce.recorded",
            obj=row,
            data={
                "uan": uan_text,
                "topic": topic,
                "completed_on": row.completed_on.isoformat(),
                "hours": str(row.hours),
            },
        )
    return row


def ce_delete(
    *, actor: User | None, entry: ContinuingEducation, reason: str
) -> ContinuingEducation:
    """Take a CE row off the count: it stays on file marked entered in error with the reason
    (never deleted: it may already back a renewal). The person's own row; the PIC may mark
    anyone's (a certificate found not to exist)."""
    actor = _signed_in(actor)
    with transaction.atomic():
        authorize(actor, Cap.PEOPLE_CE)
        row = (
            ContinuingEducation.objects.select_for_update()
            .filter(pk=getattr(entry, "pk", 0) or 0, site=actor.site)
            .first()
        )
        if row is None:
            raise NotFound("No such continuing-education record at this pharmacy.", field="entry")
        if row.person_id != actor.pk and not has(actor, Cap.PEOPLE_SETUP):
            raise Forbidden("Only the person it belongs to (or the PIC) corrects a CE record.")
        reason = _text(
            reason, field="reason", limit=REASON_MAX, required=True, what="why it is wrong"
        )
        done = ContinuingEducation.objects.filter(pk=row.pk, status=CeStatus.ACTIVE).update(
            status=CeStatus.ENTERED_IN_ERROR, error_reason=reason
        )
        if done != 1:
            raise Conflict("This record is already marked entered in error.", field="entry")
        row.status, row.error_reason = CeStatus.ENTERED_IN_ERROR, reason
        audit_record(
            actor=actor,
            action="people.ce.entered_in_error",
            obj=row,
            data={"person_id": row.person_id, "uan": row.uan, "hours": str(row.hours)},
            reason=reason,
        )
    return row
