"""Reads of people and training: the settings, a person's record (credentials, training,
competency, precepting, CE toward renewal), the training matrix of staff × skills, and the
lapse alerts — registrations, certifications, licenses, competencies (ours and the
compounding evaluations of rxdesk.compounding, read where they are kept) and CE hours
short near a cycle's end — lapsed first, then soonest."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, QuerySet

from rxdesk.compounding import competency as compounding_rules
from rxdesk.compounding.models import CompetencyResult
from rxdesk.compounding.queries_competency import DEFAULT_CATEGORY
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.choices import PHARMACIST_ROLES, TECHNICIAN_ROLES, Certification, Role
from rxdesk.core.errors import Forbidden, NotFound
from rxdesk.core.models import Site, User
from rxdesk.people import acpe, renewal
from rxdesk.people.choices import AssessmentResult, CeStatus
from rxdesk.people.models import (
    CompetencyAssessment,
    ContinuingEducation,
    PeopleSettings,
    PreceptorshipEntry,
    Skill,
    TrainingPlan,
    TrainingPlanItem,
)

MAX_ID = 2**63 - 1
LIST_LIMIT = 500
# Everyone who works in the pharmacy (the administrator runs accounts, not the pharmacy).
STAFF_ROLES = tuple(r for r in Role if r != Role.ADMIN)


def settings_of(site: Site) -> PeopleSettings:
    """The site's settings row, or the defaults (unsaved) when the PIC never set them."""
    return PeopleSettings.objects.filter(site=site).first() or PeopleSettings(site=site)


def staff_of(site: Site) -> list[User]:
    return list(
        User.objects.filter(site=site, is_active=True, role__in=STAFF_ROLES).order_by(
            "last_name", "first_name", "username"
        )
    )


def _works_here(actor: User) -> None:
    if not (has(actor, Cap.PEOPLE_VIEW) or has(actor, Cap.PEOPLE_CE)):
        raise Forbidden(
            "Your role does not include people and training.", capability=str(Cap.PEOPLE_VIEW)
        )


