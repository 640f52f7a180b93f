"""Compounding records (USP <795> §4.4 and <797> §3.3 of the reference): start one from an
approved master formula, record what was weighed or measured, the quality checks, submit it,
have a second person — a pharmacist — verify or reject it, and print its label.

Starting a record is the one step that moves stock: every component's lot (scanned, or first
expiry first out) is taken out of the ledger with the reason "Used in compounding", in the
same transaction that writes the record, its components and the beyond-use date computed by
rule (rxdesk.compounding.bud). A record is refused before anything is written when the person
compounding is not currently competent for the category (USP <797> §2.5), the formula is not
approved, a lot is expired, recalled or short, an opened source is past its in-use time, or
the primary engineering control is not certified. A rejected record keeps its stock moves:
what was used is used."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.calc import units
from rxdesk.calc.units import Step, UnitError
from rxdesk.compounding import bud, labels, queries_hd
from rxdesk.compounding import queries_records as queries
from rxdesk.compounding.choices import (
    STERILE_CATEGORIES,
    Category,
    FormulaStatus,
    IsoClass,
    RecordStatus,
    SourceContainer,
)
from rxdesk.compounding.models import (
    Certification,
    CompoundingRecord,
    EngineeringControl,
    FormulaIngredient,
    MasterFormula,
    QualityCheck,
    RecordComponent,
    Room,
)
from rxdesk.compounding.queries_competency import lapses_for
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Prescription

register_actions(
    {
        "compounding.record.started": "Compounding record started (components taken from stock)",
        "compounding.record.measured": "Compounding component weighed or measured",
        "compounding.record.checked": "Compounding quality check recorded",
        "compounding.record.submitted": "Compounding record submitted for verification",
        "compounding.record.verified": "Compounded preparation verified by a pharmacist",
        "compounding.record.rejected": "Compounded preparation rejected",
        "compounding.record.labeled": "Compounded preparation label printed",
    }
)

# A measurement this far off what the formula asks needs a deviation note (a common
# in-house tolerance for weighing and measuring; the MFR's own limits may be tighter).
TOLERANCE = Decimal("0.05")
# The preparation time is when the BUD clock starts: a clock a few minutes ahead is a
# workstation's drift, more is a typing error; a record is written the day it is made.
FUTURE_SLACK = dt.timedelta(minutes=5)
PAST_LIMIT = dt.timedelta(hours=24)
LOT_PREFIX = "C"
LOT_ATTEMPTS = 8
NAME_MAX, RESULT_MAX, REASON_MAX, NOTE_MAX, DESCRIPTION_MAX = 120, 200, 500, 500, 300
QUANTITY_LIMIT = Decimal(10) ** 8  # DecimalField(12, 4)
MEASURE_LIMIT = Decimal(10) ** 10  # DecimalField(14, 4)
SOURCE_KINDS = frozenset(c.value for c in SourceContainer if c.value)
PEC_CATEGORIES = frozenset({Category.CATEGORY_1, Category.CATEGORY_2, Category.CATEGORY_3})
OPEN = (RecordStatus.IN_PROGRESS, RecordStatus.AWAITING_VERIFICATION)


# --- Helpers -------------------------------------------------------------------------------------


def _signed_in(actor: User | None) -> User:
    if actor is None:
        raise Forbidden("Sign in: a compounding record names the people who made and checked it.")
    return actor


def _locked(record: CompoundingRecord, site: Site) -> CompoundingRecord:
    """The record as committed now (row-locked on PostgreSQL); 404 for another pharmacy's."""
    found = (
        CompoundingRecord.objects.select_for_update(of=("self",))
        .select_related("formula", "site")
        .filter(pk=record.pk, site=site)
        .first()
    )
    if found is None:
        raise NotFound("No such compounding record at this pharmacy.")
    return found


def _need_status(record: CompoundingRecord, allowed: tuple[str, ...], doing: str) -> None:
    if record.status not in allowed:
        raise Conflict(
            f"Record {record.lot_number} is {record.get_status_display().lower()}: it cannot "
            f"be {doing} now.",
            field="record",
        )


def _text(value: Any, *, field: str, limit: int, required: bool = False, what: str = "") -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        raise Invalid(f"Enter {what or field.replace('_', ' ')}.", field=field)
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return text


