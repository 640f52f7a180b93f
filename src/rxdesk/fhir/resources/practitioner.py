"""Practitioner (US Core Practitioner) from ``rxdesk.patients.models.Prescriber``: the
prescribers on the pharmacy's file, with NPI, DEA number, name and primary practice address.

Not PHI: reads and searches write no PHI-access events."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from rxdesk.core.capabilities import Cap
from rxdesk.fhir import codes
from rxdesk.fhir.registry import Context, ResourceType, SearchParam, register
from rxdesk.fhir.resources.common import address, clean, coding, concept, meta, phone
from rxdesk.fhir.resources.patient import name_filter, param_table
from rxdesk.fhir.search import split, token
from rxdesk.patients.choices import PrescriberCredential
from rxdesk.patients.models import Prescriber, PrescriberAddress

# US Core makes identifier.system 1..1, so a DEA number needs one. HL7's PDMP IG (STU1)
# writes this system for DEA numbers; the v2-0203 "DEA" type says the same to a receiver
# that does not know it.
DEA_SYSTEM = "http://terminology.hl7.org/NamingSystem/usdeanumber"


def dea_identifier(number: str) -> dict[str, Any] | None:
    if not number:
        return None
    return {
        "type": concept(
            coding(codes.V2_0203, "DEA", "Drug Enforcement Administration registration number")
        ),
        "system": DEA_SYSTEM,
        "value": number,
    }


def _primary_address(prescriber: Prescriber) -> PrescriberAddress | None:
    # Prefetched in primary-first order (see queryset): no query per row.
    addresses = list(prescriber.addresses.all())
    return addresses[0] if addresses else None


def to_fhir(prescriber: Prescriber, ctx: Context) -> dict[str, Any]:
    suffixes = [prescriber.suffix] if prescriber.suffix else []
    if prescriber.credential and prescriber.credential != PrescriberCredential.OTHER:
        suffixes.append(prescriber.credential)
    place = _primary_address(prescriber)
    work = (
        address(
            place.address_line1, place.address_line2, place.city, place.state, place.postal_code
        )
        if place is not None
        else None
    )
    fax = None
    if place is not None and place.fax:
        fax = {**(phone(place.fax, "work") or {}), "system": "fax"}
    return clean(
        {
            "resourceType": "Practitioner",
            "id": str(prescriber.pk),
            "meta": meta("Practitioner"),
            "identifier": [
                {"system": codes.NPI, "value": prescriber.npi},
                dea_identifier(prescriber.dea_number),
            ],
            "active": prescriber.active,
            "name": [
                {
                    "use": "official",
                    "family": prescriber.last_name,
                    "given": [g for g in (prescriber.first_name, prescriber.middle_name) if g],
                    "suffix": suffixes,
                }
            ],
            "telecom": [phone(place.phone, "work") if place else None, fax],
            "address": [{"use": "work", **work}] if work else [],
        }
    )


def queryset(ctx: Context) -> QuerySet[Any]:
    return (
        Prescriber.objects.filter(site=ctx.site)
        .prefetch_related(
            Prefetch("addresses", queryset=PrescriberAddress.objects.order_by("-primary", "pk"))
        )
        .order_by("pk")
    )


def _identifier(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        alt = Q()
        for value in group:
            system, code = token("identifier", value)
            if system in (None, codes.NPI):
                alt |= Q(npi=code.strip()) if code else Q(npi__gt="")
            if system in (None, DEA_SYSTEM):
                alt |= Q(dea_number=code.strip().upper()) if code else Q(dea_number__gt="")
        qs = qs.filter(alt) if alt else qs.none()
    return qs


PARAMS = param_table(
    SearchParam(
        "identifier",
        "token",
        f"NPI ({codes.NPI}|<npi>) or DEA number ({DEA_SYSTEM}|<number>).",
        _identifier,
    ),
    SearchParam(
        "name",
        "string",
        "Start of the family, given or middle name.",
        lambda qs, values, ctx: qs.filter(
            name_filter("name", values, ["last_name_key", "first_name_key"], ["middle_name"])
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
        "Start of the first or middle name.",
        lambda qs, values, ctx: qs.filter(
            name_filter("given", values, ["first_name_key"], ["middle_name"])
        ),
    ),
)


PRACTITIONER = register(
    ResourceType(
        name="Practitioner",
        cap=Cap.PRESCRIBER_VIEW,
        queryset=queryset,
        to_fhir=to_fhir,
        params=PARAMS,
        profile=codes.PROFILE["Practitioner"],
        patient_of=None,
        documentation="Prescribers on the pharmacy's file (US Core Practitioner).",
    )
)
