"""Demo formulary for the demo pharmacy, made through the services: pantoprazole 40 mg and
two atorvastatin generics (preferred, on formulary), Lipitor restricted, omeprazole 20 mg
non-formulary, and one approved protocol (omeprazole → pantoprazole 40 mg, approved by the
PIC)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rxdesk.catalog.models import Product
from rxdesk.catalog.queries import equivalents
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.formulary.choices import FormularyStatus
from rxdesk.formulary.models import FormularyEntry
from rxdesk.formulary.services import formulary_entry_set, protocol_approve, protocol_create


def _pic(site: Site, users: Any) -> User | None:
    found: Iterable[Any] = users.values() if isinstance(users, Mapping) else (users or [])
    for user in found:
        if (
            isinstance(user, User)
            and user.site_id == site.pk
            and user.role == Role.PHARMACIST_IN_CHARGE
        ):
            return user
    return (
        User.objects.filter(site=site, role=Role.PHARMACIST_IN_CHARGE, is_active=True)
        .order_by("pk")
        .first()
    )


def _product(name: str, strength: str) -> Product | None:
    return (
        Product.objects.filter(name__iexact=name, strength__startswith=strength, active=True)
        .order_by("labeler", "pk")
        .first()
    )


def load(site: Site, users: Any = None) -> None:
    """Idempotent: does nothing when the site already has a formulary."""
    if FormularyEntry.objects.filter(site=site).exists():
        return
    pic = _pic(site, users)
    if pic is None:
        return
    panto = _product("Pantoprazole Sodium", "40 mg")
    lipitor = _product("Lipitor", "10 mg")
    # Lipitor's A-rated generics in the catalog: the first preferred, the next on formulary.
    generics = [e for e in equivalents(lipitor) if e.product.active] if lipitor else []
    plan = [
        (panto, FormularyStatus.PREFERRED, 1, ""),
        *((e.product, FormularyStatus.PREFERRED, 1, "") for e in generics[:1]),
        *((e.product, FormularyStatus.FORMULARY, 2, "") for e in generics[1:2]),
        (
            lipitor,
            FormularyStatus.RESTRICTED,
            3,
            "Only when the patient has failed two generic atorvastatin manufacturers.",
        ),
        (_product("Omeprazole", "20 mg"), FormularyStatus.NON_FORMULARY, None, ""),
    ]
    for product, status, tier, criteria in plan:
        if product is not None:
            formulary_entry_set(
                actor=pic, product=product, status=status, tier=tier, criteria=criteria
            )
    if panto is not None:
        protocol = protocol_create(
            actor=pic,
            name="Omeprazole to pantoprazole",
            from_ingredient="OMEPRAZOLE",
            to_product=panto,
            conversions=[{"from": "20 mg", "to": "40 mg"}, {"from": "40 mg", "to": "40 mg"}],
            sig_note="omeprazole 20 or 40 mg daily → pantoprazole 40 mg daily",
            notes="P&T committee: PPIs are interchangeable at equipotent doses for GERD.",
        )
        protocol_approve(actor=pic, protocol=protocol)
