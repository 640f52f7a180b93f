"""The counter, as a technician works it: scan the bag label (or type a name, a birth date or
a bin) and Enter; the will-call card with every bag waiting for the patient and the
household; the pickup form (who, identity, counseling, the privacy notice, the ID a
controlled substance needs, the signature drawn on the pad); the pharmacist's counseling
when it was accepted; and the sale: OTC items by scan, the tenders, done.

Each screen parses, calls a query or a service (rxdesk.pos.queries_willcall,
rxdesk.pos.services.pickup, rxdesk.pos.services.sales) and renders. The services decide
who may do what and every rule; a screen only hides what a role may not do."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils.http import urlencode

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.forms import FIELD_ERRORS, MAX_ID, DateField, RxForm, flag, text
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, is_partial, posted, screen
from rxdesk.patients.models import Patient
from rxdesk.pos import queries_willcall as willcall
from rxdesk.pos.choices import (
    Counseling,
    IdType,
    LineKind,
    PickupPerson,
    SaleStatus,
    SecondIdentifier,
    TenderKind,
)
from rxdesk.pos.models import HouseAccount, Pickup, Sale, SaleLine
from rxdesk.pos.services import pickup as pickup_services
from rxdesk.pos.services import sales as sale_services
from rxdesk.pos.services.common import EDITABLE, parse_money, settings_of
from rxdesk.rx.views.common import bind, id_of

# A bag label as the scanner types it: "1042-0" (prescription number - fill number).
BAG_LABEL = re.compile(r"^\s*\d{1,9}\s*[-\s]\s*\d{1,3}\s*$")
# A drawn signature as the pad sends it (base64 of a PNG of at most 256 KB, and its prefix).
SIGNATURE_CHARS = 360_000
CHOOSE = ("", "Choose…")


# --- Shared pieces -----------------------------------------------------------------------------


def _sale(request: HttpRequest, pk: int) -> Sale:
    """A sale of this pharmacy, for a role that sells (checked before anything is read)."""
    actor = actor_of(request)
    require(actor, Cap.RX_SELL)
    found = None
    if pk <= MAX_ID:
        found = (
            Sale.objects.select_related("patient", "site")
            .filter(site_id=actor.site_id, pk=pk)
            .first()
        )
    if found is None:
        raise NotFound("No such sale at this pharmacy.")
    return found


def _pickup_of(sale: Sale) -> Pickup | None:
    return Pickup.objects.filter(sale=sale).first()


def _rx_lines(sale: Sale) -> list[SaleLine]:
    return list(
        sale.lines.filter(kind=LineKind.RX)
        .select_related("fill__prescription__product", "fill__prescription__patient")
        .order_by("pk")
    )


def _lines(sale: Sale) -> list[SaleLine]:
    return list(
        sale.lines.select_related(
            "fill__prescription__product", "fill__prescription__patient", "package__product"
        ).order_by("pk")
    )


def _needs_id(sale: Sale) -> bool:
    """Whether a prescription on the sale is of a schedule this state asks ID for (only to
    show the ID fields: the pickup service enforces it)."""
    wanted = willcall.id_schedules(sale.site)
    return any(
        line.fill is not None and willcall.schedule_digit(line.fill.prescription) in wanted
        for line in _rx_lines(sale)
    )


def _url(name: str, fallback: str, **kwargs: Any) -> str:
    """Another part's screen when it is there (the sales and PSE screens are theirs)."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return fallback


def _next_step(sale: Sale) -> str:
    """Where a sale goes from here: counseling, payment, or done."""
    if sale.status == SaleStatus.AWAITING_COUNSEL:
        return reverse("counter_counsel", kwargs={"pk": sale.pk})
    if sale.status == SaleStatus.OPEN:
        if _rx_lines(sale) and _pickup_of(sale) is None:
            return reverse("counter_pickup", kwargs={"pk": sale.pk})
        return reverse("counter_pay", kwargs={"pk": sale.pk})
    if sale.status == SaleStatus.COMPLETED:
        return reverse("counter_done", kwargs={"pk": sale.pk})
    return _url("pos_sale", reverse("counter"), pk=sale.pk)


def _name(patient: Patient | None) -> str:
    if patient is None:
        return "walk-in customer"
    return f"{patient.first_name} {patient.last_name}".strip()


