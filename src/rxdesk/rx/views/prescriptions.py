"""A prescription's page and its buttons (refill, hold, activate, inactivate, automatic
refill, cancel a waiting fill, transfer out, ask for a renewal), finding an Rx by number,
a patient's medication profile, the intake queue and the site's prescription rules.

Each button is a small form posting to its own address; the service decides, and its
refusal comes back as a message on the prescription's page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, NotFound
from rxdesk.core.forms import FIELD_ERRORS, initial_from
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.patients import services as patient_services
from rxdesk.rx import queries, services
from rxdesk.rx.choices import FillStatus, HoldReason, InactiveReason, Origin
from rxdesk.rx.forms import (
    HOLD_CHOICES,
    INACTIVE_CHOICES,
    REFILL_SOURCES,
    SettingsForm,
    TransferOutForm,
    other_pharmacy_values,
)
from rxdesk.rx.models import Prescription
from rxdesk.rx.services.common import settings_of
from rxdesk.rx.services.fills import RefillRefused
from rxdesk.rx.views.common import bind, patient_of, site_of

# --- The prescription's page -------------------------------------------------------------------


def _detail(
    request: HttpRequest,
    rx: Prescription,
    *,
    refused: RefillRefused | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = actor_of(request)
    state = queries.rx_state(rx, site_of(actor).today())
    context = {
        "rx": rx,
        "state": state,
        "fills": sorted(state.fills, key=lambda f: (f.number, f.pk), reverse=True),
        "transfers": list(rx.transfers.all()),
        "images": list(rx.images.all()),
        "erx_messages": list(rx.messages.order_by("-received_at")),
        "can_enter": has(actor, Cap.RX_ENTER),
        "can_transfer": has(actor, Cap.RX_TRANSFER),
        "refill_sources": REFILL_SOURCES,
        "hold_choices": HOLD_CHOICES,
        "inactive_choices": INACTIVE_CHOICES,
        "pending_statuses": (FillStatus.QUEUED, FillStatus.SCHEDULED),
        "refused": refused,
        "renewal_offered": refused is not None
        and refused.renewable
        and rx.origin == Origin.ELECTRONIC,
        "screening": _screening(actor, rx),
    }
    return render(request, "rx/detail.html", context, status=status)


def _screening(actor: Any, rx: Prescription) -> dict[str, Any] | None:
    """What clinical screening says of this prescription now, for everyone who reads it
    (a technician sees the alerts; a pharmacist resolves them at data verification).
    Nothing is kept; an inactive prescription is not screened."""
    from rxdesk.screening import queries as screening

    if rx.status != "active":
        return None
    try:
        return {"alerts": screening.screen_prescription(actor=actor, rx=rx)}
    except DomainError as exc:
        return {"error": exc.message}


@screen
def rx_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rx = queries.prescription_get(actor=actor_of(request), prescription_id=pk)
    return _detail(request, rx)


def _button(request: HttpRequest, pk: int) -> Prescription:
    """The prescription a button acts on (the capability is checked before anything else)."""
    actor = actor_of(request)
    require(actor, Cap.RX_ENTER)
    return queries.prescription_get(actor=actor, prescription_id=pk)


def _back(rx: Prescription) -> HttpResponse:
    return redirect("rx_detail", pk=rx.pk)


def _note(request: HttpRequest) -> str:
    return request.POST.get("note", "")[:200]


@screen(methods=("POST",))
def rx_refill(request: HttpRequest, pk: int) -> HttpResponse:
    """A refill asked for by phone, online or at the counter. A refusal (no refills left,
    expired…) is shown on the page with, where it helps, a renewal request to send."""
    rx = _button(request, pk)
    try:
        result = services.refill_request(
            actor=actor_of(request), prescription=rx, source=request.POST.get("source", "")
        )
    except RefillRefused as exc:
        fresh = queries.prescription_get(actor=actor_of(request), prescription_id=rx.pk)
        return _detail(request, fresh, refused=exc, status=exc.status)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        fill = result.fill
        if result.too_soon and fill.fillable_on:
            messages.warning(
                request,
                f"Refill of Rx {rx.number} requested too soon: it waits until "
                f"{fill.fillable_on:%m/%d/%Y}. {result.message}".strip(),
            )
        else:
            messages.success(request, f"Refill {fill.number} of Rx {rx.number} queued.")
    return _back(rx)


@screen(methods=("POST",))
def rx_renewal_request(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask the prescriber, electronically, to renew a prescription that cannot be filled."""
    rx = _button(request, pk)
    try:
        from rxdesk.rx.services.erx import renewal_request_create
    except ImportError:
        messages.error(request, "Renewal requests cannot be sent from this workstation yet.")
        return _back(rx)
    try:
        renewal_request_create(
            actor=actor_of(request), prescription=rx, note=request.POST.get("note", "")[:200]
        )
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Renewal request for Rx {rx.number} sent to {rx.prescriber.full_name}. "
            "The answer will arrive in the eRx inbox.",
        )
    return _back(rx)


