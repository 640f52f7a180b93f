"""Services of administering a vaccine: screening, consent, VIS, the scanned dose, the ledger
move; historical doses and refusals; corrections and entered-in-error.

A dose given here is one transaction: the immunization row, its VIS rows, the ledger move
(reason ``administer``, the scanned lot only, and only if it is available and in date at
the moment of the update), the registry message (part C's ``registry_enqueue``), and one
audit event, in that order. A broken rule raises a DomainError naming the field, and
nothing is written.

Decisions (where the regulations leave the software a choice):

* VFC doses are kept apart: VFC stock goes only to a VFC-eligible (V02–V05) patient under
  19; a VFC-eligible child may be given private stock (the parent's choice or no VFC stock
  on hand) and the record says so in its note — never the other way round.
* State (non-VFC public) stock follows the state program's own rules, which vary: it is
  not restricted here.
* A precaution is weighed by a pharmacist: the named supervising pharmacist, or the
  pharmacist giving the dose, with a note of why it is safe.
* Entered in error does not put stock back: the dose was drawn up (or given to someone).
  A pharmacist who finds that stock was not used adjusts the inventory separately.
* Historical doses are not reported to the registry (they came from somewhere that
  reports them); a refusal is (RXA-20 RE)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.catalog.ndc import CodeError, parse_scan
from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.choices import PHARMACIST_ROLES, TECHNICIAN_ROLES
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.immunizations import screening_questions as sq
from rxdesk.immunizations.choices import (
    VFC_ELIGIBLE,
    BodySite,
    Completion,
    ConsentBy,
    Eligibility,
    Funding,
    InformationSource,
    RecordStatus,
    RefusalReason,
    RegistryAction,
    Route,
    VisStatus,
)
from rxdesk.immunizations.common import settings_of
from rxdesk.immunizations.models import (
    Immunization,
    ImmunizationVis,
    Vaccine,
    VaccineLot,
    VaccineNdc,
    VisDocument,
)
from rxdesk.immunizations.queries_administer import _vaccine_for_code, lot_received_at
from rxdesk.immunizations.services_registry import registry_enqueue
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import StockBalance
from rxdesk.patients.choices import PatientStatus
from rxdesk.patients.models import Patient, Prescriber

register_actions(
    {
        "immunizations.administered": "Vaccine administered (dose recorded, stock moved)",
        "immunizations.historical_recorded": "Historical immunization recorded",
        "immunizations.refusal_recorded": "Vaccine refusal recorded",
        "immunizations.corrected": "Immunization record corrected",
        "immunizations.entered_in_error": "Immunization marked entered in error",
        "immunizations.record.viewed": "Immunization record opened (PHI access)",
    }
)

# A dose is recorded as it is given or after; a few minutes ahead is a workstation clock.
FUTURE_SLACK = dt.timedelta(minutes=5)
MAX_DOSE_ML = Decimal("1.0")
DOSE_QUANTUM = Decimal("0.001")
ADULT_YEARS = 18
VFC_AGE_LIMIT_YEARS = 19
MAX_DOSE_NUMBER = 20
NOTE_MAX, SCREENING_NOTE_MAX, PROTOCOL_MAX, NAME_MAX, SOURCE_MAX, REASON_MAX = (
    500,
    500,
    200,
    120,
    200,
    300,
)
MIN_REVIEW_NOTE = 10
NO_SITE_ROUTES = frozenset({Route.NS, Route.PO})
CORRECTABLE = ("route", "body_site", "dose_number", "eligibility", "note")


# --- Helpers ------------------------------------------------------------------------------


def _signed_in(actor: User | None) -> User:
    if actor is None or actor.site is None:
        raise Forbidden("Sign in: a dose record names who recorded it.")
    return actor


def _text(value: Any, *, field: str, limit: int, required: bool = False, what: str = "") -> str:
    text = " ".join(str(value if value is not None else "").split())
    if required and not text:
        raise Invalid(f"Enter {what or field.replace('_', ' ')}.", field=field)
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return text


def _patient_of(site: Site, patient: Patient | None) -> Patient:
    found = None
    if patient is not None and getattr(patient, "pk", None):
        found = Patient.objects.filter(pk=patient.pk, site=site).first()
    if found is None:
        raise NotFound("No such patient at this pharmacy.", field="patient")
    if found.status == PatientStatus.DECEASED:
        raise Conflict("The patient's record is marked deceased.", field="patient")
    return found


def _local(site: Site, when: dt.datetime) -> str:
    return f"{when.astimezone(site.tz):%m/%d/%Y %H:%M}"


def _when(site: Site, value: dt.datetime | None, *, field: str) -> dt.datetime:
    now = timezone.now()
    if value is None:
        return now.replace(microsecond=0)
    if not isinstance(value, dt.datetime):
        raise Invalid("Give the date and time.", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid("Give the time with its time-zone offset.", field=field)
    if value > now + FUTURE_SLACK:
        raise Invalid(
            f"{_local(site, value)} has not come yet: record a dose when it is given.",
            field=field,
        )
    return value


def age_in_months(born: dt.date, on: dt.date) -> int:
    """Whole months from ``born`` to ``on`` (0 before the first month is complete)."""
    months = (on.year - born.year) * 12 + (on.month - born.month)
    if on.day < born.day:
        months -= 1
    return max(months, -1)


def _years(months: int) -> int:
    return months // 12


def _age_words(months: int) -> str:
    return f"{months // 12} years" if months >= 24 else f"{months} months"


def _pharmacist(site: Site, person: User | None, *, field: str) -> User:
    if person is None or not getattr(person, "pk", None):
        raise Invalid("Name the supervising pharmacist.", field=field)
    found = User.objects.filter(pk=person.pk, site=site, is_active=True).first()
    if found is None or found.role not in PHARMACIST_ROLES:
        raise Invalid(
            "The supervising pharmacist must be a pharmacist of this pharmacy.", field=field
        )
    problem = found.credential_problem()
    if problem:
        raise Invalid(f"{found.get_full_name() or found.username}: {problem}", field=field)
    return found


def _choice(value: Any, choices: Any, *, field: str, what: str) -> str:
    text = str(value or "").strip()
    if text not in choices.values:
        options = ", ".join(f"{v} ({label})" for v, label in choices.choices)
        raise Invalid(f"Choose {what}: one of {options}.", field=field)
    return text


def _dose(value: Any) -> Decimal:
    if isinstance(value, float):
        value = str(value)
    try:
        dose = Decimal(str(value).strip()) if value is not None else None
    except (InvalidOperation, ValueError):
        dose = None
    if dose is None or not dose.is_finite():
        raise Invalid("Enter the dose in mL, e.g. 0.5.", field="dose_ml")
    if dose <= 0:
        raise Invalid("The dose must be more than 0 mL.", field="dose_ml")
    if dose > MAX_DOSE_ML:
        raise Invalid("A vaccine dose is at most 1.0 mL; check the dose.", field="dose_ml")
    if dose != dose.quantize(DOSE_QUANTUM):
        raise Invalid("Use at most three decimal places.", field="dose_ml")
    return dose.quantize(DOSE_QUANTUM)


def _route_site(route: Any, body_site: Any) -> tuple[str, str]:
    route = _choice(route, Route, field="route", what="the route")
    body = str(body_site or "").strip().upper()
    if route in NO_SITE_ROUTES:
        if body:
            raise Invalid(
                f"{Route(route).label} vaccines have no body site; leave it blank.",
                field="body_site",
            )
        return route, ""
    if not body:
        raise Invalid(
            f"Choose where the {Route(route).label.lower()} dose was given.", field="body_site"
        )
    return route, _choice(body, BodySite, field="body_site", what="the body site")


def _dose_number(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Invalid("The dose number is a whole number.", field="dose_number") from None
    if not 1 <= number <= MAX_DOSE_NUMBER:
        raise Invalid(f"The dose number is 1 to {MAX_DOSE_NUMBER}.", field="dose_number")
    return number


def _eligibility(value: Any, months: int) -> str:
    code = _choice(value, Eligibility, field="eligibility", what="the VFC eligibility")
    if code in VFC_ELIGIBLE and _years(months) >= VFC_AGE_LIMIT_YEARS:
        raise Invalid(
            "VFC eligibility ends at the 19th birthday: an adult is V01 (not VFC eligible).",
            field="eligibility",
        )
    return code


def _funding_fits(funding: str, eligibility: str, months: int, lot_number: str) -> str:
    """The warning to keep in the note, or a refusal when public stock would be misused."""
    vfc_child = eligibility in VFC_ELIGIBLE and _years(months) < VFC_AGE_LIMIT_YEARS
    if funding == Funding.VFC and not vfc_child:
        raise Conflict(
            f"Lot {lot_number} is VFC stock: it may only be given to a VFC-eligible child "
            "(V02–V05, under 19). Use private stock for this patient.",
            field="lot_number",
        )
    if funding == Funding.PRIVATE and vfc_child:
        return (
            f"VFC-eligible patient ({eligibility}) given privately purchased stock "
            f"(lot {lot_number})."
        )
    return ""


def _duplicate(site: Site, patient: Patient, vaccine: Vaccine, day: dt.date, *, field: str) -> None:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=site.tz)
    if (
        Immunization.objects.filter(
            site=site,
            patient=patient,
            vaccine=vaccine,
            completion=Completion.COMPLETE,
            status=RecordStatus.RECORDED,
            administered_at__gte=start,
            administered_at__lt=start + dt.timedelta(days=1),
        )
        .only("pk")
        .exists()
    ):
        raise Conflict(
            f"{vaccine.short_description} is already recorded for this patient on "
            f"{day:%m/%d/%Y}: check the record before giving or entering it again.",
            field=field,
        )


def _screen(
    answers: Mapping[str, Any], vaccine: Vaccine, months: int
) -> tuple[dict[str, str], list[sq.Finding]]:
    if not isinstance(answers, Mapping):
        raise Invalid("Answer the screening questions.", field="answers")
    unknown = sq.unknown_codes({str(k): str(v) for k, v in answers.items()})
    if unknown:
        raise Invalid(f"Unknown screening question: {', '.join(unknown)}.", field="answers")
    given = {str(k): str(v or "").strip().lower() for k, v in answers.items()}
    bad = sorted(c for c, v in given.items() if v not in sq.ANSWERS)
    if bad:
        raise Invalid(
            f"Answer yes, no or unknown (not {given[bad[0]]!r}) to {', '.join(bad)}.",
            field="answers",
        )
    traits = sq.VaccineTraits(
        live=vaccine.live,
        groups=frozenset(str(g) for g in vaccine.groups or []),
        cvx=vaccine.cvx,
    )
    try:
        findings = sq.assess(given, traits, months)
    except sq.ScreeningIncomplete as exc:
        raise Invalid(str(exc), field="answers") from None
    return {c: given[c] for c in sq.CODES}, findings


def _consent(consent_by: Any, consent_name: Any, patient: Patient, months: int) -> tuple[str, str]:
    by = _choice(consent_by, ConsentBy, field="consent_by", what="who gave consent")
    name = _text(consent_name, field="consent_name", limit=NAME_MAX)
    adult = _years(months) >= ADULT_YEARS
    if by == ConsentBy.SELF:
        if not adult:
            raise Invalid(
                f"The patient is {_age_words(months)} old: a parent or guardian consents.",
                field="consent_by",
            )
        return by, name or patient.full_name
    if not name:
        raise Invalid(
            "Enter the name of the person who gave consent.",
            field="consent_name",
        )
    return by, name


def _vis(
    vis: Sequence[Any], vaccine: Vaccine, given_on: dt.date, today: dt.date
) -> list[tuple[VisDocument, dt.date]]:
    loaded = list(vaccine.vis_documents.all())
    out: list[tuple[VisDocument, dt.date]] = []
    seen: set[int] = set()
    for n, item in enumerate(vis or []):
        try:
            doc_id, presented_on = item
        except (TypeError, ValueError):
            raise Invalid("Give each VIS as (document, date presented).", field="vis") from None
        field = f"vis[{n}]"
        try:
            pk = int(doc_id)
        except (TypeError, ValueError):
            raise Invalid("Unknown VIS document.", field=field) from None
        doc = VisDocument.objects.filter(pk=pk).first() if 0 < pk < 2**63 else None
        if doc is None:
            raise Invalid("Unknown VIS document.", field=field)
        if pk in seen:
            raise Invalid(f"{doc.name} is listed twice.", field=field)
        seen.add(pk)
        if not isinstance(presented_on, dt.date) or isinstance(presented_on, dt.datetime):
            raise Invalid("Give the date the VIS was presented.", field=field)
        if presented_on > today:
            raise Invalid(f"{presented_on:%m/%d/%Y} has not come yet.", field=field)
        if presented_on > given_on:
            raise Invalid("The VIS is presented before the dose, not after.", field=field)
        if doc.status == VisStatus.HISTORIC and any(
            d.name == doc.name and d.status == VisStatus.CURRENT for d in loaded
        ):
            raise Invalid(
                f"The {doc.edition_date:%m/%d/%Y} edition of {doc.name} is out of date: give "
                "the current edition.",
                field=field,
            )
        out.append((doc, presented_on))
    if loaded and not any(d.pk in {x.pk for x in loaded} and p == given_on for d, p in out):
        raise Invalid(
            f"Give the patient the Vaccine Information Statement for "
            f"{vaccine.short_description} on the day of the dose, and record it.",
            field="vis",
        )
    return out


def _prescriber(site: Site, prescriber: Prescriber | None) -> Prescriber | None:
    if prescriber is None:
        return None
    found = Prescriber.objects.filter(pk=getattr(prescriber, "pk", 0) or 0, site=site).first()
    if found is None:
        raise Invalid("No such prescriber at this pharmacy.", field="ordering_prescriber")
    return found


def _vaccine_of_cvx(cvx: Any) -> Vaccine:
    code = str(cvx or "").strip()
    found = Vaccine.objects.filter(cvx=code).first() if code else None
    if found is None:
        raise Invalid(f"No vaccine with CVX code {code!r} in the catalog.", field="cvx")
    return found


def _enqueue(immunization: Immunization, action: RegistryAction, actor: User) -> Any:
    return registry_enqueue(immunization=immunization, action=action, actor=actor)


# --- Give a vaccine -----------------------------------------------------------------------


def _resolve_lot(
    site: Site, ndc: VaccineNdc, lot_number: Any, expiry: dt.date | None, given_on: dt.date
) -> tuple[StockBalance, str]:
    number = _text(lot_number, field="lot_number", limit=40, required=True, what="the lot number")
    number = number.upper()
    balance = (
        StockBalance.objects.select_related("lot", "package", "site")
        .filter(site=site, package=ndc.package, lot__number=number)
        .first()
    )
    if balance is None:
        raise Invalid(
            f"Lot {number} of {ndc.proprietary_name or ndc.ndc10} is not in this pharmacy's "
            "stock: receive it first.",
            field="lot_number",
        )
    lot = balance.lot
    if expiry is not None and lot.expiry is not None and expiry != lot.expiry:
        raise Invalid(
            f"Lot {number} is on file with expiry {lot.expiry:%m/%d/%Y}; check the package.",
            field="expiry",
        )
    if lot.expiry is not None and lot.expiry < given_on:
        raise Invalid(f"Lot {number} expired on {lot.expiry:%m/%d/%Y}.", field="lot_number")
    if not ledger.dispensable(balance, given_on):
        raise Conflict(ledger.why_not_dispensable(balance, given_on), field="lot_number")
    funding = (
        VaccineLot.objects.filter(site=site, lot=lot).values_list("funding", flat=True).first()
    )
    if not funding:
        raise Invalid(
            f"Record whether lot {number} is VFC, state or private stock first.",
            field="lot_number",
        )
    return balance, funding


def immunization_administer(
    *,
    actor: User,
    patient: Patient,
    code: str,
    lot_number: str,
    expiry: dt.date | None,
    dose_ml: Decimal | str,
    route: str,
    body_site: str,
    answers: Mapping[str, str],
    consent_by: str,
    consent_name: str,
    vis: Sequence[tuple[int, dt.date]],
    eligibility: str,
    administered_at: dt.datetime | None = None,
    supervising_pharmacist: User | None = None,
    screening_note: str = "",
    ordering_prescriber: Prescriber | None = None,
    protocol: str = "",
    dose_number: int | None = None,
    note: str = "",
) -> Immunization:
    """Record a vaccine given here now (or earlier today), and take the dose out of stock."""
    authorize(actor, Cap.IMM_ADMINISTER)
    actor = _signed_in(actor)
    site = actor.site
    assert site is not None
    with transaction.atomic():
        patient = _patient_of(site, patient)
        rules = settings_of(site)
        when = _when(site, administered_at, field="administered_at")
        given_on = when.astimezone(site.tz).date()
        months = age_in_months(patient.date_of_birth, given_on)
        if months < 0:
            raise Invalid("The dose cannot be before the patient's birth.", field="administered_at")

        # Who may vaccinate (the state's rules, in the site's settings)
        technician = actor.role in TECHNICIAN_ROLES
        if technician and not rules.technicians_administer:
            raise Forbidden(
                "Technicians may not give vaccines at this pharmacy (the state's rule in the "
                "immunization settings): a pharmacist gives the dose.",
                field="administered_by",
            )
        if months < rules.minimum_age_months:
            raise Conflict(
                f"The patient is {_age_words(months)} old; this pharmacy vaccinates patients "
                f"from {_age_words(rules.minimum_age_months)}.",
                field="patient",
            )
        if technician and months < rules.technician_minimum_age_months:
            raise Conflict(
                f"The patient is {_age_words(months)} old; a technician vaccinates patients "
                f"from {_age_words(rules.technician_minimum_age_months)}: a pharmacist gives "
                "this dose.",
                field="patient",
            )
        supervisor = None
        if technician or supervising_pharmacist is not None:
            supervisor = _pharmacist(site, supervising_pharmacist, field="supervising_pharmacist")

        # What is given
        try:
            parse_scan(str(code or ""))
        except CodeError as exc:
            raise Invalid(str(exc), field="code") from None
        ndc = _vaccine_for_code(str(code or ""))
        if ndc is None:
            raise Invalid(
                "This code is not a vaccine in the catalog (scan the syringe, vial or carton).",
                field="code",
            )
        if ndc.package is None:
            raise Invalid(
                f"{ndc.ndc10} has no package in the drug catalog: stock of it cannot be kept.",
                field="code",
            )
        vaccine = ndc.vaccine
        balance, funding = _resolve_lot(site, ndc, lot_number, expiry, given_on)
        lot = balance.lot
        received = lot_received_at(site, lot.pk)
        # Times are typed to the minute: a dose in the minute of the receipt is not earlier.
        if received is not None and when < received.replace(second=0, microsecond=0):
            raise Invalid(
                f"Lot {lot.number} was received {_local(site, received)}: the dose cannot be "
                "earlier.",
                field="administered_at",
            )
        code_eligibility = _eligibility(eligibility, months)
        warning = _funding_fits(funding, code_eligibility, months, lot.number)

        dose = _dose(dose_ml)
        route_code, site_code = _route_site(route, body_site)
        number = _dose_number(dose_number)
        _duplicate(site, patient, vaccine, given_on, field="code")

        # Screening, consent, VIS
        screening, findings = _screen(answers, vaccine, months)
        stops = sq.contraindications(findings)
        if stops:
            raise Conflict(
                "Do not vaccinate: " + " ".join(f.text for f in stops),
                field="answers",
                findings=[f.as_dict() for f in stops],
            )
        review_note = _text(screening_note, field="screening_note", limit=SCREENING_NOTE_MAX)
        reviewer = None
        if sq.precautions(findings):
            reviewer = supervisor or (actor if actor.role in PHARMACIST_ROLES else None)
            if reviewer is None:
                raise Invalid(
                    "A precaution was found: a pharmacist reviews it — name the supervising "
                    "pharmacist.",
                    field="supervising_pharmacist",
                )
            if len(review_note) < MIN_REVIEW_NOTE:
                raise Invalid(
                    "A precaution was found: write why it is safe to vaccinate today.",
                    field="screening_note",
                )
        by, consenter = _consent(consent_by, consent_name, patient, months)
        vis_rows = _vis(vis, vaccine, given_on, site.today())

        prescriber = _prescriber(site, ordering_prescriber)
        protocol_text = _text(protocol, field="protocol", limit=PROTOCOL_MAX)
        note_text = _text(note, field="note", limit=NOTE_MAX)
        if warning:
            note_text = f"{note_text} {warning}".strip()[:NOTE_MAX] if note_text else warning

        billing_unit = balance.package.billing_unit
        if billing_unit == "EA":
            quantity = Decimal(1)
        elif billing_unit == "ML":
            quantity = dose
        else:
            raise Invalid(
                f"Stock of {ndc.ndc10} is kept in {billing_unit}: a vaccine is counted in "
                "doses (EA) or mL.",
                field="code",
            )

        imm = Immunization.objects.create(
            site=site,
            patient=patient,
            vaccine=vaccine,
            information_source=InformationSource.NEW,
            completion=Completion.COMPLETE,
            administered_at=when,
            ndc11=ndc.ndc11,
            package=balance.package,
            lot=lot,
            lot_number=lot.number,
            expiry=lot.expiry,
            manufacturer=ndc.manufacturer,
            dose_ml=dose,
            route=route_code,
            body_site=site_code,
            dose_number=number,
            funding=funding,
            eligibility=code_eligibility,
            administered_by=actor,
            administered_by_name=(actor.get_full_name() or actor.username)[:150],
            supervising_pharmacist=supervisor,
            ordering_prescriber=prescriber,
            protocol=protocol_text,
            screening=screening,
            contraindications=[f.as_dict() for f in findings],
            screening_reviewed_by=reviewer,
            screening_note=review_note,
            consent_by=by,
            consent_name=consenter,
            consent_at=when,
            reporting_due_at=when + dt.timedelta(hours=rules.reporting_deadline_hours),
            note=note_text,
            recorded_by=actor,
        )
        for doc, presented_on in vis_rows:
            ImmunizationVis.objects.create(
                immunization=imm, document=doc, presented_on=presented_on
            )
        move = ledger.post_out(
            balance=balance,
            quantity=quantity,
            reason=MoveReason.ADMINISTER,
            actor=actor,
            ref=ledger.Ref("immunization", imm.pk),
            patient_id=patient.pk,
            dispensable_only=True,
            today=given_on,
        )
        imm.stock_move = move
        imm.save(update_fields=["stock_move"])
        _enqueue(imm, RegistryAction.ADD, actor)
        audit_record(
            actor=actor,
            action="immunizations.administered",
            obj=imm,
            patient_id=patient.pk,
            data={
                "cvx": vaccine.cvx,
                "ndc11": ndc.ndc11,
                "lot": lot.number,
                "funding": funding,
                "eligibility": code_eligibility,
                "dose_ml": str(dose),
                "route": route_code,
                "body_site": site_code,
                "stock_move": move.pk,
                "quantity": str(quantity),
                "findings": [f.code for f in findings],
                "supervising_pharmacist": supervisor.pk if supervisor else None,
                "screening_reviewed_by": reviewer.pk if reviewer else None,
                "consent_by": by,
                "vis": [doc.pk for doc, _ in vis_rows],
                "private_stock_for_vfc_child": bool(warning),
            },
        )
    return imm


# --- Historical doses and refusals --------------------------------------------------------

HISTORICAL_SOURCES = frozenset(s for s in InformationSource if s != InformationSource.NEW)


def _local_noon(site: Site, day: dt.date) -> dt.datetime:
    # A historical dose has a date, not a time: noon keeps the date the same in UTC and in
    # every US time zone.
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=site.tz)


def immunization_record_historical(
    *,
    actor: User,
    patient: Patient,
    cvx: str,
    administered_on: dt.date,
    source: str,
    historical_source: str,
    lot_number: str = "",
    ndc: str = "",
) -> Immunization:
    """Record a dose given elsewhere (from a card, another provider, a registry). No stock
    moves and no registry message: the dose is the other provider's to report."""
    authorize(actor, Cap.IMM_RECORD)
    actor = _signed_in(actor)
    site = actor.site
    assert site is not None
    with transaction.atomic():
        patient = _patient_of(site, patient)
        vaccine = _vaccine_of_cvx(cvx)
        if not isinstance(administered_on, dt.date) or isinstance(administered_on, dt.datetime):
            raise Invalid("Give the date of the dose.", field="administered_on")
        if administered_on > site.today():
            raise Invalid(f"{administered_on:%m/%d/%Y} has not come yet.", field="administered_on")
        if administered_on < patient.date_of_birth:
            raise Invalid(
                f"{administered_on:%m/%d/%Y} is before the patient's birth "
                f"({patient.date_of_birth:%m/%d/%Y}).",
                field="administered_on",
            )
        source_code = str(source or "").strip()
        if source_code not in {s.value for s in HISTORICAL_SOURCES}:
            raise Invalid(
                "Choose where the record comes from (01–08: other provider, parent's record, "
                "registry…).",
                field="source",
            )
        where = _text(
            historical_source,
            field="historical_source",
            limit=SOURCE_MAX,
            required=True,
            what="where the dose was given or reported from",
        )
        number = _text(lot_number, field="lot_number", limit=40).upper()
        ndc11 = ""
        if str(ndc or "").strip():
            try:
                scan = parse_scan(str(ndc))
            except CodeError as exc:
                raise Invalid(str(exc), field="ndc") from None
            ndc11 = scan.ndc11 or ""
            if not ndc11:
                row = _vaccine_for_code(str(ndc))
                ndc11 = row.ndc11 if row is not None else ""
            if not ndc11:
                raise Invalid("Type the NDC with its hyphens (5-4-2, 5-3-2 or 4-4-2).", field="ndc")
        _duplicate(site, patient, vaccine, administered_on, field="administered_on")
        imm = Immunization.objects.create(
            site=site,
            patient=patient,
            vaccine=vaccine,
            information_source=source_code,
            completion=Completion.COMPLETE,
            administered_at=_local_noon(site, administered_on),
            ndc11=ndc11,
            lot_number=number,
            historical_source=where,
            recorded_by=actor,
        )
        audit_record(
            actor=actor,
            action="immunizations.historical_recorded",
            obj=imm,
            patient_id=patient.pk,
            data={
                "cvx": vaccine.cvx,
                "administered_on": administered_on.isoformat(),
                "source": source_code,
                "ndc11": ndc11,
            },
        )
    return imm


