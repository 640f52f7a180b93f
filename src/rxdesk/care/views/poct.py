"""Workstation screens of Point-of-care tests (CLIA-waived) and the site's testing settings."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
