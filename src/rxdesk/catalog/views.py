"""Workstation screens for the drug catalog: parse, call a service or query, render.

The search page takes a name as it is typed (htmx refreshes the results) and, in its scan
box, any code printed on a package: a scan that names one package opens its product with
that package marked and the lot, expiry and serial the barcode carried."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from rxdesk.catalog import queries, services
from rxdesk.catalog.forms import CatalogSearchForm, FlagsForm, ScanForm, partners_text
from rxdesk.catalog.models import Product
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, Invalid, NotFound
from rxdesk.core.forms import FIELD_ERRORS, bind_errors, initial_from
from rxdesk.core.views import FORM, actor_of, is_partial, posted, screen


def _search_context(request: HttpRequest, form: CatalogSearchForm) -> dict[str, Any]:
    q = form.cleaned_data["q"] if form.is_bound and form.is_valid() else ""
    # Called even with nothing typed: the query checks the capability.
    hits = queries.catalog_search(actor=actor_of(request), q=q)
    return {
        "form": form,
        "q": q,
        "hits": hits,
        "searched": len(q.strip()) > 0,
        "limit": queries.SEARCH_LIMIT,
        "min_chars": queries.search.MIN_CHARS,
    }


@screen
def catalog_search(request: HttpRequest) -> HttpResponse:
    """Find a drug by brand or generic name, ingredient, strength, form or NDC; htmx
    refreshes the results as the user types."""
    form = CatalogSearchForm(request.GET or None)
    context = _search_context(request, form)
    if is_partial(request):
        return render(request, "catalog/_results.html", context, status=form.http_status())
    context["scan_form"] = ScanForm()
    return render(request, "catalog/search.html", context, status=form.http_status())


@screen
def catalog_scan(request: HttpRequest) -> HttpResponse:
    """Open the package a scanned or typed code names. A bad code, an unknown one, or ten
    digits that several packages share are shown on the search page beside the box."""
    scan_form = ScanForm(request.GET or None)
    candidates: list[dict[str, Any]] = []
    status = 200
    if scan_form.is_bound and scan_form.is_valid():
        try:
            resolved = queries.resolve_code(
                actor=actor_of(request), code=scan_form.cleaned_data["code"]
            )
        except queries.AmbiguousCode as exc:
            scan_form.add_error("code", exc.message)
            candidates = cast(list[dict[str, Any]], exc.extra.get("candidates", []))
            status = exc.status
        except (Invalid, NotFound) as exc:
            scan_form.add_error("code", exc.message)
            status = exc.status
        else:
            return redirect(_package_url(resolved))
    elif scan_form.is_bound:
        status = 422
    form = CatalogSearchForm()
    context = _search_context(request, form)
    context.update(scan_form=scan_form, candidates=candidates, scanned=True)
    return render(request, "catalog/search.html", context, status=status)


def _package_url(resolved: queries.Resolved) -> str:
    params = {"package": resolved.package.ndc11}
    if resolved.lot is not None:
        params["lot"] = resolved.lot
    if resolved.expiry is not None:
        params["expiry"] = resolved.expiry.isoformat()
    if resolved.serial is not None:
        params["serial"] = resolved.serial
    url = reverse("catalog_product", kwargs={"pk": resolved.package.product_id})
    return f"{url}?{urlencode(params)}"


@screen
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    product = queries.product_for(actor=actor, product_id=pk)
    packages = list(product.packages.order_by("-active", "package_quantity", "ndc11"))
    prices = queries.latest_prices(packages)
    for package in packages:
        package.latest_prices = prices.get(package.pk, [])  # type: ignore[attr-defined]
    scanned = {key: request.GET.get(key, "")[:60] for key in ("package", "lot", "expiry", "serial")}
    context = {
        "product": product,
        "packages": packages,
        "ingredients": list(product.ingredients.all()),
        "pharm_classes": queries.pharm_classes(product),
        "te_code": queries.te_code_of(product),
        "equivalents": queries.equivalents(product),
        "look_alikes": queries.look_alikes(product),
        "scanned": scanned if scanned["package"] else None,
        "can_edit": has(actor, Cap.CATALOG_EDIT),
    }
    return render(request, "catalog/product_detail.html", context)


@screen(methods=FORM)
def product_flags(request: HttpRequest, pk: int) -> HttpResponse:
    """The pharmacist-in-charge's flags of a product, and its look-alike partners."""
    actor = actor_of(request)
    require(actor, Cap.CATALOG_EDIT)
    product = queries.product_for(actor=actor, product_id=pk)
    initial = {**initial_from(product, FlagsForm), "look_alikes": partners_text(product)}
    form = FlagsForm(posted(request), initial=initial, product=product)
    if request.method == "POST" and form.is_valid():
        changed = form.changed()
        reason = form.cleaned_data.get("reason", "")
        flags = {k: v for k, v in changed.items() if k in services.FLAG_FIELDS}
        try:
            partners: list[Product] | None = None
            if "look_alikes" in changed:
                partners, missing = queries.products_by_ndc(form.partner_codes())
                if missing:
                    raise Invalid(f"Not in the catalog: {', '.join(missing)}.", field="look_alikes")
            # Both changes or neither: a refused partner list leaves the flags as they were.
            with transaction.atomic():
                if flags:
                    services.product_flags_update(
                        actor=actor, product=product, reason=reason, **flags
                    )
                if partners is not None:
                    services.product_look_alike_set(
                        actor=actor, product=product, partners=partners, reason=reason
                    )
        except FIELD_ERRORS as exc:
            _bind(form, exc)
        else:
            messages.success(
                request,
                "The product's flags are saved." if changed else "Nothing was changed.",
            )
            return redirect("catalog_product", pk=product.pk)
    return render(
        request,
        "catalog/product_flags.html",
        {"form": form, "product": product},
        status=form.http_status(),
    )


def _bind(form: FlagsForm, exc: DomainError) -> None:
    """The look-alike service names its field ``partners``; the form calls it look_alikes."""
    if exc.field == "partners" or any(e.get("field") == "partners" for e in exc.errors):
        form.add_error("look_alikes", exc.message)
        form.error_status = exc.status
        return
    bind_errors(form, exc)
