"""Workstation pages of the controlled-substance records: inventories. Parse, call, render.

The worksheet is made for counting at the safe with a keyboard: every package and lot on
hand is a row with its own small form — sealed containers, the opened container's count,
"estimate" where the rule allows it — and Enter saves it and puts the cursor on the next
row not counted. Anything the worksheet does not list (a box the ledger does not know, a
package counted as a whole) is counted with the scan form at the top. The
pharmacist-in-charge signs when every row is counted; the PDF prints it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.catalog.ndc import CodeError, parse_scan
from rxdesk.controlled import queries_inventories as queries
from rxdesk.controlled import services_inventories as services
from rxdesk.controlled.api_inventories import pdf_response
from rxdesk.controlled.choices import InventoryKind, InventoryStatus, TakenAt
from rxdesk.controlled.models import CsInventory
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Invalid
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, choice, flag, text
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.inventory.services.common import package_of


class StartForm(RxForm):
    FIELDSETS = (
        ("Inventory", ("kind", "taken_on", "taken_at")),
        ("Newly scheduled substance only", ("product_ndc", "effective_on")),
        ("", ("note",)),
    )
    kind = choice(InventoryKind.choices, label="Kind")
    taken_on = DateField(label="Date taken")
    taken_at = forms.ChoiceField(
        label="Taken at",
        choices=[("", "— opening or close? —"), *TakenAt.choices],
        required=False,
    )
    product_ndc = text(
        200,
        label="Product (NDC or scan of any of its packages)",
        autocomplete="off",
        spellcheck="false",
    )
    effective_on = DateField(required=False, label="Rule effective on")
    note = text(services.NOTE_MAX, label="Note")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["taken_on"].required = False


class CountForm(RxForm):
    ndc = text(200, required=True, label="NDC or scan", autocomplete="off", spellcheck="false")
    lot_number = text(40, label="Lot (blank: all lots)", autocomplete="off", spellcheck="false")
    sealed_containers = forms.IntegerField(
        min_value=0,
        max_value=services.MAX_CONTAINERS,
        label="Sealed containers",
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 0, "class": "qty"}),
    )
    opened_quantity = text(
        20, label="Opened container: count", inputmode="decimal", autocomplete="off"
    )
    estimated = flag("Estimate")
    held_for_disposal = flag("Held for disposal")
    disposal_reason = text(services.REASON_MAX, label="Why held", autocomplete="off")


class SignForm(RxForm):
    confirm = forms.BooleanField(
        required=True,
        label="I am the pharmacist-in-charge and sign this inventory as complete and accurate.",
        error_messages={"required": "Tick the box to sign."},
    )


class CancelForm(RxForm):
    reason = text(services.REASON_MAX, required=True, label="Why cancel it", autocomplete="off")


# --- Pages -----------------------------------------------------------------------------------


@screen
def inventory_list(request: HttpRequest) -> HttpResponse:
    """The inventories, newest first, and when the next biennial one is due."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    today = actor.site.today()
    due = queries.next_biennial_due(actor.site)
    return render(
        request,
        "controlled/inventory_list.html",
        {
            "inventories": queries.inventories(actor=actor),
            "due": due,
            "overdue": due is not None and due < today,
            "last": queries.last_signed(actor.site),
            "open": queries.open_inventory(actor.site),
            "can_start": has(actor, Cap.CS_COUNT),
            "section": "inventories",
        },
    )


@screen(methods=FORM)
def inventory_start(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CS_COUNT)
    has_initial = CsInventory.objects.filter(
        site_id=actor.site_id, status=InventoryStatus.SIGNED
    ).exists()
    form = StartForm(
        posted(request),
        initial={
            "taken_on": actor.site.today(),
            "kind": InventoryKind.BIENNIAL if has_initial else InventoryKind.INITIAL,
        },
    )
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            product = None
            if values["product_ndc"]:
                product = package_of(values["product_ndc"], field="product_ndc").product
            inventory = services.cs_inventory_start(
                actor=actor,
                kind=values["kind"],
                taken_on=values["taken_on"],
                taken_at=values["taken_at"] or None,
                product=product,
                effective_on=values["effective_on"],
                note=values["note"],
            )
        except FIELD_ERRORS as exc:
            if isinstance(exc, Invalid):
                exc = Invalid(
                    exc.message,
                    errors=[
                        {**e, "field": "product_ndc" if e.get("field") == "product" else e["field"]}
                        for e in exc.errors
                    ],
                )
            bind_errors(form, exc)
        else:
            messages.success(request, f"{inventory} started: count each row of the worksheet.")
            return redirect("cs_inventory_detail", pk=inventory.pk)
    return render(
        request,
        "controlled/inventory_start.html",
        {"form": form, "section": "inventories"},
        status=form.http_status(),
    )


def _scan_values(text_value: str) -> tuple[str, str]:
    """A scanned 2D code gives the NDC and the lot; a typed NDC gives only the NDC."""
    try:
        scan = parse_scan(text_value)
    except CodeError:
        return text_value, ""
    return text_value, scan.lot or ""


