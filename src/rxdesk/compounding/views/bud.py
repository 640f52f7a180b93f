"""Workstation pages of the beyond-use date rules: the BUD calculator (USP <795>/<797>), the
in-use calculator for opened source containers, and the site's compounding limits. Parse,
call rxdesk.compounding.services_settings, render. The calculators write nothing; the
limits are changed by the pharmacist-in-charge only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.compounding import bud, services_settings
from rxdesk.compounding.choices import Preparation, Storage
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import (
    DATE_INPUT_FORMATS,
    FIELD_ERRORS,
    DateField,
    RxForm,
    bind_errors,
    choice,
    flag,
)
from rxdesk.core.models import Site
from rxdesk.core.views import FORM, actor_of, posted, screen

MAX_COMPONENTS = services_settings.MAX_COMPONENTS
MAX_STABILITY_DAYS = services_settings.MAX_STABILITY_DAYS

TIME_INPUT_FORMATS = ["%H:%M", "%H%M", "%I:%M %p", "%I:%M%p"]
CATEGORY_CHOICES = [
    ("", "— (nonsterile)"),
    ("immediate-use", "Immediate use"),
    ("1", "Category 1"),
    ("2", "Category 2"),
    ("3", "Category 3"),
]


def _time_field(label: str) -> forms.TimeField:
    return forms.TimeField(
        label=label,
        input_formats=TIME_INPUT_FORMATS,
        error_messages={"invalid": "Enter the time as HH:MM (24-hour)."},
        widget=forms.TimeInput(
            format="%H:%M",
            attrs={"placeholder": "HH:MM", "autocomplete": "off", "inputmode": "numeric"},
        ),
    )


def _at(site: Site, day: dt.date, time: dt.time) -> dt.datetime:
    """A date and wall-clock time typed at the pharmacy, as an aware datetime there."""
    return dt.datetime.combine(day, time, tzinfo=site.tz)


class ExpirationsField(forms.CharField):
    """Dates, one per line (MM/DD/YYYY, MMDDYYYY or YYYY-MM-DD); blank lines ignored."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", forms.Textarea(attrs={"rows": 3, "placeholder": "MM/DD/YYYY, one a line"})
        )
        super().__init__(required=False, max_length=MAX_COMPONENTS * 12, **kwargs)

    def clean(self, value: Any) -> list[dt.date]:
        text = super().clean(value) or ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if len(lines) > MAX_COMPONENTS:
            raise forms.ValidationError(f"At most {MAX_COMPONENTS} dates.")
        days: list[dt.date] = []
        for number, line in enumerate(lines, start=1):
            for fmt in DATE_INPUT_FORMATS:
                try:
                    days.append(dt.datetime.strptime(line, fmt).date())
                    break
                except ValueError:
                    continue
            else:
                raise forms.ValidationError(
                    f"Line {number} ({line[:20]}) is not a date: enter MM/DD/YYYY."
                )
        return days


class BudForm(RxForm):
    FIELDSETS = (
        ("Preparation", ("type", "category", "prepared_on", "prepared_time", "storage")),
        ("Sterile (USP <797>)", ("method", "components", "sterility_tested")),
        ("Nonsterile (USP <795>)", ("preparation", "preserved")),
        ("Limits", ("component_expirations", "stability_days")),
    )

    type = choice(
        [("nonsterile", "Nonsterile (USP <795>)"), ("sterile", "Sterile (USP <797>)")],
        label="Type",
    )
    category = choice(CATEGORY_CHOICES, label="Sterile category", required=False)
    prepared_on = DateField(label="Prepared on")
    prepared_time = _time_field("Time compounding began")
    storage = choice(Storage.choices, label="Storage")
    method = choice(
        [("aseptic", "Aseptically processed"), ("terminal", "Terminally sterilized")],
        label="Method",
        required=False,
    )
    components = choice(
        [("sterile", "Only sterile starting components"), ("nonsterile", "One or more nonsterile")],
        label="Starting components",
        required=False,
    )
    sterility_tested = flag("Sterility tested and passed (USP <71>)")
    preparation = choice(
        [("", "— (sterile)"), *Preparation.choices], label="Kind (water activity)", required=False
    )
    preserved = flag("Contains an antimicrobial preservative (aqueous)")
    component_expirations = ExpirationsField(label="Component expiration dates")
    stability_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_STABILITY_DAYS,
        label="Stability limit (days), if shorter",
    )

    def given(self, site: Site) -> bud.BudInput:
        v = self.cleaned_data
        return bud.BudInput(
            type=v["type"],
            category=v["category"] or None,
            prepared_at=_at(site, v["prepared_on"], v["prepared_time"]),
            storage=v["storage"],
            aseptic=v["method"] != "terminal",
            sterile_starting_components=v["components"] != "nonsterile",
            sterility_tested=v["sterility_tested"],
            preserved=v["preserved"],
            preparation=v["preparation"] or None,
            component_expirations=tuple(v["component_expirations"]),
            stability_days=v["stability_days"],
        )


# The calculator's fields named by the rules (bud.BudNotAllowed.field) → the form's fields.
BUD_FIELDS = {
    "prepared_at": "prepared_on",
    "aseptic": "method",
    "sterile_starting_components": "components",
}