def immunization_record_refusal(
    *,
    actor: User,
    patient: Patient,
    cvx: str,
    refusal_reason: str,
    note: str = "",
) -> Immunization:
    """Record that the patient (or parent) declined a vaccine today; reported to the
    registry (RXA-20 RE, RXA-18 the reason)."""
    authorize(actor, Cap.IMM_RECORD)
    actor = _signed_in(actor)
    site = actor.site
    assert site is not None
    with transaction.atomic():
        patient = _patient_of(site, patient)
        vaccine = _vaccine_of_cvx(cvx)
        reason = _choice(refusal_reason, RefusalReason, field="refusal_reason", what="the reason")
        note_text = _text(note, field="note", limit=NOTE_MAX)
        imm = Immunization.objects.create(
            site=site,
            patient=patient,
            vaccine=vaccine,
            information_source=InformationSource.NEW,
            completion=Completion.REFUSED,
            refusal_reason=reason,
            administered_at=timezone.now().replace(microsecond=0),
            administered_by=actor,
            administered_by_name=(actor.get_full_name() or actor.username)[:150],
            note=note_text,
            recorded_by=actor,
        )
        _enqueue(imm, RegistryAction.ADD, actor)
        audit_record(
            actor=actor,
            action="immunizations.refusal_recorded",
            obj=imm,
            patient_id=patient.pk,
            data={"cvx": vaccine.cvx, "refusal_reason": reason},
        )
    return imm


