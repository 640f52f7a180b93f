"""What every part of patient care shares: the site's settings row."""

from __future__ import annotations

from rxdesk.care.models import CareSettings
from rxdesk.core.models import Site


def settings_of(site: Site) -> CareSettings:
    """The site's patient-care settings (the defaults until the PIC changes them)."""
    return CareSettings.objects.get_or_create(site=site)[0]
