"""The fill workflow's workstation screens: the step queues (counts always in view, the next
fill one key away, refreshed every 15 seconds), data verification, the fill screen with its
scan box, final verification with the label beside the product, the small buttons (hold,
release, priority, hand out, return to stock) and a fill's complete history.

Each screen parses, calls a workflow service (rxdesk.rx.services.workflow) or a query
(rxdesk.rx.queries_fills) and renders: who may take a step is decided by the service, the
screens only hide what a role may not do. The label module is imported when a label is
shown or printed, so the rest of the workflow never depends on it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import ModuleType
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.clickjacking import xframe_options_sameorigin

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, NotFound
from rxdesk.core.forms import FIELD_ERRORS
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, is_partial, posted, screen
from rxdesk.interop import script
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import StockMove
from rxdesk.rx import queries_fills as q
from rxdesk.rx.choices import FillStatus, HoldReason, Priority
from rxdesk.rx.forms import FillProductForm, PriorityForm, VerifyForm
from rxdesk.rx.models import Fill, FillEvent
from rxdesk.rx.printing import PrinterFailed, parse_printer
from rxdesk.rx.services import workflow
from rxdesk.rx.services.common import settings_of
from rxdesk.rx.views.common import bind, site_of
from rxdesk.screening import views as screening_views

# --- Shared pieces -----------------------------------------------------------------------------


def _fill(request: HttpRequest, pk: int, cap: Cap) -> Fill:
    """The fill a screen or button works on; the capability is checked before anything is
    read or written."""
    actor = actor_of(request)
    require(actor, cap)
    return q.fill_get(actor=actor, fill_id=pk)


def _name(fill: Fill) -> str:
    return f"Rx {fill.prescription.number}-{fill.number}"


def _number(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _safe_next(request: HttpRequest, default: str) -> str:
    """Where a button goes back to: the page it was pressed on (this site only)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _back(request: HttpRequest, fill: Fill) -> HttpResponse:
    return redirect(_safe_next(request, reverse("fill_history", kwargs={"pk": fill.pk})))


def queue_url(step: str, **filters: str) -> str:
    return f"{reverse('fill_queue')}?{urlencode({'step': step, **filters})}"


def step_url(actor: User, fill: Fill, today: dt.date | None = None) -> str:
    """The screen that works ``fill`` at its step, for this user; its history otherwise."""
    status = fill.status
    today = today or site_of(actor).today()
    if status == FillStatus.QUEUED or (
        status == FillStatus.SCHEDULED
        and fill.fillable_on is not None
        and fill.fillable_on <= today
    ):
        if has(actor, Cap.RX_VERIFY_DATA):
            return reverse("fill_data_verify", kwargs={"pk": fill.pk})
    elif status == FillStatus.TO_FILL:
        if has(actor, Cap.RX_FILL) and has(actor, Cap.STOCK_DISPENSE):
            return reverse("fill_product", kwargs={"pk": fill.pk})
    elif status == FillStatus.FILLED and has(actor, Cap.RX_VERIFY_FINAL):
        return reverse("fill_final_verify", kwargs={"pk": fill.pk})
    return reverse("fill_history", kwargs={"pk": fill.pk})


def _open_next(request: HttpRequest, step: str, done: Fill) -> HttpResponse:
    """After a decision, the next fill waiting at the same step (or the queue, empty)."""
    actor = actor_of(request)
    following = q.next_fill(actor=actor, step=step, exclude=done.pk)
    if following is None:
        return redirect(queue_url(step))
    return redirect(step_url(actor, following))


def _original(fill: Fill) -> dict[str, Any]:
    """The prescription as received: its scanned images, or the e-prescription as sent."""
    rx = fill.prescription
    message = q.original_message(fill)
    sent = None
    unreadable = ""
    if message is not None:
        try:
            sent = script.parse(message.xml)
        except script.ScriptError as exc:
            unreadable = exc.message
    body = sent.body if sent is not None else None
    return {
        "images": list(rx.images.defer("content").order_by("pk")),
        "erx": message,
        "erx_body": body,
        "erx_medication": getattr(body, "medication", None) or getattr(body, "dispensed", None),
        "erx_unreadable": unreadable,
    }


