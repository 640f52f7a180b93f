"""Workstation pages of master formulas: the list with its search, a new formula, one
formula (ingredients, scale preview, hazardous-drug box, versions) with its buttons, and
changing a draft. Parse, call, render: the services decide.

The ingredient table is server-rendered: a few blank rows, and a "more rows" button that
sends the form back to be shown with three more (nothing is saved then). A blank row is
ignored. An ingredient's catalog product is given by its NDC (typed or scanned)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.forms import formset_factory
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.catalog.models import Package
from rxdesk.compounding import bud, queries_formulas, services_formulas
from rxdesk.compounding.choices import (
    Category,
    ContainerKind,
    FormulaStatus,
    IngredientRole,
    Preparation,
    Sterilization,
    Storage,
)
from rxdesk.compounding.models import MasterFormula
from rxdesk.compounding.queries_hd import hd_profile
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, Invalid
from rxdesk.core.forms import FIELD_ERRORS, RxForm, bind_errors, flag, text
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.inventory.services.common import package_of

BLANK_ROWS = 3
MORE_ROWS = 3
MAX_ROWS = services_formulas.MAX_INGREDIENTS
ROWS_PREFIX = "ing"
_INGREDIENT_FIELD = re.compile(r"^ingredients\[(\d+)\](?:\.(\w+))?$")


def _textarea(label: str, rows: int = 3, *, required: bool = False, help_text: str = "") -> Any:
    return forms.CharField(
        label=label,
        required=required,
        help_text=help_text,
        max_length=services_formulas.LONG_MAX,
        strip=False,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


def _choice(choices: Any, label: str, *, blank: str | None = None) -> forms.ChoiceField:
    options = [(v, lbl) for v, lbl in choices if v != ""]
    if blank is not None:
        options = [("", blank), *options]
    return forms.ChoiceField(choices=options, label=label, required=False)


class FormulaForm(RxForm):
    """A master formulation record's fields (USP <795> §4.3, <797> §3.2)."""

    FIELDSETS = (
        (
            "Preparation",
            ("code", "name", "strength", "dosage_form", "route", "category", "storage"),
        ),
        (
            "Beyond-use date",
            (
                "preparation",
                "preserved",
                "container_kind",
                "aseptic",
                "sterilization",
                "sterile_starting_components",
                "sterility_tested",
                "stability_days",
                "bud_rationale",
            ),
        ),
        ("Batch and container", ("batch_quantity", "batch_unit", "container")),
        (
            "How it is made",
            ("equipment", "procedure", "calculations", "quality_checks", "physical_description"),
        ),
        ("Labeling and references", ("labeling", "references", "hazardous", "change_note")),
    )

    code = text(30, required=True, label="Code", placeholder="HC1CR", autocomplete="off")
    name = text(200, required=True, label="Name")
    strength = text(80, required=True, label="Strength", placeholder="1 %")
    dosage_form = text(80, required=True, label="Dosage form", placeholder="cream")
    route = text(60, required=True, label="Route", placeholder="topical")
    category = forms.ChoiceField(choices=Category.choices, label="Category")
    storage = forms.ChoiceField(choices=Storage.choices, label="Storage")
    preparation = _choice(
        Preparation.choices, "Nonsterile kind (USP <795> Table 4)", blank="— sterile —"
    )
    preserved = flag("Contains an antimicrobial preservative")
    container_kind = _choice(
        ContainerKind.choices, "Sterile: labeled as", blank="— nonsterile / immediate use —"
    )
    aseptic = flag("Sterile: aseptically processed", "Unchecked: terminally sterilized.")
    sterilization = _choice(Sterilization.choices, "Sterilization method", blank="— none —")
    sterile_starting_components = flag("Sterile: only sterile starting components")
    sterility_tested = flag("Sterile: sterility tested (USP <71>)")
    stability_days = text(5, label="Stability limit, days (if shorter)", inputmode="numeric")
    bud_rationale = _textarea("Beyond-use date rationale", 2)
    batch_quantity = text(20, required=True, label="Batch quantity", inputmode="decimal")
    batch_unit = text(20, required=True, label="Batch unit", placeholder="g, mL, each")
    container = text(200, required=True, label="Container-closure")
    equipment = _textarea("Equipment", 2)
    procedure = _textarea("Procedure, step by step", 6, required=True)
    calculations = _textarea("Calculations", 3)
    quality_checks = _textarea("Quality checks", 3, help_text="One per line: name = expected.")
    physical_description = text(300, label="Physical description of the finished preparation")
    labeling = _textarea("Labeling (auxiliary statements)", 2, help_text="One per line.")
    references = _textarea("References", 2)
    hazardous = flag(
        "Hazardous drug (USP <800>)", "Set anyway when an ingredient is hazardous in the catalog."
    )
    change_note = text(500, label="Change note")

    def values(self) -> dict[str, Any]:
        """The cleaned values as the formula services take them."""
        data = dict(self.cleaned_data)
        data.pop("code", None)
        return data


