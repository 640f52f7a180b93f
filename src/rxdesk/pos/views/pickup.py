"""Screens of the point of sale (pickup). Parse, call a service or query, render."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
