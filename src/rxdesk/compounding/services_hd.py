"""Hazardous drugs (USP <800>, reference §5): the pharmacist-in-charge's assessments of risk
(AoR) — how a hazardous drug in one dosage form, handled one way, is kept from staff without
full containment — written, reviewed at least every 12 months, and retired.

An AoR is only for a drug the catalog flags hazardous (NIOSH), and never for what <800>
keeps under full containment: a hazardous active pharmaceutical ingredient (bulk), or an
antineoplastic manipulated beyond counting or repackaging its final dosage form.

A formula's hazardous-drug profile is a read (:func:`rxdesk.compounding.queries_hd.hd_profile`,
also importable from here)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db import transaction

from rxdesk.catalog.models import Product
from rxdesk.compounding import hd
from rxdesk.compounding.competency import add_months
from rxdesk.compounding.models import RiskAssessment
from rxdesk.compounding.queries_hd import HdProfile, hd_profile, is_bulk, manipulation_label
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize

__all__ = [
    "REVIEW_MONTHS",
    "HdProfile",
    "hd_profile",
    "risk_assessment_create",
    "risk_assessment_retire",
    "risk_assessment_review",
]

register_actions(
    {
        "compounding.hd.assessment_created": "Hazardous drug: assessment of risk approved",
        "compounding.hd.assessment_reviewed": "Hazardous drug: assessment of risk reviewed",
        "compounding.hd.assessment_retired": "Hazardous drug: assessment of risk retired",
    }
)

REVIEW_MONTHS = 12
TEXT_LIMITS = {
    "dosage_form": 100,
    "packaging": 200,
    "risk_of_exposure": 500,
    "containment": 4000,
    "ppe": 300,
}
NOTE_MAX = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _signed_in(actor: User | None) -> User:
    if actor is None:
        raise Forbidden("Sign in: an assessment of risk names the pharmacist who approved it.")
    return actor


def _site(actor: User, site: Site | None) -> Site:
    if site is not None and site.pk != actor.site_id:
        raise Forbidden("You can only keep your own pharmacy's assessments of risk.")
    return actor.site


def _own(actor: User, assessment: RiskAssessment) -> None:
    if assessment.site_id != actor.site_id:
        raise NotFound("No such assessment of risk at this pharmacy.")


def _date(value: Any, field: str, errors: list[dict[str, str]]) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        errors.append({"field": field, "message": "Give the date as YYYY-MM-DD."})
        return None


def _review_date(
    value: Any, site: Site, errors: list[dict[str, str]], *, after: dt.date | None = None
) -> tuple[dt.date | None, dt.date | None]:
    """The review date (not in the future, not before ``after``) and the next one due."""
    day = _date(value, "reviewed_on", errors)
    if day is None:
        return None, None
    today = site.today()
    if day > today:
        errors.append(
            {
                "field": "reviewed_on",
                "message": f"{day:%m/%d/%Y} is after today: record a review once it is done.",
            }
        )
        return None, None
    if after is not None and day < after:
        errors.append(
            {
                "field": "reviewed_on",
                "message": f"The last review was on {after:%m/%d/%Y}; a new one comes after it.",
            }
        )
        return None, None
    due = add_months(day, REVIEW_MONTHS)
    if due < today:
        errors.append(
            {
                "field": "reviewed_on",
                "message": f"A review on {day:%m/%d/%Y} was due again on {due:%m/%d/%Y}, "
                "already past: review it now and give today's date.",
            }
        )
        return None, None
    return day, due


def _product(value: Any, errors: list[dict[str, str]]) -> Product | None:
    if isinstance(value, Product):
        return value
    try:
        pk = int(str(value))
    except ValueError:
        pk = 0
    found = Product.objects.filter(pk=pk).first() if 0 < pk < 2**63 else None
    if found is None:
        errors.append({"field": "product", "message": "Pick a drug from the catalog."})
    return found


def _raise(errors: list[dict[str, str]]) -> None:
    if errors:
        message = errors[0]["message"] if len(errors) == 1 else ""
        raise Invalid(message, field=errors[0]["field"], errors=errors)


def risk_assessment_create(
    *,
    actor: User | None,
    product: Product | int | str,
    dosage_form: str,
    packaging: str,
    manipulation: str,
    risk_of_exposure: str,
    containment: str,
    ppe: str,
    reviewed_on: dt.date | str,
    site: Site | None = None,
) -> RiskAssessment:
    """The pharmacist-in-charge approves an assessment of risk for a hazardous drug in a
    dosage form and a manipulation (one of :data:`hd.MANIPULATIONS`); it is due for review
    12 months after ``reviewed_on``."""
    authorize(actor, Cap.COMPOUNDING_APPROVE)
    approver = _signed_in(actor)
    where = _site(approver, site)
    errors: list[dict[str, str]] = []
    drug = _product(product, errors)
    texts: dict[str, str] = {}
    for name, value in (
        ("dosage_form", dosage_form),
        ("packaging", packaging),
        ("risk_of_exposure", risk_of_exposure),
        ("containment", containment),
        ("ppe", ppe),
    ):
        text = str(value or "").replace("\r\n", "\n").strip()
        if name != "containment":
            text = " ".join(text.split())
        words = "PPE" if name == "ppe" else name.replace("_", " ")
        if not text:
            errors.append({"field": name, "message": f"Give the {words}."})
        elif len(text) > TEXT_LIMITS[name] or _CONTROL.search(text):
            errors.append(
                {"field": name, "message": f"Keep it to {TEXT_LIMITS[name]} plain characters."}
            )
        texts[name] = text
    if manipulation not in hd.MANIPULATIONS:
        errors.append(
            {
                "field": "manipulation",
                "message": "Choose the handling: " + "; ".join(hd.MANIPULATIONS.values()) + ".",
            }
        )
    if drug is not None:
        if not drug.hazardous:
            errors.append(
                {
                    "field": "product",
                    "message": f"{drug.name} is not a hazardous drug in the catalog (NIOSH); "
                    "it needs no assessment of risk.",
                }
            )
        elif manipulation in hd.MANIPULATIONS:
            refusal = hd.assessment_refusal(
                substances=drug.substances, bulk=is_bulk(drug), manipulation=manipulation
            )
            if refusal:
                errors.append(
                    {
                        "field": "manipulation" if not is_bulk(drug) else "product",
                        "message": refusal,
                    }
                )
    day, due = _review_date(reviewed_on, where, errors)
    _raise(errors)
    assert drug is not None and day is not None and due is not None
    with transaction.atomic():
        twin = RiskAssessment.objects.filter(
            site=where,
            product=drug,
            dosage_form__iexact=texts["dosage_form"],
            manipulation=manipulation,
            active=True,
        ).first()
        if twin is not None:
            raise Conflict(
                f"{drug.name} {texts['dosage_form']} ({manipulation_label(manipulation).lower()}) "
                f"already has an assessment of risk, due {twin.review_due:%m/%d/%Y}; review it "
                "instead.",
                field="product",
                assessment_id=twin.pk,
            )
        assessment = RiskAssessment.objects.create(
            site=where,
            product=drug,
            manipulation=manipulation,
            reviewed_on=day,
            review_due=due,
            approved_by=approver,
            approved_by_name=approver.display_name[:150],
            **texts,
        )
        audit_record(
            actor=approver,
            site=where,
            action="compounding.hd.assessment_created",
            obj=assessment,
            data={
                "product_id": drug.pk,
                "product": drug.name,
                "dosage_form": assessment.dosage_form,
                "manipulation": manipulation,
                "reviewed_on": day,
                "review_due": due,
            },
        )
    return assessment


def risk_assessment_review(
    *,
    actor: User | None,
    assessment: RiskAssessment,
    reviewed_on: dt.date | str,
    note: str = "",
) -> RiskAssessment:
    """The pharmacist-in-charge reviewed the assessment and it still holds: the next review
    is due 12 months later. What the review found goes in the note (the audit log keeps it);
    an assessment that no longer holds is retired and written anew."""
    authorize(actor, Cap.COMPOUNDING_APPROVE)
    approver = _signed_in(actor)
    _own(approver, assessment)
    errors: list[dict[str, str]] = []
    text = " ".join(str(note or "").split())
    if len(text) > NOTE_MAX or _CONTROL.search(text):
        errors.append({"field": "note", "message": f"Keep the note to {NOTE_MAX} characters."})
    with transaction.atomic():
        current = RiskAssessment.objects.select_for_update().get(pk=assessment.pk)
        if not current.active:
            raise Conflict(
                "This assessment of risk is retired; write a new one.", field="reviewed_on"
            )
        day, due = _review_date(reviewed_on, current.site, errors, after=current.reviewed_on)
        _raise(errors)
        assert day is not None and due is not None
        before = (current.reviewed_on, current.review_due)
        current.reviewed_on, current.review_due = day, due
        current.approved_by = approver
        current.approved_by_name = approver.display_name[:150]
        current.save(update_fields=["reviewed_on", "review_due", "approved_by", "approved_by_name"])
        audit_record(
            actor=approver,
            site=current.site,
            action="compounding.hd.assessment_reviewed",
            obj=current,
            data={
                "product_id": current.product_id,
                "changes": {
                    "reviewed_on": [before[0], day],
                    "review_due": [before[1], due],
                },
            },
            reason=text,
        )
    return current


def risk_assessment_retire(
    *, actor: User | None, assessment: RiskAssessment, reason: str
) -> RiskAssessment:
    """The pharmacist-in-charge withdraws an assessment (the drug is no longer stocked, or
    the handling changed): from then on the drug is handled with full containment."""
    authorize(actor, Cap.COMPOUNDING_APPROVE)
    approver = _signed_in(actor)
    _own(approver, assessment)
    text = " ".join(str(reason or "").split())
    if not text:
        raise Invalid("Say why the assessment of risk is retired.", field="reason")
    if len(text) > NOTE_MAX or _CONTROL.search(text):
        raise Invalid(f"Keep the reason to {NOTE_MAX} characters.", field="reason")
    with transaction.atomic():
        current = RiskAssessment.objects.select_for_update().get(pk=assessment.pk)
        if not current.active:
            raise Conflict("This assessment of risk is already retired.", field="reason")
        current.active = False
        current.save(update_fields=["active"])
        audit_record(
            actor=approver,
            site=current.site,
            action="compounding.hd.assessment_retired",
            obj=current,
            data={"product_id": current.product_id, "dosage_form": current.dosage_form},
            reason=text,
        )
    return current
