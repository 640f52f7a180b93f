"""Workstation screens of the vaccine catalog (CVX, MVX, NDC crosswalk, VIS) and vaccine stock
by funding source."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
