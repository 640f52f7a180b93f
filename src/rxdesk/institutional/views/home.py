"""The institutional home page: long-term care (facilities, census, cycle fills,
packaging) and the dispensing cabinets, with what needs doing. Reads only; a part the user
may not see is left out."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden
from rxdesk.core.views import actor_of, screen


@screen
def institutional_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    ltc, adc = has(actor, Cap.LTC_VIEW), has(actor, Cap.ADC_VIEW)
    if not (ltc or adc):
        raise Forbidden("Your role does not include long-term care or the dispensing cabinets.")
    context = {"today": actor.site.today(), "ltc": ltc, "adc": adc}
    return render(request, "institutional/home.html", context)


urlpatterns: list[URLPattern] = [
    path("", institutional_home, name="institutional_home"),
]
