"""Workstation pages of the controlled-substance records: disposal. Parse, call, render.

* the Form 41 destructions, one record with its PDF, and the screen that records one: the
  pharmacy's controlled stock to pick from (what is due — expired, quarantined, damaged,
  recalled — first), when, how and where, and two witness blocks where each witness types
  their own user name, password and authenticator code;
* witnessed waste and patient returns: the recent records and the form;
* the disposal register over a date range, on screen or as CSV.

The capability is checked before anything is read, so a refused role gets 403; the rules
live in rxdesk.controlled.services_disposal and are shown beside the field they name."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone

from rxdesk.controlled import queries_disposal as queries
from rxdesk.controlled import services_disposal as services
from rxdesk.controlled.api_disposal import pdf_response
from rxdesk.controlled.choices import WasteKind
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError
from rxdesk.core.forms import (
    FIELD_ERRORS,
    MAX_ID,
    DateField,
    RxForm,
    choice,
    query_string,
    text,
)
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.inventory.models import StockBalance

LINE_FIELDS = ("balance_id", "full_packages", "partial_quantity")
WITNESS_FIELDS = ("username", "password", "otp")
_LINE_ERROR = re.compile(r"^lines\.(\d+)\.(\w+)$")


def _witness_fields(form: RxForm, prefix: str, legend: str) -> None:
    labels = {"username": "User name", "password": "Password", "otp": "Authenticator code"}
    for name in WITNESS_FIELDS:
        key = f"{prefix}.{name}"
        attrs = {"autocomplete": "off", "aria-label": f"{legend}: {labels[name]}"}
        if name == "password":
            form.fields[key] = forms.CharField(
                max_length=256,
                label=labels[name],
                widget=forms.PasswordInput(attrs={**attrs, "autocomplete": "new-password"}),
            )
        elif name == "otp":
            form.fields[key] = forms.CharField(
                max_length=12,
                required=False,
                label=f"{labels[name]} (if enrolled)",
                widget=forms.TextInput(attrs={**attrs, "inputmode": "numeric"}),
            )
        else:
            form.fields[key] = forms.CharField(
                max_length=150, label=labels[name], widget=forms.TextInput(attrs=attrs)
            )


def _witness(form: RxForm, prefix: str) -> dict[str, str]:
    return {name: form.cleaned_data.get(f"{prefix}.{name}") or "" for name in WITNESS_FIELDS}


# --- Forms ------------------------------------------------------------------------------------


class DestructionForm(RxForm):
    """When, how and where; one row per controlled lot on hand (a row left blank is not
    destroyed); two witness blocks."""

    FIELDSETS = (
        ("When, how and where", ("destroyed_at", "method", "method_other", "location", "note")),
    )
    destroyed_at = text(
        20,
        required=True,
        label="Destroyed at (MM/DD/YYYY HH:MM)",
        autocomplete="off",
        placeholder="MM/DD/YYYY HH:MM",
    )
    method = choice(services.METHOD_CHOICES, label="Method (must leave it non-retrievable)")
    method_other = text(190, label="Other method: describe it", autocomplete="off")
    location = text(200, required=True, label="Where it was destroyed", autocomplete="off")
    note = text(500, label="Note")
    rows = forms.IntegerField(
        min_value=0, max_value=queries.LIST_LIMIT, required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, stock: Sequence[StockBalance], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        by_id = {b.pk: b for b in stock}
        ids: list[str] = [str(b.pk) for b in stock]
        if self.is_bound:
            count = 0
            with contextlib.suppress(TypeError, ValueError):
                count = max(0, min(int(self.data.get("rows") or 0), queries.LIST_LIMIT))
            ids = [str(self.data.get(f"lines.{i}.balance_id") or "") for i in range(count)]
        self.row_count = len(ids)
        self.initial["rows"] = self.row_count
        self.row_stock: list[StockBalance | None] = []
        for i, balance_id in enumerate(ids):
            found = by_id.get(int(balance_id)) if balance_id.isdigit() else None
            self.row_stock.append(found)
            label = (
                f"{found.package.product.display_name} lot {found.lot.number}"
                if found is not None
                else f"line {i + 1}"
            )
            self.fields[f"lines.{i}.balance_id"] = forms.CharField(
                max_length=20, required=False, widget=forms.HiddenInput, initial=balance_id
            )
            self.fields[f"lines.{i}.full_packages"] = forms.CharField(
                max_length=10,
                required=False,
                label="Full packages",
                widget=forms.TextInput(
                    attrs={
                        "inputmode": "numeric",
                        "autocomplete": "off",
                        "size": 5,
                        "aria-label": f"{label}: full packages",
                    }
                ),
            )
            self.fields[f"lines.{i}.partial_quantity"] = forms.CharField(
                max_length=20,
                required=False,
                label="Partial count",
                widget=forms.TextInput(
                    attrs={
                        "inputmode": "decimal",
                        "autocomplete": "off",
                        "size": 7,
                        "aria-label": f"{label}: partial count",
                    }
                ),
            )
        _witness_fields(self, "witnesses.0", "First witness")
        _witness_fields(self, "witnesses.1", "Second witness")
        self.SEPARATE = (
            "rows",
            *(f"lines.{i}.{n}" for i in range(self.row_count) for n in LINE_FIELDS),
            *(f"witnesses.{w}.{n}" for w in (0, 1) for n in WITNESS_FIELDS),
        )

    def line_rows(self) -> list[tuple[StockBalance | None, list[Any]]]:
        return [
            (self.row_stock[i], [self[f"lines.{i}.{name}"] for name in LINE_FIELDS])
            for i in range(self.row_count)
        ]

    def witness_blocks(self) -> list[tuple[str, list[Any]]]:
        return [
            (legend, [self[f"witnesses.{w}.{name}"] for name in WITNESS_FIELDS])
            for w, legend in ((0, "First witness"), (1, "Second witness"))
        ]

    def lines(self) -> tuple[list[dict[str, Any]], list[int]]:
        """The rows with something to destroy, and which form row each came from."""
        out: list[dict[str, Any]] = []
        used: list[int] = []
        for i in range(self.row_count):
            full = (self.cleaned_data.get(f"lines.{i}.full_packages") or "").strip()
            partial = (self.cleaned_data.get(f"lines.{i}.partial_quantity") or "").strip()
            if full in ("", "0") and partial in ("", "0"):
                continue
            out.append(
                {
                    "balance_id": self.cleaned_data.get(f"lines.{i}.balance_id") or None,
                    "full_packages": full or 0,
                    "partial_quantity": partial or 0,
                }
            )
            used.append(i)
        return out, used


class WasteForm(RxForm):
    FIELDSETS = (
        ("What was wasted", ("kind", "ndc", "quantity", "lot_number", "reason")),
        ("Whose (a dispensed fill or a patient's return)", ("fill", "patient_id", "method")),
    )
    kind = choice(WasteKind.choices, label="Kind")
    ndc = text(200, required=True, label="NDC or scan", autocomplete="off")
    quantity = text(20, required=True, label="Quantity (billing units)", inputmode="decimal")
    lot_number = text(40, label="Lot (stock still held, or the fill's lot)", autocomplete="off")
    reason = text(services.MAX_REASON, required=True, label="Why", autocomplete="off")
    fill = text(20, label="Rx number-fill (e.g. 1042-1)", autocomplete="off")
    patient_id = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        label="Patient ID (a return without its Rx)",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    method = text(services.MAX_TEXT, label="How it is disposed of", autocomplete="off")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _witness_fields(self, "witness", "Witness")
        self.SEPARATE = tuple(f"witness.{n}" for n in WITNESS_FIELDS)

    def witness_block(self) -> list[Any]:
        return [self[f"witness.{name}"] for name in WITNESS_FIELDS]


class RangeForm(RxForm):
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="To")


# --- Error binding ----------------------------------------------------------------------------


def _bind(form: RxForm, exc: DomainError, rename: dict[str, str], rows: Sequence[int] = ()) -> None:
    """Show a service's broken rule beside the field it names: the service numbers the
    lines it was given, the form its rows (some blank); some fields have other names here."""
    errors = exc.errors or [{"field": exc.field or "", "message": exc.message}]
    for error in errors:
        field = error.get("field") or ""
        match = _LINE_ERROR.match(field)
        if match and int(match.group(1)) < len(rows):
            name = match.group(2)
            name = "full_packages" if name in ("balance_id", "ndc", "lot_number") else name
            field = f"lines.{rows[int(match.group(1))]}.{name}"
        field = rename.get(field, field)
        form.add_error(field if field in form.fields else None, error.get("message") or "")
    form.error_status = exc.status


# --- Destructions -----------------------------------------------------------------------------


@screen
def destruction_list(request: HttpRequest) -> HttpResponse:
    """The Form 41 records, newest first."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    context = {
        "destructions": queries.destructions(actor=actor),
        "may_destroy": has(actor, Cap.CS_DESTROY),
    }
    return render(request, "controlled/destruction_list.html", context)