@screen(methods=("POST",))
def rx_hold(request: HttpRequest, pk: int) -> HttpResponse:
    rx = _button(request, pk)
    reason = request.POST.get("reason", "")
    try:
        services.prescription_hold(
            actor=actor_of(request), prescription=rx, reason=reason, note=_note(request)
        )
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Rx {rx.number} is on hold: {HoldReason(reason).label}.")
    return _back(rx)


@screen(methods=("POST",))
def rx_activate(request: HttpRequest, pk: int) -> HttpResponse:
    rx = _button(request, pk)
    try:
        services.prescription_activate(actor=actor_of(request), prescription=rx)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Rx {rx.number} is active again. Request a refill when it is to be filled."
        )
    return _back(rx)


@screen(methods=("POST",))
def rx_inactivate(request: HttpRequest, pk: int) -> HttpResponse:
    rx = _button(request, pk)
    reason = request.POST.get("reason", "")
    try:
        services.prescription_inactivate(
            actor=actor_of(request), prescription=rx, reason=reason, note=_note(request)
        )
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Rx {rx.number} is inactive: {InactiveReason(reason).label.lower()}."
        )
    return _back(rx)


@screen(methods=("POST",))
def rx_auto_refill(request: HttpRequest, pk: int) -> HttpResponse:
    rx = _button(request, pk)
    enrolled = request.POST.get("enrolled", "") in ("1", "on", "true", "yes")
    try:
        services.auto_refill_set(actor=actor_of(request), prescription=rx, enrolled=enrolled)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Rx {rx.number} refills automatically."
            if enrolled
            else f"Rx {rx.number} no longer refills automatically.",
        )
    return _back(rx)


@screen(methods=("POST",))
def fill_cancel(request: HttpRequest, pk: int, fill_pk: int) -> HttpResponse:
    rx = _button(request, pk)
    fill = next((f for f in rx.fills.all() if f.pk == fill_pk), None)
    if fill is None:
        raise NotFound("No such fill of this prescription.")
    try:
        services.fill_cancel(
            actor=actor_of(request), fill=fill, reason=request.POST.get("reason", "")[:200]
        )
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Fill {fill.number} of Rx {rx.number} is cancelled.")
    return _back(rx)


