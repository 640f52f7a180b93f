"""``rxdesk import-fhir``: patients, allergies, conditions, medication history and historical
immunizations read from FHIR R4 files (Synthea bundles, other systems' exports, our own bulk
NDJSON).

Every row is written through the owning app's service (which validates it and writes its
audit event); only the medication history, which is this app's own table, is written here.
Each resource read gets a :class:`SourceLink` (site, source system, type, source id → row,
SHA-256 of the resource): importing the same file again changes nothing, a changed resource
updates its row, and nothing is ever doubled.

Identity of a resource: a bundle entry's ``fullUrl`` ``urn:uuid:X`` is ("urn:uuid", X); an
absolute ``http://server/fhir/Patient/12`` is ("http://server/fhir", "Patient/12"); a bare
``id`` belongs to the resource's ``meta.source``, else the Bundle's id, else the file's name.

Patients are matched by that link first, then by the exact name and birth date at the site
(never by name alone); two candidates are not guessed between — the file is refused.

One transaction per file (a patient's bundle): a file that cannot be read, or whose patient
cannot be imported, rolls back alone and is reported; the run goes on with the next file. A
single resource a service refuses (a dose dated before the birth, an unknown vaccine) is
skipped with its reason, the rest of the file is kept.

The run is the operator's (``actor=None`` at the shell) or a signed-in PIC's. The rows are
recorded as that user, or — for the operator — as the site's pharmacist-in-charge, who is
answerable for the pharmacy's records (services name a person on every clinical row).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.catalog.ndc import CodeError, parse_scan
from rxdesk.core.audit import audit_record, canonical_json, register_actions
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.choices import Role
from rxdesk.core.errors import DomainError, Invalid
from rxdesk.core.identifiers import npi_is_valid
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.core.validators import (
    normalize_phone,
    validate_phone,
    validate_postal_code,
    validate_state,
)
from rxdesk.fhir import codes
from rxdesk.fhir.models import ImportRun, MedicationHistory, RunStatus, SourceLink
from rxdesk.immunizations.choices import InformationSource, RecordStatus
from rxdesk.immunizations.models import Immunization, Vaccine
from rxdesk.immunizations.services_administer import (
    immunization_mark_entered_in_error,
    immunization_record_historical,
)
from rxdesk.patients import services as patients
from rxdesk.patients.choices import (
    AllergenKind,
    AllergyType,
    ConditionStatus,
    IdentifierKind,
    InfoSource,
    Language,
    PatientStatus,
    Severity,
    Sex,
)
from rxdesk.patients.models import Allergy, Condition, Patient, name_key

register_actions({"fhir.import": "FHIR records imported"})
log = logging.getLogger(__name__)

KEPT = (
    "Patient",
    "AllergyIntolerance",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "Immunization",
)
PROBLEMS_KEPT = 500
AMBIGUOUS = -1  # a run-wide reference two files use for different patients
OUTCOMES = ("created", "updated", "unchanged", "skipped")
NOT_KEPT = "not kept by a pharmacy"
UNKNOWN_VACCINE = "is not in the vaccine table"
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
UNII = "http://fdasis.nlm.nih.gov"
# v2-0203 identifier types a pharmacy keeps; SS (Social Security number) is never stored.
IDENTIFIER_KINDS = {
    "MR": IdentifierKind.MEDICAL_RECORD,
    "DL": IdentifierKind.DRIVERS_LICENSE,
    "PPN": IdentifierKind.PASSPORT,
    "MC": IdentifierKind.MEDICARE_MBI,
    "MA": IdentifierKind.MEDICAID,
}
ALLERGY_SEVERITY = {"mild": Severity.MILD, "moderate": Severity.MODERATE, "severe": Severity.SEVERE}
SEVERITY_RANK = [Severity.MILD, Severity.MODERATE, Severity.SEVERE]
# immunization-origin (reportOrigin) → RXA-9 information source
ORIGIN_SOURCE = {
    "provider": InformationSource.OTHER_PROVIDER,
    "record": InformationSource.PARENT_WRITTEN,
    "recall": InformationSource.PARENT_RECALL,
    "school": InformationSource.SCHOOL,
}
HISTORICAL_SOURCE_MAX = 200
_TYPED_URL = re.compile(r"^(?P<base>https?://.+?)/(?P<type>[A-Z][A-Za-z]+)/(?P<id>[^/]+)")

Progress = Callable[[int, int], None]


class Refused(Exception):
    """This resource cannot be imported (why, in words); the rest of the file goes on."""


class FileRefused(Exception):
    """The whole file is refused and rolled back (its patient could not be imported)."""


# --- Reading ---------------------------------------------------------------------------------


@dataclass
class Entry:
    resource: dict[str, Any]
    full_url: str
    line: int | None = None


@dataclass
class Source:
    """One file read: its entries, the identity system of its bare ids, and what was wrong."""

    path: Path
    entries: list[Entry]
    bare_source: str
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, message)


def files_of(path: Path) -> list[Path]:
    """A file, or a folder's ``.json``/``.ndjson`` files (recursive, sorted). Patient files
    come first, so that a bulk export's other types find the patients they point at. A Bulk
    Data ``manifest.json`` (what ``rxdesk export-fhir`` writes beside its files) is not data."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise Invalid(f"{path} is neither a file nor a folder.", field="path")
    found = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in {".json", ".ndjson"}
        and p.name.lower() != "manifest.json"
    )
    return sorted(found, key=lambda p: (not p.name.startswith("Patient"), str(p)))


