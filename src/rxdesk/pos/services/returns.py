"""Return to stock: the bags nobody picked up within the site's days go back on the shelf
(the exact lots), their claims are reversed, and the prescriptions' quantity reopens.

The daily list is rxdesk.rx.services.workflow.return_to_stock_due; a technician scans one
bag label after another, and each scan is returned on its own (one bad label does not
stop the others)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils import timezone

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import DomainError, Invalid
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.inventory.models import StockMove
from rxdesk.pos.queries_willcall import fills_on_delivery, fills_on_open_sale
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill
from rxdesk.rx.services import workflow

BAG_LABEL = re.compile(r"^(\d{1,9})\s*[-\s]\s*(\d{1,3})$")
MAX_CODES = 200


@dataclass(frozen=True)
class ReturnResult:
    code: str
    ok: bool
    message: str
    fill: Fill | None = None


@dataclass(frozen=True)
class DueFill:
    fill: Fill
    days_waiting: int

    @property
    def code(self) -> str:
        return f"{self.fill.prescription.number}-{self.fill.number}"


def _qty(value: object) -> str:
    text = format(value, "f") if value is not None else "0"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _returned_lots(fill: Fill) -> str:
    moves = StockMove.objects.filter(
        site_id=fill.site_id,
        reference_type="fill",
        reference_id=str(fill.pk),
        quantity__gt=0,
    ).select_related("lot")
    lots = sorted({m.lot.number for m in moves if m.lot.number})
    return ", ".join(lots)


def _one(actor: User, code: str, reason: str) -> ReturnResult:
    text = " ".join(code.split())
    found = BAG_LABEL.match(text)
    if not found:
        return ReturnResult(code, False, f"{text or '(empty)'}: not a bag label (like 1042-0).")
    name = f"Rx {found.group(1)}-{found.group(2)}"
    fill = (
        Fill.objects.filter(
            site_id=actor.site_id,
            prescription__number=int(found.group(1)),
            number=int(found.group(2)),
        )
        .exclude(status=FillStatus.CANCELLED)
        .select_related("prescription")
        .first()
    )
    if fill is None:
        return ReturnResult(code, False, f"{name}: no such bag at this pharmacy.")
    if fill.status != FillStatus.READY:
        return ReturnResult(
            code, False, f"{name}: not in will-call ({fill.get_status_display().lower()}).", fill
        )
    if fills_on_open_sale([fill.pk]):
        return ReturnResult(code, False, f"{name}: it is on an open sale at the register.", fill)
    if fills_on_delivery([fill.pk]):
        return ReturnResult(code, False, f"{name}: it is on a delivery.", fill)
    try:
        done = workflow.fill_return_to_stock(actor=actor, fill=fill, reason=reason)
    except DomainError as exc:
        return ReturnResult(code, False, f"{name}: {exc.message}", fill)
    lots = _returned_lots(done)
    where = f" (lot {lots})" if lots else ""
    return ReturnResult(
        code,
        True,
        f"{name} returned: {_qty(done.quantity)} back on the shelf{where}.",
        done,
    )


def return_to_stock_scan(
    *, actor: User, codes: list[str], reason: str = "Not picked up"
) -> list[ReturnResult]:
    """Return each scanned bag (bag label "1042-0") on its own, with a line saying what
    happened to it."""
    authorize(actor, Cap.RX_FILL)
    if not codes:
        raise Invalid("Scan a bag label.", field="codes")
    if len(codes) > MAX_CODES:
        raise Invalid(f"Scan at most {MAX_CODES} bags at a time.", field="codes")
    why = " ".join((reason or "").split())
    if not why:
        raise Invalid("Say why the bags go back.", field="reason")
    results = []
    seen: set[str] = set()
    for code in codes:
        key = " ".join(str(code).split())
        label = BAG_LABEL.match(key)
        if label:
            key = f"{int(label.group(1))}-{int(label.group(2))}"
        if key in seen:
            results.append(ReturnResult(str(code), False, f"Rx {key}: scanned twice."))
            continue
        seen.add(key)
        results.append(_one(actor, str(code), why))
    return results


def return_to_stock_list(*, actor: User) -> list[DueFill]:
    """The bags due back on the shelf today, with how many days each has waited."""
    authorize(actor, Cap.RX_FILL)
    now = timezone.now()
    return [
        DueFill(
            fill=f,
            days_waiting=(now - f.ready_at).days if f.ready_at else 0,
        )
        for f in workflow.return_to_stock_due(actor=actor)
    ]


__all__ = ["DueFill", "ReturnResult", "return_to_stock_list", "return_to_stock_scan"]
