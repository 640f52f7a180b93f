"""Cycle counts and the full physical inventory: create a count from the site's balances,
record what is on the shelf (blind), submit, investigate the variances, and approve them
into the ledger (one COUNT move per variance).

``expected`` is the ledger balance at the moment a line is counted, so sales during a long
count are not variance. While a count is open its expected quantities and variances are
never shown (rxdesk.inventory.queries_counts decides what a reader sees); they appear once
the count is submitted. Each service: one transaction, a capability check first, the rules,
the writes, and one audit event last."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.catalog.ndc import CodeError, parse_scan
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import Witness, authorize, witness_confirm
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import AbcClass, AdjustReason, CountScope, CountStatus, MoveReason
from rxdesk.inventory.ledger import Ref
from rxdesk.inventory.models import (
    CycleCount,
    CycleCountLine,
    ParLevel,
    StockBalance,
    StockMove,
    StorageLocation,
)
from rxdesk.inventory.services.common import date_of, location_of, package_of, site_of

register_actions(
    {
        "inventory.count.created": "Cycle count started",
        "inventory.count.line_recorded": "Count line counted",
        "inventory.count.line_added": "Count line added (found on the shelf)",
        "inventory.count.submitted": "Cycle count submitted",
        "inventory.count.investigated": "Count variance investigated",
        "inventory.count.approved": "Cycle count approved (adjustments posted)",
        "inventory.count.cancelled": "Cycle count cancelled",
    }
)

# A count holds its lots from creation until it is approved or cancelled: a submitted count
# has not posted its variances yet, so a second count of the same lot would adjust twice.
ACTIVE = (CountStatus.OPEN, CountStatus.SUBMITTED)

# The schedules a pharmacy stocks (Schedule I is research-only) and the ways people write them.
SCHEDULES = {
    "CII": "CII",
    "CIII": "CIII",
    "CIV": "CIV",
    "CV": "CV",
    "C2": "CII",
    "C3": "CIII",
    "C4": "CIV",
    "C5": "CV",
    "II": "CII",
    "III": "CIII",
    "IV": "CIV",
    "V": "CV",
    "2": "CII",
    "3": "CIII",
    "4": "CIV",
    "5": "CV",
}

MAX_NOTE = 500
MAX_INVESTIGATION_NOTE = 2000


# --- Helpers -------------------------------------------------------------------------------


def counted_of(value: Any, *, field: str = "counted") -> Decimal:
    """What was counted: zero or more, at most three decimals (an empty shelf counts 0)."""
    if isinstance(value, float):
        value = str(value)
    text = "" if value is None else str(value).strip()
    if not text:
        raise Invalid("Enter the quantity counted (0 if none).", field=field)
    try:
        quantity = Decimal(text)
    except (InvalidOperation, ValueError):
        raise Invalid(f"'{text}' is not a quantity.", field=field) from None
    if not quantity.is_finite():
        raise Invalid("Enter a number.", field=field)
    if quantity < 0:
        raise Invalid("A count cannot be negative.", field=field)
    if quantity > ledger.MAX_QUANTITY:
        raise Invalid("The quantity is too large.", field=field)
    if quantity != quantity.quantize(ledger.QUANTUM):
        raise Invalid("Use at most three decimal places.", field=field)
    return quantity.quantize(ledger.QUANTUM)


def _on_hand(site: Site, lot_id: int) -> Decimal:
    """The ledger balance of a lot at the site right now (zero if it never moved here)."""
    found = (
        StockBalance.objects.filter(site=site, lot_id=lot_id)
        .values_list("on_hand", flat=True)
        .first()
    )
    return found if found is not None else Decimal(0)


def _lock_counts(site: Site) -> None:
    """Serialise the writes that decide which count holds a lot. On PostgreSQL two counts
    created at once could both see no overlap and both take the same lot; the site row lock
    makes the second wait and then see the first (SQLite's IMMEDIATE transactions already
    serialise writers). Count creation is rare, so the lock costs nothing at the counter.
    FOR NO KEY UPDATE: a plain FOR UPDATE would also block every insert that references the
    site (the audit events of other work), a deadlock with the audit chain head."""
    Site.objects.select_for_update(no_key=True).filter(pk=site.pk).first()


def _held_elsewhere(site: Site, lots: Any, *, exclude: CycleCount | None = None) -> list[str]:
    """Lot numbers (with their count) already held by another open or submitted count."""
    qs = CycleCountLine.objects.filter(count__site=site, count__status__in=ACTIVE, lot_id__in=lots)
    if exclude is not None:
        qs = qs.exclude(count=exclude)
    return [
        f"lot {number} (count {count_id})"
        for number, count_id in qs.order_by("lot__number").values_list("lot__number", "count_id")[
            :5
        ]
    ]


def _acting_site(actor: User | None, site: Site) -> Site:
    """Staff act at their own site (another site's row is then simply not found); the
    operator at the shell acts at the row's site."""
    return site_of(actor, None) if actor is not None else site


def _count_at(site: Site, count: CycleCount) -> CycleCount:
    """The count, read afresh at the actor's site (another site's count is not found)."""
    found = CycleCount.objects.select_related("site").filter(site=site, pk=count.pk).first()
    if found is None:
        raise NotFound("No such count at this pharmacy.")
    return found


def _line_at(site: Site, line: CycleCountLine) -> CycleCountLine:
    found = (
        CycleCountLine.objects.select_related("count", "lot", "package__product", "location")
        .filter(count__site=site, pk=line.pk)
        .first()
    )
    if found is None:
        raise NotFound("No such count line at this pharmacy.")
    return found


def _require_open(count: CycleCount) -> None:
    if count.status != CountStatus.OPEN:
        raise Conflict(
            f"Count {count.pk} is {count.get_status_display().lower()}; it can no longer be "
            "counted.",
            field="status",
        )


def _controlled(package: Package) -> bool:
    return bool(package.product.dea_schedule)


def _label(line: CycleCountLine) -> str:
    return f"line {line.pk} (NDC {line.package.ndc10} lot {line.lot.number})"


# --- Creating a count ----------------------------------------------------------------------


def _scope_balances(
    site: Site, scope: str, scope_value: str | Sequence[str]
) -> tuple[QuerySet[StockBalance], str]:
    """The balances a scope takes in, and the scope value as it is kept on the count."""
    base = StockBalance.objects.filter(site=site, on_hand__gt=0)
    text = scope_value if isinstance(scope_value, str) else ""
    value = text.strip()
    if scope == CountScope.FULL:
        return base, ""
    if scope == CountScope.SHELF:
        if not value:
            raise Invalid("Enter or scan the shelf's location code.", field="scope_value")
        shelf = StorageLocation.objects.filter(site=site, code__iexact=value).first()
        if shelf is None:
            raise Invalid(f"No storage location {value} here.", field="scope_value")
        # A lot with no location of its own is counted on its package's home shelf.
        homed = ParLevel.objects.filter(site=site, location=shelf).values("package_id")
        return (
            base.filter(Q(location=shelf) | Q(location__isnull=True, package_id__in=homed)),
            shelf.code,
        )
    if scope == CountScope.ABC:
        abc = value.upper()
        if abc not in AbcClass.values:
            raise Invalid("Choose ABC class A, B or C.", field="scope_value")
        classed = ParLevel.objects.filter(site=site, abc_class=abc).values("package_id")
        return base.filter(package_id__in=classed), abc
    if scope == CountScope.SCHEDULE:
        schedule = SCHEDULES.get(value.upper().replace("-", "").replace(" ", ""))
        if schedule is None:
            raise Invalid("Choose a schedule: CII, CIII, CIV or CV.", field="scope_value")
        return (
            base.filter(
                Q(package__product__dea_schedule_override=schedule)
                | Q(
                    package__product__dea_schedule_override="",
                    package__product__directory_dea_schedule=schedule,
                )
            ),
            schedule,
        )
    if scope == CountScope.PACKAGES:
        codes = (
            [c for c in re.split(r"[\s,;]+", value) if c]
            if isinstance(scope_value, str)
            else [str(c).strip() for c in scope_value if str(c).strip()]
        )
        if not codes:
            raise Invalid("Enter or scan at least one NDC.", field="scope_value")
        if len(codes) > 200:
            raise Invalid("Count at most 200 packages at a time.", field="scope_value")
        packages = [package_of(code, field="scope_value") for code in codes]
        shown = ", ".join(dict.fromkeys(p.ndc10 for p in packages))
        if len(shown) > 40:
            shown = f"{len(packages)} packages"
        return base.filter(package_id__in=[p.pk for p in packages]), shown
    raise Invalid(
        f"Choose a scope: {', '.join(CountScope.values)}.",
        field="scope",
    )


def cycle_count_create(
    *,
    actor: User | None,
    site: Site | None = None,
    scope: str,
    scope_value: str | Sequence[str] = "",
    blind: bool = True,
    note: str = "",
) -> CycleCount:
    """Start a count of the site's stock on hand: by shelf (location code), by ABC class,
    by DEA schedule (CII–CV), chosen packages (NDCs), or every balance (full physical
    inventory). One line per lot. A lot may be on one open count at a time."""
    authorize(actor, Cap.INVENTORY_COUNT)
    if len(note or "") > MAX_NOTE:
        raise Invalid(f"A note has at most {MAX_NOTE} characters.", field="note")
    with transaction.atomic():
        where = site_of(actor, site)
        balances, stored = _scope_balances(where, scope, scope_value)
        rows = list(
            balances.select_related("lot", "location", "package__product").order_by(
                F("location__code").asc(nulls_last=True),
                "package__product__name",
                "package__ndc11",
                F("lot__expiry").asc(nulls_last=True),
                "lot__number",
            )
        )
        if not rows:
            raise Invalid(
                "No stock on hand matches this count"
                + (f" ({stored})." if stored else ".")
                + " Check the scope.",
                field="scope_value" if scope != CountScope.FULL else "scope",
            )
        _lock_counts(where)
        held = _held_elsewhere(where, balances.values("lot_id"))
        if held:
            raise Conflict(
                "Already on another open count: "
                + ", ".join(held)
                + ". Finish or cancel that count first.",
                field="scope_value",
            )
        count = CycleCount.objects.create(
            site=where,
            scope=scope,
            scope_value=stored,
            blind=bool(blind),
            note=(note or "").strip(),
            created_by=actor,
        )
        CycleCountLine.objects.bulk_create(
            [
                CycleCountLine(
                    count=count, package_id=b.package_id, lot_id=b.lot_id, location=b.location
                )
                for b in rows
            ],
            batch_size=500,
        )
        audit_record(
            actor=actor,
            site=where,
            action="inventory.count.created",
            obj=count,
            data={
                "scope": scope,
                "scope_value": stored,
                "blind": count.blind,
                "lines": len(rows),
            },
        )
    return count


# --- Counting ------------------------------------------------------------------------------


def cycle_count_record(*, actor: User | None, line: CycleCountLine, counted: Any) -> CycleCountLine:
    """Record what is on the shelf for one line (again, to recount, while the count is
    open). The ledger balance at this moment is kept as the line's expected quantity."""
    authorize(actor, Cap.INVENTORY_COUNT)
    quantity = counted_of(counted)
    with transaction.atomic():
        where = _acting_site(actor, line.count.site)
        fresh = _line_at(where, line)
        _require_open(fresh.count)
        recount = fresh.counted is not None
        now = timezone.now()
        expected = _on_hand(where, fresh.lot_id)
        # Conditional: a line counted while someone submits the count is refused, not lost.
        changed = CycleCountLine.objects.filter(pk=fresh.pk, count__status=CountStatus.OPEN).update(
            counted=quantity, expected=expected, counted_by=actor, counted_at=now
        )
        if changed != 1:
            raise Conflict("The count was submitted meanwhile; it can no longer be counted.")
        fresh.counted, fresh.expected, fresh.counted_by, fresh.counted_at = (
            quantity,
            expected,
            actor,
            now,
        )
        # The event names what was counted, never what was expected (the count is blind).
        audit_record(
            actor=actor,
            site=where,
            action="inventory.count.line_recorded",
            obj=fresh,
            data={
                "count": fresh.count_id,
                "lot": fresh.lot.number,
                "counted": str(quantity),
                "recount": recount,
            },
        )
    return fresh


def cycle_count_add_line(
    *,
    actor: User | None,
    count: CycleCount,
    ndc: Package | str,
    lot_number: str = "",
    expiry: Any = None,
    counted: Any,
    location: StorageLocation | str | None = None,
) -> CycleCountLine:
    """A lot found on the shelf that the count did not list: typed or scanned (a GS1 code
    carries the lot and expiry), with what was counted. A lot never seen before is created
    (its expiry is then required)."""
    authorize(actor, Cap.INVENTORY_COUNT)
    quantity = counted_of(counted)
    with transaction.atomic():
        where = _acting_site(actor, count.site)
        fresh = _count_at(where, count)
        _require_open(fresh)
        package = package_of(ndc)
        lot_number, expiry = _from_scan(ndc, lot_number, expiry)
        expiry_date = date_of(expiry, field="expiry")
        number = (lot_number or "").strip().upper()
        if not number:
            raise Invalid("Enter the lot number.", field="lot_number")
        known = package.lots.filter(number=number).first()
        if known is None and expiry_date is None and not package.product.otc:
            raise Invalid("Enter the expiry date printed on the package.", field="expiry")
        lot = ledger.lot_get_or_create(package=package, number=number, expiry=expiry_date)
        on_count = fresh.lines.filter(lot=lot).first()
        if on_count is not None:
            raise Conflict(
                f"Lot {lot.number} is already on this count (line {on_count.pk}); count it there.",
                field="lot_number",
            )
        _lock_counts(where)
        held = _held_elsewhere(where, [lot.pk], exclude=fresh)
        if held:
            raise Conflict(f"Already on another open count: {held[0]}.", field="lot_number")
        place = location_of(where, location)
        balance = StockBalance.objects.filter(site=where, lot=lot).select_related("location")
        found = balance.first()
        if place is None and found is not None:
            place = found.location
        new = CycleCountLine.objects.create(
            count=fresh,
            package=package,
            lot=lot,
            location=place,
            counted=quantity,
            expected=found.on_hand if found is not None else Decimal(0),
            counted_by=actor,
            counted_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            site=where,
            action="inventory.count.line_added",
            obj=new,
            data={
                "count": fresh.pk,
                "ndc": package.ndc11,
                "lot": lot.number,
                "expiry": lot.expiry.isoformat() if lot.expiry else None,
                "counted": str(quantity),
            },
        )
    return new


def _from_scan(code: Package | str, lot_number: str, expiry: Any) -> tuple[str, Any]:
    """The lot and expiry a scanned GS1 code carried, where none were typed."""
    if isinstance(code, Package) or (lot_number and expiry):
        return lot_number, expiry
    try:
        scan = parse_scan(str(code))
    except CodeError:
        return lot_number, expiry
    return lot_number or (scan.lot or ""), expiry or scan.expiry


def cycle_count_submit(*, actor: User | None, count: CycleCount) -> CycleCount:
    """Close the counting: every line must be counted. From now on the variances show."""
    authorize(actor, Cap.INVENTORY_COUNT)
    with transaction.atomic():
        where = _acting_site(actor, count.site)
        fresh = _count_at(where, count)
        _require_open(fresh)
        missing = fresh.lines.filter(counted__isnull=True).count()
        if missing:
            raise Conflict(
                f"{missing} line{'s' if missing != 1 else ''} not counted yet; count "
                f"{'them' if missing != 1 else 'it'} (0 if none is on the shelf) first.",
                field="lines",
            )
        now = timezone.now()
        claimed = CycleCount.objects.filter(pk=fresh.pk, status=CountStatus.OPEN).update(
            status=CountStatus.SUBMITTED, submitted_by=actor, submitted_at=now
        )
        if claimed != 1:
            raise Conflict("The count was submitted or cancelled meanwhile.")
        fresh.refresh_from_db()
        lines = fresh.lines.all()
        variances = sum(1 for line in lines if line.variance)
        audit_record(
            actor=actor,
            site=where,
            action="inventory.count.submitted",
            obj=fresh,
            data={"lines": len(lines), "variances": variances},
        )
    return fresh


# --- Review --------------------------------------------------------------------------------


def cycle_count_investigate(
    *,
    actor: User | None,
    line: CycleCountLine,
    note: str = "",
    adjust_reason: str = "",
) -> CycleCountLine:
    """Add an investigation note to a submitted line (kept with who and when; earlier notes
    are never changed) and/or set the reason code its adjustment will carry."""
    authorize(actor, Cap.INVENTORY_COUNT)
    text = (note or "").strip()
    if adjust_reason and adjust_reason not in AdjustReason.values:
        raise Invalid("Choose a reason code.", field="adjust_reason")
    if not text and not adjust_reason:
        raise Invalid("Write what you found.", field="note")
    if len(text) > MAX_INVESTIGATION_NOTE:
        raise Invalid(f"A note has at most {MAX_INVESTIGATION_NOTE} characters.", field="note")
    if adjust_reason == AdjustReason.OTHER and not text:
        raise Invalid("Explain the reason 'other'.", field="note")
    with transaction.atomic():
        where = _acting_site(actor, line.count.site)
        fresh = _line_at(where, line)
        if fresh.count.status != CountStatus.SUBMITTED:
            raise Conflict(
                "Variances are investigated once the count is submitted and before it is approved.",
                field="status",
            )
        fields = []
        if text:
            stamp = timezone.now().astimezone(where.tz).strftime("%m/%d/%Y %H:%M")
            who = actor.username if actor is not None else "system"
            entry = f"[{stamp} {who}] {text}"
            fresh.investigation = (
                f"{fresh.investigation}\n{entry}" if fresh.investigation else entry
            )
            fields.append("investigation")
        before_reason = fresh.adjust_reason
        if adjust_reason:
            fresh.adjust_reason = adjust_reason
            fields.append("adjust_reason")
        fresh.save(update_fields=fields)
        audit_record(
            actor=actor,
            site=where,
            action="inventory.count.investigated",
            obj=fresh,
            reason=text,
            data={
                "count": fresh.count_id,
                "lot": fresh.lot.number,
                "adjust_reason": [before_reason, fresh.adjust_reason],
                "note_added": bool(text),
            },
        )
    return fresh


def _given(witness: Any) -> bool:
    """Whether anything of a witness was typed (a user name)."""
    if witness is None:
        return False
    name = (
        witness.get("username") if isinstance(witness, dict) else getattr(witness, "username", "")
    )
    return bool(str(name or "").strip())


def _controlled_variances(count: CycleCount) -> bool:
    """Whether approving would correct a controlled substance's balance."""
    lines = count.lines.select_related("package__product").filter(counted__isnull=False)
    return any(
        _controlled(line.package) and line.counted != line.expected
        for line in lines.exclude(counted=F("expected"))
    )


def cycle_count_approve(
    *, actor: User | None, count: CycleCount, witness: Any = None
) -> CycleCount:
    """Post the submitted count's variances to the ledger: one COUNT move per line whose
    count differs from its expected quantity (in with ``post_in``, out with ``post_out``,
    never below zero). Each variance needs a reason code, and a controlled-substance
    variance an investigation note. All or nothing.

    Correcting a controlled substance's count needs a witness: a second authorized person
    re-authenticates now (``witness``: username, password, and the authenticator code
    where enrolled); each controlled move holds both (issue 10, two-person integrity)."""
    authorize(actor, Cap.INVENTORY_APPROVE)
    confirmed: Witness | None = None
    if _given(witness) and _controlled_variances(count):
        # Before the transaction: a refused witness is audited in its own. A witness who is
        # missing is asked for after the count's own rules (reasons, notes) below.
        confirmed = witness_confirm(
            actor=actor, given=witness, action="inventory.count.approved", field="witness"
        )
    with transaction.atomic():
        where = _acting_site(actor, count.site)
        fresh = _count_at(where, count)
        if fresh.status != CountStatus.SUBMITTED:
            raise Conflict(
                f"Count {fresh.pk} is {fresh.get_status_display().lower()}; only a submitted "
                "count can be approved.",
                field="status",
            )
        # Separation of duties: the person who counted and submitted does not also decide
        # that the shortfall is written off, or a loss (diversion) could be hidden by the one
        # who caused it. The pharmacist-in-charge answers for the inventory to the board and
        # the DEA and may approve their own count (in a one-pharmacist store nobody else can).
        if (
            actor is not None
            and actor.pk == fresh.submitted_by_id
            and actor.role != Role.PHARMACIST_IN_CHARGE
        ):
            raise Forbidden(
                "You submitted this count; another pharmacist (or the pharmacist-in-charge) "
                "must approve it.",
                capability=str(Cap.INVENTORY_APPROVE),
            )
        lines = list(
            fresh.lines.select_related("lot", "package__product", "location").order_by("pk")
        )
        varied = [line for line in lines if line.variance]
        no_reason = [line for line in varied if not line.adjust_reason]
        if no_reason:
            raise Conflict(
                "Give a reason code for each variance: "
                + "; ".join(_label(line) for line in no_reason[:5])
                + ("…" if len(no_reason) > 5 else "")
                + ".",
                field="adjust_reason",
                lines=[line.pk for line in no_reason],
            )
        unexplained = [
            line for line in varied if _controlled(line.package) and not line.investigation
        ]
        if unexplained:
            raise Conflict(
                "A controlled-substance variance needs an investigation note: "
                + "; ".join(_label(line) for line in unexplained[:5])
                + ".",
                field="investigation",
                lines=[line.pk for line in unexplained],
            )
        # Several balances change: lock them in the ledger's one order first (no deadlock).
        ledger.lock_in_order(
            StockBalance.objects.filter(
                site=where, lot_id__in=[line.lot_id for line in varied]
            ).values_list("pk", flat=True)
        )
        if confirmed is None and any(_controlled(line.package) for line in varied):
            raise Invalid(
                "Correcting a controlled substance's count needs a witness: enter the "
                "witness's user name.",
                field="witness.username",
            )
        moves: list[StockMove] = []
        for line in varied:
            witnessed = confirmed.user if confirmed and _controlled(line.package) else None
            moves.append(_post_variance(where, fresh, line, actor, witnessed))
        now = timezone.now()
        claimed = CycleCount.objects.filter(pk=fresh.pk, status=CountStatus.SUBMITTED).update(
            status=CountStatus.APPROVED, approved_by=actor, approved_at=now
        )
        if claimed != 1:
            raise Conflict("The count was approved or cancelled meanwhile.")
        fresh.refresh_from_db()
        audit_record(
            actor=actor,
            site=where,
            action="inventory.count.approved",
            obj=fresh,
            data={
                "lines": len(lines),
                "variances": [
                    {
                        "line": line.pk,
                        "ndc": line.package.ndc11,
                        "lot": line.lot.number,
                        "expected": str(line.expected),
                        "counted": str(line.counted),
                        "variance": str(line.variance),
                        "adjust_reason": line.adjust_reason,
                        "move": move.pk,
                        "balance_after": str(move.balance_after),
                    }
                    for line, move in zip(varied, moves, strict=True)
                ],
                **(
                    {"witness": confirmed.user.username, "witness_factors": confirmed.factors}
                    if confirmed is not None
                    else {}
                ),
            },
        )
    return fresh


def _post_variance(
    site: Site,
    count: CycleCount,
    line: CycleCountLine,
    actor: User | None,
    witness: User | None = None,
) -> StockMove:
    variance = line.variance
    assert variance is not None
    ref = Ref("count_line", line.pk)
    note = f"Count {count.pk}"
    if variance > 0:
        return ledger.post_in(
            site=site,
            lot=line.lot,
            quantity=variance,
            reason=MoveReason.COUNT,
            actor=actor,
            ref=ref,
            note=note,
            adjust_reason=line.adjust_reason,
            location=line.location,
            witness=witness,
        )
    balance = ledger.balance_row(site=site, lot=line.lot)
    try:
        return ledger.post_out(
            balance=balance,
            quantity=-variance,
            reason=MoveReason.COUNT,
            actor=actor,
            ref=ref,
            note=note,
            adjust_reason=line.adjust_reason,
            witness=witness,
        )
    except Conflict:
        # Stock left the shelf after it was counted (a dispense between the count and now)
        # and the shortfall no longer fits what is on hand: the count of this lot cannot be
        # right any more. Recount it.
        on_hand = _on_hand(site, line.lot_id)
        raise Conflict(
            f"L{_label(line)[1:]}: the count is {(-variance).normalize():f} short but "
            f"only {on_hand.normalize():f} is on hand now; stock moved since it was counted. "
            "Cancel and recount this lot.",
            field="lines",
            lines=[line.pk],
        ) from None


def cycle_count_cancel(*, actor: User | None, count: CycleCount, reason: str) -> CycleCount:
    """Abandon a count that is open or submitted: nothing is posted and its lots are free
    for another count. Discarding a submitted count (its variances already shown) is a
    pharmacist's decision."""
    authorize(actor, Cap.INVENTORY_COUNT)
    why = (reason or "").strip()
    if not why:
        raise Invalid("Say why the count is cancelled.", field="reason")
    if len(why) > 200:
        raise Invalid("At most 200 characters.", field="reason")
    with transaction.atomic():
        where = _acting_site(actor, count.site)
        fresh = _count_at(where, count)
        if fresh.status not in ACTIVE:
            raise Conflict(
                f"Count {fresh.pk} is {fresh.get_status_display().lower()}; it cannot be "
                "cancelled.",
                field="status",
            )
        if fresh.status == CountStatus.SUBMITTED:
            authorize(actor, Cap.INVENTORY_APPROVE)
        before = fresh.status
        note = f"{fresh.note}\nCancelled: {why}".strip()[:MAX_NOTE]
        claimed = CycleCount.objects.filter(pk=fresh.pk, status=before).update(
            status=CountStatus.CANCELLED, note=note
        )
        if claimed != 1:
            raise Conflict("The count changed meanwhile; look again.")
        fresh.refresh_from_db()
        audit_record(
            actor=actor,
            site=where,
            action="inventory.count.cancelled",
            obj=fresh,
            reason=why,
            data={"status": [before, CountStatus.CANCELLED.value]},
        )
    return fresh
