"""Workstation screens of Counseling records and clinical interventions."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
