"""Screens of the point of sale (sales): the cash drawer (open and count), a sale with its
receipt and the pharmacist's void and refund, house accounts, the day's report with the
controlled-substance pickups, and the counter settings. Parse, call a service or query,
render: who may do what is the services' decision; the screens hide what a role may not
do and check the capability first, so a refused role gets 403 and nothing is read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, flag, text
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.pos import queries
from rxdesk.pos.choices import IdType, TenderKind
from rxdesk.pos.models import Sale
from rxdesk.pos.services import accounts, drawers, sales
from rxdesk.pos.services.common import settings_of

MONEY = {"max_digits": 7, "decimal_places": 2, "min_value": 0}


def _money(label: str, *, required: bool = True, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        **MONEY,  # type: ignore[arg-type]
    )


# --- Forms ------------------------------------------------------------------------------------


class DrawerOpenForm(RxForm):
    opening_cash = _money("Cash counted into the drawer")
    register = text(30, label="Register", placeholder="Register 1")


class DrawerCloseForm(RxForm):
    counted_cash = _money("Cash counted")
    counted_checks = _money("Checks counted", required=False)
    note = text(300, label="Note (over or short)", autocomplete="off")


class RefundForm(RxForm):
    reason = text(300, required=True, label="Why", autocomplete="off")
    tender_kind = forms.ChoiceField(
        label="Give back as",
        choices=[
            (TenderKind.CASH, "Cash"),
            (TenderKind.CARD, "To the card"),
            (TenderKind.FSA_HSA, "To the FSA/HSA card"),
            (TenderKind.HOUSE, "Credit to the house account"),
        ],
    )


class AccountForm(RxForm):
    FIELDSETS = (
        ("Account", ("number", "name", "credit_limit")),
        ("Billing address", ("address_line1", "address_line2", "city", "state", "postal_code")),
    )
    number = text(20, required=True, label="Account number", autocomplete="off")
    name = text(120, required=True, label="Name on the account")
    credit_limit = _money("Credit limit")
    address_line1 = text(120, label="Address")
    address_line2 = text(120, label="Address, line 2")
    city = text(80)
    state = text(2, placeholder="IL")
    postal_code = text(10, label="ZIP code")


class PaymentForm(RxForm):
    amount = _money("Amount paid")
    kind = forms.ChoiceField(
        label="Paid by",
        choices=[(TenderKind.CASH, "Cash"), (TenderKind.CHECK, "Check"), (TenderKind.CARD, "Card")],
    )
    reference = text(40, label="Check number, or card last four + approval", autocomplete="off")


class SettingsForm(RxForm):
    FIELDSETS = (
        (
            "Controlled substances at pickup",
            ("cs_id_schedules", "cs_id_types", "cs_id_record_number", "cs_id_record_expiry"),
        ),
        (
            "Pseudoephedrine and ephedrine (CMEA)",
            ("pse_daily_mg", "pse_30day_mg", "pse_30day_mail_mg", "pse_minimum_age"),
        ),
        ("Register", ("tax_percent", "drawer_tolerance")),
    )
    cs_id_schedules = text(20, label="Schedules needing ID (e.g. 2,3)")
    cs_id_types = forms.MultipleChoiceField(
        label="ID types accepted", choices=IdType.choices, widget=forms.CheckboxSelectMultiple
    )
    cs_id_record_number = flag("Record the ID number")
    cs_id_record_expiry = flag("Record the ID expiry")
    pse_daily_mg = forms.DecimalField(
        label="PSE per purchaser per day (mg base)", max_digits=7, decimal_places=1, min_value=0
    )
    pse_30day_mg = forms.DecimalField(
        label="PSE per purchaser per 30 days (mg base)", max_digits=7, decimal_places=1, min_value=0
    )
    pse_30day_mail_mg = forms.DecimalField(
        label="PSE by mail per 30 days (mg base)", max_digits=7, decimal_places=1, min_value=0
    )
    pse_minimum_age = forms.IntegerField(
        label="Minimum PSE purchaser age (0 = none)", min_value=0, max_value=25
    )
    tax_percent = forms.DecimalField(
        label="Sales tax on OTC items (%)", max_digits=6, decimal_places=3, min_value=0
    )
    drawer_tolerance = _money("Drawer over/short allowed without a pharmacist")


class ReportForm(RxForm):
    date = DateField(label="Day", required=False)


# --- Drawer -----------------------------------------------------------------------------------


@screen(methods=FORM)
def drawer(request: HttpRequest) -> HttpResponse:
    """Open the register's drawer with its count, or count and close the open one."""
    actor = actor_of(request)
    require(actor, Cap.POS_DRAWER)
    register = " ".join(request.GET.get("register", "").split())[:30] or "Register 1"
    current = drawers.drawer_for(actor=actor, register=register)
    data = posted(request)
    if current is None:
        form: RxForm = DrawerOpenForm(data, initial={"register": register})
        if data is not None and form.is_valid():
            try:
                opened = drawers.drawer_open(
                    actor=actor,
                    opening_cash=form.cleaned_data["opening_cash"],
                    register=form.cleaned_data["register"] or register,
                )
            except FIELD_ERRORS as exc:
                bind_errors(form, exc)
            else:
                messages.success(request, f"{opened.register}'s drawer is open.")
                return redirect(f"{reverse('pos_drawer')}?register={opened.register}")
    else:
        form = DrawerCloseForm(data)
        if data is not None and form.is_valid():
            try:
                closed = drawers.drawer_close(
                    actor=actor,
                    drawer=current,
                    counted_cash=form.cleaned_data["counted_cash"],
                    counted_checks=form.cleaned_data["counted_checks"] or "0",
                    note=form.cleaned_data["note"],
                )
            except FIELD_ERRORS as exc:
                bind_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"{closed.register}'s drawer is closed: over/short ${closed.over_short}.",
                )
                return redirect(f"{reverse('pos_drawer')}?register={closed.register}")
    expected = drawers.drawer_expected(current) if current is not None else None
    context = {"form": form, "drawer": current, "expected": expected, "register": register}
    return render(request, "pos/drawer_form.html", context, status=form.http_status())