def _decimal(value: Any, *, field: str, limit: Decimal, places: int = 4) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid(f"{value!r} is not a number.", field=field) from None
    if not number.is_finite():
        raise Invalid("Enter a number.", field=field)
    if number <= 0:
        raise Invalid("It must be more than zero.", field=field)
    if number >= limit:
        raise Invalid("That is too large.", field=field)
    quantum = Decimal(1).scaleb(-places)
    if number != number.quantize(quantum):
        raise Invalid(f"Use at most {places} decimal places.", field=field)
    return number.quantize(quantum)


def _local(site: Site, when: dt.datetime) -> str:
    return f"{when.astimezone(site.tz):%m/%d/%Y %H:%M}"


def category_words(category: str) -> str:
    words: dict[str, str] = {
        Category.NONSTERILE: "nonsterile preparations",
        Category.IMMEDIATE_USE: "immediate-use sterile preparations",
    }
    return words.get(category, f"Category {category}")


# --- Checks before a record is started ---------------------------------------------------------


def _check_formula(formula: MasterFormula, site: Site) -> None:
    if formula.site_id != site.pk:
        raise NotFound("No such formula at this pharmacy.", field="formula")
    if formula.status == FormulaStatus.APPROVED:
        return
    name = f"{formula.name} {formula.strength} {formula.dosage_form} (version {formula.version})"
    if formula.status == FormulaStatus.DRAFT:
        raise Invalid(
            f"{name} is a draft: the pharmacist-in-charge approves a formula before anything "
            "is compounded from it.",
            field="formula",
        )
    newer = (
        MasterFormula.objects.filter(site=site, code=formula.code, status=FormulaStatus.APPROVED)
        .values_list("version", flat=True)
        .first()
    )
    tail = f" Use version {newer}." if newer else ""
    raise Invalid(f"{name} is retired and may not be used.{tail}", field="formula")


def _check_person(person: User, formula: MasterFormula, site: Site) -> None:
    """The person compounding: staff of this pharmacy who may compound, with a current
    credential and current competency for the formula's category (USP <797> §2.5)."""
    if person.site_id != site.pk:
        raise NotFound("No such staff member at this pharmacy.", field="compounded_by")
    name = person.display_name
    if not person.is_active:
        raise Invalid(f"{name}'s account is not active.", field="compounded_by")
    if not has(person, Cap.COMPOUNDING_MAKE):
        raise Invalid(
            f"{name} is a {person.role_label.lower()}: that role does not compound.",
            field="compounded_by",
        )
    problem = person.credential_problem()
    if problem:
        raise Invalid(f"{name} cannot compound: {problem}", field="compounded_by")
    problems = lapses_for(person, formula.category, hazardous=formula.hazardous, today=site.today())
    if problems:
        raise Invalid(
            f"{name} cannot compound {category_words(formula.category)}: "
            + "; ".join(problems)
            + ".",
            field="compounded_by",
            lapses=problems,
        )


def _check_prepared_at(site: Site, prepared_at: dt.datetime | None) -> dt.datetime:
    now = timezone.now()
    if prepared_at is None:
        return now.replace(microsecond=0).astimezone(site.tz)
    if not isinstance(prepared_at, dt.datetime):
        raise Invalid("Give the date and time of preparation.", field="prepared_at")
    if prepared_at.tzinfo is None or prepared_at.utcoffset() is None:
        raise Invalid("Give the preparation time with its time-zone offset.", field="prepared_at")
    if prepared_at > now + FUTURE_SLACK:
        raise Invalid(
            f"{_local(site, prepared_at)} has not come yet: the preparation time is when "
            "compounding started.",
            field="prepared_at",
        )
    if prepared_at < now - PAST_LIMIT:
        raise Invalid(
            f"{_local(site, prepared_at)} is more than 24 hours ago: record a preparation "
            "the day it is made.",
            field="prepared_at",
        )
    return prepared_at.astimezone(site.tz)


def _check_links(
    site: Site, prescription: Prescription | None, patient: Patient | None
) -> Patient | None:
    if prescription is not None:
        if prescription.site_id != site.pk:
            raise NotFound("No such prescription at this pharmacy.", field="prescription")
        if patient is not None and patient.pk != prescription.patient_id:
            raise Invalid(
                f"Rx {prescription.number} is not this patient's prescription.", field="patient"
            )
        return prescription.patient
    if patient is not None and patient.site_id != site.pk:
        raise NotFound("No such patient at this pharmacy.", field="patient")
    return patient


