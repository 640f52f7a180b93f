"""Reads of the formulary and interchange: the site's entries, the protocols, the generic
substitution offer for a prescription and the interchange suggestions for it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import Package, PackagePrice, Product
from rxdesk.catalog.queries import equivalents, strength_amounts, te_code_of
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.forms import MAX_ID
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.formulary import conversion, substitution
from rxdesk.formulary.choices import FormularyStatus, ProtocolStatus
from rxdesk.formulary.models import FormularyEntry, InterchangeDecision, InterchangeProtocol
from rxdesk.inventory.choices import LotStatus
from rxdesk.inventory.models import StockBalance
from rxdesk.rx.choices import Daw
from rxdesk.rx.models import Prescription

LIST_LIMIT = 500


# --- Helpers shared with the services ----------------------------------------------------------


def _in_effect(on: dt.date) -> Q:
    return (Q(effective_from__isnull=True) | Q(effective_from__lte=on)) & (
        Q(effective_to__isnull=True) | Q(effective_to__gte=on)
    )


def entry_in_effect(site: Site, product: Product, on: dt.date) -> FormularyEntry | None:
    """The product's entry on the site's formulary on ``on`` (None: not listed that day)."""
    return FormularyEntry.objects.filter(_in_effect(on), site=site, product=product).first()


def statuses_in_effect(site: Site, product_ids: Iterable[int], on: dt.date) -> dict[int, str]:
    """``{product id: status}`` of the entries in effect on ``on``."""
    rows = FormularyEntry.objects.filter(
        _in_effect(on), site=site, product_id__in=list(product_ids)
    ).values_list("product_id", "status")
    return dict(rows)


def ingredients_of(product: Product) -> set[str]:
    """The product's active ingredient names, upper case ('OMEPRAZOLE')."""
    names = {i.name.strip().upper() for i in product.ingredients.all()}
    for part in (product.substances or "").replace(";", ",").split(","):
        if part.strip():
            names.add(part.strip().upper())
    return names


def ingredient_matches(wanted: str, names: set[str]) -> bool:
    """'OMEPRAZOLE' matches 'OMEPRAZOLE' and 'OMEPRAZOLE MAGNESIUM' (a salt), not
    'ESOMEPRAZOLE MAGNESIUM'."""
    wanted = wanted.strip().upper()
    return any(name == wanted or name.startswith(wanted + " ") for name in names)


def protocol_matches(protocol: InterchangeProtocol, product: Product) -> bool:
    """Whether the protocol applies to a prescription for ``product``: a single-ingredient
    product of its ingredient (and strength, when the protocol names one), and not the
    protocol's own target."""
    if product.pk == protocol.to_product_id:
        return False
    names = ingredients_of(product)
    if len(names) != 1 or not ingredient_matches(protocol.from_ingredient, names):
        return False
    if protocol.from_strength:
        return strength_amounts(protocol.from_strength) == strength_amounts(product.strength)
    return True


def convert_for(protocol: InterchangeProtocol, product: Product) -> conversion.Converted:
    return conversion.convert(
        product.strength,
        ratio=protocol.ratio,
        table=list(protocol.conversions or []),
        amounts=strength_amounts,
    )


# --- Entries ----------------------------------------------------------------------------------


def entries(
    *, actor: User, status: str = "", q: str = "", limit: int = LIST_LIMIT
) -> QuerySet[FormularyEntry]:
    """The site's formulary, by product name and strength; filtered by status and by a
    word of the product's name, generic name or NDC."""
    authorize(actor, Cap.FORMULARY_VIEW)
    rows = FormularyEntry.objects.filter(site=actor.site).select_related("product", "updated_by")
    if status:
        rows = rows.filter(status=status)
    q = (q or "").strip()[:60]
    if q:
        rows = rows.filter(
            Q(product__name__icontains=q)
            | Q(product__generic_name__icontains=q)
            | Q(product__product_ndc__startswith=q)
        )
    return rows.order_by("product__name", "product__strength", "product__labeler", "pk")[
        : max(1, min(limit, LIST_LIMIT))
    ]


def entry_get(*, actor: User, entry_id: int) -> FormularyEntry:
    authorize(actor, Cap.FORMULARY_VIEW)
    found = None
    if 0 < entry_id <= MAX_ID:
        found = (
            FormularyEntry.objects.select_related("product", "updated_by")
            .filter(site=actor.site, pk=entry_id)
            .first()
        )
    if found is None:
        raise NotFound("No such formulary entry at this pharmacy.")
    return found


def entry_for_product(*, actor: User, product: Product) -> FormularyEntry | None:
    authorize(actor, Cap.FORMULARY_VIEW)
    return FormularyEntry.objects.filter(site=actor.site, product=product).first()


