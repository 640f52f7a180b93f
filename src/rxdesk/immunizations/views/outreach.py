"""Workstation screens of Patients due for vaccines by age and history."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
