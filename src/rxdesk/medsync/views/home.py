"""Medication synchronization: the workstation screens. Parse, call rxdesk.medsync
services / queries, render; each screen checks its capability first.

- ``medsync_home``: the pre-sync call list (cycles due within the setting's days, not yet
  confirmed), cycles confirmed and waiting to be queued, the enrolled patients;
- ``medsync_call_list_csv``: the call list as CSV;
- ``medsync_enroll``: enrol a patient (find the patient, pick the prescriptions and the
  sync day, see the proration preview, then save: enrol and align);
- ``medsync_enrollment``: one enrollment (members, cycles) with include/keep out, align
  and end; ``medsync_cycle``: one cycle (its plan, calls) with the call and "queue sync
  fills"."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError
from rxdesk.core.forms import FIELD_ERRORS, MAX_ID, RxForm, bind_errors, text
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.medsync import queries, services
from rxdesk.medsync.choices import CallOutcome, EndReason, Exclusion
from rxdesk.patients import queries as patient_queries
from rxdesk.patients.models import Patient
from rxdesk.rx.choices import RxStatus
from rxdesk.rx.models import Prescription

BUTTON = ("POST",)


# --- Forms ------------------------------------------------------------------------------------


class EnrollForm(RxForm):
    patient = forms.IntegerField(min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)
    sync_day = forms.IntegerField(
        min_value=1,
        max_value=31,
        label="Sync day of the month",
        help_text="1 to 31; in a shorter month, its last day.",
    )
    prescriptions = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, label="Prescriptions to align"
    )
    consent_note = text(services.CONSENT_MAX, label="How the patient agreed", autocomplete="off")

    def __init__(self, *args: Any, rxs: list[Prescription], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"].widget.attrs.pop("autofocus", None)
        self.fields["sync_day"].widget.attrs.update({"autofocus": True})
        field = self.fields["prescriptions"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [
            (
                str(rx.pk),
                f"Rx {rx.number} · {rx.drug_description or rx.product} · "
                f"{rx.quantity.normalize():f} for {rx.days_supply} days"
                + (f" · {rx.schedule}" if rx.schedule else ""),
            )
            for rx in rxs
        ]


class MemberForm(RxForm):
    prescription = forms.IntegerField(min_value=1, max_value=MAX_ID, label="Prescription")
    included = forms.BooleanField(required=False, label="Include in the sync date")
    exclusion = forms.ChoiceField(
        required=False, choices=[("", "—"), *list(Exclusion.choices)], label="Kept out because"
    )
    note = text(200, label="Note")


class CallForm(RxForm):
    outcome = forms.ChoiceField(choices=CallOutcome.choices, label="Outcome")
    note = text(services.NOTE_MAX, label="Note (what changes, why held)", autocomplete="off")


class EndForm(RxForm):
    reason = forms.ChoiceField(choices=EndReason.choices, label="Why synchronization ends")
    note = text(services.NOTE_MAX, label="Note")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "end")
        super().__init__(*args, **kwargs)
        self.fields["reason"].widget.attrs.pop("autofocus", None)


# --- Helpers ----------------------------------------------------------------------------------


def _patient_of(actor: User, value: Any) -> Patient | None:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    if not 0 < pk <= MAX_ID:
        return None
    return Patient.objects.filter(site_id=actor.site_id, pk=pk).first()


def _syncable(patient: Patient) -> list[Prescription]:
    return list(
        Prescription.objects.filter(
            site_id=patient.site_id,
            patient=patient,
            status__in=(RxStatus.ACTIVE, RxStatus.ON_HOLD),
        )
        .select_related("product", "package", "site")
        .order_by("number")
    )


# --- Home -------------------------------------------------------------------------------------


@screen
def medsync_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.SYNC_VIEW)
    rows = queries.call_list(actor=actor)
    context = {
        "today": actor.site.today(),
        "rows": rows,
        "days": queries.call_days(),
        "due": queries.cycles_due(actor=actor),
        "enrollments": list(queries.enrollments(actor=actor)[:200]),
        "counts": queries.home_counts(actor=actor),
        "may_manage": has(actor, Cap.SYNC_MANAGE),
    }
    return render(request, "medsync/home.html", context)


@screen
def medsync_call_list_csv(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.SYNC_VIEW)
    body = queries.call_list_csv(queries.call_list(actor=actor))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="sync-call-list-{actor.site.today():%Y%m%d}.csv"'
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- Enrol ------------------------------------------------------------------------------------


@screen(methods=FORM)
def medsync_enroll(request: HttpRequest) -> HttpResponse:
    """Find the patient, pick the prescriptions and the day; "Preview" shows each short
    fill, "Enrol" saves and aligns."""
    actor = actor_of(request)
    require(actor, Cap.SYNC_MANAGE)
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
    rxs = _syncable(patient) if patient is not None else []
    current = queries.active_enrollment_of(actor=actor, patient_id=patient.pk) if patient else None
    form = EnrollForm(
        data,
        initial={"patient": patient.pk if patient else None, "sync_day": actor.site.today().day},
        rxs=rxs,
    )
    preview = None
    anchor = None
    if data is not None and form.is_valid():
        if patient is None:
            form.add_error(None, "Choose the patient first.")
        else:
            v = form.cleaned_data
            chosen = [rx for rx in rxs if str(rx.pk) in set(v["prescriptions"])]
            if data.get("action") == "save":
                try:
                    enrollment = services.sync_enroll(
                        actor=actor,
                        patient=patient,
                        sync_day=v["sync_day"],
                        prescriptions=chosen,
                        consent_note=v["consent_note"],
                    )
                except FIELD_ERRORS as exc:
                    bind_errors(form, exc)
                else:
                    try:
                        services.sync_align(actor=actor, enrollment=enrollment)
                    except DomainError as exc:
                        messages.warning(request, f"Enrolled; not aligned yet: {exc.message}")
                    else:
                        messages.success(
                            request,
                            f"{patient.full_name} enrolled; first sync date "
                            f"{enrollment.anchor_date:%m/%d/%Y}.",
                        )
                    return redirect("medsync_enrollment", pk=enrollment.pk)
            else:
                anchor, preview = queries.enrollment_preview(
                    actor=actor, sync_day=v["sync_day"], prescriptions=chosen
                )
    context = {
        "form": form,
        "patient": patient,
        "current": current,
        "q": q,
        "found": found,
        "search_error": search_error,
        "preview": preview,
        "anchor": anchor,
    }
    return render(request, "medsync/enroll.html", context, status=form.http_status())


# --- Enrollment -------------------------------------------------------------------------------


def _enrollment_page(
    request: HttpRequest,
    pk: int,
    *,
    member_form: MemberForm | None = None,
    end_form: EndForm | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = actor_of(request)
    enrollment = queries.enrollment_get(actor=actor, enrollment_id=pk)
    context = {
        "enrollment": enrollment,
        "members": queries.members(enrollment),
        "cycles": queries.cycles(enrollment),
        "member_form": member_form or MemberForm(),
        "end_form": end_form or EndForm(),
        "may_manage": has(actor, Cap.SYNC_MANAGE),
        "exclusions": Exclusion.choices,
    }
    return render(request, "medsync/enrollment.html", context, status=status)


@screen
def medsync_enrollment(request: HttpRequest, pk: int) -> HttpResponse:
    require(actor_of(request), Cap.SYNC_VIEW)
    return _enrollment_page(request, pk)


@screen(methods=BUTTON)
def medsync_member(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.SYNC_MANAGE)
    enrollment = queries.enrollment_get(actor=actor, enrollment_id=pk)
    form = MemberForm(request.POST)
    if form.is_valid():
        v = form.cleaned_data
        rx = Prescription.objects.filter(pk=v["prescription"], site_id=actor.site_id).first()
        if rx is None:
            form.add_error("prescription", "No such prescription at this pharmacy.")
        else:
            try:
                services.sync_member_set(
                    actor=actor,
                    enrollment=enrollment,
                    prescription=rx,
                    included=v["included"],
                    exclusion=v["exclusion"],
                    note=v["note"],
                )
            except FIELD_ERRORS as exc:
                bind_errors(form, exc)
            else:
                messages.success(request, f"Rx {rx.number} updated.")
                return redirect("medsync_enrollment", pk=pk)
    return _enrollment_page(request, pk, member_form=form, status=form.http_status())


@screen(methods=BUTTON)
def medsync_align(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.SYNC_MANAGE)
    enrollment = queries.enrollment_get(actor=actor, enrollment_id=pk)
    try:
        cycle = services.sync_align(actor=actor, enrollment=enrollment)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
        return redirect("medsync_enrollment", pk=pk)
    messages.success(request, f"Plan computed for {cycle.sync_date:%m/%d/%Y}.")
    return redirect("medsync_cycle", pk=cycle.pk)


@screen(methods=BUTTON)
def medsync_end(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.SYNC_MANAGE)
    enrollment = queries.enrollment_get(actor=actor, enrollment_id=pk)
    form = EndForm(request.POST)
    if form.is_valid():
        try:
            services.sync_unenroll(
                actor=actor,
                enrollment=enrollment,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "Synchronization ended.")
            return redirect("medsync_enrollment", pk=pk)
    return _enrollment_page(request, pk, end_form=form, status=form.http_status())


# --- Cycle ------------------------------------------------------------------------------------


def _cycle_page(
    request: HttpRequest, pk: int, *, form: CallForm | None = None, status: int = 200
) -> HttpResponse:
    actor = actor_of(request)
    cycle = queries.cycle_get(actor=actor, cycle_id=pk)
    context = {
        "cycle": cycle,
        "fills": queries.cycle_fills(cycle),
        "plan": queries.cycle_plan(cycle) if cycle.status in queries.OPEN_CYCLES else [],
        "calls": list(cycle.calls.select_related("called_by").order_by("called_at")),
        "form": form or CallForm(),
        "may_manage": has(actor, Cap.SYNC_MANAGE),
        "open": cycle.status in queries.OPEN_CYCLES,
    }
    return render(request, "medsync/cycle.html", context, status=status)


@screen
def medsync_cycle(request: HttpRequest, pk: int) -> HttpResponse:
    require(actor_of(request), Cap.SYNC_VIEW)
    return _cycle_page(request, pk)


@screen(methods=BUTTON)
def medsync_call(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.SYNC_MANAGE)
    cycle = queries.cycle_get(actor=actor, cycle_id=pk)
    form = CallForm(request.POST)
    if form.is_valid():
        try:
            services.sync_call_record(
                actor=actor,
                cycle=cycle,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "Call recorded.")
            return redirect("medsync_cycle", pk=pk)
    return _cycle_page(request, pk, form=form, status=form.http_status())


@screen(methods=BUTTON)
def medsync_queue(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.SYNC_MANAGE)
    cycle = queries.cycle_get(actor=actor, cycle_id=pk)
    try:
        services.sync_fills_queue(actor=actor, cycle=cycle)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        rows = queries.cycle_fills(cycle)
        made = sum(1 for r in rows if r.fill_id)
        messages.success(
            request,
            f"{made} sync fill(s) queued; {len(rows) - made} not queued (see below).",
        )
    return redirect("medsync_cycle", pk=pk)


urlpatterns: list[URLPattern] = [
    path("", medsync_home, name="medsync_home"),
    path("call-list.csv", medsync_call_list_csv, name="medsync_call_list_csv"),
    path("enroll/", medsync_enroll, name="medsync_enroll"),
    path("enrollments/<int:pk>/", medsync_enrollment, name="medsync_enrollment"),
    path("enrollments/<int:pk>/member/", medsync_member, name="medsync_member"),
    path("enrollments/<int:pk>/align/", medsync_align, name="medsync_align"),
    path("enrollments/<int:pk>/end/", medsync_end, name="medsync_end"),
    path("cycles/<int:pk>/", medsync_cycle, name="medsync_cycle"),
    path("cycles/<int:pk>/call/", medsync_call, name="medsync_call"),
    path("cycles/<int:pk>/queue/", medsync_queue, name="medsync_queue"),
]
