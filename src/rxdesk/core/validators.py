"""Field validators shared by models, forms and services; messages name what is wrong."""

from __future__ import annotations

import re
import zoneinfo

from django.core.exceptions import ValidationError

from rxdesk.core.identifiers import dea_problem, npi_problem

US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP".split()
)


def validate_npi(value: str) -> None:
    problem = npi_problem(value)
    if problem:
        raise ValidationError(problem, code="npi")


def validate_dea(value: str) -> None:
    problem = dea_problem(value)
    if problem:
        raise ValidationError(problem, code="dea")


def validate_ncpdp_id(value: str) -> None:
    if not re.fullmatch(r"\d{7}", value or ""):
        raise ValidationError("An NCPDP provider ID is exactly 7 digits.", code="ncpdp")


def validate_state(value: str) -> None:
    if value not in US_STATES:
        raise ValidationError("Use the two-letter postal code of a US state.", code="state")


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "Not a known time zone; use a name like America/Chicago.", code="tz"
        ) from None


def normalize_phone(value: str) -> str:
    """Digits of a US phone number: 10 digits, a leading 1 dropped."""
    digits = re.sub(r"\D", "", value or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def validate_phone(value: str) -> None:
    if not re.fullmatch(r"[2-9]\d{2}[2-9]\d{6}", value or ""):
        raise ValidationError(
            "A phone number is 10 digits with the area code, like 555-201-4477.", code="phone"
        )


def validate_postal_code(value: str) -> None:
    if not re.fullmatch(r"\d{5}(-\d{4})?", value or ""):
        raise ValidationError("A ZIP code is 5 digits, or ZIP+4 like 12345-6789.", code="zip")


def format_phone(digits: str) -> str:
    if len(digits) == 10:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return digits
