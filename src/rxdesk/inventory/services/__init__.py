"""Every write of the inventory, one module per part of the stock room; import the
functions from their module (``from rxdesk.inventory.services.stock import stock_dispense``).
Importing this package registers every module's audit actions. The ledger itself
(rxdesk.inventory.ledger) is the only code that changes a balance or appends a move."""

from rxdesk.inventory.services import (  # noqa: F401
    coldchain,
    counts,
    ordering,
    recalls,
    receiving,
    removal,
    stock,
)
