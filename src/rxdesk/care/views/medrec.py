"""Workstation screens of medication reconciliation: the list (the pharmacist's review queue
first), starting one, the med rec itself (the history typed fast from the keyboard, the
fill history imported, the side-by-side comparison history | profile | discrepancy, the
discrepancies with the pharmacist's outcomes, completion) and the reconciled list printed
for the patient. Parse, call rxdesk.care services_medrec / queries_medrec, render.

Opening a med rec or its printout is recorded (PHI access)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.care import queries_medrec as queries
from rxdesk.care import services_medrec as services
from rxdesk.care.choices import (
    HistorySource,
    MedRecDiscrepancyKind,
    MedRecOutcome,
    MedRecReason,
    MedRecStatus,
    Taking,
)
from rxdesk.care.models import MedRec, MedRecDiscrepancy, MedRecItem
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, Invalid, NotFound
from rxdesk.core.forms import MAX_ID, DateField, RxForm, bind_errors
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, screen
from rxdesk.patients.models import Patient, Prescriber

POST = ("POST",)
# Sources typed by hand (the fill history comes from "Import fills").
HAND_SOURCES = [c for c in HistorySource.choices if c[0] != HistorySource.FILL_HISTORY]
KIND_CSS = {
    "omission": "danger",
    "commission": "warn",
    "dose": "warn",
    "frequency": "warn",
    "route": "warn",
    "duplication": "danger",
}


# --- Forms ------------------------------------------------------------------------------------


class FilterForm(RxForm):
    status = forms.ChoiceField(
        required=False, choices=[("", "Not completed"), *MedRecStatus.choices, ("all", "All")]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].widget.attrs.pop("autofocus", None)


class StartForm(RxForm):
    patient = forms.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        label="Patient number",
        widget=forms.NumberInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    reason = forms.ChoiceField(choices=[("", "Choose…"), *MedRecReason.choices])
    interviewed = forms.CharField(
        max_length=services.INTERVIEWED_MAX,
        required=False,
        label="Who is interviewed (patient, or the caregiver's name)",
    )


class ItemForm(RxForm):
    """One line of the history: the name first, Tab through, Enter adds and comes back to
    the name for the next one."""

    FIELDSETS = (
        ("", ("drug_name", "strength", "dose", "route", "frequency", "taking")),
        ("", ("source", "source_detail", "indication", "last_taken", "note")),
    )
    drug_name = forms.CharField(max_length=services.DRUG_NAME_MAX, label="Medication")
    strength = forms.CharField(max_length=services.STRENGTH_MAX, required=False)
    dose = forms.CharField(
        max_length=services.DOSE_MAX,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "1 tablet"}),
    )
    route = forms.CharField(
        max_length=services.ROUTE_MAX,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "by mouth"}),
    )
    frequency = forms.CharField(
        max_length=services.FREQUENCY_MAX,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "BID"}),
    )
    taking = forms.ChoiceField(choices=Taking.choices, initial=Taking.TAKING)
    source = forms.ChoiceField(choices=HAND_SOURCES, initial=HistorySource.INTERVIEW)
    source_detail = forms.CharField(
        max_length=services.SOURCE_DETAIL_MAX, required=False, label="Which list / detail"
    )
    indication = forms.CharField(max_length=services.INDICATION_MAX, required=False)
    last_taken = DateField(required=False, label="Last dose")
    note = forms.CharField(max_length=services.ITEM_NOTE_MAX, required=False)


class DiscrepancyForm(RxForm):
    kind = forms.ChoiceField(choices=[("", "Choose…"), *MedRecDiscrepancyKind.choices])
    description = forms.CharField(max_length=services.DESCRIPTION_MAX)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.attrs.pop("autofocus", None)


class ResolveForm(RxForm):
    outcome = forms.ChoiceField(choices=[("", "Choose…"), *MedRecOutcome.choices])
    prescriber = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Prescriber contacted"
    )
    note = forms.CharField(max_length=services.OUTCOME_NOTE_MAX, required=False)

    def __init__(self, *args: Any, prescribers: list[Prescriber], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["outcome"].widget.attrs.pop("autofocus", None)
        field = self.fields["prescriber"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "—")] + [
            (p.pk, f"{p.last_name}, {p.first_name}") for p in prescribers
        ]


class CompleteForm(RxForm):
    summary = forms.CharField(
        max_length=services.SUMMARY_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Summary for the record",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["summary"].widget.attrs.pop("autofocus", None)


# --- Helpers ----------------------------------------------------------------------------------


def _medrec(actor: User, pk: int) -> MedRec:
    return queries.medrec_get(actor=actor, medrec_id=pk)


def _prescribers(medrec: MedRec) -> list[Prescriber]:
    """The prescribers of the patient's prescriptions first; the list a resolve chooses from."""
    ids = {
        rx.prescriber_id
        for rx in medrec.patient.prescriptions.filter(site_id=medrec.site_id).only("prescriber_id")
    }
    return list(Prescriber.objects.filter(site_id=medrec.site_id, pk__in=ids).order_by("last_name"))


