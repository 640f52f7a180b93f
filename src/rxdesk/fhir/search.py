"""Reading search parameter values the way FHIR R4 defines them
(http://hl7.org/fhir/R4/search.html): tokens ``[system]|[code]``, references ``[Type/]id``,
dates with prefixes (``ge2025-01-01``), strings (starts-with, case-insensitive), and the
paging parameters ``_count`` and ``_offset``. Each helper raises FhirError(400) naming the
parameter for a value it cannot read, so a client learns what to fix."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from rxdesk.fhir.outcome import FhirError

DEFAULT_COUNT = 50
MAX_COUNT = 200
MAX_OFFSET = 1_000_000

_DATE = re.compile(
    r"^(?P<prefix>eq|ne|lt|gt|le|ge|sa|eb|ap)?"
    r"(?P<value>\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?)$"
)


def bad(param: str, message: str) -> FhirError:
    return FhirError(400, f"Search parameter {param}: {message}", code="invalid", expression=param)


def split(values: list[str]) -> list[list[str]]:
    """Each repetition (AND) as its comma list (OR); empty items dropped. A NUL character
    is refused here, before any value reaches the database (PostgreSQL rejects it)."""
    for value in values:
        if "\x00" in value:
            raise bad("value", "a NUL character is not allowed.")
    return [[v for v in value.split(",") if v != ""] for value in values]


def token(param: str, value: str) -> tuple[str | None, str | None]:
    """``system|code`` → (system, code); ``code`` → (None, code); ``|code`` → ("", code);
    ``system|`` → (system, None)."""
    if len(value) > 200:
        raise bad(param, "the value is too long.")
    if "\x00" in value:
        raise bad(param, "a NUL character is not allowed.")
    if "|" in value:
        system, _, code = value.partition("|")
        return system, (code or None)
    return None, value


def reference_id(param: str, value: str, resource_type: str) -> str:
    """``Patient/12``, ``12`` or an absolute URL ending ``/Patient/12`` → ``12``."""
    value = value.strip()
    if "/" in value:
        parts = value.rstrip("/").split("/")
        if len(parts) < 2 or parts[-2] != resource_type:
            raise bad(param, f"expected a reference to a {resource_type}, like {resource_type}/12.")
        value = parts[-1]
    if not value or len(value) > 64 or not re.match(r"^[A-Za-z0-9\-.]{1,64}$", value):
        raise bad(param, "not a resource id.")
    return value


def pk_of(param: str, fhir_id: str) -> int | None:
    """A numeric FHIR id as a primary key (None for one that cannot be ours)."""
    if fhir_id.isascii() and fhir_id.isdigit() and len(fhir_id) <= 12:  # not "²"
        return int(fhir_id)
    return None


@dataclass(frozen=True)
class DateRange:
    """A date search value as the half-open instant range it covers, with its prefix."""

    prefix: str
    low: dt.datetime
    high: dt.datetime  # exclusive


def date_value(param: str, value: str, tz: Any) -> DateRange:
    """Read ``[prefix]YYYY[-MM[-DD[Thh:mm[:ss][zone]]]]``; a value without a zone is read in
    the pharmacy's time zone ``tz``. The range is the value's precision (a day, a month…)."""
    m = _DATE.match(value)
    if not m:
        raise bad(param, f"{value[:40]!r} is not a date; use e.g. ge2025-01-31 or 2025-01.")
    prefix = m.group("prefix") or "eq"
    text = m.group("value")
    try:
        if len(text) == 4:
            low = dt.datetime(int(text), 1, 1, tzinfo=tz)
            high = dt.datetime(int(text) + 1, 1, 1, tzinfo=tz)
        elif len(text) == 7:
            year, month = int(text[:4]), int(text[5:7])
            low = dt.datetime(year, month, 1, tzinfo=tz)
            high = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
        elif len(text) == 10:
            day = dt.date.fromisoformat(text)
            low = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
            high = low + dt.timedelta(days=1)
        else:
            stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if timezone.is_naive(stamp):
                stamp = stamp.replace(tzinfo=tz)
            low = stamp
            high = stamp + dt.timedelta(seconds=1)
    except ValueError:
        raise bad(param, f"{value[:40]!r} is not a real date.") from None
    return DateRange(prefix, low, high)


def date_filter(field: str, param: str, values: list[str], tz: Any, *, is_date: bool) -> Q:
    """A Q for ``field`` (a DateField when ``is_date``, else a DateTimeField) that matches every
    repetition (AND) of any of its comma values (OR)."""
    q = Q()
    for group in split(values):
        alt = Q()
        for value in group:
            r = date_value(param, value, tz)
            low: Any = r.low.date() if is_date else r.low
            high: Any = r.high.date() if is_date else r.high
            if r.prefix in ("eq", "ap"):
                part = Q(**{f"{field}__gte": low, f"{field}__lt": high})
            elif r.prefix == "ne":
                part = ~Q(**{f"{field}__gte": low, f"{field}__lt": high})
            elif r.prefix in ("lt", "eb"):
                part = Q(**{f"{field}__lt": low})
            elif r.prefix in ("gt", "sa"):
                part = Q(**{f"{field}__gte": high})
            elif r.prefix == "le":
                part = Q(**{f"{field}__lt": high})
            else:  # ge
                part = Q(**{f"{field}__gte": low})
            alt |= part
        q &= alt
    return q


def string_filter(fields: list[str], param: str, values: list[str]) -> Q:
    """FHIR string search: starts-with, case-insensitive, on any of ``fields``."""
    q = Q()
    for group in split(values):
        alt = Q()
        for value in group:
            if len(value) > 100:
                raise bad(param, "the value is too long.")
            for f in fields:
                alt |= Q(**{f"{f}__istartswith": value})
        q &= alt
    return q


def paging(params: dict[str, list[str]]) -> tuple[int, int]:
    """``_count`` (default 50, at most 200; 0 = only the total) and ``_offset``."""
    count, offset = DEFAULT_COUNT, 0
    if params.get("_count"):
        raw = params["_count"][-1]
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
            raise bad("_count", "give a whole number from 0 to 200.")
        count = min(int(raw), MAX_COUNT)
    if params.get("_offset"):
        raw = params["_offset"][-1]
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 7 or int(raw) > MAX_OFFSET:
            raise bad("_offset", "give a whole number of results to skip.")
        offset = int(raw)
    return count, offset


def narrow(qs: QuerySet[Any], q: Q) -> QuerySet[Any]:
    return qs.filter(q)