def _detail(
    request: HttpRequest,
    actor: User,
    inventory: CsInventory,
    *,
    form: CountForm | None = None,
    failed: tuple[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    lines = queries.inventory_lines(inventory)
    counting = inventory.status == InventoryStatus.OPEN
    rows = queries.worksheet(inventory, lines) if counting else []
    focus = request.GET.get("next", "")
    on_row = next(
        (r for r in rows if failed is not None and (r.package.ndc10, r.lot.number) == failed), None
    )
    if on_row is not None:
        focus = on_row.key
    elif failed is None and not focus:
        first = next((r for r in rows if r.line is None), None)
        focus = first.key if first else ""
    return render(
        request,
        "controlled/inventory_detail.html",
        {
            "inventory": inventory,
            "rows": rows,
            "extra": queries.extra_lines(lines, rows),
            "lines": lines,
            "missing": sum(1 for r in rows if r.line is None),
            "counting": counting and has(actor, Cap.CS_COUNT),
            "can_sign": counting and has(actor, Cap.CS_INVENTORY_SIGN),
            "can_cancel": counting and has(actor, Cap.CS_COUNT),
            "form": form if form is not None else CountForm(),
            "failed": failed,
            "failed_on_row": on_row is not None,
            "focus": focus,
            "section": "inventories",
        },
        status=status,
    )


@screen(methods=FORM)
def inventory_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The worksheet while open (one count form per row), the counted lines once signed.
    A POST counts one package (and lot)."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    inventory = queries.inventory_get(actor=actor, inventory_id=pk)
    data = posted(request)
    if data is None:
        return _detail(request, actor, inventory)
    require(actor, Cap.CS_COUNT)
    form = CountForm(data)
    failed = (str(data.get("ndc", ""))[:200], str(data.get("lot_number", ""))[:40])
    if form.is_valid():
        values = form.cleaned_data
        ndc, lot = values["ndc"], values["lot_number"]
        if not lot:
            ndc, lot = _scan_values(ndc)
        try:
            line = services.cs_inventory_count(
                actor=actor,
                inventory=inventory,
                ndc=ndc,
                lot_number=lot or None,
                sealed_containers=values["sealed_containers"],
                opened_quantity=values["opened_quantity"] or None,
                estimated=values["estimated"],
                held_for_disposal=values["held_for_disposal"],
                disposal_reason=values["disposal_reason"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            where = f"{line.package.ndc10}" + (f" lot {line.lot.number}" if line.lot else "")
            messages.success(
                request, f"Counted {where}: {line.total.normalize():f} {line.package.billing_unit}."
            )
            fresh = queries.inventory_get(actor=actor, inventory_id=inventory.pk)
            following = next((r for r in queries.missing(fresh)), None)
            url = reverse("cs_inventory_detail", kwargs={"pk": inventory.pk})
            if following is not None:
                url += f"?next={following.key}#row-{following.key}"
            return redirect(url)
    return _detail(request, actor, inventory, form=form, failed=failed, status=form.http_status())


@screen(methods=FORM)
def inventory_sign(request: HttpRequest, pk: int) -> HttpResponse:
    """The pharmacist-in-charge signs: every row of the worksheet counted."""
    actor = actor_of(request)
    require(actor, Cap.CS_INVENTORY_SIGN)
    inventory = queries.inventory_get(actor=actor, inventory_id=pk)
    form = SignForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.cs_inventory_sign(actor=actor, inventory=inventory)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{inventory} signed. Print it from its page.")
            return redirect("cs_inventory_detail", pk=inventory.pk)
    lines = queries.inventory_lines(inventory)
    missing = queries.missing(inventory) if inventory.status == InventoryStatus.OPEN else []
    return render(
        request,
        "controlled/inventory_sign.html",
        {
            "inventory": inventory,
            "form": form,
            "lines": lines,
            "missing": missing,
            "schedule_ii": sum(1 for x in lines if queries.group_of(x.schedule) == "II"),
            "held": sum(1 for x in lines if x.held_for_disposal),
            "section": "inventories",
        },
        status=form.http_status(),
    )


@screen(methods=FORM)
def inventory_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CS_COUNT)
    inventory = queries.inventory_get(actor=actor, inventory_id=pk)
    form = CancelForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.cs_inventory_cancel(
                actor=actor, inventory=inventory, reason=form.cleaned_data["reason"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{inventory} cancelled.")
            return redirect("cs_inventories")
    return render(
        request,
        "controlled/inventory_cancel.html",
        {"inventory": inventory, "form": form, "section": "inventories"},
        status=form.http_status(),
    )


@screen
def inventory_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    return pdf_response(queries.inventory_get(actor=actor, inventory_id=pk))


urlpatterns: list[URLPattern] = [
    path("inventories/", inventory_list, name="cs_inventories"),
    path("inventories/new/", inventory_start, name="cs_inventory_start"),
    path("inventories/<int:pk>/", inventory_detail, name="cs_inventory_detail"),
    path("inventories/<int:pk>/sign/", inventory_sign, name="cs_inventory_sign"),
    path("inventories/<int:pk>/cancel/", inventory_cancel, name="cs_inventory_cancel"),
    path("inventories/<int:pk>/inventory.pdf", inventory_pdf, name="cs_inventory_pdf"),
]