def read_source(path: Path) -> Source:
    """Parse a file. Unreadable JSON raises ValueError (the file fails); a bad NDJSON line is
    a problem of its own and the other lines are kept."""
    raw = path.read_bytes()
    if path.suffix.lower() == ".ndjson":
        entries: list[Entry] = []
        bad: list[tuple[str, str]] = []
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except (ValueError, RecursionError) as exc:
                bad.append((f"line {number}", f"Not JSON ({_short(exc)}); line skipped."))
                continue
            if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
                bad.append((f"line {number}", "Not a FHIR resource; line skipped."))
                continue
            entries.append(Entry(item, "", number))
        return Source(path, entries, path.name, bad)
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({_short(exc)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise ValueError("not a FHIR resource or Bundle")
    if data["resourceType"] != "Bundle":
        return Source(path, [Entry(data, "")], _meta_source(data) or path.name)
    entries = []
    for item in _list(data.get("entry")):
        resource = _dict(item).get("resource")
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            entries.append(Entry(resource, _str(_dict(item).get("fullUrl"))))
    bundle_id = _str(data.get("id"))
    return Source(path, entries, _meta_source(data) or bundle_id or path.name)


def _short(exc: BaseException) -> str:
    return str(exc)[:120]


def _meta_source(resource: dict[str, Any]) -> str:
    return _str(_dict(resource.get("meta")).get("source"))[:200]


def identity(entry: Entry, bare_source: str) -> tuple[str, str]:
    """(source system, id) of a resource: see the module's docstring."""
    resource = entry.resource
    url = entry.full_url
    for prefix in ("urn:uuid:", "urn:oid:"):
        if url.startswith(prefix):
            return prefix[:-1], url[len(prefix) :][:200]
    typed = _TYPED_URL.match(url)
    if typed:
        return typed["base"][:200], f"{typed['type']}/{typed['id']}"[:200]
    rid = _str(resource.get("id"))
    source = _meta_source(resource) or bare_source
    if rid:
        return source[:200], rid[:200]
    # No id anywhere: the content is the identity (the same resource again is unchanged).
    return source[:200], "sha256:" + digest_of(resource)[:56]


def digest_of(resource: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(resource).encode()).hexdigest()


# --- Small readers of untrusted JSON ----------------------------------------------------------


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _codings(concept: Any) -> list[dict[str, Any]]:
    return [c for c in _list(_dict(concept).get("coding")) if isinstance(c, dict)]


def _code(concept: Any, system: str) -> str:
    for coding in _codings(concept):
        if _str(coding.get("system")) == system and _str(coding.get("code")):
            return _str(coding.get("code"))
    return ""


def _text(concept: Any) -> str:
    """A concept in words: its text, else the first coding's display."""
    text = _str(_dict(concept).get("text"))
    if text:
        return " ".join(text.split())
    for coding in _codings(concept):
        if _str(coding.get("display")):
            return " ".join(_str(coding.get("display")).split())
    return ""


def _first_code(concept: Any) -> str:
    for coding in _codings(concept):
        if _str(coding.get("code")):
            return _str(coding.get("code"))
    return ""


def _date(value: Any) -> dt.date | None:
    """The date of a FHIR date or dateTime (as written: a dateTime's own calendar day)."""
    text = _str(value)
    if len(text) < 10:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 32768:
        return None
    return value


# --- The run ---------------------------------------------------------------------------------


@dataclass
class Tally:
    """What happened, per resource type: created, updated, unchanged, skipped (+ why)."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    reasons: dict[str, Counter[str]] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)

    def add(self, type_name: str, outcome: str, reason: str = "") -> None:
        self.counts.setdefault(type_name, Counter())[outcome] += 1
        if reason:
            self.reasons.setdefault(type_name, Counter())[reason] += 1

    def problem(self, file: str, resource: str, message: str) -> None:
        self.problems.append({"file": file, "resource": resource, "message": message})

    def merge(self, other: Tally) -> None:
        for name, counter in other.counts.items():
            self.counts.setdefault(name, Counter()).update(counter)
        for name, counter in other.reasons.items():
            self.reasons.setdefault(name, Counter()).update(counter)
        self.problems.extend(other.problems)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in sorted(self.counts):
            row: dict[str, Any] = {k: self.counts[name].get(k, 0) for k in OUTCOMES}
            if self.counts[name].get("matched"):
                row["matched"] = self.counts[name]["matched"]
            if name in self.reasons:
                row["reasons"] = dict(sorted(self.reasons[name].items()))
            out[name] = row
        return out


def recorder_of(actor: User | None, site: Site) -> User:
    """The person the imported rows are recorded as: the signed-in actor, else the site's
    pharmacist-in-charge."""
    if actor is not None:
        return actor
    pic = (
        User.objects.filter(site=site, role=Role.PHARMACIST_IN_CHARGE, is_active=True)
        .order_by("pk")
        .first()
    )
    if pic is None:
        raise Invalid(
            f"{site.name} has no active pharmacist-in-charge to record the import as; "
            "name a user with --username.",
            field="username",
        )
    return pic


def fhir_import(
    *,
    actor: User | None,
    path: Path | str,
    site: Site | None = None,
    progress: Progress | None = None,
) -> ImportRun:
    """Import the FHIR files at ``path`` (a file or a folder) into ``site`` (the actor's own
    site; the operator names it). Returns the finished :class:`ImportRun`."""
    authorize(actor, Cap.FHIR_IMPORT)
    if actor is not None:
        if site is not None and site.pk != actor.site_id:
            raise Invalid("You can only import into your own pharmacy.", field="site")
        site = actor.site
    if site is None:
        raise Invalid("Name the pharmacy to import into.", field="site")
    recorder = recorder_of(actor, site)
    # The writes check these again one by one; asked once here, an expired licence is one
    # clear refusal instead of every file failing with it.
    for cap in (Cap.PATIENT_EDIT, Cap.IMM_RECORD):
        require(recorder, cap)
    path = Path(path)
    files = files_of(path)
    run = ImportRun.objects.create(
        site=site, path=str(path)[:500], started_by=actor, files=len(files)
    )
    tally = Tally()
    failed = 0
    seen: dict[str, int] = {}  # "Patient/12", "urn:uuid:…" → patient pk, across the run
    try:
        for done, file in enumerate(files, start=1):
            if not _import_file(
                file, run=run, site=site, recorder=recorder, tally=tally, seen=seen
            ):
                failed += 1
            if progress is not None:
                progress(done, len(files))
    except BaseException:  # interrupted (Ctrl+C): the files done so far stay, the run says so
        run.status = RunStatus.FAILED
        run.finished_at = timezone.now()
        run.counts = tally.as_json()
        run.save(update_fields=["status", "finished_at", "counts"])
        raise
    # Whole-file failures first, so that the cut to PROBLEMS_KEPT never hides one.
    problems = sorted(tally.problems, key=lambda p: p["resource"] != "")
    with transaction.atomic():
        run.counts = tally.as_json()
        run.problems = problems[:PROBLEMS_KEPT]
        run.status = RunStatus.FAILED if failed else RunStatus.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["counts", "problems", "status", "finished_at"])
        audit_record(
            actor=actor,
            site=site,
            action="fhir.import",
            obj=run,
            data={
                "path": run.path,
                "files": len(files),
                "files_failed": failed,
                "recorded_as": recorder.username,
                "counts": run.counts,
                "problems": len(tally.problems),
            },
        )
    return run


def files_failed(run: ImportRun) -> int:
    """How many files of the run were refused whole (rolled back)."""
    return len({p["file"] for p in run.problems if p.get("resource") == ""})


def _import_file(
    file: Path,
    *,
    run: ImportRun,
    site: Site,
    recorder: User,
    tally: Tally,
    seen: dict[str, int],
) -> bool:
    name = str(file)
    try:
        source = read_source(file)
    except (OSError, ValueError) as exc:
        tally.problem(name, "", f"The file was not read: {exc}.")
        return False
    local = Tally()
    for where, message in source.problems:
        local.problem(name, where, message)
    found: dict[str, int] = {}
    try:
        with transaction.atomic():
            _FileImport(source, run, site, recorder, local, {**seen}, found).run()
    except FileRefused as exc:
        tally.problem(name, "", f"The file was not imported: {exc}")
        return False
    except DomainError as exc:
        tally.problem(name, "", f"The file was not imported: {_domain_message(exc)}")
        return False
    except RecursionError:
        tally.problem(name, "", "The file was not imported: its JSON is nested too deeply.")
        return False
    except Exception as exc:  # an input we did not foresee: this file only, never the run
        log.exception("FHIR import of %s failed", file)
        tally.problem(
            name, "", f"The file was not imported: unexpected {type(exc).__name__} ({exc})."
        )
        return False
    tally.merge(local)
    for key, pk in found.items():
        # Two files of one run that both call a different patient "Patient/12" (two systems'
        # exports): that bare reference no longer points anywhere — never guess a patient.
        seen[key] = AMBIGUOUS if seen.get(key, pk) != pk else pk
    return True


class _FileImport:
    """One file's resources, patients first, in one transaction (the caller's)."""

    def __init__(
        self,
        source: Source,
        run: ImportRun,
        site: Site,
        recorder: User,
        tally: Tally,
        seen: dict[str, int],
        found: dict[str, int],
    ) -> None:
        self.source = source
        self.run_row = run
        self.site = site
        self.recorder = recorder
        self.tally = tally
        self.seen = seen  # reference → patient pk (this run's earlier files, then this one)
        self.found = found  # what this file adds to the run's map, kept if the file commits
        self.index: dict[str, dict[str, Any]] = {}
        for entry in source.entries:
            r = entry.resource
            if entry.full_url:
                self.index[entry.full_url] = r
            if _str(r.get("id")):
                self.index[f"{r['resourceType']}/{_str(r.get('id'))}"] = r

    # -- driver --

    def run(self) -> None:
        entries = sorted(self.source.entries, key=lambda e: e.resource["resourceType"] != "Patient")
        for entry in entries:
            type_name = entry.resource["resourceType"]
            if type_name not in KEPT:
                self.tally.add(type_name, "skipped", NOT_KEPT)
                continue
            self._one(entry, type_name)

    def _one(self, entry: Entry, type_name: str) -> None:
        source, source_id = identity(entry, self.source.bare_source)
        label = f"{type_name}/{source_id}"
        digest = digest_of(entry.resource)
        link = SourceLink.objects.filter(
            site=self.site, source=source, resource_type=type_name, source_id=source_id
        ).first()
        handler = getattr(self, "_" + type_name.lower())
        try:
            with transaction.atomic():
                outcome, target = handler(entry.resource, link, source, source_id, digest)
                if target is not None:
                    self._link(link, source, type_name, source_id, target, digest)
        except Refused as exc:
            if type_name == "Patient":
                raise FileRefused(f"{label}: {exc}") from None
            self.tally.add(type_name, "skipped", str(exc))
            return
        except DomainError as exc:
            message = _domain_message(exc)
            if type_name == "Patient":
                raise FileRefused(f"{label}: {message}") from None
            self.tally.add(type_name, "skipped", "refused by a pharmacy rule")
            self.tally.problem(str(self.source.path), label, message)
            return
        self.tally.add(type_name, outcome)
        if type_name == "Patient" and target is not None:
            for key in self._keys(entry, source, source_id):
                self.seen[key] = target.pk
                self.found[key] = target.pk

    def _keys(self, entry: Entry, source: str, source_id: str) -> list[str]:
        r = entry.resource
        keys = [f"{source}|{source_id}"]
        if entry.full_url:
            keys.append(entry.full_url)
        if _str(r.get("id")):
            keys.append(f"Patient/{_str(r.get('id'))}")
        return keys

    def _link(
        self,
        link: SourceLink | None,
        source: str,
        type_name: str,
        source_id: str,
        target: Any,
        digest: str,
    ) -> None:
        if link is None:
            SourceLink.objects.create(
                site=self.site,
                source=source,
                resource_type=type_name,
                source_id=source_id,
                target_type=target._meta.label_lower,
                target_id=target.pk,
                digest=digest,
                run=self.run_row,
            )
        elif link.digest != digest or link.target_id != target.pk:
            link.digest = digest
            link.target_type = target._meta.label_lower
            link.target_id = target.pk
            link.run = self.run_row
            link.imported_at = timezone.now()
            link.save(update_fields=["digest", "target_type", "target_id", "run", "imported_at"])

    def _target(self, link: SourceLink | None, model: type[Any]) -> Any:
        if link is None or link.target_type != model._meta.label_lower:
            return None
        return model.objects.filter(pk=link.target_id).first()

    def _patient_ref(self, resource: dict[str, Any], *names: str) -> Patient:
        """The patient a resource points at (``subject``/``patient``), imported earlier in
        this file or run, or linked by an earlier run."""
        ref = ""
        for name in names:
            ref = _str(_dict(resource.get(name)).get("reference"))
            if ref:
                break
        if not ref:
            raise Refused("it names no patient")
        pk = self.seen.get(ref)
        typed = _TYPED_URL.match(ref)
        if pk is None and typed is not None:
            pk = self.seen.get(f"{typed['base']}|Patient/{typed['id']}")
        if pk is None:
            link = _patient_link(self.site, ref, self.source.bare_source)
            pk = link.target_id if link is not None else None
        if pk == AMBIGUOUS:
            raise Refused(f"{ref} names different patients in two files of this import")
        patient = Patient.objects.filter(pk=pk, site=self.site).first() if pk else None
        if patient is None:
            raise Refused("its patient is not in this file nor imported before")
        return patient

    # -- Patient --

    def _patient(
        self,
        r: dict[str, Any],
        link: SourceLink | None,
        source: str,
        source_id: str,
        digest: str,
    ) -> tuple[str, Patient]:
        existing = self._target(link, Patient)
        if existing is not None and existing.site_id == self.site.pk and link is not None:
            if link.digest == digest:
                return "unchanged", existing
            values = self._patient_values(r, source_id)
            patients.patient_update(actor=self.recorder, patient=existing, **values)
            self._identifiers(r, existing)
            return "updated", existing
        values = self._patient_values(r, source_id)
        twins = list(
            Patient.objects.filter(
                site=self.site,
                first_name_key=name_key(values["first_name"]),
                last_name_key=name_key(values["last_name"]),
                date_of_birth=values["date_of_birth"],
            ).exclude(status=PatientStatus.INACTIVE)[:2]
        )
        if len(twins) > 1:
            raise Refused(
                f"{len(twins)} patients on file have this name and birth date; link it by hand"
            )
        if twins:
            self._identifiers(r, twins[0])
            return "matched", twins[0]
        patient = patients.patient_create(actor=self.recorder, **values)
        self._identifiers(r, patient)
        return "created", patient

    def _patient_values(self, r: dict[str, Any], label: str) -> dict[str, Any]:
        names = [n for n in _list(r.get("name")) if isinstance(n, dict)]
        name = next((n for n in names if n.get("use") == "official"), None) or next(
            (n for n in names if _str(n.get("use")) not in {"old", "maiden"}), None
        )
        if name is None:
            raise Refused("it has no name")
        given = [g.strip() for g in _list(name.get("given")) if isinstance(g, str) and g.strip()]
        family = _str(name.get("family"))
        if not given or not family:
            raise Refused("it needs a given name and a family name")
        born = _date(r.get("birthDate"))
        if born is None:
            raise Refused("it has no birth date")
        values: dict[str, Any] = {
            "first_name": given[0][:60],
            "middle_name": " ".join(given[1:])[:60],
            "last_name": family[:60],
            "suffix": " ".join(s for s in _list(name.get("suffix")) if isinstance(s, str))[:10],
            "date_of_birth": born,
            "sex": {"male": Sex.MALE, "female": Sex.FEMALE}.get(_str(r.get("gender")), Sex.UNKNOWN),
        }
        if r.get("deceasedBoolean") is True or _str(r.get("deceasedDateTime")):
            values["status"] = PatientStatus.DECEASED
        address = next(
            (a for a in _list(r.get("address")) if isinstance(a, dict) and a.get("use") != "old"),
            None,
        )
        if address is not None:
            lines = [s for s in _list(address.get("line")) if isinstance(s, str)]
            values["address_line1"] = (lines[0] if lines else "")[:120]
            values["address_line2"] = " ".join(lines[1:])[:120]
            values["city"] = _str(address.get("city"))[:80]
            state = _str(address.get("state")).upper()
            values["state"] = self._kept(label, "state", state, validate_state)
            values["postal_code"] = self._kept(
                label, "postal code", _str(address.get("postalCode")), validate_postal_code
            )
        for telecom in _list(r.get("telecom")):
            t = _dict(telecom)
            if t.get("system") == "email" and _str(t.get("value")) and "email" not in values:
                values["email"] = self._kept(label, "email", _str(t.get("value")), validate_email)
            if _str(t.get("system")) not in {"phone", "sms"} or not _str(t.get("value")):
                continue
            key = {"home": "phone_home", "work": "phone_work"}.get(
                _str(t.get("use")), "phone_mobile"
            )
            if key in values:
                continue
            phone = normalize_phone(_str(t.get("value")))
            values[key] = self._kept(label, "phone", phone, validate_phone, _str(t.get("value")))
        for item in _list(r.get("communication")):
            code = _first_code(_dict(item).get("language")).split("-")[0].lower()
            if code in Language.values:
                values["preferred_language"] = code
                break
        return values

    def _kept(
        self,
        label: str,
        what: str,
        value: str,
        check: Callable[[str], None],
        shown: str = "",
    ) -> str:
        """``value`` if it passes ``check``; else blank, and the technician is told."""
        if not value:
            return ""
        try:
            check(value)
        except ValidationError as exc:
            self.tally.problem(
                str(self.source.path),
                f"Patient/{label}",
                f"{what} {shown or value} not kept: {' '.join(exc.messages)}",
            )
            return ""
        return value

    def _identifiers(self, r: dict[str, Any], patient: Patient) -> None:
        held = set(patient.identifiers.values_list("kind", "value"))
        for item in _list(r.get("identifier")):
            ident = _dict(item)
            type_code = _code(ident.get("type"), codes.V2_0203)
            if type_code == "SS" or _str(ident.get("system")) == SSN_SYSTEM:
                continue  # a Social Security number is never stored
            kind = IDENTIFIER_KINDS.get(type_code)
            value = _str(ident.get("value")).upper()
            if kind is None or not value or len(value) > 40 or (kind, value) in held:
                continue
            patients.identifier_add(
                actor=self.recorder, patient=patient, kind=kind, value=value, issuer=""
            )
            held.add((kind, value))

    # -- AllergyIntolerance --

    def _allergyintolerance(
        self,
        r: dict[str, Any],
        link: SourceLink | None,
        source: str,
        source_id: str,
        digest: str,
    ) -> tuple[str, Allergy | None]:
        existing = self._target(link, Allergy)
        if existing is not None and link is not None and link.digest == digest:
            return "unchanged", existing
        verification = _first_code(r.get("verificationStatus"))
        if verification in {"entered-in-error", "refuted"}:
            if existing is not None and existing.active:
                patients.allergy_inactivate(
                    actor=self.recorder,
                    allergy=existing,
                    reason=f"Marked {verification} in the record from {source}",
                )
                return "updated", existing
            raise Refused(f"marked {verification} in the source")
        patient = self._patient_ref(r, "patient")
        allergen = _text(r.get("code"))[:120]
        if not allergen:
            raise Refused("it names no allergen")
        categories = {c for c in _list(r.get("category")) if isinstance(c, str)}
        kind = (
            AllergenKind.NON_DRUG
            if categories and "medication" not in categories
            else AllergenKind.INGREDIENT  # a drug, or unsaid: screened as a drug
        )
        severities = [
            ALLERGY_SEVERITY[s]
            for s in (_str(_dict(x).get("severity")) for x in _list(r.get("reaction")))
            if s in ALLERGY_SEVERITY
        ]
        manifestations = [
            _text(m)
            for x in _list(r.get("reaction"))
            for m in _list(_dict(x).get("manifestation"))
            if _text(m)
        ]
        values = {
            "allergen_code": (_code(r.get("code"), codes.RXNORM) or _code(r.get("code"), UNII))[
                :20
            ],
            "allergy_type": AllergyType.INTOLERANCE
            if r.get("type") == "intolerance"
            else AllergyType.ALLERGY,
            "reaction": ", ".join(dict.fromkeys(manifestations))[:200],
            "severity": max(severities, key=SEVERITY_RANK.index)
            if severities
            else Severity.UNKNOWN,
            "source": InfoSource.OUTSIDE_RECORD,
        }
        inactive = _first_code(r.get("clinicalStatus")) in {"inactive", "resolved"}
        outcome = "created"
        if existing is not None:
            same = (
                existing.allergen.lower() == allergen.lower()
                and existing.allergen_kind == kind
                and all(getattr(existing, k) == v for k, v in values.items())
            )
            if same and existing.active == (not inactive):
                return "unchanged", existing
            if existing.active:
                patients.allergy_inactivate(
                    actor=self.recorder,
                    allergy=existing,
                    reason=(
                        f"Marked inactive in the record from {source}"
                        if same
                        else f"Replaced by a changed record from {source}"
                    ),
                )
                if same:
                    return "updated", existing
            elif inactive:
                return "unchanged", existing  # ended here and there: nothing to add
            # Changed, or active again: a new entry (removed ones stay, as history).
            outcome = "updated"
        if not inactive:
            held = patient.allergies.filter(
                active=True, allergen__iexact=allergen, allergen_kind=kind
            ).first()
            if held is not None:
                return ("unchanged" if outcome == "created" else outcome), held
        allergy = patients.allergy_add(
            actor=self.recorder, patient=patient, allergen=allergen, allergen_kind=kind, **values
        )
        if inactive:
            patients.allergy_inactivate(
                actor=self.recorder,
                allergy=allergy,
                reason=f"Inactive in the record from {source}",
            )
        return outcome, allergy

    # -- Condition --

    def _condition(
        self,
        r: dict[str, Any],
        link: SourceLink | None,
        source: str,
        source_id: str,
        digest: str,
    ) -> tuple[str, Condition | None]:
        existing = self._target(link, Condition)
        if existing is not None and link is not None and link.digest == digest:
            return "unchanged", existing
        if _first_code(r.get("verificationStatus")) in {"entered-in-error", "refuted"}:
            raise Refused("marked entered in error or refuted in the source")
        patient = self._patient_ref(r, "subject", "patient")
        description = _text(r.get("code"))[:200]
        if not description:
            raise Refused("it names no condition")
        icd10 = _code(r.get("code"), codes.ICD10CM).upper()
        if not re.fullmatch(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?", icd10):
            icd10 = ""  # SNOMED and other systems: the description says it in words
        onset = _date(r.get("onsetDateTime")) or _date(_dict(r.get("onsetPeriod")).get("start"))
        if onset is not None and onset > self.site.today():
            onset = None
        clinical = _first_code(r.get("clinicalStatus"))
        status = (
            ConditionStatus.RESOLVED
            if clinical in {"inactive", "remission", "resolved"}
            else ConditionStatus.ACTIVE
        )
        if existing is not None and existing.patient_id == patient.pk:
            patients.condition_update(
                actor=self.recorder,
                condition=existing,
                description=description,
                icd10=icd10,
                onset=onset,
                status=status,
            )
            return "updated", existing
        held = patient.conditions.filter(
            description__iexact=description, onset=onset, status=status
        ).first()
        if held is not None:  # the same condition from another system: one row, two links
            return "unchanged", held
        condition = patients.condition_add(
            actor=self.recorder, patient=patient, description=description, icd10=icd10, onset=onset
        )
        if status != ConditionStatus.ACTIVE:
            patients.condition_update(actor=self.recorder, condition=condition, status=status)
        return "created", condition

    # -- MedicationRequest / MedicationStatement --

    def _medicationrequest(
        self,
        r: dict[str, Any],
        link: SourceLink | None,
        source: str,
        source_id: str,
        digest: str,
    ) -> tuple[str, MedicationHistory | None]:
        existing = self._target(link, MedicationHistory)
        if existing is not None and link is not None and link.digest == digest:
            return "unchanged", existing
        patient = self._patient_ref(r, "subject", "patient")
        values = self._history_values(r, source)
        if existing is not None:
            changed = [k for k, v in values.items() if getattr(existing, k) != v]
            for key in changed:
                setattr(existing, key, values[key])
            existing.patient = patient
            existing.run = self.run_row
            existing.imported_at = timezone.now()
            existing.save(update_fields=[*changed, "patient", "run", "imported_at"])
            return "updated", existing
        row = MedicationHistory.objects.create(
            site=self.site,
            patient=patient,
            source=source,
            source_id=source_id,
            run=self.run_row,
            **values,
        )
        return "created", row

    _medicationstatement = _medicationrequest

    def _medication_concept(self, r: dict[str, Any]) -> Any:
        if "medicationCodeableConcept" in r:
            return r.get("medicationCodeableConcept")
        ref = _str(_dict(r.get("medicationReference")).get("reference"))
        if ref.startswith("#"):
            for contained in _list(r.get("contained")):
                if _str(_dict(contained).get("id")) == ref[1:]:
                    return _dict(contained).get("code")
        medication = self.index.get(ref)
        if medication is not None:
            return medication.get("code")
        return {"text": _str(_dict(r.get("medicationReference")).get("display"))}

    def _history_values(self, r: dict[str, Any], source: str) -> dict[str, Any]:
        concept = self._medication_concept(r)
        drug_name = _text(concept)[:300]
        if not drug_name:
            raise Refused("it names no medication")
        ndc11 = ""
        ndc = _code(concept, codes.NDC)
        if ndc:
            try:
                ndc11 = parse_scan(ndc).ndc11 or ""
            except CodeError:
                ndc11 = ""
        is_request = r.get("resourceType") == "MedicationRequest"
        if is_request:
            authored = _date(r.get("authoredOn"))
            dosages = _list(r.get("dosageInstruction"))
        else:
            authored = (
                _date(r.get("effectiveDateTime"))
                or _date(_dict(r.get("effectivePeriod")).get("start"))
                or _date(r.get("dateAsserted"))
            )
            dosages = _list(r.get("dosage"))
        dispense = _dict(r.get("dispenseRequest"))
        quantity = _dict(dispense.get("quantity"))
        amount = _decimal(quantity.get("value"))
        if amount is not None and not Decimal(0) <= amount < Decimal("10000000"):
            amount = None
        supply = _dict(dispense.get("expectedSupplyDuration"))
        days = _decimal(supply.get("value"))
        days_supply = (
            int(days)
            if days is not None
            and _str(supply.get("code") or supply.get("unit")) in {"d", "day", "days"}
            and 0 < days < 32768
            and days == int(days)
            else None
        )
        name, npi = self._prescriber(
            r.get("requester") if is_request else r.get("informationSource")
        )
        reasons = [_text(c) for c in _list(r.get("reasonCode")) if _text(c)]
        for ref in _list(r.get("reasonReference")):
            target = self.index.get(_str(_dict(ref).get("reference")))
            text = _text(target.get("code")) if target else _str(_dict(ref).get("display"))
            if text:
                reasons.append(text)
        return {
            "status": _str(r.get("status"))[:20] or "unknown",
            "drug_name": drug_name,
            "rxnorm": _code(concept, codes.RXNORM)[:12],
            "ndc11": ndc11,
            "package": Package.objects.filter(ndc11=ndc11).first() if ndc11 else None,
            "authored_on": authored,
            "prescriber_name": name[:150],
            "prescriber_npi": npi,
            "directions": "; ".join(t for t in (_str(_dict(d).get("text")) for d in dosages) if t)[
                :1000
            ],
            "quantity": amount.quantize(Decimal("0.001")) if amount is not None else None,
            "quantity_unit": _str(quantity.get("unit") or quantity.get("code"))[:20]
            if amount is not None
            else "",
            "days_supply": days_supply,
            "refills": _count(dispense.get("numberOfRepeatsAllowed")),
            "reason": "; ".join(dict.fromkeys(reasons))[:200],
        }

    def _prescriber(self, reference: Any) -> tuple[str, str]:
        """(name, NPI) of the requester: the Practitioner in the bundle, or the NPI of a
        conditional reference (``Practitioner?identifier=<NPI system>|1234567893``). An NPI
        that fails its check digit is not kept (Synthea's are made up)."""
        ref = _dict(reference)
        name = _str(ref.get("display"))
        npi = ""
        target = self.index.get(_str(ref.get("reference")))
        if target is not None:
            for item in _list(target.get("identifier")):
                if _str(_dict(item).get("system")) == codes.NPI:
                    npi = _str(_dict(item).get("value"))
            names = [n for n in _list(target.get("name")) if isinstance(n, dict)]
            if names and not name:
                given = [g for g in _list(names[0].get("given")) if isinstance(g, str)]
                family = _str(names[0].get("family"))
                name = _str(names[0].get("text")) or " ".join([*given, family]).strip()
        marker = f"identifier={codes.NPI}|"
        if not npi and marker in _str(ref.get("reference")):
            npi = _str(ref.get("reference")).split(marker, 1)[1].split("&")[0]
        if not npi and _str(_dict(ref.get("identifier")).get("system")) == codes.NPI:
            npi = _str(_dict(ref.get("identifier")).get("value"))
        return name, (npi if npi_is_valid(npi) else "")

    # -- Immunization --

    def _immunization(
        self,
        r: dict[str, Any],
        link: SourceLink | None,
        source: str,
        source_id: str,
        digest: str,
    ) -> tuple[str, Immunization | None]:
        existing = self._target(link, Immunization)
        if existing is not None and link is not None and link.digest == digest:
            return "unchanged", existing
        status = _str(r.get("status"))
        if existing is not None:
            if status == "entered-in-error" and existing.status != RecordStatus.ENTERED_IN_ERROR:
                immunization_mark_entered_in_error(
                    actor=self.recorder,
                    immunization=existing,
                    reason=f"Entered in error in the record from {source}",
                )
                return "updated", existing
            raise Refused("changed in the source; a recorded dose is corrected on its record")
        if status != "completed":
            raise Refused(f"status {status or 'missing'}: not a dose given")
        patient = self._patient_ref(r, "patient")
        cvx = _code(r.get("vaccineCode"), codes.CVX)
        if not cvx:
            raise Refused("no CVX code")
        if not Vaccine.objects.filter(cvx=cvx).exists():
            raise Refused(f"CVX {cvx} {UNKNOWN_VACCINE}")
        given = _date(r.get("occurrenceDateTime"))
        if given is None:
            raise Refused("no date given")
        origin = _first_code(r.get("reportOrigin"))
        where = (
            _str(_dict(r.get("location")).get("display"))
            or next(
                (
                    _str(_dict(_dict(p).get("actor")).get("display"))
                    for p in _list(r.get("performer"))
                    if _str(_dict(_dict(p).get("actor")).get("display"))
                ),
                "",
            )
            or f"FHIR record from {source}"
        )
        imm = immunization_record_historical(
            actor=self.recorder,
            patient=patient,
            cvx=cvx,
            administered_on=given,
            source=ORIGIN_SOURCE.get(origin, InformationSource.OTHER_PROVIDER),
            historical_source=where[:HISTORICAL_SOURCE_MAX],
            lot_number=_str(r.get("lotNumber"))[:40],
        )
        return "created", imm


def _domain_message(exc: DomainError) -> str:
    details = [e["message"] for e in exc.errors if e.get("message") and e["message"] != exc.message]
    return " ".join([exc.message, *details]).strip()


def _patient_link(site: Site, ref: str, bare_source: str) -> SourceLink | None:
    """A Patient linked by an earlier run, from a reference as written."""
    candidates: list[tuple[str, str]] = []
    for prefix in ("urn:uuid:", "urn:oid:"):
        if ref.startswith(prefix):
            candidates.append((prefix[:-1], ref[len(prefix) :]))
    typed = _TYPED_URL.match(ref)
    if typed and typed["type"] == "Patient":
        candidates.append((typed["base"], f"Patient/{typed['id']}"))
    if ref.startswith("Patient/"):
        candidates.append((bare_source, ref.split("/", 1)[1]))
    for source, source_id in candidates:
        link = SourceLink.objects.filter(
            site=site, source=source, resource_type="Patient", source_id=source_id
        ).first()
        if link is not None:
            return link
    return None


# --- Words ----------------------------------------------------------------------------------

NOUNS = {
    "Patient": ("patient", "patients"),
    "AllergyIntolerance": ("allergy", "allergies"),
    "Condition": ("condition", "conditions"),
    "MedicationRequest": ("medication history entry", "medication history entries"),
    "MedicationStatement": ("medication statement", "medication statements"),
    "Immunization": ("immunization", "immunizations"),
}


def summary_lines(run: ImportRun, seconds: float) -> Iterator[str]:
    """The run in words a technician understands."""
    counts: dict[str, Any] = run.counts or {}
    parts = []
    for type_name in KEPT:
        row = counts.get(type_name)
        if not row:
            continue
        total = sum(row.get(k, 0) for k in (*OUTCOMES, "matched"))
        one, many = NOUNS[type_name]
        details = []
        for key, word in (
            ("created", "new"),
            ("matched", "matched existing"),
            ("updated", "updated"),
            ("unchanged", "unchanged"),
            ("skipped", "skipped"),
        ):
            if row.get(key):
                details.append(f"{row[key]:,} {word}")
        reasons = row.get("reasons") or {}
        if reasons:
            details[-1] += ": " + ", ".join(f"{why} ({n:,})" for why, n in reasons.items())
        parts.append(f"{total:,} {one if total == 1 else many} ({'; '.join(details)})")
    others = {
        name: row.get("skipped", 0)
        for name, row in counts.items()
        if name not in KEPT and row.get("skipped")
    }
    took = f"{seconds:.1f} s"
    files = f"{run.files:,} file{'' if run.files == 1 else 's'}"
    line = f"Read {files} in {took}: " + (", ".join(parts) if parts else "nothing kept")
    if others:
        listed = ", ".join(
            f"{name} {n:,}" for name, n in sorted(others.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        line += f"; {sum(others.values()):,} resources {NOT_KEPT} ({listed})"
    problems = len(run.problems or [])
    yield f"{line}. {problems:,} problem{'' if problems == 1 else 's'}."
    unknown = (counts.get("Immunization") or {}).get("reasons") or {}
    if any(why.endswith(UNKNOWN_VACCINE) for why in unknown):
        yield (
            "Doses of vaccines missing from the vaccine table were skipped: load the CDC codes "
            "with `rxdesk import-cvx FOLDER`, then import again (the rest stays unchanged)."
        )
    for p in (run.problems or [])[:50]:
        where = f" {p['resource']}" if p.get("resource") else ""
        yield f"  {Path(p['file']).name}{where}: {p['message']}"
    if problems > 50:
        yield f"  … and {problems - 50:,} more (ImportRun {run.pk})."
