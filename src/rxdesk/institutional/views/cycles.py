"""Workstation screens of cycle fills: the schedules with their next cycle and a Generate
button (and, for the PIC, the schedule form), the runs, and one run — its lines by
resident with their fills' status, the batch buttons (data-verify all, final-verify the
checked lines, close, cancel) and a scan box that fills the next line the scanned product
belongs to. Parse, call rxdesk.institutional services_cycles / queries_cycles, render:
the services decide; each page checks its capability first."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.forms import FIELD_ERRORS, MAX_ID, DateField, RxForm, bind_errors, text
from rxdesk.core.models import User
from rxdesk.core.views import actor_of, screen
from rxdesk.institutional import queries_cycles as queries
from rxdesk.institutional import services_cycles as services
from rxdesk.institutional.choices import CycleMode
from rxdesk.institutional.models import CycleRun, CycleSchedule, Facility, Unit

DAY_CHOICES = [("7", "Every 7 days"), ("14", "Every 14 days"), ("30", "Every 30 days")]


# --- Forms ------------------------------------------------------------------------------------


class ScheduleForm(RxForm):
    FIELDSETS = (
        ("Where", ("place",)),
        ("When", ("days", "mode", "anchor", "lead_days", "active")),
    )
    place = forms.ChoiceField(label="Facility or unit")
    days = forms.ChoiceField(choices=DAY_CHOICES, label="Cycle")
    mode = forms.ChoiceField(choices=CycleMode.choices, label="Cycle start")
    anchor = DateField(label="First day of the first cycle")
    lead_days = forms.IntegerField(
        min_value=0, max_value=14, initial=3, label="Generate this many days ahead"
    )
    active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args: Any, facilities: list[Facility], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options: list[tuple[str, str]] = [("", "Choose…")]
        for f in facilities:
            options.append((f"f{f.pk}", f"{f.name} (all units)"))
            options.extend((f"u{u.pk}", f"{f.name} — unit {u.code}") for u in f.units.all())
        self.fields["place"].choices = options  # type: ignore[attr-defined]

    def chosen(self, actor: User) -> tuple[Facility, Unit | None]:
        value = self.cleaned_data["place"]
        pk = int(value[1:]) if value[1:].isdigit() and int(value[1:]) <= MAX_ID else 0
        if value.startswith("u"):
            unit = (
                Unit.objects.filter(facility__site_id=actor.site_id, pk=pk)
                .select_related("facility")
                .first()
            )
            if unit is None:
                raise Invalid("Choose a facility or unit.", field="place")
            return unit.facility, unit
        found = Facility.objects.filter(site_id=actor.site_id, pk=pk).first()
        if found is None:
            raise Invalid("Choose a facility or unit.", field="place")
        return found, None


class ScanForm(RxForm):
    code = text(
        200,
        required=True,
        label="Scan a package",
        placeholder="NDC or barcode",
        autocomplete="off",
        inputmode="text",
    )


class CancelForm(RxForm):
    reason = text(200, label="Why the run is cancelled")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].widget.attrs.pop("autofocus", None)


# --- Schedules --------------------------------------------------------------------------------


def _cycles_page(
    request: HttpRequest, actor: User, form: ScheduleForm | None = None, status: int = 200
) -> HttpResponse:
    may_setup = has(actor, Cap.LTC_SETUP)
    if form is None and may_setup:
        form = ScheduleForm(facilities=queries.facilities(actor=actor))
    context = {
        "rows": queries.schedules(actor=actor),
        "runs": queries.runs(actor=actor, limit=30),
        "form": form if may_setup else None,
        "may_generate": has(actor, Cap.LTC_CYCLE),
        "today": queries.today_of(actor),
    }
    return render(request, "institutional/cycles.html", context, status=status)


@screen
def cycle_list(request: HttpRequest) -> HttpResponse:
    """The schedules with the cycle each generates next, and the recent runs."""
    actor = actor_of(request)
    require(actor, Cap.LTC_VIEW)
    return _cycles_page(request, actor)


@screen(methods=("POST",))
def cycle_schedule_save(request: HttpRequest) -> HttpResponse:
    """Create a schedule, or change the one the facility/unit has (the PIC)."""
    actor = actor_of(request)
    require(actor, Cap.LTC_SETUP)
    form = ScheduleForm(request.POST, facilities=queries.facilities(actor=actor))
    if form.is_valid():
        values = form.cleaned_data
        try:
            facility, unit = form.chosen(actor)
            existing = CycleSchedule.objects.filter(facility=facility, unit=unit).first()
            saved = services.cycle_schedule_save(
                actor=actor,
                facility=facility,
                unit=unit,
                schedule=existing,
                days=int(values["days"]),
                mode=values["mode"],
                anchor=values["anchor"],
                lead_days=values["lead_days"],
                active=values["active"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Schedule saved: {saved}.")
            return redirect("ltc_cycles")
    return _cycles_page(request, actor, form=form, status=form.http_status())


def _schedule(actor: User, pk: int) -> CycleSchedule:
    if pk > MAX_ID:
        raise NotFound("No such cycle schedule at this pharmacy.")
    return queries.schedule_get(actor=actor, schedule_id=pk)


@screen(methods=("POST",))
def cycle_generate(request: HttpRequest, pk: int) -> HttpResponse:
    """Generate the next cycle not generated of a schedule."""
    actor = actor_of(request)
    require(actor, Cap.LTC_CYCLE)
    schedule = _schedule(actor, pk)
    try:
        run = services.cycle_generate(actor=actor, schedule=schedule)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
        return _cycles_page(request, actor, status=exc.status)
    messages.success(request, services.run_summary(run) + ".")
    return redirect("ltc_cycle_run", pk=run.pk)


# --- One run ----------------------------------------------------------------------------------


def _run(actor: User, pk: int) -> CycleRun:
    if pk > MAX_ID:
        raise NotFound("No such cycle run at this pharmacy.")
    return queries.run_get(actor=actor, run_id=pk)


def _run_page(
    request: HttpRequest,
    actor: User,
    pk: int,
    *,
    scan: ScanForm | None = None,
    cancel: CancelForm | None = None,
    error: str = "",
    failed: dict[int, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    view = queries.run_view(actor=actor, run_id=pk)
    context = {
        "view": view,
        "run": view.run,
        "summary": services.run_summary(view.run),
        "scan": scan or ScanForm(),
        "cancel": cancel or CancelForm(),
        "error": error,
        "failed": failed or {},
        "open": view.run.status == "open",
        "may_cycle": has(actor, Cap.LTC_CYCLE),
        "may_fill": has(actor, Cap.LTC_CYCLE) and has(actor, Cap.RX_FILL),
        "may_verify_data": has(actor, Cap.LTC_CYCLE) and has(actor, Cap.RX_VERIFY_DATA),
        "may_verify": has(actor, Cap.LTC_CYCLE) and has(actor, Cap.RX_VERIFY_FINAL),
        "may_cancel": has(actor, Cap.LTC_CYCLE) and has(actor, Cap.RX_ENTER),
    }
    return render(request, "institutional/cycle_run.html", context, status=status)


def _back(pk: int) -> HttpResponse:
    return redirect(reverse("ltc_cycle_run", kwargs={"pk": pk}))


def _batch_message(request: HttpRequest, result: services.BatchResult, what: str) -> None:
    text_ = f"{what}: {result.summary()}"
    if result.failed:
        messages.warning(request, text_)
    else:
        messages.success(request, text_)


@screen
def cycle_run(request: HttpRequest, pk: int) -> HttpResponse:
    """One run: lines by resident with their fills' status; batch steps; the scan box."""
    actor = actor_of(request)
    require(actor, Cap.LTC_VIEW)
    return _run_page(request, actor, _run(actor, pk).pk)