# --- A sale -----------------------------------------------------------------------------------


def _sale(request: HttpRequest, pk: int) -> Sale:
    return queries.sale_get(actor=actor_of(request), sale_id=pk)


@screen
def sale_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A sale: its lines, payments and refunds, the receipt, and (for a pharmacist) the
    void and refund buttons."""
    actor = actor_of(request)
    require(actor, Cap.RX_SELL)
    sale = _sale(request, pk)
    lines = list(sale.lines.select_related("fill__prescription", "package").order_by("pk"))
    context = {
        "sale": sale,
        "lines": lines,
        "tenders": list(sale.tenders.select_related("account", "taken_by").order_by("pk")),
        "refunds": list(sale.refunds.select_related("refunded_by").order_by("pk")),
        "eligible": sum((ln.amount + ln.tax for ln in lines if ln.fsa_eligible), Decimal("0")),
        "may_refund": has(actor, Cap.POS_REFUND) and sale.status == "completed" and lines,
        "refund_form": RefundForm(),
    }
    return render(request, "pos/sales_detail.html", context)


def _back(pk: int) -> HttpResponse:
    return redirect(reverse("pos_sale", kwargs={"pk": pk}))


@screen(methods=("POST",))
def sale_void(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.POS_REFUND)
    sale = _sale(request, pk)
    try:
        sales.sale_void(actor=actor, sale=sale, reason=request.POST.get("reason", ""))
    except FIELD_ERRORS as exc:
        messages.error(request, f"Sale {sale.receipt_number} is not voided: {exc.message}")
    else:
        messages.success(request, f"Sale {sale.receipt_number} is voided; give the money back.")
    return _back(pk)


def _refund_lines(request: HttpRequest) -> list[tuple[int, Any]]:
    """``qty_<line id>`` fields with a quantity typed."""
    picked = []
    for key in request.POST:
        value = str(request.POST.get(key, "")).strip()
        if key.startswith("qty_") and key[4:].isdigit() and value:
            picked.append((int(key[4:]), value))
    return picked


@screen(methods=("POST",))
def sale_refund(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.POS_REFUND)
    sale = _sale(request, pk)
    try:
        refund = sales.sale_refund(
            actor=actor,
            sale=sale,
            lines=_refund_lines(request),
            reason=request.POST.get("reason", ""),
            tender_kind=request.POST.get("tender_kind", TenderKind.CASH),
        )
    except FIELD_ERRORS as exc:
        messages.error(request, f"Nothing refunded: {exc.message}")
    else:
        messages.success(request, f"Refunded ${refund.amount} on sale {sale.receipt_number}.")
    return _back(pk)


@screen
def sale_receipt_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    from rxdesk.pos.receipts import receipt_pdf

    require(actor_of(request), Cap.RX_SELL)
    sale = _sale(request, pk)
    response = HttpResponse(receipt_pdf(sale), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{sale.receipt_number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@screen
def sale_receipt(request: HttpRequest, pk: int) -> HttpResponse:
    """The receipt as a printable page (40 columns of text)."""
    from rxdesk.pos.receipts import receipt_text

    require(actor_of(request), Cap.RX_SELL)
    sale = _sale(request, pk)
    return render(request, "pos/sales_receipt.html", {"sale": sale, "text": receipt_text(sale)})


# --- House accounts ---------------------------------------------------------------------------


@screen(methods=FORM)
def account_list(request: HttpRequest) -> HttpResponse:
    """The house accounts with their balances; a pharmacist opens new ones here."""
    actor = actor_of(request)
    require(actor, Cap.RX_SELL)
    data = posted(request)
    if data is not None:
        require(actor, Cap.POS_ACCOUNTS)
    form = AccountForm(data, initial={"credit_limit": "500.00"})
    if data is not None and form.is_valid():
        try:
            account = accounts.house_account_create(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Account {account.number} is open.")
            return redirect(reverse("pos_account", kwargs={"pk": account.pk}))
    context = {
        "accounts": queries.house_accounts(actor=actor),
        "form": form,
        "may_create": has(actor, Cap.POS_ACCOUNTS),
    }
    return render(request, "pos/account_list.html", context, status=form.http_status())


@screen(methods=FORM)
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An account: balance, entries, a payment form and the monthly statements."""
    actor = actor_of(request)
    require(actor, Cap.RX_SELL)
    account = queries.house_account_get(actor=actor, account_id=pk)
    data = posted(request)
    form = PaymentForm(data)
    if data is not None and form.is_valid():
        try:
            entry = accounts.house_payment(actor=actor, account=account, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Payment of ${-entry.amount} taken on {account.number}.")
            return redirect(reverse("pos_account", kwargs={"pk": account.pk}))
    today = account.site.today()
    months = []
    year, month = today.year, today.month
    for _ in range(6):
        months.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    context = {
        "account": account,
        "balance": accounts.house_account_balance(account),
        "entries": list(
            account.entries.select_related("sale", "recorded_by").order_by("-recorded_at")[:100]
        ),
        "form": form,
        "months": months,
    }
    return render(request, "pos/account_detail.html", context, status=form.http_status())


@screen
def account_statement(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.RX_SELL)
    account = queries.house_account_get(actor=actor, account_id=pk)
    today = account.site.today()
    year = request.GET.get("year") or today.year
    month = request.GET.get("month") or today.month
    pdf = accounts.house_statement_pdf(account, year, month)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="statement-{account.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- Reports ----------------------------------------------------------------------------------


def _day(request: HttpRequest, actor: User) -> dt.date:
    form = ReportForm(request.GET or None)
    if form.is_bound and form.is_valid() and form.cleaned_data["date"]:
        return form.cleaned_data["date"]
    assert actor.site is not None
    return actor.site.today()


@screen
def report_daily(request: HttpRequest) -> HttpResponse:
    """The day at the counter and its controlled-substance pickups."""
    actor = actor_of(request)
    require(actor, Cap.POS_REPORT)
    day = _day(request, actor)
    report = queries.daily_sales(actor=actor, day=day)
    pickups = queries.cs_pickups(actor=actor, day=day)
    context = {
        "report": report,
        "pickups": pickups,
        "day": day,
        "form": ReportForm(initial={"date": day}),
        "query": f"date={day.strftime('%m/%d/%Y')}",
    }
    return render(request, "pos/report_daily.html", context)


def _csv(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@screen
def report_daily_csv(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.POS_REPORT)
    day = _day(request, actor)
    return _csv(
        queries.daily_sales_csv(queries.daily_sales(actor=actor, day=day)), f"day-{day}.csv"
    )


@screen
def report_cs_csv(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.POS_REPORT)
    day = _day(request, actor)
    assert actor.site is not None
    rows = queries.cs_pickups(actor=actor, day=day)
    return _csv(queries.cs_pickups_csv(actor.site, rows), f"cs-pickups-{day}.csv")


# --- Settings ---------------------------------------------------------------------------------


@screen(methods=FORM)
def pos_settings(request: HttpRequest) -> HttpResponse:
    """The counter rules (PIC): CS ID at pickup, PSE limits, tax, drawer tolerance."""
    actor = actor_of(request)
    require(actor, Cap.SITE_EDIT)
    assert actor.site is not None
    row = settings_of(actor.site)
    initial = {name: getattr(row, name) for name in SettingsForm.base_fields}
    initial["cs_id_types"] = [t for t in row.cs_id_types.split(",") if t]
    form = SettingsForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            drawers.pos_settings_save(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The counter rules are saved.")
            return redirect("pos_settings")
    return render(request, "pos/sales_settings.html", {"form": form}, status=form.http_status())


urlpatterns = [
    path("drawer/", drawer, name="pos_drawer"),
    path("sales/<int:pk>/", sale_detail, name="pos_sale"),
    path("sales/<int:pk>/void/", sale_void, name="pos_sale_void"),
    path("sales/<int:pk>/refund/", sale_refund, name="pos_sale_refund"),
    path("sales/<int:pk>/receipt.pdf", sale_receipt_pdf, name="pos_sale_receipt_pdf"),
    path("sales/<int:pk>/receipt/", sale_receipt, name="pos_sale_receipt"),
    path("accounts/", account_list, name="pos_accounts"),
    path("accounts/<int:pk>/", account_detail, name="pos_account"),
    path("accounts/<int:pk>/statement.pdf", account_statement, name="pos_account_statement"),
    path("reports/daily/", report_daily, name="pos_report_daily"),
    path("reports/daily.csv", report_daily_csv, name="pos_report_daily_csv"),
    path("reports/cs-pickups.csv", report_cs_csv, name="pos_report_cs_csv"),
    path("settings/", pos_settings, name="pos_settings"),
]
