"""Workstation screens for counting and removal: parse, call a service or query, render.

The count sheet is made for a scanner and a keyboard: scan a package (or pick a line), type
what is on the shelf, Enter — htmx saves the line and puts the cursor on the next one. Its
lines come from queries_counts' blind-aware sheet, so an open blind count shows no expected
quantity or variance on any screen. The review of a submitted count shows the variances,
their investigation, and the approval."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, Invalid, NotFound
from rxdesk.core.forms import (
    FIELD_ERRORS,
    MAX_ID,
    DateField,
    RxForm,
    bind_errors,
    choice,
    flag,
    text,
)
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, is_partial, posted, screen
from rxdesk.inventory import queries_counts as queries
from rxdesk.inventory.choices import (
    AdjustReason,
    CountScope,
    CountStatus,
    LotStatus,
    VendorReturnKind,
    VendorReturnStatus,
)
from rxdesk.inventory.forms import WITNESS_FIELDS, add_witness_fields, witness_of
from rxdesk.inventory.models import CycleCount, VendorReturn
from rxdesk.inventory.services import counts as count_services
from rxdesk.inventory.services import removal

POST = ("POST",)

# --- Forms (parse only: the services hold the rules) -----------------------------------------


class CountCreateForm(RxForm):
    scope = choice(CountScope.choices, label="Count")
    scope_value = text(
        400,
        label="Shelf, class, schedule or NDCs",
        autocomplete="off",
        placeholder="A-12 · A · CII · 0002-3227-30, 0093-0058-01",
    )
    blind = flag("Blind count", "Counters do not see the quantity on file until it is submitted.")
    note = text(500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope_value"].help_text = (
            "Shelf: its location code. ABC: A, B or C. Schedule: CII to CV. "
            "Packages: NDCs separated by commas. Full inventory: leave blank."
        )


class RecordForm(RxForm):
    line = forms.IntegerField(min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)
    counted = text(20, required=True, label="Counted")


class ScanForm(forms.Form):
    scan = forms.CharField(max_length=200, required=False)
    lot = forms.CharField(max_length=40, required=False)


class AddLineForm(RxForm):
    ndc = text(
        200,
        required=True,
        label="NDC or scan",
        autocomplete="off",
        spellcheck="false",
        placeholder="Scan the package",
    )
    lot_number = text(40, label="Lot", autocomplete="off")
    expiry = DateField(required=False, label="Expiry")
    counted = text(20, required=True, label="Counted", inputmode="decimal", autocomplete="off")
    location = text(30, label="Location", autocomplete="off")


class InvestigateForm(RxForm):
    note = forms.CharField(
        max_length=2000,
        required=False,
        label="What you found",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    adjust_reason = choice(
        [("", "— keep —"), *AdjustReason.choices], label="Reason code", required=False
    )


class ApproveForm(RxForm):
    """The approval button; when a controlled substance's count is corrected, the
    witness's sign-in beside it."""

    FIELDSETS = (("Witness", WITNESS_FIELDS),)

    def __init__(self, *args: Any, witness: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if witness:
            add_witness_fields(
                self,
                help_text="Controlled-substance counts are corrected: a second person "
                "(technician or pharmacist) types their own sign-in now.",
            )
            for field in self.fields.values():
                field.widget.attrs.pop("autofocus", None)


class ReasonForm(RxForm):
    reason = text(200, required=True, label="Why", autocomplete="off")


class DaysForm(forms.Form):
    days = forms.IntegerField(
        min_value=0,
        max_value=queries.MAX_EXPIRY_DAYS,
        required=False,
        label="Expired or expiring within (days)",
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 0, "class": "days"}),
    )

    def horizon(self) -> int:
        """The days asked for, or the default when none (or nonsense) was typed."""
        if self.is_bound and self.is_valid() and self.cleaned_data["days"] is not None:
            return int(self.cleaned_data["days"])
        return queries.DEFAULT_EXPIRY_DAYS


class SweepForm(RxForm):
    location = forms.ChoiceField(required=False, label="Move to")


LINE_FIELDS = ("ndc", "lot_number", "quantity", "reason", "dea_form_222")
MAX_ROWS = 50


