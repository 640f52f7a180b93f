"""Incoming FHIR: a MedicationRequest as a new prescription, a transaction Bundle.

A MedicationRequest posted to ``/fhir/MedicationRequest`` is received exactly as an
e-prescription is: it is read into the NCPDP SCRIPT NewRx objects of
:mod:`rxdesk.interop.script`, written as a NewRx and handed to
:func:`rxdesk.rx.services.erx.erx_receive`. So every e-prescription rule applies (schedule
limits, refills, dates, NPI and DEA check digits…), the same patient/prescriber/drug matching
decides (a sure match creates the Rx and queues its first fill; otherwise the message waits in
the e-prescription inbox for a technician), and the same audit events are written.

A FHIR MedicationRequest does not say the drug's DEA schedule; the schedule our catalog gives
its NDC is written into the NewRx, so the law's limits (no refills on a Schedule II, at most
5 on III–IV, the prescriber's DEA number) refuse a request even before anyone matches it.

Identity: a request is known by ``identifier system|value`` (the prescriber's order number),
else (no identifier with a system) by the SHA-256 of its body. The SCRIPT MessageID is
``FHIR`` + 31 hex digits of that key's SHA-256, and an
:class:`~rxdesk.fhir.models.InboundRequest` keeps the body as sent beside the message it
became: posting the same request again answers with what the first one made (200); the same
identifier with other content is a Conflict (409).

A transaction Bundle (``POST /fhir``) carries ``POST MedicationRequest`` entries and the
Patient, Practitioner and Medication entries they reference by ``fullUrl``; those are read
for matching, never stored as records of their own. A transaction is all or nothing; a batch
answers entry by entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NoReturn

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Conflict, DomainError
from rxdesk.fhir import codes, validate
from rxdesk.fhir.models import InboundRequest
from rxdesk.fhir.outcome import FhirError, from_domain, outcome
from rxdesk.fhir.registry import TYPES, Context, model_row
from rxdesk.interop import script
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx import matching
from rxdesk.rx.choices import ErxStatus
from rxdesk.rx.models import ErxMessage, Prescription
from rxdesk.rx.services.erx import erx_receive

__all__ = [
    "MAX_ENTRIES",
    "Answer",
    "medication_request_create",
    "message_id_of",
    "receive",
    "transaction_bundle",
]

# A prescriber's batch of new prescriptions fits well inside; more is refused unread.
MAX_ENTRIES = 100
ACCEPTED_STATUS = frozenset({"active", "draft"})
ACCEPTED_INTENT = frozenset({"order", "original-order"})
DEA_SYSTEM = "http://hl7.org/fhir/sid/us-dea"  # seen in the wild; type DEA (v2-0203) too
ORDERABLE_DRUG_FORM = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"
# SCRIPT name elements hold 35 characters; our patient and prescriber files 60.
MAX_NAME = 35
MAX_ORDER_NUMBER = 35  # SCRIPT PrescriberOrderNumber
MAX_SYSTEM = 200
MAX_CONTAINED = 20

# Characters XML 1.0 cannot carry (and lone surrogates): refused before the NewRx is built.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_DATE_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(T.{8,30})?", re.ASCII)
_RXCUI = re.compile(r"[0-9]{1,10}", re.ASCII)
_OWN_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}", re.ASCII)

_GENDERS = {"male": "M", "female": "F", "other": "U", "unknown": "U"}
_SCHEDULES = {
    "CI": script.DeaSchedule.CI,
    "CII": script.DeaSchedule.CII,
    "CIII": script.DeaSchedule.CIII,
    "CIV": script.DeaSchedule.CIV,
    "CV": script.DeaSchedule.CV,
}

# Quantity units a FHIR sender writes, as the NCPDP (NCI Thesaurus) code SCRIPT carries.
# UCUM for measured amounts and annotations for counted ones; v3-orderableDrugForm codes;
# and plain words (the unit names of script.QUANTITY_UNITS, singular, plus the usual short
# forms). "unit" alone is not here on purpose: insulin units are not a dispensing unit.
_UCUM_UNITS = {
    "mL": "C28254",
    "g": "C48155",
    "{tbl}": "C48542",
    "{tablet}": "C48542",
    "{cap}": "C48480",
    "{capsule}": "C48480",
    "{each}": "C64933",
    "{ea}": "C64933",
    "{patch}": "C48524",
    "{suppository}": "C48539",
    "{lozenge}": "C48506",
    "{kit}": "C48504",
}
_FORM_UNITS = {
    "TAB": "C48542",
    "CAP": "C48480",
    "PATCH": "C48524",
    "SUPP": "C48539",
    "LOZ": "C48506",
    "TROCHE": "C48548",
    "KIT": "C48504",
}
_WORD_UNITS = {name.lower(): code for code, (name, _) in script.QUANTITY_UNITS.items()} | {
    "tab": "C48542",
    "cap": "C48480",
    "ml": "C28254",
    "millilitre": "C28254",
    "g": "C48155",
    "gm": "C48155",
    "gr": "C48155",
    "ea": "C64933",
    "inhaler": "C62413",
}


# --- Errors ----------------------------------------------------------------------------------


def _fail(path: str, message: str, status: int = 422) -> NoReturn:
    raise FhirError(status, message, expression=path)


def _structure(path: str, message: str) -> NoReturn:
    raise FhirError(400, message, code="structure", expression=path)


# --- Strict readers: JSON values as the element needs them -----------------------------------


def _dict(value: Any, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        _structure(path, f"{path} must be a JSON object.")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        _structure(path, f"{path} must be a JSON array.")
    return value


def _text(value: Any, path: str, *, limit: int) -> str | None:
    """A string element, whitespace tidied; refused when it is not text, holds characters XML
    cannot carry, or is longer than ``limit``."""
    if value is None:
        return None
    if not isinstance(value, str):
        _structure(path, f"{path} must be text.")
    text = " ".join(value.split())
    if _NOT_XML.search(text):
        _structure(path, f"{path} holds control characters or broken Unicode.")
    if len(text) > limit:
        _fail(path, f"{path} is longer than {limit} characters.")
    return text or None


def _decimal(value: Any, path: str) -> Decimal:
    # bool is an int in Python; JSON true is not a number.
    if isinstance(value, bool) or not isinstance(value, int | float):
        _structure(path, f"{path} must be a JSON number, not {type(value).__name__}.")
    if isinstance(value, float) and not math.isfinite(value):
        _structure(path, f"{path} is not a finite number.")
    number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if abs(number) >= Decimal(10) ** 9:
        _fail(path, f"{path} is not a plausible amount.")
    return number


def _whole(value: Any, path: str) -> int:
    number = _decimal(value, path)
    if number != number.to_integral_value():
        _fail(path, f"{path} must be a whole number.")
    return int(number)


def _full_date(value: Any, path: str) -> dt.date:
    if not isinstance(value, str) or not _FULL_DATE.fullmatch(value):
        _fail(path, f"{path} must be a full date like 2025-03-15.")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail(path, f"{path} is not a real date.")


# --- References ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    """What a reference names: a resource sent with the request (and where it sits), or a
    row of ours."""

    resource: dict[str, Any] | None = None
    path: str = ""
    row: Model | None = None


@dataclass
class _Refs:
    """Resolves the references of one MedicationRequest: ``#id`` to its contained resources,
    a ``fullUrl`` (or ``Type/id``) to the other entries of its Bundle, ``Type/<id>`` to our
    own rows at this site."""

    ctx: Context
    contained: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    bundle: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)

    def resolve(self, value: Any, path: str, kind: str, what: str) -> _Found:
        ref = _dict(value, path)
        target = ref.get("reference") if ref else None
        if not isinstance(target, str) or not target.strip():
            _fail(path, f"{path} must reference the {what} ({kind}).")
        target = target.strip()
        if target.startswith("#"):
            found = self.contained.get(target[1:])
            if found is None:
                _fail(path, f"{path} names {target[:70]}, but no contained resource has that id.")
            return self._typed(found, path, kind)
        if target in self.bundle:
            return self._typed(self.bundle[target], path, kind)
        own = target.removeprefix(f"{self.ctx.base}/")
        head, _, fhir_id = own.partition("/")
        if head == kind and _OWN_ID.fullmatch(fhir_id):
            row = _own_row(kind, fhir_id, self.ctx)
            if row is not None:
                return _Found(row=row)
            _fail(
                path,
                f"No {kind}/{fhir_id} at this pharmacy. Send the {what} as a contained "
                "resource instead.",
            )
        _fail(
            path,
            f"rxdesk cannot follow {target[:80]}: send the {what} as a contained {kind} "
            f"(#id) or refer to one of this pharmacy's ({kind}/<id>).",
        )

    @staticmethod
    def _typed(found: tuple[dict[str, Any], str], path: str, kind: str) -> _Found:
        resource, where = found
        if resource.get("resourceType") != kind:
            _fail(path, f"{path} must reference a {kind}, not a {resource.get('resourceType')}.")
        return _Found(resource=resource, path=where)


_OWN_MODELS: dict[str, type[Model]] = {
    "Patient": Patient,
    "Practitioner": Prescriber,
    "Medication": Package,
}


def _own_row(kind: str, fhir_id: str, ctx: Context) -> Model | None:
    """Our row behind ``Type/<id>`` (this site's only), read as the FHIR API serves it."""
    model = _OWN_MODELS[kind]
    rt = TYPES.get(kind)
    if rt is not None:
        row = model_row(rt, fhir_id, ctx)
        return row if isinstance(row, model) else None
    if not fhir_id.isdigit() or len(fhir_id) > 12:
        return None
    if model is Package:
        return Package.objects.select_related("product").filter(pk=int(fhir_id)).first()
    return model.objects.filter(site=ctx.site, pk=int(fhir_id)).first()  # type: ignore[attr-defined]


def _contained(body: dict[str, Any], base: str) -> dict[str, tuple[dict[str, Any], str]]:
    out: dict[str, tuple[dict[str, Any], str]] = {}
    items = _list(body.get("contained"), f"{base}.contained")
    if len(items) > MAX_CONTAINED:
        _fail(f"{base}.contained", f"At most {MAX_CONTAINED} contained resources.")
    for index, item in enumerate(items):
        path = f"{base}.contained[{index}]"
        resource = _dict(item, path) or {}
        rid = resource.get("id")
        if not isinstance(rid, str) or not rid:
            _structure(f"{path}.id", "A contained resource needs an id to be referenced by.")
        if rid in out:
            _structure(f"{path}.id", f"Two contained resources have the id {rid[:40]}.")
        out[rid] = (resource, path)
    return out


# --- FHIR → SCRIPT ---------------------------------------------------------------------------


def _name(value: Any, path: str) -> script.Name:
    names = [n for n in _list(value, path) if isinstance(n, dict)]
    if not names:
        _fail(path, f"{path} is required: family and given name.")
    chosen = next((n for n in names if n.get("use") in ("official", "usual")), names[0])
    index = names.index(chosen)
    where = f"{path}[{index}]"
    last = _text(chosen.get("family"), f"{where}.family", limit=MAX_NAME)
    read = [
        _text(g, f"{where}.given[{i}]", limit=MAX_NAME)
        for i, g in enumerate(_list(chosen.get("given"), f"{where}.given"))
    ]
    given = [g for g in read if g]
    if not last or not given:
        _fail(where, f"{where} needs a family name and a given name.")
    suffixes = _list(chosen.get("suffix"), f"{where}.suffix")
    prefixes = _list(chosen.get("prefix"), f"{where}.prefix")
    return script.Name(
        last=last,
        first=given[0],
        middle=given[1] if len(given) > 1 else None,
        suffix=_text(suffixes[0], f"{where}.suffix[0]", limit=10) if suffixes else None,
        prefix=_text(prefixes[0], f"{where}.prefix[0]", limit=10) if prefixes else None,
    )


def _address(value: Any, path: str) -> script.PostalAddress | None:
    items = [a for a in _list(value, path) if isinstance(a, dict)]
    if not items:
        return None
    chosen = next((a for a in items if a.get("use") in ("home", "work")), items[0])
    where = f"{path}[{items.index(chosen)}]"
    lines = _list(chosen.get("line"), f"{where}.line")
    return script.PostalAddress(
        line1=_text(lines[0], f"{where}.line[0]", limit=120) if lines else None,
        line2=_text(lines[1], f"{where}.line[1]", limit=120) if len(lines) > 1 else None,
        city=_text(chosen.get("city"), f"{where}.city", limit=80),
        state=_text(chosen.get("state"), f"{where}.state", limit=2),
        postal_code=_text(chosen.get("postalCode"), f"{where}.postalCode", limit=10),
        country="US",
    )


def _phone(value: Any, path: str) -> str | None:
    for index, point in enumerate(_list(value, path)):
        if isinstance(point, dict) and point.get("system") == "phone":
            text = _text(point.get("value"), f"{path}[{index}].value", limit=40) or ""
            digits = re.sub(r"[^0-9]", "", text)
            if len(digits) == 11 and digits.startswith("1"):
                digits = digits[1:]
            if len(digits) == 10:
                return digits
    return None


def _patient(found: _Found) -> script.Patient:
    if isinstance(found.row, Patient):
        p = found.row
        return script.Patient(
            name=script.Name(
                last=p.last_name,
                first=p.first_name,
                middle=p.middle_name or None,
                suffix=p.suffix or None,
            ),
            gender=p.sex or "U",
            date_of_birth=p.date_of_birth,
            address=script.PostalAddress(
                p.address_line1 or None,
                p.address_line2 or None,
                p.city or None,
                p.state or None,
                p.postal_code or None,
                "US" if p.city else None,
            ),
            phone=p.phone_mobile or p.phone_home or None,
        )
    res, path = found.resource or {}, found.path
    gender = res.get("gender")
    if gender is not None and gender not in _GENDERS:
        _structure(f"{path}.gender", "gender is male, female, other or unknown.")
    if res.get("birthDate") is None:
        _fail(f"{path}.birthDate", "The patient's date of birth is needed to match the patient.")
    return script.Patient(
        name=_name(res.get("name"), f"{path}.name"),
        gender=_GENDERS.get(gender or "unknown", "U"),
        date_of_birth=_full_date(res.get("birthDate"), f"{path}.birthDate"),
        address=_address(res.get("address"), f"{path}.address"),
        phone=_phone(res.get("telecom"), f"{path}.telecom"),
    )


def _is_dea(ident: dict[str, Any]) -> bool:
    if ident.get("system") == DEA_SYSTEM:
        return True
    kind = ident.get("type")
    codings = kind.get("coding") if isinstance(kind, dict) else None
    return any(
        isinstance(c, dict) and c.get("system") == codes.V2_0203 and c.get("code") == "DEA"
        for c in (codings if isinstance(codings, list) else [])
    )


def _prescriber(found: _Found) -> script.Prescriber:
    if isinstance(found.row, Prescriber):
        p = found.row
        return script.Prescriber(
            name=script.Name(
                last=p.last_name,
                first=p.first_name,
                middle=p.middle_name or None,
                suffix=p.suffix or None,
            ),
            npi=p.npi or None,
            dea_number=p.dea_number or None,
            state_license_number=p.state_license or None,
        )
    res, path = found.resource or {}, found.path
    npi: str | None = None
    dea: str | None = None
    for index, item in enumerate(_list(res.get("identifier"), f"{path}.identifier")):
        ident = _dict(item, f"{path}.identifier[{index}]") or {}
        value = _text(ident.get("value"), f"{path}.identifier[{index}].value", limit=40)
        if value and ident.get("system") == codes.NPI and npi is None:
            npi = value
        elif value and _is_dea(ident) and dea is None:
            dea = value
    return script.Prescriber(
        name=_name(res.get("name"), f"{path}.name"),
        npi=npi,
        dea_number=dea,
        address=_address(res.get("address"), f"{path}.address"),
        phone=_phone(res.get("telecom"), f"{path}.telecom"),
    )


@dataclass(frozen=True)
class _Drug:
    description: str
    ndc11: str | None
    rxnorm: script.Code | None
    schedule: script.DeaSchedule | None


def _catalog(ndc11: str | None) -> Package | None:
    if ndc11 is None:
        return None
    return Package.objects.select_related("product").filter(ndc11=ndc11).first()


def _drug_of_concept(value: Any, path: str) -> _Drug:
    concept = _dict(value, path) or {}
    ndc11: str | None = None
    rxnorm: script.Code | None = None
    display: str | None = None
    for index, item in enumerate(_list(concept.get("coding"), f"{path}.coding")):
        where = f"{path}.coding[{index}]"
        coding = _dict(item, where) or {}
        code = _text(coding.get("code"), f"{where}.code", limit=20)
        display = display or _text(coding.get("display"), f"{where}.display", limit=300)
        system = coding.get("system")
        if system == codes.NDC and code and ndc11 is None:
            ndc11 = matching.ndc11_of(code)
            if ndc11 is None:
                _fail(
                    f"{where}.code",
                    f"{code} is not an NDC rxdesk can read: send 11 digits (5-4-2) or the "
                    "10-digit NDC with its hyphens.",
                )
        elif system == codes.RXNORM and code and rxnorm is None:
            if not _RXCUI.fullmatch(code):
                _fail(f"{where}.code", f"{code} is not an RxNorm concept id (digits).")
            # SCRIPT qualifies an RxNorm code by term type, which the coding does not carry.
            # RxNorm writes a branded drug's name with the brand in brackets
            # ("fluoxetine 20 MG Oral Capsule [Prozac]"): SBD then, else the clinical drug.
            qualifier = "SBD" if display and "[" in display else "SCD"
            rxnorm = script.Code(code, qualifier)
    text = _text(concept.get("text"), f"{path}.text", limit=300) or display
    package = _catalog(ndc11)
    if text is None and package is not None:
        text = str(package.product)[: script.MAX_DRUG_DESCRIPTION]
    if text is None:
        if ndc11 is None and rxnorm is None:
            _fail(path, f"{path} must name the drug: an NDC or RxNorm coding, or text.")
        text = f"NDC {ndc11}" if ndc11 else f"RxNorm {rxnorm.code if rxnorm else ''}"
    schedule = _SCHEDULES.get(package.product.dea_schedule) if package else None
    return _Drug(description=text, ndc11=ndc11, rxnorm=rxnorm, schedule=schedule)


def _drug(body: dict[str, Any], base: str, refs: _Refs) -> tuple[_Drug, str]:
    """The drug and the FHIRPath of the element that named it."""
    if "medicationCodeableConcept" in body:
        path = f"{base}.medicationCodeableConcept"
        return _drug_of_concept(body["medicationCodeableConcept"], path), path
    path = f"{base}.medicationReference"
    if "medicationReference" not in body:
        _fail(f"{base}.medication[x]", "Say which drug: medicationCodeableConcept or a Medication.")
    found = refs.resolve(body["medicationReference"], path, "Medication", "medication")
    if isinstance(found.row, Package):
        package = found.row
        return (
            _Drug(
                description=str(package.product)[: script.MAX_DRUG_DESCRIPTION],
                ndc11=package.ndc11,
                rxnorm=None,
                schedule=_SCHEDULES.get(package.product.dea_schedule),
            ),
            path,
        )
    resource = found.resource or {}
    if "code" not in resource:
        _fail(f"{found.path}.code", "The Medication must carry its code (NDC or RxNorm).")
    return _drug_of_concept(resource["code"], f"{found.path}.code"), path


def _unit_code(quantity: dict[str, Any], path: str) -> str:
    code, system, unit = quantity.get("code"), quantity.get("system"), quantity.get("unit")
    if isinstance(code, str) and code in script.QUANTITY_UNITS:
        return code
    if system == codes.UCUM and isinstance(code, str) and code in _UCUM_UNITS:
        return _UCUM_UNITS[code]
    if system == ORDERABLE_DRUG_FORM and isinstance(code, str) and code in _FORM_UNITS:
        return _FORM_UNITS[code]
    for word in (unit, code):
        if isinstance(word, str):
            key = word.strip().lower().strip("{}").removesuffix("(s)")
            found = _WORD_UNITS.get(key) or _WORD_UNITS.get(key.removesuffix("s"))
            if found:
                return found
    shown = unit if isinstance(unit, str) else code if isinstance(code, str) else None
    what = (
        f"rxdesk cannot tell what unit {shown[:40]!r} is" if shown else "The quantity has no unit"
    )
    _fail(
        f"{path}.unit",
        f"{what}; use tablet, capsule, mL, g or each (or UCUM, or an NCPDP NCI unit code).",
    )


def _days(value: Any, path: str) -> int | None:
    duration = _dict(value, path)
    if duration is None:
        return None
    amount = _whole(duration.get("value"), f"{path}.value")
    unit = duration.get("code") or duration.get("unit")
    per = {"d": 1, "day": 1, "days": 1, "wk": 7, "week": 7, "weeks": 7}.get(str(unit).lower())
    if per is None:
        _fail(f"{path}.unit", "Give the days supply in days (code d) or weeks (wk).")
    return amount * per


def _written(value: Any, path: str) -> dt.date:
    if value is None:
        _fail(path, "authoredOn (the date written) is required for a prescription.")
    if not isinstance(value, str) or not (found := _DATE_TIME.fullmatch(value)):
        _fail(path, f"{path} must be a full date (2025-03-15) or date and time.")
    return _full_date(found.group(1), path)


def _diagnoses(value: Any, path: str) -> tuple[script.Diagnosis, ...]:
    out: list[script.Diagnosis] = []
    for index, item in enumerate(_list(value, path)):
        concept = _dict(item, f"{path}[{index}]") or {}
        for c_index, coding in enumerate(_list(concept.get("coding"), f"{path}[{index}].coding")):
            if isinstance(coding, dict) and coding.get("system") == codes.ICD10CM:
                where = f"{path}[{index}].coding[{c_index}]"
                code = _text(coding.get("code"), f"{where}.code", limit=10)
                if code and len(out) < 2:
                    out.append(
                        script.Diagnosis(
                            code=code,
                            qualifier="ABF",  # ICD-10-CM (reference §2.3)
                            description=_text(coding.get("display"), f"{where}.display", limit=100),
                            primary=not out,
                        )
                    )
    return tuple(out)


def _note(value: Any, path: str) -> str | None:
    parts = [
        _text((_dict(n, f"{path}[{i}]") or {}).get("text"), f"{path}[{i}].text", limit=2000)
        for i, n in enumerate(_list(value, path))
    ]
    text = " ".join(p for p in parts if p)
    return text or None


def _identity(body: dict[str, Any], base: str) -> tuple[str, str | None]:
    """(key, prescriber order number). The order number is the first identifier's value;
    the key is the first identifier that has a system too — a bare value ("12345") is not
    unique across senders — else the body's hash."""
    key: str | None = None
    number: str | None = None
    for index, item in enumerate(_list(body.get("identifier"), f"{base}.identifier")):
        where = f"{base}.identifier[{index}]"
        ident = _dict(item, where) or {}
        value = _text(ident.get("value"), f"{where}.value", limit=MAX_ORDER_NUMBER)
        system = _text(ident.get("system"), f"{where}.system", limit=MAX_SYSTEM)
        if value and number is None:
            number = value
        if value and system and key is None:
            key = f"{system}|{value}"
    return key or "sha256:" + _digest(body), number


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def message_id_of(key: str) -> str:
    """The SCRIPT MessageID of a request: 35 characters, the same for the same request."""
    return "FHIR" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:31]


