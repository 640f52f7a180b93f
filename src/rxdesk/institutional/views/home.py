"""The institutional home page: long-term care (facilities, census, cycle fills,
packaging) and the dispensing cabinets, with what needs doing. Reads only (a handful of
counts); a part the user may not see is left out."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils import timezone

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden
from rxdesk.core.views import actor_of, screen
from rxdesk.institutional.choices import (
    CabinetEvent,
    CycleRunStatus,
    DiscrepancyStatus,
    PackagingStatus,
)
from rxdesk.institutional.models import (
    CabinetDiscrepancy,
    CabinetMove,
    CycleRun,
    MedPak,
    Pocket,
    RepackRecord,
)


@screen
def institutional_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    ltc, adc = has(actor, Cap.LTC_VIEW), has(actor, Cap.ADC_VIEW)
    if not (ltc or adc):
        raise Forbidden("Your role does not include long-term care or the dispensing cabinets.")
    site = actor.site
    context: dict[str, Any] = {"today": site.today(), "ltc": ltc, "adc": adc}
    if ltc:
        context.update(
            runs_open=CycleRun.objects.filter(site=site, status=CycleRunStatus.OPEN).count(),
            repacks_waiting=RepackRecord.objects.filter(
                site=site, status=PackagingStatus.MADE
            ).count(),
            paks_waiting=MedPak.objects.filter(site=site, status=PackagingStatus.MADE).count(),
        )
    if adc:
        open_ = CabinetDiscrepancy.objects.filter(site=site, status=DiscrepancyStatus.OPEN)
        context.update(
            pockets_low=Pocket.objects.filter(
                cabinet__site=site, active=True, on_hand__lte=F("minimum")
            ).count(),
            discrepancies_open=open_.count(),
            discrepancies_overdue=open_.filter(due_at__lt=timezone.now()).count(),
            overrides_waiting=CabinetMove.objects.filter(
                site=site, event=CabinetEvent.REMOVAL, override=True, review__isnull=True
            ).count(),
        )
    return render(request, "institutional/home.html", context)


urlpatterns: list[URLPattern] = [
    path("", institutional_home, name="institutional_home"),
]