def _detail(
    request: HttpRequest,
    actor: User,
    medrec: MedRec,
    *,
    item_form: ItemForm | None = None,
    discrepancy_form: DiscrepancyForm | None = None,
    resolve_forms: dict[int, ResolveForm] | None = None,
    complete_form: CompleteForm | None = None,
    error: DomainError | None = None,
    status: int = 200,
) -> HttpResponse:
    sbs = queries.side_by_side(medrec)
    prescribers = _prescribers(medrec)
    discrepancies = queries.discrepancies_of(medrec)
    forms_by_id = resolve_forms or {}
    rows = []
    for r in sbs.comparison.rows:
        rx = sbs.prescriptions.get(r.profile.prescription_id) if r.profile else None
        rows.append(
            {
                "history": r.history,
                "profile": r.profile,
                "item": sbs.items.get(r.history.key) if r.history else None,
                "rx": rx,
                "kinds": [
                    (k, MedRecDiscrepancyKind(k).label, KIND_CSS.get(k, "")) for k in r.kinds
                ],
            }
        )
    is_open = medrec.status == MedRecStatus.OPEN
    in_review = medrec.status == MedRecStatus.REVIEW
    context = {
        "m": medrec,
        "patient": medrec.patient,
        "items": list(sbs.items.values()),
        "rows": rows,
        "discrepancies": [
            (d, forms_by_id.get(d.pk) or ResolveForm(prescribers=prescribers, prefix=f"d{d.pk}"))
            for d in discrepancies
        ],
        "open_count": sum(1 for d in discrepancies if not d.outcome),
        "item_form": item_form or ItemForm(),
        "discrepancy_form": discrepancy_form or DiscrepancyForm(),
        "complete_form": complete_form or CompleteForm(),
        "error": error,
        "is_open": is_open,
        "in_review": in_review,
        "may_gather": has(actor, Cap.CARE_MEDREC) and is_open,
        "may_add_discrepancy": has(actor, Cap.CARE_MEDREC) and (is_open or in_review),
        "may_resolve": has(actor, Cap.CARE_MEDREC_RESOLVE) and in_review,
    }
    return render(request, "care/medrec_detail.html", context, status=status)


# --- The list and starting ---------------------------------------------------------------------


@screen
def medrec_list(request: HttpRequest) -> HttpResponse:
    """Med recs: waiting for the pharmacist first, then being gathered."""
    actor = actor_of(request)
    form = FilterForm(request.GET or None)
    status = ""
    if form.is_bound and form.is_valid():
        status = form.cleaned_data["status"] or ""
    rows = queries.medrecs(actor=actor, status=None if status in ("", "all") else status)
    rows_list = [m for m in rows if status == "all" or status or m.status != MedRecStatus.COMPLETED]
    counts = queries.counts(site=actor.site)
    return render(
        request,
        "care/medrec_list.html",
        {
            "form": form,
            "rows": rows_list,
            "counts": counts,
            "may_start": has(actor, Cap.CARE_MEDREC),
        },
        status=form.http_status(),
    )


