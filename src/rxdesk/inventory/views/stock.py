"""Workstation screens for stock on the shelf: the on-hand list, a lot with its moves and
the forms that act on it (adjust, status, relocate), a package's lots and history, storage
locations, opening balances and found stock, and transfers between sites.

Each screen parses, calls a query or a service, and renders; who may do what is the
services' and queries' rule (a refused capability is the 403 page), and a broken rule is
shown beside the field it names."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from rxdesk.catalog import queries as catalog_queries
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.forms import FIELD_ERRORS, MAX_ID, RxForm, bind_errors, initial_from
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, is_partial, posted, screen
from rxdesk.inventory import queries
from rxdesk.inventory.forms import (
    AdjustForm,
    LocationForm,
    ReceiveForm,
    RelocateForm,
    ScanForm,
    StatusForm,
    StockSearchForm,
    TransferForm,
    TransferReceiveForm,
)
from rxdesk.inventory.services import stock as services

HISTORY_PAGE = 50


def _before(request: HttpRequest) -> int | None:
    """The ``before`` move id of a history page (older moves), if a sane one was given."""
    raw = request.GET.get("before", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None


def _history(rows: list[queries.MoveRow]) -> dict[str, Any]:
    """A page of history: at most HISTORY_PAGE rows, and where the next (older) page starts."""
    page = rows[:HISTORY_PAGE]
    older = page[-1].move.pk if len(rows) > HISTORY_PAGE else None
    return {"moves": page, "older": older}


# --- On hand ------------------------------------------------------------------------------


@screen
def stock_list(request: HttpRequest) -> HttpResponse:
    """What is on the shelf: type a name, an NDC or a lot (or scan a package); htmx
    refreshes the list as the user types or changes a filter."""
    actor = actor_of(request)
    places = list(queries.locations(actor=actor))  # also the capability check
    form = StockSearchForm(request.GET or None, places=places)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v not in ("", None)}
    rows: list[queries.StockRow] = []
    try:
        rows = queries.on_hand(actor=actor, **filters)
    except FIELD_ERRORS as exc:
        bind_errors(form, exc)
    context = {
        "form": form,
        "rows": rows,
        "limit": queries.ON_HAND_LIMIT,
        "filtered": bool(filters),
    }
    template = "inventory/stock/_stock_results.html" if is_partial(request) else None
    return render(
        request,
        template or "inventory/stock/stock_list.html",
        context,
        status=form.http_status(),
    )


def _balance_context(actor: User, row: queries.StockRow) -> dict[str, Any]:
    return {
        "row": row,
        "balance": row.balance,
        "product": row.balance.package.product,
        "can_adjust": has(actor, Cap.INVENTORY_ADJUST),
        "can_release": has(actor, Cap.INVENTORY_APPROVE),
        "can_relocate": has(actor, Cap.INVENTORY_RECEIVE),
    }


@screen
def balance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One lot at this site: its status, location, and every move with the balance after."""
    actor = actor_of(request)
    row = queries.balance_detail(actor=actor, balance_id=pk)
    rows = queries.move_history(
        actor=actor, lot=row.balance.lot, limit=HISTORY_PAGE + 1, before_id=_before(request)
    )
    context = {**_balance_context(actor, row), **_history(rows)}
    return render(request, "inventory/stock/balance_detail.html", context)


def _balance_form(
    request: HttpRequest, row: queries.StockRow, form: RxForm, *, title: str, submit: str
) -> HttpResponse:
    context = {
        **_balance_context(actor_of(request), row),
        "form": form,
        "title": title,
        "submit": submit,
        "draft": f"{request.resolver_match.url_name if request.resolver_match else 'lot'}"
        f"-{row.balance.pk}",
    }
    return render(request, "inventory/stock/balance_form.html", context, status=form.http_status())


def _back_to(row: queries.StockRow) -> str:
    return reverse("inventory_balance", kwargs={"pk": row.balance.pk})


@screen(methods=FORM)
def balance_adjust(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a lot's balance: a signed quantity, a reason code and a note; for a
    controlled substance, the witness's sign-in (required for Schedule II)."""
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_ADJUST)
    row = queries.balance_detail(actor=actor, balance_id=pk)
    form = AdjustForm(posted(request), controlled=row.balance.package.product.dea_schedule)
    if request.method == "POST" and form.is_valid():
        try:
            move = services.stock_adjust(actor=actor, balance=row.balance, **form.service_values())
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                f"Lot {row.balance.lot.number}: {move.quantity.normalize():+f} "
                f"{row.balance.package.billing_unit}; now "
                f"{move.balance_after.normalize():f} on hand.",
            )
            return redirect(_back_to(row))
    return _balance_form(request, row, form, title="Adjust the balance", submit="Adjust")