def staff_get(*, actor: User, user_id: int) -> User:
    """A member of the actor's site by id (for a service to check), or NotFound."""
    found = (
        User.objects.filter(pk=user_id, site_id=actor.site_id).first()
        if 1 <= user_id <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound("No such member of staff at this pharmacy.")
    return found


def person_get(*, actor: User, user_id: int) -> User:
    """A member of the actor's site whose record the actor may read: their own, or anyone's
    with people.view. Another pharmacy's staff do not exist here."""
    _works_here(actor)
    found = None
    if 1 <= user_id <= MAX_ID:
        found = User.objects.filter(pk=user_id, site_id=actor.site_id).first()
    if found is None:
        raise NotFound("No such member of staff at this pharmacy.")
    if found.pk != actor.pk:
        require(actor, Cap.PEOPLE_VIEW)
    return found


# --- Renewal ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    kind: str  # registration, certification, license
    label: str
    number: str
    expires: dt.date | None
    state: str  # current, due soon, lapsed, missing

    def days_left(self, today: dt.date) -> int | None:
        return (self.expires - today).days if self.expires else None


def _state(expires: dt.date | None, today: dt.date, window: int) -> str:
    if expires is None:
        return "missing"
    if expires < today:
        return "lapsed"
    if (expires - today).days <= window:
        return "due soon"
    return "current"


def credentials_of(person: User, *, today: dt.date, window: int) -> list[Credential]:
    """The person's registration, certification and license on file (those their role needs
    even when missing; the others when on file)."""
    out: list[Credential] = []
    if person.role in TECHNICIAN_ROLES or person.technician_registration_expires:
        out.append(
            Credential(
                "registration",
                "Technician registration",
                person.technician_registration,
                person.technician_registration_expires,
                _state(person.technician_registration_expires, today, window),
            )
        )
    if person.certification or person.certification_expires:
        label = (
            Certification(person.certification).label
            if person.certification in Certification.values
            else "Certification"
        )
        out.append(
            Credential(
                "certification",
                label,
                person.certification_number,
                person.certification_expires,
                _state(person.certification_expires, today, window),
            )
        )
    if person.role in PHARMACIST_ROLES or person.pharmacist_license_expires:
        out.append(
            Credential(
                "license",
                "Pharmacist license",
                person.pharmacist_license,
                person.pharmacist_license_expires,
                _state(person.pharmacist_license_expires, today, window),
            )
        )
    return out


def rule_for(person: User, row: PeopleSettings) -> tuple[str, renewal.Rule, dt.date] | None:
    """Which CE rule applies to the person and the day its cycle ends: a pharmacist's
    license, or a technician's PTCB certification. None: no CE cycle on file."""
    if person.role in PHARMACIST_ROLES and person.pharmacist_license_expires:
        rule = renewal.Rule(
            row.rph_ce_hours, row.rph_ce_law_hours, row.rph_ce_safety_hours, row.rph_cycle_months
        )
        return "Pharmacist license renewal", rule, person.pharmacist_license_expires
    if person.certification == Certification.PTCB and person.certification_expires:
        rule = renewal.Rule(
            row.tech_ce_hours,
            row.tech_ce_law_hours,
            row.tech_ce_safety_hours,
            row.tech_cycle_months,
        )
        return "PTCB CPhT recertification", rule, person.certification_expires
    return None


def credits_of(rows: Iterable[ContinuingEducation]) -> list[renewal.Credit]:
    return [
        renewal.Credit(r.completed_on, r.hours, r.topic)
        for r in rows
        if r.status == CeStatus.ACTIVE
    ]


@dataclass(frozen=True)
class CeStanding:
    label: str
    rule: renewal.Rule
    progress: renewal.Progress


def ce_standing(
    person: User, rows: Iterable[ContinuingEducation], settings: PeopleSettings
) -> CeStanding | None:
    found = rule_for(person, settings)
    if found is None:
        return None
    label, rule, ends_on = found
    return CeStanding(label, rule, renewal.progress(credits_of(rows), rule, ends_on=ends_on))


# --- Competency -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkillStanding:
    skill: Skill
    state: str
    due_on: dt.date | None  # the last pass's next due (or the plan item's due date)
    last: CompetencyAssessment | None

    @property
    def ok(self) -> bool:
        return self.state in (renewal.CURRENT, renewal.DUE_SOON)


def standing_of(
    skill: Skill,
    assessments: list[CompetencyAssessment],
    *,
    today: dt.date,
    window: int,
    plan_due: dt.date | None = None,
) -> SkillStanding:
    """Where a person stands on ``skill`` from their assessments of it (any order)."""
    rows = sorted(
        (a for a in assessments if a.assessed_on <= today), key=lambda a: (a.assessed_on, a.pk)
    )
    passes = [a for a in rows if a.result == AssessmentResult.PASS]
    last_pass = passes[-1] if passes else None
    failed_since = bool(rows) and rows[-1].result != AssessmentResult.PASS
    state = renewal.competency_state(
        passed_due=last_pass.next_due if last_pass else None,
        has_pass=last_pass is not None,
        failed_since=failed_since,
        today=today,
        window=window,
    )
    due = last_pass.next_due if last_pass else plan_due
    return SkillStanding(skill, state, due, rows[-1] if rows else None)


# --- A person's record ------------------------------------------------------------------------


@dataclass
class PersonRecord:
    person: User
    today: dt.date
    window: int
    credentials: list[Credential]
    plans: list[TrainingPlan]
    standings: list[SkillStanding]
    assessments: list[CompetencyAssessment]
    precepting: list[PreceptorshipEntry]
    precepting_hours: Decimal
    precepting_signed_hours: Decimal
    ce: list[ContinuingEducation]
    ce_standing: CeStanding | None
    compounding: list[compounding_rules.Standing] = field(default_factory=list)


def _compounding_standings(
    results: list[CompetencyResult], today: dt.date
) -> list[compounding_rules.Standing]:
    held = [
        compounding_rules.Result(
            kind=r.kind, performed_on=r.performed_on, passed=r.passed, initial=r.initial
        )
        for r in results
    ]
    kinds = sorted({r.kind for r in results}, key=compounding_rules.KINDS.index)
    return [
        compounding_rules.standing(
            held,
            compounding_rules.Requirement(
                kind, compounding_rules.months_for(kind, DEFAULT_CATEGORY)
            ),
            today=today,
        )
        for kind in kinds
    ]


def person_record(*, actor: User, person: User, today: dt.date | None = None) -> PersonRecord:
    """Everything on file about a person's training and credentials."""
    _works_here(actor)
    if person.site_id != actor.site_id:
        raise NotFound("No such member of staff at this pharmacy.")
    if person.pk != actor.pk:
        require(actor, Cap.PEOPLE_VIEW)
    site = actor.site
    day = today or site.today()
    row = settings_of(site)
    window = row.alert_window_days
    plans = list(
        TrainingPlan.objects.filter(site=site, trainee=person)
        .prefetch_related("items__skill", "items__completed_by")
        .order_by("-started_on", "-pk")
    )
    assessments = list(
        CompetencyAssessment.objects.filter(site=site, person=person)
        .select_related("skill")
        .order_by("-assessed_on", "-pk")
    )
    by_skill: dict[int, list[CompetencyAssessment]] = defaultdict(list)
    for a in assessments:
        by_skill[a.skill_id].append(a)
    plan_due: dict[int, dt.date] = {}
    skills: dict[int, Skill] = {}
    for plan in plans:
        for item in plan.items.all():
            skills[item.skill_id] = item.skill
            plan_due[item.skill_id] = min(item.due_on, plan_due.get(item.skill_id, item.due_on))
    for a in assessments:
        skills.setdefault(a.skill_id, a.skill)
    standings = [
        standing_of(s, by_skill[s.pk], today=day, window=window, plan_due=plan_due.get(s.pk))
        for s in sorted(skills.values(), key=lambda s: (s.category, s.name))
    ]
    precepting = list(
        PreceptorshipEntry.objects.filter(site=site)
        .filter(Q(trainee=person) | Q(preceptor=person))
        .select_related("trainee", "preceptor")
        .order_by("-on", "-pk")[:LIST_LIMIT]
    )
    as_trainee = [e for e in precepting if e.trainee_id == person.pk]
    ce = list(
        ContinuingEducation.objects.filter(site=site, person=person).order_by(
            "-completed_on", "-pk"
        )
    )
    results = list(
        CompetencyResult.objects.filter(site=site, person=person).order_by("performed_on", "pk")
    )
    return PersonRecord(
        person=person,
        today=day,
        window=window,
        credentials=credentials_of(person, today=day, window=window),
        plans=plans,
        standings=standings,
        assessments=assessments,
        precepting=precepting,
        precepting_hours=sum((e.hours for e in as_trainee), Decimal(0)),
        precepting_signed_hours=sum((e.hours for e in as_trainee if e.signed_at), Decimal(0)),
        ce=ce,
        ce_standing=ce_standing(person, ce, row),
        compounding=_compounding_standings(results, day),
    )


def hours_words(value: Decimal) -> str:
    """Hours as a person writes them: 20, 18.75, 1.5 (no trailing zeros, no exponent)."""
    return f"{value.normalize():f}"


# --- Alerts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    person: User
    kind: str  # registration, certification, license, competency, compounding, ce
    what: str
    due_on: dt.date
    lapsed: bool
    detail: str = ""
    not_current: bool = False  # a failed assessment, not a date run out

    def days_left(self, today: dt.date) -> int:
        return (self.due_on - today).days

    def words(self, today: dt.date) -> str:
        days = self.days_left(today)
        if self.lapsed:
            when = (
                f"not current since {self.due_on:%m/%d/%Y}"
                if self.not_current or days >= 0
                else f"lapsed {self.due_on:%m/%d/%Y}"
            )
        elif days == 0:
            when = "due today"
        else:
            when = f"due {self.due_on:%m/%d/%Y} (in {days} day{'s' if days != 1 else ''})"
        extra = f" — {self.detail}" if self.detail else ""
        return f"{self.person.display_name}: {self.what} {when}{extra}"


def lapse_alerts(site: Site, today: dt.date) -> list[Alert]:
    """Every lapse coming within the site's alert window, and every lapse already past,
    for the site's active staff: lapsed first (oldest first), then soonest. Five queries.
    (No capability check: the caller — a screen, the API or the CLI — checks people.view.)"""
    row = settings_of(site)
    window = row.alert_window_days
    horizon = today + dt.timedelta(days=window)
    people = staff_of(site)
    ids = [p.pk for p in people]
    alerts: list[Alert] = []

    for p in people:
        for c in credentials_of(p, today=today, window=window):
            if c.expires is None:
                if c.kind in ("registration", "license"):
                    alerts.append(Alert(p, c.kind, f"{c.label} not on file", today, True))
                continue
            if c.expires <= horizon:
                alerts.append(
                    Alert(
                        p,
                        c.kind,
                        c.label + (f" {c.number}" if c.number else ""),
                        c.expires,
                        c.expires < today,
                    )
                )

    items = TrainingPlanItem.objects.filter(site=site, plan__trainee_id__in=ids).select_related(
        "skill", "plan"
    )
    planned: dict[int, dict[int, tuple[Skill, dt.date]]] = defaultdict(dict)
    for item in items:
        known = planned[item.plan.trainee_id].get(item.skill_id)
        due = item.due_on if known is None else min(known[1], item.due_on)
        planned[item.plan.trainee_id][item.skill_id] = (item.skill, due)
    assessed: dict[tuple[int, int], list[CompetencyAssessment]] = defaultdict(list)
    for a in CompetencyAssessment.objects.filter(site=site, person_id__in=ids):
        assessed[(a.person_id, a.skill_id)].append(a)
    by_id = {p.pk: p for p in people}
    for person_id, skills in planned.items():
        for skill_id, (skill, plan_due) in skills.items():
            if not skill.active:
                continue
            s = standing_of(
                skill,
                assessed[(person_id, skill_id)],
                today=today,
                window=window,
                plan_due=plan_due,
            )
            p = by_id[person_id]
            if s.state == renewal.NOT_CURRENT and s.last is not None:
                verdict = s.last.get_result_display().lower()
                alerts.append(
                    Alert(
                        p,
                        "competency",
                        skill.name,
                        s.last.assessed_on,
                        True,
                        f"last assessment: {verdict}",
                        not_current=True,
                    )
                )
            elif s.state == renewal.NEVER and plan_due is not None and plan_due <= horizon:
                alerts.append(
                    Alert(p, "competency", skill.name, plan_due, plan_due < today, "never assessed")
                )
            elif s.state in (renewal.LAPSED, renewal.DUE_SOON) and s.due_on is not None:
                alerts.append(
                    Alert(p, "competency", skill.name, s.due_on, s.state == renewal.LAPSED)
                )

    results: dict[int, list[CompetencyResult]] = defaultdict(list)
    for r in CompetencyResult.objects.filter(site=site, person_id__in=ids).order_by(
        "performed_on", "pk"
    ):
        results[r.person_id].append(r)
    for person_id, rows in results.items():
        for st in _compounding_standings(rows, today):
            if st.due_on is None:
                continue
            what = f"Compounding: {st.requirement.label}"
            if st.state == "failed":
                alerts.append(
                    Alert(
                        by_id[person_id],
                        "compounding",
                        what,
                        st.last.performed_on if st.last else st.due_on,
                        True,
                        "last evaluation failed",
                        not_current=True,
                    )
                )
            elif st.due_on <= horizon:
                alerts.append(
                    Alert(by_id[person_id], "compounding", what, st.due_on, st.due_on < today)
                )

    ce_rows: dict[int, list[ContinuingEducation]] = defaultdict(list)
    for ce in ContinuingEducation.objects.filter(
        site=site, person_id__in=ids, status=CeStatus.ACTIVE
    ):
        ce_rows[ce.person_id].append(ce)
    for p in people:
        standing = ce_standing(p, ce_rows[p.pk], row)
        if standing is None or standing.progress.met:
            continue
        pr = standing.progress
        if pr.cycle_end > horizon:
            continue
        parts = [f"{hours_words(pr.short_total)} h short of {hours_words(standing.rule.hours)}"]
        if pr.short_law:
            parts.append(f"{hours_words(pr.short_law)} h law")
        if pr.short_safety:
            parts.append(f"{hours_words(pr.short_safety)} h patient safety")
        alerts.append(
            Alert(
                p,
                "ce",
                f"CE for {standing.label}",
                pr.cycle_end,
                pr.cycle_end < today,
                ", ".join(parts),
            )
        )

    alerts.sort(key=lambda a: (not a.lapsed, a.due_on, a.person.last_name, a.person.pk, a.what))
    return alerts


# --- The training matrix ----------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixRow:
    person: User
    cells: list[SkillStanding | None]  # None: the skill is not the person's


@dataclass(frozen=True)
class Matrix:
    today: dt.date
    skills: list[Skill]
    rows: list[MatrixRow]


def training_matrix(*, actor: User, today: dt.date | None = None) -> Matrix:
    """The site's staff × active skills: for each skill in a person's plans or ever
    assessed, current / due soon / lapsed / not current / never assessed. Four queries."""
    require(actor, Cap.PEOPLE_VIEW)
    site = actor.site
    day = today or site.today()
    window = settings_of(site).alert_window_days
    skills = list(Skill.objects.filter(site=site, active=True).order_by("category", "name"))
    people = staff_of(site)
    ids = [p.pk for p in people]
    plan_due: dict[tuple[int, int], dt.date] = {}
    for item in TrainingPlanItem.objects.filter(site=site, plan__trainee_id__in=ids).select_related(
        "plan"
    ):
        key = (item.plan.trainee_id, item.skill_id)
        plan_due[key] = min(item.due_on, plan_due.get(key, item.due_on))
    assessed: dict[tuple[int, int], list[CompetencyAssessment]] = defaultdict(list)
    for a in CompetencyAssessment.objects.filter(site=site, person_id__in=ids):
        assessed[(a.person_id, a.skill_id)].append(a)
    rows = []
    for p in people:
        cells: list[SkillStanding | None] = []
        for s in skills:
            key = (p.pk, s.pk)
            if key not in plan_due and key not in assessed:
                cells.append(None)
            else:
                cells.append(
                    standing_of(
                        s, assessed[key], today=day, window=window, plan_due=plan_due.get(key)
                    )
                )
        rows.append(MatrixRow(p, cells))
    return Matrix(day, skills, rows)


# --- Lists ------------------------------------------------------------------------------------


def skills_list(*, actor: User, include_retired: bool = True) -> QuerySet[Skill]:
    _works_here(actor)
    rows = Skill.objects.filter(site_id=actor.site_id)
    if not include_retired:
        rows = rows.filter(active=True)
    return rows.order_by("category", "name")


def skill_get(*, actor: User, skill_id: int) -> Skill:
    _works_here(actor)
    found = (
        Skill.objects.filter(pk=skill_id, site_id=actor.site_id).first()
        if 1 <= skill_id <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound("No such skill at this pharmacy.")
    return found


def _scope(actor: User, person_id: int | None) -> int | None:
    """Whose rows the actor may list: anyone's (people.view), else only their own."""
    _works_here(actor)
    if has(actor, Cap.PEOPLE_VIEW):
        return person_id
    if person_id is not None and person_id != actor.pk:
        require(actor, Cap.PEOPLE_VIEW)
    return actor.pk


def plans_list(*, actor: User, person_id: int | None = None) -> list[TrainingPlan]:
    who = _scope(actor, person_id)
    rows = TrainingPlan.objects.filter(site_id=actor.site_id).select_related("trainee")
    if who is not None:
        rows = rows.filter(trainee_id=who)
    return list(rows.prefetch_related("items__skill").order_by("-started_on", "-pk")[:LIST_LIMIT])


def assessments_list(*, actor: User, person_id: int | None = None) -> list[CompetencyAssessment]:
    who = _scope(actor, person_id)
    rows = CompetencyAssessment.objects.filter(site_id=actor.site_id).select_related(
        "person", "skill"
    )
    if who is not None:
        rows = rows.filter(person_id=who)
    return list(rows.order_by("-assessed_on", "-pk")[:LIST_LIMIT])


def precepting_list(*, actor: User, person_id: int | None = None) -> list[PreceptorshipEntry]:
    who = _scope(actor, person_id)
    rows = PreceptorshipEntry.objects.filter(site_id=actor.site_id).select_related(
        "trainee", "preceptor"
    )
    if who is not None:
        rows = rows.filter(Q(trainee_id=who) | Q(preceptor_id=who))
    return list(rows.order_by("-on", "-pk")[:LIST_LIMIT])


def precepting_get(*, actor: User, entry_id: int) -> PreceptorshipEntry:
    _works_here(actor)
    found = (
        PreceptorshipEntry.objects.filter(pk=entry_id, site_id=actor.site_id).first()
        if 1 <= entry_id <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound("No such precepting entry at this pharmacy.")
    return found


def ce_list(*, actor: User, person_id: int | None = None) -> list[ContinuingEducation]:
    who = _scope(actor, person_id)
    rows = ContinuingEducation.objects.filter(site_id=actor.site_id).select_related("person")
    if who is not None:
        rows = rows.filter(person_id=who)
    return list(rows.order_by("-completed_on", "-pk")[:LIST_LIMIT])


def ce_get(*, actor: User, ce_id: int) -> ContinuingEducation:
    _works_here(actor)
    found = (
        ContinuingEducation.objects.filter(pk=ce_id, site_id=actor.site_id).first()
        if 1 <= ce_id <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound("No such continuing-education record at this pharmacy.")
    return found


def topic_label(topic: str) -> str:
    return acpe.topic_label(topic)
