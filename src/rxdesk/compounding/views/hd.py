"""Workstation pages of compounding: hd. Parse, call, render."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
