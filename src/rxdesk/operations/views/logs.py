"""Screens of the staffing settings, the cleaning schedule, the waste log and the
equipment log, and the CSV of each log for an inspection. Parse, call the services and
queries, render.

- ``operations_settings``: the state's ratio (the PIC changes it; the staff read it);
- ``operations_cleaning``: what is due now, the schedule (the PIC adds tasks), recent
  records; ``operations_cleaning_done``: one key marks a task done now;
- ``operations_waste``: record a container sealed or picked up; the log;
- ``operations_equipment``: the list with downtime and maintenance (the PIC adds);
  ``operations_equipment_detail``: one machine's log, record an event;
  ``operations_event_end``: end an open downtime;
- ``operations_csv``: a log as CSV for a date range."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.forms import (
    DATE_INPUT_FORMATS,
    FIELD_ERRORS,
    DateField,
    RxForm,
    bind_errors,
    choice,
    flag,
    text,
)
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.operations import exports, queries, services_duty, services_logs
from rxdesk.operations.choices import (
    CleaningArea,
    CleaningFrequency,
    EquipmentEventKind,
    EquipmentKind,
    WasteKind,
    WasteUnit,
)

DATETIME_INPUT_FORMATS = [f"{d} %H:%M" for d in DATE_INPUT_FORMATS]
RECENT_ROWS = 50


def _when(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        required=False,
        label=label,
        input_formats=DATETIME_INPUT_FORMATS,
        widget=forms.DateTimeInput(
            format="%m/%d/%Y %H:%M",
            attrs={"autocomplete": "off", "placeholder": "MM/DD/YYYY HH:MM"},
        ),
    )


# --- Forms ------------------------------------------------------------------------------------


class SettingsForm(RxForm):
    max_technicians_per_pharmacist = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=services_duty.MAX_RATIO,
        label="Technicians allowed per pharmacist on duty",
        help_text=(
            "Your state board's rule, e.g. 3 for 1:3. Leave empty where the state sets no "
            "limit (Illinois for registered technicians, for example)."
        ),
    )
    trainees_count = flag("Technicians in training count toward the ratio")
    citation = text(services_duty.CITATION_MAX, label="Rule or citation")


class TaskForm(RxForm):
    area = choice(CleaningArea.choices, label="Area")
    name = text(services_logs.NAME_MAX, required=True, label="What is cleaned")
    frequency = choice(CleaningFrequency.choices, label="How often")
    agent = text(services_logs.AGENT_MAX, label="Cleaning agent")


def _display_name(user: User) -> str:
    return user.display_name


class WasteForm(RxForm):
    FIELDSETS = (
        ("Container", ("kind", "container_id", "quantity", "unit", "sealed_at")),
        ("Pick-up", ("picked_up_at", "hauler", "manifest_number")),
        ("", ("witness", "note")),
    )
    kind = choice(WasteKind.choices, label="Kind of waste")
    container_id = text(services_logs.CONTAINER_MAX, label="Container id (scan)")
    quantity = forms.DecimalField(
        max_digits=10, decimal_places=3, min_value=0, label="Quantity", localize=False
    )
    unit = choice(WasteUnit.choices, label="Unit")
    sealed_at = _when("Sealed at")
    picked_up_at = _when("Picked up at")
    hauler = text(services_logs.HAULER_MAX, label="Hauler")
    manifest_number = text(services_logs.MANIFEST_MAX, label="Manifest or tracking number")
    witness = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    note = text(services_logs.NOTE_MAX, label="Note")

    def __init__(self, *args: Any, site_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["witness"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = User.objects.filter(site_id=site_id, is_active=True).order_by(
            "last_name", "first_name"
        )
        field.label_from_instance = _display_name  # type: ignore[assignment,method-assign]


class EquipmentForm(RxForm):
    name = text(services_logs.EQUIPMENT_NAME_MAX, required=True, label="Name")
    kind = choice(EquipmentKind.choices, label="Kind")
    vendor = text(services_logs.VENDOR_MAX, label="Vendor")
    model = text(services_logs.MODEL_MAX, label="Model")
    serial = text(services_logs.SERIAL_MAX, label="Serial number")
    maintenance_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=services_logs.MAX_INTERVAL_DAYS,
        label="Maintenance every (days)",
    )


class EventForm(RxForm):
    kind = choice(EquipmentEventKind.choices, label="What happened")
    started_at = _when("Started (blank: now)")
    ended_at = _when("Ended (blank: downtime stays open)")
    vendor_ticket = text(services_logs.TICKET_MAX, label="Vendor ticket number")
    description = text(services_logs.DESCRIPTION_MAX, label="Description")


class RangeForm(RxForm):
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="To")


def _range(request: HttpRequest) -> tuple[RangeForm, dt.date | None, dt.date | None]:
    form = RangeForm(request.GET or None)
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data["start"], form.cleaned_data["end"]
    if form.is_bound:
        raise Invalid("Enter the dates as MM/DD/YYYY.", field="start")
    return form, None, None


# --- Settings ---------------------------------------------------------------------------------


@screen(methods=FORM)
def operations_settings(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if request.method == "POST":
        require(actor, Cap.OPS_SETUP)
    row = queries.operations_settings(actor=actor)
    may_edit = has(actor, Cap.OPS_SETUP)
    form = SettingsForm(
        posted(request),
        initial={
            "max_technicians_per_pharmacist": row.max_technicians_per_pharmacist,
            "trainees_count": row.trainees_count,
            "citation": row.citation,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services_duty.ops_settings_set(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The staffing ratio is saved.")
            return redirect("operations_settings")
    if not may_edit:
        for field in form.fields.values():
            field.disabled = True
    return render(
        request,
        "operations/settings.html",
        {"form": form, "row": row, "may_edit": may_edit},
        status=form.http_status(),
    )


# --- Cleaning ---------------------------------------------------------------------------------


@screen(methods=FORM)
def operations_cleaning(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if request.method == "POST":
        require(actor, Cap.OPS_SETUP)
    form = TaskForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services_logs.cleaning_task_create(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The task is on the schedule.")
            return redirect("operations_cleaning")
    context = {
        "due": queries.cleaning_due(actor=actor),
        "records": list(queries.cleaning_log(actor=actor)[:RECENT_ROWS]),
        "form": form,
        "may_log": has(actor, Cap.OPS_LOG),
        "may_setup": has(actor, Cap.OPS_SETUP),
    }
    return render(request, "operations/cleaning.html", context, status=form.http_status())


@screen(methods=("POST",))
def operations_cleaning_done(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.OPS_LOG)
    task = queries.cleaning_task_get(actor=actor, task_id=pk)
    try:
        services_logs.cleaning_record(
            actor=actor,
            task=task,
            agent_lot=str(request.POST.get("agent_lot", ""))[: services_logs.LOT_MAX],
        )
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{task.name}: done.")
    target = request.POST.get("next")
    return redirect("operations_home" if target == "home" else "operations_cleaning")


# --- Waste ------------------------------------------------------------------------------------


@screen(methods=FORM)
def operations_waste(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if request.method == "POST":
        require(actor, Cap.OPS_LOG)
    form = WasteForm(posted(request), site_id=actor.site_id, initial={"sealed_at": timezone.now()})
    if request.method == "POST" and form.is_valid():
        try:
            services_logs.waste_record(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The waste is recorded.")
            return redirect("operations_waste")
    range_form, start, end = (
        _range(request) if request.method != "POST" else (RangeForm(), None, None)
    )
    context = {
        "form": form,
        "range_form": range_form,
        "rows": list(queries.waste_log(actor=actor, start=start, end=end)),
        "may_log": has(actor, Cap.OPS_LOG),
    }
    return render(request, "operations/waste.html", context, status=form.http_status())


# --- Equipment --------------------------------------------------------------------------------


@screen(methods=FORM)
def operations_equipment(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if request.method == "POST":
        require(actor, Cap.OPS_SETUP)
    form = EquipmentForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services_logs.equipment_create(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The equipment is on the list.")
            return redirect("operations_equipment")
    context = {
        "rows": queries.equipment_board(actor=actor),
        "form": form,
        "may_setup": has(actor, Cap.OPS_SETUP),
    }
    return render(request, "operations/equipment.html", context, status=form.http_status())


@screen(methods=FORM)
def operations_equipment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    if request.method == "POST":
        require(actor, Cap.OPS_LOG)
    machine = queries.equipment_get(actor=actor, equipment_id=pk)
    form = EventForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services_logs.equipment_event_record(
                actor=actor, equipment=machine, **form.cleaned_data
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "Recorded.")
            return redirect("operations_equipment_detail", pk=machine.pk)
    today = actor.site.today()
    events = queries.equipment_events(
        actor=actor, start=today - dt.timedelta(days=365), end=today, equipment=machine
    )
    context = {
        "machine": machine,
        "events": list(events),
        "form": form,
        "may_log": has(actor, Cap.OPS_LOG),
    }
    return render(request, "operations/equipment_detail.html", context, status=form.http_status())


@screen(methods=("POST",))
def operations_event_end(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.OPS_LOG)
    event = queries.equipment_event_get(actor=actor, event_id=pk)
    try:
        services_logs.equipment_event_end(
            actor=actor,
            event=event,
            vendor_ticket=str(request.POST.get("vendor_ticket", ""))[: services_logs.TICKET_MAX],
        )
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{event.equipment.name} is back up.")
    return redirect("operations_equipment_detail", pk=event.equipment_id)


# --- CSV --------------------------------------------------------------------------------------


@screen
def operations_csv(request: HttpRequest, log: str) -> HttpResponse:
    actor = actor_of(request)
    writer = exports.WRITERS.get(log)
    if writer is None:
        raise NotFound("No such log.", field="log")
    _, start, end = _range(request)
    body = writer(actor, start, end)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    stamp = actor.site.today().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{log}-log-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


urlpatterns: list[URLPattern] = [
    path("settings/", operations_settings, name="operations_settings"),
    path("cleaning/", operations_cleaning, name="operations_cleaning"),
    path("cleaning/<int:pk>/done/", operations_cleaning_done, name="operations_cleaning_done"),
    path("waste/", operations_waste, name="operations_waste"),
    path("equipment/", operations_equipment, name="operations_equipment"),
    path("equipment/<int:pk>/", operations_equipment_detail, name="operations_equipment_detail"),
    path("equipment/events/<int:pk>/end/", operations_event_end, name="operations_event_end"),
    path("csv/<slug:log>/", operations_csv, name="operations_csv"),
]
