"""Formulary screens: the site's formulary (list, filters, CSV export and import), one
product's entry (add, change, remove: the PIC). Parse, call rxdesk.formulary services /
queries, render."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.catalog.models import Product
from rxdesk.catalog.queries import catalog_search
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import NotFound
from rxdesk.core.forms import FIELD_ERRORS, MAX_ID, bind_errors
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.formulary import queries, services
from rxdesk.formulary.choices import FormularyStatus
from rxdesk.formulary.forms import EntryForm, ImportForm

IMPORT_MAX_BYTES = 2_000_000


@screen
def formulary_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.FORMULARY_VIEW)
    status = request.GET.get("status", "")
    status = status if status in FormularyStatus.values else ""
    q = request.GET.get("q", "").strip()[:60]
    rows = list(queries.entries(actor=actor, status=status, q=q))
    may_edit = has(actor, Cap.FORMULARY_EDIT)
    find = request.GET.get("find", "").strip()[:60]
    hits = catalog_search(actor=actor, q=find, limit=15) if (find and may_edit) else []
    context = {
        "rows": rows,
        "status": status,
        "q": q,
        "find": find,
        "hits": hits,
        "statuses": FormularyStatus.choices,
        "may_edit": may_edit,
        "today": actor.site.today() if actor.site else None,
    }
    return render(request, "formulary/home.html", context)


@screen
def formulary_export(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    status = request.GET.get("status", "")
    rows = queries.entries_csv_rows(
        actor=actor,
        status=status if status in FormularyStatus.values else "",
        q=request.GET.get("q", "")[:60],
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="formulary.csv"'
    csv.writer(response).writerows(rows)
    return response


@screen(methods=FORM)
def formulary_import(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.FORMULARY_EDIT)
    form = ImportForm(posted(request), request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("file")
        text = form.cleaned_data.get("text") or ""
        if upload is not None:
            if upload.size > IMPORT_MAX_BYTES:
                form.add_error("file", "The file is larger than 2 MB; split it.")
            else:
                try:
                    text = upload.read().decode("utf-8-sig")
                except UnicodeDecodeError:
                    form.add_error("file", "Save the file as CSV (UTF-8) and try again.")
        if not form.errors:
            try:
                result = services.formulary_import(actor=actor, text=text)
            except FIELD_ERRORS as exc:
                bind_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"Imported: {result.created} added, {result.updated} changed, "
                    f"{result.unchanged} unchanged.",
                )
                return redirect("formulary_home")
    return render(request, "formulary/import.html", {"form": form}, status=form.http_status())


def _product(product_id: int) -> Product:
    found = Product.objects.filter(pk=product_id).first() if 0 < product_id <= MAX_ID else None
    if found is None:
        raise NotFound("No such product in the catalog.")
    return found


@screen(methods=FORM)
def formulary_product(request: HttpRequest, product_id: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.FORMULARY_VIEW)
    product = _product(product_id)
    entry = queries.entry_for_product(actor=actor, product=product)
    may_edit = has(actor, Cap.FORMULARY_EDIT)
    initial: dict[str, Any] = {}
    if entry is not None:
        initial = {
            "status": entry.status,
            "tier": entry.tier,
            "criteria": entry.criteria,
            "notes": entry.notes,
            "effective_from": entry.effective_from,
            "effective_to": entry.effective_to,
        }
    form = EntryForm(initial=initial)
    if request.method == "POST":
        require(actor, Cap.FORMULARY_EDIT)
        form = EntryForm(request.POST)
        if form.is_valid():
            try:
                services.formulary_entry_set(actor=actor, product=product, **form.cleaned_data)
            except FIELD_ERRORS as exc:
                bind_errors(form, exc)
            else:
                messages.success(request, f"Formulary entry saved: {product}.")
                return redirect("formulary_home")
    context = {"product": product, "entry": entry, "form": form, "may_edit": may_edit}
    return render(request, "formulary/product.html", context, status=form.http_status())


@screen(methods=("POST",))
def formulary_entry_remove(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.FORMULARY_EDIT)
    entry = queries.entry_get(actor=actor, entry_id=pk)
    try:
        services.formulary_entry_remove(actor=actor, entry=entry)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
        return redirect("formulary_product", product_id=entry.product_id)
    messages.success(request, f"Taken off the formulary: {entry.product}.")
    return redirect("formulary_home")


urlpatterns: list[URLPattern] = [
    path("", formulary_home, name="formulary_home"),
    path("export.csv", formulary_export, name="formulary_export"),
    path("import/", formulary_import, name="formulary_import"),
    path("product/<int:product_id>/", formulary_product, name="formulary_product"),
    path("entries/<int:pk>/remove/", formulary_entry_remove, name="formulary_entry_remove"),
]
