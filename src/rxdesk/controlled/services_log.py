"""The pharmacist's sign-off of the daily controlled-substance log (21 CFR 1306.22(f): the
day's printout of controlled-substance dispensings, verified and signed by the pharmacist;
the team reference §4.3). The log itself is a read (rxdesk.controlled.queries.daily_log).

A sign-off records how many moves the log had and the last move's id, so a move posted
later for that day shows the log as "changed since signed" and it is signed again — a new
sign-off beside the first, never an edit of it. Several pharmacists may each sign the same
log; one pharmacist signing the same unchanged log twice is refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.controlled import queries
from rxdesk.controlled.models import DailyLogSignoff
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory.services.common import date_of, site_of

register_actions({"cs.log.signed": "Daily controlled-substance log signed"})

NOTE_MAX = 500


def daily_log_sign(
    *,
    actor: User | None,
    day: dt.date | str | None,
    group: Any,
    note: str = "",
    site: Site | None = None,
) -> DailyLogSignoff:
    """Sign the ``group``'s log of the local ``day`` as it stands now. A day with no
    controlled-substance activity may be signed (the sign-off says so); a day to come may
    not."""
    authorize(actor, Cap.CS_SIGNOFF)
    if actor is None:
        raise Forbidden("A pharmacist signs the daily log in person: sign in.")
    where = site_of(actor, site)
    the_group = queries.group_of(group)
    the_day = date_of(day, field="day")
    if the_day is None:
        raise Invalid("Enter the day of the log.", field="day")
    if the_day > where.today():
        raise Invalid(
            f"{the_day:%m/%d/%Y} has not come yet; sign a day's log on or after that day.",
            field="day",
        )
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        raise Invalid(f"Keep the note to {NOTE_MAX} characters.", field="note")
    if queries.CONTROL.search(text):
        raise Invalid("The note has characters that cannot be kept; retype it.", field="note")
    with transaction.atomic():
        moves, last_move_id = queries.day_tally(where, the_day, the_group)
        already = DailyLogSignoff.objects.filter(
            site=where,
            day=the_day,
            group=the_group,
            signed_by=actor,
            moves=moves,
            last_move_id=last_move_id,
        ).exists()
        if already:
            raise Conflict(
                f"You already signed the {the_group.label} log of {the_day:%m/%d/%Y}; nothing "
                "has changed since.",
                field="day",
            )
        signoff = DailyLogSignoff.objects.create(
            site=where,
            day=the_day,
            group=the_group,
            moves=moves,
            last_move_id=last_move_id,
            signed_by=actor,
            signer_name=actor.display_name[:150],
            signed_at=timezone.now(),
            note=text,
        )
        audit_record(
            actor=actor,
            action="cs.log.signed",
            site=where,
            obj=signoff,
            data={
                "day": the_day.isoformat(),
                "group": str(the_group),
                "moves": moves,
                "last_move_id": last_move_id,
                "activity": moves > 0,
            },
        )
    return signoff


def signoff_words(signoff: DailyLogSignoff) -> str:
    """What the pharmacist is told once the log is signed."""
    group = queries.group_of(signoff.group)
    what = (
        "no controlled-substance activity"
        if signoff.moves == 0
        else f"{signoff.moves} move{'s' if signoff.moves != 1 else ''}"
    )
    return f"{group.label} log of {signoff.day:%m/%d/%Y} signed: {what}."
