"""The resource types rxdesk serves under /fhir/, each declared once.

A resource module (``rxdesk.fhir.resources.<type>``) builds a :class:`ResourceType` and
calls :func:`register`. The dispatcher (views.py), the CapabilityStatement (capability.py)
and the exports (export.py) all read this table, so a type added here is served, declared
and exported the same way.

Ids: the FHIR id of a row is ``id_of(row)`` — the primary key as text for most types; a type
that serves rows of two tables prefixes one of them (``h-12``) and parses it back in
``get``. A row another site owns is never found (404), the same as a row that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rxdesk.core.capabilities import Cap

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet

    from rxdesk.core.models import Site, User


@dataclass(frozen=True)
class Context:
    """What a builder needs besides the row: the site, the actor and the server's base URL
    (``https://host/fhir``) for absolute references in bundles."""

    site: Site
    actor: User | None
    base: str


@dataclass(frozen=True)
class SearchParam:
    """One search parameter: ``apply(queryset, values, ctx)`` narrows the queryset for the
    request's values (one string per repetition of the parameter; a value may hold a comma
    list meaning OR). It raises FhirError(400) naming the parameter for a value it cannot
    read."""

    name: str
    type: str  # token | reference | date | string | number | uri
    documentation: str
    apply: Callable[[QuerySet[Any], list[str], Context], QuerySet[Any]]


@dataclass(frozen=True)
class ResourceType:
    name: str  # "Patient"
    cap: Cap  # needed to read or search
    queryset: Callable[[Context], QuerySet[Any]]  # the site's rows, ordered, select_related
    to_fhir: Callable[[Any, Context], dict[str, Any]]
    params: dict[str, SearchParam] = field(default_factory=dict)
    profile: str | None = None
    # The patient a row is about (PHI-access accounting); None for non-PHI types.
    patient_of: Callable[[Any], int | None] | None = None
    # FHIR id ↔ row. Default: the pk as text, looked up in queryset().
    id_of: Callable[[Any], str] = lambda row: str(row.pk)
    get: Callable[[str, Context], Any] | None = None
    # Extra querysets served under the same type (e.g. imported history beside our own Rx):
    # searched after the main one, with the same parameters where they apply.
    extra_querysets: tuple[Callable[[Context], QuerySet[Any]], ...] = ()
    # Rows a per-patient bundle holds for this type, for ``Patient/<id>/$everything``.
    of_patient: Callable[[Context, int], Iterable[Any]] | None = None
    # POST /fhir/<type>: (body, ctx) -> (status, resource dict, location id)
    create: Callable[[dict[str, Any], Context], tuple[int, dict[str, Any], str]] | None = None
    create_cap: Cap | None = None
    documentation: str = ""

    @property
    def phi(self) -> bool:
        return self.patient_of is not None


TYPES: dict[str, ResourceType] = {}


def register(resource: ResourceType) -> ResourceType:
    if resource.name in TYPES:
        raise ValueError(f"FHIR type {resource.name} registered twice")
    TYPES[resource.name] = resource
    return resource


def model_row(resource: ResourceType, fhir_id: str, ctx: Context) -> Model | None:
    """The row behind ``fhir_id``, or None (unknown id, another site's row, a bad id)."""
    if resource.get is not None:
        return resource.get(fhir_id, ctx)
    if not (fhir_id.isascii() and fhir_id.isdigit()) or len(fhir_id) > 12:  # "²".isdigit()
        return None
    return resource.queryset(ctx).filter(pk=int(fhir_id)).first()
