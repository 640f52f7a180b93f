"""Workstation screens of inquiries: calls and messages with prescribers and patients,
callbacks, escalation."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
