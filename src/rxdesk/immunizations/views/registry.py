"""Workstation screens of reporting to the state registry (IIS): the queue (tabs by
status, overdue first, each registry error in words), one message (the VXU and the ACK,
for a pharmacist to read), Send now, Retry, batch export and download, and the registry
settings (PIC). Parse, call rxdesk.immunizations.services_registry / queries_registry,
render.

Reading the queue: imm.registry or imm.report (without patient.view no names and no
message texts); sending, retrying and batches: imm.registry; settings: read with
imm.registry or imm.setup, change with imm.setup."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Conflict, Forbidden
from rxdesk.core.forms import FIELD_ERRORS, RxForm, bind_errors, choice, flag, text
from rxdesk.core.views import FORM, actor_of, screen
from rxdesk.immunizations import queries_registry as queries
from rxdesk.immunizations import services_registry as services
from rxdesk.immunizations.choices import ProcessingId, RegistryStatus, Transport
from rxdesk.immunizations.common import settings_of

RETRYABLE = {RegistryStatus.FAILED, RegistryStatus.GAVE_UP, RegistryStatus.REJECTED}


@screen
def registry_queue(request: HttpRequest) -> HttpResponse:
    """The registry queue: tabs by status, overdue first."""
    actor = actor_of(request)
    queries.require_reader(actor)
    tab = request.GET.get("status", "open")
    if tab not in {t for t, _ in queries.TABS}:
        tab = "open"
    now = timezone.now()
    rows = queries.messages_list(
        actor=actor, status=tab, only_overdue=request.GET.get("overdue") == "1", now=now
    )
    may_send = has(actor, Cap.IMM_REGISTRY)
    names = queries.shows_patients(actor)
    context = {
        "tab": tab,
        "tabs": queries.TABS,
        "counts": queries.counts(actor.site, now),
        "rows": [
            {
                "m": m,
                "overdue": queries.is_overdue(m, now),
                "errors": queries.errors_in_words(m) if names else [],
                "retry": may_send and m.status in RETRYABLE,
            }
            for m in rows
        ],
        "names": names,
        "may_send": may_send,
        "settings": settings_of(actor.site),
        "batches": queries.batches(actor.site) if may_send else [],
        "may_download": may_send and names,
        "may_setup": has(actor, Cap.IMM_SETUP),
    }
    return render(request, "immunizations/registry_queue.html", context)


@screen
def registry_message(request: HttpRequest, pk: int) -> HttpResponse:
    """One message: the errors in words, the VXU and the registry's ACK."""
    actor = actor_of(request)
    message = queries.message_get(actor=actor, message_id=pk)
    names = queries.shows_patients(actor)
    if names:
        services.registry_vxu_opened(
            actor=actor, immunization=message.immunization, message=message, output="screen"
        )
    context = {
        "m": message,
        "names": names,
        "errors": queries.errors_in_words(message) if names else [],
        "vxu_lines": message.message.split("\r") if names else [],
        "ack_lines": message.ack_text.replace("\n", "\r").split("\r")
        if names and message.ack_text
        else [],
        "overdue": queries.is_overdue(message, timezone.now()),
        "retry": has(actor, Cap.IMM_REGISTRY) and message.status in RETRYABLE,
    }
    return render(request, "immunizations/registry_message.html", context)


@screen(methods=("POST",))
def registry_send(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.IMM_REGISTRY)
    summary = services.registry_send_due(actor=actor, site=actor.site)
    if summary.rejected or summary.failed or summary.gave_up:
        messages.warning(request, summary.in_words())
    else:
        messages.success(request, summary.in_words())
    return redirect("imm_registry")


@screen(methods=("POST",))
def registry_retry(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.IMM_REGISTRY)
    message = queries.message_get(actor=actor, message_id=pk)
    try:
        sent = services.registry_retry(actor=actor, message=message)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("imm_registry_message", pk=pk)
    messages.info(request, f"{sent.control_id}: {sent.get_status_display()}.")
    return redirect("imm_registry_message", pk=sent.pk)


@screen(methods=("POST",))
def registry_batch_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.IMM_REGISTRY)
    try:
        batch = services.registry_batch_export(actor=actor)
    except Conflict as exc:
        messages.warning(request, exc.message)
        return redirect("imm_registry")
    messages.success(
        request,
        f"Batch file {batch.file_name}: {batch.message_count} message(s). Download it and "
        "upload it on the registry's site.",
    )
    return redirect("imm_registry")


