"""Workstation screens for the cold chain: the dashboard of refrigerators and freezers (open
excursions first, then the checks still due), the reading form (min, max, current, Enter —
then straight on to the next unit due), the data logger upload, an excursion with its
quarantined stock, the response and the pharmacist's decision, and the printable monthly
temperature log. Parse, call a service or query, render."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import FIELD_ERRORS, RxForm, bind_errors, choice
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.inventory import queries_coldchain as queries
from rxdesk.inventory.choices import ExcursionStatus, LotStatus
from rxdesk.inventory.logger_csv import MAX_CHARS
from rxdesk.inventory.models import Excursion, StorageLocation
from rxdesk.inventory.services import coldchain as services

TIME_INPUT_FORMATS = ["%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"]


def _temperature(label: str, *, required: bool = True, autofocus: bool = False) -> forms.Field:
    """A °C box: text (no spinner), a minus sign and one decimal; the service checks range."""
    attrs: dict[str, Any] = {
        "inputmode": "decimal",
        "autocomplete": "off",
        "class": "temp",
        "placeholder": "°C",
    }
    if autofocus:
        attrs["autofocus"] = True
    return forms.CharField(
        max_length=8, required=required, label=label, widget=forms.TextInput(attrs=attrs)
    )


class ReadingForm(RxForm):
    minimum_c = _temperature("Minimum °C", autofocus=True)
    maximum_c = _temperature("Maximum °C")
    current_c = _temperature("Current °C", required=False)
    note = forms.CharField(
        max_length=services.NOTE_MAX,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    recorded_at = forms.DateTimeField(
        required=False,
        label="Checked at",
        input_formats=TIME_INPUT_FORMATS,
        help_text="Leave blank for now; MM/DD/YYYY HH:MM for a check entered late.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "now"}),
    )

    def clean_recorded_at(self) -> dt.datetime | None:
        # What was typed is the pharmacy's wall-clock time: hand it on without a zone and
        # the service reads it in the site's time zone (not the server's).
        value = self.cleaned_data.get("recorded_at")
        return timezone.make_naive(value) if value is not None else None


class LoggerImportForm(RxForm):
    csv_file = forms.FileField(
        required=False,
        label="Logger CSV file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv,text/plain"}),
    )
    csv_text = forms.CharField(
        required=False,
        max_length=MAX_CHARS,
        label="…or paste the file's text",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"}),
    )
    unit = choice(
        [("", "As the header says"), ("C", "°C"), ("F", "°F")],
        label="Temperatures in",
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("csv_file")
        text = data.get("csv_text") or ""
        if upload is not None:
            if upload.size > MAX_CHARS * 2:
                self.add_error("csv_file", "The file is too large; export a shorter period.")
                return data
            raw = upload.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                # Loggers' Windows software writes "°" as one byte (Windows-1252).
                text = raw.decode("cp1252", errors="replace")
        if not text.strip():
            self.add_error("csv_file", "Choose the logger's CSV file (or paste its text).")
        data["text"] = text
        return data


class RespondForm(RxForm):
    response = forms.CharField(
        max_length=services.RESPONSE_MAX,
        label="What was done",
        help_text=(
            "Cause if known, what you did (door closed, stock moved to a working unit), whom "
            "you called (manufacturer, case number) and what they said."
        ),
        widget=forms.Textarea(attrs={"rows": 4, "autofocus": True}),
    )


class ResolveForm(RxForm):
    disposition = forms.ChoiceField(
        choices=[
            (services.RELEASE, "Release — the stock may be used"),
            (services.DISCARD, "Discard — waste what is left as contaminated"),
        ],
        widget=forms.RadioSelect,
        label="Decision",
    )
    note = forms.CharField(
        max_length=services.RESOLUTION_MAX,
        label="What the decision rests on",
        help_text="e.g. the manufacturer's stability data for this exposure, case number.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


# --- Helpers ---------------------------------------------------------------------------------


def _unit(request: HttpRequest, pk: int) -> StorageLocation:
    return queries.unit_for(actor=actor_of(request), unit_id=pk)


def _excursion(request: HttpRequest, pk: int) -> Excursion:
    return queries.excursion_for(actor=actor_of(request), excursion_id=pk)


def _caps(actor: User) -> dict[str, bool]:
    return {
        "can_record": has(actor, Cap.COLD_CHAIN_RECORD),
        "can_resolve": has(actor, Cap.INVENTORY_APPROVE),
    }


# --- Screens ---------------------------------------------------------------------------------


@screen
def coldchain_dashboard(request: HttpRequest) -> HttpResponse:
    """Every refrigerator and freezer: open excursions in red at the top, then the units with
    their last reading and today's checks; ``r`` opens the next unit due."""
    actor = actor_of(request)
    units = queries.storage_units(actor=actor)
    open_excursions = queries.excursion_list(actor=actor, status=ExcursionStatus.OPEN)
    due = [u for u in units if u.check_due]
    context = {
        "units": units,
        "due": due,
        "next_due": due[0] if due else None,
        "open_excursions": open_excursions,
        "today": actor.site.today(),
        **_caps(actor),
    }
    return render(request, "inventory/coldchain/dashboard.html", context)


