"""Exports: the whole pharmacy (FHIR Bulk Data NDJSON) and one patient's record (a Bundle).

* ``GET /fhir/Patient/<id>/$everything`` — :func:`patient_everything`: a ``searchset`` Bundle
  of the patient, every registered type's rows about them (``of_patient``) the caller may
  read, and the Practitioner, Medication and Organization resources those point at, so the
  bundle stands alone (http://hl7.org/fhir/R4/patient-operation-everything.html).
* ``$export`` / ``$export-status/<n>`` / ``$export-file/<n>/<Type>.ndjson`` — the Bulk Data
  Access IG's system-level export (https://hl7.org/fhir/uv/bulkdata/export.html): kick-off
  answers 202 with the status URL; the status URL answers with the manifest; each file is
  one resource per line.
* ``rxdesk export-fhir`` writes the same NDJSON files (or one patient's bundle) to a folder;
  the command only parses options and prints — the work is :func:`export_to_directory` and
  :func:`patient_to_file` here, shared with the API.

An export is a disclosure of PHI: each one writes an audit event with its counts, and each
file download another.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import timezone

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.fhir.codes import NDJSON
from rxdesk.fhir.http import read_body
from rxdesk.fhir.models import Export, ExportFile, RunStatus
from rxdesk.fhir.outcome import FhirError
from rxdesk.fhir.registry import TYPES, Context, ResourceType, model_row
from rxdesk.fhir.search import date_value

register_actions(
    {
        "fhir.everything": "A patient's whole record read through FHIR $everything (PHI access)",
        "fhir.export": "Whole-pharmacy FHIR bulk export written (PHI disclosure)",
        "fhir.export_downloaded": "FHIR bulk export file downloaded (PHI disclosure)",
        "fhir.export_deleted": "FHIR bulk export files deleted",
    }
)

OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
# Kick-off parameters of the Bulk Data IG rxdesk does not implement: refused even with
# ``Prefer: handling=lenient``, because ignoring them would disclose more PHI than asked
# for. Other unknown parameters are refused unless the client is lenient (the IG's rule).
_UNSUPPORTED = ("patient", "_typeFilter", "_elements", "includeAssociatedData")
_KNOWN = ("_type", "_since", "_outputFormat", "_format")
# The column that tells when a row last changed, for ``_since``. Not ``recorded_at``: an
# allergy inactivated or a condition resolved later keeps its first stamp, and a receiver
# that missed that change would go on screening against a stale record.
_CHANGED_AT = ("updated_at", "imported_at")
_REFERENCE = re.compile(r"^([A-Z][A-Za-z]{1,39})/([A-Za-z0-9\-.]{1,64})$")
CHUNK = 1000
DEFAULT_CLI_BASE = "http://localhost/fhir"

Progress = Callable[[str, int, int], None]  # (type name, done, total)


# --- who may ------------------------------------------------------------------------------


def _may(ctx: Context, cap: Cap) -> bool:
    """The caller holds ``cap``; the operator at the shell (actor None, CLI) holds all."""
    if ctx.actor is None:
        try:
            authorize(None, cap)
        except Forbidden:
            return False
        return True
    return has(ctx.actor, cap)


def _require(ctx: Context, cap: Cap) -> None:
    if not _may(ctx, cap):
        raise FhirError(403, f"Your role may not do this ({cap}).", code="forbidden")


# --- which rows -----------------------------------------------------------------------------


def _site_packages(ctx: Context) -> Q:
    """Catalog packages this pharmacy has used: prescribed, filled, given as a vaccine, or in
    an imported medication history — not the whole FDA drug file."""
    from rxdesk.fhir.models import MedicationHistory
    from rxdesk.immunizations.models import Immunization
    from rxdesk.rx.models import Fill, Prescription

    q = Q(pk__in=[])
    for model in (Prescription, Fill, Immunization, MedicationHistory):
        ids = model.objects.filter(site=ctx.site, package__isnull=False).values("package_id")
        q |= Q(pk__in=ids)
    return q


def _site_products(ctx: Context) -> Q:
    from rxdesk.catalog.models import Package
    from rxdesk.rx.models import Prescription

    return Q(pk__in=Prescription.objects.filter(site=ctx.site).values("product_id")) | Q(
        pk__in=Package.objects.filter(_site_packages(ctx)).values("product_id")
    )


def _own_rows(qs: QuerySet[Any], ctx: Context) -> QuerySet[Any]:
    """The catalog is shared by every pharmacy; an export holds only what this one used."""
    from rxdesk.catalog.models import Package, Product

    if qs.model is Package:
        return qs.filter(_site_packages(ctx))
    if qs.model is Product:
        return qs.filter(_site_products(ctx))
    return qs


def _changed_since(qs: QuerySet[Any], since: dt.datetime | None) -> QuerySet[Any]:
    """Rows changed at or after ``since``, where the table says when a row changed; a table
    that does not say (allergies, conditions, prescribers, the pharmacy, the catalog) is
    exported whole — more than asked, never less."""
    if since is None:
        return qs
    from rxdesk.rx.models import Fill, FillEvent

    if qs.model is Fill:  # a fill changes by appending to its history
        return qs.filter(pk__in=FillEvent.objects.filter(at__gte=since).values("fill_id"))
    names = {f.name for f in qs.model._meta.concrete_fields}
    for name in _CHANGED_AT:
        if name in names:
            return qs.filter(**{f"{name}__gte": since})
    return qs


def querysets(rt: ResourceType, ctx: Context, since: dt.datetime | None) -> list[QuerySet[Any]]:
    """The site's rows of one type for a bulk export (main queryset, then the extra ones)."""
    found = [rt.queryset(ctx), *(extra(ctx) for extra in rt.extra_querysets)]
    return [_changed_since(_own_rows(qs, ctx), since) for qs in found]


