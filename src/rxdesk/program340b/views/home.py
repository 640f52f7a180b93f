"""340B program: the home page (the entity, packages due per NDC, recent decisions) and
the "Capture now" button."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import FIELD_ERRORS
from rxdesk.core.views import actor_of, screen
from rxdesk.program340b import queries, rules, services


@screen
def p340b_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.P340B_VIEW)
    entity = queries.entity(actor=actor)
    context = {
        "today": actor.site.today(),
        "entity": entity,
        "entity_type": rules.ENTITY_TYPES.get(entity.entity_type, "") if entity else "",
        "lines": queries.inventory(actor=actor),
        "recent": queries.decisions(actor=actor),
        "may_order": has(actor, Cap.P340B_ORDER),
        "may_setup": has(actor, Cap.P340B_SETUP),
    }
    return render(request, "program340b/home.html", context)


@screen(methods=("POST",))
def p340b_capture(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.P340B_ORDER)
    try:
        result = services.p340b_capture(actor=actor)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, result.summary())
    return redirect("p340b_home")


urlpatterns: list[URLPattern] = [
    path("", p340b_home, name="p340b_home"),
    path("capture/", p340b_capture, name="p340b_capture"),
]
