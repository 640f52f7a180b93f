"""The drug–drug interaction knowledge base: its CSV format, the import service, the ONC
seeds and the in-memory index the interaction check reads.

CSV format (UTF-8, a header row, one row per rule member)
=========================================================

    kind,id,severity,object_label,precipitant_label,side,term,message,consequence,action

``kind`` ``rule`` (or blank) — one member of an interaction rule:
    ``id``          the rule's id within its source (≤ 40 characters), e.g. ``8`` or ``FDB-1234``;
    ``side``        ``object`` (the drug affected) or ``precipitant`` (the drug causing it);
    ``term``        a generic ingredient name (any case, salts allowed: "Fluoxetine HCl" is
                    read as ``fluoxetine``), or ``class:<key>`` for a class of drugs;
    ``severity``    ``contraindicated``, ``major`` (both interrupt the technician), ``moderate``
                    or ``minor`` (listed only);
    ``object_label``, ``precipitant_label`` what each side is called on screen;
    ``message``     what a technician reads (required), ``consequence`` the clinical effect,
                    ``action`` what to do.
    The rule's fields (severity … action) are read from its first row; later rows of the
    same rule may repeat them (a flat export) or leave them blank, but may not contradict
    them. A rule needs at least one member on each side; rows of a rule need not be adjacent.

``kind`` ``class`` — one member of a class the file defines:
    ``id``          the class key (``qt_prolonging`` or ``class:qt_prolonging``; lower-case
                    letters, digits, ``_`` and ``-``);
    ``term``        a generic ingredient name; the other columns stay blank.
    A rule member ``class:<key>`` matches a drug whose ingredient is a member of that class in
    the same file, and also a drug that rxdesk itself classes as ``<key>`` (``Drug.classes``:
    ``maoi``, ``ssri``, ``nsaid``, …), so a knowledge base may rely on rxdesk's classes
    without listing members.

Lines whose first cell starts with ``#`` are comments. Blank lines are skipped.

Importing (:func:`kb_import`) replaces every rule of one source at once: a file with a bad
line is refused whole, every bad line named by its number, and nothing changes. The
rxdesk seeds are the ONC lists converted once (:func:`onc_high_priority_csv`,
:func:`onc_non_interruptive_csv`) into ``data/onc_*.csv`` inside this package; the running
app never reads ../shared. :func:`kb_seed` loads them, :func:`ensure_seeded` does it the
first time the engine finds no source at all.

The index (:func:`load_index`) holds every active rule of every active source as
term -> ((rule, side), …), so a check costs one dictionary look-up per ingredient and class
of each drug — O(profile size), whatever the size of the knowledge base."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from rxdesk.core import context
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import User
from rxdesk.core.services import authorize, site_default
from rxdesk.screening.names import clean, ingredient_name
from rxdesk.screening.types import Severity

register_actions({"screening.kb.imported": "Interaction knowledge base imported"})

COLUMNS = (
    "kind",
    "id",
    "severity",
    "object_label",
    "precipitant_label",
    "side",
    "term",
    "message",
    "consequence",
    "action",
)
RULE_FIELDS = ("severity", "object_label", "precipitant_label", "message", "consequence", "action")
OBJECT = "object"
PRECIPITANT = "precipitant"
SIDES = (OBJECT, PRECIPITANT)
OTHER_SIDE = {OBJECT: PRECIPITANT, PRECIPITANT: OBJECT}
CLASS_PREFIX = "class:"
_KEY = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_SOURCE_KEY = re.compile(r"^[-a-zA-Z0-9_]+$")
# Column sizes of InteractionRule / InteractionMember / KnowledgeSource.
MAX = {
    "id": 40,
    "object_label": 200,
    "precipitant_label": 200,
    "message": 500,
    "consequence": 500,
    "action": 500,
    "term": 120,
}
MAX_PROBLEMS_SHOWN = 25
SEVERITY_VALUES = frozenset(s.value for s in Severity)
# Other processes notice an import within this many seconds (one cheap query at most).
RECHECK_SECONDS = 10.0


# --- Parsing ----------------------------------------------------------------------------------


@dataclass
class RuleSpec:
    """One rule as read from a file (members already normalised, classes not yet expanded)."""

    rule_id: str
    line: int
    severity: str = ""
    object_label: str = ""
    precipitant_label: str = ""
    message: str = ""
    consequence: str = ""
    action: str = ""
    members: dict[str, list[str]] = field(default_factory=lambda: {OBJECT: [], PRECIPITANT: []})

    def expanded(self, classes: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
        """Members per side with each file-defined class followed by its ingredients."""
        out: dict[str, list[str]] = {}
        for side, terms in self.members.items():
            seen: list[str] = []
            for term in terms:
                for t in (term, *classes.get(term, ())):
                    if t not in seen:
                        seen.append(t)
            out[side] = seen
        return out


@dataclass
class ParsedKB:
    rules: list[RuleSpec]
    classes: dict[str, list[str]]  # "class:<key>" -> ingredient names


def normalize_term(raw: str) -> str:
    """``class:<key>`` lower-cased, or the generic base name of an ingredient."""
    text = clean(raw)
    if text.startswith(CLASS_PREFIX):
        return CLASS_PREFIX + text[len(CLASS_PREFIX) :].strip()
    return ingredient_name(raw)


def _class_key(raw: str) -> str:
    text = clean(raw)
    if text.startswith(CLASS_PREFIX):
        text = text[len(CLASS_PREFIX) :].strip()
    return text


def parse_kb(csv_text: str) -> ParsedKB:
    """Read a knowledge-base CSV (format in the module doc). Raises :class:`Invalid` naming
    every bad line (field ``csv_text``) when anything is wrong."""
    problems: list[str] = []
    rules: dict[str, RuleSpec] = {}
    classes: dict[str, list[str]] = {}
    text = csv_text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip().lower() for c in row]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise Invalid(
                    f"line {line}: the header lacks {', '.join(missing)}; expected "
                    f"{','.join(COLUMNS)}. Nothing was changed.",
                    field="csv_text",
                )
            continue
        cells = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        kind = cells["kind"].lower() or "rule"
        if kind == "class":
            _read_class(line, cells, classes, problems)
        elif kind == "rule":
            _read_member(line, cells, rules, problems)
        else:
            problems.append(f"line {line}: kind must be rule or class, not {cells['kind']!r}")
    if header is None:
        raise Invalid("The file is empty; nothing was changed.", field="csv_text")
    for spec in rules.values():
        for side in SIDES:
            if not spec.members[side]:
                problems.append(f"line {spec.line}: rule {spec.rule_id} has no {side} member")
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        message = "The file was refused; nothing was changed. " + "; ".join(shown)
        if more:
            message += f"; and {more} more"
        raise Invalid(
            message,
            field="csv_text",
            errors=[{"field": "csv_text", "message": p} for p in problems],
        )
    if not rules:
        raise Invalid("The file holds no rule; nothing was changed.", field="csv_text")
    return ParsedKB(rules=list(rules.values()), classes=classes)


def _read_class(
    line: int, cells: dict[str, str], classes: dict[str, list[str]], problems: list[str]
) -> None:
    key = _class_key(cells["id"])
    if not _KEY.match(key):
        problems.append(
            f"line {line}: class key {cells['id']!r} must be lower-case letters, digits"
        )
        return
    term = cells["term"]
    if not term:
        problems.append(f"line {line}: class {key} member has no term")
        return
    if clean(term).startswith(CLASS_PREFIX):
        problems.append(f"line {line}: a class member must be an ingredient, not {term!r}")
        return
    name = ingredient_name(term)
    if len(name) > MAX["term"]:
        problems.append(f"line {line}: term longer than {MAX['term']} characters")
        return
    members = classes.setdefault(CLASS_PREFIX + key, [])
    if name not in members:
        members.append(name)


def _read_member(
    line: int, cells: dict[str, str], rules: dict[str, RuleSpec], problems: list[str]
) -> None:
    rule_id = cells["id"]
    if not rule_id:
        problems.append(f"line {line}: id (the rule id) is empty")
        return
    if len(rule_id) > MAX["id"]:
        problems.append(f"line {line}: rule id longer than {MAX['id']} characters")
        return
    side = cells["side"].lower()
    if side not in SIDES:
        problems.append(f"line {line}: side must be object or precipitant, not {cells['side']!r}")
        return
    raw_term = cells["term"]
    term = normalize_term(raw_term) if raw_term else ""
    if not term or term == CLASS_PREFIX:
        problems.append(f"line {line}: term is empty")
        return
    if term.startswith(CLASS_PREFIX) and not _KEY.match(term[len(CLASS_PREFIX) :]):
        problems.append(
            f"line {line}: class key in {raw_term!r} must be lower-case letters, digits"
        )
        return
    if len(term) > MAX["term"]:
        problems.append(f"line {line}: term longer than {MAX['term']} characters")
        return
    spec = rules.get(rule_id)
    if spec is None:
        spec = RuleSpec(rule_id=rule_id, line=line)
        severity = cells["severity"].lower()
        if severity not in SEVERITY_VALUES:
            problems.append(
                f"line {line}: severity must be contraindicated, major, moderate or minor, "
                f"not {cells['severity']!r}"
            )
            return
        if not cells["message"]:
            problems.append(f"line {line}: rule {rule_id} has no message")
            return
        for name in RULE_FIELDS:
            value = severity if name == "severity" else cells[name]
            if name in MAX and len(value) > MAX[name]:
                problems.append(f"line {line}: {name} longer than {MAX[name]} characters")
                return
            setattr(spec, name, value)
        rules[rule_id] = spec
    else:
        for name in RULE_FIELDS:
            value = cells[name].lower() if name == "severity" else cells[name]
            if value and value != getattr(spec, name):
                problems.append(
                    f"line {line}: {name} of rule {rule_id} differs from line {spec.line}"
                )
                return
    if term not in spec.members[side]:
        spec.members[side].append(term)


def write_kb(
    rules: Iterable[RuleSpec], classes: Mapping[str, Sequence[str]], *, comments: Sequence[str] = ()
) -> str:
    """The CSV text of ``rules`` and ``classes`` (rule fields on each rule's first row)."""
    out = io.StringIO()
    for comment in comments:
        out.write(f"# {comment}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for key, members in classes.items():
        for term in members:
            writer.writerow(["class", key, "", "", "", "", term, "", "", ""])
    for spec in rules:
        first = True
        for side in SIDES:
            for term in spec.members[side]:
                fields = [getattr(spec, f) for f in RULE_FIELDS] if first else [""] * 6
                sev, olabel, plabel, msg, cons, act = fields
                writer.writerow(
                    ["rule", spec.rule_id, sev, olabel, plabel, side, term, msg, cons, act]
                )
                first = False
    return out.getvalue()


# --- The index --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Rule:
    """One loaded rule as the check sees it (compared by identity: one object per rule)."""

    source_key: str
    source: str  # named on the alert: the source's name and citation
    rule_id: str
    severity: Severity
    object_label: str
    precipitant_label: str
    message: str
    consequence: str
    action: str

    @property
    def ref(self) -> str:
        """``source:rule``, as the override report groups alerts."""
        return f"{self.source_key}:{self.rule_id}"


@dataclass(frozen=True)
class InteractionIndex:
    """term (ingredient name or ``class:<key>``) -> the rules and sides it is a member of."""

    by_term: Mapping[str, tuple[tuple[Rule, str], ...]]
    rules: int = 0

    def get(self, term: str) -> tuple[tuple[Rule, str], ...]:
        return self.by_term.get(term, ())

    @classmethod
    def build(cls, members: Iterable[tuple[Rule, str, str]]) -> InteractionIndex:
        """From (rule, side, term) triples; a term on both sides of a rule is kept twice."""
        table: dict[str, list[tuple[Rule, str]]] = {}
        rules: set[int] = set()
        for rule, side, term in members:
            entry = (rule, side)
            bucket = table.setdefault(term, [])
            if entry not in bucket:
                bucket.append(entry)
            rules.add(id(rule))
        return cls(by_term={t: tuple(v) for t, v in table.items()}, rules=len(rules))


def source_label(name: str, citation: str) -> str:
    """How an alert names its source (fits FillAlert.source, 200 characters)."""
    text = f"{name} — {citation}" if citation else name
    return text if len(text) <= 200 else text[:199] + "…"


def index_from_csv(
    csv_text: str, *, source_key: str = "file", name: str = "", citation: str = ""
) -> InteractionIndex:
    """An index straight from a CSV text, without the database (tests, benchmarks)."""
    parsed = parse_kb(csv_text)
    label = source_label(name or source_key, citation)
    triples: list[tuple[Rule, str, str]] = []
    for spec in parsed.rules:
        rule = _rule(source_key, label, spec)
        for side, terms in spec.expanded(parsed.classes).items():
            triples.extend((rule, side, t) for t in terms)
    return InteractionIndex.build(triples)


def _rule(source_key: str, label: str, spec: Any) -> Rule:
    return Rule(
        source_key=source_key,
        source=label,
        rule_id=spec.rule_id,
        severity=Severity(spec.severity),
        object_label=spec.object_label,
        precipitant_label=spec.precipitant_label,
        message=spec.message,
        consequence=spec.consequence,
        action=spec.action,
    )


@dataclass
class _Cache:
    version: int
    fingerprint: tuple[Any, ...]
    index: InteractionIndex
    checked: float


_lock = threading.Lock()
_version = 0
_cache: _Cache | None = None


def invalidate_index() -> None:
    """Forget the cached index in this process (kb_import calls it, now and on commit)."""
    global _version
    _version += 1


def _fingerprint() -> tuple[Any, ...]:
    from rxdesk.screening.models import InteractionRule, KnowledgeSource

    sources = KnowledgeSource.objects.aggregate(
        last=Max("imported_at"), n=Count("id"), on=Count("id", filter=Q(active=True))
    )
    rules = InteractionRule.objects.aggregate(on=Count("id", filter=Q(active=True)))
    return (sources["last"], sources["n"], sources["on"], rules["on"])


def _build_from_db() -> InteractionIndex:
    from rxdesk.screening.models import InteractionMember, InteractionRule

    rules: dict[int, Rule] = {}
    for row in InteractionRule.objects.filter(active=True, source__active=True).values(
        "pk",
        "rule_id",
        "severity",
        "object_label",
        "precipitant_label",
        "message",
        "consequence",
        "action",
        "source__key",
        "source__name",
        "source__citation",
    ):
        rules[row["pk"]] = Rule(
            source_key=row["source__key"],
            source=source_label(row["source__name"], row["source__citation"]),
            rule_id=row["rule_id"],
            severity=Severity(row["severity"]),
            object_label=row["object_label"],
            precipitant_label=row["precipitant_label"],
            message=row["message"],
            consequence=row["consequence"],
            action=row["action"],
        )
    members = InteractionMember.objects.filter(rule_id__in=list(rules)).values_list(
        "rule_id", "side", "term"
    )
    return InteractionIndex.build((rules[r], side, term) for r, side, term in members)


def load_index() -> InteractionIndex:
    """Every active rule of every active source, cached in this process. Rebuilt after an
    import here (the version counter) and, within RECHECK_SECONDS, after one elsewhere (the
    sources' latest import time, counts and active flags)."""
    global _cache
    with _lock:
        now = time.monotonic()
        cached = _cache
        if cached is not None and cached.version == _version:
            if now - cached.checked < RECHECK_SECONDS:
                return cached.index
            fingerprint = _fingerprint()
            if fingerprint == cached.fingerprint:
                cached.checked = now
                return cached.index
        version = _version
        fingerprint = _fingerprint()
        index = _build_from_db()
        _cache = _Cache(version=version, fingerprint=fingerprint, index=index, checked=now)
        return index


# --- Import service ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What one import did. ``replaced`` counts the source's rules before the import."""

    source_key: str
    created: bool
    rules: int
    members: int
    classes: int
    replaced: int
    skipped: bool = False


def kb_import(
    *,
    actor: User | None,
    source_key: str,
    name: str,
    csv_text: str,
    citation: str = "",
    license: str = "",
    version: str = "",
) -> ImportResult:
    """Replace every rule of the knowledge source ``source_key`` by those of ``csv_text``
    (format: module doc), creating the source if new. All or nothing: a bad line refuses
    the whole file, naming each bad line. Needs ``catalog.import`` (pharmacist-in-charge,
    admin); the operator at the shell and the system seed act as ``actor=None``. A source
    switched off stays off when re-imported (``active`` is the pharmacy's decision)."""
    from rxdesk.screening.models import InteractionMember, InteractionRule, KnowledgeSource

    authorize(actor, Cap.CATALOG_IMPORT)
    errors = []
    if not _SOURCE_KEY.match(source_key or "") or len(source_key) > 40:
        errors.append({"field": "source_key", "message": "Use up to 40 letters, digits, - or _."})
    for fname, value, limit in (
        ("name", name, 200),
        ("citation", citation, 500),
        ("license", license, 200),
        ("version", version, 40),
    ):
        if len(value) > limit:
            errors.append({"field": fname, "message": f"At most {limit} characters."})
    if not name.strip():
        errors.append({"field": "name", "message": "Name the knowledge source."})
    if errors:
        raise Invalid(errors=errors)
    parsed = parse_kb(csv_text)
    with transaction.atomic():
        source, created = KnowledgeSource.objects.get_or_create(
            key=source_key,
            defaults={"name": name, "citation": citation, "license": license, "version": version},
        )
        replaced = source.rules.count()
        source.rules.all().delete()
        source.name, source.citation, source.license, source.version = (
            name,
            citation,
            license,
            version,
        )
        source.imported_at = timezone.now()
        source.save()
        rule_rows = InteractionRule.objects.bulk_create(
            [
                InteractionRule(
                    source=source,
                    rule_id=spec.rule_id,
                    severity=spec.severity,
                    object_label=spec.object_label,
                    precipitant_label=spec.precipitant_label,
                    message=spec.message,
                    consequence=spec.consequence,
                    action=spec.action,
                )
                for spec in parsed.rules
            ]
        )
        members = [
            InteractionMember(rule=row, side=side, term=term)
            for row, spec in zip(rule_rows, parsed.rules, strict=True)
            for side, terms in spec.expanded(parsed.classes).items()
            for term in terms
        ]
        InteractionMember.objects.bulk_create(members, batch_size=500)
        result = ImportResult(
            source_key=source_key,
            created=created,
            rules=len(rule_rows),
            members=len(members),
            classes=len(parsed.classes),
            replaced=replaced,
        )
        site = actor.site if actor is not None else site_default()
        if site is not None:  # no site yet (a fresh install): nothing to chain to
            audit_record(
                actor=actor,
                site=site,
                action="screening.kb.imported",
                obj=source,
                data={
                    "source": source_key,
                    "version": version,
                    "rules": result.rules,
                    "members": result.members,
                    "classes": result.classes,
                    "replaced": replaced,
                },
            )
        invalidate_index()
        transaction.on_commit(invalidate_index)
    return result


# --- The shipped seeds ------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    key: str
    filename: str
    name: str
    citation: str
    license: str
    year: str


ONC_LICENSE = "Published facts (expert-panel list); cite the paper"
SEEDS = (
    Seed(
        key="onc-high-priority",
        filename="onc_high_priority.csv",
        name="ONC High-Priority DDI list (Phansalkar 2012)",
        citation="Phansalkar S et al. JAMIA 2012;19(5):735-743. doi:10.1136/amiajnl-2011-000612",
        license=ONC_LICENSE,
        year="2012",
    ),
    Seed(
        key="onc-non-interruptive",
        filename="onc_non_interruptive.csv",
        name="ONC non-interruptive DDI list (Phansalkar 2013)",
        citation="Phansalkar S et al. JAMIA 2013;20(3):489-493. doi:10.1136/amiajnl-2012-001089",
        license=ONC_LICENSE,
        year="2013",
    ),
    Seed(
        key="rxdesk-labeling",
        filename="labeling_interactions.csv",
        name="rxdesk curated interactions (FDA labeling)",
        citation="US prescribing information of each drug; frequently cited serious pairs "
        "(reference: clinical-screening.md §1.3)",
        license="Public facts from FDA-approved labeling, written for rxdesk",
        year="2026",
    ),
)


def seed_text(seed: Seed) -> str:
    return resources.files("rxdesk.screening").joinpath("data", seed.filename).read_text("utf-8")


def seed_version(seed: Seed, text: str) -> str:
    """The year of the list and a digest of the shipped file: a changed file re-imports."""
    return f"{seed.year}+{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def kb_seed(*, actor: User | None = None) -> list[ImportResult]:
    """Import the shipped ONC lists. Idempotent: a source already holding this very file
    (same version) is left alone and reported as skipped."""
    from rxdesk.screening.models import KnowledgeSource

    results = []
    for seed in SEEDS:
        text = seed_text(seed)
        version = seed_version(seed, text)
        held = KnowledgeSource.objects.filter(key=seed.key, version=version).first()
        if held is not None:
            results.append(
                ImportResult(
                    source_key=seed.key,
                    created=False,
                    rules=held.rules.count(),
                    members=0,
                    classes=0,
                    replaced=0,
                    skipped=True,
                )
            )
            continue
        results.append(
            kb_import(
                actor=actor,
                source_key=seed.key,
                name=seed.name,
                csv_text=text,
                citation=seed.citation,
                license=seed.license,
                version=version,
            )
        )
    return results


def ensure_seeded() -> bool:
    """Seed the ONC lists when no knowledge source exists at all (a fresh install); the
    engine calls it before its first check. True when it seeded. A pharmacy that loaded its
    own knowledge base (or switched the seeds off) is never re-seeded."""
    from rxdesk.screening.models import KnowledgeSource

    if KnowledgeSource.objects.exists():
        return False
    info = context.RequestInfo(
        request_id=context.current().request_id or context.new_request_id(),
        client_addr="system",
        channel="system",
    )
    try:
        with context.using(info):
            kb_seed(actor=None)
    except IntegrityError:  # another worker seeded at the same moment
        return False
    return True


# --- Converting the ONC files (run once; the tests re-derive the shipped files) ---------------

# The source files' misspellings and mapping slips, fixed to US generic names. An empty
# tuple drops the row (with the reason). Keys are the cleaned (lower-case) file text.
CORRECTIONS: dict[str, tuple[str, ...]] = {
    "lisdexamefetamine": ("lisdexamfetamine",),
    "esmoprazole": ("esomeprazole",),
    "voreconazole": ("voriconazole",),
    "demecariuim": ("demecarium",),
    "glibenclamide": ("glyburide",),  # INN; US name
    "iron-dextran": ("iron dextran",),
    "iron sucrose complex": ("iron sucrose",),
    "thyroid usp": ("thyroid",),
    "zoledronate": ("zoledronic acid",),
    "aminosalicylate": ("aminosalicylic acid",),
    # "Vitamin B12 (cobalamin)": the forms US products carry.
    "cobalamin": ("cyanocobalamin", "hydroxocobalamin"),
    # FDA lists this salt under both names.
    "tricalcium phosphate": ("tricalcium phosphate", "tribasic calcium phosphate"),
    # High-priority rule 23 (protease inhibitors + strong CYP3A4 inducers): "NSAID" sits in
    # the protease-inhibitor column, a slip of the source table; not an ONC pair.
    "nsaid": (),
    # Non-interruptive rule 1 and 29 "Salicylates": methacholine (a cholinergic) and
    # niclosamide (a salicylanilide anthelmintic) are DrugBank mapping slips, not salicylates.
    "methacholine": (),
    "niclosamide": (),
}

# Rules whose object and precipitant the file gives the other way round from the paper
# (reference §1.1): azathioprine/mercaptopurine are the object of febuxostat, procarbazine
# the object of tranylcypromine. The check matches either order; the labels follow the paper.
SWAPPED = frozenset({"6", "30"})

# QT-prolonging agents (high-priority rule 21): the file lists no members. These are the
# ones reference §1.1 names; the paper's exact list is (unverified) there and a maintained
# source (CredibleMeds "known risk of TdP") should replace it. "Azoles" are named by the
# reference without members, so none are listed; haloperidol is a risk mainly IV but the
# knowledge base cannot tell routes, so it is listed.
QT_PROLONGING = (
    "quinidine",
    "procainamide",
    "disopyramide",
    "amiodarone",
    "dronedarone",
    "sotalol",
    "dofetilide",
    "ibutilide",
    "arsenic trioxide",
    "pimozide",
    "thioridazine",
    "mesoridazine",
    "haloperidol",
    "droperidol",
    "chlorpromazine",
    "ziprasidone",
    "methadone",
    "erythromycin",
    "clarithromycin",
    "levofloxacin",
    "moxifloxacin",
    "pentamidine",
    "chloroquine",
    "halofantrine",
    "dolasetron",
    "citalopram",
)

_REVIEW = "Stop: the pharmacist must review this before it is filled and call the prescriber"

# The 15 ONC high-priority rules, by the file's rule number: labels as in the paper, and
# what the technician reads. Consequences from reference §1.1. The panel judged every pair
# "effectively contraindicated for concurrent use" and asked that every one interrupt;
# QT + QT is "major" here because its membership is unverified (it interrupts all the same).
HIGH_PRIORITY: dict[str, tuple[str, str, str, str, str, str]] = {
    # number: (severity, object label, precipitant label, message, consequence, action)
    "3": (
        "contraindicated",
        "Amphetamine derivatives / sympathomimetic stimulants",
        "MAO inhibitors",
        "Stimulant with an MAO inhibitor: do not combine.",
        "Hypertensive crisis; serotonin/adrenergic toxicity.",
        _REVIEW + " about stopping one of them.",
    ),
    "4": (
        "contraindicated",
        "Atazanavir",
        "Proton pump inhibitors",
        "Atazanavir (HIV) with a proton pump inhibitor: atazanavir stops working.",
        "The PPI raises gastric pH, so atazanavir absorption falls: loss of HIV control and "
        "resistance.",
        _REVIEW + " about the acid reducer.",
    ),
    "6": (
        "contraindicated",
        "Azathioprine, mercaptopurine",
        "Febuxostat",
        "Azathioprine or mercaptopurine with febuxostat: do not combine.",
        "Xanthine-oxidase inhibition makes the thiopurine accumulate: severe myelosuppression.",
        _REVIEW + ".",
    ),
    "8": (
        "contraindicated",
        "SSRIs and other serotonergic antidepressants",
        "MAO inhibitors",
        "Serotonergic antidepressant with an MAO inhibitor: do not combine.",
        "Serotonin syndrome (potentially fatal).",
        _REVIEW + " about stopping one of them.",
    ),
    "11": (
        "contraindicated",
        "Irinotecan",
        "Strong CYP3A4 inhibitors / protease inhibitors",
        "Irinotecan (chemotherapy) with a strong CYP3A4 inhibitor.",
        "More SN-38 (irinotecan's active form): severe neutropenia and diarrhoea.",
        _REVIEW + " and the oncology team.",
    ),
    "16": (
        "contraindicated",
        "Narcotic analgesics (serotonergic opioids, dextromethorphan)",
        "MAO inhibitors",
        "Opioid or dextromethorphan with an MAO inhibitor: do not combine.",
        "Serotonin syndrome, CNS excitation or depression, hyperpyrexia, death.",
        _REVIEW + " about another pain or cough medicine.",
    ),
    "20": (
        "contraindicated",
        "Tricyclic antidepressants",
        "MAO inhibitors",
        "Tricyclic antidepressant with an MAO inhibitor: do not combine.",
        "Hypertensive crisis / serotonin toxicity.",
        _REVIEW + " about stopping one of them.",
    ),
    "21": (
        "major",
        "QT-prolonging agents",
        "QT-prolonging agents",
        "Two drugs that prolong the QT interval.",
        "Additive QTc prolongation: torsades de pointes, sudden death.",
        "The pharmacist must review this before it is filled (risk factors, ECG, an "
        "alternative) and call the prescriber if needed.",
    ),
    "22": (
        "contraindicated",
        "Ramelteon",
        "CYP1A2 inhibitors",
        "Ramelteon (sleep) with a CYP1A2 inhibitor such as fluvoxamine: do not combine.",
        "Large rise in ramelteon exposure (label: do not combine with fluvoxamine).",
        _REVIEW + " about another sleep medicine.",
    ),
    "23": (
        "contraindicated",
        "HIV protease inhibitors",
        "Strong CYP3A4 inducers",
        "HIV protease inhibitor with a strong enzyme inducer: the HIV drug stops working.",
        "Loss of antiretroviral effect, resistance.",
        _REVIEW + " and the HIV clinic.",
    ),
    "25": (
        "contraindicated",
        "Simvastatin, lovastatin",
        "Strong CYP3A4 inhibitors / protease inhibitors",
        "Simvastatin or lovastatin with a strong CYP3A4 inhibitor: do not combine.",
        "Statin builds up: myopathy, rhabdomyolysis.",
        _REVIEW + " about holding or changing the statin.",
    ),
    "27": (
        "contraindicated",
        "Ergot alkaloids",
        "Strong CYP3A4 inhibitors / protease inhibitors",
        "Ergot drug with a strong CYP3A4 inhibitor: do not combine.",
        "Ergotism: vasospasm, limb or organ ischaemia.",
        _REVIEW + ".",
    ),
    "28": (
        "contraindicated",
        "Tizanidine",
        "CYP1A2 inhibitors",
        "Tizanidine with a CYP1A2 inhibitor (e.g. ciprofloxacin, fluvoxamine): do not combine.",
        "Several-fold more tizanidine: low blood pressure, slow heart rate, heavy sedation.",
        _REVIEW + ".",
    ),
    "30": (
        "contraindicated",
        "Procarbazine",
        "Tranylcypromine",
        "Procarbazine with tranylcypromine (both MAO inhibitors): do not combine.",
        "Hypertensive crisis.",
        _REVIEW + ".",
    ),
    "31": (
        "contraindicated",
        "Triptans",
        "MAO inhibitors",
        "Triptan (migraine) with an MAO inhibitor: do not combine.",
        "More triptan in the blood / serotonin toxicity.",
        _REVIEW + " about another migraine medicine.",
    ),
}

NON_INTERRUPTIVE_CONSEQUENCE = (
    "Judged low priority by the ONC expert panel: usually managed by monitoring or by "
    "separating doses; not worth interrupting the fill."
)
NON_INTERRUPTIVE_ACTION = "No stop needed; the pharmacist may review it on the profile."


@dataclass
class OncRule:
    """A rule as the ONC file states it: raw member names per side, class labels."""

    number: str
    object_class: str = ""
    precipitant_class: str = ""
    objects: list[str] = field(default_factory=list)
    precipitants: list[str] = field(default_factory=list)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def parse_onc_high_priority(text: str) -> list[OncRule]:
    """The high-priority file: a rule number (``3.0``) on a rule's first row, member rows
    below it with a blank number, blank rows between rules; columns #, Object Class, Object
    Drug, Precipitant Class, Precipitant Drug (sub-class labels may change mid-rule)."""
    rules: list[OncRule] = []
    current: OncRule | None = None
    for row in _rows(text)[1:]:
        cells = [*(c.strip() for c in row), "", "", "", "", ""][:5]
        number, ocls, odrug, pcls, pdrug = cells
        if number:
            current = OncRule(number=str(int(float(number))))
            rules.append(current)
        if current is None or not any(cells):
            continue
        if ocls and not current.object_class:
            current.object_class = _one_line(ocls)
        if pcls and not current.precipitant_class:
            current.precipitant_class = _one_line(pcls)
        if odrug:
            current.objects.append(odrug)
        if pdrug:
            current.precipitants.append(pdrug)
    return rules


def parse_onc_non_interruptive(text: str) -> list[OncRule]:
    """The non-interruptive file: ID, Object_Class, Object_Drug, Obj_DrugbankID,
    Preciptiant_Class, Precipitant_Drug, Pre_DrugbankID; the id is on every member row; a
    class named without members is itself the drug (e.g. "Niacin", "Vitamin E")."""
    rules: dict[str, OncRule] = {}
    for row in _rows(text)[1:]:
        cells = [*(c.strip() for c in row), *[""] * 7][:7]
        number, ocls, odrug, _, pcls, pdrug, _ = cells
        if not number:
            continue
        rule = rules.setdefault(number, OncRule(number=number))
        if ocls and not rule.object_class:
            rule.object_class = _one_line(ocls)
        if pcls and not rule.precipitant_class:
            rule.precipitant_class = _one_line(pcls)
        if odrug:
            rule.objects.append(odrug)
        if pdrug:
            rule.precipitants.append(pdrug)
    for rule in rules.values():
        if not rule.objects and rule.object_class:
            rule.objects.append(rule.object_class)
        if not rule.precipitants and rule.precipitant_class:
            rule.precipitants.append(rule.precipitant_class)
    return list(rules.values())


def corrected(raw: str) -> tuple[str, ...]:
    """A file's drug name as generic base names, through :data:`CORRECTIONS`."""
    key = clean(raw)
    names = CORRECTIONS.get(key, (key,))
    return tuple(ingredient_name(n) for n in names)


def _members(raws: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in raws:
        for name in corrected(raw):
            if name not in out:
                out.append(name)
    return out


def _label(text: str) -> str:
    text = _one_line(text).replace("β-", "Beta-")
    return text[:1].upper() + text[1:]


ONC_SOURCE_NOTE = (
    "converted by rxdesk.screening.kb from dbmi-pitt/public-PDDI-analysis "
    "(PDDI-Datasets, commit 8199ee66b60bcb337f777889a210dd0d72a96e8f); names corrected "
    "by kb.CORRECTIONS. Do not edit by hand: tests re-derive this file."
)


def onc_high_priority_csv(text: str) -> str:
    """The ONC high-priority file in rxdesk's CSV format (see module doc)."""
    specs: list[RuleSpec] = []
    classes: dict[str, list[str]] = {}
    for onc in parse_onc_high_priority(text):
        severity, olabel, plabel, message, consequence, action = HIGH_PRIORITY[onc.number]
        spec = RuleSpec(
            rule_id=onc.number,
            line=0,
            severity=severity,
            object_label=olabel,
            precipitant_label=plabel,
            message=message,
            consequence=consequence,
            action=action,
        )
        objects, precipitants = _members(onc.objects), _members(onc.precipitants)
        if onc.number in SWAPPED:
            objects, precipitants = precipitants, objects
        if not objects and not precipitants:  # QT + QT: a class on both sides
            key = CLASS_PREFIX + "qt_prolonging"
            classes[key] = list(QT_PROLONGING)
            objects, precipitants = [key], [key]
        spec.members = {OBJECT: objects, PRECIPITANT: precipitants}
        specs.append(spec)
    seed = SEEDS[0]
    return write_kb(specs, classes, comments=[f"{seed.name}: {seed.citation}", ONC_SOURCE_NOTE])


def onc_non_interruptive_csv(text: str) -> str:
    """The ONC non-interruptive file in rxdesk's CSV format: every rule ``minor``."""
    specs: list[RuleSpec] = []
    for onc in parse_onc_non_interruptive(text):
        objects, precipitants = _members(onc.objects), _members(onc.precipitants)
        olabel = _label(onc.object_class or onc.objects[0])
        plabel = _label(onc.precipitant_class or onc.precipitants[0])
        specs.append(
            RuleSpec(
                rule_id=onc.number,
                line=0,
                severity="minor",
                object_label=olabel,
                precipitant_label=plabel,
                message=f"{olabel} with {plabel}: low-priority interaction, listed only.",
                consequence=NON_INTERRUPTIVE_CONSEQUENCE,
                action=NON_INTERRUPTIVE_ACTION,
                members={OBJECT: objects, PRECIPITANT: precipitants},
            )
        )
    seed = SEEDS[1]
    return write_kb(specs, {}, comments=[f"{seed.name}: {seed.citation}", ONC_SOURCE_NOTE])


def convert_onc(folder: str | Path) -> dict[str, str]:
    """Both shipped seed files, re-derived from the ONC folder (../shared/data/ddi-onc)."""
    base = Path(folder)
    hp = (base / "onc_high_priority_list.csv").read_text("utf-8")
    ni = (base / "onc_non_interruptive_list.csv").read_text("utf-8")
    return {
        SEEDS[0].filename: onc_high_priority_csv(hp),
        SEEDS[1].filename: onc_non_interruptive_csv(ni),
    }