# --- The counter: find the patient -------------------------------------------------------------


@screen
def counter(request: HttpRequest) -> HttpResponse:
    """One search box with the focus: a bag label scanned (and Enter) opens that patient's
    will-call; a name, a date of birth or a bin lists the patients with what waits for them."""
    actor = actor_of(request)
    require(actor, Cap.RX_SELL)
    q = " ".join(request.GET.get("q", "").split())[:100]
    results: list[willcall.WillCall] = []
    error = ""
    if q:
        try:
            results = willcall.will_call_search(actor=actor, q=q)
        except FIELD_ERRORS as exc:
            error = exc.message
        else:
            if len(results) == 1 and BAG_LABEL.match(q):
                target = reverse("counter_patient", kwargs={"pk": results[0].patient.pk})
                return redirect(f"{target}?{urlencode({'scan': q.replace(' ', '')})}")
    open_sales = list(
        Sale.objects.filter(site_id=actor.site_id, status__in=EDITABLE)
        .select_related("patient")
        .order_by("-started_at")[:10]
    )
    context = {
        "q": q,
        "drawer": sale_services.drawer_for(actor=actor),
        "drawer_url": _url("pos_drawer", ""),
        "counseling_url": _url("pos_counseling", "") if has(actor, Cap.POS_COUNSEL) else "",
        "waiting": sum(1 for s in open_sales if s.status == SaleStatus.AWAITING_COUNSEL),
        "searched": bool(q),
        "results": results,
        "error": error,
        "open_sales": [
            {"sale": s, "url": _next_step(s), "name": _name(s.patient)} for s in open_sales
        ],
    }
    return render(request, "pos/counter_search.html", context, status=422 if error else 200)


@screen(methods=("POST",))
def counter_new_sale(request: HttpRequest) -> HttpResponse:
    """A walk-in sale of OTC items (no prescription, no patient)."""
    actor = actor_of(request)
    require(actor, Cap.RX_SELL)
    try:
        sale = sale_services.sale_start(actor=actor, patient=None)
    except FIELD_ERRORS as exc:
        messages.error(request, f"No sale was started: {exc.message}")
        return redirect("counter")
    return redirect("counter_pay", pk=sale.pk)


# --- The will-call card ------------------------------------------------------------------------


def _card_rows(found: willcall.WillCall) -> list[dict[str, Any]]:
    """Every bag on the card, the patient's first, then each household member's."""
    rows: list[dict[str, Any]] = [{"r": r, "whose": None} for r in found.ready]
    for member in found.household:
        rows += [{"r": r, "whose": member.patient} for r in member.ready]
    for row in rows:
        r = row["r"]
        row["blocked"] = (
            "Past the plan's return window: return it to stock and bill it again before selling."
            if r.past_return_window
            else "On a delivery: it goes out with the driver."
            if r.on_delivery
            else ""
        )
    return rows


