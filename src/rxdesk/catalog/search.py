"""Type-ahead over the drug catalog, indexed by whichever database is in use.

What is searched: brand (proprietary) name, tall-man name, generic name, active
substances, strength and dosage form (migration 0002 builds the index), and NDCs:

* SQLite: an FTS5 table with external content (``catalog_product_fts``), kept in step by
  triggers on ``catalog_product``, so a bulk import keeps it current with no extra call;
  prefix indexes of 1–4 characters keep 'oxycodone 5' as fast as 'oxycodone'.
* PostgreSQL: a ``search_doc`` tsvector of the same columns, kept by a trigger, under a
  GIN index (prefix queries with ``:*``), and a pg_trgm GIN index over the lower-cased name
  that finds close spellings when nothing matches word by word.

Both backends see the same words: lower case, split at every character that is not a
letter or a digit. Each typed word must begin a word of the product ("ator 40" finds
atorvastatin 40 mg); a typed word with punctuation inside ("0.5", "hcl/apap") must match
as a phrase. Digits and hyphens alone are an NDC prefix and search packages instead
(an index range scan on the 11-digit NDC, whichever 10-digit layout was typed).

Ranking, the same on both: active products first; then the name equal to what was typed,
names beginning with the first word, generic names beginning with it, then the rest;
within a tier by name (byte order). The tiers are read in turn from indexes on
(active, lower(name)) and (active, lower(generic_name)) and the reading stops when the
page is full, so a broad word costs no more than a narrow one. Fewer than three letters
or digits lists nothing.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

MIN_CHARS = 3
MAX_QUERY = 100
MAX_WORDS = 8

# The indexed columns, in the order migration 0002 indexes them.
INDEXED_COLUMNS = (
    "name",
    "tall_man_name",
    "generic_name",
    "substances",
    "strength",
    "dosage_form",
)

FTS_TABLE = "catalog_product_fts"
_WORD = re.compile(r"[^\W_]+")
_NDC_LIKE = re.compile(r"[0-9][0-9 -]*")


@dataclass(frozen=True)
class Terms:
    """What was typed, split the way the index splits a product's text."""

    text: str  # lower case, runs of blanks as one space
    chunks: tuple[tuple[str, ...], ...]  # the words of each blank-separated chunk

    @property
    def first(self) -> str:
        return self.chunks[0][0] if self.chunks else ""

    @property
    def size(self) -> int:
        return sum(len(w) for chunk in self.chunks for w in chunk)


def terms_of(q: str) -> Terms:
    text = " ".join((q or "")[:MAX_QUERY].lower().split())
    chunks = []
    for chunk in text.split(" "):
        words = tuple(_WORD.findall(chunk))
        if words:
            chunks.append(words)
    return Terms(text=text, chunks=tuple(chunks[:MAX_WORDS]))


def is_ndc_like(q: str) -> bool:
    """Digits with hyphens or blanks only: the start of an NDC, searched in packages."""
    return _NDC_LIKE.fullmatch((q or "").strip()) is not None


def fts5_query(terms: Terms, *, anchor: str | None = None) -> str:
    """'ator 40' -> '"ator"* AND "40"*'; '0.5mg' -> '"0 5mg"*' (a phrase, its last word a
    prefix). ``anchor`` "name" or "generic" ties the first chunk to the start of the name
    (or tall-man name) or of the generic name: '{name tall_man_name} : ^"ator"* AND …'.

    The words are letters and digits only, so quoting them keeps FTS5 query syntax out of
    what the user typed."""
    phrases = ['"' + " ".join(chunk) + '"*' for chunk in terms.chunks]
    if anchor == "name":
        phrases[0] = "{name tall_man_name} : ^" + phrases[0]
    elif anchor == "generic":
        phrases[0] = "{generic_name} : ^" + phrases[0]
    return " AND ".join(phrases)


