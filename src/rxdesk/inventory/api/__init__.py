"""The inventory API at /api/v1/inventory/…: one router per part of the stock room."""

from __future__ import annotations

from ninja import Router

from rxdesk.inventory.api import coldchain, counts, recalls, receiving, stock

router = Router()
for _part in (stock, receiving, counts, recalls, coldchain):
    router.add_router("", _part.router)
