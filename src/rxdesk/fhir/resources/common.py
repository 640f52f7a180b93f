"""Small builders shared by the resource modules: codings, references, quantities, names,
addresses and instants, written the same way everywhere. Empty values are left out (FHIR
forbids empty strings, arrays and objects)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rxdesk.fhir import codes


def clean(value: Any) -> Any:
    """Drop None, "", [] and {} recursively (FHIR: no empty elements)."""
    if isinstance(value, dict):
        out = {k: clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        items = [clean(v) for v in value]
        return [v for v in items if v not in (None, "", [], {})]
    return value


def meta(resource_type: str, last_updated: dt.datetime | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    profile = codes.PROFILE.get(resource_type)
    if profile:
        out["profile"] = [profile]
    if last_updated is not None:
        out["lastUpdated"] = instant(last_updated)
    return out


def coding(system: str, code: str | None, display: str | None = None) -> dict[str, Any] | None:
    if not code:
        return None
    return clean({"system": system, "code": code, "display": display})


def concept(*codings: dict[str, Any] | None, text: str | None = None) -> dict[str, Any]:
    return clean({"coding": [c for c in codings if c], "text": text})


def reference(resource_type: str, fhir_id: Any, display: str | None = None) -> dict[str, Any]:
    return clean({"reference": f"{resource_type}/{fhir_id}", "display": display})


def identifier(system: str, value: str | None, **extra: Any) -> dict[str, Any] | None:
    if not value:
        return None
    return clean({"system": system, "value": value, **extra})


def number(value: Decimal | int | float | None) -> int | float | None:
    """A JSON number for a Decimal without float noise: 30.000 → 30, 2.5 → 2.5."""
    if value is None:
        return None
    d = Decimal(value).normalize()
    if d == d.to_integral_value():
        return int(d)
    return float(d)


def quantity(
    value: Decimal | int | None,
    unit: str | None,
    code: str | None = None,
    system: str | None = codes.UCUM,
) -> dict[str, Any] | None:
    if value is None:
        return None
    return clean(
        {"value": number(value), "unit": unit, "system": system if code else None, "code": code}
    )


def instant(value: dt.datetime | None) -> str | None:
    """An instant with its offset, seconds precision (FHIR dateTime/instant)."""
    if value is None:
        return None
    return value.replace(microsecond=0).isoformat()


def date(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def phone(number_text: str | None, use: str | None = None) -> dict[str, Any] | None:
    """A ContactPoint for a 10-digit US number (stored as digits)."""
    if not number_text:
        return None
    digits = number_text
    shown = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}" if len(digits) == 10 else digits
    return clean({"system": "phone", "value": shown, "use": use})


def human_name(
    last: str, first: str, middle: str = "", suffix: str = "", use: str = "official"
) -> dict[str, Any]:
    given = [g for g in (first, middle) if g]
    return clean({"use": use, "family": last, "given": given, "suffix": [suffix] if suffix else []})


def address(
    line1: str = "", line2: str = "", city: str = "", state: str = "", postal_code: str = ""
) -> dict[str, Any] | None:
    out = clean(
        {
            "line": [x for x in (line1, line2) if x],
            "city": city,
            "state": state,
            "postalCode": postal_code,
            "country": "US" if (city or state or postal_code) else None,
        }
    )
    return out or None
