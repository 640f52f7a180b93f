"""Workstation screens of the dispensing cabinets: the cabinets with what needs doing, one
cabinet's pockets by drawer (lots, expiries, recent moves), setting up cabinets and pockets,
the printable pick list, the restock form (the pick list with a scan field, a quantity and,
for a controlled pocket, the count before, per row; the witness signs in on the same form)
and unloading a pocket back to the pharmacy. Parse, call rxdesk.institutional
services_cabinets / queries_cabinets, render: the services decide; each page checks its
capability first."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, Invalid
from rxdesk.core.forms import FIELD_ERRORS, RxForm, flag, text
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.institutional import cabinet_ledger
from rxdesk.institutional import queries_cabinets as queries
from rxdesk.institutional import services_cabinets as services
from rxdesk.institutional.api_cabinets import restock_message
from rxdesk.institutional.choices import CabinetVendor
from rxdesk.institutional.models import Cabinet, Pocket
from rxdesk.inventory.services.common import package_of

CONTROLLED_CHOICES = [
    ("", "As the drug's schedule says"),
    ("yes", "Controlled: counted at every access, restocks witnessed"),
    ("no", "Not controlled"),
]


def _number(label: str, *, required: bool = True, **attrs: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=0,
        max_digits=12,
        decimal_places=3,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", **attrs}),
    )


def _witness_fields(form: forms.Form) -> None:
    form.fields["witness_username"] = text(
        150, label="Witness's user name", autocomplete="off", spellcheck="false"
    )
    form.fields["witness_password"] = forms.CharField(
        max_length=256,
        required=False,
        label="Witness's password",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    form.fields["witness_otp"] = text(
        12,
        label="Witness's authenticator code (if enrolled)",
        autocomplete="off",
        inputmode="numeric",
    )


def _witness_of(data: dict[str, Any]) -> dict[str, str] | None:
    username = (data.get("witness_username") or "").strip()
    if not username:
        return None
    return {
        "username": username,
        "password": data.get("witness_password") or "",
        "otp": data.get("witness_otp") or "",
    }


WITNESS_FIELDS = {
    "witness.username": "witness_username",
    "witness.password": "witness_password",
    "witness.otp": "witness_otp",
}
# Service fields shown beside a differently named form field.
FIELD_MAP = {**WITNESS_FIELDS, "package": "ndc"}


def _bind(form: RxForm, exc: DomainError) -> None:
    """A service's errors beside the fields they name (``witness.password`` beside the
    witness's password field), or above the form."""
    errors = exc.errors or [{"field": exc.field or "", "message": exc.message}]
    for error in errors:
        name = error.get("field") or ""
        target: str | None = FIELD_MAP.get(name, name)
        if target not in form.fields:
            target = None
        form.add_error(target, error.get("message") or exc.message)
    form.error_status = exc.status


# --- Forms ------------------------------------------------------------------------------------


class CabinetForm(RxForm):
    FIELDSETS = (("Cabinet", ("code", "name", "vendor", "area", "active")),)
    code = text(
        services.CODE_MAX,
        required=True,
        label="Station code (as the vendor reports it)",
        placeholder="3W-1",
        autocomplete="off",
    )
    name = text(120, required=True, label="Name", placeholder="3 West med room")
    vendor = forms.ChoiceField(choices=[("", "Choose…"), *CabinetVendor.choices], label="Vendor")
    area = text(80, label="Nursing unit it serves")
    active = flag("In service")


class PocketForm(RxForm):
    FIELDSETS = (
        ("Place", ("drawer", "pocket_code")),
        ("What it holds", ("ndc", "par", "minimum", "controlled", "active")),
    )
    drawer = text(10, required=True, label="Drawer", autocomplete="off")
    pocket_code = text(10, required=True, label="Pocket", autocomplete="off")
    ndc = forms.CharField(
        max_length=200,
        label="Package NDC (or scan it)",
        widget=forms.TextInput(attrs={"autocomplete": "off", "data-scan": True}),
    )
    par = _number("Par level")
    minimum = _number("Minimum (refill at or below)")
    controlled = forms.ChoiceField(choices=CONTROLLED_CHOICES, required=False, label="Controlled")
    active = flag("In use")

    def controlled_value(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.cleaned_data.get("controlled") or "")


class UnloadForm(RxForm):
    FIELDSETS = (("Unload", ("quantity", "lot_number", "reason")),)
    quantity = _number("Quantity back to the pharmacy")
    lot_number = forms.ChoiceField(required=False, label="Lot")
    reason = text(
        services.REASON_MAX,
        required=True,
        label="Why",
        placeholder="Expired · par lowered · drug removed from the cabinet",
    )

    def __init__(self, *args: Any, pocket: Pocket, lots: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["lot_number"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "First expiry first")] + [
            (
                lot.number,
                f"{lot.number} · exp {lot.expiry:%m/%d/%Y}" if lot.expiry else lot.number,
            )
            for lot in lots
        ]
        if pocket.controlled:
            _witness_fields(self)