class InUseForm(RxForm):
    FIELDSETS = (
        ("Opened container", ("container", "opened_on", "opened_time", "where")),
        ("Labeling and expiry", ("label_hours", "label_days", "expiry")),
    )

    container = choice(
        [
            (bud.SINGLE_DOSE, "Single-dose vial, bag or bottle"),
            (bud.AMPULE, "Single-dose ampule"),
            (bud.MULTIPLE_DOSE, "Multiple-dose vial"),
            (bud.PHARMACY_BULK, "Pharmacy bulk package"),
        ],
        label="Container",
    )
    opened_on = DateField(label="First punctured on")
    opened_time = _time_field("Time")
    where = choice(
        [("iso5", "In ISO 5 air (a PEC)"), ("outside", "Outside ISO 5 air")], label="Entered"
    )
    label_hours = forms.IntegerField(
        required=False, min_value=0, max_value=bud.MAX_LABEL_HOURS, label="Labeling: hours"
    )
    label_days = forms.IntegerField(
        required=False, min_value=1, max_value=bud.MAX_LABEL_DAYS, label="Labeling: days"
    )
    expiry = DateField(required=False, label="Expiration date")


IN_USE_FIELDS = {"opened_at": "opened_on", "in_iso5": "where"}


def _rename(exc: Any, names: dict[str, str]) -> Any:
    """The rules name their inputs; the form may call them differently."""
    for error in exc.errors:
        error["field"] = names.get(error.get("field", ""), error.get("field", ""))
    if exc.field in names:
        exc.field = names[exc.field]
    return exc


def _shown(site: Site, when: dt.datetime) -> dt.datetime:
    return when.astimezone(site.tz)


@screen(methods=FORM)
def bud_calculator(request: HttpRequest) -> HttpResponse:
    """The beyond-use date of a preparation by rule, shown at the pharmacy's time."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    site = actor.site
    now = dt.datetime.now(site.tz)
    form = BudForm(
        posted(request),
        initial={
            "type": "sterile",
            "category": "2",
            "prepared_on": now.date(),
            "prepared_time": now.time().replace(second=0, microsecond=0),
            "storage": Storage.REFRIGERATOR,
            "method": "aseptic",
            "components": "sterile",
        },
    )
    result: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        try:
            found = services_settings.bud_calculate(form.given(site))
        except FIELD_ERRORS as exc:
            bind_errors(form, _rename(exc, BUD_FIELDS))
        else:
            result = {
                "bud": found,
                "beyond_use": _shown(site, found.beyond_use),
                "table_limit": _shown(site, found.table_limit or found.beyond_use),
            }
    return render(
        request,
        "compounding/bud_calculator.html",
        {"form": form, "result": result, "site": site},
        status=form.http_status(),
    )


@screen(methods=FORM)
def in_use_calculator(request: HttpRequest) -> HttpResponse:
    """Until when an opened source container may be used, by the site's limits."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    site = actor.site
    now = dt.datetime.now(site.tz)
    form = InUseForm(
        posted(request),
        initial={
            "container": bud.SINGLE_DOSE,
            "opened_on": now.date(),
            "opened_time": now.time().replace(second=0, microsecond=0),
            "where": "iso5",
        },
    )
    result: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        v = form.cleaned_data
        try:
            found = services_settings.in_use_calculate(
                site=site,
                container=v["container"],
                opened_at=_at(site, v["opened_on"], v["opened_time"]),
                in_iso5=v["where"] == "iso5",
                label_hours=v["label_hours"],
                label_days=v["label_days"],
                expiry=v["expiry"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, _rename(exc, IN_USE_FIELDS))
        else:
            result = {"in_use": found, "until": _shown(site, found.until)}
    return render(
        request,
        "compounding/bud_in_use.html",
        {
            "form": form,
            "result": result,
            "limits": services_settings.compounding_settings_get(site),
        },
        status=form.http_status(),
    )


class SettingsForm(RxForm):
    FIELDSETS = (
        (
            "In-use times of opened containers",
            ("single_dose_iso5_hours", "single_dose_outside_iso5_hours", "multiple_dose_days"),
        ),
        ("Records", ("cap_at_source_in_use", "retention_years")),
    )

    single_dose_iso5_hours = forms.IntegerField(
        label="Single-dose container entered in ISO 5 air (hours)",
        help_text="USP <797>: 12 hours. 0 to 12; a state may be stricter (California: 6).",
    )
    single_dose_outside_iso5_hours = forms.IntegerField(
        label="Single-dose container entered outside ISO 5 air (hours)",
        help_text="USP <797>: 0 (use at once). Never more than in ISO 5 (California: 1).",
    )
    multiple_dose_days = forms.IntegerField(
        label="Multiple-dose container after first entry (days)",
        help_text="USP <797>: 28 days. 1 to 28.",
    )
    cap_at_source_in_use = flag(
        "A preparation's BUD never passes an opened source's in-use time",
        "Local policy; USP caps the BUD by the components' expiration dates only.",
    )
    retention_years = forms.IntegerField(
        label="Keep compounding records (years)", help_text="USP: at least 3. 3 to 30."
    )


@screen(methods=FORM)
def settings_page(request: HttpRequest) -> HttpResponse:
    """The site's compounding limits: everyone who compounds reads them; the
    pharmacist-in-charge changes them."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    if request.method == "POST":
        require(actor, Cap.COMPOUNDING_FACILITY)
    current = services_settings.compounding_settings_get(actor.site)
    initial = {name: getattr(current, name) for name in services_settings.FIELDS}
    form = SettingsForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services_settings.compounding_settings_update(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The compounding limits are saved.")
            return redirect("compounding_settings")
    return render(
        request,
        "compounding/settings.html",
        {
            "form": form,
            "current": current,
            "may_edit": has(actor, Cap.COMPOUNDING_FACILITY),
        },
        status=form.http_status(),
    )


urlpatterns: list[URLPattern] = [
    path("bud/", bud_calculator, name="compounding_bud"),
    path("in-use/", in_use_calculator, name="compounding_in_use"),
    path("settings/", settings_page, name="compounding_settings"),
]
