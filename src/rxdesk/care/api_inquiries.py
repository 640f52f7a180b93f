"""API of Inquiries: calls and messages with prescribers and patients, callbacks, escalation."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["care: inquiries"])