@dataclass(frozen=True)
class _NewRx:
    key: str
    xml: bytes
    field_map: dict[str, str]


def _translate(body: dict[str, Any], base: str, refs: _Refs, key: str, pon: str | None) -> _NewRx:
    """The MedicationRequest as a SCRIPT NewRx addressed to this pharmacy."""
    site = refs.ctx.site
    status, intent = body.get("status"), body.get("intent")
    if status not in ACCEPTED_STATUS:
        _fail(f"{base}.status", f"A new prescription is active or draft, not {str(status)[:20]}.")
    if intent not in ACCEPTED_INTENT:
        _fail(f"{base}.intent", f"A prescription's intent is order, not {str(intent)[:20]}.")
    if body.get("doNotPerform") is True:
        _fail(f"{base}.doNotPerform", "A do-not-perform request is not a prescription to fill.")
    if not site.ncpdp_id:
        raise FhirError(
            422,
            "This pharmacy has no NCPDP ID on file, so it cannot receive prescriptions; the "
            "pharmacist-in-charge sets it in the site settings.",
        )
    patient = _patient(refs.resolve(body.get("subject"), f"{base}.subject", "Patient", "patient"))
    prescriber = _prescriber(
        refs.resolve(body.get("requester"), f"{base}.requester", "Practitioner", "prescriber")
    )
    drug, drug_path = _drug(body, base, refs)

    request = _dict(body.get("dispenseRequest"), f"{base}.dispenseRequest") or {}
    q_path = f"{base}.dispenseRequest.quantity"
    quantity = _dict(request.get("quantity"), q_path)
    if quantity is None or quantity.get("value") is None:
        _fail(q_path, "Say how much to dispense (dispenseRequest.quantity with a unit).")
    refills = request.get("numberOfRepeatsAllowed")
    r_path = f"{base}.dispenseRequest.numberOfRepeatsAllowed"

    dosage = _list(body.get("dosageInstruction"), f"{base}.dosageInstruction")
    first = _dict(dosage[0], f"{base}.dosageInstruction[0]") if dosage else None
    sig_path = f"{base}.dosageInstruction[0].text"
    sig = _text((first or {}).get("text"), sig_path, limit=script.MAX_SIG_TEXT)
    if sig is None:
        _fail(sig_path, "The directions (dosageInstruction[0].text) are required.")

    substitution = _dict(body.get("substitution"), f"{base}.substitution") or {}
    allowed = substitution.get("allowedBoolean")
    if allowed is not None and not isinstance(allowed, bool):
        _structure(f"{base}.substitution.allowedBoolean", "allowedBoolean is true or false.")
    concept = _dict(substitution.get("allowedCodeableConcept"), f"{base}.substitution") or {}
    # v3-substanceAdminSubstitution N: no substitution.
    refused = allowed is False or any(
        isinstance(c, dict)
        and c.get("system") == codes.SUBSTANCE_ADMIN_SUBST
        and c.get("code") == "N"
        for c in _list(concept.get("coding"), f"{base}.substitution.allowedCodeableConcept.coding")
    )

    medication = script.Medication(
        drug_description=drug.description,
        quantity=script.Quantity(
            value=_decimal(quantity["value"], f"{q_path}.value"),
            code_list_qualifier="38",  # original quantity
            unit_code=_unit_code(quantity, q_path),
        ),
        written_date=_written(body.get("authoredOn"), f"{base}.authoredOn"),
        # Substitutions 1: the prescriber does not allow substitution (DAW 1).
        substitutions=1 if refused else 0,
        sig=script.Sig(sig),
        product_code=script.Code(drug.ndc11, "ND") if drug.ndc11 else None,
        drug_db_code=drug.rxnorm,
        dea_schedule=drug.schedule,
        days_supply=_days(
            request.get("expectedSupplyDuration"), f"{base}.dispenseRequest.expectedSupplyDuration"
        ),
        refills=_whole(refills, r_path) if refills is not None else None,
        diagnoses=_diagnoses(body.get("reasonCode"), f"{base}.reasonCode"),
        note=_note(body.get("note"), f"{base}.note"),
    )
    sender = (
        script.Endpoint("D", prescriber.npi) if prescriber.npi else script.Endpoint("ZZZ", "FHIR")
    )
    field_map = _field_map(base, drug_path)
    try:
        xml = script.new_rx(
            to=script.Endpoint("P", site.ncpdp_id),
            from_=sender,
            message_id=message_id_of(key),
            sent_time=timezone.now(),
            patient=patient,
            pharmacy=script.Pharmacy(
                ncpdp_id=site.ncpdp_id, npi=site.npi or None, business_name=site.name
            ),
            prescriber=prescriber,
            medication=medication,
            prescriber_order_number=pon,
        )
    except script.ScriptError as exc:
        raise _mapped(exc, field_map) from None
    return _NewRx(key=key, xml=xml, field_map=field_map)


