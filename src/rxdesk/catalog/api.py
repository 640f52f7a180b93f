"""API for the drug catalog: parse, call a service or query, serialize."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import Field, Query, Router, Schema

from rxdesk.catalog import queries, services
from rxdesk.catalog.choices import BillingUnit, DeaSchedule, PriceKind, Storage
from rxdesk.catalog.models import Package, Product

router = Router(tags=["catalog"])


def _user(request: HttpRequest) -> Any:
    return request.user


def quantity_text(value: Decimal) -> str:
    """A package quantity without trailing zeros: 30.000 -> '30', 2.500 -> '2.5'."""
    return format(value.normalize(), "f")


# --- Output -----------------------------------------------------------------------------------


class ProductOut(Schema):
    """What a safe pick needs to tell look-alike products apart, and the product's flags."""

    id: int
    product_ndc: str
    name: str
    tall_man_name: str = Field(description="FDA/ISMP tall-man lettering ('' where none applies)")
    display_name: str = Field(description="The tall-man name where it applies, else the name")
    generic_name: str
    strength: str
    dosage_form: str
    route: str
    labeler: str
    product_type: str
    dea_schedule: DeaSchedule | None = Field(
        description="The schedule in force: a state's override where set, else the directory's"
    )
    hazardous: bool = Field(description="NIOSH hazardous drug (USP <800>)")
    high_alert: bool = Field(description="ISMP high-alert medication")
    storage: Storage
    protect_from_light: bool
    cold_chain: bool
    rems: bool
    maintenance: bool
    unit_dose: bool
    otc: bool
    cmea: bool = Field(description="CMEA behind-the-counter (pseudoephedrine, ephedrine)")
    cmea_base_mg: Decimal | None = Field(description="CMEA base (not salt) mg per tablet or per mL")
    active: bool

    @staticmethod
    def resolve_dea_schedule(obj: Product) -> str | None:
        return obj.dea_schedule or None


class NdcProductOut(ProductOut):
    te_codes: list[str] = Field(description="Orange Book therapeutic-equivalence code(s)")

    @staticmethod
    def resolve_te_codes(obj: Product) -> list[str]:
        return queries.te_codes(queries.te_code_of(obj))


class PriceOut(Schema):
    kind: PriceKind
    amount: Decimal
    effective_on: dt.date


class PackageOut(Schema):
    ndc11: str
    ndc10: str
    package_description: str
    billing_unit: BillingUnit
    package_quantity: str = Field(description="Billing units in the package, e.g. '30'")
    active: bool

    @staticmethod
    def resolve_package_description(obj: Package) -> str:
        return obj.description

    @staticmethod
    def resolve_package_quantity(obj: Package) -> str:
        return quantity_text(obj.package_quantity)


def _only_when_present(schema: dict[str, Any]) -> None:
    """An optional member that is left out, never null: no ``default`` in the schema."""
    schema.pop("default", None)


class NdcOut(Schema):
    """A resolved code: the package, its product, and what a 2D barcode carried."""

    ndc11: str = Field(examples=["00002322730"])
    ndc10: str = Field(examples=["0002-3227-30"])
    package_description: str
    billing_unit: BillingUnit
    package_quantity: str = Field(examples=["30"])
    product: NdcProductOut
    lot: str = Field(  # type: ignore[assignment]
        None,
        description="Only present when the code carried a lot (GS1 AI 10)",
        json_schema_extra=_only_when_present,
    )
    expiry: dt.date = Field(  # type: ignore[assignment]
        None,
        description="Only present when the code carried an expiry date (GS1 AI 17)",
        json_schema_extra=_only_when_present,
    )
    serial: str = Field(  # type: ignore[assignment]
        None,
        description="Only present when the code carried a serial number (GS1 AI 21)",
        json_schema_extra=_only_when_present,
    )


class SearchHitOut(Schema):
    product: ProductOut
    package: PackageOut | None = Field(
        description="The package an NDC or a scanned code matched (null for a name match)"
    )
    packages: list[PackageOut] = Field(
        description="Up to six of the product's active packages, smallest first"
    )


class IngredientOut(Schema):
    name: str
    strength: str
    unit: str


class PackageDetailOut(PackageOut):
    marketing_start: dt.date | None
    marketing_end: dt.date | None
    sample: bool
    prices: list[PriceOut] = Field(description="The latest price of each kind")

    @staticmethod
    def resolve_prices(obj: Package) -> list[Any]:
        return list(getattr(obj, "latest_prices", []))


class EquivalentOut(Schema):
    te_code: str
    product: ProductOut


class LookAlikeOut(Schema):
    id: int
    product_ndc: str
    display_name: str
    strength: str
    dosage_form: str


class ProductDetailOut(ProductOut):
    name_suffix: str
    substances: str
    marketing_category: str
    application_number: str
    marketing_start: dt.date | None
    marketing_end: dt.date | None
    directory_dea_schedule: DeaSchedule | None
    dea_schedule_override: DeaSchedule | None
    excluded: bool
    pharm_classes: list[str]
    te_code: str = Field(description="Orange Book TE code ('' when none is on file)")
    ingredients: list[IngredientOut]
    packages: list[PackageDetailOut]
    equivalents: list[EquivalentOut] = Field(description="A-rated equivalents only")
    look_alikes: list[LookAlikeOut]

    @staticmethod
    def resolve_directory_dea_schedule(obj: Product) -> str | None:
        return obj.directory_dea_schedule or None

    @staticmethod
    def resolve_dea_schedule_override(obj: Product) -> str | None:
        return obj.dea_schedule_override or None

    @staticmethod
    def resolve_pharm_classes(obj: Product) -> list[str]:
        return queries.pharm_classes(obj)

    @staticmethod
    def resolve_te_code(obj: Product) -> str:
        return queries.te_code_of(obj)

    @staticmethod
    def resolve_ingredients(obj: Product) -> list[Any]:
        return list(obj.ingredients.all())

    @staticmethod
    def resolve_packages(obj: Product) -> list[Package]:
        packages = list(obj.packages.order_by("-active", "package_quantity", "ndc11"))
        prices = queries.latest_prices(packages)
        for package in packages:
            package.latest_prices = prices.get(package.pk, [])  # type: ignore[attr-defined]
        return packages

    @staticmethod
    def resolve_equivalents(obj: Product) -> list[queries.Equivalent]:
        return queries.equivalents(obj)

    @staticmethod
    def resolve_look_alikes(obj: Product) -> list[Product]:
        return queries.look_alikes(obj)


