"""Prescriber and pharmacy identifiers: NPI and DEA registration numbers.

Pure functions, no database. Each ``*_problem`` function returns ``None`` for a valid
value or a sentence a technician can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The Luhn contribution of the ISO 7812 health-industry prefix 80840 (CMS NPI standard).
_NPI_PREFIX_LUHN = 24

# DEA first letters (registrant type). Configurable later per DEA's practice; the digit 9
# in second place stands for a registrant listed under a business name.
DEA_FIRST_LETTERS = frozenset("ABCDEFGHJKLMPRSTUX")
_DEA_RE = re.compile(r"^([A-Z])([A-Z9])(\d{7})$")


def npi_check_digit(first_nine: str) -> int:
    """The Luhn check digit of an NPI's first nine digits, with the 80840 prefix."""
    total = _NPI_PREFIX_LUHN
    for i, ch in enumerate(reversed(first_nine)):
        x = int(ch)
        if i % 2 == 0:
            x = x * 2 - 9 if x > 4 else x * 2
        total += x
    return (10 - total % 10) % 10


def npi_problem(npi: str) -> str | None:
    """None if ``npi`` is a well-formed NPI, else why not."""
    if not isinstance(npi, str) or not npi.isascii() or len(npi) != 10 or not npi.isdigit():
        return "An NPI is exactly 10 digits."
    if npi[0] not in "12":
        return "An NPI starts with 1 (a person) or 2 (an organization)."
    if npi_check_digit(npi[:9]) != int(npi[9]):
        return "This NPI's check digit is wrong; check for a mistyped digit."
    return None


def npi_is_valid(npi: str) -> bool:
    return npi_problem(npi) is None


@dataclass(frozen=True)
class DeaNumber:
    """A parsed DEA registration number; ``suffix`` is an institutional practitioner code."""

    number: str
    suffix: str = ""

    @property
    def registrant_letter(self) -> str:
        return self.number[0]

    @property
    def name_letter(self) -> str:
        return self.number[1]


def dea_check_digit(six: str) -> int:
    d = [int(c) for c in six]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10


def dea_normalize(raw: str) -> str:
    return raw.strip().upper().replace(" ", "")


def dea_parse(raw: str) -> DeaNumber:
    """Parse ``raw`` (``AB1234563`` or ``AB1234563-045A``); raise ValueError with the reason."""
    text = dea_normalize(raw)
    base, _, suffix = text.partition("-")
    match = _DEA_RE.fullmatch(base)
    if not match or not base.isascii():
        raise ValueError("A DEA number is two letters and seven digits, like AB1234563.")
    letter, _name_letter, digits = match.groups()
    if letter not in DEA_FIRST_LETTERS:
        raise ValueError(f"A DEA number cannot start with {letter!r}.")
    if dea_check_digit(digits[:6]) != int(digits[6]):
        raise ValueError("This DEA number's check digit is wrong; check for a mistyped digit.")
    if suffix and not re.fullmatch(r"[A-Z0-9]{1,10}", suffix):
        raise ValueError("The institutional suffix after the hyphen must be letters and digits.")
    return DeaNumber(number=base, suffix=suffix)


def dea_problem(raw: str) -> str | None:
    try:
        dea_parse(raw)
    except ValueError as exc:
        return str(exc)
    return None


def dea_name_mismatch(raw: str, last_name: str) -> str | None:
    """A warning (never a block: names change) when the second letter is not the initial
    of the registrant's last name. ``9`` stands for a business registration."""
    dea = dea_parse(raw)
    initial = next((c for c in last_name.upper() if c.isalpha()), "")
    if dea.name_letter == "9" or not initial or dea.name_letter == initial:
        return None
    return (
        f"The DEA number's second letter {dea.name_letter} does not match the last name "
        f"{last_name!r}; confirm the registration."
    )


def dea_is_valid(raw: str) -> bool:
    return dea_problem(raw) is None
