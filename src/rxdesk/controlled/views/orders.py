"""Workstation pages of the controlled-substance records: Schedule II order forms (DEA Form
222, CSOS) and the controlled-substance receipts. Parse, call, render.

Recording a form is typing what is on it: the serial number, the supplier, the date signed
and one row per numbered line (NDC or a scan, containers). What arrives is recorded on the
form when the delivery is posted in Receiving; the form's page shows it line by line."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.controlled import queries_orders as queries
from rxdesk.controlled import services_orders as services
from rxdesk.controlled.choices import OrderDirection, OrderForm, OrderStatus, ScheduleGroup
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, Invalid
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, choice, text
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.inventory.choices import PurchaseOrderStatus
from rxdesk.inventory.models import PurchaseOrder, Supplier

LINE_FIELDS = ("ndc", "packages")


class OrderCreateForm(RxForm):
    """The form's header and one row per numbered line; a blank row is not a line."""

    FIELDSETS = (
        ("The form", ("form", "number", "executed_on", "signer_name")),
        ("Supplier", ("direction", "supplier", "purchase_order")),
        ("CSOS", ("csos_signed_order",)),
        ("", ("note",)),
    )
    form = choice(OrderForm.choices, label="Kind of form")
    number = text(
        services.NUMBER_MAX,
        required=True,
        label="Serial number (Form 222) or CSOS order number",
        autocomplete="off",
        spellcheck="false",
    )
    executed_on = DateField(label="Signed on")
    signer_name = text(
        services.NAME_MAX,
        label="Signed by (blank: you)",
        autocomplete="off",
        placeholder="Registrant or power-of-attorney holder",
    )
    direction = choice(OrderDirection.choices, label="Who issued it")
    supplier = forms.ChoiceField(label="Supplier named on the form")
    purchase_order = forms.ChoiceField(label="Purchase order (optional)", required=False)
    csos_signed_order = forms.CharField(
        required=False,
        max_length=200_000,
        label="Signed electronic order (CSOS only, pasted as it is)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )
    note = text(services.NOTE_MAX, label="Note")

    def __init__(
        self, *args: Any, suppliers: list[Supplier], orders: list[PurchaseOrder], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["supplier"]).choices = [("", "— choose —")] + [
            (
                str(s.pk),
                f"{s.name} · DEA {s.dea_number}" if s.dea_number else f"{s.name} (no DEA number)",
            )
            for s in suppliers
        ]
        cast(forms.ChoiceField, self.fields["purchase_order"]).choices = [("", "— none —")] + [
            (str(o.pk), f"{o.number} · {o.supplier.name}") for o in orders
        ]
        self.SEPARATE = tuple(f"lines.{i}.{n}" for i in range(self.rows) for n in LINE_FIELDS)
        for i in range(self.rows):
            self.fields[f"lines.{i}.ndc"] = forms.CharField(
                max_length=200,
                required=False,
                label="NDC or scan",
                widget=forms.TextInput(
                    attrs={
                        "autocomplete": "off",
                        "spellcheck": "false",
                        "aria-label": f"Line {i + 1}: NDC or scan",
                    }
                ),
            )
            self.fields[f"lines.{i}.packages"] = forms.CharField(
                max_length=6,
                required=False,
                label="Containers",
                widget=forms.TextInput(
                    attrs={
                        "inputmode": "numeric",
                        "autocomplete": "off",
                        "aria-label": f"Line {i + 1}: containers",
                        "class": "qty",
                    }
                ),
            )

    rows = services.PAPER_LINES

    def line_rows(self) -> list[tuple[int, list[Any]]]:
        return [
            (i + 1, [self[f"lines.{i}.{name}"] for name in LINE_FIELDS]) for i in range(self.rows)
        ]

    def lines(self) -> tuple[list[dict[str, Any]], list[int]]:
        """The rows that hold something, and the form row each came from."""
        out: list[dict[str, Any]] = []
        rows: list[int] = []
        for i in range(self.rows):
            values = {
                n: (self.cleaned_data.get(f"lines.{i}.{n}") or "").strip() for n in LINE_FIELDS
            }
            if any(values.values()):
                out.append(values)
                rows.append(i)
        return out, rows


def renumber(exc: DomainError, rows: list[int]) -> DomainError:
    """The service names ``lines.k.x`` by the k-th line it was given; the page shows it
    beside the form row that line came from."""
    if not isinstance(exc, Invalid):
        return exc
    errors = []
    for error in exc.errors:
        field = error.get("field") or ""
        parts = field.split(".")
        if len(parts) >= 2 and parts[0] == "lines" and parts[1].isdigit():
            k = int(parts[1])
            if k < len(rows):
                parts[1] = str(rows[k])
                field = ".".join(parts)
        errors.append({**error, "field": field})
    return Invalid(exc.message, field=exc.field, errors=errors)


class VoidForm(RxForm):
    reason = text(
        services.REASON_MAX,
        required=True,
        label="Why (the supplier's statement, or lost)",
        autocomplete="off",
    )


class ReceiptsFilter(forms.Form):
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="To")
    group = forms.ChoiceField(
        required=False,
        label="Schedules",
        choices=[("", "II and III–V"), *ScheduleGroup.choices],
    )


def _suppliers(actor: Any) -> list[Supplier]:
    return list(Supplier.objects.filter(site_id=actor.site_id, active=True).order_by("name"))