class RestockForm(RxForm):
    """One row per pocket: ``scan_<id>`` (a barcode or the lot typed), ``quantity_<id>``,
    and ``count_<id>`` for a controlled pocket; the witness's sign-in once for the form."""

    def __init__(self, *args: Any, pockets: list[Pocket], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pockets = pockets
        for p in pockets:
            self.fields[f"scan_{p.pk}"] = forms.CharField(
                max_length=200,
                required=False,
                label=f"{p.place}: scan or lot",
                widget=forms.TextInput(
                    attrs={
                        "autocomplete": "off",
                        "spellcheck": "false",
                        "data-scan": True,
                        "data-picker-box": True,
                        "data-enter-next": True,
                    }
                ),
            )
            self.fields[f"quantity_{p.pk}"] = forms.DecimalField(
                required=False,
                min_value=0,
                max_digits=12,
                decimal_places=3,
                label=f"{p.place}: quantity",
                widget=forms.TextInput(
                    attrs={
                        "inputmode": "decimal",
                        "autocomplete": "off",
                        "placeholder": " ",
                        **({"data-controlled-qty": True} if p.controlled else {}),
                    }
                ),
            )
            if p.controlled:
                self.fields[f"count_{p.pk}"] = forms.DecimalField(
                    required=False,
                    min_value=0,
                    max_digits=12,
                    decimal_places=3,
                    label=f"{p.place}: count before",
                    widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
                )
        _witness_fields(self)
        for field in self.fields.values():
            field.widget.attrs.pop("autofocus", None)
        if pockets:
            self.fields[f"scan_{pockets[0].pk}"].widget.attrs["autofocus"] = True

    def lines(self) -> tuple[list[dict[str, Any]], list[Pocket]]:
        """The rows filled in, as service lines, and the pocket of each line."""
        data = self.cleaned_data
        out: list[dict[str, Any]] = []
        of: list[Pocket] = []
        for p in self.pockets:
            raw = (data.get(f"scan_{p.pk}") or "").strip()
            quantity = data.get(f"quantity_{p.pk}")
            if not raw and quantity is None:
                continue
            if quantity is None:
                self.add_error(f"quantity_{p.pk}", "Enter the quantity put in the pocket.")
                continue
            scan, lot = queries.scan_or_lot(raw)
            out.append(
                {
                    "pocket_id": p.pk,
                    "scan": scan,
                    "lot_number": lot,
                    "quantity": quantity,
                    "counted_before": data.get(f"count_{p.pk}"),
                }
            )
            of.append(p)
        return out, of

    def bind(self, exc: DomainError, of: list[Pocket]) -> None:
        """A service's errors beside the row and field they name."""
        errors = exc.errors or [{"field": exc.field or "", "message": exc.message}]
        for error in errors:
            name = error.get("field") or ""
            target: str | None = WITNESS_FIELDS.get(name)
            if name.startswith("lines[") and "]" in name:
                index_text, _, rest = name[len("lines[") :].partition("]")
                rest = rest.lstrip(".")
                if index_text.isdigit() and int(index_text) < len(of):
                    pid = of[int(index_text)].pk
                    column = {
                        "quantity": "quantity",
                        "counted_before": "count",
                    }.get(rest, "scan")
                    target = f"{column}_{pid}"
            if target not in self.fields:
                target = None
            self.add_error(target, error.get("message") or exc.message)
        self.error_status = exc.status

    def rows(self, shown: list[Any]) -> list[dict[str, Any]]:
        """The rows to draw: each pick line (or pocket) with its bound fields."""
        out = []
        for item in shown:
            p = item if isinstance(item, Pocket) else item.pocket
            out.append(
                {
                    "line": None if isinstance(item, Pocket) else item,
                    "pocket": p,
                    "scan": self[f"scan_{p.pk}"],
                    "quantity": self[f"quantity_{p.pk}"],
                    "count": self[f"count_{p.pk}"] if p.controlled else None,
                }
            )
        return out

    def witness_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in ("witness_username", "witness_password", "witness_otp")]


# --- Cabinets ---------------------------------------------------------------------------------


@screen
def cabinet_list(request: HttpRequest) -> HttpResponse:
    """The cabinets, with pockets to refill and open discrepancies."""
    actor = actor_of(request)
    require(actor, Cap.ADC_VIEW)
    context = {
        "rows": queries.cabinets(actor=actor),
        "may_setup": has(actor, Cap.ADC_SETUP),
        "may_restock": has(actor, Cap.ADC_RESTOCK),
    }
    return render(request, "institutional/cabinet_list.html", context)


