"""Where apps above the inventory join its transactions without the inventory importing them
(DESIGN: apps depend downwards). rxdesk.controlled records a Schedule II receipt on its DEA
Form 222 / CSOS order, and a Schedule II shipment to a reverse distributor on the form that
registrant issued. rxdesk.compounding tells a recall which compounded preparations were made
from the recalled lots (``lot_uses``: a read, no transaction).

A hook runs inside the posting service's transaction, after the ledger moves and before the
audit event: raising a DomainError refuses the whole post (nothing changes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class LotUse:
    """Something made from a stock lot outside a dispensing (a compounded preparation):
    what it is, in words, when it was made, where its page is, its own status."""

    what: str
    made_at: dt.datetime
    url: str
    status: str
    lot_number: str


LotUsesHook = Callable[["User", int, Sequence[int]], "list[LotUse]"]
_lot_uses: list[LotUsesHook] = []


def register_lot_uses(hook: LotUsesHook) -> None:
    if hook not in _lot_uses:
        _lot_uses.append(hook)


def lot_uses(actor: User, site_id: int, lot_ids: Sequence[int]) -> list[LotUse]:
    """What the site made from any of ``lot_ids`` that ``actor`` may see, newest first."""
    found = [use for hook in _lot_uses for use in hook(actor, site_id, lot_ids)]
    return sorted(found, key=lambda u: u.made_at, reverse=True)