def resource_types(names: list[str] | None) -> list[ResourceType]:
    """The registered types named (``_type``, comma lists allowed), or all of them."""
    if not names:
        return list(TYPES.values())
    wanted: list[str] = []
    for value in names:
        for name in value.split(","):
            name = name.strip()
            if not name:
                continue
            if name not in TYPES:
                raise FhirError(
                    400,
                    f"_type: rxdesk does not export {name[:40]} resources "
                    f"(it exports {', '.join(TYPES)}).",
                    code="not-supported",
                    expression="_type",
                )
            if name not in wanted:
                wanted.append(name)
    return [TYPES[name] for name in wanted] or list(TYPES.values())


def since_value(value: str | None, tz: Any) -> dt.datetime | None:
    """``_since`` as an aware datetime (a value without a zone is the pharmacy's time)."""
    if not value:
        return None
    if not value[:1].isdigit():
        raise FhirError(
            400,
            "_since: give an instant like 2025-01-31T00:00:00Z.",
            code="invalid",
            expression="_since",
        )
    try:
        return date_value("_since", value, tz).low
    except FhirError:
        raise FhirError(
            400,
            f"_since: {value[:40]!r} is not an instant; use e.g. 2025-01-31T00:00:00Z.",
            code="invalid",
            expression="_since",
        ) from None


# --- NDJSON files -------------------------------------------------------------------------


@dataclass(frozen=True)
class WrittenFile:
    resource_type: str
    path: Path
    count: int
    size: int
    sha256: str


def _private(path: Path) -> BinaryIO:
    """``path`` opened for writing, mode 0600 (PHI), never through a symbolic link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # a file that existed keeps its old mode through O_CREAT
    return os.fdopen(fd, "wb")


def _rows(qs_list: list[QuerySet[Any]]) -> Iterator[Any]:
    for qs in qs_list:
        # Streamed in chunks so memory stays flat however large the pharmacy.
        yield from qs.iterator(chunk_size=CHUNK)


def _write_type(
    rt: ResourceType,
    ctx: Context,
    since: dt.datetime | None,
    directory: Path,
    progress: Progress | None,
) -> WrittenFile | None:
    qs_list = querysets(rt, ctx, since)
    total = sum(qs.count() for qs in qs_list)
    path = directory / f"{rt.name}.ndjson"
    if progress is not None:
        progress(rt.name, 0, total)
    if total == 0:
        path.unlink(missing_ok=True)  # a file from an earlier run into the same folder
        return None
    digest = hashlib.sha256()
    count = size = 0
    with _private(path) as out:
        for row in _rows(qs_list):
            line = (
                json.dumps(rt.to_fhir(row, ctx), separators=(",", ":"), ensure_ascii=False) + "\n"
            ).encode("utf-8")
            out.write(line)
            digest.update(line)
            count += 1
            size += len(line)
            if progress is not None and count % 100 == 0:
                progress(rt.name, count, max(total, count))
    if progress is not None:
        progress(rt.name, count, count)
    if count == 0:  # rows went away between the count and the read
        path.unlink()
        return None
    return WrittenFile(rt.name, path, count, size, digest.hexdigest())


def write_ndjson(
    *,
    ctx: Context,
    directory: Path,
    types: list[ResourceType],
    since: dt.datetime | None,
    progress: Progress | None = None,
) -> list[WrittenFile]:
    """One ``<Type>.ndjson`` per type that has rows (UTF-8, one resource a line, ``\\n``,
    mode 0600) in ``directory``; a type with no rows gets no file (Bulk Data IG)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for rt in types:
        found = _write_type(rt, ctx, since, directory, progress)
        if found is not None:
            written.append(found)
    return written


