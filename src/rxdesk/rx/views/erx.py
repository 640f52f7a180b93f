"""The eRx inbox: received NCPDP SCRIPT messages, what each one says as sent, the patient,
prescriber and drug on file that it matched (or the candidates to choose from), and the
technician's decision: take it in (matched, or with a new patient or prescriber made from
the message) or reject it with a reason.

The e-prescribing services (rxdesk.rx.services.erx) are imported when a decision is made,
so that reading the inbox never depends on them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from rxdesk.catalog import queries as catalog_queries
from rxdesk.catalog.models import Package
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import NotFound
from rxdesk.core.forms import FIELD_ERRORS
from rxdesk.core.models import User
from rxdesk.core.views import actor_of, screen
from rxdesk.interop import script
from rxdesk.rx import queries
from rxdesk.rx.choices import ErxStatus
from rxdesk.rx.forms import INBOX_FILTERS, ErxRejectForm, ErxResolveForm
from rxdesk.rx.models import ErxMessage
from rxdesk.rx.views.common import bind, drug_of, id_of, patient_of, prescriber_of

# Service field names on the resolve form.
RESOLVE_ALIASES = {
    "package": "drug_code",
    "product": "drug_code",
    "code": "drug_code",
    "drug": "drug_code",
    "create_patient": "patient",
    "create_prescriber": "prescriber",
    "message": "",
    "status": "",
}


@screen
def erx_inbox(request: HttpRequest) -> HttpResponse:
    """Received e-prescribing messages by status (those needing a match first)."""
    actor = actor_of(request)
    require(actor, Cap.RX_VIEW)
    status = request.GET.get("status", ErxStatus.NEEDS_MATCH)
    if status not in dict(INBOX_FILTERS):
        status = ErxStatus.NEEDS_MATCH
    found = queries.erx_inbox(actor=actor, status="" if status == "all" else status)
    return render(
        request,
        "rx/erx_inbox.html",
        {
            "inbox": found,
            "status": status,
            "filters": INBOX_FILTERS,
            "counts": queries.intake_counts(actor.site) if actor.site else {},
        },
    )


@dataclass
class Choice:
    """One option of a radio group: the value posted and what the technician reads."""

    value: str
    label: str
    detail: str = ""


def _ids(candidates: Any, *keys: str) -> list[Any]:
    """The candidates the matcher kept under any of ``keys`` (ids, or dicts with an id)."""
    if not isinstance(candidates, dict):
        return []
    for key in keys:
        items = candidates.get(key)
        if isinstance(items, list):
            return items
    return []


def _rows(actor: User, items: Iterable[Any], load: Callable[[User, Any], Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        raw = item.get("id") if isinstance(item, dict) else item
        try:
            row = load(actor, raw)
        except NotFound:
            continue
        if row is not None and all(r.pk != row.pk for r in out):
            out.append(row)
    return out


def _packages(actor: User, items: Iterable[Any]) -> list[Package]:
    """The candidate packages (ids kept by the matcher) in the matcher's order."""
    ids = [pk for pk in (id_of(i.get("id") if isinstance(i, dict) else i) for i in items) if pk]
    return catalog_queries.packages_by_ids(actor=actor, ids=ids)


def _sent(message: ErxMessage) -> tuple[script.ScriptMessage | None, str]:
    """The message as sent, read again from the stored XML, or why it cannot be read."""
    try:
        return script.parse(message.xml), ""
    except script.ScriptError as exc:
        return None, exc.message


