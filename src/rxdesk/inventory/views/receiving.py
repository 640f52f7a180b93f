"""Workstation screens for ordering and receiving: the receiving screen (the cursor waits in
the scan box; a scanner types the code and Enter and the line appears), receipts and their
invoice import, purchase orders with today's suggested orders, suppliers, par levels and
delivery discrepancies with their follow-up.

Each screen parses, calls a query or a service, and renders; who may do what is the
services' and queries' rule (a refused capability is the 403 page), and a broken rule is
shown beside the field it names. The small forms here only parse what was typed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, NotFound
from rxdesk.core.forms import (
    FIELD_ERRORS,
    DateField,
    RxForm,
    bind_errors,
    choice,
    flag,
    initial_from,
    text,
)
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, is_partial, posted, screen
from rxdesk.inventory import queries_ordering as queries
from rxdesk.inventory.api.receiving import order_file_response
from rxdesk.inventory.choices import (
    AbcClass,
    DiscrepancyKind,
    DiscrepancyStatus,
    PurchaseOrderStatus,
    ReceiptStatus,
)
from rxdesk.inventory.invoice import MAX_TEXT
from rxdesk.inventory.models import (
    Discrepancy,
    ParLevel,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
)
from rxdesk.inventory.services import ordering, receiving
from rxdesk.inventory.services.common import package_of

LIST_LIMIT = 200
MAX_PACKAGES = ordering.MAX_PACKAGES


def _packages_field(label: str, *, required: bool = True, minimum: int = 0) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=required,
        min_value=minimum,
        max_value=MAX_PACKAGES,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


def _money_field(label: str) -> forms.CharField:
    return text(20, label=label, inputmode="decimal", placeholder="0.00", autocomplete="off")


def _supplier_choices(actor: User, *, blank: str = "Choose a supplier") -> list[tuple[str, str]]:
    """The site's active suppliers that sell (a reverse distributor only takes returns)."""
    sellers = [s for s in queries.supplier_list(actor=actor) if not s.reverse_distributor]
    return [("", blank)] + [(str(s.pk), s.name) for s in sellers]


# --- Forms ----------------------------------------------------------------------------------


class SupplierForm(RxForm):
    FIELDSETS = (
        ("Supplier", ("name", "account_number", "dea_number", "reverse_distributor", "active")),
        ("Contact", ("phone", "email")),
    )

    name = text(120, required=True, label="Name")
    account_number = text(40, label="Our account number")
    dea_number = text(12, label="DEA registration", autocomplete="off")
    reverse_distributor = flag("Reverse distributor", "Takes returns; does not sell.")
    active = flag("Active", "An inactive supplier cannot be ordered from.")
    phone = text(20, label="Phone")
    email = text(254, label="Email")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not editing:
            del self.fields["active"]