def _counts(files: list[WrittenFile]) -> dict[str, int]:
    return {f.resource_type: f.count for f in files}


def _request_url(ctx: Context, types: list[str], since: dt.datetime | None) -> str:
    query = []
    if types:
        query.append(("_type", ",".join(types)))
    if since is not None:
        query.append(("_since", since.isoformat()))
    return f"{ctx.base}/$export" + (f"?{urlencode(query)}" if query else "")


# --- bulk export through the API -----------------------------------------------------------


def _export_root() -> Path:
    return Path(settings.RXDESK_FHIR_EXPORT_DIR)


def export_run(*, ctx: Context, types: list[ResourceType], since: dt.datetime | None) -> Export:
    """Write a whole-pharmacy export under ``RXDESK_FHIR_EXPORT_DIR/<pk>/`` and record it.

    It runs in the request: a pharmacy's records write in seconds. A chain with millions of
    rows would hand this to a worker and let the client poll ``$export-status`` meanwhile —
    the API already answers as if it had (202, then the manifest)."""
    _require(ctx, Cap.FHIR_EXPORT)
    names = [rt.name for rt in types]
    export = Export.objects.create(
        site=ctx.site,
        requested_by=ctx.actor,
        types=names if len(names) < len(TYPES) else [],
        since=since,
    )
    directory = _export_root() / str(export.pk)
    export.directory = str(directory)
    export.save(update_fields=["directory"])
    try:
        files = write_ndjson(ctx=ctx, directory=directory, types=types, since=since)
    except Exception as exc:
        Export.objects.filter(pk=export.pk).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), error=str(exc)[:500]
        )
        shutil.rmtree(directory, ignore_errors=True)
        raise
    with transaction.atomic():
        ExportFile.objects.bulk_create(
            ExportFile(
                export=export,
                resource_type=f.resource_type,
                count=f.count,
                path=str(f.path),
                size=f.size,
                sha256=f.sha256,
            )
            for f in files
        )
        export.status = RunStatus.DONE
        export.finished_at = timezone.now()
        export.save(update_fields=["status", "finished_at"])
        audit_record(
            actor=ctx.actor,
            site=ctx.site,
            action="fhir.export",
            obj=export,
            data={
                "counts": _counts(files),
                "types": names,
                "since": since.isoformat() if since else None,
            },
        )
    return export


def _kickoff_params(request: HttpRequest) -> dict[str, list[str]]:
    """Kick-off parameters from the query string, or (POST) a Parameters resource."""
    params = {k: request.GET.getlist(k) for k in request.GET}
    if request.method != "POST" or not request.body:
        return params
    body = read_body(request)
    if body.get("resourceType") != "Parameters":
        raise FhirError(400, "POST $export takes a Parameters resource.", expression="Parameters")
    for item in body.get("parameter") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise FhirError(400, "Each parameter needs a name.", expression="Parameters.parameter")
        value = next(
            (v for k, v in item.items() if k.startswith("value") and isinstance(v, str)), None
        )
        if value is None:
            raise FhirError(
                400,
                f"Parameter {item['name'][:40]} needs a text value.",
                expression="Parameters.parameter.value[x]",
            )
        params.setdefault(item["name"], []).append(value)
    return params


