"""Workstation pages of compounding records: the worklist with its counts per step and a
search, a new record (pick the formula, the quantity, the person, the hood, scan each
component's lot; the scaled amounts and the lots to be taken are shown before anything is
committed), one record (components with their measure fields, the calculation steps, the
BUD and its rule, the hazardous-drug requirements, the quality checks, submit, verify,
reject, the label). Parse, call rxdesk.compounding services_records / queries_records,
render: the services decide; each page checks its capability first."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.compounding import labels
from rxdesk.compounding import queries_records as queries
from rxdesk.compounding import services_records as services
from rxdesk.compounding.api_records import pdf_response
from rxdesk.compounding.choices import STERILE_CATEGORIES, RecordStatus, SourceContainer
from rxdesk.compounding.models import CompoundingRecord, MasterFormula
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Invalid
from rxdesk.core.forms import (
    DATE_INPUT_FORMATS,
    FIELD_ERRORS,
    MAX_ID,
    DateField,
    RxForm,
    bind_errors,
    text,
)
from rxdesk.core.models import Site, User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.rx.models import Prescription

PREVIEW, START = "preview", "start"
DATETIME_INPUT_FORMATS = [f"{d} %H:%M" for d in DATE_INPUT_FORMATS]


# --- Forms ------------------------------------------------------------------------------------


class SearchForm(RxForm):
    q = text(100, label="Lot number or preparation", placeholder="C260105-001", type="search")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *RecordStatus.choices], label="Status"
    )
    day = DateField(required=False, label="Prepared on")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update({"data-search": True, "autocomplete": "off"})
        self.fields["q"].widget.attrs.pop("autofocus", None)


class NewRecordForm(RxForm):
    """The record to start: the formula, how much, who compounds, where, and per stocked
    ingredient the lot scanned (blank: first expiry first out)."""

    FIELDSETS = (
        (
            "Preparation",
            ("formula", "quantity", "unit", "compounded_by", "control", "rx_number"),
        ),
    )
    formula = forms.TypedChoiceField(coerce=int, label="Master formula")
    quantity = forms.DecimalField(
        min_value=0, max_digits=12, decimal_places=4, label="Quantity to make"
    )
    unit = text(20, required=True, label="Unit", autocomplete="off")
    compounded_by = forms.TypedChoiceField(coerce=int, label="Compounded by")
    control = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Hood / isolator (PEC)"
    )
    rx_number = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        label="Rx number (patient-specific)",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(
        self, *args: Any, site: Site, formula: MasterFormula | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.chosen = formula
        self.ingredients = queries.ingredients_of(formula) if formula is not None else []
        self._choice("formula").choices = [("", "Choose…")] + [
            (f.pk, f"{f.name} {f.strength} {f.dosage_form} — {f.code} v{f.version}")
            for f in queries.approved_formulas(site)
        ]
        self._choice("compounded_by").choices = [
            (u.pk, f"{u.display_name} ({u.role_label})") for u in queries.compounders(site)
        ]
        self._choice("control").choices = [("", "None")] + [
            (c.pk, f"{c.name} — {c.get_kind_display()}, {c.room.name}")
            for c in queries.controls(site)
        ]
        if formula is None:
            for name in ("quantity", "unit", "compounded_by", "control", "rx_number"):
                self.fields[name].required = False
            return
        self.fields["formula"].widget.attrs.pop("autofocus", None)
        self.fields["quantity"].widget.attrs["autofocus"] = True
        sterile = formula.category in STERILE_CATEGORIES
        for ing in self.ingredients:
            if ing.product_id is not None:
                self.fields[f"lot_{ing.position}"] = forms.CharField(
                    max_length=200,
                    required=False,
                    label=f"{ing.position}. {ing.name}: lot (scan, or blank for first expiry)",
                    widget=forms.TextInput(attrs={"autocomplete": "off", "data-scan": True}),
                )
            if sterile:
                self.fields[f"source_{ing.position}"] = forms.ChoiceField(
                    required=False,
                    choices=SourceContainer.choices,
                    label=f"{ing.position}. {ing.name}: container",
                )
                self.fields[f"opened_{ing.position}"] = forms.DateTimeField(
                    required=False,
                    input_formats=DATETIME_INPUT_FORMATS,
                    label="First opened (MM/DD/YYYY HH:MM)",
                    widget=forms.DateTimeInput(
                        format="%m/%d/%Y %H:%M", attrs={"autocomplete": "off"}
                    ),
                )
                self.fields[f"iso5_{ing.position}"] = forms.BooleanField(
                    required=False, initial=True, label="Opened in ISO 5 air"
                )
        # Placed by the template in their own sections, not in the fieldsets.
        self.SEPARATE = tuple(n for n in self.fields if n not in self.base_fields)

    def _choice(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])

    def lots(self) -> dict[int, str | None]:
        data = self.cleaned_data
        return {
            i.position: data.get(f"lot_{i.position}") or None
            for i in self.ingredients
            if i.product_id is not None
        }

    def sources(self) -> dict[int, dict[str, Any]]:
        data = self.cleaned_data
        out: dict[int, dict[str, Any]] = {}
        for i in self.ingredients:
            container = data.get(f"source_{i.position}") or ""
            if container:
                out[i.position] = {
                    "container": container,
                    "first_opened_at": data.get(f"opened_{i.position}"),
                    "in_iso5": bool(data.get(f"iso5_{i.position}")),
                }
        return out

    def scan_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.fields if n.startswith("lot_")]

    def source_rows(self) -> list[list[forms.BoundField]]:
        return [
            [self[f"source_{i.position}"], self[f"opened_{i.position}"], self[f"iso5_{i.position}"]]
            for i in self.ingredients
            if f"source_{i.position}" in self.fields
        ]


class MeasureForm(RxForm):
    component = forms.IntegerField(min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)
    measured_quantity = forms.DecimalField(
        min_value=0, max_digits=14, decimal_places=4, label="Measured"
    )
    measured_unit = text(20, required=True, label="Unit", autocomplete="off")
    deviation = text(500, label="Deviation (when more than ±5 % off)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["measured_quantity"].widget.attrs.pop("autofocus", None)
        self.fields["component"].widget.attrs.pop("autofocus", None)


class CheckForm(RxForm):
    FIELDSETS = (("Quality check", ("name", "expected", "result", "passed")),)
    name = text(120, required=True, label="Check", list="planned-checks", autocomplete="off")
    expected = text(200, label="Expected")
    result = text(200, required=True, label="Result")
    passed = forms.ChoiceField(
        choices=[("", "Choose…"), ("yes", "Passed"), ("no", "Failed")], label="Verdict"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.pop("autofocus", None)


class SubmitForm(RxForm):
    FIELDSETS = (("Finish", ("physical_description", "deviations")),)
    physical_description = text(300, label="Physical description of the preparation")
    deviations = forms.CharField(
        max_length=2000,
        required=False,
        label="Deviations from the formula, problems (with what was done)",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 2000}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["physical_description"].widget.attrs.pop("autofocus", None)


class RejectForm(RxForm):
    reason = forms.CharField(
        max_length=500,
        label="Why it is rejected",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 500}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].widget.attrs.pop("autofocus", None)


# --- Worklist ---------------------------------------------------------------------------------


@screen
def record_list(request: HttpRequest) -> HttpResponse:
    """The bench: being compounded, waiting for verification, verified today; a search."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    work = queries.worklist(actor=actor)
    form = SearchForm(request.GET or None)
    found: list[CompoundingRecord] | None = None
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
        if values["q"] or values["status"] or values["day"]:
            found = queries.records_search(
                actor=actor,
                q=values["q"],
                status=values["status"] or None,
                day=values["day"],
            )
    context = {
        "work": work,
        "counts": work.counts,
        "form": form,
        "found": found,
        "may_make": has(actor, Cap.COMPOUNDING_MAKE),
    }
    return render(request, "compounding/record_list.html", context, status=form.http_status())


