"""Workstation pages of the controlled-substance records: audits. Parse, call, render."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