def certification_problem(control: EngineeringControl, today: dt.date) -> str:
    """Why the control may not be used today for its certification (empty: it may)."""
    last = Certification.objects.filter(control=control).order_by("-certified_on", "-pk").first()
    if last is None:
        return f"{control.name} has no certification on file."
    if not last.passed:
        return f"{control.name} failed its last certification on {last.certified_on:%m/%d/%Y}."
    if last.due_on < today:
        return f"{control.name}'s certification was due {last.due_on:%m/%d/%Y}."
    return ""


def _check_place(
    site: Site,
    formula: MasterFormula,
    room: Room | None,
    control: EngineeringControl | None,
) -> tuple[Room | None, EngineeringControl | None]:
    """The primary engineering control: needed for Categories 1–3 (ISO 5) and for any
    hazardous drug (a containment PEC, USP <800>); active, certified and not past due."""
    needs_pec = formula.category in PEC_CATEGORIES
    if control is None:
        if needs_pec:
            raise Invalid(
                f"Choose the ISO 5 hood or isolator: a Category {formula.category} preparation "
                "is made in a primary engineering control.",
                field="control",
            )
        if formula.hazardous:
            raise Invalid(
                "Choose the containment hood (C-PEC): hazardous drugs are compounded in one "
                "(USP <800>).",
                field="control",
            )
    else:
        if control.site_id != site.pk:
            raise NotFound("No such hood or isolator at this pharmacy.", field="control")
        if not control.active:
            raise Invalid(f"{control.name} is out of service.", field="control")
        if formula.category in STERILE_CATEGORIES and control.iso_class != IsoClass.ISO_5:
            raise Invalid(
                f"{control.name} is not ISO Class 5 air: sterile preparations are made in ISO 5.",
                field="control",
            )
        if formula.hazardous and not control.hazardous:
            raise Invalid(
                f"{control.name} is not a containment hood (C-PEC): hazardous drugs are "
                "compounded in one (USP <800>).",
                field="control",
            )
        problem = certification_problem(control, site.today())
        if problem:
            raise Invalid(problem + " Use a certified hood.", field="control")
        if room is None:
            room = control.room
        elif room.pk != control.room_id:
            raise Invalid(f"{control.name} is not in {room.name}.", field="room")
    if room is not None:
        if room.site_id != site.pk:
            raise NotFound("No such room at this pharmacy.", field="room")
        if not room.active:
            raise Invalid(f"{room.name} is out of service.", field="room")
    return room, control


def _check_sources(
    site: Site,
    positions: set[int],
    sources: Mapping[int, Mapping[str, Any]],
    prepared_at: dt.datetime,
) -> dict[int, tuple[str, dt.datetime, bool, bud.InUse]]:
    """Opened containers used as sources and until when each may still be used
    (USP <797> in-use times, the site's stricter limits where it set them)."""
    limits = queries.in_use_limits(site)
    now = timezone.now()
    out: dict[int, tuple[str, dt.datetime, bool, bud.InUse]] = {}
    for raw_position, source in sources.items():
        position = _position(raw_position, queries.sources_field)
        where = queries.sources_field(position)
        if position not in positions:
            raise Invalid(f"The formula has no ingredient {position}.", field=where)
        container = str(source.get("container") or "")
        if not container:
            continue  # an unopened container: nothing to time
        if container not in SOURCE_KINDS:
            raise Invalid(
                "Container must be single-dose, ampule, multiple-dose or pharmacy-bulk.",
                field=where,
            )
        opened = source.get("first_opened_at")
        if not isinstance(opened, dt.datetime) or opened.tzinfo is None:
            raise Invalid("Give when the container was first opened (date and time).", field=where)
        if opened > now + FUTURE_SLACK:
            raise Invalid(f"{_local(site, opened)} has not come yet.", field=where)
        in_iso5 = bool(source.get("in_iso5", True))
        label_hours = source.get("label_hours")
        try:
            in_use = bud.in_use_until(
                container,
                opened,
                in_iso5=in_iso5,
                label_hours=int(label_hours) if label_hours is not None else None,
                limits=limits,
            )
        except (bud.BudNotAllowed, TypeError, ValueError) as exc:
            raise Invalid(getattr(exc, "message", str(exc)), field=where) from None
        if in_use.until < prepared_at:
            raise Invalid(
                f"The opened container was good until {_local(site, in_use.until)} "
                f"({in_use.rule}); use a new one.",
                field=where,
            )
        out[position] = (container, opened, in_iso5, in_use)
    return out