# --- Corrections --------------------------------------------------------------------------


def _own_dose(site: Site, immunization: Immunization) -> Immunization:
    found = (
        Immunization.objects.select_related("patient", "vaccine")
        .select_for_update(of=("self",))
        .filter(pk=getattr(immunization, "pk", 0) or 0, site=site)
        .first()
    )
    if found is None:
        raise NotFound("No such immunization at this pharmacy.", field="immunization")
    return found


def _reported(imm: Immunization) -> bool:
    return imm.information_source == InformationSource.NEW


def immunization_correct(*, actor: User, immunization: Immunization, **fields: Any) -> Immunization:
    """Correct the route, body site, dose number, VFC eligibility or note of a dose. The
    lot and the vaccine are not corrected: a wrong one is entered in error and recorded
    again. A dose given here is reported again (UPDATE)."""
    authorize(actor, Cap.IMM_ADMINISTER)
    actor = _signed_in(actor)
    site = actor.site
    assert site is not None
    unknown = sorted(set(fields) - set(CORRECTABLE))
    if unknown:
        what = (
            "the lot and the vaccine are not corrected: mark the dose entered in error and "
            "record it again"
            if set(unknown) & {"lot", "lot_number", "vaccine", "code", "cvx", "ndc11", "expiry"}
            else "this field cannot be corrected"
        )
        raise Invalid(errors=[{"field": f, "message": what.capitalize() + "."} for f in unknown])
    with transaction.atomic():
        imm = _own_dose(site, immunization)
        if imm.status == RecordStatus.ENTERED_IN_ERROR:
            raise Conflict("This record was entered in error; it cannot be changed.")
        given_here = imm.given_here and imm.completion == Completion.COMPLETE
        if not given_here and set(fields) - {"dose_number", "note"}:
            raise Invalid(
                "Only the dose number and note of a historical dose or refusal can be corrected.",
                field=sorted(set(fields) - {"dose_number", "note"})[0],
            )
        before = {f: getattr(imm, f) for f in CORRECTABLE}
        months = age_in_months(
            imm.patient.date_of_birth, imm.administered_at.astimezone(site.tz).date()
        )
        if "route" in fields or "body_site" in fields:
            imm.route, imm.body_site = _route_site(
                fields.get("route", imm.route), fields.get("body_site", imm.body_site)
            )
        if "dose_number" in fields:
            imm.dose_number = _dose_number(fields["dose_number"])
        if "eligibility" in fields:
            imm.eligibility = _eligibility(fields["eligibility"], months)
            warning = _funding_fits(imm.funding, imm.eligibility, months, imm.lot_number)
            if warning and warning not in imm.note:
                imm.note = f"{imm.note} {warning}".strip()[:NOTE_MAX]
        if "note" in fields:
            imm.note = _text(fields["note"], field="note", limit=NOTE_MAX)
        after = {f: getattr(imm, f) for f in CORRECTABLE}
        changes = diff(before, after)
        if not changes:
            return imm
        imm.updated_at = timezone.now()
        imm.save(update_fields=[*changes, "updated_at"])
        if _reported(imm):
            _enqueue(imm, RegistryAction.UPDATE, actor)
        # The note is free text: the audit names it as changed without copying it.
        audit_changes = {k: v for k, v in changes.items() if k != "note"}
        audit_record(
            actor=actor,
            action="immunizations.corrected",
            obj=imm,
            patient_id=imm.patient_id,
            data={"changes": audit_changes, "fields": sorted(changes)},
        )
    return imm