def _message_context(
    request: HttpRequest,
    message: ErxMessage,
    resolve_form: ErxResolveForm | None = None,
    reject_form: ErxRejectForm | None = None,
) -> dict[str, Any]:
    actor = actor_of(request)
    sent, unreadable = _sent(message)
    body = sent.body if sent is not None else None
    candidates = message.candidates or {}
    patients = _rows(actor, _ids(candidates, "patient", "patients"), patient_of)
    prescribers = _rows(actor, _ids(candidates, "prescriber", "prescribers"), prescriber_of)
    packages = _packages(actor, _ids(candidates, "package", "packages", "drug", "drugs"))
    open_ = message.status == ErxStatus.NEEDS_MATCH
    if resolve_form is None:
        initial: dict[str, Any] = {}
        if message.patient_id:
            initial["patient"] = str(message.patient_id)
        if message.prescriber_id:
            initial["prescriber"] = str(message.prescriber_id)
        if message.package is not None:
            initial["drug"] = message.package.ndc10
        resolve_form = ErxResolveForm(initial=initial)
    return {
        "message": message,
        "sent": sent,
        "body": body,
        "medication": getattr(body, "medication", None) or getattr(body, "dispensed", None),
        "unreadable": unreadable,
        "notes": candidates.get("notes") if isinstance(candidates.get("notes"), dict) else {},
        "patients": patients,
        "prescribers": prescribers,
        "packages": packages,
        "resolve_form": resolve_form,
        "reject_form": reject_form or ErxRejectForm(),
        "can_decide": open_ and has(actor, Cap.RX_ENTER),
        "chosen_patient": str(resolve_form["patient"].value() or ""),
        "chosen_prescriber": str(resolve_form["prescriber"].value() or ""),
        "chosen_drug": str(resolve_form["drug"].value() or ""),
    }


@screen
def erx_message(request: HttpRequest, pk: int) -> HttpResponse:
    """One received message: what was sent, what it matched, and the decision to make."""
    message = queries.erx_message_get(actor=actor_of(request), message_id=pk)
    return render(request, "rx/erx_message.html", _message_context(request, message))


def _service(name: str) -> Callable[..., Any]:
    """A function of rxdesk.rx.services.erx, imported when a decision is made."""
    try:
        from rxdesk.rx.services import erx
    except ImportError:
        raise NotFound("E-prescribing is not set up on this workstation.") from None
    return getattr(erx, name)


def _resolve_values(actor: User, form: ErxResolveForm) -> dict[str, Any]:
    """The form's choices as erx_resolve's keywords (the rows are this pharmacy's)."""
    data = form.cleaned_data
    patient_id, create_patient = form.choice_of("patient")
    prescriber_id, create_prescriber = form.choice_of("prescriber")
    values: dict[str, Any] = {
        "patient": patient_of(actor, patient_id) if patient_id else None,
        "prescriber": prescriber_of(actor, prescriber_id) if prescriber_id else None,
        "create_patient": create_patient,
        "create_prescriber": create_prescriber,
        "package": None,
        "quantity_unit": data.get("quantity_unit") or None,
        "days_supply": data.get("days_supply"),
        "directions": (data.get("directions") or "").strip() or None,
    }
    code = (data.get("drug_code") or data.get("drug") or "").strip()
    if code:
        values["package"] = drug_of(actor, code, None)[1]
    return values


@screen(methods=("POST",))
def erx_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """Take the e-prescription in with the chosen (or new) patient, prescriber and drug."""
    actor = actor_of(request)
    require(actor, Cap.RX_ENTER)
    message = queries.erx_message_get(actor=actor, message_id=pk)
    form = ErxResolveForm(request.POST)
    if form.is_valid():
        try:
            rx = _service("erx_resolve")(
                actor=actor, message=message, **_resolve_values(actor, form)
            )
        except FIELD_ERRORS as exc:
            bind(form, exc, RESOLVE_ALIASES)
        else:
            messages.success(request, f"Rx {rx.number} taken in from the e-prescription.")
            return redirect("rx_detail", pk=rx.pk)
    message = queries.erx_message_get(actor=actor, message_id=pk)
    return render(
        request,
        "rx/erx_message.html",
        _message_context(request, message, resolve_form=form),
        status=form.http_status(),
    )


@screen(methods=("POST",))
def erx_reject(request: HttpRequest, pk: int) -> HttpResponse:
    """Refuse the message (not for this pharmacy, a duplicate, unreadable…) with a reason."""
    actor = actor_of(request)
    require(actor, Cap.RX_ENTER)
    message = queries.erx_message_get(actor=actor, message_id=pk)
    form = ErxRejectForm(request.POST)
    if form.is_valid():
        try:
            _service("erx_reject")(actor=actor, message=message, reason=form.cleaned_data["reason"])
        except FIELD_ERRORS as exc:
            bind(form, exc, {"message": "", "status": ""})
        else:
            messages.success(request, f"Message {message.message_id} is rejected.")
            return redirect("erx_inbox")
    message = queries.erx_message_get(actor=actor, message_id=pk)
    return render(
        request,
        "rx/erx_message.html",
        _message_context(request, message, reject_form=form),
        status=form.http_status(),
    )
