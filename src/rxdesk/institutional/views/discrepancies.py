"""Workstation screens of institutional pharmacy: discrepancies."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
