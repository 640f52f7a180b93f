"""What the prescription screens share: the signed-in pharmacy, putting a service's errors
beside the typing screen's fields, and turning the picked patient, prescriber and drug into
rows (the queries check the capability and the site)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rxdesk.catalog import queries as catalog_queries
from rxdesk.catalog.models import Package, Product
from rxdesk.core.errors import DomainError, Invalid, NotFound
from rxdesk.core.forms import MAX_ID, RxForm
from rxdesk.core.models import Site, User
from rxdesk.patients import queries as patient_queries
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx import queries as rx_queries
from rxdesk.rx.models import PrescriptionImage

# The services name some fields differently from the typing screen.
FIELD_ALIASES: Mapping[str, str] = {
    "product": "drug",
    "package": "drug",
    "schedule": "drug",
    "code": "drug",
    "emergency": "emergency_oral",
    "intake": "",
    "prescription": "",
    "status": "",
}


def site_of(actor: User) -> Site:
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return actor.site


def bind(form: RxForm, exc: DomainError, aliases: Mapping[str, str] = FIELD_ALIASES) -> None:
    """A service's broken rules beside the fields they name (or above the form)."""
    errors = exc.errors or [{"field": exc.field or "", "message": exc.message}]
    seen: set[tuple[str | None, str]] = set()
    for error in errors:
        name = error.get("field") or ""
        name = aliases.get(name, name)
        field = name if name in form.fields else None
        message = error.get("message") or exc.message
        if (field, message) in seen:
            continue
        seen.add((field, message))
        form.add_error(field, message)
    form.error_status = exc.status


def id_of(raw: Any) -> int | None:
    """A row id from a query string or a form, or None when it is not a sane one."""
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None


@dataclass
class Picked:
    """What the typing screen's pickers hold, as rows to show."""

    patient: Patient | None = None
    prescriber: Prescriber | None = None
    product: Product | None = None
    package: Package | None = None

    @property
    def drug_label(self) -> str:
        if self.package is not None:
            return f"{self.package.product} · {self.package.ndc10} · {self.package.description}"
        return str(self.product) if self.product is not None else ""


def patient_of(actor: User, raw: Any) -> Patient | None:
    pk = id_of(raw)
    return patient_queries.patient_for(actor=actor, patient_id=pk) if pk else None


def prescriber_of(actor: User, raw: Any) -> Prescriber | None:
    pk = id_of(raw)
    return patient_queries.prescriber_for(actor=actor, prescriber_id=pk) if pk else None


def drug_of(actor: User, code: str, product_id: Any) -> tuple[Product, Package | None]:
    """The drug the box names: a typed or scanned code is a package (and its product); with
    the box empty, the product picked from the search. Raises Invalid naming ``drug``."""
    code = (code or "").strip()
    if code:
        try:
            resolved = catalog_queries.resolve_code(actor=actor, code=code)
        except (Invalid, NotFound, catalog_queries.AmbiguousCode) as exc:
            raise Invalid(
                f"{exc.message} Search by name below the box and choose the drug.", field="drug"
            ) from None
        return resolved.package.product, resolved.package
    pk = id_of(product_id)
    if pk is None:
        raise Invalid("Scan or type the NDC, or search and choose the drug.", field="drug")
    try:
        return catalog_queries.product_for(actor=actor, product_id=pk), None
    except NotFound as exc:
        raise Invalid(exc.message, field="drug") from None


def picked(actor: User, data: Mapping[str, Any]) -> Picked:
    """The rows the form holds, for showing them again (quietly nothing for a bad id or
    code: the form says what is wrong)."""
    out = Picked()
    with contextlib.suppress(NotFound):
        out.patient = patient_of(actor, data.get("patient"))
    with contextlib.suppress(NotFound):
        out.prescriber = prescriber_of(actor, data.get("prescriber"))
    with contextlib.suppress(Invalid):
        out.product, out.package = drug_of(actor, data.get("drug") or "", data.get("product"))
    return out


def held_images(actor: User, raw_ids: Iterable[Any]) -> list[PrescriptionImage]:
    return rx_queries.prescription_images_unattached(actor=actor, image_ids=raw_ids)


def image_of(actor: User, pk: int) -> PrescriptionImage:
    return rx_queries.prescription_image_get(actor=actor, image_id=pk)