class ReturnForm(RxForm):
    """A return's header and ``rows`` line rows; a row left blank is not a line."""

    FIELDSETS = (("Return", ("kind", "supplier", "credit_expected", "note")),)
    SEPARATE: Sequence[str] = ("rows",)

    kind = choice(VendorReturnKind.choices, label="Kind")
    supplier = forms.ChoiceField(label="Return to")
    credit_expected = text(14, label="Credit expected ($)", inputmode="decimal")
    note = text(500)
    rows = forms.IntegerField(min_value=1, max_value=MAX_ROWS, widget=forms.HiddenInput)

    def __init__(self, *args: Any, suppliers: list[Any], rows: int = 6, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["supplier"]).choices = [("", "— choose —")] + [
            (str(s.pk), f"{s.name}{' (reverse distributor)' if s.reverse_distributor else ''}")
            for s in suppliers
        ]
        if self.is_bound:
            with contextlib.suppress(ValueError):
                rows = int(self.data.get("rows") or rows)
        self.row_count = max(1, min(rows, MAX_ROWS))
        self.initial.setdefault("rows", self.row_count)
        sizes = {"ndc": 200, "lot_number": 40, "quantity": 20, "reason": 200, "dea_form_222": 40}
        labels = {
            "ndc": "NDC or scan",
            "lot_number": "Lot",
            "quantity": "Quantity",
            "reason": "Reason",
            "dea_form_222": "DEA 222 no.",
        }
        for i in range(self.row_count):
            for name in LINE_FIELDS:
                self.fields[f"lines.{i}.{name}"] = forms.CharField(
                    max_length=sizes[name],
                    required=False,
                    label=labels[name],
                    widget=forms.TextInput(
                        attrs={"autocomplete": "off", "aria-label": f"Line {i + 1}: {labels[name]}"}
                    ),
                )
        # The line rows are laid out as a table by the template, not in the fieldsets.
        self.SEPARATE = (
            "rows",
            *(f"lines.{i}.{n}" for i in range(self.row_count) for n in LINE_FIELDS),
        )

    def line_rows(self) -> list[tuple[int, list[Any]]]:
        return [
            (i, [self[f"lines.{i}.{name}"] for name in LINE_FIELDS]) for i in range(self.row_count)
        ]

    def lines(self) -> tuple[list[dict[str, Any]], list[int]]:
        """The rows that hold something, and which form row each came from."""
        out: list[dict[str, Any]] = []
        rows: list[int] = []
        for i in range(self.row_count):
            values = {
                name: self.cleaned_data.get(f"lines.{i}.{name}") or "" for name in LINE_FIELDS
            }
            if any(str(v).strip() for v in values.values()):
                out.append(values)
                rows.append(i)
        return out, rows


class ShipForm(RxForm):
    carrier = text(60, required=True, autocomplete="off", placeholder="UPS")
    tracking_number = text(60, required=True, label="Tracking number", autocomplete="off")


class CreditForm(RxForm):
    credit_received = text(14, required=True, label="Credit received ($)", inputmode="decimal")


class CloseForm(RxForm):
    note = text(200, label="Closing note", autocomplete="off")


# --- Counts ---------------------------------------------------------------------------------


def _status_filter(request: HttpRequest, values: list[str]) -> str:
    status = request.GET.get("status", "")
    return status if status in values else ""


@screen
def count_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    status = _status_filter(request, CountStatus.values)
    counts = list(queries.cycle_count_list(actor=actor, status=status)[:100])
    return render(
        request,
        "inventory/counts/count_list.html",
        {
            "counts": counts,
            "status": status,
            "statuses": CountStatus.choices,
            "can_count": has(actor, Cap.INVENTORY_COUNT),
        },
    )