@screen(methods=("POST",))
def cycle_run_data_verify(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_CYCLE)
    require(actor, Cap.RX_VERIFY_DATA)
    run = _run(actor, pk)
    try:
        result = services.cycle_run_data_verify(actor=actor, run=run)
    except FIELD_ERRORS as exc:
        return _run_page(request, actor, run.pk, error=exc.message, status=exc.status)
    if result.failed:
        _batch_message(request, result, "Data verification")
        return _run_page(request, actor, run.pk, failed=result.failed)
    _batch_message(request, result, "Data verification")
    return _back(run.pk)


@screen(methods=("POST",))
def cycle_run_scan(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_CYCLE)
    require(actor, Cap.RX_FILL)
    run = _run(actor, pk)
    form = ScanForm(request.POST)
    if form.is_valid():
        try:
            line = services.cycle_run_scan(actor=actor, run=run, code=form.cleaned_data["code"])
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                f"Rx {line.prescription.number}: {line.quantity:f} counted out. Scan the next.",
            )
            return _back(run.pk)
    return _run_page(request, actor, run.pk, scan=form, status=form.http_status())


@screen(methods=("POST",))
def cycle_run_verify(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_CYCLE)
    require(actor, Cap.RX_VERIFY_FINAL)
    run = _run(actor, pk)
    raw = request.POST.getlist("line")
    ids = [int(v) for v in raw if v.isdigit() and int(v) <= MAX_ID]
    try:
        if len(ids) != len(raw):
            raise Invalid("Choose the lines to verify.", field="line_ids")
        result = services.cycle_run_verify(actor=actor, run=run, line_ids=ids)
    except FIELD_ERRORS as exc:
        return _run_page(request, actor, run.pk, error=exc.message, status=exc.status)
    _batch_message(request, result, "Final verification")
    if result.failed:
        return _run_page(request, actor, run.pk, failed=result.failed)
    return _back(run.pk)


@screen(methods=("POST",))
def cycle_run_close(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_CYCLE)
    run = _run(actor, pk)
    try:
        services.cycle_run_close(actor=actor, run=run)
    except FIELD_ERRORS as exc:
        return _run_page(request, actor, run.pk, error=exc.message, status=exc.status)
    messages.success(request, f"{run} closed: every fill is verified or settled.")
    return redirect("ltc_cycles")


@screen(methods=("POST",))
def cycle_run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_CYCLE)
    require(actor, Cap.RX_ENTER)
    run = _run(actor, pk)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            services.cycle_run_cancel(actor=actor, run=run, reason=form.cleaned_data["reason"])
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.warning(request, f"{run} cancelled; its fills not counted out are cancelled.")
            return redirect("ltc_cycles")
    return _run_page(request, actor, run.pk, cancel=form, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("cycles/", cycle_list, name="ltc_cycles"),
    path("cycles/schedule/", cycle_schedule_save, name="ltc_cycle_schedule_save"),
    path("cycles/<int:pk>/generate/", cycle_generate, name="ltc_cycle_generate"),
    path("cycles/runs/<int:pk>/", cycle_run, name="ltc_cycle_run"),
    path(
        "cycles/runs/<int:pk>/data-verify/",
        cycle_run_data_verify,
        name="ltc_cycle_run_data_verify",
    ),
    path("cycles/runs/<int:pk>/scan/", cycle_run_scan, name="ltc_cycle_run_scan"),
    path("cycles/runs/<int:pk>/verify/", cycle_run_verify, name="ltc_cycle_run_verify"),
    path("cycles/runs/<int:pk>/close/", cycle_run_close, name="ltc_cycle_run_close"),
    path("cycles/runs/<int:pk>/cancel/", cycle_run_cancel, name="ltc_cycle_run_cancel"),
]