# --- Operations -------------------------------------------------------------------------------


@router.get(
    "/ndc/{path:code}",
    response=NdcOut,
    summary="Resolve a scanned or typed code to its package",
    description=(
        "Any code printed on a package: an 11-digit NDC (with or without hyphens), a "
        "hyphenated 10-digit NDC (4-4-2, 5-3-2, 5-4-1), 10 digits without hyphens, a UPC-A, a "
        "GTIN-14, or a GS1 DataMatrix element string (URL-encoded; GS separators or the "
        "printed '(01)…(17)…(10)…(21)…' form). `lot`, `expiry` and `serial` are present "
        "only when the code carried them. 404 for a well-formed code not in the catalog, "
        "422 for a malformed one, 409 with `candidates` when 10 digits match several packages."
    ),
)
def ndc_resolve(request: HttpRequest, code: str) -> Any:
    resolved = queries.resolve_code(actor=_user(request), code=code)
    package = resolved.package
    body: dict[str, Any] = {
        "ndc11": package.ndc11,
        "ndc10": package.ndc10,
        "package_description": package.description,
        "billing_unit": package.billing_unit,
        "package_quantity": quantity_text(package.package_quantity),
        "product": NdcProductOut.from_orm(package.product).model_dump(mode="json"),
    }
    # The contract: these three appear only when the code carried them.
    if resolved.lot is not None:
        body["lot"] = resolved.lot
    if resolved.expiry is not None:
        body["expiry"] = resolved.expiry.isoformat()
    if resolved.serial is not None:
        body["serial"] = resolved.serial
    return JsonResponse(body)


class SearchQuery(Schema):
    q: str = Field(
        "",
        max_length=100,
        description="Brand or generic name, ingredient, strength, form ('ator 40') or NDC",
    )
    limit: int = Field(queries.SEARCH_LIMIT, ge=1, le=queries.MAX_LIMIT)


@router.get(
    "/search",
    response=list[SearchHitOut],
    summary="Type-ahead search of the catalog (fewer than 3 characters lists nothing)",
)
def catalog_search(request: HttpRequest, filters: Query[SearchQuery]) -> Any:
    return queries.catalog_search(actor=_user(request), q=filters.q, limit=filters.limit)


@router.get(
    "/products/{int:product_id}",
    response=ProductDetailOut,
    summary="A product: packages, ingredients, latest prices, A-rated equivalents",
)
def product_get(request: HttpRequest, product_id: int) -> Any:
    return queries.product_for(actor=_user(request), product_id=product_id)


class FlagsPatch(Schema):
    model_config = {"extra": "forbid"}

    dea_schedule_override: DeaSchedule | None = Field(
        None, description="A state's stricter schedule; null to follow the FDA directory"
    )
    hazardous: bool | None = None
    high_alert: bool | None = None
    storage: Storage | None = None
    protect_from_light: bool | None = None
    cold_chain: bool | None = None
    rems: bool | None = None
    maintenance: bool | None = None
    unit_dose: bool | None = None
    otc: bool | None = None
    cmea: bool | None = Field(
        None, description="Behind the counter under the CMEA (needs `cmea_base_mg`)"
    )
    cmea_base_mg: Decimal | None = Field(
        None,
        gt=0,
        le=1000,
        max_digits=8,
        decimal_places=4,
        description="Base (not salt) mg per tablet or per mL, e.g. 24.579 for PSE HCl 30 mg",
    )
    reason: str = Field("", max_length=200)


@router.patch(
    "/products/{int:product_id}/flags",
    response=ProductDetailOut,
    summary="Change a product's flags (pharmacist-in-charge)",
)
def product_flags(request: HttpRequest, product_id: int, payload: FlagsPatch) -> Any:
    product = queries.product_for(actor=_user(request), product_id=product_id)
    values = payload.model_dump(exclude_unset=True)
    reason = values.pop("reason", "")
    for name, value in list(values.items()):
        if value is None and name != "dea_schedule_override":
            values.pop(name)  # null means "leave as it is" for a flag
    return services.product_flags_update(
        actor=_user(request), product=product, reason=reason, **values
    )


class LookAlikesIn(Schema):
    model_config = {"extra": "forbid"}

    partners: list[int] = Field(
        max_length=services.MAX_LOOK_ALIKES, description="Product ids; [] clears them"
    )
    reason: str = Field("", max_length=200)


@router.put(
    "/products/{int:product_id}/look-alikes",
    response=ProductDetailOut,
    summary="Set a product's look-alike / sound-alike partners (pharmacist-in-charge)",
)
def product_look_alikes(request: HttpRequest, product_id: int, payload: LookAlikesIn) -> Any:
    actor = _user(request)
    product = queries.product_for(actor=actor, product_id=product_id)
    partners = [queries.product_for(actor=actor, product_id=i) for i in payload.partners]
    return services.product_look_alike_set(
        actor=actor, product=product, partners=partners, reason=payload.reason
    )
