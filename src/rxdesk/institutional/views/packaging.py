"""Workstation screens of institutional pharmacy: packaging. The repackaging log (filters,
the CSV the boards ask for), a new repackaging (scan the source package: a GS1 code fills
NDC, lot and expiry; the BUD that will apply is shown before saving), one repackaging
(check, reject, labels); the med paks, a new med pak (pick the patient, then their filled
fills and how many go in each time slot), one med pak (check, label); the site's rule and
limits (pharmacist-in-charge). Parse, call rxdesk.institutional services_packaging /
queries_packaging, render: the services decide; each page checks its capability first."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.catalog.models import Package
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, Invalid
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, query_string, text
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.institutional import queries_packaging as queries
from rxdesk.institutional import services_packaging as services
from rxdesk.institutional.api_packaging import pdf_response
from rxdesk.institutional.cabinet_ledger import settings_of
from rxdesk.institutional.choices import ContainerClass, PackagingStatus, RepackRule, Slot
from rxdesk.institutional.models import MedPak, RepackRecord, Resident
from rxdesk.institutional.repack import us
from rxdesk.patients.models import Patient
from rxdesk.patients.queries import patient_search
from rxdesk.rx.models import Fill

PREVIEW, SAVE = "preview", "save"
_ITEM = re.compile(r"^items\[(\d+)\]")


# --- Forms ------------------------------------------------------------------------------------


class RepackSearchForm(RxForm):
    q = text(100, label="Lot, NDC or drug", placeholder="R260105-001", type="search")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *PackagingStatus.choices], label="Status"
    )
    since = DateField(required=False, label="From")
    until = DateField(required=False, label="To")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update({"data-search": True, "autocomplete": "off"})
        self.fields["q"].widget.attrs.pop("autofocus", None)


class RepackForm(RxForm):
    FIELDSETS = (
        ("Source package", ("scan", "ndc", "lot_number")),
        ("Unit doses", ("quantity", "container", "container_class", "note")),
    )
    scan = forms.CharField(
        max_length=200,
        required=False,
        label="Scan the package's barcode",
        widget=forms.TextInput(attrs={"autocomplete": "off", "data-scan": True}),
        help_text="A 2D (GS1) code fills the NDC, lot and expiry.",
    )
    ndc = text(20, label="NDC", autocomplete="off", placeholder="0002-3227-30")
    lot_number = text(40, label="Manufacturer's lot", autocomplete="off")
    quantity = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100000,
        label="Tablets or capsules",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    container = text(120, label="Unit-dose container", placeholder="Blister, Class A")
    container_class = forms.ChoiceField(
        required=False,
        choices=[("", "Choose…"), *ContainerClass.choices],
        label="Moisture class (USP <671>)",
    )
    note = text(300, label="Note")


class RejectForm(RxForm):
    reason = forms.CharField(
        max_length=200,
        label="Why it is rejected",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 200}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].widget.attrs.pop("autofocus", None)


class PakSearchForm(RxForm):
    q = text(100, label="Serial or patient", placeholder="MP260105-001", type="search")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *PackagingStatus.choices], label="Status"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update({"data-search": True, "autocomplete": "off"})
        self.fields["q"].widget.attrs.pop("autofocus", None)


class PatientPickForm(RxForm):
    q = text(100, label="Patient (last, first — or date of birth)", autocomplete="off")


class MedPakForm(RxForm):
    FIELDSETS = (
        ("Card", ("start_on", "days", "slots", "design", "container_class", "consent_by", "note")),
    )
    start_on = DateField(label="First day on the card")
    days = forms.IntegerField(
        min_value=1,
        max_value=35,
        label="Days",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    slots = forms.MultipleChoiceField(
        choices=Slot.choices, widget=forms.CheckboxSelectMultiple, label="Time slots"
    )
    design = text(200, required=True, label="Card design", placeholder="7×4 blister card")
    container_class = forms.ChoiceField(
        choices=[("", "Choose…"), *ContainerClass.choices], label="Moisture class"
    )
    consent_by = text(120, required=True, label="Consent given by")
    note = text(300, label="Note")


class SettingsForm(RxForm):
    repack_rule = forms.ChoiceField(choices=RepackRule.choices, label="Repackaging BUD rule")
    repack_months = forms.IntegerField(
        min_value=1, max_value=12, label="The board's months (own rule)"
    )
    med_pak_days = forms.IntegerField(min_value=1, max_value=60, label="Med pak BUD days")
    discrepancy_hours = forms.IntegerField(
        min_value=1, max_value=24, label="Cabinet discrepancy hours (the shift)"
    )


# --- Repackaging ------------------------------------------------------------------------------


def _csv(body: str, name: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@screen
def repack_list(request: HttpRequest) -> HttpResponse:
    """The repackaging log: waiting for the check, then the log filtered; CSV export."""
    actor = actor_of(request)
    require(actor, Cap.LTC_VIEW)
    form = RepackSearchForm(request.GET or None)
    values: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
    rows = queries.repack_search(
        actor=actor,
        q=values.get("q") or "",
        status=values.get("status") or None,
        since=values.get("since"),
        until=values.get("until"),
        limit=queries.SEARCH_LIMIT if request.GET.get("export") == "csv" else 100,
    )
    if request.GET.get("export") == "csv" and not form.errors:
        return _csv(queries.repack_log_csv(rows, actor.site), "repackaging-log.csv")
    filters = query_string({k: v for k, v in values.items() if k != "export"})
    context = {
        "form": form,
        "rows": rows,
        "waiting": queries.repack_waiting(actor=actor),
        "csv_url": reverse("ltc_repackaging")
        + "?"
        + "&".join(p for p in (filters, "export=csv") if p),
        "may_make": has(actor, Cap.PACKAGING_MAKE),
        "settings": settings_of(actor.site),
    }
    return render(request, "institutional/repack_list.html", context, status=form.http_status())


def _bind(form: RxForm, exc: DomainError, names: dict[str, str]) -> None:
    """A service's error beside the form's field (the service's names mapped to the form's)."""
    for error in exc.errors or [{"field": exc.field or "", "message": exc.message}]:
        field: str | None = names.get(error.get("field") or "", error.get("field") or "")
        if field not in form.fields:
            field = None
        form.add_error(field, error.get("message") or exc.message)
    form.error_status = exc.status


def _package(text_: str) -> Package | None:
    if not (text_ or "").strip():
        return None
    return queries.package_of(text_, field="ndc")


@screen(methods=FORM)
def repack_new(request: HttpRequest) -> HttpResponse:
    """Scan the source package, see the BUD that will apply, then repackage."""
    actor = actor_of(request)
    require(actor, Cap.PACKAGING_MAKE)
    data = posted(request)
    plan = None
    if data is None:
        form = RepackForm(initial={"container_class": ContainerClass.A})
    else:
        form = RepackForm(data)
        if form.is_valid():
            values = form.cleaned_data
            try:
                package = _package(values["ndc"])
                scan = values["scan"]
                if scan.strip():
                    # The scan fills the NDC and lot: show them, then clear the scan field
                    # so the next scan starts fresh.
                    source = queries.read_scan(scan, field="scan")
                    assert source.package is not None
                    if package is not None and package.pk != source.package.pk:
                        raise Invalid(
                            f"The barcode is NDC {source.package.ndc10}, not {package.ndc10}.",
                            field="scan",
                        )
                    package = source.package
                    changed = data.copy()
                    changed["ndc"] = package.ndc10
                    if source.lot_number:
                        changed["lot_number"] = source.lot_number
                    changed["scan"] = ""
                    form = RepackForm(changed)
                    form.is_valid()
                    values = form.cleaned_data
                if data.get("action") == SAVE:
                    record = services.repack_create(
                        actor=actor,
                        package=package,
                        lot_number=values["lot_number"] or None,
                        quantity=values["quantity"],
                        container=values["container"],
                        container_class=values["container_class"],
                        note=values["note"],
                    )
                    messages.success(
                        request,
                        f"Repackaged as {record.number} (BUD {us(record.bud)}): quarantined "
                        "until a pharmacist checks it.",
                    )
                    return redirect("ltc_repack", pk=record.pk)
                plan = services.repack_preview(
                    actor=actor, package=package, lot_number=values["lot_number"] or None
                )
            except FIELD_ERRORS as exc:
                _bind(form, exc, {"package": "ndc", "lot": "lot_number"})
    context = {"form": form, "plan": plan, "settings": settings_of(actor.site)}
    return render(request, "institutional/repack_new.html", context, status=form.http_status())


def _repack_page(
    request: HttpRequest,
    actor: User,
    record: RepackRecord,
    *,
    reject: RejectForm | None = None,
    check_error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "r": record,
        "product": record.package.product,
        "made": record.status == PackagingStatus.MADE,
        "checked": record.status == PackagingStatus.CHECKED,
        "may_make": has(actor, Cap.PACKAGING_MAKE),
        "may_check": has(actor, Cap.PACKAGING_CHECK),
        "own": record.repackaged_by_id == actor.pk,
        "reject_form": reject or RejectForm(),
        "check_error": check_error,
    }
    return render(request, "institutional/repack_detail.html", context, status=status)


@screen
def repack_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_VIEW)
    return _repack_page(request, actor, queries.repack_get(actor=actor, record_id=pk))


@screen(methods=("POST",))
def repack_check(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PACKAGING_CHECK)
    record = queries.repack_get(actor=actor, record_id=pk)
    try:
        done = services.repack_check(actor=actor, record=record)
    except FIELD_ERRORS as exc:
        return _repack_page(request, actor, record, check_error=exc.message, status=exc.status)
    messages.success(request, f"{done.number} checked and released. Print its labels.")
    return redirect("ltc_repack", pk=done.pk)


@screen(methods=("POST",))
def repack_reject(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PACKAGING_CHECK)
    record = queries.repack_get(actor=actor, record_id=pk)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            done = services.repack_reject(
                actor=actor, record=record, reason=form.cleaned_data["reason"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.warning(request, f"{done.number} rejected: the unit doses are destroyed.")
            return redirect("ltc_repack", pk=done.pk)
    return _repack_page(request, actor, record, reject=form, status=form.http_status())


@screen
def repack_labels(request: HttpRequest, pk: int) -> HttpResponse:
    """The unit-dose labels (checked records only; each print is recorded)."""
    actor = actor_of(request)
    require(actor, Cap.PACKAGING_MAKE)
    record = queries.repack_get(actor=actor, record_id=pk)
    pdf = services.repack_labels_print(actor=actor, record=record)
    return pdf_response(pdf, f"unit-dose-{record.number}")


# --- Med paks ---------------------------------------------------------------------------------


@screen
def med_pak_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_VIEW)
    form = PakSearchForm(request.GET or None)
    values: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
    rows = queries.med_pak_search(
        actor=actor, q=values.get("q") or "", status=values.get("status") or None
    )
    context = {
        "form": form,
        "rows": rows,
        "may_make": has(actor, Cap.PACKAGING_MAKE) and has(actor, Cap.PATIENT_VIEW),
        "names": queries.shows_patients(actor),
    }
    return render(request, "institutional/med_pak_list.html", context, status=form.http_status())


class _Row:
    """One fill on the new-pak grid: its inputs by slot and its own errors."""

    def __init__(self, fill: Fill, data: Any, slots: list[str]) -> None:
        self.fill = fill
        self.package = fill.package or fill.prescription.package
        self.errors: list[str] = []
        key = f"q_{fill.pk}_"
        self.values = {s.value: (data.get(key + s.value, "") if data else "") for s in Slot}
        self.description = data.get(f"d_{fill.pk}", "") if data else ""
        self.slots = slots

    def per_slot(self) -> dict[str, str]:
        return {s: v.strip() for s, v in self.values.items() if v.strip()}


def _item_errors(exc: DomainError) -> list[tuple[int, str]]:
    out = []
    for error in exc.errors or [{"field": exc.field or "", "message": exc.message}]:
        m = _ITEM.match(error.get("field") or "")
        if m:
            out.append((int(m.group(1)), error.get("message") or exc.message))
    return out


@screen(methods=FORM)
def med_pak_new(request: HttpRequest) -> HttpResponse:
    """Pick the patient, then the fills going on the card and how many in each slot."""
    actor = actor_of(request)
    require(actor, Cap.PACKAGING_MAKE)
    require(actor, Cap.PATIENT_VIEW)
    site = actor.site
    data = posted(request)
    chosen = (data or request.GET).get("patient")
    if not chosen:
        pick = PatientPickForm(data if data is not None else (request.GET or None))
        found: list[Patient] | None = None
        if pick.is_bound and pick.is_valid():
            if data is not None:
                pick.add_error("q", "Choose the patient first.")
            elif pick.cleaned_data["q"]:
                found = list(patient_search(actor=actor, q=pick.cleaned_data["q"], limit=25))
        return render(
            request,
            "institutional/med_pak_new.html",
            {"pick": pick, "found": found},
            status=pick.http_status(),
        )
    patient = queries.patient_of(actor=actor, patient_id=chosen)
    fills = queries.packable_fills(actor=actor, patient=patient)
    resident = (
        Resident.objects.filter(site=site, patient=patient).exclude(status="discharged").first()
    )
    if data is None:
        form = MedPakForm(
            initial={
                "start_on": site.today() + dt.timedelta(days=1),
                "days": 7,
                "slots": [Slot.MORNING, Slot.BEDTIME],
                "container_class": ContainerClass.A,
            }
        )
    else:
        form = MedPakForm(data)
    slots = list(data.getlist("slots")) if data is not None else []
    rows = [_Row(f, data, slots) for f in fills]
    if data is not None and form.is_valid():
        values = form.cleaned_data
        chosen_rows = [r for r in rows if r.per_slot()]
        try:
            pak = services.med_pak_create(
                actor=actor,
                patient=patient,
                resident=resident,
                start_on=values["start_on"],
                days=values["days"],
                slots=list(values["slots"]),
                design=values["design"],
                container_class=values["container_class"],
                consent_by=values["consent_by"],
                note=values["note"],
                items=[
                    {
                        "fill_id": r.fill.pk,
                        "per_slot": r.per_slot(),
                        "description": r.description,
                    }
                    for r in chosen_rows
                ],
            )
        except FIELD_ERRORS as exc:
            placed = _item_errors(exc)
            for index, message in placed:
                if index < len(chosen_rows):
                    chosen_rows[index].errors.append(message)
            if not placed:
                bind_errors(form, exc)
            form.error_status = exc.status
            if placed and not form.errors:
                form.add_error(None, "Fix the drugs marked below.")
        else:
            messages.success(
                request,
                f"Med pak {pak.number} prepared (BUD {us(pak.bud)}): a pharmacist checks it.",
            )
            return redirect("ltc_med_pak", pk=pak.pk)
    context = {
        "patient": patient,
        "resident": resident,
        "form": form,
        "rows": rows,
        "slot_choices": Slot.choices,
        "med_pak_days": settings_of(site).med_pak_days,
    }
    return render(request, "institutional/med_pak_new.html", context, status=form.http_status())


def _pak_page(
    request: HttpRequest, actor: User, pak: MedPak, *, check_error: str = "", status: int = 200
) -> HttpResponse:
    items = queries.med_pak_items(pak)
    letters = [chr(ord("A") + i) if i < 26 else str(i + 1) for i in range(len(items))]
    grid = []
    for d in range(pak.days):
        day = pak.start_on + dt.timedelta(days=d)
        cells = []
        for slot in pak.slots:
            cells.append(
                ", ".join(
                    f"{letters[i]} {Decimal(item.per_slot[slot]).normalize():f}"
                    for i, item in enumerate(items)
                    if slot in item.per_slot
                )
            )
        grid.append((day, cells))
    context = {
        "p": pak,
        "items": list(zip(letters, items, strict=True)),
        "slots": [dict(Slot.choices).get(s, s) for s in pak.slots],
        "grid": grid,
        "names": queries.shows_patients(actor),
        "made": pak.status == PackagingStatus.MADE,
        "checked": pak.status == PackagingStatus.CHECKED,
        "may_make": has(actor, Cap.PACKAGING_MAKE),
        "may_check": has(actor, Cap.PACKAGING_CHECK),
        "own": pak.prepared_by_id == actor.pk,
        "check_error": check_error,
    }
    return render(request, "institutional/med_pak_detail.html", context, status=status)


@screen
def med_pak_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.LTC_VIEW)
    return _pak_page(request, actor, queries.med_pak_get(actor=actor, pak_id=pk))


@screen(methods=("POST",))
def med_pak_check(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PACKAGING_CHECK)
    pak = queries.med_pak_get(actor=actor, pak_id=pk)
    try:
        done = services.med_pak_check(actor=actor, pak=pak)
    except FIELD_ERRORS as exc:
        return _pak_page(request, actor, pak, check_error=exc.message, status=exc.status)
    messages.success(request, f"{done.number} checked. Print its label.")
    return redirect("ltc_med_pak", pk=done.pk)


@screen
def med_pak_label(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PACKAGING_MAKE)
    pak = queries.med_pak_get(actor=actor, pak_id=pk)
    pdf = services.med_pak_label_print(actor=actor, pak=pak)
    return pdf_response(pdf, f"med-pak-{pak.number}")


# --- Settings ---------------------------------------------------------------------------------


@screen(methods=FORM)
def packaging_settings(request: HttpRequest) -> HttpResponse:
    """The repackaging rule of the state, the med pak days, the discrepancy window (PIC)."""
    actor = actor_of(request)
    require(actor, Cap.LTC_SETUP)
    kept = settings_of(actor.site)
    data = posted(request)
    initial = {
        "repack_rule": kept.repack_rule,
        "repack_months": kept.repack_months,
        "med_pak_days": kept.med_pak_days,
        "discrepancy_hours": kept.discrepancy_hours,
    }
    form = SettingsForm(data, initial=initial)
    if data is not None and form.is_valid():
        try:
            services.packaging_settings_save(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "Packaging rules saved.")
            return redirect("ltc_packaging_settings")
    return render(
        request, "institutional/packaging_settings.html", {"form": form}, status=form.http_status()
    )


urlpatterns: list[URLPattern] = [
    path("repackaging/", repack_list, name="ltc_repackaging"),
    path("repackaging/new/", repack_new, name="ltc_repack_new"),
    path("repackaging/<int:pk>/", repack_detail, name="ltc_repack"),
    path("repackaging/<int:pk>/check/", repack_check, name="ltc_repack_check"),
    path("repackaging/<int:pk>/reject/", repack_reject, name="ltc_repack_reject"),
    path("repackaging/<int:pk>/labels/", repack_labels, name="ltc_repack_labels"),
    path("med-paks/", med_pak_list, name="ltc_med_paks"),
    path("med-paks/new/", med_pak_new, name="ltc_med_pak_new"),
    path("med-paks/<int:pk>/", med_pak_detail, name="ltc_med_pak"),
    path("med-paks/<int:pk>/check/", med_pak_check, name="ltc_med_pak_check"),
    path("med-paks/<int:pk>/label/", med_pak_label, name="ltc_med_pak_label"),
    path("packaging/settings/", packaging_settings, name="ltc_packaging_settings"),
]
