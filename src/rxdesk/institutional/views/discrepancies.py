"""Workstation screens of cabinet discrepancies: the list (open first, coloured by age, past
the shift in bold words, a filter by status and cabinet), one discrepancy (the pocket, its
last moves, the resolve form with the witness's sign-in for a controlled pocket, and the
theft/loss report to open when diversion is suspected), the aging report (CSV too), the
override removals to review (an inline review form per removal) and the
dispensed-versus-administered report (CSV too). Parse, call rxdesk.institutional
services_discrepancies / queries_discrepancies, render: each screen checks its capability
first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, query_string
from rxdesk.core.models import User
from rxdesk.core.views import actor_of, screen
from rxdesk.institutional import queries_discrepancies as queries
from rxdesk.institutional import services_discrepancies as services
from rxdesk.institutional.choices import DiscrepancyCause, OverrideOutcome
from rxdesk.institutional.models import Cabinet

WITNESS_FIELDS = ("username", "password", "otp")
OVERRIDE_DAYS = 30
USAGE_DAYS = 7


def _csv(text_: str, filename: str) -> HttpResponse:
    response = HttpResponse(text_, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- Forms ------------------------------------------------------------------------------------


class FilterForm(RxForm):
    status = forms.ChoiceField(
        required=False,
        choices=[("open", "Open"), ("resolved", "Resolved"), ("all", "All")],
        label="Status",
    )
    cabinet = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Cabinet")

    def __init__(self, *args: Any, cabinets: list[Cabinet], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].widget.attrs.pop("autofocus", None)
        field = self.fields["cabinet"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Every cabinet")] + [(c.pk, f"{c.code} — {c.name}") for c in cabinets]


class ResolveForm(RxForm):
    """The resolution: the cause, what happened, the nurse who took part; for a controlled
    pocket a witness block (a second person signs in with their own password)."""

    FIELDSETS = (("Resolution", ("cause", "nurse_name", "explanation")),)
    cause = forms.ChoiceField(choices=[("", "Choose…"), *DiscrepancyCause.choices], label="Cause")
    nurse_name = forms.CharField(
        max_length=services.NURSE_MAX,
        label="Nurse who took part",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    explanation = forms.CharField(
        max_length=services.EXPLANATION_MAX,
        label=f"What happened (at least {services.EXPLANATION_MIN} characters)",
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": services.EXPLANATION_MAX}),
    )

    def __init__(self, *args: Any, controlled: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.controlled = controlled
        if not controlled:
            return
        labels = {"username": "User name", "password": "Password", "otp": "Authenticator code"}
        for name in WITNESS_FIELDS:
            key = f"witness.{name}"
            attrs = {"autocomplete": "off", "aria-label": f"Witness: {labels[name]}"}
            if name == "password":
                self.fields[key] = forms.CharField(
                    max_length=256,
                    label=labels[name],
                    widget=forms.PasswordInput(attrs={**attrs, "autocomplete": "new-password"}),
                )
            elif name == "otp":
                self.fields[key] = forms.CharField(
                    max_length=12,
                    required=False,
                    label=f"{labels[name]} (if enrolled)",
                    widget=forms.TextInput(attrs={**attrs, "inputmode": "numeric"}),
                )
            else:
                self.fields[key] = forms.CharField(
                    max_length=150, label=labels[name], widget=forms.TextInput(attrs=attrs)
                )
        self.SEPARATE = tuple(f"witness.{n}" for n in WITNESS_FIELDS)

    def witness_block(self) -> list[Any]:
        return [self[f"witness.{n}"] for n in WITNESS_FIELDS if f"witness.{n}" in self.fields]

    def witness(self) -> dict[str, str] | None:
        if not self.controlled:
            return None
        return {n: self.cleaned_data.get(f"witness.{n}") or "" for n in WITNESS_FIELDS}


class OverrideFilterForm(RxForm):
    reviewed = forms.ChoiceField(
        required=False,
        choices=[("false", "Waiting for review"), ("true", "Reviewed"), ("all", "All")],
        label="Show",
    )
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="To")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reviewed"].widget.attrs.pop("autofocus", None)


class ReviewForm(RxForm):
    outcome = forms.ChoiceField(
        choices=[("", "Choose…"), *OverrideOutcome.choices], label="Outcome"
    )
    note = forms.CharField(
        max_length=services.NOTE_MAX,
        required=False,
        label="Note (needed for a follow-up)",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["outcome"].widget.attrs.pop("autofocus", None)


class UsageForm(RxForm):
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="To")
    everything = forms.BooleanField(required=False, label="Include non-controlled drugs")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["start"].widget.attrs.pop("autofocus", None)


# --- Discrepancies ----------------------------------------------------------------------------


@screen
def discrepancy_list(request: HttpRequest) -> HttpResponse:
    """Open discrepancies first (earliest due first), coloured by how far past the shift."""
    actor = actor_of(request)
    require(actor, Cap.ADC_VIEW)
    site = actor.site
    cabinets = list(Cabinet.objects.filter(site=site).order_by("code"))
    form = FilterForm(request.GET or None, cabinets=cabinets)
    status, cabinet = "open", None
    if form.is_bound and form.is_valid():
        status = form.cleaned_data["status"] or "open"
        chosen = form.cleaned_data["cabinet"]
        cabinet = next((c for c in cabinets if c.pk == chosen), None)
    rows = queries.discrepancies(actor=actor, site=site, status=status, cabinet=cabinet)
    context = {
        "form": form,
        "rows": rows,
        "status": status,
        "cabinet": cabinet,
        "open_count": sum(1 for r in rows if r.is_open),
        "overdue_count": sum(1 for r in rows if r.overdue),
        "may_resolve": has(actor, Cap.ADC_RESOLVE),
        "may_report": has(actor, Cap.ADC_REPORT),
    }
    return render(
        request, "institutional/discrepancy_list.html", context, status=form.http_status()
    )


def _detail(
    request: HttpRequest,
    actor: User,
    row: queries.DiscrepancyRow,
    *,
    form: ResolveForm | None = None,
    status: int = 200,
) -> HttpResponse:
    d = row.d
    step = services.follow_up(d)
    context = {
        "row": row,
        "d": d,
        "moves": queries.moves_around(actor=actor, discrepancy=d),
        "form": form or ResolveForm(controlled=row.controlled),
        "may_resolve": has(actor, Cap.ADC_RESOLVE) and row.is_open,
        "follow_up": step,
        "follow_up_url": reverse(step.url_name) if step is not None else "",
        "may_report_loss": has(actor, Cap.CS_LOSS),
    }
    return render(request, "institutional/discrepancy_detail.html", context, status=status)


@screen
def discrepancy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One discrepancy: the pocket, its last moves, and the resolve form."""
    actor = actor_of(request)
    require(actor, Cap.ADC_VIEW)
    return _detail(request, actor, queries.discrepancy_get(actor=actor, discrepancy_id=pk))


