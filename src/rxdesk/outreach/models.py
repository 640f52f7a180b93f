"""Outreach: tables (filled in by issue 14)."""

from __future__ import annotations
