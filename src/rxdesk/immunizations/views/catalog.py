"""Workstation screens of the vaccine catalog (CVX, MVX, NDC crosswalk, VIS) and vaccine stock
by funding source: vaccine search (a scan finds its vaccine), one vaccine (its NDCs,
manufacturers, VIS editions), vaccine stock by funding (VFC, state, private apart; CSV),
receiving doses, and recording a lot's funding. Parse, call rxdesk.immunizations
services_catalog / queries_catalog, render."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, query_string
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.immunizations import queries_catalog as queries
from rxdesk.immunizations import services_catalog as services
from rxdesk.immunizations.choices import Funding
from rxdesk.inventory.models import Supplier

SHOWN = 200


def _csv(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- Forms ------------------------------------------------------------------------------------


class SearchForm(RxForm):
    q = forms.CharField(
        max_length=queries.MAX_CODE,
        required=False,
        label="CVX, name or scan",
        widget=forms.TextInput(attrs={"autocomplete": "off", "type": "search"}),
    )
    group = forms.ChoiceField(required=False, label="Vaccine group")
    status = forms.ChoiceField(required=False, label="Status")

    def __init__(self, *args: Any, groups: list[str], statuses: list[str], **kw: Any) -> None:
        super().__init__(*args, **kw)
        group = self.fields["group"]
        status = self.fields["status"]
        assert isinstance(group, forms.ChoiceField) and isinstance(status, forms.ChoiceField)
        group.choices = [("", "Every group")] + [(g, g) for g in groups]
        status.choices = [("", "Any status")] + [(s, s) for s in statuses]


class ReceiveForm(RxForm):
    FIELDSETS = (
        ("Package", ("code", "lot_number", "expiry")),
        ("Doses", ("quantity", "funding", "supplier", "note")),
    )
    code = forms.CharField(
        max_length=queries.MAX_CODE,
        label="Scan the carton or type the NDC",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    lot_number = forms.CharField(
        max_length=40,
        required=False,
        label="Lot number (from the scan if blank)",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    expiry = DateField(required=False, label="Expiry (from the scan if blank)")
    quantity = forms.IntegerField(
        min_value=1,
        max_value=100_000,
        label="Doses received",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    funding = forms.ChoiceField(choices=[("", "Choose…"), *Funding.choices], label="Paid for by")
    supplier = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    note = forms.CharField(max_length=services.NOTE_MAX, required=False, label="Note")

    def __init__(self, *args: Any, suppliers: list[Supplier], **kw: Any) -> None:
        super().__init__(*args, **kw)
        field = self.fields["supplier"]
        assert isinstance(field, forms.ChoiceField)
        field.label = "Supplier"
        field.choices = [("", "—")] + [(s.pk, s.name) for s in suppliers]


class FundingForm(RxForm):
    funding = forms.ChoiceField(choices=[("", "Choose…"), *Funding.choices], label="Paid for by")


# --- Catalog ----------------------------------------------------------------------------------


@screen
def vaccine_search(request: HttpRequest) -> HttpResponse:
    """Vaccines by CVX, name, trade name, group and status; a scanned NDC finds its vaccine."""
    actor = actor_of(request)
    require(actor, Cap.CATALOG_VIEW)
    page = queries.vaccine_search(actor=actor, limit=SHOWN, status="Active")
    form = SearchForm(request.GET or None, groups=page.groups, statuses=page.statuses)
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
        try:
            page = queries.vaccine_search(
                actor=actor,
                q=values["q"] or "",
                group=values["group"] or "",
                status=values["status"] or "",
                limit=SHOWN,
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
    if page.scanned is not None:
        return redirect("imm_vaccine", cvx=page.scanned.vaccine.cvx)
    context = {"form": form, "page": page}
    return render(request, "immunizations/catalog_search.html", context, status=form.http_status())


@screen
def vaccine_detail(request: HttpRequest, cvx: str) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CATALOG_VIEW)
    detail = queries.vaccine_get(actor=actor, cvx=cvx)
    context = {
        "d": detail,
        "v": detail.vaccine,
        "current_vis": queries.current_vis_for(detail.vaccine),
    }
    return render(request, "immunizations/catalog_vaccine.html", context)


# --- Stock ------------------------------------------------------------------------------------


@screen
def stock(request: HttpRequest) -> HttpResponse:
    """Doses on hand by funding source; ``?format=csv`` for a file."""
    actor = actor_of(request)
    report = queries.vaccine_stock(actor=actor)
    if request.GET.get("format") == "csv":
        return _csv(queries.stock_csv(report), f"vaccine-stock-{report.today:%Y%m%d}.csv")
    context = {
        "report": report,
        "sections": report.sections(),
        "funding_form": FundingForm(),
        "csv_query": query_string({"format": "csv"}),
        "expired_count": sum(1 for r in report.rows if r.expired),
        "expiring_count": sum(1 for r in report.rows if r.expiring),
    }
    return render(request, "immunizations/stock_list.html", context)


@screen(methods=FORM)
def stock_receive(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.IMM_STOCK)
    suppliers = list(Supplier.objects.filter(site=actor.site, active=True).order_by("name"))
    form = ReceiveForm(posted(request), suppliers=suppliers)
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
        try:
            done = services.vaccine_stock_receive(
                actor=actor,
                code=values["code"],
                lot_number=values["lot_number"] or "",
                expiry=values["expiry"],
                quantity=values["quantity"],
                funding=values["funding"],
                supplier=values["supplier"],
                note=values["note"] or "",
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            move = done.move
            messages.success(
                request,
                f"{move.quantity.normalize():f} doses of {done.ndc.vaccine.short_description}, "
                f"lot {move.lot.number}, received as "
                f"{Funding(done.vaccine_lot.funding).label} stock "
                f"({move.balance_after.normalize():f} on hand).",
            )
            return redirect("imm_stock_receive")
    return render(
        request, "immunizations/stock_receive.html", {"form": form}, status=form.http_status()
    )


@screen(methods=FORM)
def lot_funding(request: HttpRequest, lot_id: int) -> HttpResponse:
    """Record (or correct) which program paid for a lot."""
    actor = actor_of(request)
    found = queries.vaccine_lot_at(actor=actor, lot_id=lot_id)
    form = FundingForm(posted(request))
    if form.is_bound and form.is_valid():
        try:
            row = services.vaccine_lot_fund(
                actor=actor, lot=found.lot, funding=form.cleaned_data["funding"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request, f"Lot {row.lot.number} recorded as {row.get_funding_display()} stock."
            )
            return redirect("imm_stock")
    context = {"form": form, "lot": found.lot, "may_stock": has(actor, Cap.IMM_STOCK)}
    return render(
        request, "immunizations/stock_lot_funding.html", context, status=form.http_status()
    )


urlpatterns: list[URLPattern] = [
    path("vaccines/", vaccine_search, name="imm_vaccines"),
    path("vaccines/<str:cvx>/", vaccine_detail, name="imm_vaccine"),
    path("stock/", stock, name="imm_stock"),
    path("stock/receive/", stock_receive, name="imm_stock_receive"),
    path("stock/lots/<int:lot_id>/funding/", lot_funding, name="imm_stock_lot_funding"),
]