def _fill_context(request: HttpRequest, fill: Fill) -> dict[str, Any]:
    rx = fill.prescription
    step = q.step_for_status(fill.status)
    return {
        "fill": fill,
        "rx": rx,
        "allergies": q.patient_allergies(fill),
        "step": step,
        "queue_url": queue_url(step.key if step else "data"),
        "history_url": reverse("fill_history", kwargs={"pk": fill.pk}),
        **_original(fill),
    }


# --- The step queues ---------------------------------------------------------------------------


def _queue_context(request: HttpRequest) -> dict[str, Any]:
    actor = actor_of(request)
    # A pharmacist starts where only a pharmacist can work; the team starts at filling.
    default = "data" if has(actor, Cap.RX_VERIFY_DATA) else "fill"
    step = q.step_of(request.GET.get("step") or default)
    filters = q.Filters.of(request.GET)
    rows = q.queue_rows(actor=actor, step=step.key, filters=filters)
    counts = q.queue_counts(actor=actor)
    query = urlencode({"step": step.key, **filters.as_dict()})
    today = site_of(actor).today()
    items = [{"row": row, "url": step_url(actor, row.fill, today)} for row in rows]
    return {
        "step": step,
        "steps": [(s, counts[s.key]) for s in q.STEPS],
        "filters": filters,
        "filter_qs": urlencode(filters.as_dict()),
        "filter_fields": [
            ("patient", "Patient", "last, first", filters.patient),
            ("prescriber", "Prescriber", "name or NPI", filters.prescriber),
            ("drug", "Drug", "name or NDC", filters.drug),
        ],
        "items": items,
        "first": items[0] if items else None,
        "rows_url": f"{reverse('fill_queue_rows')}?{query}",
        "here": f"{reverse('fill_queue')}?{query}",
        "target": settings_of(site_of(actor)).service_target_minutes,
        "hold_choices": HoldReason.choices,
        "today": today,
    }


@screen
def fill_queue(request: HttpRequest) -> HttpResponse:
    """One queue per step of the workflow, next fill first, with the wait against the
    pharmacy's service target; filters by patient, prescriber and drug."""
    context = _queue_context(request)
    template = "rx/_queue_rows.html" if is_partial(request) else "rx/fill_queue.html"
    return render(request, template, context)


@screen
def fill_queue_rows(request: HttpRequest) -> HttpResponse:
    """The tabs with their counts and the rows alone (htmx polls it every 15 seconds)."""
    return render(request, "rx/_queue_rows.html", _queue_context(request))


# --- Data verification -------------------------------------------------------------------------

VERIFY_ALIASES = {"status": "", "prescription": "", "reason": "reason", "bin": "bin"}


@screen(methods=FORM)
def fill_data_verify(request: HttpRequest, pk: int) -> HttpResponse:
    """The pharmacist reads the original beside what was typed: approved (Enter), the fill
    goes to be filled and the next one opens; sent back with a reason, it waits."""
    actor = actor_of(request)
    fill = _fill(request, pk, Cap.RX_VERIFY_DATA)
    form = VerifyForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            done = workflow.fill_data_verify(
                actor=actor,
                fill=fill,
                approve=form.approving,
                reason=form.cleaned_data["reason"],
            )
        except FIELD_ERRORS as exc:
            bind(form, exc, VERIFY_ALIASES)
        else:
            if form.approving:
                messages.success(request, f"{_name(done)} approved; it goes to be filled.")
            else:
                messages.warning(request, f"{_name(done)} sent back: {form.cleaned_data['reason']}")
            return _open_next(request, "data", done)
        fill = q.fill_get(actor=actor, fill_id=pk)
    context = {**_fill_context(request, fill), "form": form}
    if fill.status in (FillStatus.QUEUED, FillStatus.SCHEDULED):
        context.update(screening_views.verification_context(actor, fill))
    return render(request, "rx/fill_data_verify.html", context, status=form.http_status())


# --- Filling -----------------------------------------------------------------------------------


