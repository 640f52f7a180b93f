"""What every part of operations shares: the site's settings row and text/time helpers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.core.models import Site, User
from rxdesk.operations.models import OperationsSettings

# A log is written when the work is done; a paper note caught up within a week is the
# furthest back a row may be dated. A few minutes ahead is a workstation's clock drifting.
BACKDATE_LIMIT = dt.timedelta(days=7)
FUTURE_SLACK = dt.timedelta(minutes=5)


def settings_of(site: Site) -> OperationsSettings:
    """The site's operations settings (the defaults until the PIC changes them). Two
    first writers racing for the row: the primary key settles it, the loser reads it."""
    row = OperationsSettings.objects.filter(site=site).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return OperationsSettings.objects.create(site=site)
    except IntegrityError:
        return OperationsSettings.objects.get(site=site)


def signed_in(actor: User | None) -> User:
    if actor is None:
        raise Forbidden("Sign in: the log names who did it.")
    return actor


def text(value: Any, *, field: str, limit: int, required: bool = False, what: str = "") -> str:
    out = str(value if value is not None else "").strip()
    if required and not out:
        raise Invalid(f"Enter {what or field.replace('_', ' ')}.", field=field)
    if len(out) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return out


def aware(value: Any, *, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise Invalid("Give the date and time.", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid("Give the time with its time-zone offset.", field=field)
    return value


def when_in_range(value: Any, *, field: str, now: dt.datetime, site: Site) -> dt.datetime:
    """A logged time: aware, not in the future, not more than 7 days back."""
    at = aware(value, field=field)
    if at > now + FUTURE_SLACK:
        raise Invalid(f"{local(site, at)} has not come yet.", field=field)
    if at < now - BACKDATE_LIMIT:
        raise Invalid(
            "That is more than 7 days ago: a late entry goes on paper to the PIC.", field=field
        )
    return at


def local(site: Site, when: dt.datetime) -> str:
    return f"{when.astimezone(site.tz):%m/%d/%Y %H:%M}"
