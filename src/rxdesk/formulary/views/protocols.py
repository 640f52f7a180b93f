"""Interchange protocol screens: the list, a new draft, one protocol (change a draft,
approve, retire: the PIC; everyone with formulary.view reads)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.catalog.models import Product
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Invalid
from rxdesk.core.forms import FIELD_ERRORS, bind_errors
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.formulary import queries, services
from rxdesk.formulary.choices import ProtocolStatus
from rxdesk.formulary.forms import ProtocolForm, RetireForm, conversions_text
from rxdesk.formulary.models import InterchangeProtocol


@screen
def formulary_protocols(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    rows = list(queries.protocols(actor=actor))
    return render(
        request,
        "formulary/protocols.html",
        {"rows": rows, "may_edit": has(actor, Cap.FORMULARY_EDIT)},
    )


def _values(form: ProtocolForm) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    product = Product.objects.filter(pk=data.pop("to_product")).first()
    if product is None:
        raise Invalid("No such product in the catalog.", field="to_product")
    data["to_product"] = product
    return data


@screen(methods=FORM)
def formulary_protocol_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.FORMULARY_EDIT)
    form = ProtocolForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            row = services.protocol_create(actor=actor, **_values(form))
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Protocol drafted: {row.name}. Approve it to use it.")
            return redirect("formulary_protocol", pk=row.pk)
    return render(
        request,
        "formulary/protocol_form.html",
        {"form": form, "row": None},
        status=form.http_status(),
    )


def _page(
    request: HttpRequest,
    actor: User,
    row: InterchangeProtocol,
    *,
    form: ProtocolForm | None = None,
    retire: RetireForm | None = None,
    status: int = 200,
) -> HttpResponse:
    may_edit = has(actor, Cap.FORMULARY_EDIT)
    if form is None and may_edit and row.status == ProtocolStatus.DRAFT:
        form = ProtocolForm(
            initial={
                "name": row.name,
                "from_ingredient": row.from_ingredient,
                "from_strength": row.from_strength,
                "to_product": row.to_product_id,
                "ratio": row.ratio,
                "conversions": conversions_text(row.conversions),
                "sig_note": row.sig_note,
                "notes": row.notes,
            }
        )
    context = {
        "row": row,
        "form": form,
        "retire": retire or RetireForm(),
        "may_edit": may_edit,
        "decisions": row.decisions.select_related("decided_by", "prescription").order_by(
            "-decided_at"
        )[:50],
    }
    return render(request, "formulary/protocol.html", context, status=status)


@screen(methods=FORM)
def formulary_protocol(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    row = queries.protocol_get(actor=actor, protocol_id=pk)
    if request.method != "POST":
        return _page(request, actor, row)
    require(actor, Cap.FORMULARY_EDIT)
    form = ProtocolForm(request.POST)
    if form.is_valid():
        try:
            services.protocol_update(actor=actor, protocol=row, **_values(form))
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "Protocol draft saved.")
            return redirect("formulary_protocol", pk=row.pk)
    return _page(request, actor, row, form=form, status=form.http_status())


@screen(methods=("POST",))
def formulary_protocol_approve(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.FORMULARY_EDIT)
    row = queries.protocol_get(actor=actor, protocol_id=pk)
    try:
        services.protocol_approve(actor=actor, protocol=row)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Approved: {row.name}. It now suggests interchanges.")
    return redirect("formulary_protocol", pk=row.pk)


@screen(methods=("POST",))
def formulary_protocol_retire(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.FORMULARY_EDIT)
    row = queries.protocol_get(actor=actor, protocol_id=pk)
    form = RetireForm(request.POST)
    if form.is_valid():
        try:
            services.protocol_retire(actor=actor, protocol=row, reason=form.cleaned_data["reason"])
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Retired: {row.name}.")
            return redirect("formulary_protocol", pk=row.pk)
    return _page(request, actor, row, retire=form, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("protocols/", formulary_protocols, name="formulary_protocols"),
    path("protocols/new/", formulary_protocol_new, name="formulary_protocol_new"),
    path("protocols/<int:pk>/", formulary_protocol, name="formulary_protocol"),
    path(
        "protocols/<int:pk>/approve/", formulary_protocol_approve, name="formulary_protocol_approve"
    ),
    path("protocols/<int:pk>/retire/", formulary_protocol_retire, name="formulary_protocol_retire"),
]
