"""Forms of the people-and-training screens: they parse; the services decide."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from rxdesk.core.forms import DateField, RxForm, flag, text
from rxdesk.core.models import User
from rxdesk.people import acpe, services
from rxdesk.people.choices import AssessmentMethod, AssessmentResult, SkillCategory
from rxdesk.people.models import Skill


def hours(label: str, **kwargs: Any) -> forms.DecimalField:
    """Hours to the hundredth (parse only: the service checks the range)."""
    return forms.DecimalField(max_digits=5, decimal_places=2, localize=False, label=label, **kwargs)


def _people(field: forms.Field, people: list[User]) -> None:
    cast(forms.ChoiceField, field).choices = [("", "Choose…")] + [
        (str(p.pk), f"{p.display_name} ({p.role_label})") for p in people
    ]


class SettingsForm(RxForm):
    FIELDSETS = (
        ("Alerts", ("alert_window_days",)),
        (
            "Technicians (PTCB CPhT recertification)",
            ("tech_ce_hours", "tech_ce_law_hours", "tech_ce_safety_hours", "tech_cycle_months"),
        ),
        (
            "Pharmacists (the state board's license renewal)",
            ("rph_ce_hours", "rph_ce_law_hours", "rph_ce_safety_hours", "rph_cycle_months"),
        ),
    )
    alert_window_days = forms.IntegerField(
        min_value=1, max_value=365, label="Announce lapses (days ahead)"
    )
    tech_ce_hours = hours("Contact hours per cycle")
    tech_ce_law_hours = hours("of them in pharmacy law")
    tech_ce_safety_hours = hours("of them in patient safety")
    tech_cycle_months = forms.IntegerField(min_value=1, max_value=60, label="Cycle (months)")
    rph_ce_hours = hours("Contact hours per cycle")
    rph_ce_law_hours = hours("of them in pharmacy law")
    rph_ce_safety_hours = hours("of them in patient safety")
    rph_cycle_months = forms.IntegerField(min_value=1, max_value=60, label="Cycle (months)")


class SkillForm(RxForm):
    code = text(20, required=True, label="Code", autocomplete="off")
    name = text(services.NAME_MAX, required=True, label="Skill")
    category = forms.ChoiceField(choices=SkillCategory.choices, label="Category")
    renew_months = forms.IntegerField(
        min_value=0, max_value=120, initial=12, label="Renew every (months, 0: never)"
    )


class SkillEditForm(RxForm):
    name = text(services.NAME_MAX, required=True, label="Skill")
    category = forms.ChoiceField(choices=SkillCategory.choices, label="Category")
    renew_months = forms.IntegerField(
        min_value=0, max_value=120, label="Renew every (months, 0: never)"
    )
    active = flag("In use", "Untick to retire the skill (its records stay).")


class PlanForm(RxForm):
    trainee = forms.ChoiceField(label="Trainee")
    title = text(services.TITLE_MAX, required=True, label="Title")
    started_on = DateField(label="Starts")
    due_on = DateField(label="Due")
    skills = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, label="Skills")

    def __init__(self, *args: Any, people: list[User], skills: list[Skill], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _people(self.fields["trainee"], people)
        cast(forms.MultipleChoiceField, self.fields["skills"]).choices = [
            (str(s.pk), f"{s.name} ({s.get_category_display()})") for s in skills
        ]


class AssessmentForm(RxForm):
    person = forms.ChoiceField(label="Person assessed")
    skill = forms.ChoiceField(label="Skill")
    assessed_on = DateField(label="Assessed on")
    method = forms.ChoiceField(choices=AssessmentMethod.choices, label="Method")
    result = forms.ChoiceField(choices=AssessmentResult.choices, label="Result")
    score = hours("Score (optional)", required=False, min_value=0, max_value=100)
    notes = forms.CharField(
        required=False, max_length=services.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, people: list[User], skills: list[Skill], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _people(self.fields["person"], people)
        cast(forms.ChoiceField, self.fields["skill"]).choices = [("", "Choose…")] + [
            (str(s.pk), s.name) for s in skills
        ]


class PreceptingForm(RxForm):
    trainee = forms.ChoiceField(label="Trainee")
    preceptor = forms.ChoiceField(label="Preceptor")
    on = DateField(label="Day")
    hours = forms.DecimalField(
        min_value=0, max_value=24, label="Hours", max_digits=4, decimal_places=2, localize=False
    )
    activities = forms.CharField(
        max_length=services.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(
        self, *args: Any, people: list[User], preceptors: list[User], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        _people(self.fields["trainee"], people)
        _people(self.fields["preceptor"], preceptors)


class CeForm(RxForm):
    uan = text(
        30,
        label="ACPE UAN (scan or type)",
        placeholder="0197-0000-23-104-H05-T",
        autocomplete="off",
    )
    title = text(services.CE_TITLE_MAX, required=True, label="Title")
    provider = text(services.PROVIDER_MAX, required=True, label="Provider")
    completed_on = DateField(label="Completed on")
    hours = hours("Contact hours", min_value=0, max_value=100)
    topic = forms.ChoiceField(
        required=False,
        choices=[("", "From the UAN (or general pharmacy)"), *acpe.TOPICS.items()],
        label="Topic (without a UAN)",
    )
    certificate_number = text(services.CERT_MAX, label="Certificate number")


class CeErrorForm(RxForm):
    reason = text(services.REASON_MAX, required=True, label="Why it is entered in error")