def _taken(moves: list[StockMove]) -> str:
    """'lot A1 (exp 12/31/2030) × 30, lot A2 (exp 01/31/2031) × 10'."""
    parts = []
    for move in moves:
        if move.quantity >= 0:
            continue
        expiry = f" (exp {move.lot.expiry:%m/%d/%Y})" if move.lot.expiry else ""
        parts.append(f"lot {move.lot.number}{expiry} × {_number(-move.quantity)}")
    return ", ".join(parts)


@screen(methods=FORM)
def fill_product(request: HttpRequest, pk: int) -> HttpResponse:
    """Scan the package (a scanner types the code and Enter), count, and the stock leaves
    the shelf; a product that is not the prescribed one is refused beside the scan box."""
    actor = actor_of(request)
    require(actor, Cap.STOCK_DISPENSE)
    fill = _fill(request, pk, Cap.RX_FILL)
    can_override = has(actor, Cap.RX_SCAN_OVERRIDE)
    packages = (
        list(fill.prescription.product.packages.filter(active=True).order_by("ndc10"))
        if can_override
        else []
    )
    form = FillProductForm(
        posted(request),
        initial={"quantity": _number(fill.quantity)},
        packages=packages,
        can_override=can_override,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        picked = next((p for p in packages if p.pk == data.get("package")), None)
        aliases = {
            "lot": "scanned_code",
            "lot_number": "scanned_code",
            "expiry": "scanned_code",
            "ndc": "scanned_code",
            "package": "package" if can_override else "scanned_code",
            "status": "",
            "prescription": "",
        }
        try:
            done = workflow.fill_product(
                actor=actor,
                fill=fill,
                scanned_code=data["scanned_code"],
                quantity=data["quantity"] or None,
                package=picked,
                override_reason=data.get("override_reason") or "",
                partial_reason=data.get("partial_reason") or "",
            )
        except FIELD_ERRORS as exc:
            bind(form, exc, aliases)
        else:
            package = done.package
            assert package is not None
            messages.success(
                request,
                f"{_name(done)} filled: {_number(done.quantity)} "
                f"{done.prescription.get_quantity_unit_display()} of NDC {package.ndc10} "
                f"({package.description}), {_taken(q.fill_moves(done))}. "
                "It waits for final verification.",
            )
            return redirect(queue_url("fill"))
        fill = q.fill_get(actor=actor, fill_id=pk)
    context = {
        **_fill_context(request, fill),
        "form": form,
        "can_override": can_override,
        "on_hand": _on_hand(fill),
    }
    return render(request, "rx/fill_product.html", context, status=form.http_status())


def _on_hand(fill: Fill) -> list[Any]:
    """The prescribed product's lots on this pharmacy's shelf, first to expire first."""
    from rxdesk.inventory.models import StockBalance

    return list(
        StockBalance.objects.filter(
            site_id=fill.site_id,
            package__product_id=fill.prescription.product_id,
            on_hand__gt=0,
        )
        .select_related("lot", "package")
        .order_by("lot__expiry", "lot__number")[:12]
    )


# --- Final verification and the label ----------------------------------------------------------


PRINT_ERRORS: tuple[type[DomainError], ...] = (*FIELD_ERRORS, PrinterFailed)


def _labels() -> tuple[ModuleType, ModuleType]:
    """The label module and its printing service, imported when a label is needed."""
    try:
        from rxdesk.rx import labels
        from rxdesk.rx.services import labels as label_services
    except ImportError:
        raise NotFound("Labels cannot be printed from this workstation yet.") from None
    return labels, label_services


def _lots_taken(moves: list[StockMove]) -> list[dict[str, Any]]:
    """Each lot the fill holds now: what was taken less what went back (a fill sent back at
    final verification and filled again has both)."""
    net: dict[int, Decimal] = {}
    lots = {}
    for move in moves:
        if move.reason in (MoveReason.DISPENSE, MoveReason.RETURN_TO_STOCK):
            net[move.lot_id] = net.get(move.lot_id, Decimal(0)) + move.quantity
            lots[move.lot_id] = move.lot
    return [
        {"lot": lots[lot_id], "quantity": _number(-qty)} for lot_id, qty in net.items() if qty < 0
    ]


@screen(methods=FORM)
def fill_final_verify(request: HttpRequest, pk: int) -> HttpResponse:
    """The image, the typed record, the scanned product and the label side by side:
    approved (Enter, with the will-call bin), the fill is ready; sent back with a reason, the
    product goes back on the shelf."""
    actor = actor_of(request)
    fill = _fill(request, pk, Cap.RX_VERIFY_FINAL)
    form = VerifyForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            done = workflow.fill_final_verify(
                actor=actor,
                fill=fill,
                approve=form.approving,
                reason=form.cleaned_data["reason"],
                bin=form.cleaned_data["bin"],
            )
        except FIELD_ERRORS as exc:
            bind(form, exc, VERIFY_ALIASES)
        else:
            if form.approving:
                messages.success(request, f"{_name(done)} verified: will-call bin {done.bin}.")
            else:
                messages.warning(
                    request,
                    f"{_name(done)} sent back to be filled again (the product is back in "
                    f"stock): {form.cleaned_data['reason']}",
                )
            return _open_next(request, "verify", done)
        fill = q.fill_get(actor=actor, fill_id=pk)
    context = {
        **_fill_context(request, fill),
        "form": form,
        "lots": _lots_taken(q.fill_moves(fill)),
        "label_url": reverse("fill_label", kwargs={"pk": fill.pk}),
    }
    return render(request, "rx/fill_final_verify.html", context, status=form.http_status())


@xframe_options_sameorigin
@screen
def fill_label(request: HttpRequest, pk: int) -> HttpResponse:
    """The label as it will print (a preview: showing it is not printing it)."""
    fill = _fill(request, pk, Cap.RX_VIEW)
    labels, _services = _labels()
    pdf = labels.label_pdf([labels.label_data(fill)])
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="label-{fill.prescription.number}-{fill.number}.pdf"'
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@screen(methods=("POST",))
def fill_label_print(request: HttpRequest, pk: int) -> HttpResponse:
    """Print the label (counted and logged; printing again needs a reason)."""
    fill = _fill(request, pk, Cap.RX_VIEW)
    _labels_module, services = _labels()
    reason = " ".join(request.POST.get("reprint_reason", "").split())[:300]
    address = settings_of(site_of(actor_of(request))).label_printer
    if address:  # the pharmacy's thermal printer: the label goes there, not to the browser
        try:
            services.label_send(
                actor=actor_of(request),
                fill=fill,
                printer=parse_printer(address),
                reprint_reason=reason,
            )
        except PRINT_ERRORS as exc:
            messages.error(request, f"The label was not printed: {exc.message}")
        else:
            messages.success(request, f"{_name(fill)}: the label went to the label printer.")
        return _back(request, fill)
    try:
        printed = services.label_print(actor=actor_of(request), fill=fill, reprint_reason=reason)
    except FIELD_ERRORS as exc:
        messages.error(request, f"The label was not printed: {exc.message}")
        return _back(request, fill)
    response = HttpResponse(printed.pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="label-{fill.prescription.number}-{fill.number}.pdf"'
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- Buttons: hold, release, priority, hand out, return to stock -------------------------------


@screen(methods=("POST",))
def fill_hold(request: HttpRequest, pk: int) -> HttpResponse:
    fill = _fill(request, pk, Cap.RX_FILL)
    reason = request.POST.get("reason", "")
    try:
        workflow.fill_hold(
            actor=actor_of(request),
            fill=fill,
            reason=reason,
            note=request.POST.get("note", "")[:200],
        )
    except FIELD_ERRORS as exc:
        messages.error(request, f"{_name(fill)} is not on hold: {exc.message}")
    else:
        messages.success(request, f"{_name(fill)} is on hold: {HoldReason(reason).label}.")
    return _back(request, fill)


@screen(methods=("POST",))
def fill_release(request: HttpRequest, pk: int) -> HttpResponse:
    fill = _fill(request, pk, Cap.RX_FILL)
    try:
        done = workflow.fill_release(actor=actor_of(request), fill=fill)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{_name(done)} is off hold: {done.get_status_display().lower()}."
        )
    return _back(request, fill)


@screen(methods=("POST",))
def fill_priority(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    fill = _fill(request, pk, Cap.RX_ENTER)
    form = PriorityForm(request.POST)
    if not form.is_valid():
        errors = [str(e) for errs in form.errors.values() for e in errs]
        messages.error(request, f"Priority not changed: {' '.join(errors)}")
        return _back(request, fill)
    promised = form.cleaned_data.get("promised_at")
    if promised is not None:
        # Typed at the pharmacy's counter: the time is the pharmacy's local time.
        promised = promised.replace(tzinfo=None).replace(tzinfo=site_of(actor).tz)
    try:
        done = workflow.fill_priority_set(
            actor=actor, fill=fill, priority=form.cleaned_data["priority"], promised_at=promised
        )
    except FIELD_ERRORS as exc:
        messages.error(request, f"Priority not changed: {exc.message}")
    else:
        when = ""
        if done.promised_at is not None:
            when = f" for {done.promised_at.astimezone(site_of(actor).tz):%m/%d/%Y %H:%M}"
        messages.success(request, f"{_name(done)} is now {done.get_priority_display()}{when}.")
    return _back(request, fill)


@screen(methods=("POST",))
def fill_sell(request: HttpRequest, pk: int) -> HttpResponse:
    """Hand a ready fill to the patient (the point of sale builds on this later)."""
    fill = _fill(request, pk, Cap.RX_SELL)
    try:
        done = workflow.fill_sell(actor=actor_of(request), fill=fill)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{_name(done)} handed out to the patient.")
    return _back(request, fill)


@screen(methods=("POST",))
def fill_return(request: HttpRequest, pk: int) -> HttpResponse:
    """Put a fill that was not picked up back on the shelf (the exact lots)."""
    fill = _fill(request, pk, Cap.RX_FILL)
    try:
        done = workflow.fill_return_to_stock(
            actor=actor_of(request), fill=fill, reason=request.POST.get("reason", "")
        )
    except FIELD_ERRORS as exc:
        messages.error(request, f"{_name(fill)} was not returned: {exc.message}")
    else:
        messages.success(
            request,
            f"{_name(done)} is back in stock; its quantity is open again on the prescription.",
        )
    return _back(request, fill)


# --- History -----------------------------------------------------------------------------------

STATUS_LABELS = dict(FillStatus.choices)


def _summary(value: Any) -> str:
    """An event's data, in one readable line."""
    if isinstance(value, dict):
        return "; ".join(
            f"{key.replace('_', ' ')}: {_summary(item)}"
            for key, item in value.items()
            if item not in (None, "", [], {})
        )
    if isinstance(value, list):
        return ", ".join(_summary(item) for item in value)
    text = str(value)
    return text[:-1] if text.endswith(".") else text


def _event_rows(events: list[FillEvent], tz: dt.tzinfo) -> list[dict[str, Any]]:
    return [
        {
            "event": e,
            "at": e.at.astimezone(tz),
            "from": STATUS_LABELS.get(e.from_status, e.from_status),
            "to": STATUS_LABELS.get(e.to_status, e.to_status),
            "data": _summary(e.data),
        }
        for e in events
    ]


@screen
def fill_history(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything that happened to one fill (the append-only history: step, from → to,
    who, when, why) and the stock it took and gave back, with the buttons that apply now."""
    actor = actor_of(request)
    fill = _fill(request, pk, Cap.RX_VIEW)
    tz = site_of(actor).tz
    context = {
        **_fill_context(request, fill),
        "events": _event_rows(q.fill_events(fill), tz),
        "moves": q.fill_moves(fill),
        "open_url": step_url(actor, fill),
        "hold_choices": HoldReason.choices,
        "priority_form": PriorityForm(
            initial={
                "priority": fill.priority,
                "promised_at": fill.promised_at.astimezone(tz) if fill.promised_at else None,
            }
        ),
        "holdable": fill.status in workflow.HOLDABLE,
        "finished": fill.status
        in (FillStatus.DISPENSED, FillStatus.RETURNED, FillStatus.CANCELLED),
        "priorities": Priority.choices,
    }
    context["priority_form"].fields["priority"].widget.attrs.pop("autofocus", None)
    return render(request, "rx/fill_history.html", context)