@screen(methods=FORM)
def balance_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Quarantine, hold or mark damaged a lot, or release it (approvers only)."""
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_ADJUST)
    row = queries.balance_detail(actor=actor, balance_id=pk)
    form = StatusForm(posted(request), can_release=has(actor, Cap.INVENTORY_APPROVE))
    if request.method == "POST" and form.is_valid():
        try:
            fresh = services.stock_status_set(actor=actor, balance=row.balance, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                f"Lot {fresh.lot.number} is now {fresh.get_status_display().lower()}.",
            )
            return redirect(_back_to(row))
    return _balance_form(request, row, form, title="Change the lot's status", submit="Save")


@screen(methods=FORM)
def balance_relocate(request: HttpRequest, pk: int) -> HttpResponse:
    """Record where a lot is kept."""
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_RECEIVE)
    row = queries.balance_detail(actor=actor, balance_id=pk)
    places = queries.locations(actor=actor, active_only=True)
    form = RelocateForm(posted(request), places=places)
    if request.method == "POST" and form.is_valid():
        try:
            fresh = services.stock_relocate(actor=actor, balance=row.balance, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            assert fresh.location is not None
            messages.success(request, f"Lot {fresh.lot.number} is kept at {fresh.location}.")
            return redirect(_back_to(row))
    return _balance_form(request, row, form, title="Move to another location", submit="Move")


@screen
def package_stock(request: HttpRequest, pk: int) -> HttpResponse:
    """All lots of one package at this site, the totals, and the package's history with the
    running total across lots."""
    actor = actor_of(request)
    package = queries.package_for(actor=actor, package_id=pk)
    found = queries.package_stock(actor=actor, package=package)
    rows = queries.move_history(
        actor=actor, package=package, limit=HISTORY_PAGE + 1, before_id=_before(request)
    )
    context = {
        "package": package,
        "product": package.product,
        "stock": found,
        **_history(rows),
    }
    return render(request, "inventory/stock/package_stock.html", context)


# --- Opening balances and found stock --------------------------------------------------------


def _scanned(request: HttpRequest, scan_form: ScanForm) -> tuple[dict[str, Any], int]:
    """The form's starting values from a scanned code (NDC, lot, expiry), and the status
    of the page (422 for a code that could not be read)."""
    if not scan_form.is_bound:
        return {}, 200
    if not scan_form.is_valid():
        return {}, 422
    try:
        resolved = catalog_queries.resolve_code(
            actor=actor_of(request), code=scan_form.cleaned_data["scan"]
        )
    except (Invalid, NotFound, catalog_queries.AmbiguousCode) as exc:
        scan_form.add_error("scan", exc.message)
        return {}, exc.status
    initial: dict[str, Any] = {"ndc": resolved.package.ndc10}
    if resolved.lot:
        initial["lot_number"] = resolved.lot
    if resolved.expiry:
        initial["expiry"] = resolved.expiry
    return initial, 200


@screen(methods=FORM)
def stock_receive(request: HttpRequest) -> HttpResponse:
    """Put one lot on the shelf outside a delivery: an opening balance or found stock. The
    scan box fills the NDC, lot and expiry from the package's 2D barcode."""
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_RECEIVE)
    places = queries.locations(actor=actor, active_only=True)
    scan_form = ScanForm(request.GET if "scan" in request.GET else None)
    initial, status = _scanned(request, scan_form)
    form = ReceiveForm(posted(request), initial=initial, places=places)
    if not form.is_bound:
        # The scan box has the focus; after a scan, the quantity (the one thing left).
        form.fields["ndc"].widget.attrs.pop("autofocus", None)
        if initial:
            form.fields["quantity"].widget.attrs["autofocus"] = True
    if request.method == "POST" and form.is_valid():
        try:
            move = services.stock_receive(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            row = queries.balance_of_lot(actor=actor, lot_id=move.lot_id)
            messages.success(
                request,
                f"{move.quantity.normalize():f} {row.balance.package.billing_unit} of lot "
                f"{row.balance.lot.number} put into stock; "
                f"{move.balance_after.normalize():f} on hand.",
            )
            return redirect("inventory_balance", pk=row.balance.pk)
    context = {"form": form, "scan_form": scan_form, "scanned": bool(initial)}
    return render(
        request,
        "inventory/stock/receive.html",
        context,
        status=form.http_status() if form.is_bound else status,
    )


# --- Storage locations --------------------------------------------------------------------


@screen
def location_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    places = list(queries.locations(actor=actor))
    return render(
        request,
        "inventory/stock/location_list.html",
        {"places": places, "can_setup": has(actor, Cap.INVENTORY_SETUP)},
    )


@screen(methods=FORM)
def location_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_SETUP)
    form = LocationForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            place = services.location_create(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Location {place.code} is added.")
            return redirect("inventory_locations")
    return render(
        request,
        "inventory/stock/location_form.html",
        {"form": form, "place": None},
        status=form.http_status(),
    )


@screen(methods=FORM)
def location_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_SETUP)
    place = queries.location_detail(actor=actor, location_id=pk)
    form = LocationForm(posted(request), initial=initial_from(place, LocationForm), editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            if form.has_changed():
                services.location_update(actor=actor, location=place, **form.changed())
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                f"Location {form.cleaned_data['code']} is saved."
                if form.has_changed()
                else "Nothing was changed.",
            )
            return redirect("inventory_locations")
    return render(
        request,
        "inventory/stock/location_form.html",
        {"form": form, "place": place},
        status=form.http_status(),
    )


