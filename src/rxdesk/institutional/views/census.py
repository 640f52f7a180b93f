"""Workstation screens of long-term care: facilities (units and medication pass times, set
up by the pharmacist-in-charge), residents (admit a patient, record a census change, set
when each order is given) and the MAR (preview, PDF, CSV). Parse, call
rxdesk.institutional services_census / queries_census, render: the services decide; each
screen checks its capability first. An auditor reads the facilities and their counts;
resident screens need patient.view too."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, Invalid
from rxdesk.core.forms import (
    DATE_INPUT_FORMATS,
    FIELD_ERRORS,
    MAX_ID,
    DateField,
    RxForm,
    bind_errors,
    choice,
    flag,
    text,
)
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.institutional import mar as mar_doc
from rxdesk.institutional import queries_census as queries
from rxdesk.institutional import schedule
from rxdesk.institutional import services_census as services
from rxdesk.institutional.api_census import file_response, mar_filename
from rxdesk.institutional.choices import CensusKind, FacilityKind, ResidentStatus, Slot
from rxdesk.institutional.models import Facility, Resident
from rxdesk.patients import queries as patient_queries
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Prescription

DATETIME_INPUT_FORMATS = [f"{d} %H:%M" for d in DATE_INPUT_FORMATS]
PASS_TIME_ROWS = 2  # blank rows offered below the facility's pass times
CENSUS_CHOICES = [(k.value, k.label) for k in CensusKind if k != CensusKind.ADMIT]


def _datetime_field(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        required=False,
        input_formats=DATETIME_INPUT_FORMATS,
        label=label,
        widget=forms.DateTimeInput(
            format="%m/%d/%Y %H:%M",
            attrs={"autocomplete": "off", "placeholder": "MM/DD/YYYY HH:MM (blank: now)"},
        ),
    )


# --- Forms ------------------------------------------------------------------------------------


class FacilityForm(RxForm):
    FIELDSETS = (("Facility", ("code", "name", "kind", "phone", "address", "active")),)
    code = text(20, required=True, label="Code", autocomplete="off")
    name = text(120, required=True, label="Name")
    kind = choice(FacilityKind.choices, label="Kind")
    phone = text(20, label="Phone", inputmode="tel", autocomplete="off")
    address = text(200, label="Address")
    active = flag("Open (takes admissions)")


class UnitForm(RxForm):
    FIELDSETS = (("Add a unit or wing", ("code", "name")),)
    code = text(20, required=True, label="Unit code", autocomplete="off", placeholder="2E")
    name = text(80, required=True, label="Name", placeholder="Second floor east")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "unit")
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs.pop("autofocus", None)


class PassTimesForm(RxForm):
    """The facility's pass times, one row each (time, slot, label), and blank rows to add;
    a row left without a time is dropped."""

    def __init__(self, *args: Any, rows: int, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "pt")
        super().__init__(*args, **kwargs)
        self.rows = rows
        for n in range(rows):
            self.fields[f"time_{n}"] = forms.CharField(
                max_length=5,
                required=False,
                label="Time (HH:MM)",
                widget=forms.TextInput(
                    attrs={"autocomplete": "off", "placeholder": "08:00", "class": "time"}
                ),
            )
            self.fields[f"slot_{n}"] = forms.ChoiceField(
                required=False, choices=[("", "—"), *Slot.choices], label="Slot"
            )
            self.fields[f"label_{n}"] = forms.CharField(
                max_length=30, required=False, label="Label"
            )
        for f in self.fields.values():
            f.widget.attrs.pop("autofocus", None)

    def row_fields(self) -> list[list[forms.BoundField]]:
        return [
            [self[f"time_{n}"], self[f"slot_{n}"], self[f"label_{n}"]] for n in range(self.rows)
        ]

    def times(self) -> tuple[list[dict[str, str]], list[int]]:
        """The rows given, and the form row of each (for errors)."""
        out: list[dict[str, str]] = []
        where: list[int] = []
        for n in range(self.rows):
            time = (self.cleaned_data.get(f"time_{n}") or "").strip()
            if not time:
                continue
            out.append(
                {
                    "time": time,
                    "slot": self.cleaned_data.get(f"slot_{n}") or "",
                    "label": self.cleaned_data.get(f"label_{n}") or "",
                }
            )
            where.append(n)
        return out, where


class AdmitForm(RxForm):
    FIELDSETS = (("Admission", ("facility", "unit", "room", "bed", "admitted_at")),)
    patient = forms.IntegerField(min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)
    facility = forms.TypedChoiceField(coerce=int, label="Facility")
    unit = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Unit")
    room = text(10, required=True, label="Room", autocomplete="off")
    bed = text(4, label="Bed", autocomplete="off")
    admitted_at = _datetime_field("Admitted at")

    def __init__(self, *args: Any, facilities: list[Facility], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"].widget.attrs.pop("autofocus", None)
        self.fields["facility"].widget.attrs["autofocus"] = True
        cast(forms.ChoiceField, self.fields["facility"]).choices = [("", "Choose…")] + [
            (f.pk, f"{f.name} ({f.code})") for f in facilities
        ]
        cast(forms.ChoiceField, self.fields["unit"]).choices = [("", "None")] + [
            (u.pk, f"{f.code} / {u.code} {u.name}")
            for f in facilities
            for u in f.units.filter(active=True).order_by("code")
        ]


class CensusForm(RxForm):
    FIELDSETS = (
        (
            "Record a census change",
            ("kind", "effective_at", "to_unit", "to_room", "expected_return", "note"),
        ),
    )
    kind = choice([("", "Choose…"), *CENSUS_CHOICES], label="Change")
    effective_at = _datetime_field("When")
    to_unit = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="New unit (move, return)"
    )
    to_room = text(10, label="New room (move, return)", autocomplete="off")
    expected_return = DateField(required=False, label="Expected return (leave)")
    note = text(300, label="Note")

    def __init__(self, *args: Any, resident: Resident, units: list[Any], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "census")
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.attrs.pop("autofocus", None)
        cast(forms.ChoiceField, self.fields["to_unit"]).choices = [("", "Same unit")] + [
            (u.pk, f"{u.code} {u.name}") for u in units
        ]


class ScheduleForm(RxForm):
    prescription = forms.IntegerField(min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)
    times = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Pass times"
    )
    dose = forms.DecimalField(
        min_value=0, max_digits=8, decimal_places=3, label="Dose each time", localize=False
    )
    prn = flag("As needed (PRN)")
    prn_max_per_day = forms.DecimalField(
        required=False, min_value=0, max_digits=8, decimal_places=3, label="PRN: most a day"
    )
    start_on = DateField(required=False, label="Start")
    stop_on = DateField(required=False, label="Stop")

    def __init__(self, *args: Any, pass_times: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prescription"].widget.attrs.pop("autofocus", None)
        cast(forms.MultipleChoiceField, self.fields["times"]).choices = [(t, t) for t in pass_times]


class ResidentFilterForm(RxForm):
    q = text(100, label="Name", placeholder="diaz, lu", type="search")
    facility = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Facility"
    )
    status = forms.ChoiceField(
        required=False,
        choices=[("", "In the facility or on leave"), *ResidentStatus.choices, ("all", "All")],
        label="Status",
    )

    def __init__(self, *args: Any, facilities: list[Facility], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update({"data-search": True, "autocomplete": "off"})
        cast(forms.ChoiceField, self.fields["facility"]).choices = [("", "All facilities")] + [
            (f.pk, f.name) for f in facilities
        ]


# --- Facilities -------------------------------------------------------------------------------


@screen
def facility_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    facilities = queries.facilities_list(actor=actor)
    context = {
        "facilities": facilities,
        "may_setup": has(actor, Cap.LTC_SETUP),
        "sees_residents": has(actor, Cap.PATIENT_VIEW),
    }
    return render(request, "institutional/facility_list.html", context)


@screen(methods=FORM)
def facility_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_SETUP)
    form = FacilityForm(posted(request), initial={"active": True, "kind": FacilityKind.SNF})
    if request.method == "POST" and form.is_valid():
        try:
            facility = services.facility_save(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request, f"{facility.name} added. Set its medication pass times and units."
            )
            return redirect("ltc_facility", pk=facility.pk)
    return render(
        request,
        "institutional/facility_form.html",
        {"form": form, "facility": None},
        status=form.http_status(),
    )


def _facility_page(
    request: HttpRequest,
    actor: User,
    facility: Facility,
    *,
    edit: FacilityForm | None = None,
    unit: UnitForm | None = None,
    pass_times: PassTimesForm | None = None,
    status: int = 200,
) -> HttpResponse:
    detail = queries.facility_detail(actor=actor, facility=facility)
    if pass_times is None:
        current = detail.pass_times
        pass_times = PassTimesForm(
            rows=min(len(current) + PASS_TIME_ROWS, services.MAX_PASS_TIMES),
            initial={
                key: value
                for n, p in enumerate(current)
                for key, value in (
                    (f"time_{n}", schedule.clock(p.time)),
                    (f"slot_{n}", p.slot),
                    (f"label_{n}", p.label),
                )
            },
        )
    context = {
        "d": detail,
        "f": facility,
        "may_setup": has(actor, Cap.LTC_SETUP),
        "may_census": has(actor, Cap.LTC_CENSUS),
        "edit_form": edit
        or FacilityForm(
            initial={
                "code": facility.code,
                "name": facility.name,
                "kind": facility.kind,
                "phone": facility.phone,
                "address": facility.address,
                "active": facility.active,
            },
            prefix="fac",
        ),
        "unit_form": unit or UnitForm(),
        "pass_times_form": pass_times,
    }
    return render(request, "institutional/facility_detail.html", context, status=status)


@screen
def facility_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    facility = queries.facility_get(actor=actor, facility_id=pk)
    return _facility_page(request, actor, facility)


@screen(methods=("POST",))
def facility_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_SETUP)
    facility = queries.facility_get(actor=actor, facility_id=pk)
    form = FacilityForm(request.POST, prefix="fac")
    if form.is_valid():
        try:
            services.facility_save(actor=actor, facility=facility, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The facility is saved.")
            return redirect("ltc_facility", pk=facility.pk)
    return _facility_page(request, actor, facility, edit=form, status=form.http_status())


@screen(methods=("POST",))
def facility_pass_times(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_SETUP)
    facility = queries.facility_get(actor=actor, facility_id=pk)
    rows = sum(1 for key in request.POST if key.startswith("pt-time_"))
    form = PassTimesForm(request.POST, rows=max(1, min(rows, services.MAX_PASS_TIMES)))
    if form.is_valid():
        times, where = form.times()
        try:
            services.pass_times_set(actor=actor, facility=facility, times=times)
        except FIELD_ERRORS as exc:
            _bind_rows(form, exc, where)
        else:
            messages.success(request, "The medication pass times are saved.")
            return redirect(reverse("ltc_facility", kwargs={"pk": facility.pk}) + "#pass-times")
    return _facility_page(request, actor, facility, pass_times=form, status=form.http_status())


def _bind_rows(form: PassTimesForm, exc: DomainError, where: list[int]) -> None:
    """``times[n].time`` of the service is the form's row where[n]."""
    field = exc.field or ""
    if field.startswith("times[") and "]" in field:
        index, _, rest = field[len("times[") :].partition("]")
        if index.isdigit() and int(index) < len(where):
            name = f"{rest.lstrip('.') or 'time'}_{where[int(index)]}"
            if name in form.fields:
                form.add_error(name, exc.message)
                form.error_status = exc.status
                return
    form.add_error(None, exc.message)
    form.error_status = exc.status