def _cabinet_form(request: HttpRequest, actor: User, cabinet: Cabinet | None) -> HttpResponse:
    require(actor, Cap.ADC_SETUP)
    initial: dict[str, Any] = {"active": True}
    if cabinet is not None:
        initial = {f: getattr(cabinet, f) for f in services.CABINET_FIELDS}
    form = CabinetForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            done = services.cabinet_save(actor=actor, cabinet=cabinet, **values)
        except FIELD_ERRORS as exc:
            _bind(form, exc)
        else:
            messages.success(
                request,
                f"Cabinet {done.code} {'set up' if cabinet is None else 'saved'}."
                + (" Now add its pockets." if cabinet is None else ""),
            )
            return redirect("adc_cabinet", pk=done.pk)
    context = {"form": form, "cabinet": cabinet}
    return render(request, "institutional/cabinet_form.html", context, status=form.http_status())


@screen(methods=FORM)
def cabinet_new(request: HttpRequest) -> HttpResponse:
    return _cabinet_form(request, actor_of(request), None)


@screen(methods=FORM)
def cabinet_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.ADC_SETUP)
    return _cabinet_form(request, actor, queries.cabinet_get(actor=actor, cabinet_id=pk))


@screen
def cabinet_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One cabinet: pockets by drawer with par, minimum, on hand, lots and expiries; the
    latest moves."""
    actor = actor_of(request)
    require(actor, Cap.ADC_VIEW)
    cabinet = queries.cabinet_get(actor=actor, cabinet_id=pk)
    context = {
        "detail": queries.cabinet_detail(actor=actor, cabinet=cabinet),
        "c": cabinet,
        "moves": queries.cabinet_moves(actor=actor, cabinet=cabinet, limit=30),
        "sees_patients": has(actor, Cap.PATIENT_VIEW),
        "may_setup": has(actor, Cap.ADC_SETUP),
        "may_restock": has(actor, Cap.ADC_RESTOCK),
    }
    return render(request, "institutional/cabinet_detail.html", context)


# --- Pockets ----------------------------------------------------------------------------------


def _pocket_form(
    request: HttpRequest, actor: User, cabinet: Cabinet, pocket: Pocket | None
) -> HttpResponse:
    initial: dict[str, Any] = {"active": True}
    if pocket is not None:
        initial = {
            "drawer": pocket.drawer,
            "pocket_code": pocket.pocket,
            "ndc": pocket.package.ndc10,
            "par": pocket.par.normalize(),
            "minimum": pocket.minimum.normalize(),
            "controlled": "yes" if pocket.controlled else "no",
            "active": pocket.active,
        }
    form = PocketForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            package = package_of(values["ndc"], field="ndc")
            done = services.pocket_save(
                actor=actor,
                cabinet=cabinet,
                pocket=pocket,
                drawer=values["drawer"],
                pocket_code=values["pocket_code"],
                package=package,
                par=values["par"],
                minimum=values["minimum"],
                controlled=form.controlled_value(),
                active=values["active"],
            )
        except FIELD_ERRORS as exc:
            _bind(form, exc)
        else:
            messages.success(
                request,
                f"Pocket {done.place} of {cabinet.code} saved: "
                f"{done.package.product.display_name} {done.package.product.strength}, "
                f"par {done.par.normalize():f}, minimum {done.minimum.normalize():f}"
                + (", controlled." if done.controlled else "."),
            )
            return redirect("adc_cabinet", pk=cabinet.pk)
    context = {"form": form, "cabinet": cabinet, "pocket": pocket}
    return render(request, "institutional/pocket_form.html", context, status=form.http_status())


@screen(methods=FORM)
def pocket_new(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.ADC_SETUP)
    return _pocket_form(request, actor, queries.cabinet_get(actor=actor, cabinet_id=pk), None)


@screen(methods=FORM)
def pocket_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.ADC_SETUP)
    pocket = queries.pocket_get(actor=actor, pocket_id=pk)
    return _pocket_form(request, actor, pocket.cabinet, pocket)


@screen(methods=FORM)
def pocket_unload(request: HttpRequest, pk: int) -> HttpResponse:
    """Take stock out of a pocket back to the pharmacy (witnessed when controlled)."""
    actor = actor_of(request)
    require(actor, Cap.ADC_RESTOCK)
    pocket = queries.pocket_get(actor=actor, pocket_id=pk)
    lots = [r.lot for r in cabinet_ledger.lots_in(pocket)]
    form = UnloadForm(posted(request), pocket=pocket, lots=lots)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            moves = services.pocket_unload(
                actor=actor,
                pocket=pocket,
                quantity=values["quantity"],
                lot_number=values["lot_number"] or None,
                reason=values["reason"],
                witness=_witness_of(values),
            )
        except FIELD_ERRORS as exc:
            _bind(form, exc)
        else:
            total = sum((-m.quantity for m in moves), Decimal(0))
            lots_text = ", ".join(f"lot {m.lot.number} {-m.quantity.normalize():f}" for m in moves)
            messages.success(
                request,
                f"Unloaded {total.normalize():f} from pocket {pocket.place} back to the "
                f"pharmacy's stock ({lots_text}).",
            )
            return redirect("adc_cabinet", pk=pocket.cabinet_id)
    context = {
        "form": form,
        "pocket": pocket,
        "cabinet": pocket.cabinet,
        "lots": cabinet_ledger.lots_in(pocket),
    }
    return render(request, "institutional/pocket_unload.html", context, status=form.http_status())


# --- Pick list and restock --------------------------------------------------------------------


def _flag(request: HttpRequest, name: str) -> bool:
    return (request.GET.get(name) or "").strip().lower() in {"1", "yes", "true", "on"}


@screen
def pick_list(request: HttpRequest, pk: int) -> HttpResponse:
    """The printable pick list: what to bring, pocket by pocket, and from which lots."""
    actor = actor_of(request)
    require(actor, Cap.ADC_VIEW)
    cabinet = queries.cabinet_get(actor=actor, cabinet_id=pk)
    top_up = _flag(request, "top_up")
    context = {
        "pick": queries.pick_list(actor=actor, cabinet=cabinet, top_up=top_up),
        "c": cabinet,
        "top_up": top_up,
        "may_restock": has(actor, Cap.ADC_RESTOCK),
    }
    return render(request, "institutional/pick_list.html", context)


@screen(methods=FORM)
def restock(request: HttpRequest, pk: int) -> HttpResponse:
    """The pick list as a form: scan each lot, enter what went in (and the count before,
    for a controlled pocket); a witness signs in for controlled pockets; all or nothing."""
    actor = actor_of(request)
    require(actor, Cap.ADC_RESTOCK)
    cabinet = queries.cabinet_get(actor=actor, cabinet_id=pk)
    every = _flag(request, "all")
    top_up = _flag(request, "top_up")
    pick = queries.pick_list(actor=actor, cabinet=cabinet, top_up=top_up)
    pockets = sorted(
        Pocket.objects.select_related("package__product").filter(cabinet=cabinet, active=True),
        key=queries.place_key,
    )
    data = posted(request)
    form = RestockForm(data, pockets=pockets)
    if data is not None and form.is_valid():
        lines, of = form.lines()
        if not form.errors:
            try:
                if not lines:
                    raise Invalid("Enter a quantity for at least one pocket.", field="lines")
                done = services.cabinet_restock_full(
                    actor=actor,
                    cabinet=cabinet,
                    lines=lines,
                    witness=_witness_of(form.cleaned_data),
                )
            except FIELD_ERRORS as exc:
                form.bind(exc, of)
            else:
                messages.success(request, restock_message(cabinet, done.moves, done.discrepancies))
                return redirect("adc_cabinet", pk=cabinet.pk)
    picked = {line.pocket.pk for line in pick.lines}
    shown: list[Any] = list(pick.lines)
    typed = set()
    if data is not None:
        typed = {
            p.pk
            for p in pockets
            if any((data.get(f"{c}_{p.pk}") or "").strip() for c in ("scan", "quantity", "count"))
        }
    extra = [p for p in pockets if p.pk not in picked and (every or p.pk in typed)]
    shown += extra
    shown.sort(
        key=lambda item: queries.place_key(item if isinstance(item, Pocket) else item.pocket)
    )
    rows = form.rows(shown)
    context = {
        "form": form,
        "c": cabinet,
        "rows": rows,
        "every": every,
        "top_up": top_up,
        "has_controlled": any(r["pocket"].controlled for r in rows),
        "hidden": len(pockets) - len(rows),
    }
    return render(request, "institutional/restock.html", context, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("cabinets/", cabinet_list, name="adc_cabinets"),
    path("cabinets/new/", cabinet_new, name="adc_cabinet_new"),
    path("cabinets/<int:pk>/", cabinet_detail, name="adc_cabinet"),
    path("cabinets/<int:pk>/edit/", cabinet_edit, name="adc_cabinet_edit"),
    path("cabinets/<int:pk>/pockets/new/", pocket_new, name="adc_pocket_new"),
    path("cabinets/<int:pk>/pick-list/", pick_list, name="adc_pick_list"),
    path("cabinets/<int:pk>/restock/", restock, name="adc_restock"),
    path("pockets/<int:pk>/edit/", pocket_edit, name="adc_pocket_edit"),
    path("pockets/<int:pk>/unload/", pocket_unload, name="adc_pocket_unload"),
]