def _now_text(actor: User) -> str:
    return f"{timezone.now().astimezone(actor.site.tz):%m/%d/%Y %H:%M}"


@screen(methods=FORM)
def destruction_create(request: HttpRequest) -> HttpResponse:
    """Record a destruction on Form 41: pick what is destroyed, then both witnesses sign in."""
    actor = actor_of(request)
    require(actor, Cap.CS_DESTROY)
    stock = queries.destroyable_stock(actor=actor)
    form = DestructionForm(
        posted(request),
        stock=stock,
        initial={"destroyed_at": _now_text(actor), "method": services.INCINERATION},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        lines, used = form.lines()
        method = data["method"]
        if method == services.OTHER:
            method = data["method_other"] or services.OTHER
        try:
            done = services.cs_destroy(
                actor=actor,
                destroyed_at=data["destroyed_at"],
                method=method,
                location=data["location"],
                lines=lines,
                witnesses=[_witness(form, "witnesses.0"), _witness(form, "witnesses.1")],
                note=data["note"],
            )
        except FIELD_ERRORS as exc:
            rename = {"method": "method_other"} if data["method"] == services.OTHER else {}
            _bind(form, exc, rename, used)
        else:
            messages.success(
                request, f"Form 41 #{done.pk} is recorded and the stock is off the shelf."
            )
            return redirect("cs_destruction_detail", pk=done.pk)
    context = {"form": form, "today": actor.site.today(), "has_stock": bool(stock)}
    return render(request, "controlled/destruction_create.html", context, status=form.http_status())


@screen
def destruction_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    destruction = queries.destruction_get(actor=actor, destruction_id=pk)
    context = {"d": destruction, "lines": queries.destruction_lines(destruction)}
    return render(request, "controlled/destruction_detail.html", context)


@screen
def destruction_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    destruction, pdf = queries.form_41_pdf(actor=actor, destruction_id=pk)
    return pdf_response(destruction, pdf)


# --- Waste ------------------------------------------------------------------------------------


WASTE_RENAME = {"fill_id": "fill", "balance_id": "lot_number"}


@screen(methods=FORM)
def waste(request: HttpRequest) -> HttpResponse:
    """Recent witnessed waste and patient returns, and the form that records one."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    data = posted(request)
    if data is not None:
        require(actor, Cap.CS_WASTE)
    form = WasteForm(data)
    if data is not None and form.is_valid():
        values = form.cleaned_data
        fill_id: int | None = None
        if values["fill"]:
            found = queries.fill_by_rx(actor=actor, text=values["fill"])
            if found is None:
                form.add_error("fill", "No such Rx and fill here: type it as 1042-1.")
            else:
                fill_id = found.pk
        if not form.errors:
            try:
                recorded = services.cs_waste_record(
                    actor=actor,
                    kind=values["kind"],
                    ndc=values["ndc"],
                    quantity=values["quantity"],
                    reason=values["reason"],
                    lot_number=values["lot_number"] or None,
                    fill_id=fill_id,
                    patient_id=values["patient_id"],
                    method=values["method"],
                    witness=_witness(form, "witness"),
                )
            except FIELD_ERRORS as exc:
                _bind(form, exc, WASTE_RENAME)
            else:
                messages.success(
                    request,
                    f"{recorded.get_kind_display()} recorded, witnessed by "
                    f"{recorded.witness_name}.",
                )
                return redirect("cs_waste")
    context = {
        "form": form,
        "records": queries.wastes(actor=actor, start=None, end=None)[:100],
        "may_record": has(actor, Cap.CS_WASTE),
    }
    return render(request, "controlled/waste_list.html", context, status=form.http_status())


# --- The disposal register --------------------------------------------------------------------


@screen
def disposals(request: HttpRequest) -> HttpResponse:
    """Everything that left for good between two dates; ``?format=csv`` downloads it."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    form = RangeForm(request.GET or None)
    register = None
    if not form.is_bound or form.is_valid():
        values = form.cleaned_data if form.is_bound else {}
        try:
            register = queries.disposal_register(
                actor=actor, start=values.get("start"), end=values.get("end")
            )
        except FIELD_ERRORS as exc:
            _bind(form, exc, {})
    if register is not None and request.GET.get("format") == "csv":
        response = HttpResponse(queries.register_csv(register), content_type="text/csv")
        name = f"cs-disposals-{register.start.isoformat()}_{register.end.isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "private, no-store"
        return response
    rows = [{"row": row, "day": register.day_of(row)} for row in register.rows] if register else []
    context = {
        "form": form,
        "register": register,
        "rows": rows,
        "csv_query": _csv_query(register.start, register.end) if register else "",
    }
    return render(request, "controlled/disposal_register.html", context, status=form.http_status())


def _csv_query(start: dt.date, end: dt.date) -> str:
    return query_string({"start": start, "end": end, "format": "csv"})


urlpatterns: list[URLPattern] = [
    path("destructions/", destruction_list, name="cs_destructions"),
    path("destructions/new/", destruction_create, name="cs_destruction_create"),
    path("destructions/<int:pk>/", destruction_detail, name="cs_destruction_detail"),
    path("destructions/<int:pk>/form-41.pdf", destruction_pdf, name="cs_destruction_pdf"),
    path("waste/", waste, name="cs_waste"),
    path("disposals/", disposals, name="cs_disposals"),
]