# --- New record -------------------------------------------------------------------------------


def _formula_of(site: Site, value: Any) -> MasterFormula | None:
    try:
        pk = int(str(value))
    except (TypeError, ValueError):
        return None
    if not 0 < pk <= MAX_ID:
        return None
    return queries.approved_formulas(site).filter(pk=pk).first()


def _prescription(site: Site, number: int | None) -> Prescription | None:
    if number is None:
        return None
    found = Prescription.objects.filter(site=site, number=number).first()
    if found is None:
        raise Invalid(f"No Rx {number} at this pharmacy.", field="rx_number")
    return found


@screen(methods=FORM)
def record_new(request: HttpRequest) -> HttpResponse:
    """Start a record: the form, the scaled amounts and the lots it would take, then start."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_MAKE)
    site = actor.site
    data = posted(request)
    formula = _formula_of(site, (data or request.GET).get("formula"))
    preview = None
    preview_error = ""
    if data is None:
        initial: dict[str, Any] = {"compounded_by": actor.pk}
        if formula is not None:
            initial |= {
                "formula": formula.pk,
                "quantity": formula.batch_quantity.normalize(),
                "unit": formula.batch_unit,
            }
        form = NewRecordForm(initial=initial, site=site, formula=formula)
        if formula is not None:
            try:
                preview = queries.record_preview(
                    actor=actor,
                    formula=formula,
                    quantity=formula.batch_quantity,
                    unit=formula.batch_unit,
                )
            except FIELD_ERRORS as exc:
                preview_error = exc.message
    else:
        form = NewRecordForm(data, site=site, formula=formula)
        if form.is_valid() and formula is not None:
            values = form.cleaned_data
            try:
                if data.get("action") == START:
                    record = services.record_start(
                        actor=actor,
                        formula=formula,
                        quantity=values["quantity"],
                        unit=values["unit"],
                        compounded_by=queries.compounders(site)
                        .filter(pk=values["compounded_by"])
                        .first(),
                        prescription=_prescription(site, values.get("rx_number")),
                        control=queries.controls(site).filter(pk=values["control"]).first()
                        if values.get("control")
                        else None,
                        lots=form.lots(),
                        sources=form.sources(),
                    )
                    messages.success(
                        request,
                        f"Record {record.lot_number} started: the components are taken from "
                        "stock. Weigh or measure each one.",
                    )
                    return redirect("compounding_record", pk=record.pk)
                preview = queries.record_preview(
                    actor=actor,
                    formula=formula,
                    quantity=values["quantity"],
                    unit=values["unit"],
                    lots=form.lots(),
                )
            except FIELD_ERRORS as exc:
                bind_errors(form, exc)
        elif form.is_valid():
            form.add_error("formula", "Choose an approved formula.")
    context = {
        "form": form,
        "formula": formula,
        "preview": preview,
        "preview_error": preview_error,
        "scan_fields": form.scan_fields(),
        "source_rows": form.source_rows(),
    }
    return render(request, "compounding/record_new.html", context, status=form.http_status())


# --- One record -------------------------------------------------------------------------------


def _planned_checks(formula: MasterFormula) -> list[tuple[str, str]]:
    """The formula's quality checks, one a line as "name = expected"."""
    out = []
    for line in (formula.quality_checks or "").splitlines():
        name, _, expected = line.partition("=")
        if name.strip():
            out.append((name.strip(), expected.strip()))
    return out