@screen(methods=FORM)
def counter_patient(request: HttpRequest, pk: int) -> HttpResponse:
    """The will-call card: the ready bags (bin, drug, quantity, price, fridge, controlled),
    the household's bags, what is still being filled and refills coming due. The ready bags
    are ticked; Enter starts the pickup with them."""
    actor = actor_of(request)
    require(actor, Cap.RX_SELL)
    if pk > MAX_ID:
        raise NotFound("No such patient at this pharmacy.")
    patient = willcall.patient_get(actor=actor, patient_id=pk)
    found = willcall.will_call_for(actor=actor, patient=patient)
    rows = _card_rows(found)
    scanned = (request.GET.get("scan") or "").strip()
    errors: dict[str, list[str]] = {}
    typed: dict[int, str] = {}
    status = 200
    if request.method == "POST":
        chosen = [i for i in (id_of(v) for v in request.POST.getlist("fills")) if i is not None]
        prices: dict[int, Decimal] = {}
        for fill_id in chosen:
            raw = (request.POST.get(f"price_{fill_id}") or "").strip()
            typed[fill_id] = raw[:20]
            if raw:
                try:
                    prices[fill_id] = parse_money(raw, f"price_{fill_id}", allow_zero=True)
                except Invalid as exc:
                    errors.setdefault(f"price_{fill_id}", []).append(exc.message)
        if not chosen:
            errors.setdefault("fills", []).append("Tick at least one bag to hand out.")
        if not errors:
            try:
                fills = willcall.fills_get(actor=actor, fill_ids=chosen)
                sale = pickup_services.pickup_start(
                    actor=actor, patient=patient, fills=fills, prices=prices or None
                )
            except FIELD_ERRORS as exc:
                status = exc.status
                for error in exc.errors or [{"field": exc.field or "", "message": exc.message}]:
                    name = error.get("field") or "fills"
                    name = "fills" if name in ("fill_ids", "patient", "sale", "") else name
                    errors.setdefault(name, []).append(error.get("message") or exc.message)
            else:
                messages.success(
                    request,
                    f"Pickup started for {_name(patient)}: {len(chosen)} bag"
                    f"{'s' if len(chosen) != 1 else ''}.",
                )
                return redirect("counter_pickup", pk=sale.pk)
        selected = set(chosen)
        status = status if status != 200 else 422
    else:
        selected = {row["r"].fill.pk for row in rows if row["whose"] is None and not row["blocked"]}
        if scanned:
            selected |= {
                row["r"].fill.pk for row in rows if row["r"].code == scanned and not row["blocked"]
            }
    for row in rows:
        fill_id = row["r"].fill.pk
        row["checked"] = fill_id in selected
        row["scanned"] = row["r"].code == scanned
        row["typed_price"] = typed.get(fill_id, "")
        row["price_errors"] = errors.pop(f"price_{fill_id}", [])
    open_sales = list(
        Sale.objects.filter(site_id=actor.site_id, patient=patient, status__in=EDITABLE).order_by(
            "-started_at"
        )
    )
    context = {
        "patient": patient,
        "wc": found,
        "rows": rows,
        "own_rows": [r for r in rows if r["whose"] is None],
        "household_rows": [r for r in rows if r["whose"] is not None],
        "selectable": any(not r["blocked"] for r in rows),
        "errors": [m for msgs in errors.values() for m in msgs],
        "open_sales": [{"sale": s, "url": _next_step(s)} for s in open_sales],
    }
    return render(request, "pos/counter_patient.html", context, status=status)


# --- The pickup form ---------------------------------------------------------------------------