def immunization_mark_entered_in_error(
    *, actor: User, immunization: Immunization, reason: str
) -> Immunization:
    """A pharmacist marks a record entered in error (wrong patient, wrong lot, never
    given). The registry is told to delete it. Stock is not put back automatically: the
    dose was drawn up; an unused dose goes back through an inventory adjustment."""
    authorize(actor, Cap.IMM_ADMINISTER)
    actor = _signed_in(actor)
    if actor.role not in PHARMACIST_ROLES:
        raise Forbidden(
            "Only a pharmacist marks an immunization entered in error.", field="immunization"
        )
    site = actor.site
    assert site is not None
    why = _text(reason, field="reason", limit=REASON_MAX, required=True, what="the reason")
    with transaction.atomic():
        imm = _own_dose(site, immunization)
        if imm.status == RecordStatus.ENTERED_IN_ERROR:
            raise Conflict("This record is already marked entered in error.", field="immunization")
        imm.status = RecordStatus.ENTERED_IN_ERROR
        imm.status_reason = why
        imm.updated_at = timezone.now()
        imm.save(update_fields=["status", "status_reason", "updated_at"])
        if _reported(imm):
            _enqueue(imm, RegistryAction.DELETE, actor)
        audit_record(
            actor=actor,
            action="immunizations.entered_in_error",
            obj=imm,
            patient_id=imm.patient_id,
            data={
                "status": RecordStatus.ENTERED_IN_ERROR,
                "stock_move": imm.stock_move_id,
                "reported": _reported(imm),
            },
        )
    return imm


def immunization_record_viewed(
    *, actor: User, patient: Patient, immunization: Immunization | None = None, output: str = "html"
) -> None:
    """Record that a patient's immunizations (or one dose) were opened (HIPAA access
    accounting)."""
    authorize(actor, Cap.IMM_VIEW)
    authorize(actor, Cap.PATIENT_VIEW)
    actor = _signed_in(actor)
    if patient.site_id != actor.site_id or (
        immunization is not None and immunization.site_id != actor.site_id
    ):
        raise NotFound("No such patient at this pharmacy.", field="patient")
    with transaction.atomic():
        if immunization is not None:
            audit_record(
                actor=actor,
                action="immunizations.record.viewed",
                obj=immunization,
                patient_id=patient.pk,
                data={"format": output},
            )
        else:
            audit_record(
                actor=actor,
                action="immunizations.record.viewed",
                obj=patient,
                patient_id=patient.pk,
                data={"format": output, "list": True},
            )