def _position(value: Any, field_of: Any) -> int:
    try:
        position = int(value)
    except (TypeError, ValueError):
        raise Invalid(f"{value!r} is not an ingredient number.", field=field_of(value)) from None
    return position


def _bud(
    formula: MasterFormula,
    prepared_at: dt.datetime,
    expiries: list[dt.date],
) -> bud.Bud:
    sterile = formula.category in STERILE_CATEGORIES
    given = bud.BudInput(
        type=bud.STERILE if sterile else bud.NONSTERILE,
        category=formula.category if sterile else None,
        prepared_at=prepared_at,
        storage=formula.storage,
        aseptic=formula.aseptic,
        sterile_starting_components=formula.sterile_starting_components,
        sterility_tested=formula.sterility_tested,
        preserved=formula.preserved,
        preparation=formula.preparation or None,
        component_expirations=tuple(expiries),
        stability_days=formula.stability_days,
    )
    try:
        return bud.beyond_use(given)
    except bud.BudNotAllowed as exc:
        field = {"prepared_at": "prepared_at", "component_expirations": "lots"}.get(
            exc.field, "formula"
        )
        raise Invalid(
            exc.message
            if field != "formula"
            else f"The formula's beyond-use settings are not allowed: {exc.message}",
            field=field,
        ) from None


def _hd_requirements(
    formula: MasterFormula, ingredients: list[FormulaIngredient], today: dt.date
) -> list[str]:
    """What the record keeps of USP <800>: the containment and PPE the formula's hazardous
    ingredients need, and the assessments of risk relied on (rxdesk.compounding.queries_hd)."""
    if not formula.hazardous:
        return []
    return queries_hd.hd_profile(formula, today=today, ingredients=ingredients).record_lines()


def _next_lot_number(site: Site, day: dt.date) -> str:
    prefix = f"{LOT_PREFIX}{day:%y%m%d}-"
    numbers = CompoundingRecord.objects.filter(
        site=site, lot_number__startswith=prefix
    ).values_list("lot_number", flat=True)
    last = max((int(n[len(prefix) :]) for n in numbers if n[len(prefix) :].isdigit()), default=0)
    return f"{prefix}{last + 1:03d}"


def _create_record(site: Site, day: dt.date, values: dict[str, Any]) -> CompoundingRecord:
    """Insert the record under the next internal lot number of the day. Two benches
    starting records at once may pick the same number: the unique (site, lot_number)
    refuses the second, which retries inside a savepoint with the next one."""
    for _ in range(LOT_ATTEMPTS):
        number = _next_lot_number(site, day)
        try:
            with transaction.atomic():
                return CompoundingRecord.objects.create(site=site, lot_number=number, **values)
        except IntegrityError:
            if not CompoundingRecord.objects.filter(site=site, lot_number=number).exists():
                raise
    raise Conflict("Another record took the lot number; try again.", field="record")


# --- Services ------------------------------------------------------------------------------