# --- Transfers ----------------------------------------------------------------------------


@screen
def transfer_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    direction = request.GET.get("direction", "all")
    if direction not in queries.TRANSFER_DIRECTIONS:
        direction = "all"
    found = queries.transfers(actor=actor, direction=direction)
    assert actor.site is not None
    return render(
        request,
        "inventory/stock/transfer_list.html",
        {
            "transfers": found,
            "direction": direction,
            "directions": [("all", "All"), ("out", "Sent"), ("in", "Received / to receive")],
            "here": actor.site,
            "can_transfer": has(actor, Cap.INVENTORY_TRANSFER),
        },
    )


def _bind_lines(form: TransferForm, exc: Exception, lines: list[dict[str, Any]]) -> None:
    """A service error on ``lines.<n>.quantity`` belongs beside that lot's quantity box."""
    assert isinstance(exc, FIELD_ERRORS)
    errors = exc.errors or [{"field": exc.field or "", "message": exc.message}]
    for error in errors:
        name = error.get("field") or ""
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit():
            index = int(parts[1])
            if index < len(lines):
                form.add_error(form.quantity_field(lines[index]["balance"]), error["message"])
                continue
        form.add_error(name if name in form.fields else None, error.get("message") or "")
    form.error_status = exc.status


@screen(methods=FORM)
def transfer_create(request: HttpRequest) -> HttpResponse:
    """Send lots of this site to another site of the organization: type a quantity beside
    each lot that goes."""
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_TRANSFER)
    q = request.GET.get("q", "")[:100]
    rows = queries.transferable(actor=actor, q=q)
    sites = queries.sister_sites(actor=actor)
    form = TransferForm(posted(request), sites=sites, rows=rows)
    if request.method == "POST" and form.is_valid():
        lines = form.lines()
        try:
            if not lines:
                raise Invalid("Type the quantity of at least one lot.", field="lines")
            to_site = queries.destination_site(
                actor=actor, site_id=int(form.cleaned_data["to_site"])
            )
            transfer = services.stock_transfer_send(
                actor=actor, to_site=to_site, lines=lines, note=form.cleaned_data["note"]
            )
        except FIELD_ERRORS as exc:
            _bind_lines(form, exc, lines)
        else:
            messages.success(request, f"Transfer {transfer.pk} to {to_site.name} is on its way.")
            return redirect("inventory_transfer_detail", pk=transfer.pk)
    return render(
        request,
        "inventory/stock/transfer_form.html",
        {"form": form, "q": q, "sites": sites},
        status=form.http_status(),
    )


@screen
def transfer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    transfer = queries.transfer_detail(actor=actor, transfer_id=pk)
    assert actor.site is not None
    pending = queries.transfer_pending(transfer, actor.site)
    can_receive = pending and has(actor, Cap.INVENTORY_TRANSFER)
    receive_form = None
    if can_receive:
        receive_form = TransferReceiveForm(places=queries.locations(actor=actor, active_only=True))
    return render(
        request,
        "inventory/stock/transfer_detail.html",
        {
            "transfer": transfer,
            "lines": queries.transfer_lines(transfer),
            "receive_form": receive_form,
            "outgoing": transfer.from_site_id == actor.site.pk,
        },
    )


@screen(methods=("POST",))
def transfer_receive(request: HttpRequest, pk: int) -> HttpResponse:
    """The receiving site checks the transfer in: its lots enter stock here."""
    actor = actor_of(request)
    transfer = queries.transfer_detail(actor=actor, transfer_id=pk)
    form = TransferReceiveForm(
        request.POST, places=queries.locations(actor=actor, active_only=True)
    )
    if not form.is_valid():
        messages.error(request, "Choose a storage location from the list.")
        return redirect("inventory_transfer_detail", pk=transfer.pk)
    location = form.cleaned_data.get("location") or None
    try:
        services.stock_transfer_receive(actor=actor, transfer=transfer, location=location)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Transfer {transfer.pk} is received into stock.")
    return redirect("inventory_transfer_detail", pk=transfer.pk)
