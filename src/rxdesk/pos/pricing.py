"""What a patient pays for a prescription.

Claims come in a later issue: the claims app registers its patient-pay function here (like
rxdesk.rx.seams). With none registered the patient pays the pharmacy's cash price: the
package's latest usual-and-customary price, prorated to the quantity dispensed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import OuterRef, Subquery

from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import Package, PackagePrice
from rxdesk.rx.models import Fill

CENT = Decimal("0.01")

# fn(fills) -> {fill id: the patient's share (co-pay)} for the fills it has something to say
# about; the others fall through to the cash price. Batched: the will-call card prices many.
PatientPay = Callable[[list[Fill]], dict[int, Decimal]]
_patient_pay: list[PatientPay] = []


def register_patient_pay(fn: PatientPay) -> None:
    """Install a co-pay source (the claims app, once a claim has been paid)."""
    if fn not in _patient_pay:
        _patient_pay.append(fn)


def unregister_patient_pay(fn: PatientPay) -> None:
    if fn in _patient_pay:
        _patient_pay.remove(fn)


def _prorated(amount: Decimal, package: Package, quantity: Decimal) -> Decimal | None:
    if not package.package_quantity:
        return None
    return (amount * quantity / package.package_quantity).quantize(CENT, rounding=ROUND_HALF_UP)


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
    if latest is None:
        return None
    return _prorated(latest.amount, package, quantity)


def latest_cash_prices(package_ids: Iterable[int]) -> dict[int, Decimal]:
    """The latest usual-and-customary price per package, in one query (a correlated
    subquery per package on the ``price_latest`` index); packages with none are left out."""
    ids = set(package_ids)
    if not ids:
        return {}
    latest = PackagePrice.objects.filter(
        package=OuterRef("pk"), kind=PriceKind.USUAL_CUSTOMARY
    ).order_by("-effective_on", "-pk")
    rows = (
        Package.objects.filter(pk__in=ids)
        .annotate(amount=Subquery(latest.values("amount")[:1]))
        .values_list("pk", "amount")
    )
    return {pk: amount for pk, amount in rows if amount is not None}


def _seam_price(fill: Fill) -> Decimal | None:
    return _seam_prices([fill]).get(fill.pk)


def _seam_prices(fills: list[Fill]) -> dict[int, Decimal]:
    """The registered sources' answers by fill id (the first source that knows wins)."""
    out: dict[int, Decimal] = {}
    for fn in _patient_pay:
        todo = [f for f in fills if f.pk not in out]
        if not todo:
            break
        for pk, paid in fn(todo).items():
            out[pk] = Decimal(paid).quantize(CENT, rounding=ROUND_HALF_UP)
    return out


def fill_price(fill: Fill) -> Decimal | None:
    """What the patient pays for ``fill``: the claim's patient pay when a claims app has one,
    else the cash price; None when neither is known (the counter types a price)."""
    paid = _seam_price(fill)
    if paid is not None:
        return paid
    package = fill.package or fill.prescription.package
    return cash_price(package, fill.quantity)


def fill_prices(fills: Iterable[Fill]) -> dict[int, Decimal | None]:
    """``fill_price`` of many fills by fill id, with the cash prices read in one query: each
    registered patient-pay source is still asked per fill, and a fill it has nothing to say
    about falls through to the cash price, as in ``fill_price``. Load the fills with their
    ``package`` and ``prescription__package``."""
    fills = list(fills)
    out: dict[int, Decimal | None] = {}
    cash: list[tuple[Fill, Package | None]] = []
    seam = _seam_prices(fills)
    for fill in fills:
        paid = seam.get(fill.pk)
        if paid is not None:
            out[fill.pk] = paid
        else:
            cash.append((fill, fill.package or fill.prescription.package))
    amounts = latest_cash_prices(p.pk for _, p in cash if p is not None)
    for fill, package in cash:
        amount = amounts.get(package.pk) if package is not None else None
        out[fill.pk] = (
            None if package is None or amount is None else _prorated(amount, package, fill.quantity)
        )
    return out