def record_start(
    *,
    actor: User | None,
    formula: MasterFormula,
    quantity: Any,
    unit: str,
    compounded_by: User | None = None,
    prescription: Prescription | None = None,
    patient: Patient | None = None,
    prepared_at: dt.datetime | None = None,
    lots: Mapping[int, str | None] | None = None,
    room: Room | None = None,
    control: EngineeringControl | None = None,
    sources: Mapping[int, Mapping[str, Any]] | None = None,
) -> CompoundingRecord:
    """Start a compounding record of ``quantity`` ``unit`` of ``formula``: scale it, take
    each stocked component's lot out of stock (``lots[position]`` scanned, else first expiry
    first out), compute the beyond-use date by rule, assign the internal lot number. The
    person compounding (``compounded_by``, default the actor) must be competent for the
    formula's category today."""
    authorize(actor, Cap.COMPOUNDING_MAKE)
    actor = _signed_in(actor)
    site = actor.site
    _check_formula(formula, site)
    person = compounded_by or actor
    _check_person(person, formula, site)
    patient = _check_links(site, prescription, patient)
    when = _check_prepared_at(site, prepared_at)
    ingredients = queries.ingredients_of(formula)
    if not ingredients:
        raise Invalid("The formula lists no ingredients.", field="formula")
    try:
        scaled = queries.scaling_of(formula, ingredients, quantity, unit)
    except UnitError as exc:
        raise Invalid(exc.message, field=exc.field) from None
    amount = _decimal(scaled.quantity, field="quantity", limit=QUANTITY_LIMIT)
    where_room, where_control = _check_place(site, formula, room, control)
    positions = {i.position for i in ingredients}
    opened = _check_sources(site, positions, sources or {}, when)
    chosen: dict[int, str] = {}
    for raw, text in (lots or {}).items():
        position = _position(raw, queries.lots_field)
        if position not in positions:
            raise Invalid(
                f"The formula has no ingredient {position}.", field=queries.lots_field(position)
            )
        if text and str(text).strip():
            chosen[position] = str(text)
    stocked = {i.position: i for i in ingredients if i.product is not None}
    for position in chosen:
        if position not in stocked:
            raise Invalid(
                "That ingredient is not taken from stock: it has no lot to scan.",
                field=queries.lots_field(position),
            )
    by_position = {s.position: s for s in scaled.ingredients}
    today = site.today()
    settings = queries.settings_of(site)

    with transaction.atomic():
        products = {i.product.pk: i.product for i in stocked.values() if i.product is not None}
        # Every balance this record may touch, locked in the ledger's one order first, so
        # two records (or a record and a fill) never deadlock on PostgreSQL.
        ledger.lock_in_order(queries.candidate_ids(site, products.values()))
        plans: dict[int, list[queries.Take]] = {}
        for position, ing in stocked.items():
            assert ing.product is not None
            plans[position] = queries.stock_plan(
                site=site,
                product=ing.product,
                name=ing.name,
                position=position,
                quantity=by_position[position].quantity,
                unit=ing.unit,
                lot_text=chosen.get(position),
                today=today,
            )
        expiries = [
            t.balance.lot.expiry
            for takes in plans.values()
            for t in takes
            if t.balance.lot.expiry is not None
        ]
        found = _bud(formula, when, expiries)
        beyond, rule = found.beyond_use, found.rule
        if settings.cap_at_source_in_use:
            # Local policy (reference §1.8): never past an opened source's in-use time. A
            # use-at-once container (ampule) governs its remainder, not the preparation.
            timed = [
                (in_use.until, by_position[p].name)
                for p, (_, opened_at, _, in_use) in opened.items()
                if in_use.until > opened_at
            ]
            if timed:
                until, name = min(timed)
                if until < beyond:
                    beyond = until
                    rule += (
                        f"; limited by the in-use time of the opened {name}, "
                        f"{_local(site, until)} (site policy)"
                    )
        steps: list[Step] = list(scaled.steps)
        for position, takes in plans.items():
            for t in takes:
                billing = t.balance.package.billing_unit
                if units.show(t.billing_quantity) != units.show(t.quantity):
                    steps.append(
                        Step(
                            f"{stocked[position].name}, lot {t.balance.lot.number}, from stock",
                            f"{units.show(t.quantity, stocked[position].unit)} in {billing}",
                            f"{units.show(t.billing_quantity)} {billing}",
                        )
                    )
        record = _create_record(
            site,
            when.date(),
            {
                "formula": formula,
                "prescription": prescription,
                "patient": patient,
                "quantity": amount,
                "unit": scaled.unit,
                "scale": units.rounded(scaled.factor, 6),
                "category": formula.category,
                "storage": formula.storage,
                "status": RecordStatus.IN_PROGRESS,
                "prepared_at": when,
                "beyond_use": beyond,
                "bud_rule": rule[:500],
                "limited_by_component": found.limited_by_component,
                "room": where_room,
                "control": where_control,
                "hazardous": formula.hazardous,
                "hd_requirements": _hd_requirements(formula, ingredients, today),
                "calculations": [s.as_dict() for s in steps],
                "compounded_by": person,
                "compounded_by_name": person.display_name[:150],
            },
        )
        ref = ledger.Ref("compounding_record", record.pk)
        taken: list[dict[str, Any]] = []
        for ing in ingredients:
            source = opened.get(ing.position)
            extra: dict[str, Any] = {}
            if source is not None:
                container, opened_at, in_iso5, in_use = source
                extra = {
                    "source_container": container,
                    "first_opened_at": opened_at,
                    "opened_in_iso5": in_iso5,
                    "in_use_until": in_use.until,
                }
            if ing.position not in plans:
                RecordComponent.objects.create(
                    record=record,
                    ingredient=ing,
                    position=ing.position,
                    name=ing.name,
                    required_quantity=by_position[ing.position].quantity,
                    unit=ing.unit,
                    **extra,
                )
                continue
            for t in plans[ing.position]:
                try:
                    move = ledger.post_out(
                        balance=t.balance,
                        quantity=t.billing_quantity,
                        reason=MoveReason.COMPOUND,
                        actor=actor,
                        ref=ref,
                        patient_id=patient.pk if patient is not None else None,
                        note=f"Compounded lot {record.lot_number}",
                        dispensable_only=True,
                        today=today,
                    )
                except Conflict as exc:  # a recall or a dispense landed since the plan
                    raise Conflict(exc.message, field=queries.lots_field(ing.position)) from None
                lot = t.balance.lot
                RecordComponent.objects.create(
                    record=record,
                    ingredient=ing,
                    position=ing.position,
                    name=ing.name,
                    package=t.balance.package,
                    lot=lot,
                    lot_number=lot.number,
                    expiry=lot.expiry,
                    manufacturer=t.balance.package.product.labeler[:200],
                    required_quantity=t.quantity,
                    unit=ing.unit,
                    stock_quantity=t.billing_quantity,
                    stock_move=move,
                    **extra,
                )
                taken.append(
                    {
                        "position": ing.position,
                        "ndc": t.balance.package.ndc11,
                        "lot": lot.number,
                        "quantity": f"{t.billing_quantity.normalize():f}",
                        "billing_unit": t.balance.package.billing_unit,
                        "move": move.pk,
                    }
                )
        audit_record(
            actor=actor,
            action="compounding.record.started",
            site=site,
            obj=record,
            patient_id=patient.pk if patient is not None else None,
            data={
                "lot_number": record.lot_number,
                "formula": f"{formula.code} v{formula.version}",
                "quantity": f"{amount.normalize():f}",
                "unit": record.unit,
                "category": record.category,
                "compounded_by": person.username,
                "prepared_at": when.isoformat(),
                "beyond_use": beyond.isoformat(),
                "control": where_control.name if where_control else "",
                "taken": taken,
            },
        )
    return record