class PickupForm(RxForm):
    """Who takes the bags and how they were checked. Rules (the date of birth must match, a
    caregiver's relationship, the ID a controlled substance needs) are the service's."""

    person = forms.ChoiceField(
        choices=PickupPerson.choices,
        widget=forms.RadioSelect,
        label="Who is picking up",
        error_messages={"required": "Choose who is picking up."},
    )
    person_name = forms.CharField(
        max_length=120,
        label="Their name",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"required": "Type the name of the person picking up."},
    )
    relationship = text(
        40,
        label="Relationship to the patient",
        placeholder="daughter, husband, home nurse…",
        autocomplete="off",
    )
    date_of_birth = DateField(
        label="Patient's date of birth (ask; type what they say)",
        error_messages={
            "required": "Ask for the patient's date of birth and type it.",
            "invalid": "Type the date of birth as MM/DD/YYYY.",
        },
    )
    second_identifier = forms.ChoiceField(
        choices=[CHOOSE, *SecondIdentifier.choices],
        label="Second identifier checked",
        error_messages={"required": "Choose the second thing you checked (address, phone…)."},
    )
    counseling = forms.ChoiceField(
        choices=Counseling.choices,
        widget=forms.RadioSelect,
        label="Counseling offered",
        error_messages={"required": "Offer counseling and mark accepted or declined."},
    )
    privacy_notice_acknowledged = flag(
        "Gave the privacy notice (HIPAA) and the person acknowledged it",
        "None is on file for this patient.",
    )
    id_type = forms.ChoiceField(choices=[CHOOSE], required=False, label="ID type")
    id_number = text(30, label="ID number", autocomplete="off", spellcheck="false")
    id_state = text(2, label="Issued by (state)", placeholder="IL", autocomplete="off")
    id_expiry = DateField(required=False, label="ID expires")
    signature = forms.CharField(
        required=False, max_length=SIGNATURE_CHARS, widget=forms.HiddenInput
    )

    ID_FIELDS = ("id_type", "id_number", "id_state", "id_expiry")

    def __init__(
        self,
        *args: Any,
        needs_id: bool = False,
        privacy_on_file: bool = True,
        id_types: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.pop("autofocus", None)
        self.fields["date_of_birth"].widget.attrs["autofocus"] = True
        if privacy_on_file:
            del self.fields["privacy_notice_acknowledged"]
        if needs_id:
            id_field = self.fields["id_type"]
            assert isinstance(id_field, forms.ChoiceField)
            id_field.choices = [CHOOSE, *(id_types or IdType.choices)]
        else:
            for name in self.ID_FIELDS:
                del self.fields[name]

    @property
    def needs_id(self) -> bool:
        return "id_type" in self.fields

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        out: dict[str, Any] = {
            "person": data["person"],
            "person_name": " ".join(data["person_name"].split()),
            "relationship": " ".join((data.get("relationship") or "").split()),
            "date_of_birth": data["date_of_birth"],
            "second_identifier": data["second_identifier"],
            "counseling": data["counseling"],
            "signature": data.get("signature") or None,
            "privacy_notice_acknowledged": bool(data.get("privacy_notice_acknowledged")),
        }
        if self.needs_id:
            out |= {
                "id_type": data.get("id_type") or "",
                "id_number": (data.get("id_number") or "").strip(),
                "id_state": (data.get("id_state") or "").strip().upper(),
                "id_expiry": data.get("id_expiry"),
            }
        return out


PICKUP_ALIASES = {"sale": "", "fills": "", "status": "", "patient": ""}


def _id_types(sale: Sale) -> list[tuple[str, str]]:
    accepted = {t.strip() for t in settings_of(sale.site).cs_id_types.split(",") if t.strip()}
    return [(v, label) for v, label in IdType.choices if v in accepted] or list(IdType.choices)


@screen(methods=FORM)
def counter_pickup(request: HttpRequest, pk: int) -> HttpResponse:
    """Who picks up, the date of birth typed as they say it and a second identifier,
    counseling accepted or declined, the privacy notice when none is on file, the ID for a
    controlled substance, and the signature on the pad. Enter records it."""
    actor = actor_of(request)
    sale = _sale(request, pk)
    settled = sale.status != SaleStatus.OPEN or _pickup_of(sale) is not None
    if request.method == "GET" and (settled or not _rx_lines(sale)):
        return redirect(_next_step(sale))
    patient = sale.patient
    privacy_on_file = patient is None or patient.privacy_notice != ""
    form = PickupForm(
        posted(request),
        initial={"person": PickupPerson.PATIENT, "person_name": _name(patient)},
        needs_id=_needs_id(sale),
        privacy_on_file=privacy_on_file,
        id_types=_id_types(sale),
    )
    if request.method == "POST" and form.is_valid():
        try:
            recorded = pickup_services.pickup_record(actor=actor, sale=sale, **form.values())
        except FIELD_ERRORS as exc:
            bind(form, exc, PICKUP_ALIASES)
        else:
            if recorded.counseling == Counseling.ACCEPTED:
                messages.info(
                    request, "Pickup recorded. The pharmacist is asked to counsel the patient."
                )
                return redirect("counter_counsel", pk=sale.pk)
            messages.success(request, "Pickup recorded: counseling declined. Take the payment.")
            return redirect("counter_pay", pk=sale.pk)
    context = {
        "sale": sale,
        "patient": patient,
        "lines": _rx_lines(sale),
        "form": form,
        "cancel_url": reverse("counter_cancel", kwargs={"pk": sale.pk}),
    }
    return render(request, "pos/counter_pickup.html", context, status=form.http_status())


# --- Counseling --------------------------------------------------------------------------------


class CounselForm(RxForm):
    note = forms.CharField(
        max_length=2000,
        label="What was discussed",
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Write what you counseled the patient on."},
    )


@screen(methods=FORM)
def counter_counsel(request: HttpRequest, pk: int) -> HttpResponse:
    """Waiting for the pharmacist: the page asks again every 5 seconds and moves on to the
    payment once counseling is recorded. A pharmacist signed in here writes the note."""
    actor = actor_of(request)
    sale = _sale(request, pk)
    can_counsel = has(actor, Cap.POS_COUNSEL)
    form = CounselForm(posted(request))
    if request.method == "POST":
        require(actor, Cap.POS_COUNSEL)
        if form.is_valid():
            try:
                pickup_services.counseling_record(
                    actor=actor, sale=sale, note=form.cleaned_data["note"]
                )
            except FIELD_ERRORS as exc:
                bind(form, exc, {"sale": "", "status": ""})
            else:
                messages.success(request, "Counseling recorded. Take the payment.")
                return redirect("counter_pay", pk=sale.pk)
    elif sale.status != SaleStatus.AWAITING_COUNSEL:
        target = _next_step(sale)
        if is_partial(request):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)
    elif is_partial(request):
        return render(request, "pos/_counter_waiting.html", {"sale": sale})
    context = {
        "sale": sale,
        "patient": sale.patient,
        "lines": _rx_lines(sale),
        "pickup": _pickup_of(sale),
        "form": form,
        "can_counsel": can_counsel,
    }
    return render(request, "pos/counter_counsel.html", context, status=form.http_status())


