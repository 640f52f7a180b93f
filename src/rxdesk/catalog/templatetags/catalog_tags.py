"""Template filters for showing drugs so that look-alikes cannot be confused."""

from __future__ import annotations

import re
from decimal import Decimal

from django import template

from rxdesk.catalog.ndc import CodeError, format_ndc11
from rxdesk.catalog.tallman import tall_man as _tall_man

register = template.Library()


@register.filter
def tall_man(name: str) -> str:
    """'hydroxyzine hcl' -> 'hydrOXYzine hcl' (FDA/ISMP tall-man lettering)."""
    return _tall_man(name or "")


@register.filter
def strength(text: str) -> str:
    """The directory's per-unit strength without its '/1': '20 mg/1; 25 mg/1' ->
    '20 mg; 25 mg' ('5 mg/5mL' is kept as it is)."""
    return re.sub(r"\s*/\s*1\b(?!\.)", "", text or "").replace(";  ", "; ")


@register.filter
def qty(value: Decimal | None) -> str:
    """A package quantity without trailing zeros: 30.000 -> 30, 2.500 -> 2.5."""
    if value is None:
        return ""
    return format(value.normalize(), "f")


@register.filter
def ndc11(value: str) -> str:
    """'00002322730' -> '00002-3227-30'."""
    try:
        return format_ndc11(value)
    except CodeError:
        return value