def _component_of(record: CompoundingRecord, position: Any, component_id: Any) -> RecordComponent:
    components = list(record.components.select_related("ingredient", "lot"))
    if component_id is not None:
        found = next((c for c in components if str(c.pk) == str(component_id)), None)
        if found is None:
            raise Invalid("No such component on this record.", field="component_id")
        return found
    if position is None or str(position).strip() == "":
        raise Invalid("Choose the component weighed or measured.", field="position")
    try:
        wanted = int(position)
    except (TypeError, ValueError):
        raise Invalid(f"{position!r} is not an ingredient number.", field="position") from None
    matches = [c for c in components if c.position == wanted]
    if not matches:
        raise Invalid(f"The record has no ingredient {wanted}.", field="position")
    if len(matches) > 1:
        raise Invalid(
            f"{matches[0].name} came from {len(matches)} lots: measure each lot's line.",
            field="position",
        )
    return matches[0]


def _percent(value: Decimal) -> str:
    return units.show(value * 100, "%", 1)


def record_measure(
    *,
    actor: User | None,
    record: CompoundingRecord,
    measured_quantity: Any,
    measured_unit: str,
    position: Any = None,
    component_id: Any = None,
    deviation: str = "",
) -> RecordComponent:
    """Record what was weighed or measured of one component (by its line, or by the
    ingredient's position when it came from one lot). More than ±5 % off the required
    amount is refused unless ``deviation`` says why (it is added to the record's
    deviations)."""
    authorize(actor, Cap.COMPOUNDING_MAKE)
    actor = _signed_in(actor)
    site = actor.site
    note = _text(deviation, field="deviation", limit=NOTE_MAX)
    amount = _decimal(measured_quantity, field="measured_quantity", limit=MEASURE_LIMIT)
    unit_text = (measured_unit or "").strip()
    if not unit_text:
        raise Invalid("Give the unit measured (g, mg, mL…).", field="measured_unit")
    if len(unit_text) > 20:
        raise Invalid("Keep the unit to 20 characters.", field="measured_unit")
    with transaction.atomic():
        current = _locked(record, site)
        _need_status(current, (RecordStatus.IN_PROGRESS,), "measured")
        component = _component_of(current, position, component_id)
        try:
            if units.known_unit(component.unit):
                in_unit = units.convert(amount, unit_text, component.unit, field="measured_unit")
            elif unit_text.casefold() == component.unit.casefold():
                in_unit = amount
            else:
                raise UnitError(f"Measure it in {component.unit}.", field="measured_unit")
        except UnitError as exc:
            raise Invalid(
                f"{exc.message} {component.name} is measured in {component.unit}.",
                field="measured_unit",
            ) from None
        required = component.required_quantity
        qs = bool(component.ingredient and component.ingredient.quantity_sufficient)
        off = (in_unit - required) / required
        shown = units.show(amount, unit_text)
        needed = units.show(required, component.unit)
        deviated = not qs and abs(off) > TOLERANCE
        if deviated and not note:
            raise Invalid(
                f"{shown} is {_percent(abs(off))} {'more' if off > 0 else 'less'} than the "
                f"{needed} required (the limit is ±5 %). Weigh again, or give the reason as a "
                "deviation.",
                field="measured_quantity",
            )
        before = {
            "measured_quantity": (
                f"{component.measured_quantity.normalize():f}"
                if component.measured_quantity is not None
                else None
            ),
            "measured_unit": component.measured_unit,
        }
        now = timezone.now()
        component.measured_quantity = amount
        component.measured_unit = unit_text
        component.measured_by = actor
        component.measured_at = now
        component.save(
            update_fields=["measured_quantity", "measured_unit", "measured_by", "measured_at"]
        )
        if note:
            lot = f" (lot {component.lot_number})" if component.lot_number else ""
            line = (
                f"{component.name}{lot}: {shown} measured for {needed} required "
                f"({'+' if off > 0 else ''}{_percent(off)}): {note} — {actor.display_name}, "
                f"{_local(site, now)}"
            )
            current.deviations = "\n".join(p for p in (current.deviations, line) if p)
            current.save(update_fields=["deviations"])
        audit_record(
            actor=actor,
            action="compounding.record.measured",
            site=site,
            obj=current,
            data={
                "component": component.pk,
                "position": component.position,
                "lot": component.lot_number,
                "before": before,
                "measured_quantity": f"{amount.normalize():f}",
                "measured_unit": unit_text,
                "required": f"{required.normalize():f} {component.unit}",
                "off_percent": _percent(off),
                "deviation": bool(note),
            },
        )
    record.refresh_from_db()
    return component


