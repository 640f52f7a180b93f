"""Workstation screens of administering a vaccine: screening, consent, VIS, the scanned dose,
the ledger move; historical doses; corrections."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