@screen
def registry_batch(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.IMM_REGISTRY)
    require(actor, Cap.PATIENT_VIEW)
    batch = queries.batch_get(actor=actor, batch_id=pk)
    services.registry_batch_downloaded(actor=actor, batch=batch)
    response = HttpResponse(batch.content, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{batch.file_name}"'
    response["Cache-Control"] = "private, no-store"
    return response


class SettingsForm(RxForm):
    FIELDSETS = (
        ("Connection", ("transport", "iis_host", "iis_port", "timeout_seconds")),
        (
            "Message ids (from the registry's onboarding letter)",
            (
                "sending_facility",
                "sending_application",
                "receiving_application",
                "receiving_facility",
                "processing_id",
            ),
        ),
        (
            "Deadline and retries",
            ("reporting_deadline_hours", "retry_minutes", "retry_max_attempts"),
        ),
        (
            "Who may vaccinate whom (the state's rules)",
            ("technicians_administer", "minimum_age_months", "technician_minimum_age_months"),
        ),
    )

    transport = choice(Transport.choices, label="How to reach the registry")
    iis_host = text(255, label="Registry host (name or IP address)", autocomplete="off")
    iis_port = forms.IntegerField(required=False, label="Port", min_value=1, max_value=65535)
    timeout_seconds = forms.IntegerField(label="Wait for the answer (seconds)", min_value=1)
    sending_facility = text(40, label="Facility id the registry assigned (MSH-4)")
    sending_application = text(40, required=True, label="Sending application (MSH-3)")
    receiving_application = text(40, label="Registry name (MSH-5)")
    receiving_facility = text(40, label="Registry facility (MSH-6)")
    processing_id = choice(ProcessingId.choices, label="Processing (MSH-11)")
    reporting_deadline_hours = forms.IntegerField(
        label="State's reporting deadline (hours after the dose)", min_value=1
    )
    retry_minutes = forms.IntegerField(label="First retry after (minutes; doubles)", min_value=1)
    retry_max_attempts = forms.IntegerField(label="Give up after (attempts)", min_value=1)
    technicians_administer = flag(
        "Technicians may vaccinate", "Only where the state lets trained, registered technicians"
    )
    minimum_age_months = forms.IntegerField(
        label="Youngest patient the pharmacy may vaccinate (months)", min_value=0
    )
    technician_minimum_age_months = forms.IntegerField(
        label="Youngest patient a technician may vaccinate (months)", min_value=0
    )


@screen(methods=FORM)
def registry_settings(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    may_edit = has(actor, Cap.IMM_SETUP)
    if not (may_edit or has(actor, Cap.IMM_REGISTRY)):
        raise Forbidden("Your role may not see the registry settings.", capability="imm.setup")
    if request.method == "POST":
        require(actor, Cap.IMM_SETUP)
    row = settings_of(actor.site)
    if request.method == "POST":
        form = SettingsForm(request.POST)
        if form.is_valid():
            values: dict[str, Any] = dict(form.cleaned_data)
            try:
                services.registry_settings_set(actor=actor, **values)
            except FIELD_ERRORS as exc:
                bind_errors(form, exc)
            else:
                messages.success(request, "Registry settings saved.")
                return redirect("imm_registry_settings")
    else:
        form = SettingsForm(initial={name: getattr(row, name) for name in SettingsForm.base_fields})
    if not may_edit:
        for field in form.fields.values():
            field.disabled = True
    context = {"form": form, "may_edit": may_edit, "row": row}
    return render(
        request, "immunizations/registry_settings.html", context, status=form.http_status()
    )


urlpatterns: list[URLPattern] = [
    path("registry/", registry_queue, name="imm_registry"),
    path("registry/send/", registry_send, name="imm_registry_send"),
    path("registry/batches/", registry_batch_new, name="imm_registry_batch_new"),
    path("registry/batches/<int:pk>/", registry_batch, name="imm_registry_batch"),
    path("registry/settings/", registry_settings, name="imm_registry_settings"),
    path("registry/<int:pk>/", registry_message, name="imm_registry_message"),
    path("registry/<int:pk>/retry/", registry_retry, name="imm_registry_retry"),
]