def tsquery(terms: Terms) -> str:
    """The PostgreSQL form: 'ator:* & 40:*'; '0.5mg' -> '0 <-> 5mg:*'."""
    parts = []
    for chunk in terms.chunks:
        parts.append(" <-> ".join([*chunk[:-1], f"{chunk[-1]}:*"]))
    return " & ".join(parts)


# How many of the products matching anywhere (the last tier) are ranked by name. A query
# that broad ('tablet' matches 40,000 products) shows a sample of them, in name order.
REST_SAMPLE = 500
TIERS = ("exact", "name", "generic", "rest")


def _upper_bound(prefix: str) -> str:
    """The least string above every string that starts with ``prefix`` (code point order,
    which is UTF-8 byte order)."""
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # no surrogates in UTF-8: skip to the next block
        following = 0xE000
    if following > 0x10FFFF:
        return prefix + "\U0010ffff"
    return prefix[:-1] + chr(following)


class _Backend(abc.ABC):
    """The SQL of each ranking tier for one database; every tier reads at most ``n`` ids,
    in name order, from products whose ``active`` is as asked."""

    lname = "lower(p.name)"
    lgeneric = "lower(p.generic_name)"

    def __init__(self, conn: BaseDatabaseWrapper) -> None:
        self.conn = conn

    def ids(self, sql: str, params: list[Any]) -> list[int]:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    def tier(self, tier: str, terms: Terms, *, active: bool, n: int) -> list[int]:
        if tier == "exact":
            return self.ids(
                # The SQL is built from constants only; what was typed goes in as parameters.
                f"SELECT p.id FROM catalog_product p WHERE p.active = %s AND {self.lname} = %s "  # noqa: S608
                "ORDER BY p.id LIMIT %s",
                [active, terms.text, n],
            )
        if tier in ("name", "generic"):
            column = self.lname if tier == "name" else self.lgeneric
            first = terms.first
            sql = (
                f"SELECT p.id FROM catalog_product p WHERE p.active = %s "  # noqa: S608
                f"AND {column} >= %s AND {column} < %s"
            )
            params: list[Any] = [active, first, _upper_bound(first)]
            if len(terms.chunks) > 1 or len(terms.chunks[0]) > 1:
                match, match_params = self.match(terms, anchor=tier)
                sql += f" AND {match}"
                params += match_params
            sql += f" ORDER BY {column}, p.id LIMIT %s"
            return self.ids(sql, [*params, n])
        return self.rest(terms, active=active, n=n)

    @abc.abstractmethod
    def rest(self, terms: Terms, *, active: bool, n: int) -> list[int]:
        """The last tier: any other match."""

    @abc.abstractmethod
    def match(self, terms: Terms, *, anchor: str) -> tuple[str, list[Any]]:
        """A condition that every typed word matches, the first at the start of the name or
        generic name (``anchor``)."""


class _Sqlite(_Backend):
    def rest(self, terms: Terms, *, active: bool, n: int) -> list[int]:
        # CROSS JOIN makes SQLite start from the (few hundred) matches rather than walk the
        # name index over every active product looking for them.
        return self.ids(
            f"SELECT p.id FROM (SELECT rowid AS id FROM {FTS_TABLE} "  # noqa: S608
            f"WHERE {FTS_TABLE} MATCH %s LIMIT {REST_SAMPLE}) AS hit "
            "CROSS JOIN catalog_product p ON p.id = hit.id "
            f"WHERE p.active = %s ORDER BY {self.lname}, p.id LIMIT %s",
            [fts5_query(terms), active, n],
        )

    def match(self, terms: Terms, *, anchor: str) -> tuple[str, list[Any]]:
        return (
            f"p.id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s)",  # noqa: S608
            [fts5_query(terms, anchor=anchor)],
        )


