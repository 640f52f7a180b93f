"""What a patient pays for a prescription.

Claims come in a later issue: the claims app registers its patient-pay function here (like
rxdesk.rx.seams). With none registered the patient pays the pharmacy's cash price: the
package's latest usual-and-customary price, prorated to the quantity dispensed."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import Package, PackagePrice
from rxdesk.rx.models import Fill

CENT = Decimal("0.01")

# fn(fill) -> the patient's share (co-pay), or None when it has none to say (falls through).
PatientPay = Callable[[Fill], "Decimal | None"]
_patient_pay: list[PatientPay] = []


def register_patient_pay(fn: PatientPay) -> None:
    """Install a co-pay source (the claims app, once a claim has been paid)."""
    if fn not in _patient_pay:
        _patient_pay.append(fn)


def unregister_patient_pay(fn: PatientPay) -> None:
    if fn in _patient_pay:
        _patient_pay.remove(fn)


def cash_price(package: Package | None, quantity: Decimal) -> Decimal | None:
    """The usual-and-customary price of ``quantity`` units of ``package`` (latest price on
    file, prorated by the package size), to the cent; None when no price is on file."""
    if package is None:
        return None
    latest = (
        PackagePrice.objects.filter(package=package, kind=PriceKind.USUAL_CUSTOMARY)
        .order_by("-effective_on", "-pk")
        .first()
    )
    if latest is None or not package.package_quantity:
        return None
    return (latest.amount * quantity / package.package_quantity).quantize(
        CENT, rounding=ROUND_HALF_UP
    )


def fill_price(fill: Fill) -> Decimal | None:
    """What the patient pays for ``fill``: the claim's patient pay when a claims app has one,
    else the cash price; None when neither is known (the counter types a price)."""
    for fn in _patient_pay:
        paid = fn(fill)
        if paid is not None:
            return Decimal(paid).quantize(CENT, rounding=ROUND_HALF_UP)
    package = fill.package or fill.prescription.package
    return cash_price(package, fill.quantity)