class IngredientRow(forms.Form):
    """One ingredient line; every cell optional here (a blank row is skipped, the service
    names what a filled row lacks)."""

    name = forms.CharField(max_length=200, required=False, label="Ingredient")
    quantity = forms.CharField(
        max_length=20, required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    unit = forms.CharField(max_length=20, required=False)
    role = forms.ChoiceField(choices=IngredientRole.choices, required=False)
    ndc = forms.CharField(
        max_length=40, required=False, label="NDC (scan)", widget=forms.TextInput(attrs={})
    )
    quantity_sufficient = forms.BooleanField(required=False, label="q.s.")
    note = forms.CharField(max_length=200, required=False)

    def is_blank(self) -> bool:
        values = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return not any(values.get(k) for k in ("name", "quantity", "unit", "ndc", "note"))


IngredientRows = formset_factory(IngredientRow, extra=0, max_num=MAX_ROWS, absolute_max=MAX_ROWS)


def _rows_initial(formula: MasterFormula | None) -> list[dict[str, Any]]:
    initial: list[dict[str, Any]] = []
    if formula is not None:
        packages = {
            p.product_id: p.ndc10
            for p in Package.objects.filter(
                product_id__in=[i.product_id for i in formula.ingredients.all() if i.product_id]
            ).order_by("-active", "ndc11")
        }
        for i in queries_formulas.formula_ingredients(formula):
            initial.append(
                {
                    "name": i.name,
                    "quantity": f"{i.quantity.normalize():f}",
                    "unit": i.unit,
                    "role": i.role,
                    "ndc": packages.get(i.product_id, "") if i.product_id else "",
                    "quantity_sufficient": i.quantity_sufficient,
                    "note": i.note,
                }
            )
    return initial + [{"role": IngredientRole.ACTIVE.value}] * BLANK_ROWS


def _with_more_rows(data: QueryDict) -> QueryDict:
    copy = data.copy()
    key = f"{ROWS_PREFIX}-TOTAL_FORMS"
    try:
        total = int(copy.get(key, "0"))
    except ValueError:
        total = 0
    copy[key] = str(min(max(total, 0) + MORE_ROWS, MAX_ROWS))
    return copy


def _ingredients(rows: Any) -> tuple[list[dict[str, Any]], list[int], bool]:
    """The filled rows as the services take them, the form index of each, and whether an
    NDC could not be found (its row says why)."""
    out: list[dict[str, Any]] = []
    kept: list[int] = []
    bad = False
    for index, row in enumerate(rows.forms):
        if not row.is_valid() or row.is_blank():
            continue
        values = row.cleaned_data
        product = None
        if values["ndc"]:
            try:
                product = package_of(values["ndc"], field="ndc").product
            except Invalid as exc:
                row.add_error("ndc", exc.message)
                bad = True
        out.append(
            {
                "name": values["name"],
                "quantity": values["quantity"],
                "unit": values["unit"],
                "role": values["role"] or IngredientRole.ACTIVE.value,
                "product": product,
                "quantity_sufficient": values["quantity_sufficient"],
                "note": values["note"],
            }
        )
        kept.append(index)
    return out, kept, bad


def _bind(form: FormulaForm, rows: Any, kept: list[int], exc: DomainError) -> None:
    """A service's errors beside the fields they name: the formula's on the form, an
    ingredient's on its row."""
    errors = exc.errors or [{"field": exc.field or "", "message": exc.message}]
    rest = []
    for error in errors:
        match = _INGREDIENT_FIELD.match(error.get("field") or "")
        if match and int(match[1]) < len(kept):
            row = rows.forms[kept[int(match[1])]]
            name = {"product": "ndc"}.get(match[2] or "", match[2] or "")
            row.add_error(name if name in row.fields else None, error["message"])
        else:
            rest.append(error)
    if rest:
        bind_errors(form, type(exc)("", field=rest[0]["field"], errors=rest))
    form.error_status = exc.status


def _rows_have_errors(rows: Any) -> bool:
    return any(row.errors for row in rows.forms)


def _form_page(
    request: HttpRequest,
    *,
    form: FormulaForm,
    rows: Any,
    formula: MasterFormula | None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "compounding/formula_form.html",
        {"form": form, "rows": rows, "formula": formula},
        status=status,
    )


def _edit_form(data: Any = None, **kwargs: Any) -> FormulaForm:
    form = FormulaForm(data, **kwargs)
    del form.fields["code"]
    form.fields["name"].widget.attrs["autofocus"] = True
    return form


@screen(methods=FORM)
def formula_new(request: HttpRequest) -> HttpResponse:
    """Write a new master formula (a draft the pharmacist-in-charge approves)."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_FORMULA)
    data = posted(request)
    if data is None:
        form = FormulaForm(
            initial={"aseptic": True, "sterile_starting_components": True, "storage": "room"}
        )
        return _form_page(
            request,
            form=form,
            rows=IngredientRows(prefix=ROWS_PREFIX, initial=_rows_initial(None)),
            formula=None,
        )
    if "more" in data:
        return _more(request, data, formula=None)
    form = FormulaForm(data)
    rows = IngredientRows(data, prefix=ROWS_PREFIX)
    ingredients, kept, bad = _ingredients(rows)
    if form.is_valid() and rows.is_valid() and not bad:
        try:
            made = services_formulas.formula_create(
                actor=actor,
                code=form.cleaned_data["code"],
                ingredients=ingredients,
                **form.values(),
            )
        except FIELD_ERRORS as exc:
            _bind(form, rows, kept, exc)
        else:
            messages.success(
                request,
                f"{made.code} version 1 saved as a draft; the pharmacist-in-charge approves it "
                "before it is used.",
            )
            return redirect("compounding_formula", pk=made.pk)
    return _form_page(request, form=form, rows=rows, formula=None, status=form.error_status)


def _more(request: HttpRequest, data: QueryDict, *, formula: MasterFormula | None) -> HttpResponse:
    """Show the form again as typed, with more blank ingredient rows; nothing is saved."""
    more = _with_more_rows(data)
    form = _edit_form(more) if formula is not None else FormulaForm(more)
    rows = IngredientRows(more, prefix=ROWS_PREFIX)
    form.is_valid()  # show what does not parse, as on a save
    return _form_page(request, form=form, rows=rows, formula=formula)


@screen(methods=FORM)
def formula_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a draft formula; an approved one is changed by a new version."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_FORMULA)
    formula = queries_formulas.formula_get(actor=actor, formula_id=pk)
    if formula.status != FormulaStatus.DRAFT:
        messages.warning(
            request,
            f"Version {formula.version} of {formula.code} is {formula.get_status_display().lower()}"
            " and cannot be changed: make a new version.",
        )
        return redirect("compounding_formula", pk=formula.pk)
    data = posted(request)
    if data is None:
        initial = {name: getattr(formula, name) for name in services_formulas.FIELDS}
        initial["batch_quantity"] = f"{formula.batch_quantity.normalize():f}"
        form = _edit_form(initial=initial)
        rows = IngredientRows(prefix=ROWS_PREFIX, initial=_rows_initial(formula))
        return _form_page(request, form=form, rows=rows, formula=formula)
    if "more" in data:
        return _more(request, data, formula=formula)
    form = _edit_form(data)
    rows = IngredientRows(data, prefix=ROWS_PREFIX)
    ingredients, kept, bad = _ingredients(rows)
    if form.is_valid() and rows.is_valid() and not bad:
        try:
            services_formulas.formula_update(
                actor=actor, formula=formula, ingredients=ingredients, **form.values()
            )
        except FIELD_ERRORS as exc:
            _bind(form, rows, kept, exc)
        else:
            messages.success(request, f"Draft version {formula.version} of {formula.code} saved.")
            return redirect("compounding_formula", pk=formula.pk)
    return _form_page(request, form=form, rows=rows, formula=formula, status=form.error_status)


class ScaleForm(forms.Form):
    quantity = forms.CharField(
        max_length=20,
        required=False,
        label="Make",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8}),
    )
    unit = forms.CharField(
        max_length=20, required=False, label="Unit", widget=forms.TextInput(attrs={"size": 6})
    )


class VersionForm(RxForm):
    change_note = text(500, label="What changes in the new version")


class RetireForm(RxForm):
    reason = text(500, label="Why it is retired")


def _detail(
    request: HttpRequest,
    actor: User,
    formula: MasterFormula,
    *,
    version_form: VersionForm | None = None,
    retire_form: RetireForm | None = None,
    status: int = 200,
) -> HttpResponse:
    version_form = version_form or VersionForm()
    retire_form = retire_form or RetireForm()
    # The forms of the buttons are not where the page's focus belongs.
    for form in (version_form, retire_form):
        for field in form.fields.values():
            field.widget.attrs.pop("autofocus", None)
    ingredients = queries_formulas.formula_ingredients(formula)
    scale = ScaleForm(request.GET or None, initial={"unit": formula.batch_unit})
    preview, scale_error = None, ""
    if scale.is_bound and scale.is_valid() and scale.cleaned_data["quantity"]:
        try:
            preview = queries_formulas.scale_preview(
                formula,
                scale.cleaned_data["quantity"],
                scale.cleaned_data["unit"],
                ingredients=ingredients,
            )
        except Invalid as exc:
            scale_error = exc.message
    rule: bud.Bud | None
    try:
        rule = queries_formulas.bud_preview(formula)
    except bud.BudNotAllowed:
        rule = None
    draft = queries_formulas.open_draft(formula)
    context = {
        "f": formula,
        "ingredients": ingredients,
        "versions": queries_formulas.formula_versions(formula),
        "hd": hd_profile(formula, ingredients=ingredients),
        "scale": scale,
        "preview": preview,
        "scale_error": scale_error,
        "bud": rule,
        "draft": draft,
        "may_write": has(actor, Cap.COMPOUNDING_FORMULA),
        "may_approve": has(actor, Cap.COMPOUNDING_APPROVE),
        "version_form": version_form,
        "retire_form": retire_form,
        "quality_checks": [line for line in formula.quality_checks.splitlines() if line.strip()],
        "labeling": [line for line in formula.labeling.splitlines() if line.strip()],
    }
    return render(request, "compounding/formula_detail.html", context, status=status)


@screen
def formula_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One formula version: what it is, its ingredients scaled to a typed quantity, its
    hazardous-drug handling, its versions, and the buttons its state allows."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    return _detail(request, actor, queries_formulas.formula_get(actor=actor, formula_id=pk))


@screen(methods=("POST",))
def formula_version(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a new draft version from the approved one."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_FORMULA)
    formula = queries_formulas.formula_get(actor=actor, formula_id=pk)
    form = VersionForm(request.POST)
    if form.is_valid():
        try:
            made = services_formulas.formula_new_version(
                actor=actor, formula=formula, change_note=form.cleaned_data["change_note"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Draft version {made.version} of {made.code} started.")
            return redirect("compounding_formula_edit", pk=made.pk)
    return _detail(request, actor, formula, version_form=form, status=form.error_status)


@screen(methods=("POST",))
def formula_approve(request: HttpRequest, pk: int) -> HttpResponse:
    """The pharmacist-in-charge approves the draft."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_APPROVE)
    formula = queries_formulas.formula_get(actor=actor, formula_id=pk)
    try:
        done = services_formulas.formula_approve(actor=actor, formula=formula)
    except FIELD_ERRORS as exc:
        for error in exc.errors or [{"field": "", "message": exc.message}]:
            messages.error(request, error["message"])
        return redirect("compounding_formula", pk=formula.pk)
    messages.success(request, f"Version {done.version} of {done.code} approved: now in use.")
    return redirect("compounding_formula", pk=done.pk)


@screen(methods=("POST",))
def formula_retire(request: HttpRequest, pk: int) -> HttpResponse:
    """The pharmacist-in-charge retires an approved formula."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_APPROVE)
    formula = queries_formulas.formula_get(actor=actor, formula_id=pk)
    form = RetireForm(request.POST)
    if form.is_valid():
        try:
            done = services_formulas.formula_retire(
                actor=actor, formula=formula, reason=form.cleaned_data["reason"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"Version {done.version} of {done.code} retired.")
            return redirect("compounding_formula", pk=done.pk)
    return _detail(request, actor, formula, retire_form=form, status=form.error_status)


class SearchForm(forms.Form):
    q = forms.CharField(max_length=100, required=False, label="Search formulas")
    status = forms.ChoiceField(
        choices=[("", "Latest version"), *FormulaStatus.choices], required=False
    )


@screen
def formula_list(request: HttpRequest) -> HttpResponse:
    """The formulas of the pharmacy, the latest version of each code, searchable."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    search = SearchForm(request.GET or None)
    q, status = "", ""
    if search.is_bound and search.is_valid():
        q, status = search.cleaned_data["q"], search.cleaned_data["status"]
    rows = queries_formulas.formula_list(actor=actor, q=q, status=status or None)
    return render(
        request,
        "compounding/formula_list.html",
        {
            "search": search,
            "rows": rows,
            "q": q,
            "status": status,
            "statuses": FormulaStatus.choices,
            "may_write": has(actor, Cap.COMPOUNDING_FORMULA),
        },
    )


urlpatterns: list[URLPattern] = [
    path("formulas/", formula_list, name="compounding_formulas"),
    path("formulas/new/", formula_new, name="compounding_formula_new"),
    path("formulas/<int:pk>/", formula_detail, name="compounding_formula"),
    path("formulas/<int:pk>/edit/", formula_edit, name="compounding_formula_edit"),
    path("formulas/<int:pk>/version/", formula_version, name="compounding_formula_version"),
    path("formulas/<int:pk>/approve/", formula_approve, name="compounding_formula_approve"),
    path("formulas/<int:pk>/retire/", formula_retire, name="compounding_formula_retire"),
]