@screen(methods=FORM)
def reading_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a check; Enter saves and opens the next unit still due."""
    actor = actor_of(request)
    require(actor, Cap.COLD_CHAIN_RECORD)
    unit = _unit(request, pk)
    form = ReadingForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            result = services.temperature_record(actor=actor, location=unit, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            reading = result.reading
            saved = f"{unit.code}: {reading.minimum_c} to {reading.maximum_c} °C recorded."
            # Saved is a success (it also clears the form's draft); out of range is the alarm.
            messages.success(request, saved)
            if result.excursion is not None:
                what = "opened" if result.excursion_opened else "joined"
                messages.error(
                    request,
                    f"OUT OF RANGE: excursion #{result.excursion.pk} {what}; "
                    f"{len(result.quarantined)} lot(s) quarantined. Do not use the stock; "
                    "document the response.",
                )
                return redirect("inventory_coldchain_excursion", pk=result.excursion.pk)
            # On to the next unit along the round (by code, no wrap-around: a unit that
            # needs its end-of-day check is not offered again straight away).
            after = [u for u in queries.readings_due(actor.site) if u.unit.code > unit.code]
            if after:
                return redirect("inventory_coldchain_reading", pk=after[0].unit.pk)
            return redirect("inventory_coldchain")
    last = queries.unit_readings(unit, limit=3)
    return render(
        request,
        "inventory/coldchain/reading_form.html",
        {"form": form, "unit": unit, "recent": last},
        status=form.http_status(),
    )


@screen(methods=FORM)
def logger_import(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.COLD_CHAIN_RECORD)
    unit = _unit(request, pk)
    form = LoggerImportForm(posted(request), request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            summary = services.temperature_import_logger(
                actor=actor,
                location=unit,
                csv_text=form.cleaned_data["text"],
                unit=form.cleaned_data.get("unit") or None,
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
            # The service names csv_text; show it beside the file box too.
            if exc.field in {"csv_text", None} and "csv_file" not in form.errors:
                form.add_error("csv_file", exc.message)
        else:
            text = (
                f"{summary.rows_read} rows read: {summary.imported} imported, "
                f"{summary.skipped} already on file."
            )
            messages.success(request, text)
            if summary.excursion is not None:
                messages.error(
                    request,
                    f"{summary.out_of_range} reading(s) OUT OF RANGE: excursion "
                    f"#{summary.excursion.pk}; {len(summary.quarantined)} lot(s) quarantined.",
                )
                return redirect("inventory_coldchain_excursion", pk=summary.excursion.pk)
            return redirect("inventory_coldchain")
    return render(
        request,
        "inventory/coldchain/import_form.html",
        {"form": form, "unit": unit},
        status=form.http_status(),
    )


@screen
def temperature_log(request: HttpRequest, pk: int) -> HttpResponse:
    """The unit's log of one month (?month=YYYY-MM), laid out for printing."""
    actor = actor_of(request)
    unit = _unit(request, pk)
    month = queries.month_of(request.GET.get("month", "")[:7], site=actor.site)
    log = queries.temperature_log(unit, month)
    return render(
        request,
        "inventory/coldchain/log.html",
        {"log": log, "unit": unit, "printed_at": queries.now_local(actor.site)},
    )


@screen
def excursion_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    status = request.GET.get("status", "")
    if status not in ExcursionStatus.values:
        status = ""
    rows = queries.excursion_list(actor=actor, status=status or None)
    return render(
        request,
        "inventory/coldchain/excursion_list.html",
        {"excursions": rows, "status": status, "statuses": ExcursionStatus.choices},
    )


def _excursion_context(request: HttpRequest, excursion: Excursion) -> dict[str, Any]:
    return {
        "excursion": excursion,
        "unit": excursion.location,
        "stock": queries.excursion_stock(excursion),
        "readings": queries.excursion_readings(excursion),
        "entries": queries.response_entries(excursion),
        "is_open": excursion.status == ExcursionStatus.OPEN,
        "quarantined": LotStatus.QUARANTINED,
        **_caps(actor_of(request)),
    }


@screen
def excursion_detail(request: HttpRequest, pk: int) -> HttpResponse:
    excursion = _excursion(request, pk)
    return render(
        request,
        "inventory/coldchain/excursion_detail.html",
        _excursion_context(request, excursion),
    )


@screen(methods=FORM)
def excursion_respond(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.COLD_CHAIN_RECORD)
    excursion = _excursion(request, pk)
    form = RespondForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.excursion_respond(
                actor=actor, excursion=excursion, response=form.cleaned_data["response"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The response is on the excursion's record.")
            return redirect("inventory_coldchain_excursion", pk=excursion.pk)
    context = _excursion_context(request, excursion)
    context.update(
        form=form,
        title="Document the response",
        submit="Add to the record",
        draft=f"excursion-respond-{excursion.pk}",
    )
    return render(
        request, "inventory/coldchain/excursion_form.html", context, status=form.http_status()
    )


@screen(methods=FORM)
def excursion_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """The pharmacist's decision: release the quarantined stock or discard it."""
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_APPROVE)
    excursion = _excursion(request, pk)
    form = ResolveForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.excursion_resolve(actor=actor, excursion=excursion, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            done = (
                "released to stock"
                if form.cleaned_data["disposition"] == services.RELEASE
                else "discarded"
            )
            messages.success(request, f"Excursion #{excursion.pk} closed: stock {done}.")
            return redirect("inventory_coldchain_excursion", pk=excursion.pk)
    context = _excursion_context(request, excursion)
    context.update(
        form=form,
        title="Pharmacist's decision",
        submit="Record the decision",
        draft=f"excursion-resolve-{excursion.pk}",
    )
    return render(
        request, "inventory/coldchain/excursion_form.html", context, status=form.http_status()
    )