def _purchase_orders(actor: Any) -> list[PurchaseOrder]:
    live = (PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIAL, PurchaseOrderStatus.DRAFT)
    return list(
        PurchaseOrder.objects.filter(site_id=actor.site_id, status__in=live)
        .select_related("supplier")
        .order_by("-created_at")[:50]
    )


# --- Pages -----------------------------------------------------------------------------------


@screen
def order_list(request: HttpRequest) -> HttpResponse:
    """The pharmacy's order forms, newest first; ``?status=`` narrows them."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    status = request.GET.get("status", "")
    if status not in OrderStatus.values:
        status = ""
    rows = queries.orders(actor=actor, status=status or None)
    return render(
        request,
        "controlled/order_list.html",
        {
            "rows": rows,
            "status": status,
            "statuses": OrderStatus.choices,
            "can_order": has(actor, Cap.CS_ORDER),
            "section": "orders",
        },
    )


@screen(methods=FORM)
def order_create(request: HttpRequest) -> HttpResponse:
    """Record an executed Form 222 or CSOS order."""
    actor = actor_of(request)
    require(actor, Cap.CS_ORDER)
    form = OrderCreateForm(
        posted(request),
        initial={"executed_on": actor.site.today(), "form": OrderForm.PAPER_222},
        suppliers=_suppliers(actor),
        orders=_purchase_orders(actor),
    )
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        lines, rows = form.lines()
        try:
            order = services.form222_create(
                actor=actor,
                form=values["form"],
                direction=values["direction"],
                number=values["number"],
                supplier=values["supplier"],
                executed_on=values["executed_on"],
                lines=lines,
                purchase_order=values["purchase_order"] or None,
                signer_name=values["signer_name"],
                csos_signed_order=values["csos_signed_order"],
                note=values["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, renumber(exc, rows))
        else:
            messages.success(request, f"{order} is on file with {len(lines)} line(s).")
            return redirect("cs_order_detail", pk=order.pk)
    return render(
        request,
        "controlled/order_create.html",
        {"form": form, "section": "orders"},
        status=form.http_status(),
    )


@screen
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One form: its lines, what arrived on each and when, with the receipt it came on."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    row = queries.order_get(actor=actor, order_id=pk)
    return render(
        request,
        "controlled/order_detail.html",
        {
            "row": row,
            "order": row.order,
            "lines": [
                (line, line.packages_ordered - line.packages_received)
                for line in row.order.lines.all()
            ],
            "received": queries.order_receipts(row.order),
            "can_void": has(actor, Cap.CS_ORDER)
            and row.order.status == OrderStatus.OPEN
            and row.packages_received == 0,
            "section": "orders",
        },
    )


@screen(methods=FORM)
def order_void(request: HttpRequest, pk: int) -> HttpResponse:
    """Void a form returned unaccepted or defective, or lost; the statement is kept."""
    actor = actor_of(request)
    require(actor, Cap.CS_ORDER)
    row = queries.order_get(actor=actor, order_id=pk)
    form = VoidForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.form222_void(actor=actor, order=row.order, reason=form.cleaned_data["reason"])
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{row.order} is void; the statement is kept with it.")
            return redirect("cs_order_detail", pk=row.order.pk)
    return render(
        request,
        "controlled/order_void.html",
        {"form": form, "row": row, "order": row.order, "section": "orders"},
        status=form.http_status(),
    )


@screen
def receipts(request: HttpRequest) -> HttpResponse:
    """Controlled-substance receipts by date received; ``?format=csv`` downloads them."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    filters = ReceiptsFilter(request.GET or None)
    start: dt.date | None = None
    end: dt.date | None = None
    group = ""
    error = ""
    if filters.is_bound and filters.is_valid():
        start = filters.cleaned_data["start"]
        end = filters.cleaned_data["end"]
        group = filters.cleaned_data["group"]
    elif filters.is_bound:
        error = "Enter the dates as MM/DD/YYYY."
    try:
        first, last, rows = queries.cs_receipts(
            actor=actor, start=start, end=end, group=group or None
        )
    except Invalid as exc:
        error = exc.message
        first, last, rows = queries.cs_receipts(actor=actor)
    if request.GET.get("format") == "csv" and not error:
        days = first.isoformat() if first == last else f"{first.isoformat()}_{last.isoformat()}"
        response = HttpResponse(
            queries.cs_receipts_csv(rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="cs-receipts-{days}.csv"'
        response["Cache-Control"] = "private, no-store"
        return response
    query = request.GET.copy()
    query["format"] = "csv"
    return render(
        request,
        "controlled/order_receipts.html",
        {
            "filters": filters,
            "rows": rows,
            "start": first,
            "end": last,
            "group": group,
            "error": error,
            "csv_url": f"{reverse('cs_receipts')}?{query.urlencode()}",
            "no_invoice": sum(1 for r in rows if r.no_invoice),
            "section": "receipts",
        },
        status=422 if error else 200,
    )


urlpatterns: list[URLPattern] = [
    path("orders/", order_list, name="cs_orders"),
    path("orders/new/", order_create, name="cs_order_create"),
    path("orders/<int:pk>/", order_detail, name="cs_order_detail"),
    path("orders/<int:pk>/void/", order_void, name="cs_order_void"),
    path("receipts/", receipts, name="cs_receipts"),
]
