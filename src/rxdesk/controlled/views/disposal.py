"""Workstation pages of the controlled-substance records: disposal. Parse, call, render."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