# --- The sale: items and payment ---------------------------------------------------------------


class ItemForm(RxForm):
    code = forms.CharField(
        max_length=120,
        label="Scan an item",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": "scan the UPC, or type the NDC and Enter",
                "data-scan": True,
            }
        ),
        error_messages={"required": "Scan the item's barcode or type its NDC."},
    )
    quantity = forms.IntegerField(
        min_value=1,
        max_value=99,
        initial=1,
        label="How many",
        error_messages={
            "required": "Type how many (1 to 99).",
            "invalid": "Type how many (1 to 99).",
            "min_value": "Type how many (1 to 99).",
            "max_value": "Type how many (1 to 99).",
        },
    )
    price = text(12, label="Price (only when none is on file)", inputmode="decimal")


def _money_field(label: str) -> forms.CharField:
    return text(12, label=label, inputmode="decimal", autocomplete="off", placeholder="0.00")


class PayForm(RxForm):
    """One row per way to pay; the amounts split the total. Only the last four digits of a
    card are ever typed (the terminal does the rest: card networks are not in rxdesk)."""

    cash_amount = _money_field("Cash")
    cash_tendered = _money_field("Handed over")
    card_amount = _money_field("Card")
    card_last4 = text(4, label="Last four", inputmode="numeric", autocomplete="off")
    card_approval = text(12, label="Approval code", autocomplete="off")
    fsa_amount = _money_field("FSA/HSA card")
    fsa_last4 = text(4, label="Last four", inputmode="numeric", autocomplete="off")
    fsa_approval = text(12, label="Approval code", autocomplete="off")
    house_amount = _money_field("House account")
    house_account = text(20, label="Account number", autocomplete="off")
    check_amount = _money_field("Check")
    check_number = text(20, label="Check number", autocomplete="off")

    ROWS = (
        ("cash", TenderKind.CASH, ("cash_tendered",)),
        ("card", TenderKind.CARD, ("card_last4", "card_approval")),
        ("fsa", TenderKind.FSA_HSA, ("fsa_last4", "fsa_approval")),
        ("house", TenderKind.HOUSE, ("house_account",)),
        ("check", TenderKind.CHECK, ("check_number",)),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cash_amount"].widget.attrs.pop("autofocus", None)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "key": key,
                "label": kind.label,
                "amount": self[f"{key}_amount"],
                "extra": [self[n] for n in extra],
            }
            for key, kind, extra in self.ROWS
        ]

    def _money(self, name: str) -> Decimal | None:
        raw = (self.cleaned_data.get(name) or "").strip()
        if not raw:
            return None
        try:
            return parse_money(raw, name, allow_zero=False)
        except Invalid as exc:
            self.add_error(name, exc.message)
            return None

    def aliases(self) -> dict[str, str]:
        """The sales service's names of the tender fields ("tenders.0.amount") as ours."""
        out = dict(PAY_ALIASES)
        for i, key in enumerate(getattr(self, "keys", [])):
            reference = {"card": "card_last4", "fsa": "fsa_last4", "check": "check_number"}
            out |= {
                f"tenders.{i}.amount": f"{key}_amount",
                f"tenders.{i}.tendered": "cash_tendered",
                f"tenders.{i}.reference": reference.get(key, ""),
                f"tenders.{i}.account": "house_account",
                f"tenders.{i}.kind": "",
            }
        return out

    def tenders(self, actor: User) -> list[Any]:
        """The tenders typed, as the sales service takes them (adds errors to the form)."""
        out: list[Any] = []
        self.keys: list[str] = []
        for key, kind, _extra in self.ROWS:
            amount = self._money(f"{key}_amount")
            if amount is None:
                continue
            tender = self._tender(actor, key, kind, amount)
            if tender is not None:
                out.append(tender)
                self.keys.append(key)
        return out

    def _tender(self, actor: User, key: str, kind: str, amount: Decimal) -> Any:
        data = self.cleaned_data
        TenderIn = sale_services.TenderIn
        if kind == TenderKind.CASH:
            return TenderIn(kind=kind, amount=amount, tendered=self._money("cash_tendered"))
        if kind in (TenderKind.CARD, TenderKind.FSA_HSA):
            last4 = (data.get(f"{key}_last4") or "").strip()
            approval = (data.get(f"{key}_approval") or "").strip()
            if not (len(last4) == 4 and last4.isdigit()):
                self.add_error(f"{key}_last4", "Type the card's last four digits.")
                return None
            if not approval:
                self.add_error(f"{key}_approval", "Type the approval code from the terminal.")
                return None
            return TenderIn(kind=kind, amount=amount, reference=f"{last4} {approval}")
        if kind == TenderKind.HOUSE:
            number = (data.get("house_account") or "").strip()
            account = (
                HouseAccount.objects.filter(site_id=actor.site_id, number=number).first()
                if number
                else None
            )
            if account is None:
                self.add_error(
                    "house_account",
                    f"No house account numbered {number} here."
                    if number
                    else "Type the house account number.",
                )
                return None
            return TenderIn(kind=kind, amount=amount, account=account)
        number = (data.get("check_number") or "").strip()
        if not number:
            self.add_error("check_number", "Type the check number.")
            return None
        return TenderIn(kind=kind, amount=amount, reference=number)


