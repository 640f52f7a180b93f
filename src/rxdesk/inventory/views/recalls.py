"""Workstation screens for recalls: the list, entering one (by hand, or by pasting an openFDA
enforcement record), a recall's status (stock quarantined and resolved per site, the
patients who received an affected lot, their letters), resolving stock and closing.

Each screen parses, calls a query or a service, and renders; who may do what, and every
rule, is the services' (a refused capability is the 403 page)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Conflict, DomainError, NotFound
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, choice, text
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.inventory import queries_recalls as queries
from rxdesk.inventory import seams
from rxdesk.inventory.choices import RecallClass, RecallStatus
from rxdesk.inventory.models import Recall, RecallStock
from rxdesk.inventory.services import recalls as services

ITEM_ROWS = 8


# --- Forms --------------------------------------------------------------------------------


class RecallForm(RxForm):
    """A recall typed from the FDA notice or the wholesaler's letter: up to ITEM_ROWS NDCs,
    each with its lot numbers (several separated by commas or spaces), or ALL for every lot.

    Every lot is never the default here: a scanner ends its code with Enter, which submits
    the form, and a blank lot box must not turn that into a recall of every lot."""

    FIELDSETS = (("Recall", ("classification", "recall_date", "recall_number", "firm", "reason")),)
    SEPARATE = tuple(f"{kind}_{i}" for i in range(ITEM_ROWS) for kind in ("ndc", "lots"))

    classification = choice([("", "—"), *RecallClass.choices], label="FDA class")
    recall_date = DateField(label="Recall date")
    recall_number = text(30, label="FDA recall number", placeholder="D-0123-2025")
    firm = text(200, label="Recalling firm")
    reason = forms.CharField(
        max_length=4000, widget=forms.Textarea(attrs={"rows": 3}), label="Reason for the recall"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i in range(ITEM_ROWS):
            self.fields[f"ndc_{i}"] = text(
                60, label=f"NDC {i + 1}", autocomplete="off", spellcheck="false"
            )
            self.fields[f"lots_{i}"] = text(
                1000, label=f"Lots of NDC {i + 1}", autocomplete="off", spellcheck="false"
            )
        # Row map: service error items.N -> the row it came from.
        self.item_rows: list[int] = []

    def rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"ndc_{i}"], self[f"lots_{i}"]) for i in range(ITEM_ROWS)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for i in range(ITEM_ROWS):
            if data.get(f"ndc_{i}", "").strip() and not data.get(f"lots_{i}", "").strip():
                self.add_error(f"lots_{i}", "Type the lot numbers, or ALL for every lot.")
        return data

    def items(self) -> list[dict[str, str]]:
        """Each (NDC, lot) pair typed, in order; ALL names every lot (a blank lot)."""
        out: list[dict[str, str]] = []
        self.item_rows = []
        for i in range(ITEM_ROWS):
            ndc = self.cleaned_data.get(f"ndc_{i}", "").strip()
            lots = self.cleaned_data.get(f"lots_{i}", "").replace(",", " ").replace(";", " ")
            if not ndc and not lots.strip():
                continue
            numbers = lots.split()
            if any(n.upper() == "ALL" for n in numbers):
                numbers = [""]
            for lot in numbers or [""]:
                out.append({"ndc": ndc, "lot_number": lot})
                self.item_rows.append(i)
        return out

    def bind(self, exc: DomainError) -> None:
        """The service names items.N.ndc / items.N.lot_number: show it beside row N's box."""
        for error in exc.errors:
            name = error.get("field") or ""
            parts = name.split(".")
            if parts[0] == "items" and len(parts) >= 2 and parts[1].isdigit():
                index = int(parts[1])
                row = self.item_rows[index] if index < len(self.item_rows) else 0
                kind = "lots" if parts[-1] == "lot_number" else "ndc"
                message = error.get("message") or exc.message
                if message not in self.errors.get(f"{kind}_{row}", []):  # one per row
                    self.add_error(f"{kind}_{row}", message)
            elif name == "items":
                self.add_error("ndc_0", error.get("message") or exc.message)
            else:
                field = name if name in self.fields else None
                self.add_error(field, error.get("message") or exc.message)
        self.error_status = exc.status


class ImportForm(RxForm):
    record = forms.CharField(
        max_length=1_000_000,
        label="openFDA enforcement record (JSON)",
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "mono"}),
        help_text=(
            "Paste one record of api.fda.gov/drug/enforcement.json (or the whole response "
            "when it holds one record)."
        ),
    )


class ResolveForm(RxForm):
    resolution = text(
        200,
        required=True,
        label="What became of the stock",
        placeholder="Returned to vendor, RA 12345 / destroyed / none found",
    )