@screen(methods=FORM)
def count_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_COUNT)
    form = CountCreateForm(posted(request), initial={"blind": True, "scope": CountScope.SHELF})
    if request.method == "POST" and form.is_valid():
        try:
            count = count_services.cycle_count_create(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Count {count.pk} started: {count.lines.count()} lines.")
            return redirect("inventory_count_detail", pk=count.pk)
    return render(
        request, "inventory/counts/count_create.html", {"form": form}, status=form.http_status()
    )


def _sheet_context(
    request: HttpRequest,
    count: CycleCount,
    *,
    focus: int | None = None,
    record_form: RecordForm | None = None,
    approve_form: ApproveForm | None = None,
) -> dict[str, Any]:
    actor = actor_of(request)
    lines = queries.cycle_count_sheet(actor=actor, count=count)
    totals = queries.sheet_totals(count)
    counting = count.status == CountStatus.OPEN and has(actor, Cap.INVENTORY_COUNT)
    scan = ScanForm(request.GET or None)
    found: queries.SheetFind | None = None
    scan_error = ""
    if scan.is_bound and scan.is_valid() and scan.cleaned_data["scan"].strip():
        try:
            found = queries.sheet_find(lines, scan.cleaned_data["scan"], scan.cleaned_data["lot"])
        except Invalid as exc:
            scan_error = exc.message
        else:
            if found.line_ids:
                focus = found.line_ids[0]
    if focus is None and counting:
        focus = next((line.id for line in lines if line.counted is None), None)
    add_query = ""
    if found is not None and not found.line_ids:
        add_query = urlencode(
            {
                "ndc": scan.cleaned_data["scan"],
                "lot_number": found.lot,
                **({"expiry": found.expiry.strftime("%m/%d/%Y")} if found.expiry else {}),
            }
        )
    return {
        "count": count,
        "lines": lines,
        "totals": totals,
        "reveal": queries.reveals(count),
        "counting": counting,
        "focus": focus,
        "scan": scan,
        "found": found,
        "scan_error": scan_error,
        "add_query": add_query,
        "record_form": record_form,
        "can_approve": count.status == CountStatus.SUBMITTED and has(actor, Cap.INVENTORY_APPROVE),
        "approve_form": approve_form
        or ApproveForm(witness=any(line.controlled and line.variance for line in lines)),
        "can_investigate": count.status == CountStatus.SUBMITTED
        and has(actor, Cap.INVENTORY_COUNT),
        "can_cancel": count.status in (CountStatus.OPEN, CountStatus.SUBMITTED)
        and has(
            actor,
            Cap.INVENTORY_COUNT if count.status == CountStatus.OPEN else Cap.INVENTORY_APPROVE,
        ),
    }


@screen
def count_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The count sheet while open (scan, type, Enter), the review once submitted."""
    actor = actor_of(request)
    count = queries.cycle_count_for(actor=actor, count_id=pk)
    focus = request.GET.get("next", "")
    context = _sheet_context(request, count, focus=int(focus) if focus.isdigit() else None)
    return render(request, "inventory/counts/count_detail.html", context)


@screen(methods=POST)
def count_record(request: HttpRequest, pk: int) -> HttpResponse:
    """Save one line's count. From htmx: the saved row, and the next row with the cursor in
    it (or the submit button, after the last line)."""
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_COUNT)
    count = queries.cycle_count_for(actor=actor, count_id=pk)
    form = RecordForm(request.POST)
    line_id: int | None = None
    if form.is_valid():
        line_id = form.cleaned_data["line"]
        try:
            line = queries.cycle_count_line_for(actor=actor, count=count, line_id=line_id)
            count_services.cycle_count_record(
                actor=actor, line=line, counted=form.cleaned_data["counted"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            following = queries.next_sheet_line(actor=actor, count=count, after=line_id)
            if is_partial(request):
                count.refresh_from_db()
                return render(
                    request,
                    "inventory/counts/_count_recorded.html",
                    {
                        "count": count,
                        "line": queries.sheet_line_of(actor=actor, line=line),
                        "following": following,
                        "totals": queries.sheet_totals(count),
                        "reveal": queries.reveals(count),
                        "counting": True,
                    },
                )
            url = reverse("inventory_count_detail", kwargs={"pk": count.pk})
            if following is not None:
                url += f"?next={following.id}#line-{following.id}"
            return redirect(url)
    if is_partial(request) and line_id is not None:
        line = queries.cycle_count_line_for(actor=actor, count=count, line_id=line_id)
        return render(
            request,
            "inventory/counts/_count_row.html",
            {
                "line": queries.sheet_line_of(actor=actor, line=line),
                "count": count,
                "reveal": queries.reveals(count),
                "counting": count.status == CountStatus.OPEN,
                "focus": line_id,
                "row_error": "; ".join(str(e) for e in form.errors.get("counted", [])),
                "row_value": request.POST.get("counted", ""),
            },
            status=form.http_status(),
        )
    context = _sheet_context(request, count, focus=line_id, record_form=form)
    return render(request, "inventory/counts/count_detail.html", context, status=form.http_status())


@screen(methods=FORM)
def count_add_line(request: HttpRequest, pk: int) -> HttpResponse:
    """A lot found on the shelf that the sheet did not list."""
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_COUNT)
    count = queries.cycle_count_for(actor=actor, count_id=pk)
    initial = {k: request.GET.get(k, "")[:200] for k in ("ndc", "lot_number", "expiry")}
    form = AddLineForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            line = count_services.cycle_count_add_line(
                actor=actor, count=count, **form.cleaned_data
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Lot {line.lot.number} added to the count.")
            return redirect(
                reverse("inventory_count_detail", kwargs={"pk": count.pk}) + f"#line-{line.pk}"
            )
    return render(
        request,
        "inventory/counts/count_add_line.html",
        {"form": form, "count": count},
        status=form.http_status(),
    )


def _back_to_count(count: CycleCount) -> HttpResponse:
    return redirect("inventory_count_detail", pk=count.pk)


@screen(methods=POST)
def count_submit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    count = queries.cycle_count_for(actor=actor, count_id=pk)
    try:
        submitted = count_services.cycle_count_submit(actor=actor, count=count)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        totals = queries.sheet_totals(submitted)
        messages.success(
            request,
            f"Count {submitted.pk} submitted: {totals.variances} of {totals.lines} lines vary.",
        )
    return _back_to_count(count)


@screen(methods=FORM)
def count_investigate(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_COUNT)
    count = queries.cycle_count_for(actor=actor, count_id=pk)
    line = queries.cycle_count_line_for(actor=actor, count=count, line_id=line_pk)
    form = InvestigateForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            count_services.cycle_count_investigate(actor=actor, line=line, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Investigation of lot {line.lot.number} saved.")
            return redirect(
                reverse("inventory_count_detail", kwargs={"pk": count.pk}) + f"#line-{line.pk}"
            )
    return render(
        request,
        "inventory/counts/count_investigate.html",
        {
            "form": form,
            "count": count,
            "line": queries.sheet_line_of(actor=actor, line=line),
            "reveal": queries.reveals(count),
        },
        status=form.http_status(),
    )


@screen(methods=POST)
def count_approve(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve the count. A refused witness is shown beside the witness's boxes."""
    actor = actor_of(request)
    count = queries.cycle_count_for(actor=actor, count_id=pk)
    form = ApproveForm(request.POST, witness=True)
    form.is_valid()
    try:
        count_services.cycle_count_approve(
            actor=actor, count=count, witness=witness_of(form.cleaned_data)
        )
    except FIELD_ERRORS as exc:
        if any((e.get("field") or "").startswith("witness.") for e in exc.errors):
            bind_errors(form, exc)
            context = _sheet_context(request, count, approve_form=form)
            return render(request, "inventory/counts/count_detail.html", context, status=exc.status)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Count {count.pk} approved; its variances are posted.")
    return _back_to_count(count)


@screen(methods=FORM)
def count_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_COUNT)
    count = queries.cycle_count_for(actor=actor, count_id=pk)
    form = ReasonForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            count_services.cycle_count_cancel(
                actor=actor, count=count, reason=form.cleaned_data["reason"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Count {count.pk} is cancelled; nothing was posted.")
            return redirect("inventory_counts")
    return render(
        request,
        "inventory/counts/count_cancel.html",
        {"form": form, "count": count},
        status=form.http_status(),
    )


# --- Expiring stock ---------------------------------------------------------------------------


@screen
def expiring(request: HttpRequest) -> HttpResponse:
    """Expired and short-dated stock, with the expiry sweep and a return of checked lots."""
    actor = actor_of(request)
    form = DaysForm(request.GET or None)
    rows = queries.expiring_stock(actor=actor, days=form.horizon())
    can_sweep = has(actor, Cap.INVENTORY_ADJUST)
    sweep = SweepForm()
    if can_sweep:
        cast(forms.ChoiceField, sweep.fields["location"]).choices = [
            ("", "— leave where it is —")
        ] + [(loc.code, f"{loc.code} {loc.name}") for loc in queries.quarantine_areas(actor=actor)]
    return render(
        request,
        "inventory/counts/expiring.html",
        {
            "form": form,
            "days": form.horizon(),
            "rows": rows,
            "expired": sum(1 for r in rows if r.expired),
            "sweep": sweep,
            "can_sweep": can_sweep,
            "can_return": has(actor, Cap.INVENTORY_RETURN),
            "swept": [LotStatus.AVAILABLE, LotStatus.ON_HOLD, LotStatus.QUARANTINED],
        },
        status=422 if form.is_bound and not form.is_valid() else 200,
    )


@screen
def expiring_csv(request: HttpRequest) -> HttpResponseBase:
    actor = actor_of(request)
    form = DaysForm(request.GET or None)
    days = form.horizon()
    rows = queries.expiring_stock(actor=actor, days=days)
    site = actor.site
    stamp = timezone.now().astimezone(site.tz).strftime("%Y%m%d")
    response = StreamingHttpResponse(queries.expiring_csv(rows), content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="expiring-{days}d-site{site.pk}-{stamp}.csv"'
    )
    response["Cache-Control"] = "no-store"
    return response


@screen(methods=POST)
def expired_quarantine(request: HttpRequest) -> HttpResponse:
    """Run the expiry sweep now (it also runs nightly)."""
    actor = actor_of(request)
    location = request.POST.get("location", "")[:30]
    try:
        changed = removal.stock_expired_quarantine(actor=actor, location=location or None)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        if changed:
            messages.success(
                request, f"{changed} expired lot{'s' if changed != 1 else ''} set aside."
            )
        else:
            messages.info(request, "No expired lot was left among the dispensable stock.")
    return redirect("inventory_expiring")


# --- Returns to vendor --------------------------------------------------------------------------


@screen
def return_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    status = _status_filter(request, VendorReturnStatus.values)
    returns = list(queries.vendor_return_list(actor=actor, status=status)[:100])
    return render(
        request,
        "inventory/counts/return_list.html",
        {
            "returns": returns,
            "status": status,
            "statuses": VendorReturnStatus.choices,
            "can_return": has(actor, Cap.INVENTORY_RETURN),
        },
    )


_LINE_ERROR = re.compile(r"^lines\.(\d+)\.(\w+)$")


def _bind_line_errors(form: ReturnForm, exc: DomainError, rows: list[int]) -> None:
    """The service numbers the lines it was given; the form numbers its rows (some blank)."""
    errors = exc.errors or [{"field": exc.field or "", "message": exc.message}]
    for error in errors:
        field = error.get("field") or ""
        match = _LINE_ERROR.match(field)
        if match and int(match.group(1)) < len(rows):
            field = f"lines.{rows[int(match.group(1))]}.{match.group(2)}"
        form.add_error(field if field in form.fields else None, error.get("message") or "")
    form.error_status = exc.status


def _prefill(actor: User, request: HttpRequest) -> dict[str, Any]:
    ids = [int(v) for v in request.GET.getlist("balance") if v.isdigit() and int(v) <= MAX_ID]
    initial: dict[str, Any] = {}
    today = actor.site.today()
    for i, balance in enumerate(queries.balances_for_return(actor=actor, ids=ids)):
        expired = balance.lot.expiry is not None and balance.lot.expiry < today
        initial[f"lines.{i}.ndc"] = balance.package.ndc10
        initial[f"lines.{i}.lot_number"] = balance.lot.number
        initial[f"lines.{i}.quantity"] = format(balance.on_hand.normalize(), "f")
        initial[f"lines.{i}.reason"] = (
            "Expired"
            if expired or balance.status == LotStatus.EXPIRED
            else ("Recalled" if balance.status == LotStatus.RECALLED else "")
        )
    return initial


@screen(methods=FORM)
def return_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INVENTORY_RETURN)
    initial = _prefill(actor, request) if request.method == "GET" else {}
    rows = max(6, sum(1 for k in initial if k.endswith(".ndc")) + 2)
    kind = request.GET.get("kind", "")
    initial["kind"] = kind if kind in VendorReturnKind.values else VendorReturnKind.VENDOR
    form = ReturnForm(
        posted(request),
        initial=initial,
        suppliers=queries.return_suppliers(actor=actor),
        rows=rows,
    )
    if request.method == "POST" and form.is_valid():
        lines, used = form.lines()
        data = form.cleaned_data
        try:
            packed = removal.vendor_return_create(
                actor=actor,
                kind=data["kind"],
                supplier=data["supplier"],
                lines=lines,
                credit_expected=data["credit_expected"],
                note=data["note"],
            )
        except FIELD_ERRORS as exc:
            _bind_line_errors(form, exc, used)
        else:
            messages.success(request, f"Return {packed.pk} is packed; ship it when it leaves.")
            return redirect("inventory_return_detail", pk=packed.pk)
    return render(
        request, "inventory/counts/return_create.html", {"form": form}, status=form.http_status()
    )


def _return_context(request: HttpRequest, found: VendorReturn, **forms_: RxForm) -> dict[str, Any]:
    actor = actor_of(request)
    lines = queries.vendor_return_lines(found)
    return {
        "ret": found,
        "lines": [(line, removal.dea_form_222_of(line)) for line in lines],
        "can_return": has(actor, Cap.INVENTORY_RETURN),
        "ship_form": forms_.get("ship_form") or ShipForm(),
        "credit_form": forms_.get("credit_form") or CreditForm(),
        "close_form": forms_.get("close_form") or CloseForm(),
    }


@screen
def return_detail(request: HttpRequest, pk: int) -> HttpResponse:
    found = queries.vendor_return_for(actor=actor_of(request), return_id=pk)
    return render(request, "inventory/counts/return_detail.html", _return_context(request, found))


def _return_step(
    request: HttpRequest, pk: int, form_class: type[RxForm], name: str, act: Any, done: str
) -> HttpResponse:
    actor = actor_of(request)
    found = queries.vendor_return_for(actor=actor, return_id=pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            act(actor, found, form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect("inventory_return_detail", pk=found.pk)
    else:
        require(actor, Cap.INVENTORY_RETURN)
    return render(
        request,
        "inventory/counts/return_detail.html",
        _return_context(request, found, **{name: form}),
        status=form.http_status(),
    )


@screen(methods=POST)
def return_ship(request: HttpRequest, pk: int) -> HttpResponse:
    return _return_step(
        request,
        pk,
        ShipForm,
        "ship_form",
        lambda actor, found, data: removal.vendor_return_ship(
            actor=actor, vendor_return=found, **data
        ),
        "Shipped: the returned stock has left the inventory.",
    )


@screen(methods=POST)
def return_credit(request: HttpRequest, pk: int) -> HttpResponse:
    return _return_step(
        request,
        pk,
        CreditForm,
        "credit_form",
        lambda actor, found, data: removal.vendor_return_credit(
            actor=actor, vendor_return=found, **data
        ),
        "The credit is recorded.",
    )


@screen(methods=POST)
def return_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _return_step(
        request,
        pk,
        CloseForm,
        "close_form",
        lambda actor, found, data: removal.vendor_return_close(
            actor=actor, vendor_return=found, **data
        ),
        "The return is closed.",
    )


@screen
def return_custody(request: HttpRequest, pk: int) -> HttpResponse:
    """The printable chain-of-custody record that travels with the box."""
    actor = actor_of(request)
    found = queries.vendor_return_for(actor=actor, return_id=pk)
    lines = queries.vendor_return_lines(found)
    if found.site_id != actor.site_id:  # pragma: no cover - the query scopes by site
        raise NotFound("No such return at this pharmacy.")
    return render(
        request,
        "inventory/counts/return_custody.html",
        {
            "ret": found,
            "site": found.site,
            "lines": [(line, removal.dea_form_222_of(line)) for line in lines],
            "printed_at": timezone.now(),
        },
    )
