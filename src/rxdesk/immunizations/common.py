"""What every part of immunizations shares: the site's settings row."""

from __future__ import annotations

from rxdesk.core.models import Site
from rxdesk.immunizations.models import ImmunizationSettings


def settings_of(site: Site) -> ImmunizationSettings:
    """The site's immunization settings (the defaults until the PIC changes them)."""
    return ImmunizationSettings.objects.get_or_create(site=site)[0]
