"""API of master formulas: the list, one formula (ingredients, versions, hazardous-drug
profile), create, change a draft, a new version, approve and retire. Parse, call
rxdesk.compounding services_formulas / queries_formulas, serialize.

Reading is compounding.view; writing a formula compounding.formula (pharmacists);
approving and retiring compounding.approve (the pharmacist-in-charge) — checked before the
body is read, and again by the services. Another pharmacy's formula does not exist here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.compounding import queries_formulas, services_formulas
from rxdesk.compounding.api_common import StrictIn, gate, user_of
from rxdesk.compounding.api_hd import HdProfileOut, profile_out
from rxdesk.compounding.models import FormulaIngredient, MasterFormula
from rxdesk.compounding.queries_hd import hd_profile
from rxdesk.core.capabilities import Cap

router = Router(tags=["compounding"])

CategoryIn = Literal["nonsterile", "immediate-use", "1", "2", "3"]
PreparationIn = Literal["", "aqueous", "nonaqueous-oral-liquid", "other-nonaqueous"]
SterilizationIn = Literal["", "filtration", "steam", "dry_heat", "irradiation"]
StorageIn = Literal["room", "refrigerator", "freezer"]
ContainerKindIn = Literal["", "single-dose", "multiple-dose"]
RoleIn = Literal["active", "vehicle", "diluent", "excipient", "preservative"]


# --- Schemas ----------------------------------------------------------------------------------


class IngredientIn(StrictIn):
    name: str = Field(..., description="As the formula names it, e.g. Hydrocortisone 2.5 % cream")
    quantity: Decimal = Field(..., description="For the formula's batch quantity; more than 0")
    unit: str = Field(..., description="A unit pint knows: g, mg, mL, each…")
    role: RoleIn = "active"
    product: int | None = Field(
        None,
        description="The catalog product taken from stock (its packages' billing unit must "
        "take this unit); blank for what is not stocked (water)",
    )
    quantity_sufficient: bool = Field(False, description="q.s.: at most one ingredient")
    note: str = ""


class FormulaIn(StrictIn):
    code: str = Field(..., description="Letters, digits and -, at most 30; kept upper case")
    name: str
    strength: str
    dosage_form: str
    route: str
    category: CategoryIn
    preparation: PreparationIn = Field("", description="Nonsterile only: the USP <795> Table 4 row")
    preserved: bool = False
    aseptic: bool = Field(True, description="Sterile: aseptically processed (else terminal)")
    sterilization: SterilizationIn = ""
    sterile_starting_components: bool = True
    sterility_tested: bool = False
    storage: StorageIn = "room"
    container_kind: ContainerKindIn = Field(
        "", description="Sterile Categories 1–3: single-dose or multiple-dose"
    )
    batch_quantity: Decimal
    batch_unit: str
    container: str = Field(..., description="Container-closure system")
    equipment: str = ""
    procedure: str
    calculations: str = ""
    quality_checks: str = Field("", description="One check per line: name = expected")
    physical_description: str = ""
    stability_days: int | None = None
    bud_rationale: str = ""
    references: str = ""
    labeling: str = Field("", description="Auxiliary statements, one per line")
    hazardous: bool = Field(
        False, description="Set by hand; set anyway when an ingredient's product is hazardous"
    )
    change_note: str = ""
    ingredients: list[IngredientIn]


class FormulaPatch(StrictIn):
    """Only the fields sent change; ``ingredients``, when sent, replaces the whole list."""

    name: str | None = None
    strength: str | None = None
    dosage_form: str | None = None
    route: str | None = None
    category: CategoryIn | None = None
    preparation: PreparationIn | None = None
    preserved: bool | None = None
    aseptic: bool | None = None
    sterilization: SterilizationIn | None = None
    sterile_starting_components: bool | None = None
    sterility_tested: bool | None = None
    storage: StorageIn | None = None
    container_kind: ContainerKindIn | None = None
    batch_quantity: Decimal | None = None
    batch_unit: str | None = None
    container: str | None = None
    equipment: str | None = None
    procedure: str | None = None
    calculations: str | None = None
    quality_checks: str | None = None
    physical_description: str | None = None
    stability_days: int | None = None
    bud_rationale: str | None = None
    references: str | None = None
    labeling: str | None = None
    hazardous: bool | None = None
    change_note: str | None = None
    ingredients: list[IngredientIn] | None = None


class VersionIn(StrictIn):
    change_note: str = Field(..., description="What changes in the new version")


class FormulaRetireIn(StrictIn):
    reason: str = Field(..., description="Why the formula is no longer used")


class FormulaListQuery(Schema):
    q: str = Field("", description="Words of the name or the code")
    status: Literal["draft", "approved", "retired"] | None = Field(
        None, description="Only versions of this status (the latest such of each code)"
    )
    code: str | None = Field(None, description="Every version of this code, newest first")


class FormulaIngredientOut(Schema):
    position: int
    name: str
    quantity: str
    unit: str
    role: str
    role_label: str
    quantity_sufficient: bool
    note: str
    product_id: int | None
    product_name: str
    hazardous: bool


class FormulaSummaryOut(Schema):
    id: int
    code: str
    version: int
    status: str
    status_label: str
    name: str
    strength: str
    dosage_form: str
    route: str
    category: str
    category_label: str
    storage: str
    batch_quantity: str
    batch_unit: str
    hazardous: bool
    created_by: str
    created_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None


class VersionOut(Schema):
    id: int
    version: int
    status: str
    change_note: str
    created_at: dt.datetime
    approved_at: dt.datetime | None


class FormulaOut(FormulaSummaryOut):
    preparation: str
    preserved: bool
    aseptic: bool
    sterilization: str
    sterile_starting_components: bool
    sterility_tested: bool
    container_kind: str
    container: str
    equipment: str
    procedure: str
    calculations: str
    quality_checks: str
    physical_description: str
    stability_days: int | None
    bud_rationale: str
    references: str
    labeling: str
    change_note: str
    supersedes_id: int | None
    ingredients: list[FormulaIngredientOut]
    versions: list[VersionOut]
    hd: HdProfileOut


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def summary_out(f: MasterFormula) -> dict[str, Any]:
    return {
        "id": f.pk,
        "code": f.code,
        "version": f.version,
        "status": f.status,
        "status_label": f.get_status_display(),
        "name": f.name,
        "strength": f.strength,
        "dosage_form": f.dosage_form,
        "route": f.route,
        "category": f.category,
        "category_label": f.get_category_display(),
        "storage": f.storage,
        "batch_quantity": _number(f.batch_quantity),
        "batch_unit": f.batch_unit,
        "hazardous": f.hazardous,
        "created_by": f.created_by.display_name,
        "created_at": f.created_at,
        "approved_by": f.approved_by.display_name if f.approved_by else None,
        "approved_at": f.approved_at,
    }


def _ingredient(i: FormulaIngredient) -> dict[str, Any]:
    return {
        "position": i.position,
        "name": i.name,
        "quantity": _number(i.quantity),
        "unit": i.unit,
        "role": i.role,
        "role_label": i.get_role_display(),
        "quantity_sufficient": i.quantity_sufficient,
        "note": i.note,
        "product_id": i.product_id,
        "product_name": i.product.name if i.product else "",
        "hazardous": bool(i.product and i.product.hazardous),
    }


def detail_out(f: MasterFormula) -> dict[str, Any]:
    ingredients = queries_formulas.formula_ingredients(f)
    return {
        **summary_out(f),
        **{
            name: getattr(f, name)
            for name in (
                "preparation",
                "preserved",
                "aseptic",
                "sterilization",
                "sterile_starting_components",
                "sterility_tested",
                "container_kind",
                "container",
                "equipment",
                "procedure",
                "calculations",
                "quality_checks",
                "physical_description",
                "stability_days",
                "bud_rationale",
                "references",
                "labeling",
                "change_note",
                "supersedes_id",
            )
        },
        "ingredients": [_ingredient(i) for i in ingredients],
        "versions": [
            {
                "id": v.pk,
                "version": v.version,
                "status": v.status,
                "change_note": v.change_note,
                "created_at": v.created_at,
                "approved_at": v.approved_at,
            }
            for v in queries_formulas.formula_versions(f)
        ],
        "hd": profile_out(hd_profile(f, ingredients=ingredients)),
    }


def _ingredients(rows: list[IngredientIn] | None) -> list[dict[str, Any]] | None:
    return None if rows is None else [r.model_dump() for r in rows]


# --- Operations -------------------------------------------------------------------------------


@router.get(
    "/formulas",
    response=list[FormulaSummaryOut],
    auth=gate(Cap.COMPOUNDING_VIEW),
    summary="Master formulas: the latest version of each code",
)
def formula_list(request: HttpRequest, q: Query[FormulaListQuery]) -> Any:
    rows = queries_formulas.formula_list(
        actor=user_of(request), q=q.q, status=q.status, code=q.code
    )
    return [summary_out(f) for f in rows]


@router.post(
    "/formulas",
    response={201: FormulaOut},
    auth=gate(Cap.COMPOUNDING_FORMULA),
    summary="Write a new master formula (draft version 1)",
    description="422 naming each field that breaks a rule (an ingredient's as "
    "ingredients[2].quantity), including a combination USP <795>/<797> gives no beyond-use "
    "date for.",
)
def formula_create(request: HttpRequest, payload: FormulaIn) -> Any:
    values = payload.model_dump(exclude={"ingredients"})
    made = services_formulas.formula_create(
        actor=user_of(request), ingredients=_ingredients(payload.ingredients) or [], **values
    )
    return Status(201, detail_out(made))


@router.get(
    "/formulas/{int:formula_id}",
    response=FormulaOut,
    auth=gate(Cap.COMPOUNDING_VIEW),
    summary="A master formula version with its ingredients, versions and HD profile",
)
def formula_read(request: HttpRequest, formula_id: int) -> Any:
    return detail_out(queries_formulas.formula_get(actor=user_of(request), formula_id=formula_id))


@router.patch(
    "/formulas/{int:formula_id}",
    response=FormulaOut,
    auth=gate(Cap.COMPOUNDING_FORMULA),
    summary="Change a draft formula (409 for an approved or retired version)",
)
def formula_update(request: HttpRequest, formula_id: int, payload: FormulaPatch) -> Any:
    actor = user_of(request)
    found = queries_formulas.formula_get(actor=actor, formula_id=formula_id)
    changes = payload.model_dump(exclude_unset=True, exclude={"ingredients"})
    if "ingredients" in payload.model_fields_set:
        changes["ingredients"] = _ingredients(payload.ingredients) or []
    done = services_formulas.formula_update(actor=actor, formula=found, **changes)
    return detail_out(done)


@router.post(
    "/formulas/{int:formula_id}/versions",
    response={201: FormulaOut},
    auth=gate(Cap.COMPOUNDING_FORMULA),
    summary="A new draft version copied from the code's approved version",
    description="409 when the code already has an open draft, or no approved version.",
)
def formula_new_version(request: HttpRequest, formula_id: int, payload: VersionIn) -> Any:
    actor = user_of(request)
    found = queries_formulas.formula_get(actor=actor, formula_id=formula_id)
    made = services_formulas.formula_new_version(
        actor=actor, formula=found, change_note=payload.change_note
    )
    return Status(201, detail_out(made))


@router.post(
    "/formulas/{int:formula_id}/approve",
    response=FormulaOut,
    auth=gate(Cap.COMPOUNDING_APPROVE),
    summary="Approve a draft (pharmacist-in-charge); the version it supersedes retires",
)
def formula_approve(request: HttpRequest, formula_id: int) -> Any:
    actor = user_of(request)
    found = queries_formulas.formula_get(actor=actor, formula_id=formula_id)
    return detail_out(services_formulas.formula_approve(actor=actor, formula=found))


@router.post(
    "/formulas/{int:formula_id}/retire",
    response=FormulaOut,
    auth=gate(Cap.COMPOUNDING_APPROVE),
    summary="Retire an approved formula no longer used (pharmacist-in-charge)",
)
def formula_retire(request: HttpRequest, formula_id: int, payload: FormulaRetireIn) -> Any:
    actor = user_of(request)
    found = queries_formulas.formula_get(actor=actor, formula_id=formula_id)
    done = services_formulas.formula_retire(actor=actor, formula=found, reason=payload.reason)
    return detail_out(done)
