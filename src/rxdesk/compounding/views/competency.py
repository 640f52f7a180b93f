"""Workstation pages of compounding: competency. Parse, call, render."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
