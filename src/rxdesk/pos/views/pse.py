"""Screens of the point of sale (pse): selling a pseudoephedrine/ephedrine product on a sale
(photo ID, limits, signature) and the CMEA logbook. Parse, call a service or query, render."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.core.capabilities import Cap, require
from rxdesk.core.errors import NotFound
from rxdesk.core.forms import FIELD_ERRORS, MAX_ID, DateField, RxForm, bind_errors, flag, text
from rxdesk.core.views import FORM, actor_of, is_partial, posted, screen
from rxdesk.pos.choices import IdType
from rxdesk.pos.models import Sale
from rxdesk.pos.services import pse
from rxdesk.pos.services.common import EDITABLE

SIGNATURE_CHARS = 360_000
LOG_DAYS_SHOWN = 7


class PseForm(RxForm):
    FIELDSETS = (
        ("Product", ("code", "packages", "mail_order")),
        ("Purchaser, as on the photo ID", ("first_name", "last_name", "date_of_birth")),
        ("Address", ("address_line1", "address_line2", "city", "state", "postal_code")),
        ("Photo ID", ("id_type", "id_number", "id_state", "id_expiry")),
    )
    SEPARATE = ("signature",)

    code = text(
        200,
        required=True,
        label="Scan or type the product",
        autocomplete="off",
        spellcheck="false",
        placeholder="UPC, NDC or 2D barcode",
    )
    packages = forms.IntegerField(
        min_value=1, max_value=pse.MAX_PACKAGES, initial=1, label="Packages"
    )
    mail_order = flag("Mail order or delivery", "Limited to 7.5 g of base in 30 days.")
    first_name = text(60, required=True, label="First name")
    last_name = text(60, required=True, label="Last name")
    date_of_birth = DateField(label="Date of birth")
    address_line1 = text(120, required=True, label="Street address")
    address_line2 = text(120, label="Apartment, suite")
    city = text(80, required=True)
    state = text(2, required=True, placeholder="IL")
    postal_code = text(10, required=True, label="ZIP code")
    id_type = forms.ChoiceField(choices=[("", "Choose…"), *IdType.choices], label="ID type")
    id_number = text(30, required=True, label="ID number", autocomplete="off")
    id_state = text(2, label="Issued by (state)", placeholder="IL", autocomplete="off")
    id_expiry = DateField(label="ID expires")
    signature = forms.CharField(
        required=False, max_length=SIGNATURE_CHARS, widget=forms.HiddenInput
    )

    def purchaser(self) -> pse.Purchaser:
        d = self.cleaned_data
        return pse.Purchaser(
            first_name=d.get("first_name") or "",
            last_name=d.get("last_name") or "",
            date_of_birth=d.get("date_of_birth"),
            address_line1=d.get("address_line1") or "",
            address_line2=d.get("address_line2") or "",
            city=d.get("city") or "",
            state=d.get("state") or "",
            postal_code=d.get("postal_code") or "",
            id_type=d.get("id_type") or "",
            id_number=d.get("id_number") or "",
            id_state=d.get("id_state") or "",
            id_expiry=d.get("id_expiry"),
        )


def _sale(request: HttpRequest, pk: int) -> Sale:
    actor = actor_of(request)
    require(actor, Cap.POS_PSE_SELL)  # before anything about the sale is read
    found = Sale.objects.filter(pk=pk, site_id=actor.site_id).first() if pk <= MAX_ID else None
    if found is None:
        raise NotFound("No such sale at this pharmacy.")
    return found


def _back(sale: Sale) -> str:
    return reverse("counter_pay", kwargs={"pk": sale.pk})


@screen(methods=FORM)
def pse_sale(request: HttpRequest, pk: int) -> HttpResponse:
    """Sell a behind-the-counter product: the product scanned, the purchaser's photo ID
    typed, the standing against the limits shown, the signature drawn."""
    actor = actor_of(request)
    sale = _sale(request, pk)
    form = PseForm(posted(request))
    standing = None
    checking = request.method == "POST" and "check" in request.POST
    if request.method == "POST" and sale.status not in EDITABLE:
        form.is_valid()
        form.add_error(None, f"Sale {sale.receipt_number} is closed: start a new sale.")
        form.error_status = 409
    elif checking:
        form.is_valid()
        try:
            standing = pse.pse_limits(
                actor=actor,
                purchaser=form.purchaser(),
                mail_order=bool(form.cleaned_data.get("mail_order")),
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
    elif request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            line = pse.pse_add(
                actor=actor,
                sale=sale,
                code=d["code"],
                packages=d["packages"],
                purchaser=form.purchaser(),
                signature=d.get("signature") or None,
                mail_order=bool(d.get("mail_order")),
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Added {line.description} × {d['packages']}.")
            return redirect(_back(sale))
    status = 200 if standing is not None else form.http_status()
    context = {
        "form": form,
        "sale": sale,
        "standing": standing,
        "back_url": _back(sale),
        "notice": pse.FALSE_STATEMENT_NOTICE,
    }
    template = "pos/_pse_form.html" if is_partial(request) else "pos/pse_sale.html"
    return render(request, template, context, status=status)


class LogFilterForm(RxForm):
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="To")
    q = text(80, label="Name, product or NDC", autocomplete="off")


@screen
def pse_log(request: HttpRequest) -> HttpResponse:
    """The CMEA logbook: a date range, a search, and the CSV for an inspector."""
    actor = actor_of(request)
    require(actor, Cap.POS_PSE_LOG)
    site = actor.site
    today = site.today()
    form = LogFilterForm(request.GET or None)
    start = today - dt.timedelta(days=LOG_DAYS_SHOWN - 1)
    end, q = today, ""
    if form.is_bound and form.is_valid():
        start = form.cleaned_data.get("start") or start
        end = form.cleaned_data.get("end") or end
        q = form.cleaned_data.get("q") or ""
    entries: list[Any] = []
    status = form.http_status()
    if not form.errors:
        try:
            entries = pse.pse_log(
                actor=actor, start=start, end=end, q=q, export=request.GET.get("format") == "csv"
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
            status = form.http_status()
    if request.GET.get("format") == "csv" and not form.errors:
        response = HttpResponse(pse.pse_log_csv(entries), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="pse-log-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
        )
        response["Cache-Control"] = "no-store"
        return response
    query = request.GET.copy()
    query["format"] = "csv"
    context = {
        "form": form,
        "entries": entries,
        "start": start,
        "end": end,
        "retained_since": pse.pse_log_retained_since(site),
        "csv_query": query.urlencode(),
        "notice": pse.FALSE_STATEMENT_NOTICE,
    }
    return render(request, "pos/pse_log.html", context, status=status)


urlpatterns: list[URLPattern] = [
    path("pse/log/", pse_log, name="pse_log"),
    path("sales/<int:pk>/pse/", pse_sale, name="pse_sale"),
]