class CloseForm(RxForm):
    closing_note = forms.CharField(
        max_length=4000,
        label="How the recall was completed",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


# --- Screens ------------------------------------------------------------------------------


@screen
def recall_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    recalls = list(queries.recall_list(actor=actor_of(request), status=status))
    return render(
        request,
        "inventory/recalls/list.html",
        {
            "recalls": recalls,
            "status": status if status in RecallStatus.values else "",
            "statuses": RecallStatus.choices,
        },
    )


@screen(methods=FORM)
def recall_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_RECALL)
    form = RecallForm(posted(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            recall = services.recall_create(
                actor=actor,
                classification=data["classification"],
                reason=data["reason"],
                recall_date=data["recall_date"],
                recall_number=data.get("recall_number", ""),
                firm=data.get("firm", ""),
                items=form.items(),
            )
        except FIELD_ERRORS as exc:
            form.bind(exc)
        else:
            _quarantined_message(request, recall)
            return redirect("inventory_recall_detail", pk=recall.pk)
    return render(
        request,
        "inventory/recalls/form.html",
        {"form": form, "import_form": ImportForm()},
        status=form.http_status(),
    )


def _quarantined_message(request: HttpRequest, recall: Recall) -> None:
    rows = RecallStock.objects.filter(recall=recall)
    balances = rows.count()
    sites = rows.values("balance__site_id").distinct().count()
    label = recall.recall_number or f"#{recall.pk}"
    messages.success(
        request,
        f"Recall {label} entered: {balances} lot{'s' if balances != 1 else ''} quarantined at "
        f"{sites} site{'s' if sites != 1 else ''}.",
    )


@screen(methods=FORM)
def recall_import(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_RECALL)
    import_form = ImportForm(posted(request))
    if request.method == "POST" and import_form.is_valid():
        try:
            result = services.recall_import_openfda(
                actor=actor, record=import_form.cleaned_data["record"]
            )
        except FIELD_ERRORS as exc:
            where = f"{exc.field}: " if exc.field and exc.field != "record" else ""
            import_form.add_error("record", f"{where}{exc.message}")
            import_form.error_status = exc.status
        else:
            _quarantined_message(request, result.recall)
            for note in result.notes:
                messages.warning(request, note)
            return redirect("inventory_recall_detail", pk=result.recall.pk)
    return render(
        request,
        "inventory/recalls/form.html",
        {"form": RecallForm(), "import_form": import_form, "importing": True},
        status=import_form.http_status(),
    )


@screen
def recall_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    recall = queries.recall_for(actor=actor, recall_id=pk)
    sites = queries.recall_sites(actor=actor, recall=recall)
    context: dict[str, Any] = {
        "recall": recall,
        "items": queries.recall_items(recall),
        "stock": queries.recall_stock_here(actor=actor, recall=recall),
        "here": next((s for s in sites if s.site_id == actor.site_id), None),
        "other_sites": [s for s in sites if s.site_id != actor.site_id],
        "can_act": has(actor, Cap.INVENTORY_RECALL) and recall.status == RecallStatus.OPEN,
        "closes_here": recall.entered_at_site_id == actor.site_id,
        "sees_patients": has(actor, Cap.PATIENT_VIEW),
        "made_from": seams.lot_uses(
            actor, actor.site_id, list(queries.affected_lots(recall).values_list("pk", flat=True))
        ),
    }
    if context["sees_patients"]:
        patients = queries.recall_patients(actor=actor, recall=recall)
        context["patients"] = patients
        context["patient_count"] = len({row.patient.pk for row in patients})
        context["notified"] = queries.recall_notified(actor=actor, recall=recall)
        context["notified_count"] = len(context["notified"] & {row.patient.pk for row in patients})
    return render(request, "inventory/recalls/detail.html", context)


@screen(methods=("POST",))
def recall_letters(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Print the letters: the PDF opens in the browser's viewer, ready to print."""
    actor = actor_of(request)
    recall = queries.recall_for(actor=actor, recall_id=pk)
    try:
        pdf = services.recall_letters_print(actor=actor, recall=recall)
    except Conflict as exc:
        messages.warning(request, exc.message)
        return redirect("inventory_recall_detail", pk=recall.pk)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{services.letters_filename(recall)}"'
    return response


def _stock_row(recall: Recall, stock_pk: int, actor: Any) -> RecallStock:
    row = (
        RecallStock.objects.select_related(
            "balance__lot", "balance__package__product", "balance__location"
        )
        .filter(recall=recall, pk=stock_pk, balance__site_id=actor.site_id)
        .first()
    )
    if row is None:
        raise NotFound("No such recalled stock at this site.")
    return row


@screen(methods=FORM)
def recall_stock_resolve(request: HttpRequest, pk: int, stock_pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_RECALL)
    recall = queries.recall_for(actor=actor, recall_id=pk)
    row = _stock_row(recall, stock_pk, actor)
    form = ResolveForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.recall_stock_resolve(
                actor=actor, recall_stock=row, resolution=form.cleaned_data["resolution"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Lot {row.balance.lot.number}: resolution recorded.")
            return redirect("inventory_recall_detail", pk=recall.pk)
    return render(
        request,
        "inventory/recalls/resolve.html",
        {"form": form, "recall": recall, "row": row},
        status=form.http_status(),
    )


@screen(methods=FORM)
def recall_close(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_RECALL)
    recall = queries.recall_for(actor=actor, recall_id=pk)
    form = CloseForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.recall_close(
                actor=actor, recall=recall, closing_note=form.cleaned_data["closing_note"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The recall is closed. Recalled stock stays quarantined.")
            return redirect("inventory_recall_detail", pk=recall.pk)
    outstanding = queries.recall_outstanding(recall).count()
    return render(
        request,
        "inventory/recalls/close.html",
        {"form": form, "recall": recall, "outstanding": outstanding},
        status=form.http_status(),
    )