@screen(methods=("POST",))
def discrepancy_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.ADC_RESOLVE)
    row = queries.discrepancy_get(actor=actor, discrepancy_id=pk)
    form = ResolveForm(request.POST, controlled=row.controlled)
    if form.is_valid():
        values = form.cleaned_data
        try:
            done = services.discrepancy_resolve(
                actor=actor,
                discrepancy=row.d,
                cause=values["cause"],
                explanation=values["explanation"],
                nurse_name=values["nurse_name"],
                witness=form.witness(),
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Discrepancy of pocket {done.pocket.place} resolved.")
            step = services.follow_up(done)
            if step is not None:
                messages.warning(request, step.message)
            return redirect("adc_discrepancy", pk=done.pk)
    fresh = queries.discrepancy_get(actor=actor, discrepancy_id=pk)
    return _detail(request, actor, fresh, form=form, status=form.http_status())


@screen
def discrepancy_aging(request: HttpRequest) -> HttpResponse:
    """Open discrepancies per cabinet in aging buckets; ``?format=csv`` for a file."""
    actor = actor_of(request)
    require(actor, Cap.ADC_VIEW)
    report = queries.aging(actor=actor, site=actor.site)
    if request.GET.get("format") == "csv":
        local = report.now.astimezone(actor.site.tz)
        return _csv(
            queries.aging_csv(actor.site, report), f"cabinet-discrepancies-{local:%Y%m%d}.csv"
        )
    return render(request, "institutional/discrepancy_aging.html", {"report": report})


# --- Override removals ------------------------------------------------------------------------


def _override_page(
    request: HttpRequest,
    actor: User,
    *,
    bound: ReviewForm | None = None,
    bound_move: int | None = None,
    status: int = 200,
) -> HttpResponse:
    data = request.GET if request.method == "GET" else None
    filters = OverrideFilterForm(data or None)
    today = actor.site.today()
    end, start, reviewed = today, today - dt.timedelta(days=OVERRIDE_DAYS), "false"
    if filters.is_bound and filters.is_valid():
        values = filters.cleaned_data
        end = values["end"] or end
        start = values["start"] or end - dt.timedelta(days=OVERRIDE_DAYS)
        reviewed = values["reviewed"] or "false"
    error = ""
    rows: list[queries.OverrideRow] = []
    try:
        rows = queries.overrides(
            actor=actor,
            site=actor.site,
            start=start,
            end=end,
            reviewed={"false": False, "true": True, "all": None}[reviewed],
        )
    except FIELD_ERRORS as exc:
        bind_errors(filters, exc)
        error = exc.message
    forms_ = []
    for r in rows:
        if bound is not None and bound_move == r.move.pk:
            bound.fields["outcome"].widget.attrs["autofocus"] = True
            forms_.append((r, bound))
        else:
            forms_.append((r, ReviewForm(auto_id=f"id_m{r.move.pk}_%s")))
    context = {
        "filters": filters,
        "rows": forms_,
        "start": start,
        "end": end,
        "reviewed": reviewed,
        "error": error,
        "query": query_string({"reviewed": reviewed, "start": start, "end": end}),
    }
    code = status if status != 200 else filters.http_status()
    return render(request, "institutional/override_list.html", context, status=code)


@screen
def override_list(request: HttpRequest) -> HttpResponse:
    """Override removals waiting for review (oldest first), or reviewed ones."""
    actor = actor_of(request)
    require(actor, Cap.ADC_RESOLVE)
    return _override_page(request, actor)


@screen(methods=("POST",))
def override_review(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.ADC_RESOLVE)
    move = queries.override_get(actor=actor, move_id=pk)
    form = ReviewForm(request.POST, auto_id=f"id_m{move.pk}_%s")
    if form.is_valid():
        try:
            review = services.override_review(
                actor=actor,
                move=move,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                f"Override removal by {move.cabinet_user or 'the cabinet user'} reviewed: "
                f"{review.get_outcome_display().lower()}.",
            )
            return redirect(reverse("adc_overrides") + f"#move-{move.pk}")
    return _override_page(request, actor, bound=form, bound_move=move.pk, status=form.http_status())


# --- Dispensed versus administered ------------------------------------------------------------


@screen
def usage_report(request: HttpRequest) -> HttpResponse:
    """Per cabinet user and drug: removed, returned, wasted, administered, unaccounted."""
    actor = actor_of(request)
    require(actor, Cap.ADC_REPORT)
    site = actor.site
    form = UsageForm(request.GET or None)
    end = site.today()
    start = end - dt.timedelta(days=USAGE_DAYS - 1)
    controlled_only = True
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
        end = values["end"] or end
        start = values["start"] or end - dt.timedelta(days=USAGE_DAYS - 1)
        controlled_only = not values["everything"]
    usage = None
    try:
        usage = queries.dispensed_vs_administered(
            actor=actor, site=site, start=start, end=end, controlled_only=controlled_only
        )
    except FIELD_ERRORS as exc:
        bind_errors(form, exc)
    if usage is not None and request.GET.get("format") == "csv":
        return _csv(
            queries.usage_csv(site, usage),
            f"dispensed-vs-administered-{start:%Y%m%d}-{end:%Y%m%d}.csv",
        )
    context = {
        "form": form,
        "usage": usage,
        "start": start,
        "end": end,
        "csv_query": query_string(
            {"start": start, "end": end, "everything": not controlled_only, "format": "csv"}
        ),
    }
    return render(request, "institutional/usage_report.html", context, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("cabinet-discrepancies/", discrepancy_list, name="adc_discrepancies"),
    path("cabinet-discrepancies/aging/", discrepancy_aging, name="adc_discrepancy_aging"),
    path("cabinet-discrepancies/<int:pk>/", discrepancy_detail, name="adc_discrepancy"),
    path(
        "cabinet-discrepancies/<int:pk>/resolve/",
        discrepancy_resolve,
        name="adc_discrepancy_resolve",
    ),
    path("cabinet-overrides/", override_list, name="adc_overrides"),
    path("cabinet-overrides/<int:pk>/review/", override_review, name="adc_override_review"),
    path("cabinet-reports/dispensed-vs-administered/", usage_report, name="adc_usage"),
]
