"""Workstation screens of reporting to the state registry (IIS): VXU messages, MLLP sending,
ACKs, retries, deadlines, batch files; the site's registry settings."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
