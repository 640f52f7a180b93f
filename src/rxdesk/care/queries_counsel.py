"""Reads of Counseling records and clinical interventions."""

from __future__ import annotations