def record_check(
    *,
    actor: User | None,
    record: CompoundingRecord,
    name: str,
    result: str,
    passed: Any,
    expected: str = "",
) -> QualityCheck:
    """A quality-control result (visual inspection, weight, pH, filter integrity…)."""
    authorize(actor, Cap.COMPOUNDING_MAKE)
    actor = _signed_in(actor)
    site = actor.site
    the_name = _text(name, field="name", limit=NAME_MAX, required=True, what="what was checked")
    the_result = _text(result, field="result", limit=RESULT_MAX, required=True, what="the result")
    the_expected = _text(expected, field="expected", limit=RESULT_MAX)
    if not isinstance(passed, bool):
        raise Invalid("Say whether the check passed.", field="passed")
    with transaction.atomic():
        current = _locked(record, site)
        _need_status(current, OPEN, "checked")
        check = QualityCheck.objects.create(
            record=current,
            name=the_name,
            expected=the_expected,
            result=the_result,
            passed=passed,
            checked_by=actor,
            checked_by_name=actor.display_name[:150],
        )
        audit_record(
            actor=actor,
            action="compounding.record.checked",
            site=site,
            obj=current,
            data={"check": check.pk, "name": the_name, "passed": passed},
        )
    return check


def record_submit(
    *,
    actor: User | None,
    record: CompoundingRecord,
    physical_description: str = "",
    deviations: str = "",
) -> CompoundingRecord:
    """Hand the record to the pharmacist: every stocked component measured, at least one
    quality check, and every check passed (a failed check means the preparation is
    rejected, not submitted)."""
    authorize(actor, Cap.COMPOUNDING_MAKE)
    actor = _signed_in(actor)
    site = actor.site
    description = _text(physical_description, field="physical_description", limit=DESCRIPTION_MAX)
    extra = (deviations or "").strip()
    if len(extra) > 2000:
        raise Invalid("Keep the deviations to 2000 characters.", field="deviations")
    with transaction.atomic():
        current = _locked(record, site)
        _need_status(current, (RecordStatus.IN_PROGRESS,), "submitted")
        for component in queries.components_of(current):
            if component.stock_move_id is not None and component.measured_quantity is None:
                lot = f" (lot {component.lot_number})" if component.lot_number else ""
                raise Invalid(
                    f"{component.name}{lot} has not been weighed or measured yet.",
                    field=f"components[{component.position}]",
                )
        checks = queries.checks_of(current)
        if not checks:
            raise Invalid(
                "Record at least one quality check (e.g. appearance) before submitting.",
                field="checks",
            )
        failed = [c for c in checks if not c.passed]
        if failed:
            raise Conflict(
                f"The check “{failed[0].name}” failed: reject the preparation instead of "
                "submitting it.",
                field="checks",
            )
        current.status = RecordStatus.AWAITING_VERIFICATION
        current.physical_description = (
            description or current.physical_description or current.formula.physical_description
        )[:DESCRIPTION_MAX]
        if extra:
            current.deviations = "\n".join(p for p in (current.deviations, extra) if p)
        current.save(update_fields=["status", "physical_description", "deviations"])
        audit_record(
            actor=actor,
            action="compounding.record.submitted",
            site=site,
            obj=current,
            data={
                "lot_number": current.lot_number,
                "checks": len(checks),
                "deviations": bool(current.deviations),
            },
        )
    return current