class ParLevelForm(RxForm):
    FIELDSETS = (
        ("Package", ("ndc",)),
        ("Levels (billing units)", ("minimum", "maximum")),
        ("Counting and ordering", ("abc_class", "location", "preferred_supplier")),
    )

    ndc = text(200, required=True, label="NDC or scan", autocomplete="off", spellcheck="false")
    minimum = text(20, required=True, label="Minimum (reorder at)", inputmode="decimal")
    maximum = text(20, required=True, label="Maximum (par: order up to)", inputmode="decimal")
    abc_class = choice([("", "—"), *AbcClass.choices], label="ABC class", required=False)
    location = text(30, label="Home location code")
    preferred_supplier = choice([], label="Preferred supplier", required=False)

    def __init__(self, *args: Any, suppliers: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["preferred_supplier"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = suppliers


class OrderForm(RxForm):
    supplier = choice([], label="Supplier")
    note = text(500, label="Note")

    def __init__(self, *args: Any, suppliers: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["supplier"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = suppliers


class OrderLineForm(RxForm):
    ndc = text(200, required=True, label="NDC or scan", autocomplete="off", spellcheck="false")
    packages = _packages_field("Packages", minimum=1)
    unit_cost = _money_field("Unit cost ($)")
    dea_order_number = text(40, label="DEA 222 / CSOS order number", autocomplete="off")


class OrderLineEditForm(RxForm):
    packages = _packages_field("Packages", minimum=1)
    unit_cost = _money_field("Unit cost ($)")
    dea_order_number = text(40, label="DEA 222 / CSOS order number", autocomplete="off")


class ReasonForm(RxForm):
    reason = text(400, label="Reason")


class ReceiptForm(RxForm):
    FIELDSETS = (
        ("Delivery", ("supplier", "purchase_order", "invoice_number", "shipment_date")),
        ("DSCSA", ("dscsa_transaction_info", "dscsa_statement_received")),
        ("", ("note",)),
    )

    supplier = choice([], label="Supplier")
    purchase_order = choice([], label="Purchase order", required=False)
    invoice_number = text(40, label="Invoice number", autocomplete="off")
    shipment_date = DateField(required=False, label="Shipment date")
    dscsa_transaction_info = forms.CharField(
        max_length=receiving.MAX_TRANSACTION_INFO,
        required=False,
        label="Transaction information (TI)",
        help_text="What the seller sent: EPCIS reference, or the TI on the packing slip.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    dscsa_statement_received = flag(
        "Transaction statement (TS) received",
        "The seller's DSCSA attestation came with the shipment.",
    )
    note = text(500, label="Note")

    def __init__(
        self,
        *args: Any,
        suppliers: list[tuple[str, str]] | None = None,
        orders: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if suppliers is None:
            del self.fields["supplier"]
            del self.fields["purchase_order"]
            self.fields["invoice_number"].widget.attrs["autofocus"] = True
            return
        for name, values in (("supplier", suppliers), ("purchase_order", orders or [])):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = values


class ScanForm(RxForm):
    SEPARATE = ("scan",)

    scan = text(
        receiving.MAX_SCAN,
        label="Scan or type the NDC",
        autocomplete="off",
        spellcheck="false",
        placeholder="2D barcode, UPC, GTIN or NDC",
    )
    lot_number = text(40, label="Lot", autocomplete="off")
    expiry = DateField(required=False, label="Expiry")
    packages_received = _packages_field("Packages (default 1)", required=False)
    packages_damaged = _packages_field("Damaged", required=False)
    location = text(30, label="Location code", autocomplete="off")
    dea_order_number = text(40, label="DEA 222 / CSOS", autocomplete="off")


class RefusedPackageForm(RxForm):
    """A package of the delivery that does not go into stock, recorded for the supplier."""

    FIELDSETS = (
        ("Package", ("kind", "scan", "lot_number", "expiry", "packages")),
        ("", ("note",)),
    )

    kind = choice(
        [("", "Choose what is wrong"), *DiscrepancyKind.choices],
        label="What is wrong",
    )
    scan = text(
        receiving.MAX_SCAN,
        label="Scan or type the NDC",
        autocomplete="off",
        spellcheck="false",
        placeholder="2D barcode, UPC, GTIN or NDC",
    )
    lot_number = text(40, label="Lot", autocomplete="off")
    expiry = DateField(required=False, label="Expiry")
    packages = _packages_field("Packages (default 1)", required=False, minimum=1)
    note = text(receiving.MAX_DISCREPANCY_NOTE, label="Note")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[
            "kind"
        ].help_text = "A recalled lot: choose Wrong item (the recall is noted by itself)."
        self.fields["lot_number"].help_text = "From the barcode, or as printed. Needed if expired."


class ReceiptLineForm(RxForm):
    FIELDSETS = (
        ("Packages", ("packages_invoiced", "packages_received", "packages_damaged")),
        ("Lot", ("lot_number", "expiry")),
        ("", ("unit_cost", "location", "dea_order_number")),
    )

    packages_invoiced = _packages_field("Invoiced")
    packages_received = _packages_field("Received")
    packages_damaged = _packages_field("Damaged (of those received)")
    lot_number = text(40, label="Lot", autocomplete="off")
    expiry = DateField(required=False, label="Expiry")
    unit_cost = _money_field("Unit cost ($)")
    location = text(30, label="Location code", autocomplete="off")
    dea_order_number = text(40, label="DEA 222 / CSOS order number", autocomplete="off")


class ImportForm(RxForm):
    file = forms.FileField(required=False, label="Invoice file (CSV or X12 810)")
    text = forms.CharField(
        required=False,
        max_length=MAX_TEXT,
        label="…or paste the CSV",
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "mono"}),
    )

    def csv_text(self) -> str:
        upload = self.cleaned_data.get("file")
        if upload is not None:
            if upload.size > MAX_TEXT:
                self.add_error("file", "The file is too large for one delivery.")
                return ""
            raw = upload.read()
            try:
                return str(raw.decode("utf-8-sig"))
            except UnicodeDecodeError:
                return str(raw.decode("latin-1"))
        value = self.cleaned_data.get("text") or ""
        if not value.strip():
            self.add_error("text", "Choose the invoice file or paste its text.")
        return str(value)


class DiscrepancyForm(RxForm):
    follow_up = forms.CharField(
        max_length=2000,
        required=False,
        label="Follow-up note",
        help_text="Kept with your name and the time.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    status = choice(DiscrepancyStatus.choices, label="Status")
    credit_expected = _money_field("Credit expected ($)")
    credit_received = _money_field("Credit received ($)")


class SuggestionForm(RxForm):
    days = forms.IntegerField(
        min_value=1, max_value=queries.MAX_USAGE_DAYS, required=False, label="Usage over days"
    )
    review_days = forms.IntegerField(
        min_value=1, max_value=queries.MAX_REVIEW_DAYS, required=False, label="Review period"
    )


# --- Helpers --------------------------------------------------------------------------------


def _saved(request: HttpRequest, message: str, name: str, **kwargs: Any) -> HttpResponse:
    messages.success(request, message)
    return redirect(reverse(name, kwargs=kwargs or None))


def _page(
    request: HttpRequest,
    form: RxForm,
    *,
    title: str,
    submit: str,
    back: str,
    section: str,
    draft: str = "",
    intro: str = "",
    multipart: bool = False,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    """A form of its own: one card, the errors beside their fields, Enter saves, Esc
    goes back."""
    context = {
        "form": form,
        "title": title,
        "submit": submit,
        "back": back,
        "section": section,
        "draft": draft,
        "intro": intro,
        "multipart": multipart,
        **(extra or {}),
    }
    return render(request, "inventory/receiving/form_page.html", context, status=form.http_status())


def _money_text(value: Any) -> str:
    return "" if value is None else f"{value:.2f}"


# --- Suppliers ------------------------------------------------------------------------------


@screen
def supplier_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    show_all = request.GET.get("all") == "1"
    suppliers = list(queries.supplier_list(actor=actor, include_inactive=show_all))
    return render(
        request,
        "inventory/receiving/supplier_list.html",
        {
            "suppliers": suppliers,
            "show_all": show_all,
            "can_setup": has(actor, Cap.INVENTORY_SETUP),
            "section": "suppliers",
        },
    )


@screen(methods=FORM)
def supplier_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_SETUP)
    form = SupplierForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            vendor = ordering.supplier_create(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(request, f"{vendor.name} is added.", "inventory_suppliers")
    return _page(
        request,
        form,
        title="Add a supplier",
        submit="Add supplier",
        back=reverse("inventory_suppliers"),
        section="suppliers",
        draft="supplier-new",
    )


@screen(methods=FORM)
def supplier_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_SETUP)
    vendor = queries.supplier_for(actor=actor, supplier_id=pk)
    form = SupplierForm(posted(request), initial=initial_from(vendor, SupplierForm), editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            ordering.supplier_update(actor=actor, supplier=vendor, **form.changed())
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(request, f"{vendor.name} is saved.", "inventory_suppliers")
    return _page(
        request,
        form,
        title=f"Change {vendor.name}",
        submit="Save",
        back=reverse("inventory_suppliers"),
        section="suppliers",
        draft=f"supplier-{vendor.pk}",
    )


# --- Par levels -----------------------------------------------------------------------------


@screen
def par_level_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    pars = list(queries.par_level_list(actor=actor)[:1000])
    return render(
        request,
        "inventory/receiving/par_list.html",
        {"pars": pars, "can_setup": has(actor, Cap.INVENTORY_SETUP), "section": "pars"},
    )


@screen(methods=FORM)
def par_level_set(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_SETUP)
    initial: dict[str, Any] = {}
    wanted = request.GET.get("ndc", "")[:40]
    if wanted and request.method == "GET":
        try:
            par: ParLevel | None = queries.par_level_for(actor=actor, package=package_of(wanted))
        except DomainError:
            par = None
        initial = {"ndc": wanted}
        if par is not None:
            initial.update(
                minimum=format(par.minimum.normalize(), "f"),
                maximum=format(par.maximum.normalize(), "f"),
                abc_class=par.abc_class,
                location=par.location.code if par.location else "",
                preferred_supplier=str(par.preferred_supplier_id or ""),
            )
    suppliers = _supplier_choices(actor, blank="—")
    form = ParLevelForm(posted(request), initial=initial, suppliers=suppliers)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            saved = ordering.par_level_set(
                actor=actor,
                ndc=values["ndc"],
                minimum=values["minimum"],
                maximum=values["maximum"],
                abc_class=values["abc_class"],
                location=values["location"] or None,
                preferred_supplier=values["preferred_supplier"] or None,
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(
                request,
                f"The par level of NDC {saved.package.ndc10} is saved.",
                "inventory_par_levels",
            )
    return _page(
        request,
        form,
        title="Set a par level",
        submit="Save par level",
        back=reverse("inventory_par_levels"),
        section="pars",
        intro="Minimum and maximum are in the package's billing unit (EA, ML or GM). "
        "A package at or below its minimum is suggested for ordering, up to its maximum.",
    )


# --- Suggested orders and purchase orders -------------------------------------------------


@screen
def order_suggestions(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    form = SuggestionForm(request.GET or None)
    days, review = queries.DEFAULT_USAGE_DAYS, queries.DEFAULT_REVIEW_DAYS
    if form.is_bound and form.is_valid():
        days = form.cleaned_data.get("days") or days
        review = form.cleaned_data.get("review_days") or review
    suggestions = queries.order_suggestions(actor=actor, days=days, review_days=review)
    groups: dict[Any, list[queries.Suggestion]] = {}
    for suggestion in suggestions:
        groups.setdefault(suggestion.supplier, []).append(suggestion)
    suppliers = [s for s in queries.supplier_list(actor=actor) if not s.reverse_distributor]
    return render(
        request,
        "inventory/receiving/order_suggestions.html",
        {
            "form": form,
            "suggestions": suggestions,
            "groups": sorted(groups.items(), key=lambda kv: (kv[0] is None, str(kv[0] or ""))),
            "suppliers": suppliers,
            "days": days,
            "review_days": review,
            "section": "suggestions",
        },
        status=form.http_status(),
    )


@screen(methods=("POST",))
def purchase_order_from_suggestions(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    form = SuggestionForm(request.POST)
    days = review = None
    if form.is_valid():
        days, review = form.cleaned_data.get("days"), form.cleaned_data.get("review_days")
    try:
        order = ordering.purchase_order_from_suggestions(
            actor=actor,
            supplier=request.POST.get("supplier", ""),
            days=days or queries.DEFAULT_USAGE_DAYS,
            review_days=review or queries.DEFAULT_REVIEW_DAYS,
        )
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
        return redirect("inventory_order_suggestions")
    return _saved(
        request,
        f"{order.number} is drafted from the suggestions: check it, then send it.",
        "inventory_purchase_order",
        pk=order.pk,
    )


@screen
def purchase_order_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    status = request.GET.get("status", "")
    if status not in PurchaseOrderStatus.values:
        status = ""
    orders = list(queries.purchase_order_list(actor=actor, status=status)[:LIST_LIMIT])
    return render(
        request,
        "inventory/receiving/order_list.html",
        {
            "orders": orders,
            "status": status,
            "statuses": PurchaseOrderStatus.choices,
            "can_order": has(actor, Cap.INVENTORY_ORDER),
            "can_receive": has(actor, Cap.INVENTORY_RECEIVE),
            "limit": LIST_LIMIT,
            "section": "orders",
        },
    )


@screen(methods=FORM)
def purchase_order_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_ORDER)
    form = OrderForm(posted(request), suppliers=_supplier_choices(actor))
    if request.method == "POST" and form.is_valid():
        try:
            order = ordering.purchase_order_create(
                actor=actor, supplier=form.cleaned_data["supplier"], note=form.cleaned_data["note"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(
                request,
                f"{order.number} is drafted: add its lines.",
                "inventory_purchase_order",
                pk=order.pk,
            )
    return _page(
        request,
        form,
        title="Draft a purchase order",
        submit="Draft order",
        back=reverse("inventory_purchase_orders"),
        section="orders",
    )


def _order_page(
    request: HttpRequest, order: PurchaseOrder, line_form: OrderLineForm | None = None
) -> HttpResponse:
    actor = actor_of(request)
    draft = order.status == PurchaseOrderStatus.DRAFT
    can_order = has(actor, Cap.INVENTORY_ORDER)
    form = line_form or OrderLineForm()
    lines = list(order.lines.all())
    receipts = list(order.receipts.order_by("-created_at")) if order.pk else []
    return render(
        request,
        "inventory/receiving/order_detail.html",
        {
            "order": order,
            "lines": lines,
            "receipts": receipts,
            "line_form": form if draft and can_order else None,
            "can_order": can_order,
            "can_receive": has(actor, Cap.INVENTORY_RECEIVE),
            "draft": draft,
            "receivable": order.status in ordering.RECEIVABLE_ORDER,
            "closable": order.status in (PurchaseOrderStatus.RECEIVED, PurchaseOrderStatus.PARTIAL),
            "cancellable": order.status in (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.SENT),
            "section": "orders",
        },
        status=form.http_status(),
    )


@screen
def purchase_order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = queries.purchase_order_for(actor=actor_of(request), order_id=pk)
    return _order_page(request, order)


@screen(methods=("POST",))
def purchase_order_line_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    order = queries.purchase_order_for(actor=actor, order_id=pk)
    form = OrderLineForm(request.POST)
    if form.is_valid():
        try:
            line = ordering.purchase_order_line_add(actor=actor, order=order, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(
                request,
                f"{line.packages_ordered} × NDC {line.package.ndc10} on {order.number}.",
                "inventory_purchase_order",
                pk=order.pk,
            )
    else:
        require(actor, Cap.INVENTORY_ORDER)
    return _order_page(request, order, form)


def _order_line(order: PurchaseOrder, line_pk: int) -> PurchaseOrderLine:
    line = next((x for x in order.lines.all() if x.pk == line_pk), None)
    if line is None:
        raise NotFound("No such line on this order.")
    return line


@screen(methods=FORM)
def purchase_order_line_edit(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_ORDER)
    order = queries.purchase_order_for(actor=actor, order_id=pk)
    line = _order_line(order, line_pk)
    initial = {
        "packages": line.packages_ordered,
        "unit_cost": _money_text(line.unit_cost),
        "dea_order_number": line.dea_order_number,
    }
    form = OrderLineEditForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            ordering.purchase_order_line_update(actor=actor, line=line, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(
                request,
                f"The line of NDC {line.package.ndc10} is saved.",
                "inventory_purchase_order",
                pk=order.pk,
            )
    return _page(
        request,
        form,
        title=f"{order.number}: NDC {line.package.ndc10}",
        submit="Save line",
        back=reverse("inventory_purchase_order", kwargs={"pk": order.pk}),
        section="orders",
        intro=f"{line.package.product} — {line.package.description}",
    )


@screen(methods=("POST",))
def purchase_order_line_remove(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    actor = actor_of(request)
    order = queries.purchase_order_for(actor=actor, order_id=pk)
    line = _order_line(order, line_pk)
    try:
        ordering.purchase_order_line_remove(actor=actor, line=line)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
        return redirect("inventory_purchase_order", pk=order.pk)
    return _saved(
        request,
        f"NDC {line.package.ndc10} is off {order.number}.",
        "inventory_purchase_order",
        pk=order.pk,
    )


@screen(methods=("POST",))
def purchase_order_send(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    order = queries.purchase_order_for(actor=actor, order_id=pk)
    try:
        ordering.purchase_order_send(actor=actor, order=order)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
        return redirect("inventory_purchase_order", pk=order.pk)
    return _saved(
        request, f"{order.number} is marked sent.", "inventory_purchase_order", pk=order.pk
    )


def _reason_page(request: HttpRequest, pk: int, *, closing: bool) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_ORDER)
    order = queries.purchase_order_for(actor=actor, order_id=pk)
    form = ReasonForm(posted(request))
    if request.method == "POST" and form.is_valid():
        service = ordering.purchase_order_close if closing else ordering.purchase_order_cancel
        try:
            service(actor=actor, order=order, reason=form.cleaned_data["reason"])
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            done = "closed" if closing else "cancelled"
            return _saved(
                request, f"{order.number} is {done}.", "inventory_purchase_order", pk=order.pk
            )
    verb = "Close" if closing else "Cancel"
    intro = (
        "Say why when lines are still open (back-ordered, cancelled by the supplier…)."
        if closing
        else "A sent order needs a reason: the supplier must be told."
    )
    return _page(
        request,
        form,
        title=f"{verb} {order.number}",
        submit=f"{verb} the order",
        back=reverse("inventory_purchase_order", kwargs={"pk": order.pk}),
        section="orders",
        intro=intro,
    )


@screen(methods=FORM)
def purchase_order_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _reason_page(request, pk, closing=True)


@screen(methods=FORM)
def purchase_order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _reason_page(request, pk, closing=False)


@screen
def purchase_order_file(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    order = queries.purchase_order_for(actor=actor, order_id=pk)
    return order_file_response(queries.purchase_order_csv(actor=actor, order=order), order)


# --- Receipts -------------------------------------------------------------------------------


@screen
def receipt_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    status = request.GET.get("status", "")
    if status not in ReceiptStatus.values:
        status = ""
    receipts = list(queries.receipt_list(actor=actor, status=status)[:LIST_LIMIT])
    return render(
        request,
        "inventory/receiving/receipt_list.html",
        {
            "receipts": receipts,
            "status": status,
            "statuses": ReceiptStatus.choices,
            "can_receive": has(actor, Cap.INVENTORY_RECEIVE),
            "limit": LIST_LIMIT,
            "section": "receiving",
        },
    )


def _receivable_orders(actor: User) -> list[tuple[str, str]]:
    orders = queries.purchase_order_list(actor=actor).filter(status__in=ordering.RECEIVABLE_ORDER)
    return [("", "— none (no purchase order) —")] + [
        (str(o.pk), f"{o.number} · {o.supplier.name} · {o.get_status_display().lower()}")
        for o in orders[:LIST_LIMIT]
    ]


@screen(methods=FORM)
def receipt_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_RECEIVE)
    initial: dict[str, Any] = {}
    wanted = request.GET.get("order", "")
    if wanted.isdigit() and request.method == "GET":
        try:
            chosen = queries.purchase_order_for(actor=actor, order_id=wanted)
        except NotFound:
            pass
        else:
            initial = {"purchase_order": str(chosen.pk), "supplier": str(chosen.supplier_id)}
    form = ReceiptForm(
        posted(request),
        initial=initial,
        suppliers=_supplier_choices(actor),
        orders=_receivable_orders(actor),
    )
    if request.method == "POST" and form.is_valid():
        values = dict(form.cleaned_data)
        try:
            rec = receiving.receipt_create(
                actor=actor,
                supplier=values.pop("supplier"),
                purchase_order=values.pop("purchase_order") or None,
                **values,
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(
                request,
                "Scan the packages of this delivery.",
                "inventory_receipt",
                pk=rec.pk,
            )
    return _page(
        request,
        form,
        title="Check in a delivery",
        submit="Start receiving",
        back=reverse("inventory_receipts"),
        section="receiving",
        draft="receipt-new",
    )


def _receipt_context(request: HttpRequest, rec: Receipt, **extra: Any) -> dict[str, Any]:
    actor = actor_of(request)
    lines: list[ReceiptLine] = list(rec.lines.all())
    open_ = rec.status == ReceiptStatus.OPEN
    can_receive = has(actor, Cap.INVENTORY_RECEIVE)
    prescription = any(not line.package.product.otc for line in lines)
    return {
        "receipt": rec,
        "lines": lines,
        "discrepancies": list(rec.discrepancies.all()),
        "editable": open_ and can_receive,
        "scan_form": extra.pop("scan_form", None)
        or (ScanForm() if open_ and can_receive else None),
        "dscsa_missing": prescription
        and not (rec.dscsa_statement_received and rec.dscsa_transaction_info.strip()),
        "totals": {
            "invoiced": sum(x.packages_invoiced for x in lines),
            "received": sum(x.packages_received for x in lines),
            "damaged": sum(x.packages_damaged for x in lines),
        },
        "section": "receiving",
        **extra,
    }


@screen
def receipt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The receiving screen: the cursor waits in the scan box."""
    rec = queries.receipt_for(actor=actor_of(request), receipt_id=pk)
    return render(
        request, "inventory/receiving/receipt_detail.html", _receipt_context(request, rec)
    )


@screen(methods=("POST",))
def receipt_scan(request: HttpRequest, pk: int) -> HttpResponse:
    """A scanner's code + Enter (or a typed NDC with its lot and expiry): the line is added
    and the box is ready for the next package; a refused scan is shown beside the box."""
    actor = actor_of(request)
    rec = queries.receipt_for(actor=actor, receipt_id=pk)
    form = ScanForm(request.POST)
    added: ReceiptLine | None = None
    refusal: dict[str, Any] | None = None
    if form.is_valid():
        values = form.cleaned_data
        try:
            # The box takes a barcode or an NDC typed by hand alike.
            added = receiving.receipt_line_add(
                actor=actor,
                receipt=rec,
                scan=values["scan"],
                lot_number=values["lot_number"],
                expiry=values["expiry"],
                packages_received=values["packages_received"],
                packages_damaged=values["packages_damaged"] or 0,
                location=values["location"] or None,
                dea_order_number=values["dea_order_number"],
            )
        except FIELD_ERRORS as exc:
            # Before bind_errors: a field given an error leaves the cleaned data.
            refusal = _refusal(rec, exc, values)
            bind_errors(form, exc)
    else:
        require(actor, Cap.INVENTORY_RECEIVE)
    if added is not None and not is_partial(request):
        return _saved(request, _added_text(added), "inventory_receipt", pk=rec.pk)
    fresh = queries.receipt_for(actor=actor, receipt_id=pk)
    context = _receipt_context(
        request,
        fresh,
        scan_form=ScanForm() if added is not None else form,
        added=added,
        added_text=_added_text(added) if added is not None else "",
        refusal=refusal,
    )
    status = 200 if added is not None else form.http_status()
    if is_partial(request) and added is None:
        # htmx swaps a 422 fragment (rxdesk.js): a refused scan, whether bad input or a
        # broken rule (a recalled lot, a serial scanned twice), shows beside the box.
        status = 422
    template = (
        "inventory/receiving/_scan_result.html"
        if is_partial(request)
        else "inventory/receiving/receipt_detail.html"
    )
    return render(request, template, context, status=status)


# A scan refused for its lot or its date is a package that does not go into stock: the
# screen offers to record it against the delivery at once, as the kind that fits best.
REFUSAL_KINDS = {
    "expiry": DiscrepancyKind.EXPIRED,
    "lot_number": DiscrepancyKind.WRONG_ITEM,
}


def _refused_link(rec: Receipt, values: dict[str, Any]) -> str:
    """The "Record a refused package" form, filled with what was scanned or typed."""
    query = urlencode({k: v for k, v in values.items() if v not in (None, "")})
    url = reverse("inventory_receipt_discrepancy_add", kwargs={"pk": rec.pk})
    return f"{url}?{query}" if query else url


def _refusal(rec: Receipt, exc: DomainError, values: dict[str, Any]) -> dict[str, Any] | None:
    errors = exc.errors or [{"field": exc.field or "", "message": exc.message}]
    error = next((e for e in errors if e.get("field") in REFUSAL_KINDS), None)
    if error is None:
        return None
    kind = REFUSAL_KINDS[error["field"]]
    expiry = values.get("expiry")
    carried = {
        "scan": values.get("scan") or "",
        "lot_number": values.get("lot_number") or "",
        "expiry": expiry.strftime("%m/%d/%Y") if expiry else "",
        "packages": str(values.get("packages_received") or 1),
    }
    return {
        "kind": kind.value,
        "kind_label": kind.label,
        "message": error.get("message") or exc.message,
        "values": carried,
        "link": _refused_link(rec, {"kind": kind.value, **carried}),
    }


def _recorded_text(found: Discrepancy) -> str:
    count = f"{found.packages} package{'s' if found.packages != 1 else ''}"
    return (
        f"Recorded as a discrepancy ({found.get_kind_display().lower()}, {count}): "
        f"{found.note} Set it aside to go back to the supplier."
    )


@screen(methods=FORM)
def receipt_discrepancy_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a refused package: from the button beside a refused scan (htmx; the scan box
    comes back ready for the next package) or from its own form."""
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_RECEIVE)
    rec = queries.receipt_for(actor=actor, receipt_id=pk)
    initial: dict[str, Any] = {}
    if request.method != "POST":
        for key in ("kind", "scan", "lot_number", "expiry", "packages", "note"):
            value = request.GET.get(key, "")[: receiving.MAX_SCAN]
            if value:
                initial[key] = value
    form = RefusedPackageForm(posted(request), initial=initial)
    found: Discrepancy | None = None
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            found = receiving.receipt_discrepancy_add(
                actor=actor,
                receipt=rec,
                kind=values["kind"],
                scan=values["scan"],
                lot_number=values["lot_number"],
                expiry=values["expiry"],
                packages=values["packages"] if values["packages"] is not None else 1,
                note=values["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
    if request.method == "POST" and is_partial(request):
        fresh = queries.receipt_for(actor=actor, receipt_id=pk)
        problems = [str(e) for errors in form.errors.values() for e in errors]
        sent = {k: request.POST.get(k, "")[: receiving.MAX_SCAN] for k in form.fields}
        context = _receipt_context(
            request,
            fresh,
            recorded_text=_recorded_text(found) if found is not None else "",
            record_errors=problems,
            record_link=_refused_link(fresh, sent) if found is None else "",
        )
        return render(
            request,
            "inventory/receiving/_scan_result.html",
            context,
            # htmx swaps a 422 fragment (rxdesk.js), whatever the broken rule's own status.
            status=200 if found is not None else 422,
        )
    if found is not None:
        return _saved(request, _recorded_text(found), "inventory_receipt", pk=pk)
    return _page(
        request,
        form,
        title=f"Record a refused package on delivery {rec.pk}",
        submit="Record discrepancy",
        back=reverse("inventory_receipt", kwargs={"pk": pk}),
        section="receiving",
        intro="A package that does not go into stock (expired or short-dated, damaged, the "
        "wrong item, a recalled lot) is recorded against this delivery so the supplier "
        f"credits it. It is not received: set it aside to go back to {rec.supplier.name}.",
    )


def _added_text(line: ReceiptLine) -> str:
    return (
        f"Added NDC {line.package.ndc10} lot {line.lot_number}: {line.packages_received} "
        f"received on this line."
    )


@screen(methods=FORM)
def receipt_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_RECEIVE)
    rec = queries.receipt_for(actor=actor, receipt_id=pk)
    form = ReceiptForm(posted(request), initial=initial_from(rec, ReceiptForm))
    if request.method == "POST" and form.is_valid():
        try:
            receiving.receipt_update(actor=actor, receipt=rec, **form.changed())
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(request, "The delivery's details are saved.", "inventory_receipt", pk=pk)
    return _page(
        request,
        form,
        title=f"Delivery {rec.pk} from {rec.supplier.name}",
        submit="Save",
        back=reverse("inventory_receipt", kwargs={"pk": pk}),
        section="receiving",
        draft=f"receipt-{rec.pk}",
    )


def _receipt_line(rec: Receipt, line_pk: int) -> ReceiptLine:
    line = next((x for x in rec.lines.all() if x.pk == line_pk), None)
    if line is None:
        raise NotFound("No such line on this receipt.")
    return line


@screen(methods=FORM)
def receipt_line_edit(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_RECEIVE)
    rec = queries.receipt_for(actor=actor, receipt_id=pk)
    line = _receipt_line(rec, line_pk)
    initial = {
        "packages_invoiced": line.packages_invoiced,
        "packages_received": line.packages_received,
        "packages_damaged": line.packages_damaged,
        "lot_number": line.lot_number,
        "expiry": line.expiry,
        "unit_cost": _money_text(line.unit_cost),
        "location": line.location.code if line.location else "",
        "dea_order_number": line.dea_order_number,
    }
    form = ReceiptLineForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {
            k: v
            for k, v in form.cleaned_data.items()
            if k in form.changed_data or k.startswith("packages_")
        }
        try:
            receiving.receipt_line_update(actor=actor, line=line, **changes)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(
                request,
                f"The line of NDC {line.package.ndc10} is saved.",
                "inventory_receipt",
                pk=pk,
            )
    return _page(
        request,
        form,
        title=f"Delivery {rec.pk}: NDC {line.package.ndc10}",
        submit="Save line",
        back=reverse("inventory_receipt", kwargs={"pk": pk}),
        section="receiving",
        intro=f"{line.package.product} — {line.package.description}",
    )


@screen(methods=("POST",))
def receipt_line_remove(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    actor = actor_of(request)
    rec = queries.receipt_for(actor=actor, receipt_id=pk)
    line = _receipt_line(rec, line_pk)
    try:
        receiving.receipt_line_remove(actor=actor, line=line)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
        return redirect("inventory_receipt", pk=pk)
    return _saved(
        request, f"The line of NDC {line.package.ndc10} is removed.", "inventory_receipt", pk=pk
    )


@screen(methods=FORM)
def receipt_import(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_RECEIVE)
    rec = queries.receipt_for(actor=actor, receipt_id=pk)
    form = ImportForm(posted(request), request.FILES or None)
    if request.method == "POST" and form.is_valid():
        csv_text = form.csv_text()
        if not form.errors:
            try:
                lines = receiving.receipt_import_invoice(actor=actor, receipt=rec, text=csv_text)
            except FIELD_ERRORS as exc:
                # The problems name rows and columns of the file: shown beside what was sent.
                target = "file" if form.cleaned_data.get("file") is not None else "text"
                for error in exc.errors or [{"field": "", "message": exc.message}]:
                    known = error.get("field") in ("", "text")
                    form.add_error(target if known else None, error["message"])
                form.error_status = exc.status
            else:
                return _saved(
                    request,
                    f"The invoice is on the delivery: {len(lines)} line(s). Scan the packages "
                    "to check them in.",
                    "inventory_receipt",
                    pk=pk,
                )
    return _page(
        request,
        form,
        title=f"Import the invoice of delivery {rec.pk}",
        submit="Import invoice",
        back=reverse("inventory_receipt", kwargs={"pk": pk}),
        section="receiving",
        multipart=True,
        intro="A CSV with a header row naming at least NDC, Description, Quantity (packages) "
        "and Unit Cost (Lot, Expiry and Invoice Number are read when present), or an X12 810 "
        "file. A bad cell is named by row and column, and then nothing is imported.",
    )


@screen(methods=("POST",))
def receipt_post(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    rec = queries.receipt_for(actor=actor, receipt_id=pk)
    try:
        posted_receipt = receiving.receipt_post(actor=actor, receipt=rec)
    except FIELD_ERRORS as exc:
        for error in exc.errors or [{"message": exc.message}]:
            messages.error(request, error["message"])
        return redirect("inventory_receipt", pk=pk)
    opened = posted_receipt.discrepancies.count()
    message = f"Delivery {pk} is posted to stock."
    if opened:
        message += f" {opened} discrepanc{'y' if opened == 1 else 'ies'} to follow up."
    return _saved(request, message, "inventory_receipt", pk=pk)


# --- Discrepancies --------------------------------------------------------------------------


@screen
def discrepancy_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    show_all = request.GET.get("all") == "1"
    found = list(queries.discrepancy_list(actor=actor, open_only=not show_all)[:LIST_LIMIT])
    return render(
        request,
        "inventory/receiving/discrepancy_list.html",
        {
            "discrepancies": found,
            "show_all": show_all,
            "limit": LIST_LIMIT,
            "section": "discrepancies",
        },
    )


@screen(methods=FORM)
def discrepancy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    found: Discrepancy = queries.discrepancy_for(actor=actor, discrepancy_id=pk)
    can_follow = has(actor, Cap.INVENTORY_RECEIVE) and found.status != DiscrepancyStatus.RESOLVED
    if request.method == "POST":
        require(actor, Cap.INVENTORY_RECEIVE)
    initial = {
        "status": found.status,
        "credit_expected": _money_text(found.credit_expected),
        "credit_received": _money_text(found.credit_received),
    }
    form = DiscrepancyForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        changes: dict[str, Any] = {"follow_up": values["follow_up"], "status": values["status"]}
        for key in ("credit_expected", "credit_received"):
            if key in form.changed_data:
                changes[key] = values[key]
        try:
            receiving.discrepancy_update(actor=actor, discrepancy=found, **changes)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(request, "The follow-up is recorded.", "inventory_discrepancy", pk=pk)
    return render(
        request,
        "inventory/receiving/discrepancy_detail.html",
        {"found": found, "form": form if can_follow else None, "section": "discrepancies"},
        status=form.http_status(),
    )