def _field_map(base: str, drug_path: str) -> dict[str, str]:
    """SCRIPT element paths (as erx_receive names them) → FHIRPath of what carried them."""
    med = "MedicationPrescribed."
    return {
        "Header/MessageID": f"{base}.identifier",
        "Header/To": f"{base}.performer",
        f"{med}NumberOfRefills": f"{base}.dispenseRequest.numberOfRepeatsAllowed",
        f"{med}WrittenDate": f"{base}.authoredOn",
        f"{med}WrittenDate.Date": f"{base}.authoredOn",
        f"{med}Quantity.Value": f"{base}.dispenseRequest.quantity.value",
        f"{med}Quantity.QuantityUnitOfMeasure.Code": f"{base}.dispenseRequest.quantity.unit",
        f"{med}DaysSupply": f"{base}.dispenseRequest.expectedSupplyDuration",
        f"{med}Substitutions": f"{base}.substitution",
        f"{med}Diagnosis.Primary.Code": f"{base}.reasonCode",
        f"{med}Diagnosis.Secondary.Code": f"{base}.reasonCode",
        f"{med}Note": f"{base}.note",
        f"{med}Sig.SigText": f"{base}.dosageInstruction[0].text",
        f"{med}DrugDescription": drug_path,
        f"{med}DrugCoded.ProductCode.Code": drug_path,
        f"{med}DrugCoded.DEASchedule": drug_path,
    }


