"""The controlled-substance records joined to the inventory's transactions
(rxdesk.inventory.seams): a posted Schedule II receipt is recorded on its DEA Form 222 /
CSOS order, a Schedule II shipment to a reverse distributor on the form it issued."""

from __future__ import annotations


def connect() -> None:
    """Register the hooks (called once from ControlledConfig.ready)."""
    from rxdesk.controlled import services_orders
    from rxdesk.inventory import seams

    seams.register_receipt_posted(services_orders.receipt_posted)
    seams.register_return_shipped(services_orders.return_shipped)