@screen(methods=FORM)
def medrec_start(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_MEDREC)
    initial = {}
    if request.method != "POST" and request.GET.get("patient", "").isdigit():
        initial["patient"] = int(request.GET["patient"])
    form = StartForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_bound and form.is_valid():
        patient = Patient.objects.filter(
            pk=form.cleaned_data["patient"], site_id=actor.site_id
        ).first()
        try:
            if patient is None:
                raise Invalid("No such patient at this pharmacy.", field="patient")
            m = services.medrec_start(
                actor=actor,
                patient=patient,
                reason=form.cleaned_data["reason"],
                interviewed=form.cleaned_data["interviewed"],
            )
        except (Invalid, NotFound) as exc:
            if isinstance(exc, NotFound):
                exc = Invalid(exc.message, field="patient")
            bind_errors(form, exc)
        except DomainError as exc:
            if exc.status == 403:
                raise
            bind_errors(form, exc)
        else:
            return redirect("care_medrec", pk=m.pk)
    return render(request, "care/medrec_start.html", {"form": form}, status=form.http_status())


# --- One med rec -------------------------------------------------------------------------------


@screen
def medrec_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    m = _medrec(actor, pk)
    services.medrec_opened(actor=actor, medrec=m, view="screen")
    return _detail(request, actor, m)


def _refused(
    request: HttpRequest, actor: User, m: MedRec, exc: DomainError, **forms_: Any
) -> HttpResponse:
    if exc.status in (403, 404):
        raise exc
    return _detail(request, actor, m, error=exc, status=exc.status, **forms_)


@screen(methods=POST)
def medrec_item_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_MEDREC)
    m = _medrec(actor, pk)
    form = ItemForm(request.POST)
    if not form.is_valid():
        return _detail(request, actor, m, item_form=form, status=422)
    try:
        services.medrec_item_add(actor=actor, medrec=m, **form.cleaned_data)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        bind_errors(form, exc)
        return _detail(request, actor, m, item_form=form, status=exc.status)
    return redirect(reverse("care_medrec", kwargs={"pk": m.pk}) + "#add")


@screen(methods=POST)
def medrec_item_remove(request: HttpRequest, pk: int, item: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_MEDREC)
    m = _medrec(actor, pk)
    row = MedRecItem.objects.filter(medrec=m, pk=item).first()
    if row is None:
        raise NotFound("No such line in this med rec.")
    try:
        services.medrec_item_remove(actor=actor, item=row)
    except DomainError as exc:
        return _refused(request, actor, m, exc)
    messages.success(request, "Line removed.")
    return redirect("care_medrec", pk=m.pk)


@screen(methods=POST)
def medrec_import(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_MEDREC)
    m = _medrec(actor, pk)
    try:
        added = services.medrec_import_fills(actor=actor, medrec=m)
    except DomainError as exc:
        return _refused(request, actor, m, exc)
    messages.success(
        request,
        f"{len(added)} prescription{'s' if len(added) != 1 else ''} added from the fill history."
        if added
        else "Nothing new in the fill history.",
    )
    return redirect("care_medrec", pk=m.pk)


@screen(methods=POST)
def medrec_submit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_MEDREC)
    m = _medrec(actor, pk)
    try:
        services.medrec_submit(actor=actor, medrec=m)
    except DomainError as exc:
        return _refused(request, actor, m, exc)
    messages.success(request, "Sent to the pharmacist for review.")
    return redirect("care_medrec", pk=m.pk)


@screen(methods=POST)
def medrec_discrepancy_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_MEDREC)
    m = _medrec(actor, pk)
    form = DiscrepancyForm(request.POST)
    if not form.is_valid():
        return _detail(request, actor, m, discrepancy_form=form, status=422)
    try:
        services.medrec_discrepancy_add(
            actor=actor,
            medrec=m,
            kind=form.cleaned_data["kind"],
            description=form.cleaned_data["description"],
        )
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        bind_errors(form, exc)
        return _detail(request, actor, m, discrepancy_form=form, status=exc.status)
    return redirect(reverse("care_medrec", kwargs={"pk": m.pk}) + "#discrepancies")


