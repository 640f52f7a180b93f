"""Recording staff competency evaluations (USP <797> 2023 personnel qualification, <795>,
<800>; reference compounding-storage.md §2.5): didactic training and tests, hand hygiene
and garbing with gloved fingertip and thumb sampling, media-fill tests, cleaning, and
hazardous-drug training.

A result is evidence: it is never edited or deleted. A wrong entry is answered by a new
evaluation. Whether a person may compound a category follows from the results
(rxdesk.compounding.competency, queries_competency)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from rxdesk.compounding import competency
from rxdesk.compounding.choices import CompetencyKind
from rxdesk.compounding.models import CompetencyResult
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize

register_actions(
    {"compounding.competency.recorded": "Staff competency evaluation recorded"},
)

EARLIEST = dt.date(2000, 1, 1)
NOTE_MAX = 500
# More colonies than any plate pair could be counted on: a typing error.
MAX_CFU = 9999


def _verdict_words(cfu: int, initial: bool, passed: bool) -> str:
    level = competency.INITIAL_GFT_MAX_CFU if initial else competency.ONGOING_GFT_MAX_CFU
    sample = "an initial garbing sample" if initial else "a garbing sample"
    verdict = "passes" if passed else "fails"
    return (
        f"With {cfu} CFU {sample} {verdict} (action level: more than {level} CFU, both "
        "hands); leave the verdict blank or correct the count."
    )


def competency_record(
    *,
    actor: User | None,
    person: User | None,
    kind: str,
    performed_on: dt.date,
    passed: bool | None = None,
    cfu: int | None = None,
    initial: bool = False,
    note: str = "",
) -> CompetencyResult:
    """Record one evaluation of ``person`` by ``actor`` (compounding.competency: a
    pharmacist or the pharmacist-in-charge). A fingertip and thumb sample's verdict comes
    from its count; every other kind needs ``passed``. Every field is checked before
    anything is written; one :class:`Invalid` names each bad one."""
    authorize(actor, Cap.COMPOUNDING_COMPETENCY)
    if actor is None:
        raise Invalid("An evaluation is recorded by its evaluator, signed in.", field="evaluator")
    site = actor.site
    if (
        not isinstance(person, User)
        or person.pk is None
        or person.site_id != site.pk
        or not person.is_active
    ):
        raise NotFound("No such member of staff at this pharmacy.")
    errors: list[dict[str, str]] = []

    def bad(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    if person.pk == actor.pk:
        bad("person", "You cannot evaluate yourself: another pharmacist records your result.")
    if kind not in CompetencyKind.values:
        bad("kind", "Choose the kind of evaluation.")
    if isinstance(performed_on, dt.datetime) or not isinstance(performed_on, dt.date):
        bad("performed_on", "Give the date of the evaluation.")
    elif performed_on > site.today():
        bad(
            "performed_on",
            f"{performed_on:%m/%d/%Y} is in the future; record an evaluation once it is done.",
        )
    elif performed_on < EARLIEST:
        bad("performed_on", f"The date must be on or after {EARLIEST:%m/%d/%Y}.")
    if not isinstance(initial, bool):
        bad("initial", "Answer yes or no.")
        initial = False
    if passed is not None and not isinstance(passed, bool):
        bad("passed", "Answer passed or failed.")
        passed = None
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        bad("note", f"A note is at most {NOTE_MAX} characters.")
        note = ""
    if kind == competency.GARBING_GFT:
        if cfu is None:
            bad("cfu", "Count the colonies on both hands' plates (CFU): the verdict comes from it.")
        elif isinstance(cfu, bool) or not isinstance(cfu, int) or not 0 <= cfu <= MAX_CFU:
            bad("cfu", f"The count is a whole number from 0 to {MAX_CFU}.")
        else:
            verdict = competency.gft_passed(cfu, initial=initial)
            if passed is not None and passed != verdict:
                bad("passed", _verdict_words(cfu, initial, verdict))
            passed = verdict
    elif kind in CompetencyKind.values:
        if cfu is not None:
            bad("cfu", "Only a fingertip and thumb sample has a colony count.")
        if initial:
            bad(
                "initial",
                "Only fingertip and thumb samples make up the initial garbing qualification.",
            )
        if passed is None:
            bad("passed", "Say whether the evaluation was passed or failed.")
    if errors:
        raise Invalid(errors=errors, field=errors[0]["field"])
    assert passed is not None
    with transaction.atomic():
        result = CompetencyResult.objects.create(
            site=site,
            person=person,
            kind=kind,
            performed_on=performed_on,
            passed=passed,
            initial=initial,
            cfu=cfu,
            evaluator=actor,
            evaluator_name=actor.display_name[:150],
            note=note.strip(),
        )
        audit_record(
            actor=actor,
            action="compounding.competency.recorded",
            site=site,
            obj=result,
            data={
                "person_id": person.pk,
                "person": person.username,
                "kind": kind,
                "performed_on": performed_on.isoformat(),
                "passed": passed,
                "cfu": cfu,
                "initial": initial,
            },
        )
    return result


def describe(result: CompetencyResult) -> str:
    """One line for a message: whose evaluation, what, when, the verdict."""
    verdict = "passed" if result.passed else "failed"
    count = f" ({result.cfu} CFU)" if result.cfu is not None else ""
    return (
        f"{result.person.display_name}: {result.get_kind_display().lower()} on "
        f"{result.performed_on:%m/%d/%Y}, {verdict}{count}."
    )
