"""Reads of Inquiries: calls and messages with prescribers and patients, callbacks, escalation."""

from __future__ import annotations
