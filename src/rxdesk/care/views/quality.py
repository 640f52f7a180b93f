"""Workstation screens of safety events, medication errors (NCC MERP), adverse drug event
reports (MedWatch 3500), root-cause analysis, action items, trends."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