# The sales service names its fields by the tender; shown above the form when not one of ours.
PAY_ALIASES = {
    "tenders": "",
    "sale": "",
    "status": "",
    "amount": "",
    "tendered": "cash_tendered",
    "reference": "",
    "account": "house_account",
    "drawer": "",
    "pickup": "",
}


def _pay_context(request: HttpRequest, sale: Sale, **extra: Any) -> dict[str, Any]:
    lines = _lines(sale)
    pickup = _pickup_of(sale)
    fsa_total = sum(
        (line.amount + line.tax for line in lines if line.fsa_eligible), Decimal("0.00")
    )
    return {
        "sale": sale,
        "patient": sale.patient,
        "lines": lines,
        "pickup": pickup,
        "needs_pickup": any(line.kind == LineKind.RX for line in lines) and pickup is None,
        "fsa_total": fsa_total,
        "pse_url": _url("pse_sale", f"/pos/sales/{sale.pk}/pse/", pk=sale.pk),
        "can_pse": has(actor_of(request), Cap.POS_PSE_SELL),
        "item_form": extra.pop("item_form", None) or ItemForm(),
        "pay_form": extra.pop("pay_form", None) or PayForm(initial={"cash_amount": sale.total}),
        **extra,
    }


@screen(methods=FORM)
def counter_pay(request: HttpRequest, pk: int) -> HttpResponse:
    """The sale: its lines, a scan box for OTC items, the tenders, and Complete sale."""
    actor = actor_of(request)
    sale = _sale(request, pk)
    if sale.status != SaleStatus.OPEN:
        return redirect(_next_step(sale))
    form = PayForm(posted(request), initial={"cash_amount": sale.total})
    if request.method == "POST" and form.is_valid():
        tenders = form.tenders(actor)
        if not form.errors:
            if not tenders and sale.total > 0:
                form.add_error(None, "Type how the customer pays (cash, card, …).")
            else:
                try:
                    done = sale_services.sale_pay(actor=actor, sale=sale, tenders=tenders)
                except FIELD_ERRORS as exc:
                    bind(form, exc, form.aliases())
                else:
                    messages.success(request, f"Sale {done.receipt_number} is complete.")
                    return redirect("counter_done", pk=sale.pk)
    context = _pay_context(request, sale, pay_form=form)
    return render(request, "pos/counter_pay.html", context, status=form.http_status())


