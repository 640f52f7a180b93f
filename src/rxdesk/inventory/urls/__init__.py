"""Workstation screens under /inventory/. URL names are global and start with
``inventory_`` (the project does not namespace URLs)."""

from __future__ import annotations

from rxdesk.inventory.urls import coldchain, counts, recalls, receiving, stock

urlpatterns = [
    *stock.urlpatterns,
    *receiving.urlpatterns,
    *counts.urlpatterns,
    *recalls.urlpatterns,
    *coldchain.urlpatterns,
]
