"""Workstation screens of institutional pharmacy: packaging."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