@screen(methods=FORM)
def rx_transfer_out(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the prescription to another pharmacy (a pharmacist's step, 21 CFR 1306.25)."""
    actor = actor_of(request)
    require(actor, Cap.RX_TRANSFER)
    rx = queries.prescription_get(actor=actor, prescription_id=pk)
    form = TransferOutForm(posted(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            row = services.transfer_out(
                actor=actor,
                prescription=rx,
                other=services.OtherPharmacy(**other_pharmacy_values(data)),
                shared_database=data["shared_database"],
                notes=data["notes"],
            )
        except FIELD_ERRORS as exc:
            bind(form, exc)
        else:
            messages.success(
                request,
                f"Rx {rx.number} transferred to {row.pharmacy_name} "
                f"({row.refills_remaining} refill{'s' if row.refills_remaining != 1 else ''} "
                "left); it is inactive here.",
            )
            return _back(rx)
    state = queries.rx_state(rx, site_of(actor).today())
    return render(
        request,
        "rx/transfer_out.html",
        {"rx": rx, "state": state, "form": form},
        status=form.http_status(),
    )


@screen
def rx_lookup(request: HttpRequest) -> HttpResponse:
    """Open a prescription by its Rx number (type it and Enter)."""
    actor = actor_of(request)
    require(actor, Cap.RX_VIEW)
    number = request.GET.get("number", "").strip()[:20]
    error = ""
    if number:
        try:
            rx = queries.prescription_by_number(actor=actor, number=number)
        except NotFound as exc:
            error = exc.message
        else:
            return _back(rx)
    return render(
        request, "rx/lookup.html", {"number": number, "error": error}, status=404 if error else 200
    )


# --- Medication profile ------------------------------------------------------------------------


@screen
def rx_profile(request: HttpRequest, pk: int) -> HttpResponse:
    """A patient's prescriptions, grouped as a pharmacist reads them, with their fills.
    Opening it is a PHI access, logged."""
    actor = actor_of(request)
    require(actor, Cap.RX_VIEW)
    patient = patient_of(actor, pk)
    if patient is None:
        raise NotFound("No such patient at this pharmacy.")
    profile = queries.patient_profile(actor=actor, patient=patient)
    patient_services.patient_record_open(actor=actor, patient=patient, purpose="medication profile")
    return render(
        request,
        "rx/profile.html",
        {"patient": patient, "profile": profile, "can_enter": has(actor, Cap.RX_ENTER)},
    )


# --- The intake queue -------------------------------------------------------------------------

QUEUE_TABS = (
    ("queued", "Ready to work"),
    ("scheduled", "Waiting until fillable"),
    ("due", "Refills due in 7 days"),
)


def _counts(request: HttpRequest) -> dict[str, int]:
    actor = actor_of(request)
    require(actor, Cap.RX_VIEW)
    return queries.intake_counts(site_of(actor))


@screen
def rx_queue(request: HttpRequest) -> HttpResponse:
    """Fills ready to work, fills waiting until they may be filled (too soon, or not before
    a date), and refills falling due, with the counts kept fresh."""
    actor = actor_of(request)
    counts = _counts(request)
    tab = request.GET.get("show", "queued")
    if tab not in dict(QUEUE_TABS):
        tab = "queued"
    context: dict[str, Any] = {
        "counts": counts,
        "tab": tab,
        "tabs": QUEUE_TABS,
        "today": site_of(actor).today(),
    }
    if tab == "due":
        context["due"] = queries.refills_due(actor=actor, within_days=7)
    else:
        context["fills"] = queries.fill_queue(actor=actor, status=tab)
    return render(request, "rx/queue.html", context)


@screen
def rx_queue_counts(request: HttpRequest) -> HttpResponse:
    """The counts bar alone (htmx polls it every 30 seconds)."""
    return render(request, "rx/_counts.html", {"counts": _counts(request)})


# --- Settings ---------------------------------------------------------------------------------


@screen(methods=FORM)
def rx_settings(request: HttpRequest) -> HttpResponse:
    """The pharmacy's refill thresholds and expiry rules where the state differs."""
    actor = actor_of(request)
    require(actor, Cap.SITE_EDIT)
    current = settings_of(site_of(actor))
    form = SettingsForm(posted(request), initial=initial_from(current, SettingsForm))
    if request.method == "POST" and form.is_valid():
        try:
            if form.has_changed():
                services.rx_settings_update(actor=actor, **form.changed())
        except FIELD_ERRORS as exc:
            bind(form, exc, {})
        else:
            messages.success(
                request,
                "The prescription rules are saved."
                if form.has_changed()
                else "Nothing was changed.",
            )
            return redirect("rx_settings")
    return render(request, "rx/settings.html", {"form": form}, status=form.http_status())
