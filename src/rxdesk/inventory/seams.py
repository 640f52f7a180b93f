"""Where apps above the inventory join its transactions without the inventory importing them
(DESIGN: apps depend downwards). rxdesk.controlled records a Schedule II receipt on its DEA
Form 222 / CSOS order, and a Schedule II shipment to a reverse distributor on the form that
registrant issued.

A hook runs inside the posting service's transaction, after the ledger moves and before the
audit event: raising a DomainError refuses the whole post (nothing changes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rxdesk.core.models import User
    from rxdesk.inventory.models import Receipt, ReceiptLine, VendorReturn, VendorReturnLine

ReceiptHook = Callable[["Receipt", "list[ReceiptLine]", "User | None"], Any]
ReturnHook = Callable[["VendorReturn", "list[VendorReturnLine]", "User | None"], Any]

_receipt_posted: list[ReceiptHook] = []
_return_shipped: list[ReturnHook] = []


def register_receipt_posted(hook: ReceiptHook) -> None:
    if hook not in _receipt_posted:
        _receipt_posted.append(hook)


def register_return_shipped(hook: ReturnHook) -> None:
    if hook not in _return_shipped:
        _return_shipped.append(hook)


def receipt_posted(receipt: Receipt, lines: list[ReceiptLine], actor: User | None) -> None:
    for hook in _receipt_posted:
        hook(receipt, lines, actor)


def return_shipped(
    vendor_return: VendorReturn, lines: list[VendorReturnLine], actor: User | None
) -> None:
    for hook in _return_shipped:
        hook(vendor_return, lines, actor)
