"""People and training: skills and competency assessments, training plans, precepting,
continuing education, and the site's renewal rules. The staff and their registrations,
certifications and licenses are rxdesk.core's ``User`` rows; compounding competency
(USP <797>/<800>) stays in rxdesk.compounding and is read from there, never copied."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from rxdesk.core.models import Site
from rxdesk.people.choices import (
    AssessmentMethod,
    AssessmentResult,
    CeStatus,
    PlanStatus,
    SkillCategory,
)

USER = settings.AUTH_USER_MODEL


class PeopleSettings(models.Model):
    """A site's renewal rules and how early lapses are announced. Absent row = defaults.
    Technicians: PTCB CPhT recertification (20 hours in 2 years, 1 law, 1 patient safety).
    Pharmacists: the state board's hours per license period — the defaults are a common
    shape, not any one state's rule: the PIC sets the state's figures."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="people_settings")
    alert_window_days = models.PositiveSmallIntegerField(default=60)
    tech_ce_hours = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("20"))
    tech_ce_law_hours = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("1"))
    tech_ce_safety_hours = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("1"))
    tech_cycle_months = models.PositiveSmallIntegerField(default=24)
    rph_ce_hours = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("30"))
    rph_ce_law_hours = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("2"))
    rph_ce_safety_hours = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("1"))
    rph_cycle_months = models.PositiveSmallIntegerField(default=24)
    updated_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(alert_window_days__gte=1, alert_window_days__lte=365),
                name="ppl_settings_window",
            ),
            models.CheckConstraint(
                condition=Q(tech_cycle_months__gte=1, tech_cycle_months__lte=60)
                & Q(rph_cycle_months__gte=1, rph_cycle_months__lte=60),
                name="ppl_settings_cycle",
            ),
            models.CheckConstraint(
                condition=Q(tech_ce_hours__gte=0, tech_ce_law_hours__gte=0)
                & Q(tech_ce_safety_hours__gte=0, rph_ce_hours__gte=0)
                & Q(rph_ce_law_hours__gte=0, rph_ce_safety_hours__gte=0),
                name="ppl_settings_hours",
            ),
        ]

    def __str__(self) -> str:
        return f"People settings of {self.site}"


class Skill(models.Model):
    """A skill staff are trained and assessed on (sterile compounding, the robot, the CII
    vault, the register…), renewed every ``renew_months`` (0: assessed once)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=20, choices=SkillCategory.choices)
    renew_months = models.PositiveSmallIntegerField(default=12)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["category", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "code"], name="ppl_skill_code"),
            models.CheckConstraint(condition=Q(renew_months__lte=120), name="ppl_skill_months"),
        ]

    def __str__(self) -> str:
        return self.name


class CompetencyAssessment(models.Model):
    """One assessment of one person on one skill by an assessor (never the person). A pass
    is current until ``next_due``; a fail or "needs retraining" leaves the skill not current
    until a later pass."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="assessments")
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="assessments")
    assessor = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    assessor_name = models.CharField(max_length=150)
    assessed_on = models.DateField()
    method = models.CharField(max_length=20, choices=AssessmentMethod.choices)
    result = models.CharField(max_length=10, choices=AssessmentResult.choices)
    score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    next_due = models.DateField(null=True, blank=True)
    notes = models.TextField(max_length=2000, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-assessed_on", "-pk"]
        indexes = [models.Index(fields=["person", "skill", "assessed_on"], name="ppl_assess")]
        constraints = [
            models.CheckConstraint(condition=~Q(assessor=F("person")), name="ppl_assess_not_self"),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=100),
                name="ppl_assess_score",
            ),
            models.CheckConstraint(
                condition=Q(result=AssessmentResult.PASS) | Q(next_due__isnull=True),
                name="ppl_assess_due_pass",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.skill} of {self.person_id} on {self.assessed_on}: {self.result}"


class TrainingPlan(models.Model):
    """A trainee's plan: the skills to be assessed on by ``due_on``. It completes itself when
    every item has a passing assessment."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    trainee = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="training_plans")
    title = models.CharField(max_length=120)
    started_on = models.DateField()
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.OPEN)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    completed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-started_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(due_on__gte=F("started_on")), name="ppl_plan_dates"),
        ]

    def __str__(self) -> str:
        return self.title


class TrainingPlanItem(models.Model):
    """One skill of a plan, and the passing assessment that completed it."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(TrainingPlan, on_delete=models.PROTECT, related_name="items")
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    completed_by = models.ForeignKey(
        CompetencyAssessment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["due_on", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "skill"], name="ppl_plan_item_skill"),
        ]

    def __str__(self) -> str:
        return f"{self.skill} by {self.due_on}"


class PreceptorshipEntry(models.Model):
    """Hours a trainee spent under a preceptor on a day; the preceptor signs it."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    trainee = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="precepted")
    preceptor = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    on = models.DateField()
    hours = models.DecimalField(max_digits=4, decimal_places=2)
    activities = models.TextField(max_length=2000)
    logged_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    logged_at = models.DateTimeField(default=timezone.now)
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-on", "-pk"]
        verbose_name_plural = "preceptorship entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(hours__gt=0, hours__lte=24), name="ppl_precept_hours"
            ),
            models.CheckConstraint(
                condition=~Q(preceptor=F("trainee")), name="ppl_precept_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hours} h on {self.on}"


class ContinuingEducation(models.Model):
    """A continuing-education activity a person completed. Never deleted: a wrong row is
    marked entered in error with the reason (a CE record backs a license renewal, and a
    board audit asks for it)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="ce_credits")
    provider = models.CharField(max_length=120)
    title = models.CharField(max_length=200)
    uan = models.CharField("ACPE UAN", max_length=22, blank=True)
    topic = models.CharField(max_length=2)
    completed_on = models.DateField()
    hours = models.DecimalField(max_digits=5, decimal_places=2)
    certificate_number = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=20, choices=CeStatus.choices, default=CeStatus.ACTIVE)
    error_reason = models.CharField(max_length=300, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-completed_on", "-pk"]
        verbose_name_plural = "continuing education"
        constraints = [
            models.CheckConstraint(condition=Q(hours__gt=0, hours__lte=100), name="ppl_ce_hours"),
            models.UniqueConstraint(
                fields=["person", "uan"],
                condition=Q(status="active") & ~Q(uan=""),
                name="ppl_ce_uan_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.hours} h)"
