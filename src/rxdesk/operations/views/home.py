"""Duty, cleaning, waste and equipment: the home page and the duty screen.

- ``operations_home``: who is on duty now (names, roles, since), the ratio line, my Sign on
  / Sign off button, cleaning due now with a one-key "done", open downtime and maintenance
  due, the latest waste rows;
- ``operations_duty``: the duty board, signing on or off, and the over-ratio warning with
  its acknowledge form; today's shifts;
- ``operations_duty_end``: the PIC signs off someone who forgot (with the reason)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Forbidden
from rxdesk.core.forms import FIELD_ERRORS, RxForm, bind_errors, flag, text
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.operations import queries, services_duty
from rxdesk.operations.services_duty import OverRatio

SIGN_ACTIONS = [("on", "Sign on"), ("off", "Sign off")]
HOME_WASTE_ROWS = 5


class DutyForm(RxForm):
    action = forms.ChoiceField(choices=SIGN_ACTIONS, widget=forms.HiddenInput)
    acknowledge_over_ratio = flag("I have read the warning and go on; the PIC will see it")
    reason = text(services_duty.REASON_MAX, label="Why (recorded)", autocomplete="off")


class EndShiftForm(RxForm):
    reason = text(
        services_duty.REASON_MAX, required=True, label="Why you sign them off", autocomplete="off"
    )


@screen
def operations_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not any(has(actor, cap) for cap in (Cap.DUTY_VIEW, Cap.OPS_VIEW)):
        raise Forbidden("Your role does not include duty, cleaning, waste and equipment.")
    context: dict[str, Any] = {
        "today": actor.site.today(),
        "board": queries.duty_board(actor=actor) if has(actor, Cap.DUTY_VIEW) else None,
        "may_sign": has(actor, Cap.DUTY_SIGN),
        "may_log": has(actor, Cap.OPS_LOG),
        "may_setup": has(actor, Cap.OPS_SETUP),
    }
    if has(actor, Cap.OPS_VIEW):
        context["cleaning"] = [d for d in queries.cleaning_due(actor=actor) if d.status != "done"]
        context["equipment"] = [
            s
            for s in queries.equipment_board(actor=actor)
            if s.open_downtime or s.maintenance_overdue
        ]
        context["waste"] = list(queries.waste_log(actor=actor)[:HOME_WASTE_ROWS])
    return render(request, "operations/home.html", context)


@screen(methods=FORM)
def operations_duty(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if request.method == "POST":
        require(actor, Cap.DUTY_SIGN)
    form = DutyForm(posted(request))
    warning: OverRatio | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        sign = services_duty.duty_sign_on if data["action"] == "on" else services_duty.duty_sign_off
        try:
            shift = sign(
                actor=actor,
                acknowledge_over_ratio=data["acknowledge_over_ratio"],
                reason=data["reason"],
            )
        except OverRatio as exc:
            warning = exc
            form.error_status = exc.status
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            if data["action"] == "on":
                flagged = " (past the ratio: recorded)" if shift.over_ratio else ""
                messages.success(request, f"You are on duty{flagged}.")
            else:
                messages.success(request, "You are signed off.")
            return redirect("operations_home")
    board = queries.duty_board(actor=actor)
    status = warning.status if warning else form.http_status()
    context = {
        "board": board,
        "form": form,
        "warning": warning,
        "action": form.data.get("action") if form.is_bound else ("off" if board.mine else "on"),
        "may_sign": has(actor, Cap.DUTY_SIGN),
        "may_setup": has(actor, Cap.OPS_SETUP),
        "today_shifts": list(queries.shift_log(actor=actor, start=actor.site.today())),
        "end_form": EndShiftForm(),
    }
    return render(request, "operations/duty.html", context, status=status)


@screen(methods=("POST",))
def operations_duty_end(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.OPS_SETUP)
    shift = queries.shift_get(actor=actor, shift_id=pk)
    form = EndShiftForm(request.POST)
    if form.is_valid():
        try:
            services_duty.duty_end_for(actor=actor, shift=shift, reason=form.cleaned_data["reason"])
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{shift.person.display_name} is signed off.")
            return redirect("operations_duty")
    return render(
        request,
        "operations/duty_end.html",
        {"shift": shift, "end_form": form},
        status=form.http_status(),
    )


urlpatterns: list[URLPattern] = [
    path("", operations_home, name="operations_home"),
    path("duty/", operations_duty, name="operations_duty"),
    path("duty/<int:pk>/end/", operations_duty_end, name="operations_duty_end"),
]