class _Postgres(_Backend):
    # Byte order, as SQLite compares (and as the indexes of migration 0002 are built).
    lname = 'lower(p.name) COLLATE "C"'
    lgeneric = 'lower(p.generic_name) COLLATE "C"'

    def rest(self, terms: Terms, *, active: bool, n: int) -> list[int]:
        return self.ids(
            "SELECT p.id FROM (SELECT s.id FROM catalog_product s "  # noqa: S608
            f"WHERE s.search_doc @@ to_tsquery('simple'::regconfig, %s) LIMIT {REST_SAMPLE}) "
            "AS hit JOIN catalog_product p ON p.id = hit.id "
            f"WHERE p.active = %s ORDER BY {self.lname}, p.id LIMIT %s",
            [tsquery(terms), active, n],
        )

    def match(self, terms: Terms, *, anchor: str) -> tuple[str, list[Any]]:
        # The name or generic-name range of the tier already anchors the first word.
        return "p.search_doc @@ to_tsquery('simple'::regconfig, %s)", [tsquery(terms)]


def _backend(conn: BaseDatabaseWrapper) -> _Backend:
    if conn.vendor == "sqlite":
        return _Sqlite(conn)
    if conn.vendor == "postgresql":
        return _Postgres(conn)
    raise NotImplementedError(f"No catalog search index for {conn.vendor}")  # pragma: no cover


def product_ids(terms: Terms, *, limit: int, conn: BaseDatabaseWrapper | None = None) -> list[int]:
    """Ids of the products matching every typed word, best first (see the module doc).

    The ranking is read tier by tier — active before inactive; within each, the name equal
    to what was typed, names beginning with the first word, generic names beginning with
    it, anything else — and stops as soon as ``limit`` ids are in hand, so a word that
    begins 1,600 names ('hyd') reads 25 rows of an index, not 1,600."""
    conn = conn or connection
    if terms.size < MIN_CHARS or not terms.chunks:
        return []
    backend = _backend(conn)
    found: list[int] = []
    seen: set[int] = set()
    for active in (True, False):
        for tier in TIERS:
            if len(found) >= limit:
                return found[:limit]
            # Ask for enough to fill the page even if some were found by an earlier tier.
            for pk in backend.tier(tier, terms, active=active, n=limit - len(found) + len(seen)):
                if pk not in seen:
                    seen.add(pk)
                    found.append(pk)
    if not found and conn.vendor == "postgresql":
        found = _similar_names(terms, limit=limit, conn=conn)
    return found[:limit]


def _similar_names(terms: Terms, *, limit: int, conn: BaseDatabaseWrapper) -> list[int]:
    """Names spelled like what was typed (PostgreSQL's pg_trgm ``<%`` operator, served by
    the trigram index): 'atorvastatn' finds atorvastatin. Used only when no product matched
    word by word; SQLite has no such index, so there a misspelling finds nothing."""
    sql = """
        SELECT p.id FROM catalog_product p
        WHERE %s <%% lower(p.name)
        ORDER BY p.active DESC, word_similarity(%s, lower(p.name)) DESC, lower(p.name), p.id
        LIMIT %s
    """
    with conn.cursor() as cursor:
        cursor.execute(sql, [terms.text, terms.text, limit])
        return [row[0] for row in cursor.fetchall()]


def ndc_prefixes(q: str) -> list[str]:
    """The 11-digit prefixes an NDC typed so far can stand for.

    '0002-32' is labeler 0002 (4 digits, so padded to 00002) then product 32…; '12345-12'
    may be a 3- or a 4-digit product; unhyphenated digits may be 11-digit already or any
    10-digit layout with its padding zero not yet placed."""
    value = "".join((q or "").split())
    digits = value.replace("-", "")
    if len(digits) < MIN_CHARS or not digits.isdigit():
        return []
    out: list[str] = []
    if "-" in value:
        parts = value.split("-")
        out.extend(_hyphenated_prefixes(parts))
    else:
        out.append(digits[:11])
        out.append(("0" + digits)[:11])  # 4-4-2
        if len(digits) > 5:
            out.append((digits[:5] + "0" + digits[5:])[:11])  # 5-3-2
        if len(digits) > 9:
            out.append((digits[:9] + "0" + digits[9:])[:11])  # 5-4-1
    seen: list[str] = []
    for prefix in out:
        if len(prefix) >= MIN_CHARS and prefix not in seen:
            seen.append(prefix)
    return seen