def _measure_forms(components: list[Any], bound: MeasureForm | None) -> dict[int, MeasureForm]:
    """A measure form per component line; the cursor starts in the one that was refused,
    else in the first line not yet measured (the scale's reading goes there next)."""
    out: dict[int, MeasureForm] = {}
    focused = bound is not None
    for c in components:
        if bound is not None and bound.data.get("component") == str(c.pk):
            bound.fields["measured_quantity"].widget.attrs["autofocus"] = True
            out[c.pk] = bound
            continue
        form = MeasureForm(
            initial={"component": c.pk, "measured_unit": c.measured_unit or c.unit},
            auto_id=f"id_c{c.pk}_%s",
        )
        if not focused and c.measured_quantity is None:
            form.fields["measured_quantity"].widget.attrs["autofocus"] = True
            focused = True
        out[c.pk] = form
    return out


def _detail(
    request: HttpRequest,
    actor: User,
    record: CompoundingRecord,
    *,
    measure: MeasureForm | None = None,
    check: CheckForm | None = None,
    submit: SubmitForm | None = None,
    reject: RejectForm | None = None,
    verify_error: str = "",
    status: int = 200,
) -> HttpResponse:
    components = queries.components_of(record)
    forms_by_component = _measure_forms(components, measure)
    rows = [(c, forms_by_component[c.pk]) for c in components]
    checks = queries.checks_of(record)
    planned = _planned_checks(record.formula)
    done = {c.name.casefold() for c in checks}
    open_ = record.status in (RecordStatus.IN_PROGRESS, RecordStatus.AWAITING_VERIFICATION)
    context = {
        "r": record,
        "f": record.formula,
        "rows": rows,
        "checks": checks,
        "planned": planned,
        "planned_left": [(n, e) for n, e in planned if n.casefold() not in done],
        "calculations": record.calculations or [],
        "shows_time": labels.shows_time(record),
        "check_form": check or CheckForm(),
        "submit_form": submit
        or SubmitForm(initial={"physical_description": record.formula.physical_description}),
        "reject_form": reject or RejectForm(),
        "verify_error": verify_error,
        "in_progress": record.status == RecordStatus.IN_PROGRESS,
        "awaiting": record.status == RecordStatus.AWAITING_VERIFICATION,
        "verified": record.status == RecordStatus.VERIFIED,
        "open": open_,
        "may_make": has(actor, Cap.COMPOUNDING_MAKE),
        "may_verify": has(actor, Cap.COMPOUNDING_VERIFY),
        "own": record.compounded_by_id == actor.pk,
        "stock_note": services.REJECTED_STOCK_NOTE,
    }
    return render(request, "compounding/record_detail.html", context, status=status)