@screen(methods=("POST",))
def counter_item(request: HttpRequest, pk: int) -> HttpResponse:
    """Add an OTC item by its barcode (a scanner types the code and Enter)."""
    actor = actor_of(request)
    sale = _sale(request, pk)
    form = ItemForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            price = parse_money(data["price"], "price") if data.get("price") else None
            line = sale_services.sale_add_item(
                actor=actor, sale=sale, code=data["code"], quantity=data["quantity"], price=price
            )
        except FIELD_ERRORS as exc:
            bind(form, exc, {"sale": "", "status": "", "package": "code", "product": "code"})
        else:
            messages.success(request, f"Added {line.description} × {data['quantity']}.")
            return redirect("counter_pay", pk=sale.pk)
    sale.refresh_from_db()
    context = _pay_context(request, sale, item_form=form)
    return render(request, "pos/counter_pay.html", context, status=form.http_status())


@screen(methods=("POST",))
def counter_remove_line(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    """Take a line off an unpaid sale (a prescription goes back to its will-call bin)."""
    actor = actor_of(request)
    sale = _sale(request, pk)
    line = SaleLine.objects.filter(sale=sale, pk=line_pk).first() if line_pk <= MAX_ID else None
    if line is None:
        raise NotFound("No such line on this sale.")
    try:
        sale_services.sale_remove_line(actor=actor, sale=sale, line=line)
    except FIELD_ERRORS as exc:
        messages.error(request, f"Not removed: {exc.message}")
    else:
        messages.success(request, f"Removed {line.description}.")
    return redirect("counter_pay", pk=sale.pk)


@screen(methods=("POST",))
def counter_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel an unpaid sale (the bags stay in will-call)."""
    actor = actor_of(request)
    sale = _sale(request, pk)
    reason = " ".join(request.POST.get("reason", "").split())[:300]
    try:
        sale_services.sale_cancel(actor=actor, sale=sale, reason=reason)
    except FIELD_ERRORS as exc:
        messages.error(request, f"The sale was not cancelled: {exc.message}")
        return redirect(_next_step(sale))
    messages.success(request, f"Sale {sale.receipt_number} cancelled; the bags stay in will-call.")
    return redirect("counter")


@screen
def counter_done(request: HttpRequest, pk: int) -> HttpResponse:
    """The sale is paid: the change to give, the receipt, the next customer."""
    sale = _sale(request, pk)
    if sale.status != SaleStatus.COMPLETED:
        return redirect(_next_step(sale))
    context = {
        "sale": sale,
        "patient": sale.patient,
        "lines": _lines(sale),
        "tenders": list(sale.tenders.select_related("account").order_by("pk")),
        "pickup": _pickup_of(sale),
        "receipt_pdf": _url(
            "pos_sale_receipt_pdf", f"/pos/sales/{sale.pk}/receipt.pdf", pk=sale.pk
        ),
        "receipt_text": _url("pos_sale_receipt", f"/pos/sales/{sale.pk}/receipt/", pk=sale.pk),
        "detail_url": _url("pos_sale", "", pk=sale.pk),
    }
    return render(request, "pos/counter_done.html", context)


urlpatterns = [
    path("", counter, name="counter"),
    path("new-sale/", counter_new_sale, name="counter_new_sale"),
    path("patients/<int:pk>/", counter_patient, name="counter_patient"),
    path("sales/<int:pk>/pickup/", counter_pickup, name="counter_pickup"),
    path("sales/<int:pk>/counsel/", counter_counsel, name="counter_counsel"),
    path("sales/<int:pk>/pay/", counter_pay, name="counter_pay"),
    path("sales/<int:pk>/pay/items/", counter_item, name="counter_item"),
    path(
        "sales/<int:pk>/pay/lines/<int:line_pk>/remove/",
        counter_remove_line,
        name="counter_remove_line",
    ),
    path("sales/<int:pk>/pay/cancel/", counter_cancel, name="counter_cancel"),
    path("sales/<int:pk>/done/", counter_done, name="counter_done"),
]