CSV_HEADER = [
    "product_id",
    "ndc",
    "name",
    "generic_name",
    "strength",
    "dosage_form",
    "labeler",
    "status",
    "tier",
    "criteria",
    "effective_from",
    "effective_to",
    "notes",
]


def _safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def entries_csv_rows(*, actor: User, status: str = "", q: str = "") -> list[list[str]]:
    """The formulary as CSV rows (header first); reads back with the import."""
    rows: list[list[str]] = [CSV_HEADER]
    for e in entries(actor=actor, status=status, q=q):
        p = e.product
        rows.append(
            [
                str(p.pk),
                p.product_ndc,
                _safe(p.name),
                _safe(p.generic_name),
                _safe(p.strength),
                _safe(p.dosage_form),
                _safe(p.labeler),
                e.status,
                str(e.tier or ""),
                _safe(e.criteria),
                e.effective_from.isoformat() if e.effective_from else "",
                e.effective_to.isoformat() if e.effective_to else "",
                _safe(e.notes),
            ]
        )
    return rows


# --- Protocols --------------------------------------------------------------------------------


def protocols(*, actor: User, status: str = "") -> QuerySet[InterchangeProtocol]:
    authorize(actor, Cap.FORMULARY_VIEW)
    rows = InterchangeProtocol.objects.filter(site=actor.site).select_related(
        "to_product", "approved_by"
    )
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("status", "name", "pk")


def protocol_get(*, actor: User, protocol_id: int) -> InterchangeProtocol:
    authorize(actor, Cap.FORMULARY_VIEW)
    found = None
    if 0 < protocol_id <= MAX_ID:
        found = (
            InterchangeProtocol.objects.select_related("to_product", "approved_by", "created_by")
            .filter(site=actor.site, pk=protocol_id)
            .first()
        )
    if found is None:
        raise NotFound("No such interchange protocol at this pharmacy.")
    return found


# --- A prescription ---------------------------------------------------------------------------


def prescription_get(*, actor: User, prescription_id: int) -> Prescription:
    """A prescription of the actor's site, for the substitution screen (formulary.view and
    rx.view: it shows the drug, not the patient)."""
    authorize(actor, Cap.FORMULARY_VIEW)
    authorize(actor, Cap.RX_VIEW)
    found = None
    if 0 < prescription_id <= MAX_ID:
        found = (
            Prescription.objects.select_related("product", "package", "site")
            .filter(site=actor.site, pk=prescription_id)
            .first()
        )
    if found is None:
        raise NotFound("No such prescription at this pharmacy.")
    return found


@dataclass(frozen=True)
class OfferLine:
    """One offered equivalent, with what ranked it."""

    product: Product
    te_code: str
    formulary_status: str
    on_hand: Decimal
    unit_cost: Decimal | None

    @property
    def formulary_label(self) -> str:
        if not self.formulary_status:
            return "Not listed"
        return str(FormularyStatus(self.formulary_status).label)


@dataclass(frozen=True)
class Offer:
    """What generic substitution offers for a prescription."""

    prescription: Prescription
    daw: int
    daw_label: str
    may_offer: bool
    reason: str
    te_code: str
    formulary_status: str
    lines: list[OfferLine]

    @property
    def formulary_label(self) -> str:
        if not self.formulary_status:
            return "Not listed (non-formulary)"
        return str(FormularyStatus(self.formulary_status).label)


def on_hand_by_product(site: Site, product_ids: Iterable[int]) -> dict[int, Decimal]:
    """Dispensable stock (available lots) at the site per product, in billing units."""
    rows = (
        StockBalance.objects.filter(
            site=site, package__product_id__in=list(product_ids), status=LotStatus.AVAILABLE
        )
        .values("package__product_id")
        .annotate(total=Sum("on_hand"))
    )
    return {r["package__product_id"]: r["total"] or Decimal(0) for r in rows}


def unit_costs(product_ids: Iterable[int], on: dt.date) -> dict[int, Decimal]:
    """The lowest latest acquisition cost per billing unit among each product's packages
    (the package price ÷ its quantity, to 4 places); products with no price left out."""
    latest: dict[int, PackagePrice] = {}
    for price in PackagePrice.objects.filter(
        package__product_id__in=list(product_ids),
        kind=PriceKind.ACQUISITION,
        effective_on__lte=on,
    ).order_by("package_id", "-effective_on"):
        latest.setdefault(price.package_id, price)
    packages = Package.objects.in_bulk(list(latest))
    best: dict[int, Decimal] = defaultdict(lambda: Decimal("Infinity"))
    for package_id, price in latest.items():
        package = packages[package_id]
        per_unit = (price.amount / package.package_quantity).quantize(Decimal("0.0001"))
        best[package.product_id] = min(best[package.product_id], per_unit)
    return dict(best)