# The 10-digit layouts and the 11-digit one, as segment lengths; the 11-digit form pads
# each short segment with one leading zero.
_LAYOUTS = ((4, 4, 2), (5, 3, 2), (5, 4, 1), (5, 4, 2))
_WIDTHS = (5, 4, 2)


def _hyphenated_prefixes(parts: Sequence[str]) -> list[str]:
    """11-digit prefixes for a hyphenated NDC typed so far, one per layout it fits: the
    finished segments must have the layout's lengths, the one being typed may be shorter."""
    if len(parts) > 3:
        return []
    out = []
    for layout in _LAYOUTS:
        prefix = ""
        for index, part in enumerate(parts):
            length, width = layout[index], _WIDTHS[index]
            last = index == len(parts) - 1
            if len(part) > length or (not last and len(part) != length):
                break
            prefix += ("0" * (width - length)) + part
        else:
            out.append(prefix)
    return out


def package_ids_by_ndc(q: str, *, limit: int, conn: BaseDatabaseWrapper | None = None) -> list[int]:
    """Ids of packages whose 11-digit NDC starts with any reading of what was typed, active
    first, in NDC order (each prefix is a range scan of the unique index on ``ndc11``)."""
    conn = conn or connection
    prefixes = ndc_prefixes(q)
    if not prefixes:
        return []
    clauses = []
    params: list[Any] = []
    for prefix in prefixes:
        upper = _next_prefix(prefix)
        if upper is None:
            clauses.append("ndc11 >= %s")
            params.append(prefix)
        else:
            clauses.append("(ndc11 >= %s AND ndc11 < %s)")
            params += [prefix, upper]
    sql = f"""
        SELECT id FROM catalog_package WHERE {" OR ".join(clauses)}
        ORDER BY active DESC, ndc11 LIMIT %s
    """  # noqa: S608  (the clauses are constants; the values are parameters)
    with conn.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [row[0] for row in cursor.fetchall()]


def _next_prefix(prefix: str) -> str | None:
    """The digit string just above every string starting with ``prefix`` ('0002' -> '0003',
    '0099' -> '0100'), or None for all nines. Digits only, so any collation orders it the
    same way."""
    value = int(prefix) + 1
    if len(str(value)) > len(prefix):
        return None
    return str(value).rjust(len(prefix), "0")


def ensure_index(conn: BaseDatabaseWrapper | None = None) -> list[str]:
    """Put back the SQLite search triggers and indexes that a table rebuild dropped, and
    rebuild the full-text index to match. (Django alters a SQLite table by copying it, which
    loses what it does not know about: a later migration that alters ``catalog_product``
    would otherwise leave search silently stale.) Runs after every ``migrate``; returns the
    names of what it had to recreate."""
    conn = conn or connection
    if conn.vendor != "sqlite":
        return []
    migration = import_module("rxdesk.catalog.migrations.0002_product_search_index")
    objects = [*migration.SQLITE_TRIGGERS, *migration.SQLITE_INDEXES]
    with conn.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger', 'index')")
        present = {row[0] for row in cursor.fetchall()}
        if FTS_TABLE not in present:
            return []  # not migrated yet: migration 0002 builds it all
        missing = [(name, sql) for name, sql in objects if name not in present]
        for _name, sql in missing:
            cursor.execute(sql)
        if any(name.startswith(FTS_TABLE) for name, _ in missing):
            cursor.execute(migration.SQLITE_REBUILD)
    return [name for name, _ in missing]
