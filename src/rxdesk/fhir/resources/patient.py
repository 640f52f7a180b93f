"""Patient (US Core Patient, http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient)
from ``rxdesk.patients.models.Patient`` and its identifiers.

Must-support elements are filled where rxdesk holds the data: identifier (our own record
number, then the identifiers on file), active, name (official; the preferred name as
"usual"), telecom, gender, birthDate, address, communication.language. A Social Security
number (rxdesk keeps only its last four digits) is never emitted nor searchable: it would
confirm a person's SSN to anyone who can guess four digits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from rxdesk.core.capabilities import Cap
from rxdesk.core.validators import normalize_phone
from rxdesk.fhir import codes
from rxdesk.fhir.registry import Context, ResourceType, SearchParam, register
from rxdesk.fhir.resources.common import address, clean, coding, concept, date, meta, phone
from rxdesk.fhir.search import bad, date_filter, pk_of, split, string_filter, token
from rxdesk.patients.choices import IdentifierKind, Language, PatientStatus, Sex
from rxdesk.patients.models import Patient, PatientIdentifier, key_prefix, name_key

BCP47 = "urn:ietf:bcp:47"
ADMINISTRATIVE_GENDER = "http://hl7.org/fhir/administrative-gender"
# The CMS naming system for the Medicare Beneficiary Identifier (HL7 Terminology, cmsMBI).
US_MBI = "http://hl7.org/fhir/sid/us-mbi"

GENDER: dict[str, str] = {Sex.MALE: "male", Sex.FEMALE: "female", Sex.UNKNOWN: "unknown"}
_GENDER_CODES = {"male", "female", "other", "unknown"}


# kind -> (identifier.system, v2-0203 type code, type display). Systems without a public
# naming system rxdesk can vouch for (a state's driver's licences, Medicaid, a hospital's
# MRN) stay in rxdesk's namespace; the issuer goes in assigner.display.
IDENTIFIER_KINDS: dict[str, tuple[str, str | None, str | None]] = {
    IdentifierKind.DRIVERS_LICENSE: (
        f"{codes.RXDESK}:drivers-license",
        "DL",
        "Driver's license number",
    ),
    IdentifierKind.STATE_ID: (f"{codes.RXDESK}:state-id", None, None),
    IdentifierKind.MEDICARE_MBI: (US_MBI, "MC", "Patient's Medicare number"),
    IdentifierKind.MEDICAID: (f"{codes.RXDESK}:medicaid", "MA", "Patient Medicaid number"),
    IdentifierKind.MEDICAL_RECORD: (f"{codes.RXDESK}:mrn", "MR", "Medical record number"),
    IdentifierKind.PASSPORT: (f"{codes.RXDESK}:passport", "PPN", "Passport number"),
    IdentifierKind.OTHER: (f"{codes.RXDESK}:other-id", None, None),
}
_KIND_OF_SYSTEM = {system: kind for kind, (system, _, _) in IDENTIFIER_KINDS.items()}


def _identifiers(patient: Patient) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "use": "usual",
            "type": concept(coding(codes.V2_0203, "MR", "Medical record number")),
            "system": codes.PATIENT_ID,
            "value": str(patient.pk),
        }
    ]
    for ident in patient.identifiers.all():
        spec = IDENTIFIER_KINDS.get(ident.kind)
        if spec is None:  # ssn_last4 and anything unknown: never sent
            continue
        system, type_code, type_display = spec
        out.append(
            clean(
                {
                    "type": concept(
                        coding(codes.V2_0203, type_code, type_display),
                        text=IdentifierKind(ident.kind).label,
                    ),
                    "system": system,
                    "value": ident.value,
                    "assigner": {"display": ident.issuer} if ident.issuer else None,
                }
            )
        )
    return out


def _names(patient: Patient) -> list[dict[str, Any]]:
    official = clean(
        {
            "use": "official",
            "family": patient.last_name,
            "given": [g for g in (patient.first_name, patient.middle_name) if g],
            "suffix": [patient.suffix] if patient.suffix else [],
        }
    )
    names = [official]
    if patient.preferred_name and patient.preferred_name != patient.first_name:
        names.append(
            {"use": "usual", "family": patient.last_name, "given": [patient.preferred_name]}
        )
    return names


def _telecom(patient: Patient) -> list[dict[str, Any] | None]:
    return [
        phone(patient.phone_mobile, "mobile"),
        phone(patient.phone_home, "home"),
        phone(patient.phone_work, "work"),
        {"system": "email", "value": patient.email, "use": "home"} if patient.email else None,
    ]


def _communication(patient: Patient) -> list[dict[str, Any]]:
    lang = patient.preferred_language
    if not lang or lang == Language.OTHER:
        return []
    label = Language(lang).label if lang in Language.values else None
    return [
        {
            "language": concept(coding(BCP47, lang, label), text=label),
            "preferred": True,
        }
    ]


def to_fhir(patient: Patient, ctx: Context) -> dict[str, Any]:
    home = address(
        patient.address_line1,
        patient.address_line2,
        patient.city,
        patient.state,
        patient.postal_code,
    )
    return clean(
        {
            "resourceType": "Patient",
            "id": str(patient.pk),
            "meta": meta("Patient", patient.updated_at),
            "identifier": _identifiers(patient),
            "active": patient.status == PatientStatus.ACTIVE,
            "name": _names(patient),
            "telecom": _telecom(patient),
            "gender": GENDER.get(patient.sex, "unknown"),
            "birthDate": date(patient.date_of_birth),
            "deceasedBoolean": True if patient.status == PatientStatus.DECEASED else None,
            "address": [{"use": "home", **home}] if home else [],
            "communication": _communication(patient),
        }
    )


def queryset(ctx: Context) -> QuerySet[Any]:
    return (
        Patient.objects.filter(site=ctx.site)
        .prefetch_related(
            Prefetch("identifiers", queryset=PatientIdentifier.objects.order_by("pk"))
        )
        .order_by("pk")
    )


# --- search ------------------------------------------------------------------------------


def name_filter(
    param: str, values: list[str], key_fields: Iterable[str], text_fields: Iterable[str] = ()
) -> Q:
    """FHIR string search (starts-with, case- and accent-insensitive) on name-key columns
    (``last_name_key``: folded with ``name_key``, searched as an index range) and on plain
    text columns (case-insensitive starts-with)."""
    q = Q()
    for group in split(values):
        alt = Q()
        for value in group:
            if len(value) > 100:
                raise bad(param, "the value is too long.")
            key = name_key(value)
            if not key:
                raise bad(param, "give at least one letter of the name.")
            for f in key_fields:
                alt |= key_prefix(f, key)
            for f in text_fields:
                alt |= Q(**{f"{f}__istartswith": value.strip()})
        q &= alt
    return q


def _identifier(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    searchable = list(IDENTIFIER_KINDS)
    for group in split(values):
        alt = Q()
        for value in group:
            system, code = token("identifier", value)
            if system is None or system == codes.PATIENT_ID:
                if code is None:
                    alt |= Q(pk__isnull=False)
                elif (pk := pk_of("identifier", code)) is not None:
                    alt |= Q(pk=pk)
            if system is None or system in _KIND_OF_SYSTEM:
                kinds = searchable if system is None else [_KIND_OF_SYSTEM[system]]
                held = PatientIdentifier.objects.filter(kind__in=kinds)
                if code is not None:
                    held = held.filter(value__iexact=code.strip())
                alt |= Q(pk__in=held.values("patient_id"))
            # Another system (or "|code": no system) names no identifier we hold.
        qs = qs.filter(alt) if alt else qs.none()
    return qs


def _gender(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    by_code = {fhir: sex for sex, fhir in GENDER.items()}
    for group in split(values):
        wanted: list[str] = []
        for value in group:
            system, code = token("gender", value)
            if code is None or code not in _GENDER_CODES:
                raise bad("gender", "use male, female, other or unknown.")
            if system not in (None, ADMINISTRATIVE_GENDER):
                continue
            if code in by_code:
                wanted.append(by_code[code])
        qs = qs.filter(sex__in=wanted)
    return qs


def _phone(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        alt = Q()
        for value in group:
            _, code = token("phone", value)
            digits = normalize_phone(code or "")
            if not digits:
                raise bad("phone", "give the phone number with its area code.")
            alt |= Q(phone_mobile=digits) | Q(phone_home=digits) | Q(phone_work=digits)
        qs = qs.filter(alt)
    return qs


def _string_param(name: str, documentation: str, *fields: str) -> SearchParam:
    def apply(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
        return qs.filter(string_filter(list(fields), name, values))

    return SearchParam(name, "string", documentation, apply)


def param_table(*params: SearchParam) -> dict[str, SearchParam]:
    """The parameters by name, each refusing a NUL character in a value: PostgreSQL cannot
    store or compare one, and a hostile query string must get a 400, not a failed query."""

    def guarded(param: SearchParam) -> SearchParam:
        def apply(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
            if any("\x00" in value for value in values):
                raise bad(param.name, "a value holds a NUL character.")
            return param.apply(qs, values, ctx)

        return SearchParam(param.name, param.type, param.documentation, apply)

    return {p.name: guarded(p) for p in params}


PARAMS = param_table(
    SearchParam(
        "identifier",
        "token",
        f"An identifier: {codes.PATIENT_ID}|<id>, {US_MBI}|<MBI>, or a value alone.",
        _identifier,
    ),
    SearchParam(
        "name",
        "string",
        "Start of the family, given, middle or preferred name.",
        lambda qs, values, ctx: qs.filter(
            name_filter(
                "name",
                values,
                ["last_name_key", "first_name_key"],
                ["middle_name", "preferred_name"],
            )
        ),
    ),
    SearchParam(
        "family",
        "string",
        "Start of the family name (accents and punctuation ignored).",
        lambda qs, values, ctx: qs.filter(name_filter("family", values, ["last_name_key"])),
    ),
    SearchParam(
        "given",
        "string",
        "Start of a given name: first, middle or preferred.",
        lambda qs, values, ctx: qs.filter(
            name_filter("given", values, ["first_name_key"], ["middle_name", "preferred_name"])
        ),
    ),
    SearchParam(
        "birthdate",
        "date",
        "Date of birth, with prefixes (ge1980-01-01, le1990).",
        lambda qs, values, ctx: qs.filter(
            date_filter("date_of_birth", "birthdate", values, ctx.site.tz, is_date=True)
        ),
    ),
    SearchParam("gender", "token", "male | female | other | unknown.", _gender),
    SearchParam("phone", "token", "A phone number (any of the patient's).", _phone),
    _string_param("address-postalcode", "Start of the ZIP code.", "postal_code"),
    _string_param("address-city", "Start of the city.", "city"),
    _string_param("address-state", "The two-letter state.", "state"),
)


def _of_patient(ctx: Context, patient_id: int) -> Iterable[Any]:
    return queryset(ctx).filter(pk=patient_id)


PATIENT = register(
    ResourceType(
        name="Patient",
        cap=Cap.PATIENT_VIEW,
        queryset=queryset,
        to_fhir=to_fhir,
        params=PARAMS,
        profile=codes.PROFILE["Patient"],
        patient_of=lambda row: int(row.pk),
        of_patient=_of_patient,
        documentation="The pharmacy's patients (US Core Patient). SSNs are never sent.",
    )
)