def _record(actor: User, pk: int) -> CompoundingRecord:
    return queries.record_get(actor=actor, record_id=pk)


@screen
def record_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One record: components and measurements, calculations, BUD, checks, the steps left."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    return _detail(request, actor, _record(actor, pk))


def _back(pk: int, anchor: str) -> HttpResponse:
    return redirect(reverse("compounding_record", kwargs={"pk": pk}) + anchor)


@screen(methods=("POST",))
def record_measure(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_MAKE)
    record = _record(actor, pk)
    form = MeasureForm(request.POST)
    if form.is_valid():
        values = form.cleaned_data
        try:
            c = services.record_measure(
                actor=actor,
                record=record,
                component_id=values["component"],
                measured_quantity=values["measured_quantity"],
                measured_unit=values["measured_unit"],
                deviation=values["deviation"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{c.name}: {c.measured_quantity:f} {c.measured_unit}.")
            return _back(record.pk, "#components")
    component = request.POST.get("component", "")
    form.auto_id = f"id_c{component}_%s" if component.isdigit() else "id_%s"
    return _detail(request, actor, record, measure=form, status=form.http_status())


@screen(methods=("POST",))
def record_check(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_MAKE)
    record = _record(actor, pk)
    form = CheckForm(request.POST)
    if form.is_valid():
        values = form.cleaned_data
        try:
            services.record_check(
                actor=actor,
                record=record,
                name=values["name"],
                expected=values["expected"],
                result=values["result"],
                passed=values["passed"] == "yes",
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Check recorded: {values['name']}.")
            return _back(record.pk, "#checks")
    return _detail(request, actor, record, check=form, status=form.http_status())


@screen(methods=("POST",))
def record_submit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_MAKE)
    record = _record(actor, pk)
    form = SubmitForm(request.POST)
    if form.is_valid():
        values = form.cleaned_data
        try:
            services.record_submit(
                actor=actor,
                record=record,
                physical_description=values["physical_description"],
                deviations=values["deviations"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{record.lot_number} is waiting for verification.")
            return redirect("compounding_records")
    return _detail(request, actor, record, submit=form, status=form.http_status())


@screen(methods=("POST",))
def record_verify(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VERIFY)
    record = _record(actor, pk)
    try:
        done = services.record_verify(actor=actor, record=record)
    except FIELD_ERRORS as exc:
        return _detail(request, actor, record, verify_error=exc.message, status=exc.status)
    messages.success(request, f"{done.lot_number} verified and released. Print its label.")
    return _back(done.pk, "#label")


@screen(methods=("POST",))
def record_reject(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VERIFY)
    record = _record(actor, pk)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            done = services.record_reject(
                actor=actor, record=record, reason=form.cleaned_data["reason"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.warning(request, f"{done.lot_number} rejected. {services.REJECTED_STOCK_NOTE}")
            return _back(done.pk, "")
    return _detail(request, actor, record, reject=form, status=form.http_status())


@screen
def record_label(request: HttpRequest, pk: int) -> HttpResponse:
    """The label PDF of a verified preparation (each print is recorded)."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_MAKE)
    record = _record(actor, pk)
    return pdf_response(record, services.record_label(actor=actor, record=record))


urlpatterns: list[URLPattern] = [
    path("records/", record_list, name="compounding_records"),
    path("records/new/", record_new, name="compounding_record_new"),
    path("records/<int:pk>/", record_detail, name="compounding_record"),
    path("records/<int:pk>/measure/", record_measure, name="compounding_record_measure"),
    path("records/<int:pk>/check/", record_check, name="compounding_record_check"),
    path("records/<int:pk>/submit/", record_submit, name="compounding_record_submit"),
    path("records/<int:pk>/verify/", record_verify, name="compounding_record_verify"),
    path("records/<int:pk>/reject/", record_reject, name="compounding_record_reject"),
    path("records/<int:pk>/label/", record_label, name="compounding_record_label"),
]