@screen(methods=("POST",))
def facility_unit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_SETUP)
    facility = queries.facility_get(actor=actor, facility_id=pk)
    form = UnitForm(request.POST)
    if form.is_valid():
        try:
            unit = services.unit_save(actor=actor, facility=facility, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Unit {unit.code} added.")
            return redirect(reverse("ltc_facility", kwargs={"pk": facility.pk}) + "#units")
    return _facility_page(request, actor, facility, unit=form, status=form.http_status())


# --- Residents --------------------------------------------------------------------------------


def _sees_residents(actor: User) -> None:
    require(actor, Cap.LTC_VIEW)
    require(actor, Cap.PATIENT_VIEW)


@screen
def resident_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    _sees_residents(actor)
    facilities = queries.facilities_list(actor=actor)
    form = ResidentFilterForm(request.GET or None, facilities=facilities)
    rows: list[Resident] = []
    if not form.is_bound or form.is_valid():
        values = form.cleaned_data if form.is_bound else {}
        try:
            rows = list(
                queries.residents_search(
                    actor=actor,
                    facility_id=values.get("facility"),
                    status=values.get("status") or None,
                    q=values.get("q") or "",
                )
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
    context = {"form": form, "rows": rows, "may_census": has(actor, Cap.LTC_CENSUS)}
    return render(request, "institutional/resident_list.html", context, status=form.http_status())


def _patient_of(actor: User, value: Any) -> Patient | None:
    try:
        pk = int(str(value))
    except (TypeError, ValueError):
        return None
    if not 0 < pk <= MAX_ID:
        return None
    return Patient.objects.filter(site_id=actor.site_id, pk=pk).first()


@screen(methods=FORM)
def resident_admit(request: HttpRequest) -> HttpResponse:
    """Admit: find the patient (name, date of birth or phone), then the facility and room."""
    actor = actor_of(request)
    require(actor, Cap.LTC_CENSUS)
    facilities = [f for f in queries.facilities_list(actor=actor) if f.active]
    data = posted(request)
    patient = _patient_of(actor, (data or request.GET).get("patient"))
    q = (request.GET.get("q") or "").strip()[:100]
    found: list[Patient] = []
    search_error = ""
    if data is None and patient is None and q:
        try:
            found = list(patient_queries.patient_search(actor=actor, q=q, limit=15))
        except FIELD_ERRORS as exc:
            search_error = exc.message
    initial: dict[str, Any] = {"patient": patient.pk if patient else None}
    if len(facilities) == 1:
        initial["facility"] = facilities[0].pk
    form = AdmitForm(data, initial=initial, facilities=facilities)
    if data is not None:
        if form.is_valid() and patient is not None:
            values = form.cleaned_data
            facility = next((f for f in facilities if f.pk == values["facility"]), None)
            unit = None
            if facility is not None and values.get("unit"):
                unit = facility.units.filter(pk=values["unit"]).first()
                if unit is None:
                    form.add_error("unit", "That unit is not one of the facility's.")
            if facility is None:
                form.add_error("facility", "Choose an open facility.")
            if not form.errors and facility is not None:
                try:
                    resident = services.resident_admit(
                        actor=actor,
                        facility=facility,
                        patient=patient,
                        unit=unit,
                        room=values["room"],
                        bed=values["bed"],
                        admitted_at=values.get("admitted_at"),
                    )
                except FIELD_ERRORS as exc:
                    if exc.field == "patient":  # a hidden field: shown above the form
                        form.add_error(None, exc.message)
                        form.error_status = exc.status
                    else:
                        bind_errors(form, exc)
                else:
                    messages.success(
                        request,
                        f"{patient.full_name} admitted to {facility.name}, room "
                        f"{resident.room}. Set the times of each order.",
                    )
                    return redirect("ltc_resident", pk=resident.pk)
        elif patient is None:
            form.add_error(None, "Find and choose the patient first.")
    context = {
        "form": form,
        "patient": patient,
        "q": q,
        "found": found,
        "search_error": search_error,
        "facilities": facilities,
    }
    return render(request, "institutional/resident_admit.html", context, status=form.http_status())


def _resident_page(
    request: HttpRequest,
    actor: User,
    resident: Resident,
    *,
    census: CensusForm | None = None,
    schedule_form: ScheduleForm | None = None,
    status: int = 200,
) -> HttpResponse:
    detail = queries.resident_detail(actor=actor, resident=resident)
    offered = [schedule.clock(p.time) for p in detail.pass_times]
    rows = []
    for line in detail.orders:
        p = line.prescription
        if schedule_form is not None and schedule_form.data.get(f"rx{p.pk}-prescription") == str(
            p.pk
        ):
            rows.append((line, schedule_form))
            continue
        s = line.schedule
        initial: dict[str, Any] = {"prescription": p.pk, "times": line.times}
        if s is not None:
            initial |= {
                "dose": s.dose.normalize(),
                "prn": s.prn,
                "prn_max_per_day": s.prn_max_per_day.normalize() if s.prn_max_per_day else None,
                "start_on": s.start_on,
                "stop_on": s.stop_on,
            }
        else:
            initial |= {"dose": 1, "prn": schedule.frequency_of(p.directions) == "PRN"}
        rows.append((line, ScheduleForm(initial=initial, pass_times=offered, prefix=f"rx{p.pk}")))
    context = {
        "d": detail,
        "r": resident,
        "patient": resident.patient,
        "rows": rows,
        "census_form": census or CensusForm(resident=resident, units=detail.units),
        "may_census": has(actor, Cap.LTC_CENSUS),
        "month": actor.site.today().strftime("%Y-%m"),
    }
    return render(request, "institutional/resident_detail.html", context, status=status)


@screen
def resident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    _sees_residents(actor)
    resident = queries.resident_get(actor=actor, resident_id=pk)
    return _resident_page(request, actor, resident)


@screen(methods=("POST",))
def resident_census(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_CENSUS)
    resident = queries.resident_get(actor=actor, resident_id=pk)
    units = list(resident.facility.units.filter(active=True).order_by("code"))
    form = CensusForm(request.POST, resident=resident, units=units)
    if form.is_valid():
        values = form.cleaned_data
        unit = next((u for u in units if u.pk == values.get("to_unit")), None)
        try:
            event = services.census_record(
                actor=actor,
                resident=resident,
                kind=values["kind"],
                effective_at=values.get("effective_at"),
                to_unit=unit,
                to_room=values["to_room"],
                expected_return=values.get("expected_return"),
                note=values["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{event.get_kind_display()}: {resident.patient.full_name}.")
            return redirect(reverse("ltc_resident", kwargs={"pk": resident.pk}) + "#census")
    return _resident_page(request, actor, resident, census=form, status=form.http_status())


@screen(methods=("POST",))
def resident_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_CENSUS)
    resident = queries.resident_get(actor=actor, resident_id=pk)
    prefix = next(
        (k.removesuffix("-prescription") for k in request.POST if k.endswith("-prescription")),
        "rx",
    )
    offered = [
        schedule.clock(t) for t in resident.facility.pass_times.values_list("time", flat=True)
    ]
    form = ScheduleForm(request.POST, pass_times=offered, prefix=prefix)
    if form.is_valid():
        values = form.cleaned_data
        prescription = Prescription.objects.filter(
            site_id=actor.site_id, pk=values["prescription"]
        ).first()
        try:
            if prescription is None:
                raise Invalid("No such prescription at this pharmacy.", field="prescription")
            services.order_schedule_set(
                actor=actor,
                resident=resident,
                prescription=prescription,
                times=values["times"],
                dose=values["dose"],
                prn=values["prn"],
                prn_max_per_day=values.get("prn_max_per_day"),
                start_on=values.get("start_on"),
                stop_on=values.get("stop_on"),
            )
        except FIELD_ERRORS as exc:
            if (exc.field or "").startswith("times["):
                form.add_error("times", exc.message)
                form.error_status = exc.status
            else:
                bind_errors(form, exc)
        else:
            assert prescription is not None
            messages.success(request, f"Times of Rx {prescription.number} saved.")
            return redirect(reverse("ltc_resident", kwargs={"pk": resident.pk}) + "#orders")
    return _resident_page(request, actor, resident, schedule_form=form, status=form.http_status())


# --- The MAR ----------------------------------------------------------------------------------


@screen
def mar_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The MAR of a month: an HTML preview, or ?format=pdf / csv. Each opening is recorded."""
    actor = actor_of(request)
    _sees_residents(actor)
    resident = queries.resident_get(actor=actor, resident_id=pk)
    today = actor.site.today()
    output = request.GET.get("format") or "html"
    if output not in ("html", "pdf", "csv"):
        raise Invalid("Choose the PDF or the CSV.", field="format")
    month = queries.parse_month(request.GET.get("month"), today)
    grid = queries.mar_of(actor=actor, resident=resident, month=month)
    services.mar_printed(actor=actor, resident=resident, month=month, output=output)
    if output == "pdf":
        return file_response(
            mar_doc.to_pdf(grid), "application/pdf", mar_filename(resident, grid, "pdf")
        )
    if output == "csv":
        return file_response(
            mar_doc.to_csv(grid), "text/csv; charset=utf-8", mar_filename(resident, grid, "csv")
        )
    previous = (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    context = {
        "r": resident,
        "mar": grid,
        "month": f"{month:%Y-%m}",
        "previous": f"{previous:%Y-%m}",
        "following": f"{following:%Y-%m}",
        "BOX": mar_doc.BOX,
        "legend": mar_doc.LEGEND,
    }
    return render(request, "institutional/mar_preview.html", context)


urlpatterns: list[URLPattern] = [
    path("facilities/", facility_list, name="ltc_facilities"),
    path("facilities/new/", facility_new, name="ltc_facility_new"),
    path("facilities/<int:pk>/", facility_detail, name="ltc_facility"),
    path("facilities/<int:pk>/edit/", facility_edit, name="ltc_facility_edit"),
    path("facilities/<int:pk>/pass-times/", facility_pass_times, name="ltc_facility_pass_times"),
    path("facilities/<int:pk>/units/", facility_unit, name="ltc_facility_unit"),
    path("residents/", resident_list, name="ltc_residents"),
    path("residents/admit/", resident_admit, name="ltc_resident_admit"),
    path("residents/<int:pk>/", resident_detail, name="ltc_resident"),
    path("residents/<int:pk>/census/", resident_census, name="ltc_resident_census"),
    path("residents/<int:pk>/schedule/", resident_schedule, name="ltc_resident_schedule"),
    path("residents/<int:pk>/mar/", mar_view, name="ltc_mar"),
]
