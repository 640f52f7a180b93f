"""Search answered as a ``searchset`` Bundle (http://hl7.org/fhir/R4/bundle.html), paged with
``_count``/``_offset`` and ``self``/``next``/``previous`` links a client follows as given.

Unknown parameters are ignored (the R4 default, "lenient") and left out of the ``self`` link
so the client sees what was applied; with ``Prefer: handling=strict`` they are refused. A
parameter with a modifier rxdesk does not implement (``status:not``) is always refused:
ignoring it would return the opposite of what was asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet

from rxdesk.fhir.outcome import FhirError
from rxdesk.fhir.registry import Context, ResourceType, model_row
from rxdesk.fhir.search import bad, split

# Result parameters we accept and either apply or may ignore without changing the matches.
_RESULT = {"_count", "_offset", "_format", "_pretty", "_summary", "_total", "_sort", "_elements"}
_IGNORED_RESULT = {"_include", "_revinclude", "_contained", "_containedType"}


@dataclass(frozen=True)
class SearchResult:
    bundle: dict[str, Any]
    rows: list[Any]


def _restrict_ids(
    rt: ResourceType, ctx: Context, querysets: list[QuerySet[Any]], values: list[str]
) -> list[QuerySet[Any]]:
    wanted: list[Any] = []
    for group in split(values):
        for fhir_id in group:
            row = model_row(rt, fhir_id, ctx)
            if row is not None:
                wanted.append(row)
    return [qs.filter(pk__in=[r.pk for r in wanted if isinstance(r, qs.model)]) for qs in querysets]


def search(
    rt: ResourceType,
    ctx: Context,
    params: dict[str, list[str]],
    *,
    count: int,
    offset: int,
    strict: bool = False,
) -> SearchResult:
    querysets = [rt.queryset(ctx), *(extra(ctx) for extra in rt.extra_querysets)]
    used: list[tuple[str, str]] = []
    for name in sorted(params):
        values = [v for v in params[name] if v is not None]
        if name in _RESULT:
            continue
        if name in _IGNORED_RESULT:
            if strict:
                raise bad(name, "rxdesk does not support it.")
            continue
        if name == "_id":
            querysets = _restrict_ids(rt, ctx, querysets, values)
        else:
            param = rt.params.get(name)
            if param is None:
                if strict or ":" in name:
                    raise bad(name, f"not supported for {rt.name}; see /fhir/metadata.")
                continue
            querysets = [param.apply(qs, values, ctx) for qs in querysets]
        used.extend((name, v) for v in values)
    summary = (params.get("_summary") or [""])[-1]
    if summary not in ("", "count", "false"):
        raise bad("_summary", "rxdesk supports _summary=count only.")

    totals = [qs.count() for qs in querysets]
    total = sum(totals)
    rows: list[Any] = []
    if summary != "count" and count > 0:
        skip, want = offset, count
        for qs, n in zip(querysets, totals, strict=True):
            if skip >= n:
                skip -= n
                continue
            chunk = list(qs[skip : skip + want])
            rows.extend(chunk)
            want -= len(chunk)
            skip = 0
            if want <= 0:
                break

    def link(relation: str, at: int) -> dict[str, str]:
        query = urlencode([*used, ("_count", str(count)), ("_offset", str(at))])
        return {"relation": relation, "url": f"{ctx.base}/{rt.name}?{query}"}

    links = [link("self", offset)]
    if summary != "count" and count > 0 and offset + count < total:
        links.append(link("next", offset + count))
    if offset > 0 and count > 0:
        links.append(link("previous", max(0, offset - count)))
    entries = [
        {
            "fullUrl": f"{ctx.base}/{rt.name}/{rt.id_of(row)}",
            "resource": rt.to_fhir(row, ctx),
            "search": {"mode": "match"},
        }
        for row in rows
    ]
    result: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
    }
    if entries:
        result["entry"] = entries
    return SearchResult(bundle=result, rows=rows)


def not_found(rt: ResourceType, fhir_id: str) -> FhirError:
    return FhirError(404, f"No {rt.name} with id {fhir_id[:40]} here.", code="not-found")