@screen(methods=POST)
def medrec_resolve(request: HttpRequest, pk: int, discrepancy: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_MEDREC_RESOLVE)
    m = _medrec(actor, pk)
    d = MedRecDiscrepancy.objects.filter(medrec=m, pk=discrepancy).first()
    if d is None:
        raise NotFound("No such discrepancy in this med rec.")
    form = ResolveForm(request.POST, prescribers=_prescribers(m), prefix=f"d{d.pk}")
    if not form.is_valid():
        return _detail(request, actor, m, resolve_forms={d.pk: form}, status=422)
    chosen = form.cleaned_data["prescriber"]
    prescriber = (
        Prescriber.objects.filter(site_id=actor.site_id, pk=chosen).first() if chosen else None
    )
    try:
        services.medrec_discrepancy_resolve(
            actor=actor,
            discrepancy=d,
            outcome=form.cleaned_data["outcome"],
            note=form.cleaned_data["note"],
            prescriber=prescriber,
        )
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        bind_errors(form, exc)
        return _detail(request, actor, m, resolve_forms={d.pk: form}, status=exc.status)
    return redirect(reverse("care_medrec", kwargs={"pk": m.pk}) + "#discrepancies")


@screen(methods=POST)
def medrec_complete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_MEDREC_RESOLVE)
    m = _medrec(actor, pk)
    form = CompleteForm(request.POST)
    if not form.is_valid():
        return _detail(request, actor, m, complete_form=form, status=422)
    try:
        services.medrec_complete(actor=actor, medrec=m, summary=form.cleaned_data["summary"])
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        bind_errors(form, exc)
        return _detail(request, actor, m, complete_form=form, error=exc, status=exc.status)
    messages.success(request, "Medication reconciliation completed.")
    return redirect("care_medrec", pk=m.pk)


@screen
def medrec_print(request: HttpRequest, pk: int) -> HttpResponse:
    """The reconciled medication list for the patient (print from the browser)."""
    actor = actor_of(request)
    m = _medrec(actor, pk)
    services.medrec_opened(actor=actor, medrec=m, view="print")
    items = [i for i in queries.items_of(m) if i.taking != Taking.NOT_TAKING]
    stopped = [i for i in queries.items_of(m) if i.taking == Taking.NOT_TAKING]
    return render(
        request,
        "care/medrec_print.html",
        {"m": m, "patient": m.patient, "items": items, "stopped": stopped, "site": m.site},
    )


urlpatterns: list[URLPattern] = [
    path("medrecs/", medrec_list, name="care_medrecs"),
    path("medrecs/new/", medrec_start, name="care_medrec_start"),
    path("medrecs/<int:pk>/", medrec_detail, name="care_medrec"),
    path("medrecs/<int:pk>/items/", medrec_item_add, name="care_medrec_item_add"),
    path(
        "medrecs/<int:pk>/items/<int:item>/remove/",
        medrec_item_remove,
        name="care_medrec_item_remove",
    ),
    path("medrecs/<int:pk>/import-fills/", medrec_import, name="care_medrec_import"),
    path("medrecs/<int:pk>/submit/", medrec_submit, name="care_medrec_submit"),
    path(
        "medrecs/<int:pk>/discrepancies/",
        medrec_discrepancy_add,
        name="care_medrec_discrepancy_add",
    ),
    path(
        "medrecs/<int:pk>/discrepancies/<int:discrepancy>/resolve/",
        medrec_resolve,
        name="care_medrec_resolve",
    ),
    path("medrecs/<int:pk>/complete/", medrec_complete, name="care_medrec_complete"),
    path("medrecs/<int:pk>/print/", medrec_print, name="care_medrec_print"),
]
