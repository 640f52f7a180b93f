"""Workstation pages of compounding: formulas. Parse, call, render."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
