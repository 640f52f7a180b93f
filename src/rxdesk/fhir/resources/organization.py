"""Organization (US Core Organization): the pharmacy itself (``rxdesk.core.models.Site``),
with its NPI, NCPDP provider ID and DEA registration. A caller sees only their own
pharmacy (id = the site's pk); another site's id is not found."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from rxdesk.core.capabilities import Cap
from rxdesk.core.models import Site
from rxdesk.fhir import codes
from rxdesk.fhir.registry import Context, ResourceType, SearchParam, register
from rxdesk.fhir.resources.common import address, clean, coding, concept, meta, phone
from rxdesk.fhir.resources.patient import param_table
from rxdesk.fhir.resources.practitioner import DEA_SYSTEM, dea_identifier
from rxdesk.fhir.search import split, string_filter, token


def to_fhir(site: Site, ctx: Context) -> dict[str, Any]:
    where = address(site.address_line1, site.address_line2, site.city, site.state, site.postal_code)
    return clean(
        {
            "resourceType": "Organization",
            "id": str(site.pk),
            "meta": meta("Organization"),
            "identifier": [
                {"system": codes.NPI, "value": site.npi} if site.npi else None,
                {"system": codes.NCPDP_PROVIDER, "value": site.ncpdp_id} if site.ncpdp_id else None,
                dea_identifier(site.dea_number),
            ],
            "active": True,
            "type": [concept(coding(codes.ORG_TYPE, "prov", "Healthcare Provider"))],
            "name": site.name,
            "telecom": [phone(site.phone, "work")],
            "address": [{"use": "work", **where}] if where else [],
        }
    )


def queryset(ctx: Context) -> QuerySet[Any]:
    return Site.objects.filter(pk=ctx.site.pk).order_by("pk")


def _identifier(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    fields = {codes.NPI: "npi", codes.NCPDP_PROVIDER: "ncpdp_id", DEA_SYSTEM: "dea_number"}
    for group in split(values):
        alt = Q()
        for value in group:
            system, code = token("identifier", value)
            for field in fields.values() if system is None else [fields.get(system or "")]:
                if field is None:
                    continue
                alt |= Q(**{field: code.strip()}) if code else Q(**{f"{field}__gt": ""})
        qs = qs.filter(alt) if alt else qs.none()
    return qs


PARAMS = param_table(
    SearchParam(
        "identifier",
        "token",
        f"NPI ({codes.NPI}|<npi>), NCPDP ID ({codes.NCPDP_PROVIDER}|<id>) or DEA number.",
        _identifier,
    ),
    SearchParam(
        "name",
        "string",
        "Start of the pharmacy's name.",
        lambda qs, values, ctx: qs.filter(string_filter(["name"], "name", values)),
    ),
)


ORGANIZATION = register(
    ResourceType(
        name="Organization",
        cap=Cap.SITE_VIEW,
        queryset=queryset,
        to_fhir=to_fhir,
        params=PARAMS,
        profile=codes.PROFILE["Organization"],
        patient_of=None,
        documentation="The pharmacy serving the request (US Core Organization); no other.",
    )
)
