"""Workstation pages of hazardous drugs (USP <800>): the pharmacy's HD list with receiving
and storage requirements and the assessments of risk with their review dates; the
pharmacist-in-charge's forms to write, review and retire an assessment. Parse, call,
render: the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.compounding import hd, queries_hd, services_hd
from rxdesk.compounding.models import RiskAssessment
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, text
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.inventory.services.common import package_of


@screen
def hd_list(request: HttpRequest) -> HttpResponse:
    """Every hazardous drug stocked or compounded here, with its assessment of risk (or
    why it has none) and review dates; what receiving and storage ask."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    found = queries_hd.hd_list(actor=actor)
    return render(
        request,
        "compounding/hd_list.html",
        {
            "hd": found,
            "receiving": hd.RECEIVING,
            "storage": hd.STORAGE,
            "may_approve": has(actor, Cap.COMPOUNDING_APPROVE),
        },
    )


class AssessmentForm(RxForm):
    FIELDSETS = (
        ("The drug", ("product", "ndc", "dosage_form", "packaging", "manipulation")),
        ("The risk and how it is contained", ("risk_of_exposure", "containment", "ppe")),
        ("Review", ("reviewed_on",)),
    )
    product = forms.ChoiceField(label="Hazardous drug on the list", required=False)
    ndc = text(40, label="…or its NDC (type or scan)", autocomplete="off")
    dosage_form = text(100, label="Dosage form", placeholder="tablet")
    packaging = text(200, label="Packaging", placeholder="bottle of 30, film-coated")
    manipulation = forms.ChoiceField(
        label="Handling", choices=[("", "— choose —"), *hd.MANIPULATIONS.items()], required=False
    )
    risk_of_exposure = text(500, label="Risk of exposure")
    containment = forms.CharField(
        label="Alternative containment and work practices",
        max_length=services_hd.TEXT_LIMITS["containment"],
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    ppe = text(300, label="PPE", placeholder="one pair of chemotherapy gloves")
    reviewed_on = DateField(label="Reviewed and approved on")

    def __init__(self, *args: Any, products: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["product"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "— choose —"), *products]


def _products(actor: User) -> list[tuple[str, str]]:
    return [
        (str(r.product.pk), f"{r.product.name} {r.product.strength} {r.product.dosage_form}")
        for r in queries_hd.hd_list(actor=actor).rows
    ]


@screen(methods=FORM)
def assessment_new(request: HttpRequest) -> HttpResponse:
    """The pharmacist-in-charge writes an assessment of risk."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_APPROVE)
    products = _products(actor)
    data = posted(request)
    if data is None:
        form = AssessmentForm(
            products=products,
            initial={"product": request.GET.get("product", ""), "reviewed_on": actor.site.today()},
        )
        return render(request, "compounding/hd_assessment_form.html", {"form": form})
    form = AssessmentForm(data, products=products)
    if form.is_valid():
        values = dict(form.cleaned_data)
        ndc = values.pop("ndc")
        try:
            if ndc:
                values["product"] = package_of(ndc, field="ndc").product
            made = services_hd.risk_assessment_create(actor=actor, **values)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                f"Assessment of risk for {made.product.name} {made.dosage_form} approved; "
                f"review it by {made.review_due:%m/%d/%Y}.",
            )
            return redirect("compounding_hd")
    return render(
        request,
        "compounding/hd_assessment_form.html",
        {"form": form},
        status=form.http_status(),
    )


class ReviewForm(RxForm):
    reviewed_on = DateField(label="Reviewed on")
    note = forms.CharField(
        label="What the review found",
        max_length=services_hd.NOTE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RetireForm(RxForm):
    reason = text(500, label="Why it is retired")


def _review_page(
    request: HttpRequest,
    actor: User,
    assessment: RiskAssessment,
    *,
    review: ReviewForm | None = None,
    retire: RetireForm | None = None,
    status: int = 200,
) -> HttpResponse:
    retire = retire or RetireForm()
    retire.fields["reason"].widget.attrs.pop("autofocus", None)
    context = {
        "a": queries_hd.assessment_view(assessment, actor.site.today()),
        "review": review or ReviewForm(initial={"reviewed_on": actor.site.today()}),
        "retire": retire,
    }
    return render(request, "compounding/hd_assessment_review.html", context, status=status)


@screen(methods=FORM)
def assessment_review(request: HttpRequest, pk: int) -> HttpResponse:
    """The yearly review of an assessment of risk (and the way to retire it)."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_APPROVE)
    found = queries_hd.assessment_get(actor=actor, assessment_id=pk)
    data = posted(request)
    if data is None:
        return _review_page(request, actor, found)
    form = ReviewForm(data)
    if form.is_valid():
        try:
            done = services_hd.risk_assessment_review(
                actor=actor,
                assessment=found,
                reviewed_on=form.cleaned_data["reviewed_on"],
                note=form.cleaned_data["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                f"Assessment of risk for {found.product.name} reviewed; next review by "
                f"{done.review_due:%m/%d/%Y}.",
            )
            return redirect("compounding_hd")
    return _review_page(request, actor, found, review=form, status=form.http_status())


@screen(methods=("POST",))
def assessment_retire(request: HttpRequest, pk: int) -> HttpResponse:
    """Retire an assessment of risk: the drug is handled with full containment again."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_APPROVE)
    found = queries_hd.assessment_get(actor=actor, assessment_id=pk)
    form = RetireForm(request.POST)
    if form.is_valid():
        try:
            services_hd.risk_assessment_retire(
                actor=actor, assessment=found, reason=form.cleaned_data["reason"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                f"Assessment of risk for {found.product.name} retired: full containment applies.",
            )
            return redirect("compounding_hd")
    return _review_page(request, actor, found, retire=form, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("hd/", hd_list, name="compounding_hd"),
    path("hd/assessments/new/", assessment_new, name="compounding_hd_assessment_new"),
    path(
        "hd/assessments/<int:pk>/review/",
        assessment_review,
        name="compounding_hd_assessment_review",
    ),
    path(
        "hd/assessments/<int:pk>/retire/",
        assessment_retire,
        name="compounding_hd_assessment_retire",
    ),
]