def substitution_offer(*, actor: User, prescription: Prescription) -> Offer:
    """The A-rated equivalents that may be offered for the prescription's product under
    its DAW code, ranked (see rxdesk.formulary.substitution), with the reason in words."""
    rx = prescription_get(actor=actor, prescription_id=getattr(prescription, "pk", 0) or 0)
    site = rx.site
    today = site.today()
    rule = substitution.daw_rule(rx.daw)
    statuses = statuses_in_effect(site, [rx.product_id], today)
    own_code = te_code_of(rx.product)
    lines: list[OfferLine] = []
    reason = rule.reason
    if rule.offer:
        found = equivalents(rx.product)
        ids = [e.product.pk for e in found]
        statuses.update(statuses_in_effect(site, ids, today))
        stock = on_hand_by_product(site, ids)
        costs = unit_costs(ids, today)
        by_id = {e.product.pk: e for e in found}
        ranked = substitution.rank(
            substitution.Candidate(
                product_id=e.product.pk,
                name=e.product.name,
                te_code=e.te_code,
                formulary_status=statuses.get(e.product.pk, ""),
                on_hand=stock.get(e.product.pk, Decimal(0)),
                unit_cost=costs.get(e.product.pk),
            )
            for e in found
        )
        lines = [
            OfferLine(
                product=by_id[c.product_id].product,
                te_code=c.te_code,
                formulary_status=c.formulary_status,
                on_hand=c.on_hand,
                unit_cost=c.unit_cost,
            )
            for c in ranked
        ]
        if not lines:
            reason = f"{rx.product} has no A-rated equivalent in the catalog" + (
                f" (its TE code is {own_code})." if own_code else " (no TE code on file)."
            )
    return Offer(
        prescription=rx,
        daw=rx.daw,
        daw_label=str(Daw(rx.daw).label),
        may_offer=rule.offer,
        reason=reason,
        te_code=own_code,
        formulary_status=statuses.get(rx.product_id, ""),
        lines=lines,
    )


@dataclass(frozen=True)
class Suggestion:
    """An approved protocol that applies to a prescription, with the converted dose."""

    protocol: InterchangeProtocol
    to_product: Product
    from_strength: str
    to_strength: str
    how: str
    to_status: str
    decision: InterchangeDecision | None

    @property
    def conversion_text(self) -> str:
        if not self.to_strength:
            return "No conversion for this strength: the pharmacist chooses the dose."
        return f"{self.from_strength} → {self.to_strength}"


def interchange_suggestions(*, actor: User, prescription: Prescription) -> list[Suggestion]:
    """The site's approved protocols that apply to the prescription's drug when the drug
    is not on the formulary (non-formulary, or not listed) today and that convert its
    strength; each with its converted dose and any decision already made on it. Empty for
    a product on the formulary."""
    rx = prescription_get(actor=actor, prescription_id=getattr(prescription, "pk", 0) or 0)
    site = rx.site
    today = site.today()
    status = statuses_in_effect(site, [rx.product_id], today).get(rx.product_id, "")
    if status and status != FormularyStatus.NON_FORMULARY:
        return []
    candidates = [
        p
        for p in InterchangeProtocol.objects.filter(
            site=site, status=ProtocolStatus.APPROVED
        ).select_related("to_product", "approved_by")
        if protocol_matches(p, rx.product)
    ]
    decided = {
        d.protocol_id: d
        for d in InterchangeDecision.objects.filter(prescription=rx).select_related(
            "decided_by", "new_prescription"
        )
    }
    targets = statuses_in_effect(site, [p.to_product_id for p in candidates], today)
    out = []
    for p in candidates:
        converted = convert_for(p, rx.product)
        if not converted.to_strength:
            continue  # the protocol gives no dose for this strength: not applicable
        out.append(
            Suggestion(
                protocol=p,
                to_product=p.to_product,
                from_strength=converted.from_strength,
                to_strength=converted.to_strength,
                how=converted.how,
                to_status=targets.get(p.to_product_id, ""),
                decision=decided.get(p.pk),
            )
        )
    return sorted(out, key=lambda s: (s.decision is not None, s.protocol.name))


def decisions_for(*, actor: User, prescription: Prescription) -> list[InterchangeDecision]:
    rx = prescription_get(actor=actor, prescription_id=getattr(prescription, "pk", 0) or 0)
    return list(
        InterchangeDecision.objects.filter(site=rx.site, prescription=rx)
        .select_related("protocol", "suggested_product", "decided_by", "new_prescription")
        .order_by("-decided_at", "-pk")
    )
