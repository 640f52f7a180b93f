"""Helpers the inventory services share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rxdesk.catalog.models import Package
from rxdesk.catalog.ndc import CodeError, parse_scan
from rxdesk.catalog.queries import packages_for_scan
from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.inventory.models import StockBalance, StorageLocation


def site_of(actor: User | None, site: Site | None) -> Site:
    """The site a service acts at: the actor's own (staff act only at their site), or the
    one the operator at the shell names."""
    if actor is not None:
        if site is not None and site.pk != actor.site_id:
            raise Forbidden("You can only change stock at your own site.")
        return actor.site
    if site is None:
        raise Invalid("Name the site.", field="site")
    return site


def package_of(value: Package | str | None, *, field: str = "ndc") -> Package:
    """A catalog package, given as one or by NDC in any printed form or a scan."""
    if isinstance(value, Package):
        return value
    if not value or not str(value).strip():
        raise Invalid("Enter or scan the NDC.", field=field)
    try:
        scan = parse_scan(str(value))
    except CodeError as exc:
        raise Invalid(str(exc), field=field) from None
    found = packages_for_scan(scan)
    if not found:
        raise Invalid(f"NDC {value} is not in the drug catalog.", field=field)
    if len(found) > 1:
        raise Invalid(
            f"{value} matches more than one package; type the NDC with hyphens.", field=field
        )
    return found[0]


def location_of(site: Site, value: StorageLocation | str | None) -> StorageLocation | None:
    if value is None or value == "":
        return None
    if isinstance(value, StorageLocation):
        if value.site_id != site.pk:
            raise Invalid("That location belongs to another site.", field="location")
        return value
    found = StorageLocation.objects.filter(site=site, code=str(value).strip()).first()
    if found is None:
        raise Invalid(f"No storage location {value!s} here.", field="location")
    return found


MAX_ID = 2**63 - 1  # a BIGINT: a larger number finds nothing and must not reach the driver


def balance_at(site: Site, balance_id: int | Any) -> StockBalance:
    """A balance of this site by id; anything else (another site's, not a number, out of
    range) is simply not found."""
    try:
        pk = int(str(balance_id))
    except ValueError:
        raise NotFound("No such stock at this site.") from None
    found = (
        StockBalance.objects.select_related("lot", "package__product", "site", "location")
        .filter(site=site, pk=pk)
        .first()
        if 0 < pk <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound("No such stock at this site.")
    return found


def date_of(value: Any, *, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Invalid("Enter a date as YYYY-MM-DD.", field=field) from None
