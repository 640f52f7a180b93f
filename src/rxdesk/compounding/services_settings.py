"""A site's compounding limits (stricter than USP where a state board says so), and the two
calculators that read them: the beyond-use date of a preparation and the in-use time of an
opened source container (rxdesk.compounding.bud).

* :func:`compounding_settings_get` — the site's row, or USP's defaults when it has none
  (unsaved: reading never writes).
* :func:`compounding_settings_update` — the pharmacist-in-charge changes them (audited). A
  site may only be stricter than USP <797>: a single-dose container entered in ISO 5 air is
  good for at most 12 hours, one entered outside ISO 5 never longer than one entered inside,
  a multiple-dose container at most 28 days; records are kept at least 3 years.
* :func:`bud_calculate`, :func:`in_use_calculate` — the pure rules, with a combination the
  chapter does not allow turned into :class:`~rxdesk.core.errors.Invalid` naming the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from rxdesk.compounding import bud
from rxdesk.compounding.models import CompoundingSettings
from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize

register_actions(
    {"compounding.settings.updated": "Compounding limits of the site changed (in-use, retention)"}
)

USP = bud.InUseLimits()

# Input bounds of the BUD calculator: more components than any formula has, and a
# stability limit far past any table's (a longer one never binds).
MAX_COMPONENTS = 100
MAX_STABILITY_DAYS = 3650

# field: (lowest, highest, what it is, in words)
BOUNDS: dict[str, tuple[int, int, str]] = {
    "single_dose_iso5_hours": (
        0,
        USP.single_dose_iso5_hours,
        "hours a single-dose container entered in ISO 5 air stays in use (USP <797> allows "
        "12 at most; a site may only be stricter)",
    ),
    "single_dose_outside_iso5_hours": (
        0,
        12,
        "hours a single-dose container entered outside ISO 5 air stays in use",
    ),
    "multiple_dose_days": (
        1,
        USP.multiple_dose_days,
        "days a multiple-dose container stays in use after first entry",
    ),
    "retention_years": (3, 30, "years compounding records are kept"),
}
FLAGS = ("cap_at_source_in_use",)
FIELDS = (*BOUNDS, *FLAGS)


def _site_of(actor: User | None, site: Site | None) -> Site:
    if actor is not None:
        if site is not None and site.pk != actor.site_id:
            raise Forbidden("You can only change your own pharmacy's compounding limits.")
        return actor.site
    if site is None:
        raise Invalid("Name the pharmacy (site).", field="site")
    return site


def compounding_settings_get(site: Site) -> CompoundingSettings:
    """The site's limits; USP's defaults (an unsaved row) when none were set."""
    found = CompoundingSettings.objects.filter(site=site).first()
    return found if found is not None else CompoundingSettings(site=site)


def in_use_limits(site: Site) -> bud.InUseLimits:
    """The site's in-use limits as the pure rules take them."""
    s = compounding_settings_get(site)
    return bud.InUseLimits(
        single_dose_iso5_hours=s.single_dose_iso5_hours,
        single_dose_outside_iso5_hours=s.single_dose_outside_iso5_hours,
        multiple_dose_days=s.multiple_dose_days,
    )


def _checked(current: CompoundingSettings, fields: dict[str, Any]) -> dict[str, Any]:
    """The new values, or one Invalid naming every bad field."""
    errors: list[dict[str, str]] = []
    unknown = sorted(set(fields) - set(FIELDS))
    errors += [{"field": f, "message": "This setting does not exist."} for f in unknown]
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name in FLAGS:
            if not isinstance(value, bool):
                errors.append({"field": name, "message": "Answer yes or no."})
            else:
                values[name] = value
        elif name in BOUNDS:
            low, high, words = BOUNDS[name]
            if isinstance(value, bool) or not isinstance(value, int):
                errors.append({"field": name, "message": "Give a whole number."})
            elif not low <= value <= high:
                errors.append({"field": name, "message": f"Give {low} to {high}: the {words}."})
            else:
                values[name] = value
    if not errors:
        inside = values.get("single_dose_iso5_hours", current.single_dose_iso5_hours)
        outside = values.get(
            "single_dose_outside_iso5_hours", current.single_dose_outside_iso5_hours
        )
        if outside > inside:
            errors.append(
                {
                    "field": "single_dose_outside_iso5_hours",
                    "message": f"A container entered outside ISO 5 air cannot stay in use "
                    f"longer than one entered in ISO 5 ({inside} hours).",
                }
            )
    if errors:
        raise Invalid(errors=errors, field=errors[0]["field"])
    return values


def compounding_settings_update(
    *, actor: User | None, site: Site | None = None, **fields: Any
) -> CompoundingSettings:
    """Change the site's compounding limits (compounding.facility: the pharmacist-in-charge).
    Values are checked all together; nothing is written if any is wrong, or if none
    changes."""
    authorize(actor, Cap.COMPOUNDING_FACILITY)
    where = _site_of(actor, site)
    with transaction.atomic():
        # Two changes at once must not both find the row missing (PostgreSQL; SQLite's
        # IMMEDIATE transactions already run one writer at a time).
        Site.objects.select_for_update().filter(pk=where.pk).first()
        current = compounding_settings_get(where)
        values = _checked(current, fields)
        before = {name: getattr(current, name) for name in FIELDS}
        after = {**before, **values}
        changes = diff(before, after)
        if not changes:
            return current
        for name, value in values.items():
            setattr(current, name, value)
        current.save()
        audit_record(
            actor=actor,
            action="compounding.settings.updated",
            site=where,
            obj=current,
            data={"changes": changes},
        )
    return current


# --- Calculators -------------------------------------------------------------------------------


def bud_calculate(given: bud.BudInput) -> bud.Bud:
    """The beyond-use date by rule, or :class:`Invalid` naming the field to change."""
    try:
        return bud.beyond_use(given)
    except bud.BudNotAllowed as exc:
        raise Invalid(exc.message, field=exc.field) from None


def in_use_calculate(
    *,
    site: Site,
    container: str,
    opened_at: dt.datetime,
    in_iso5: bool = True,
    label_hours: int | None = None,
    label_days: int | None = None,
    expiry: dt.date | None = None,
) -> bud.InUse:
    """Until when an opened container may be used, by the site's limits (USP's when none
    were set), or :class:`Invalid` naming the field to change."""
    try:
        return bud.in_use_until(
            container,
            opened_at,
            in_iso5=in_iso5,
            label_hours=label_hours,
            label_days=label_days,
            expiry=expiry,
            limits=in_use_limits(site),
        )
    except bud.BudNotAllowed as exc:
        raise Invalid(exc.message, field=exc.field) from None