def kickoff(request: HttpRequest, ctx: Context) -> HttpResponse:
    """Bulk Data kick-off (``GET|POST /fhir/$export``): PIC only; ``Prefer: respond-async``
    required; answers 202 with ``Content-Location`` = the status URL."""
    _require(ctx, Cap.FHIR_EXPORT)
    prefer = request.headers.get("Prefer", "")
    if "respond-async" not in prefer:
        raise FhirError(
            400,
            "A bulk export needs the header Prefer: respond-async.",
            code="invalid",
            expression="Prefer",
        )
    params = _kickoff_params(request)
    lenient = "handling=lenient" in prefer
    for name in params:
        if name in _KNOWN or (lenient and name not in _UNSUPPORTED):
            continue
        raise FhirError(
            400,
            f"{name[:40]}: rxdesk does not support this kick-off parameter.",
            code="not-supported",
            expression=name[:40],
        )
    fmt = (params.get("_outputFormat") or [""])[-1]
    if fmt and fmt not in OUTPUT_FORMATS:
        raise FhirError(
            400,
            f"_outputFormat: rxdesk writes {NDJSON} only (not {fmt[:40]}).",
            code="not-supported",
            expression="_outputFormat",
        )
    types = resource_types(params.get("_type"))
    since = since_value((params.get("_since") or [""])[-1], ctx.site.tz)
    export = export_run(ctx=ctx, types=types, since=since)
    response = HttpResponse(status=202)
    response["Content-Location"] = f"{ctx.base}/$export-status/{export.pk}"
    return response


def _site_export(ctx: Context, pk: int) -> Export:
    found = Export.objects.filter(site=ctx.site, pk=pk).first() if 0 < pk < 2**63 else None
    if found is None:
        raise FhirError(404, f"No export {pk} here.", code="not-found")
    return found


def manifest(export: Export, ctx: Context) -> dict[str, Any]:
    """The completion manifest (Bulk Data IG): one output entry per file written."""
    return {
        "transactionTime": export.requested_at.isoformat(),
        "request": _request_url(ctx, list(export.types), export.since),
        "requiresAccessToken": True,
        "output": [
            {
                "type": f.resource_type,
                "url": f"{ctx.base}/$export-file/{export.pk}/{f.resource_type}.ndjson",
                "count": f.count,
            }
            for f in export.files.all()
        ],
        "error": [],
    }


def export_delete(*, ctx: Context, export: Export) -> None:
    """Remove an export's files and rows; the audit event keeps its counts."""
    _require(ctx, Cap.FHIR_EXPORT)
    counts = {f.resource_type: f.count for f in export.files.all()}
    directory = Path(export.directory) if export.directory else None
    with transaction.atomic():
        audit_record(
            actor=ctx.actor,
            site=ctx.site,
            action="fhir.export_deleted",
            object_type="fhir.export",
            object_id=export.pk,
            data={"counts": counts},
        )
        export.delete()
    if directory is not None and _inside_root(directory):
        transaction.on_commit(lambda: shutil.rmtree(directory, ignore_errors=True))


def status(request: HttpRequest, ctx: Context, pk: int) -> HttpResponse:
    """``GET $export-status/<n>``: 202 while running, the manifest when done, an
    OperationOutcome when it failed. ``DELETE``: remove the export (202)."""
    _require(ctx, Cap.FHIR_EXPORT)
    export = _site_export(ctx, pk)
    if request.method == "DELETE":
        export_delete(ctx=ctx, export=export)
        return HttpResponse(status=202)
    if export.status == RunStatus.RUNNING:
        response = HttpResponse(status=202)
        response["X-Progress"] = "writing files"
        response["Retry-After"] = "5"
        return response
    if export.status == RunStatus.FAILED:
        raise FhirError(
            500, f"The export failed: {export.error or 'see the server log'}.", code="exception"
        )
    return HttpResponse(
        json.dumps(manifest(export, ctx), separators=(",", ":")),
        content_type="application/json",
    )