def record_verify(*, actor: User | None, record: CompoundingRecord) -> CompoundingRecord:
    """The pharmacist's verification and release. A second person verifies: never the one
    who compounded."""
    authorize(actor, Cap.COMPOUNDING_VERIFY)
    actor = _signed_in(actor)
    site = actor.site
    with transaction.atomic():
        current = _locked(record, site)
        if current.compounded_by_id == actor.pk:
            raise Conflict(
                f"A second person verifies: you compounded {current.lot_number}. Ask another "
                "pharmacist.",
                field="record",
            )
        if current.status == RecordStatus.IN_PROGRESS:
            raise Conflict(
                f"{current.lot_number} has not been submitted: the person compounding "
                "finishes the measurements and checks first.",
                field="record",
            )
        _need_status(current, (RecordStatus.AWAITING_VERIFICATION,), "verified")
        if QualityCheck.objects.filter(record=current, passed=False).exists():
            raise Conflict(
                "A quality check failed: reject the preparation instead.", field="record"
            )
        current.status = RecordStatus.VERIFIED
        current.verified_by = actor
        current.verified_by_name = actor.display_name[:150]
        current.verified_at = timezone.now()
        current.save(update_fields=["status", "verified_by", "verified_by_name", "verified_at"])
        audit_record(
            actor=actor,
            action="compounding.record.verified",
            site=site,
            obj=current,
            data={"lot_number": current.lot_number, "beyond_use": current.beyond_use.isoformat()},
        )
    return current


def record_reject(
    *, actor: User | None, record: CompoundingRecord, reason: str
) -> CompoundingRecord:
    """Reject a preparation being made or waiting for verification. It is never released;
    the stock its components took stays used (record the waste where the site does)."""
    authorize(actor, Cap.COMPOUNDING_VERIFY)
    actor = _signed_in(actor)
    site = actor.site
    why = _text(reason, field="reason", limit=REASON_MAX, required=True, what="why it is rejected")
    with transaction.atomic():
        current = _locked(record, site)
        _need_status(current, OPEN, "rejected")
        before = current.status
        current.status = RecordStatus.REJECTED
        current.reject_reason = why
        current.save(update_fields=["status", "reject_reason"])
        audit_record(
            actor=actor,
            action="compounding.record.rejected",
            site=site,
            obj=current,
            reason=why,
            data={"lot_number": current.lot_number, "from": before, "stock_stays_used": True},
        )
    return current


REJECTED_STOCK_NOTE = (
    "The components taken from stock stay used: they are not put back on the shelf."
)


def record_label(*, actor: User | None, record: CompoundingRecord) -> bytes:
    """The preparation's label as a PDF; only a verified preparation is labeled. Every
    print (and reprint) is recorded."""
    authorize(actor, Cap.COMPOUNDING_MAKE)
    actor = _signed_in(actor)
    site = actor.site
    with transaction.atomic():
        current = _locked(record, site)
        if current.status != RecordStatus.VERIFIED:
            raise Invalid(
                f"Missing verification: {current.lot_number} is "
                f"{current.get_status_display().lower()}. A pharmacist verifies the "
                "preparation before its label is printed.",
                field="record",
            )
        pdf = labels.label_pdf(labels.label_data(current))
        reprint = current.label_printed_at is not None
        current.label_printed_at = timezone.now()
        current.save(update_fields=["label_printed_at"])
        audit_record(
            actor=actor,
            action="compounding.record.labeled",
            site=site,
            obj=current,
            patient_id=current.patient_id,
            data={"lot_number": current.lot_number, "reprint": reprint},
        )
    return pdf
