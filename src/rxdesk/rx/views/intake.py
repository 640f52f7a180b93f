"""The typing screen: the scanned hard copy on the left, the prescription on the right, the
directions expanded as they are typed; and the transfer-in screen, which types the same
prescription with the other pharmacy and its history.

Each screen parses, calls a query or a service, and renders. The rules of a schedule, of
the directions and of days supply live in rxdesk.rx.services and rxdesk.rx.sig; their
errors are shown beside the field they name, and everything typed stays on the screen."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django_htmx.http import reswap, retarget

from rxdesk.catalog import queries as catalog_queries
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.forms import FIELD_ERRORS
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.patients import queries as patient_queries
from rxdesk.rx import queries, services
from rxdesk.rx.choices import FillStatus, Origin, QuantityUnit, RxStatus
from rxdesk.rx.forms import IntakeForm, TransferInForm, other_pharmacy_values
from rxdesk.rx.models import Prescription
from rxdesk.rx.services.prescriptions import MAX_IMAGE_BYTES, days_supply_warning
from rxdesk.rx.sig import SigError, expand
from rxdesk.rx.views.common import (
    Picked,
    bind,
    drug_of,
    held_images,
    id_of,
    image_of,
    patient_of,
    picked,
    prescriber_of,
    site_of,
)

# --- The typing screen ------------------------------------------------------------------------


def _written(actor: User, data: dict[str, Any]) -> dict[str, Any]:
    """The form's values as the services' keywords: the picked rows looked up (this
    pharmacy's only), the rest passed on as typed for the service to check."""
    patient = patient_of(actor, data.get("patient"))
    prescriber = prescriber_of(actor, data.get("prescriber"))
    if patient is None:
        raise Invalid("Find the patient and choose them from the list.", field="patient")
    if prescriber is None:
        raise Invalid("Find the prescriber and choose them from the list.", field="prescriber")
    product, package = drug_of(actor, data.get("drug") or "", data.get("product"))
    return {
        "patient": patient,
        "prescriber": prescriber,
        "product": product,
        "package": package,
        "quantity": data["quantity"],
        "quantity_unit": data["quantity_unit"],
        "days_supply": data["days_supply"],
        "directions": data["directions"],
        "date_written": data["date_written"],
        "daw": data["daw"],
        "diagnosis_code": data["diagnosis_code"],
        "notes": data["notes"],
        "do_not_fill_before": data["do_not_fill_before"],
        "auto_refill": data["auto_refill"],
        "prescriber_dea": data["prescriber_dea"],
    }


def _taken_in(actor: User, rx: Prescription) -> str:
    """'Rx 123 taken in; fill queued' (or on hold, or waiting until the day it may be filled)."""
    if rx.status == RxStatus.ON_HOLD:
        return f"Rx {rx.number} taken in; on hold"
    fresh = queries.prescription_get(actor=actor, prescription_id=rx.pk)
    state = queries.rx_state(fresh, site_of(actor).today())
    pending = state.pending
    if pending is not None and pending.status == FillStatus.SCHEDULED and pending.fillable_on:
        return f"Rx {rx.number} taken in; waiting until {pending.fillable_on:%m/%d/%Y}"
    return f"Rx {rx.number} taken in; fill queued"


def _initial(actor: User, request: HttpRequest) -> dict[str, Any]:
    initial: dict[str, Any] = {"date_written": site_of(actor).today()}
    patient = id_of(request.GET.get("patient"))
    if patient:
        initial["patient"] = patient
    return initial


def _typing_context(
    actor: User, form: Any, images: list[Any], chosen: Picked, draft: str
) -> dict[str, Any]:
    return {
        "form": form,
        "images": images,
        "picked": chosen,
        "draft": draft,
        "max_image_mb": MAX_IMAGE_BYTES // (1024 * 1024),
    }


def _values_of(form: Any) -> dict[str, Any]:
    """What the form holds, bound or not (for showing the picked rows)."""
    if form.is_bound:
        return {name: form.data.get(name) for name in ("patient", "prescriber", "drug", "product")}
    return {name: form.initial.get(name) for name in ("patient", "prescriber", "drug", "product")}


@screen(methods=FORM)
def rx_intake(request: HttpRequest) -> HttpResponse:
    """Type a written, telephoned, faxed or electronic prescription beside its scan."""
    actor = actor_of(request)
    require(actor, Cap.RX_ENTER)
    form = IntakeForm(posted(request), initial=_initial(actor, request))
    images = held_images(actor, request.POST.getlist("images")) if request.method == "POST" else []
    if request.method == "GET" and form.initial.get("patient"):
        # A patient named in the address must be this pharmacy's (else the 404 page).
        patient_of(actor, form.initial["patient"])
    if request.method == "POST" and form.is_valid():
        try:
            values = _written(actor, form.cleaned_data)
            rx = services.prescription_create(
                actor=actor,
                origin=form.cleaned_data["origin"],
                refills_authorized=form.cleaned_data["refills_authorized"],
                emergency_oral=form.cleaned_data["emergency_oral"],
                hold=form.cleaned_data["hold"],
                hold_reason=form.cleaned_data["hold_reason"],
                images=tuple(images),
                **values,
            )
        except FIELD_ERRORS as exc:
            bind(form, exc)
        else:
            messages.success(request, _taken_in(actor, rx))
            return redirect("rx_detail", pk=rx.pk)
    chosen = picked(actor, _values_of(form))
    _focus(form, chosen)
    draft = f"rx-intake-{chosen.patient.pk if chosen.patient else 'new'}"
    return render(
        request,
        "rx/intake.html",
        _typing_context(actor, form, images, chosen, draft),
        status=form.http_status(),
    )


def _focus(form: Any, chosen: Picked) -> None:
    """The cursor starts in the first box still to fill: the patient search, else the
    prescriber search (the template reads ``form.focus``)."""
    for field in form.fields.values():
        field.widget.attrs.pop("autofocus", None)
    if chosen.patient is None:
        form.focus = "patient"
    elif chosen.prescriber is None:
        form.focus = "prescriber"
    else:
        form.focus = "drug"
        form.fields["drug"].widget.attrs["autofocus"] = True


# --- Scans ----------------------------------------------------------------------------------


@screen(methods=("POST",))
def rx_image_upload(request: HttpRequest) -> HttpResponse:
    """Keep a scanned hard copy (PDF, PNG, JPEG, TIFF); answer the piece of the left pane
    that shows it, with the hidden field that attaches it when the prescription is saved."""
    actor = actor_of(request)
    require(actor, Cap.RX_ENTER)
    upload = request.FILES.get("image")
    error, status = "", 200
    image = None
    if upload is None:
        error, status = "Choose the scanned prescription (PDF, PNG, JPEG or TIFF).", 422
    else:
        # One byte more than allowed is enough for the service to refuse a file too large.
        content = upload.read(MAX_IMAGE_BYTES + 1)
        try:
            image = services.prescription_image_upload(
                actor=actor, content=content, filename=(upload.name or "")[-200:]
            )
        except FIELD_ERRORS as exc:
            error, status = exc.message, exc.status
    if image is None:
        response = render(request, "rx/_scan_error.html", {"error": error}, status=status)
        return reswap(retarget(response, "#scan-error"), "innerHTML")
    return render(request, "rx/_scan.html", {"image": image, "uploaded": True})


@xframe_options_sameorigin
@screen
def rx_image(request: HttpRequest, pk: int) -> FileResponse:
    """The bytes of a scan, shown inline beside the typing screen (this pharmacy only)."""
    image = image_of(actor_of(request), pk)
    response = FileResponse(
        io.BytesIO(bytes(image.content)),
        content_type=image.content_type,
        as_attachment=False,
        filename=image.filename or f"rx-scan-{image.pk}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


# --- Directions preview -----------------------------------------------------------------------


def _decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() and value > 0 else None


def _whole(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isdigit() and 0 < int(raw) <= 365 else None


@screen
def rx_sig_preview(request: HttpRequest) -> HttpResponse:
    """The typed directions as the patient will read them (English and Spanish), the flags
    for the pharmacist, and the days-supply check the service makes on saving."""
    actor = actor_of(request)
    require(actor, Cap.RX_ENTER)
    params = request.GET
    text = " ".join(params.get("directions", "")[:500].split())
    context: dict[str, Any] = {"text": text}
    if text:
        try:
            english = expand(text, language="en")
            spanish = expand(text, language="es")
        except SigError as exc:
            context["error"] = exc.message
        else:
            context.update(english=english, spanish=spanish)
            quantity = _decimal(params.get("quantity", "")[:20])
            days = _whole(params.get("days_supply", "")[:4])
            unit = params.get("quantity_unit", "")
            if quantity is not None and days is not None and unit in QuantityUnit.values:
                package = None
                code = params.get("drug", "").strip()[:200]
                if code:
                    try:
                        package = catalog_queries.resolve_code(actor=actor, code=code).package
                    except (Invalid, NotFound, catalog_queries.AmbiguousCode):
                        package = None
                # The same check as rxdesk.rx.services.prescriptions.intake_problems.
                context["warning"] = days_supply_warning(english, quantity, unit, days, package)
    return render(request, "rx/_sig_preview.html", context)


# --- Pickers -------------------------------------------------------------------------------


@screen
def rx_find_patient(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.RX_ENTER)
    q = (request.GET.get("patient_q") or request.GET.get("q") or "")[:100]
    error = ""
    found: list[Any] = []
    try:
        found = list(patient_queries.patient_search(actor=actor, q=q, limit=10))
    except FIELD_ERRORS as exc:
        error = exc.message
    return render(
        request, "rx/_find_patients.html", {"patients": found, "q": q.strip(), "error": error}
    )


@screen
def rx_find_prescriber(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.RX_ENTER)
    q = (request.GET.get("prescriber_q") or request.GET.get("q") or "")[:100]
    found = list(patient_queries.prescriber_search(actor=actor, q=q, limit=10))
    return render(request, "rx/_find_prescribers.html", {"prescribers": found, "q": q.strip()})


@screen
def rx_find_drug(request: HttpRequest) -> HttpResponse:
    """What the drug box names: a scanned or typed code's package, or products by name."""
    actor = actor_of(request)
    require(actor, Cap.RX_ENTER)
    q = (request.GET.get("drug") or request.GET.get("q") or "").strip()[:200]
    hits = catalog_queries.catalog_search(actor=actor, q=q, limit=8) if q else []
    return render(
        request,
        "rx/_find_drugs.html",
        {"hits": hits, "q": q, "min_chars": catalog_queries.search.MIN_CHARS},
    )


# --- Transfer in ---------------------------------------------------------------------------


def _date(value: Any) -> dt.date | None:
    return value if isinstance(value, dt.date) else None


@screen(methods=FORM)
def rx_transfer_in(request: HttpRequest) -> HttpResponse:
    """A prescription transferred in by telephone, pharmacist to pharmacist: what it says,
    the other pharmacy, and how much of it was used there."""
    actor = actor_of(request)
    require(actor, Cap.RX_TRANSFER)
    form = TransferInForm(posted(request), initial=_initial(actor, request))
    images = held_images(actor, request.POST.getlist("images")) if request.method == "POST" else []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            values = _written(actor, data)
            intake = services.Intake(origin=Origin.PHARMACY, **values)
            rx = services.transfer_in(
                actor=actor,
                intake=intake,
                other=services.OtherPharmacy(**other_pharmacy_values(data)),
                original_refills_authorized=data["original_refills_authorized"],
                refills_remaining=data["refills_remaining"],
                first_fill_date=_date(data.get("first_fill_date")),
                last_fill_date=_date(data.get("last_fill_date")),
                originally_filled_at=data.get("originally_filled_at") or "",
                shared_database=data["shared_database"],
                electronic_original=data["electronic_original"],
                images=tuple(images),
                hold=data["hold"],
                hold_reason=data["hold_reason"],
            )
        except FIELD_ERRORS as exc:
            bind(form, exc)
        else:
            messages.success(request, _taken_in(actor, rx).replace("taken in", "transferred in", 1))
            return redirect("rx_detail", pk=rx.pk)
    chosen = picked(actor, _values_of(form))
    _focus(form, chosen)
    draft = f"rx-transfer-in-{chosen.patient.pk if chosen.patient else 'new'}"
    context = _typing_context(actor, form, images, chosen, draft)
    context["transfer"] = True
    return render(request, "rx/intake.html", context, status=form.http_status())