def _inside_root(path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(_export_root().resolve())
    except (OSError, ValueError):
        return False


def file(request: HttpRequest, ctx: Context, pk: int, type_name: str) -> HttpResponse:
    """``GET $export-file/<n>/<Type>.ndjson``: the file, as written."""
    _require(ctx, Cap.FHIR_EXPORT)
    export = _site_export(ctx, pk)
    found = export.files.filter(resource_type=type_name).first()
    if export.status != RunStatus.DONE or found is None:
        raise FhirError(404, f"Export {pk} has no {type_name[:40]} file.", code="not-found")
    path = Path(found.path)
    if not _inside_root(path) or not path.is_file():
        raise FhirError(404, f"Export {pk} has no {type_name[:40]} file.", code="not-found")
    with transaction.atomic():
        audit_record(
            actor=ctx.actor,
            site=ctx.site,
            action="fhir.export_downloaded",
            object_type="fhir.export",
            object_id=export.pk,
            data={"type": found.resource_type, "count": found.count, "sha256": found.sha256},
        )
    # Streamed, not read into memory; the views type every answer as HttpResponse.
    return cast(HttpResponse, FileResponse(path.open("rb"), content_type=NDJSON))


# --- one patient ----------------------------------------------------------------------------


def _references(value: Any) -> Iterator[tuple[str, str]]:
    """Every ``Type/id`` reference inside a resource (no recursion: a deep resource is fine)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str):
                m = _REFERENCE.match(ref)
                if m:
                    yield m.group(1), m.group(2)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _patient_packages(patient_pk: int, ctx: Context) -> set[int]:
    from rxdesk.fhir.models import MedicationHistory
    from rxdesk.rx.models import Fill, Prescription

    ids: set[int] = set()
    for qs in (
        Prescription.objects.filter(site=ctx.site, patient_id=patient_pk),
        Fill.objects.filter(site=ctx.site, prescription__patient_id=patient_pk),
        MedicationHistory.objects.filter(site=ctx.site, patient_id=patient_pk),
    ):
        ids.update(qs.filter(package__isnull=False).values_list("package_id", flat=True))
    return ids


def everything_bundle(
    patient: Any, ctx: Context, *, type_names: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, int]]:
    """The patient's record as a ``searchset`` Bundle, and the count per type of the rows
    about them (mode ``match``); resources they point at follow as mode ``include``."""
    patient_rt = TYPES["Patient"]
    wanted = {rt.name for rt in resource_types(type_names)} if type_names else set(TYPES)
    entries: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    counts: dict[str, int] = {}

    def add(rt: ResourceType, row: Any, mode: str) -> None:
        fhir_id = rt.id_of(row)
        if (rt.name, fhir_id) in seen:
            return
        seen.add((rt.name, fhir_id))
        entries.append(
            {
                "fullUrl": f"{ctx.base}/{rt.name}/{fhir_id}",
                "resource": rt.to_fhir(row, ctx),
                "search": {"mode": mode},
            }
        )
        if mode == "match":
            counts[rt.name] = counts.get(rt.name, 0) + 1

    add(patient_rt, patient, "match")
    for rt in TYPES.values():
        if rt is patient_rt or rt.of_patient is None or rt.name not in wanted:
            continue
        if not _may(ctx, rt.cap):
            continue
        for row in rt.of_patient(ctx, patient.pk):
            add(rt, row, "match")

    # What those rows point at (prescribers, the pharmacy, drugs), so the bundle stands alone.
    # Only types that are not about a patient: a reference never pulls in another person.
    def include(name: str, fhir_id: str) -> None:
        rt = TYPES.get(name)
        if rt is None or rt.phi or name not in wanted or (name, fhir_id) in seen:
            return
        if not _may(ctx, rt.cap):
            return
        row = model_row(rt, fhir_id, ctx)
        if row is not None:
            add(rt, row, "include")

    include("Organization", str(ctx.site.pk))
    medication = TYPES.get("Medication")
    if medication is not None:
        for package_pk in sorted(_patient_packages(patient.pk, ctx)):
            include("Medication", str(package_pk))
    at = 0
    while at < len(entries):  # included resources may point further (a drug → its maker)
        for name, fhir_id in list(_references(entries[at]["resource"])):
            include(name, fhir_id)
        at += 1

    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": timezone.now().replace(microsecond=0).isoformat(),
        "total": sum(counts.values()),
        "link": [
            {
                "relation": "self",
                "url": f"{ctx.base}/Patient/{patient_rt.id_of(patient)}/$everything",
            }
        ],
        "entry": entries,
    }
    return bundle, counts


def patient_everything(
    fhir_id: str, ctx: Context, *, type_names: list[str] | None = None
) -> dict[str, Any]:
    """``GET /fhir/Patient/<id>/$everything``: the patient's record (see
    :func:`everything_bundle`), with one PHI-access audit event holding the counts."""
    _require(ctx, Cap.PATIENT_VIEW)
    patient_rt = TYPES.get("Patient")
    patient = model_row(patient_rt, fhir_id, ctx) if patient_rt is not None else None
    if patient is None or patient_rt is None:
        raise FhirError(404, f"No Patient with id {fhir_id[:40]} here.", code="not-found")
    bundle, counts = everything_bundle(patient, ctx, type_names=type_names)
    with transaction.atomic():
        audit_record(
            actor=ctx.actor,
            site=ctx.site,
            action="fhir.everything",
            object_type="fhir",
            object_id=f"Patient/{patient_rt.id_of(patient)}"[:40],
            patient_id=patient.pk,
            data={"counts": counts, "included": len(bundle["entry"]) - bundle["total"]},
        )
    return bundle


# --- to a folder (the CLI) -----------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryExport:
    directory: Path
    files: list[WrittenFile]
    seconds: float

    @property
    def resources(self) -> int:
        return sum(f.count for f in self.files)


def cli_context(site: Site, actor: User | None, base: str = DEFAULT_CLI_BASE) -> Context:
    return Context(site=site, actor=actor, base=base.rstrip("/"))


def export_to_directory(
    *,
    ctx: Context,
    directory: Path,
    type_names: list[str] | None = None,
    since: str | None = None,
    progress: Progress | None = None,
) -> DirectoryExport:
    """The whole pharmacy to ``directory``: ``<Type>.ndjson`` per type and ``manifest.json``
    (the Bulk Data manifest, with file names as urls). Same files as ``$export``. The folder
    holds one export: a ``<Type>.ndjson`` left by an earlier run is removed, so a reader of
    the folder never takes old records for new ones."""
    _require(ctx, Cap.FHIR_EXPORT)
    types = resource_types(type_names)
    when = since_value(since, ctx.site.tz)
    started = time.perf_counter()
    now = timezone.now()
    files = write_ndjson(ctx=ctx, directory=directory, types=types, since=when, progress=progress)
    for name in set(TYPES) - {f.resource_type for f in files}:
        (directory / f"{name}.ndjson").unlink(missing_ok=True)
    names = [rt.name for rt in types] if type_names else []
    body = {
        "transactionTime": now.replace(microsecond=0).isoformat(),
        "request": _request_url(ctx, names, when),
        "requiresAccessToken": False,
        "output": [{"type": f.resource_type, "url": f.path.name, "count": f.count} for f in files],
        "error": [],
    }
    with _private(directory / "manifest.json") as out:
        out.write((json.dumps(body, indent=2) + "\n").encode("utf-8"))
    with transaction.atomic():
        audit_record(
            actor=ctx.actor,
            site=ctx.site,
            action="fhir.export",
            object_type="fhir.export",
            object_id="cli",
            data={
                "counts": _counts(files),
                "types": names,
                "since": when.isoformat() if when else None,
                "directory": str(directory)[:200],
            },
        )
    return DirectoryExport(directory, files, time.perf_counter() - started)


def patient_to_file(
    *, ctx: Context, directory: Path, fhir_id: str, type_names: list[str] | None = None
) -> tuple[Path, dict[str, int]]:
    """One patient's ``$everything`` bundle (type ``searchset``, exactly what the API answers)
    to ``directory/patient-<id>.json``; returns the path and the count per type."""
    bundle = patient_everything(fhir_id, ctx, type_names=type_names)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The id as the bundle states it (a typed-in id never becomes part of a path).
    path = directory / f"patient-{bundle['entry'][0]['resource']['id']}.json"
    with _private(path) as out:
        out.write((json.dumps(bundle, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    counts: dict[str, int] = {}
    for entry in bundle["entry"]:
        kind = entry["resource"]["resourceType"]
        counts[kind] = counts.get(kind, 0) + 1
    return path, counts