def _mapped(exc: DomainError, field_map: dict[str, str]) -> FhirError:
    """A domain error with each SCRIPT element named as the FHIR element that carried it;
    an element not in the map by the part of the request it belongs to."""
    base = field_map["Header/MessageID"].removesuffix(".identifier")
    full = dict(field_map)
    for error in exc.errors:
        name = error.get("field") or ""
        if not name or name in full:
            continue
        if name.startswith("Prescriber"):
            full[name] = f"{base}.requester"
        elif name.startswith("Patient"):
            full[name] = f"{base}.subject"
        else:
            full[name] = base
    return from_domain(exc, field_map=full)


# --- Receiving -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one MedicationRequest came to: the HTTP status, the resource to answer with
    (our MedicationRequest, or an OperationOutcome) and the Location id ('' when none)."""

    status: int
    resource: dict[str, Any]
    location: str


def _rx_answer(rx: Prescription, ctx: Context, status: int) -> Answer:
    rt = TYPES.get("MedicationRequest")
    if rt is None:  # the MedicationRequest type is not served: say what was made
        return Answer(status, _information(f"Prescription {rx.number} was created."), "")
    row = model_row(rt, rt.id_of(rx), ctx) or rx
    return Answer(status, rt.to_fhir(row, ctx), rt.id_of(row))


def _information(text: str) -> dict[str, Any]:
    return outcome([("informational", text, None)], severity="information")


def _answer(message: ErxMessage, ctx: Context, *, replay: bool) -> Answer:
    """The answer for the e-prescription message a request became."""
    if message.prescription_id is not None:
        rx = Prescription.objects.get(pk=message.prescription_id, site=ctx.site)
        return _rx_answer(rx, ctx, 200 if replay else 201)
    status = 200 if replay else 202
    if message.status == ErxStatus.NEEDS_MATCH:
        note = f" {message.status_note}" if message.status_note else ""
        text = (
            f"Received as e-prescription message {message.message_id}. It waits in the "
            "e-prescription inbox for a technician to match the patient, prescriber and drug "
            f"before it can be filled.{note}"
        )
    else:
        note = f": {message.status_note}" if message.status_note else "."
        text = (
            f"Received as e-prescription message {message.message_id}; it is "
            f"{message.get_status_display().lower()}{note}"
        )
    return Answer(status, _information(text[:1000]), "")


def _replay(ctx: Context, key: str, digest: str, base: str) -> Answer | None:
    """The answer already given for this request, or None when it is new."""
    known = InboundRequest.objects.filter(site=ctx.site, key=key).select_related("message").first()
    if known is None:
        return None
    if known.digest != digest:
        shown = key if not key.startswith("sha256:") else "this content"
        raise FhirError(
            409,
            f"A MedicationRequest with identifier {shown[:80]} was already received with "
            "different content. A corrected prescription needs a new identifier.",
            code="duplicate",
            expression=f"{base}.identifier",
        )
    if known.message is None:
        return Answer(200, _information("This request was already received."), "")
    return _answer(known.message, ctx, replay=True)


def receive(body: dict[str, Any], ctx: Context, *, base: str, refs: _Refs) -> Answer:
    """Receive one MedicationRequest (already structurally valid) as an e-prescription.
    Raises FhirError naming the element at fault; nothing is written then."""
    if body.get("resourceType") != "MedicationRequest":
        _structure(f"{base}.resourceType", "Expected a MedicationRequest.")
    key, pon = _identity(body, base)
    digest = _digest(body)
    if (earlier := _replay(ctx, key, digest, base)) is not None:
        return earlier
    refs.contained = _contained(body, base)
    newrx = _translate(body, base, refs, key, pon)
    try:
        with transaction.atomic():
            receipt = erx_receive(actor=ctx.actor, xml=newrx.xml, site=ctx.site)
            InboundRequest.objects.create(
                site=ctx.site,
                key=key,
                digest=digest,
                body=json.dumps(body),  # ASCII: safe for any database
                message=receipt.message,
                received_by=ctx.actor,
            )
    except (IntegrityError, Conflict) as exc:
        # Two deliveries of the same request raced: the first one's answer is ours.
        if (earlier := _replay(ctx, key, digest, base)) is not None:
            return earlier
        if isinstance(exc, Conflict):
            raise _mapped(exc, newrx.field_map) from None
        raise
    except DomainError as exc:
        raise _mapped(exc, newrx.field_map) from None
    return _answer(receipt.message, ctx, replay=not receipt.created)


def medication_request_create(
    body: dict[str, Any], ctx: Context
) -> tuple[int, dict[str, Any], str]:
    """``POST /fhir/MedicationRequest``: a US Core MedicationRequest as an incoming
    prescription. 201 with our MedicationRequest when it became a prescription, 202 with an
    OperationOutcome when it waits in the e-prescription inbox, 200 for a replay."""
    if body.get("resourceType") != "MedicationRequest":
        _structure(
            "resourceType",
            f"POST /fhir/MedicationRequest takes a MedicationRequest, not "
            f"{str(body.get('resourceType'))[:40]}.",
        )
    validate.check(body)
    answer = receive(body, ctx, base="MedicationRequest", refs=_Refs(ctx=ctx))
    return answer.status, answer.resource, answer.location


# --- Bundles ---------------------------------------------------------------------------------


def _status_line(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


_DATA_TYPES = frozenset({"Patient", "Practitioner", "Medication"})


@dataclass(frozen=True)
class _Entry:
    index: int
    resource: dict[str, Any]
    kind: str  # "order" (POST MedicationRequest) or "data" (referenced by one)


def _entries(body: dict[str, Any], ctx: Context) -> tuple[list[_Entry], _Refs]:
    """Each entry classified, and every fullUrl to resolve references by. Raises FhirError
    naming ``Bundle.entry[i]…`` for an entry rxdesk does not accept."""
    items = _list(body.get("entry"), "Bundle.entry")
    refs = _Refs(ctx=ctx)
    referenced: set[str] = set()
    for index, item in enumerate(items):
        entry = _dict(item, f"Bundle.entry[{index}]") or {}
        resource = _dict(entry.get("resource"), f"Bundle.entry[{index}].resource")
        if resource is None:
            _structure(f"Bundle.entry[{index}].resource", "Each entry must carry a resource.")
        where = f"Bundle.entry[{index}].resource"
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str) and full_url:
            if full_url in refs.bundle:
                _structure(f"Bundle.entry[{index}].fullUrl", "Two entries have this fullUrl.")
            refs.bundle[full_url] = (resource, where)
        kind, rid = resource.get("resourceType"), resource.get("id")
        if isinstance(kind, str) and isinstance(rid, str):
            refs.bundle.setdefault(f"{kind}/{rid}", (resource, where))
        if kind == "MedicationRequest":
            for name in ("subject", "requester", "medicationReference"):
                ref = resource.get(name)
                if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
                    referenced.add(ref["reference"].strip())
    out: list[_Entry] = []
    for index, item in enumerate(items):
        resource = item["resource"]
        kind = resource.get("resourceType")
        request = item.get("request")
        path = f"Bundle.entry[{index}].request"
        method = request.get("method") if isinstance(request, dict) else None
        url = request.get("url") if isinstance(request, dict) else None
        url = url.removeprefix(f"{ctx.base}/") if isinstance(url, str) else None
        if kind == "MedicationRequest":
            if method != "POST" or url != "MedicationRequest":
                _fail(path, "rxdesk accepts a MedicationRequest as POST MedicationRequest only.")
            out.append(_Entry(index, resource, "order"))
            continue
        names = {item.get("fullUrl"), f"{kind}/{resource.get('id')}"}
        if kind in _DATA_TYPES and names & referenced and method in (None, "POST"):
            out.append(_Entry(index, resource, "data"))
            continue
        _fail(
            path,
            f"rxdesk does not accept {str(method)[:10]} {str(kind)[:40]} here: a transaction "
            "carries POST MedicationRequest entries and the Patient, Practitioner and "
            "Medication they reference.",
        )
    return out, refs


def _data_response() -> dict[str, Any]:
    return {
        "status": _status_line(200),
        "outcome": _information(
            "Read to match the prescription that references it; not stored as its own record."
        ),
    }


def _response(answer: Answer) -> dict[str, Any]:
    entry: dict[str, Any] = {"response": {"status": _status_line(answer.status)}}
    if answer.location:
        entry["response"]["location"] = f"MedicationRequest/{answer.location}"
    if answer.resource.get("resourceType") == "OperationOutcome":
        entry["response"]["outcome"] = answer.resource
    else:
        entry["resource"] = answer.resource
    return entry


def _error_entry(exc: FhirError) -> dict[str, Any]:
    return {"response": {"status": _status_line(exc.status), "outcome": outcome(exc.issues)}}


def _process(entries: list[_Entry], refs: _Refs, ctx: Context) -> Iterator[dict[str, Any]]:
    for entry in entries:
        if entry.kind == "data":
            yield {"response": _data_response()}
            continue
        base = f"Bundle.entry[{entry.index}].resource"
        entry_refs = _Refs(ctx=ctx, bundle=refs.bundle)
        yield _response(receive(entry.resource, ctx, base=base, refs=entry_refs))


def transaction_bundle(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """``POST /fhir``: a transaction Bundle, all or nothing (every MedicationRequest is
    received in one database transaction; the first failure undoes them all and is the
    answer), or a batch, answered entry by entry. Answers the transaction-response (or
    batch-response) Bundle."""
    if body.get("resourceType") != "Bundle":
        _structure("resourceType", "POST /fhir takes a Bundle of type transaction or batch.")
    kind = body.get("type")
    if kind not in ("transaction", "batch"):
        _fail("Bundle.type", f"rxdesk processes transaction and batch Bundles, not {kind!s:.40}.")
    entries = body.get("entry")
    if isinstance(entries, list) and len(entries) > MAX_ENTRIES:
        raise FhirError(
            413,
            f"A Bundle holds at most {MAX_ENTRIES} entries here; this one has {len(entries)}. "
            "Send it in parts.",
            code="too-costly",
            expression="Bundle.entry",
        )
    validate.check(body)
    classified, refs = _entries(body, ctx)
    if any(e.kind == "order" for e in classified) and not has(ctx.actor, Cap.RX_ENTER):
        raise FhirError(403, f"Your role may not enter prescriptions ({Cap.RX_ENTER}).")
    if kind == "transaction":
        with transaction.atomic():
            answers = list(_process(classified, refs, ctx))
        return _response_bundle("transaction-response", answers)
    answers = []
    for entry in classified:
        try:
            with transaction.atomic():
                answers.extend(_process([entry], refs, ctx))
        except FhirError as exc:
            answers.append(_error_entry(exc))
    return _response_bundle("batch-response", answers)


def _response_bundle(kind: str, answers: list[dict[str, Any]]) -> dict[str, Any]:
    """The response Bundle; no ``entry`` at all for an empty request (FHIR has no empty
    arrays)."""
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": kind}
    if answers:
        bundle["entry"] = answers
    return bundle
