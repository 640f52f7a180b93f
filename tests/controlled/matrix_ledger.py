"""Permission-matrix rows for the controlled-substance ledger pages and API (the shapes of
tests/test_permission_matrix.py API_MATRIX and tests/test_permission_matrix_ui.py UI_MATRIX).
Written by hand from the specification:

* the perpetual inventory, a package's record, the daily log and the unsigned days are read
  by everyone who holds cs.view: technician, pharmacist, PIC, inventory specialist and
  auditor (not the technician in training, not the administrator);
* signing the daily log is a pharmacist's (cs.signoff: pharmacist and PIC); the empty form
  is refused at the form (422);
* the diversion signals name staff: the PIC and the auditor (cs.signals).

Also the set-up helpers the ledger, daily-log and signal tests share (a move through the
real ledger at a chosen time)."""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from decimal import Decimal
from typing import Any

import time_machine
from django.db import transaction

from rxdesk.catalog.models import Package
from rxdesk.controlled.models import DailyLogSignoff
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.ledger import NO_REF, Ref
from rxdesk.inventory.models import StockMove
from tests.controlled.factories import oxycodone
from tests.inventory.factories import FAR

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
CS_READERS = frozenset({T, RPH, PIC, INV, AUD})
CS_SIGNERS = frozenset({RPH, PIC})
CS_SIGNALS = frozenset({PIC, AUD})

P = "/api/v1/controlled"


def _ndc(site: Site) -> str:
    return oxycodone().ndc11


def _sign_body(site: Site, user: User | None) -> dict[str, Any]:
    return {"day": site.today().isoformat(), "group": "II", "note": ""}


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/controlled/perpetual"): (
        CS_READERS,
        200,
        lambda s, u: (f"{P}/perpetual?group=II", None),
    ),
    ("GET", "/controlled/perpetual/{ndc}"): (
        CS_READERS,
        200,
        lambda s, u: (f"{P}/perpetual/{_ndc(s)}", None),
    ),
    ("GET", "/controlled/log"): (CS_READERS, 200, lambda s, u: (f"{P}/log?group=III-V", None)),
    ("POST", "/controlled/log/sign"): (
        CS_SIGNERS,
        201,
        lambda s, u: (f"{P}/log/sign", _sign_body(s, u)),
    ),
    ("GET", "/controlled/log/unsigned"): (
        CS_READERS,
        200,
        lambda s, u: (f"{P}/log/unsigned", None),
    ),
    ("GET", "/controlled/signals"): (CS_SIGNALS, 200, lambda s, u: (f"{P}/signals", None)),
}


def none(site: Site) -> dict[str, Any]:
    return {}


def package(site: Site) -> dict[str, Any]:
    return {"ndc": oxycodone().ndc11}


NOBODY: frozenset[Role] = frozenset()

# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "cs_perpetual": (none, CS_READERS, NOBODY, None),
    "cs_perpetual_csv": (none, CS_READERS, NOBODY, None),
    "cs_package_ledger": (package, CS_READERS, NOBODY, None),
    "cs_daily_log": (none, CS_READERS, CS_SIGNERS, 422),
    "cs_signals": (none, CS_SIGNALS, NOBODY, None),
}
WATCHED: list[Any] = [DailyLogSignoff]


# --- set-up helpers the ledger, daily-log and signal tests share --------------------------------


def local(site: Site, day: dt.date, hour: int = 12, minute: int = 0) -> dt.datetime:
    """An aware datetime at the pharmacy (its time zone)."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=site.tz)


def move(
    site: Site,
    pkg: Package,
    quantity: Decimal | int | str,
    *,
    reason: MoveReason = MoveReason.RECEIVE,
    lot: str = "CS1",
    expiry: dt.date | None = FAR,
    actor: User | None = None,
    ref: Ref = NO_REF,
    when: dt.datetime | None = None,
    patient_id: int | None = None,
    witness: User | None = None,
    adjust_reason: str = "",
    note: str = "",
) -> StockMove:
    """One move through the real ledger, at ``when`` (default: now). A positive quantity
    goes in, a negative one comes out."""
    amount = Decimal(str(quantity))
    clock = time_machine.travel(when, tick=False) if when is not None else nullcontext()
    with clock, transaction.atomic():
        the_lot = ledger.lot_get_or_create(package=pkg, number=lot, expiry=expiry)
        kwargs: dict[str, Any] = {
            "reason": reason,
            "actor": actor,
            "ref": ref,
            "patient_id": patient_id,
            "witness": witness,
            "adjust_reason": adjust_reason,
            "note": note,
        }
        if amount > 0:
            return ledger.post_in(site=site, lot=the_lot, quantity=amount, **kwargs)
        balance = ledger.balance_row(site=site, lot=the_lot)
        return ledger.post_out(balance=balance, quantity=-amount, **kwargs)
