"""Workstation screens of institutional pharmacy: cabinets."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
