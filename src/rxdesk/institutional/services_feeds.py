"""Cabinet activity coming in: the cabinets' transaction files (CSV) and HL7 DFT^P03
messages (one at a time, from the API or the MLLP listener ``rxdesk adc-listener``), and
the eMAR's administrations file. Every removal, return, waste, restock, count and unload a
cabinet reports changes the pocket in the cabinet ledger (rxdesk.institutional.
cabinet_ledger); restocks and unloads move the pharmacy's stock too (rxdesk.inventory.
ledger).

A feed (the file or message) is received once: the same bytes again (same SHA-256) are a
*duplicate* and nothing is applied. Each transaction is applied in its own savepoint: one
that cannot be applied (a station that is not a cabinet here, a pocket that is not the
station's, an NDC that is not the pocket's package, an unload of more than the pocket
holds…) is *refused* and listed with its row, column and reason, and the others are
applied (status *partial*; *rejected* when none could be). A transaction id the cabinet
already reported is skipped as a duplicate.

What each event does:

- removal, waste — taken from the pocket's lots first expiry first. A cabinet that removed
  more than the record holds (a *short removal*): what the record held is taken, the
  pocket is left at zero, and a SHORT_REMOVAL discrepancy is opened with expected = what
  the record held and found = what the cabinet says was taken.
- return — put back into the lot most recently removed from the pocket for that patient
  (else the lot most recently put in).
- count — the pocket is set to the count (cabinet_ledger.count); a count that differs from
  the record opens a COUNT_MISMATCH (expected = the record, found = the count).
- any event with the user's count after the access (``counted``, a blind count): after
  applying it, a count that differs from the record sets the pocket to the count and opens
  a COUNT_MISMATCH likewise.
- restock — when rxdesk recorded a restock of that pocket with that quantity in the 12
  hours before (and that restock was not already matched), it is the same restock: nothing
  moves, and the feed lists it as *confirmed*. Otherwise the quantity is taken from the
  pharmacy's stock first expiry first (reason CABINET_RESTOCK) and put into the pocket lot
  by lot ("restocked at the cabinet").
- unload — taken from the pocket (first expiry first) and put back into the pharmacy's
  stock (reason CABINET_RETURN), lot by lot.

The feed keeps, in ``CabinetFeed.errors``, one entry per row worth telling: ``{"row",
"column", "message", "kind"}`` with kind ``refused`` (not applied), ``duplicate``
(skipped), ``confirmed`` (a restock rxdesk had recorded; ``move`` its id), ``discrepancy``
(``discrepancy`` its id) or ``warning`` (applied, but look: e.g. controlled waste with no
witness). Audit: one event per feed (its counts), one per discrepancy opened."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, DomainError, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.institutional import adc_csv, adc_hl7, cabinet_ledger
from rxdesk.institutional.adc_feed import (
    COUNT,
    REMOVAL,
    RESTOCK,
    RETURN,
    UNLOAD,
    WASTE,
    Administered,
    Transaction,
)
from rxdesk.institutional.cabinet_ledger import Who
from rxdesk.institutional.choices import (
    CabinetEvent,
    DiscrepancyKind,
    FeedSource,
    FeedStatus,
)
from rxdesk.institutional.models import (
    Administration,
    Cabinet,
    CabinetDiscrepancy,
    CabinetFeed,
    CabinetMove,
    Pocket,
)
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import Lot
from rxdesk.patients.models import Patient, PatientIdentifier

log = logging.getLogger(__name__)

register_actions(
    {
        "institutional.cabinet_feed.received": (
            "Cabinet transaction file or HL7 message received and applied"
        ),
        "institutional.cabinet_discrepancy.opened": (
            "Cabinet discrepancy opened from what the cabinet reported"
        ),
        "institutional.administrations.imported": "eMAR administrations imported",
    }
)

RESTOCK_WINDOW = dt.timedelta(hours=12)
# The cabinet's clock and rxdesk's may differ by a few minutes.
CLOCK_SLACK = dt.timedelta(minutes=15)
NAME_MAX = 200
ADMINISTRATIONS_PREFIX = "Administrations: "
RECEIVED = (FeedStatus.ACCEPTED, FeedStatus.PARTIAL)
COUNT_SUFFIX = "#count"

# Where each part of a transaction came from, to name it in a refusal.
CSV_COLUMNS = {
    "station": "Station",
    "pocket": "Pocket",
    "ndc": "NDC",
    "quantity": "Quantity",
    "counted": "Counted",
    "external_id": "Transaction ID",
    "patient": "Patient ID",
    "": "",
}
HL7_FIELDS = {
    "station": "16",
    "pocket": "16",
    "ndc": "7",
    "quantity": "10",
    "external_id": "2",
    "counted": "ZCA-4",
    "patient": "PID-3",
    "": "",
}


@dataclass
class FeedResult:
    """What became of a feed: the row recorded, the counts, the rows refused and the
    discrepancies opened (and, for an HL7 message, the ACK to send back)."""

    feed: CabinetFeed
    applied: int = 0
    duplicates: int = 0
    confirmed: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    discrepancies: list[CabinetDiscrepancy] = field(default_factory=list)
    stations: list[str] = field(default_factory=list)
    ack: str = ""

    @property
    def status(self) -> str:
        return self.feed.status

    def summary(self) -> str:
        """In words, e.g. "3W-1: 3 transactions applied, 1 discrepancy opened"."""
        where = ", ".join(self.stations[:5]) or self.feed.name or "feed"
        if self.feed.status == FeedStatus.DUPLICATE:
            return f"{where}: already received, nothing applied"
        parts = [_plural(self.applied, "transaction") + " applied"]
        if self.duplicates:
            parts.append(f"{self.duplicates} already on record")
        if self.confirmed:
            parts.append(_plural(self.confirmed, "restock") + " confirmed")
        if self.refused:
            first = self.refused[0]
            parts.append(f"{len(self.refused)} refused (row {first['row']}: {first['message']})")
        if self.discrepancies:
            word = "discrepancy" if len(self.discrepancies) == 1 else "discrepancies"
            parts.append(f"{len(self.discrepancies)} {word} opened")
        return f"{where}: {', '.join(parts)}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class _Refused(Exception):
    """A transaction that cannot be applied; ``part`` is the part of it at fault."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part
        self.message = message


# --- Reading the bytes -------------------------------------------------------------------------


def _site_of(actor: User) -> Site:
    site = actor.site
    if site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return site


def _decoded(data: bytes) -> str:
    if len(data) > adc_csv.MAX_BYTES:
        raise Invalid("The file is larger than 5 MB: export a shorter period.", field="file")
    if b"\x00" in data:
        raise Invalid("This is not a text (CSV) file: it holds binary data.", field="file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Windows report exports are often Windows-1252; its few undefined bytes are not text.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            raise Invalid(
                "The file is not text in UTF-8 or Windows-1252: save it as CSV (UTF-8).",
                field="file",
            ) from None


def _file_name(name: str) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if len(base) > NAME_MAX - len(ADMINISTRATIONS_PREFIX):
        raise Invalid(
            f"Keep the file name to {NAME_MAX - len(ADMINISTRATIONS_PREFIX)} characters.",
            field="name",
        )
    return base or "cabinet-transactions.csv"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _already(site: Site, digest: str) -> CabinetFeed | None:
    return (
        CabinetFeed.objects.filter(site=site, digest=digest, status__in=RECEIVED)
        .order_by("id")
        .first()
    )


# --- Applying transactions ---------------------------------------------------------------------


class _Applier:
    """Applies one feed's transactions, each in its own savepoint."""

    def __init__(self, *, actor: User, site: Site, feed: CabinetFeed, source: str) -> None:
        self.actor = actor
        self.site = site
        self.feed = feed
        self.source = source
        self.notes: list[dict[str, Any]] = []
        self.applied = self.duplicates = self.confirmed = 0
        self.refused: list[dict[str, Any]] = []
        self.discrepancies: list[CabinetDiscrepancy] = []
        self.stations: list[str] = []
        self._cabinets: dict[str, Cabinet | None] = {}
        self._patients: dict[str, Patient | None] = {}
        self._seen: set[tuple[int, str]] = set()
        # Looked up once per file, not once per row: the transaction ids already on record
        # (prepare) and each cabinet's pockets (dropped whenever a row is rolled back, so a
        # pocket's total in memory never outlives its savepoint).
        self._on_record: set[tuple[int, str]] | None = None
        self._pockets: dict[int, list[Pocket]] = {}
        self._matched: set[int] = set()  # rxdesk restock moves this feed confirmed
        self._pending: list[CabinetDiscrepancy] = []

    # where a refusal points
    def _column(self, tx: Transaction, part: str) -> str:
        if self.source == FeedSource.CSV:
            return CSV_COLUMNS.get(part, part)
        code = HL7_FIELDS.get(part, part)
        if not code:
            return ""
        if "-" in code:
            segment, number = code.split("-")
            return f"{segment}[{tx.row}]-{number}" if segment == "ZCA" else code
        return f"FT1[{tx.row}]-{code}"

    def _note(self, tx: Transaction, kind: str, message: str, part: str = "", **extra: Any) -> None:
        entry = {
            "row": tx.row,
            "column": self._column(tx, part),
            "message": message[:300],
            "kind": kind,
            **extra,
        }
        self.notes.append(entry)
        if kind == "refused":
            self.refused.append(entry)

    def prepare(self, items: list[Transaction]) -> None:
        """Read, in one query, which of the file's transaction ids are already on record."""
        ids = {tx.external_id for tx in items}
        if not ids:
            self._on_record = set()
            return
        self._on_record = set(
            CabinetMove.objects.filter(cabinet__site=self.site, external_id__in=ids).values_list(
                "cabinet_id", "external_id"
            )
        )

    def apply(self, tx: Transaction) -> None:
        if tx.station not in self.stations:
            self.stations.append(tx.station)
        self._pending = []
        try:
            with transaction.atomic():
                outcome = self._apply(tx)
        except _Refused as exc:
            self._pockets.clear()
            self._note(tx, "refused", exc.message, exc.part)
            return
        except IntegrityError:
            self._pockets.clear()
            # The same transaction id landed from another feed at the same moment.
            self.duplicates += 1
            self._note(tx, "duplicate", f"transaction {tx.external_id} is already on record")
            return
        except DomainError as exc:
            self._pockets.clear()
            part = exc.field if exc.field in CSV_COLUMNS else ""
            self._note(tx, "refused", exc.message, part)
            return
        except BaseException:
            self._pockets.clear()
            raise
        if outcome == "duplicate":
            self.duplicates += 1
            self._note(tx, "duplicate", f"transaction {tx.external_id} is already on record")
            return
        if outcome == "confirmed":
            self.confirmed += 1
        else:
            self.applied += 1
        for d in self._pending:
            self.discrepancies.append(d)
            self._note(
                tx,
                "discrepancy",
                f"{d.get_kind_display()} at {d.pocket.place}: expected "
                f"{d.expected.normalize():f}, found {d.found.normalize():f}",
                discrepancy=d.pk,
            )

    # --- lookups

    def _cabinet(self, tx: Transaction) -> Cabinet:
        if tx.station not in self._cabinets:
            self._cabinets[tx.station] = Cabinet.objects.filter(
                site=self.site, code=tx.station
            ).first()
        found = self._cabinets[tx.station]
        if found is None:
            raise _Refused("station", f"station {tx.station} is not a cabinet here")
        if not found.active:
            raise _Refused("station", f"cabinet {found.code} is marked inactive")
        return found

    def _pockets_of(self, cabinet: Cabinet) -> list[Pocket]:
        if cabinet.pk not in self._pockets:
            self._pockets[cabinet.pk] = list(
                Pocket.objects.select_related("package", "cabinet")
                .filter(cabinet=cabinet)
                .order_by("pk")
            )
        return self._pockets[cabinet.pk]

    def _pocket(self, cabinet: Cabinet, tx: Transaction) -> Pocket:
        pockets = self._pockets_of(cabinet)
        if tx.drawer and tx.pocket:
            found = next(
                (p for p in pockets if p.drawer == tx.drawer and p.pocket == tx.pocket), None
            )
            if found is None:
                raise _Refused(
                    "pocket", f"pocket {tx.drawer}-{tx.pocket} is not a pocket of {cabinet.code}"
                )
        else:
            readings = {tx.ndc11} if tx.ndc11 else set(tx.ndc_candidates)
            holding = [p for p in pockets if p.active and p.package.ndc11 in readings][:2]
            if not holding:
                raise _Refused("ndc", f"no pocket of {cabinet.code} holds NDC {_ndc(tx)}")
            if len(holding) > 1:
                raise _Refused(
                    "pocket",
                    f"several pockets of {cabinet.code} hold NDC {_ndc(tx)}: the drawer and "
                    "pocket must be named",
                )
            found = holding[0]
        if tx.ndc11 and found.package.ndc11 != tx.ndc11:
            raise _Refused(
                "ndc",
                f"NDC {_ndc(tx)} is not the package pocket {found.place} holds "
                f"({found.package.ndc10})",
            )
        if tx.ndc_candidates and found.package.ndc11 not in tx.ndc_candidates:
            raise _Refused(
                "ndc",
                f"NDC {_ndc(tx)} is not the package pocket {found.place} holds "
                f"({found.package.ndc10})",
            )
        if not found.active:
            raise _Refused("pocket", f"pocket {found.place} of {cabinet.code} is inactive")
        return found

    def _patient(self, ref: str) -> Patient | None:
        if not ref:
            return None
        if ref not in self._patients:
            found = list(
                PatientIdentifier.objects.select_related("patient")
                .filter(kind="mrn", value=ref, patient__site=self.site)
                .order_by("patient_id")[:2]
            )
            # Two patients with one MRN: name neither rather than guess.
            self._patients[ref] = found[0].patient if len(found) == 1 else None
        return self._patients[ref]

    def _duplicate(self, cabinet: Cabinet, tx: Transaction) -> bool:
        key = (cabinet.pk, tx.external_id)
        if key in self._seen:
            return True
        if self._on_record is not None:
            return key in self._on_record
        return CabinetMove.objects.filter(cabinet=cabinet, external_id=tx.external_id).exists()

    # --- one transaction

    def _apply(self, tx: Transaction) -> str:
        cabinet = self._cabinet(tx)
        if self._duplicate(cabinet, tx):
            return "duplicate"
        pocket = self._pocket(cabinet, tx)
        occurred = min(tx.occurred_at, timezone.now())
        patient = self._patient(tx.patient_ref)
        who = Who(
            source=self.source,
            actor=self.actor,
            occurred_at=occurred,
            feed=self.feed,
            external_id=tx.external_id,
            cabinet_user=tx.cabinet_user,
            witness_name=tx.witness,
            patient=patient,
            patient_ref=tx.patient_ref,
            override=tx.override and tx.event == REMOVAL,
            note=tx.note,
        )
        outcome = "applied"
        if tx.event in (REMOVAL, WASTE):
            self._take(pocket, tx, who)
        elif tx.event == RETURN:
            self._return(pocket, tx, who, patient)
        elif tx.event == COUNT:
            self._count(pocket, tx, who, tx.quantity)
        elif tx.event == RESTOCK:
            outcome = self._restock(cabinet, pocket, tx, who)
        elif tx.event == UNLOAD:
            self._unload(pocket, tx, who)
        else:  # pragma: no cover - the parsers yield only the six events
            raise _Refused("", f"unknown event {tx.event}")
        if outcome == "duplicate":
            return outcome
        if tx.counted is not None and tx.event != COUNT:
            pocket.refresh_from_db(fields=["on_hand"])
            if tx.counted != pocket.on_hand:
                suffix = COUNT_SUFFIX
                after = replace(
                    who,
                    external_id=tx.external_id[: 40 - len(suffix)] + suffix,
                    override=False,
                    note="count at the access",
                )
                self._count(pocket, tx, after, tx.counted)
        if pocket.controlled and tx.event in (WASTE, RESTOCK) and not tx.witness:
            self._note(
                tx,
                "warning",
                f"controlled {tx.event} at {pocket.place} without a witness in the cabinet's "
                "report",
            )
        self._seen.add((cabinet.pk, tx.external_id))
        return outcome

    def _open(
        self,
        pocket: Pocket,
        kind: str,
        expected: Decimal,
        found: Decimal,
        move: Any,
        tx: Transaction,
    ) -> None:
        self._pending.append(
            cabinet_ledger.discrepancy_open(
                pocket=pocket,
                kind=kind,
                expected=expected,
                found=found,
                move=move,
                cabinet_user=tx.cabinet_user,
                opened_at=min(tx.occurred_at, timezone.now()),
            )
        )

    def _take(self, pocket: Pocket, tx: Transaction, who: Who) -> None:
        event = CabinetEvent.REMOVAL if tx.event == REMOVAL else CabinetEvent.WASTE
        moves, short = cabinet_ledger.take(
            pocket=pocket, quantity=tx.quantity, event=event, who=who
        )
        if short > 0:
            held = tx.quantity - short
            self._open(
                pocket,
                DiscrepancyKind.SHORT_REMOVAL,
                held,
                tx.quantity,
                moves[-1] if moves else None,
                tx,
            )

    def _return(self, pocket: Pocket, tx: Transaction, who: Who, patient: Patient | None) -> None:
        removals = CabinetMove.objects.filter(pocket=pocket, event=CabinetEvent.REMOVAL)
        lot: Lot | None = None
        if patient is not None or tx.patient_ref:
            mine = (
                removals.filter(patient=patient)
                if patient is not None
                else removals.filter(patient_ref=tx.patient_ref)
            )
            last = mine.select_related("lot").order_by("-id").first()
            lot = last.lot if last is not None else None
        lot = lot or cabinet_ledger.last_lot(pocket)
        if lot is None:
            raise _Refused(
                "pocket",
                f"pocket {pocket.place} has never been stocked here, so the lot returned is "
                "unknown",
            )
        cabinet_ledger.post(
            pocket=pocket, lot=lot, quantity=tx.quantity, event=CabinetEvent.RETURN, who=who
        )

    def _count(self, pocket: Pocket, tx: Transaction, who: Who, counted: Decimal) -> None:
        try:
            moves, before = cabinet_ledger.count(pocket=pocket, counted=counted, who=who)
        except Conflict as exc:
            raise _Refused("counted" if tx.event != COUNT else "quantity", exc.message) from None
        if before != counted:
            self._open(
                pocket,
                DiscrepancyKind.COUNT_MISMATCH,
                before,
                counted,
                moves[-1] if moves else None,
                tx,
            )

    def _restock(self, cabinet: Cabinet, pocket: Pocket, tx: Transaction, who: Who) -> str:
        occurred = who.occurred_at or timezone.now()
        candidates = list(
            CabinetMove.objects.filter(
                pocket=pocket,
                event=CabinetEvent.RESTOCK,
                source=FeedSource.USER,
                occurred_at__gte=occurred - RESTOCK_WINDOW,
                occurred_at__lte=occurred + CLOCK_SLACK,
            ).order_by("occurred_at", "id")
        )
        if candidates:
            since = min(c.recorded_at for c in candidates)
            matched, external = _confirmations(self.site, since, cabinet.pk)
            if tx.external_id in external:
                return "duplicate"
            matched |= self._matched
            for move in candidates:
                if move.pk not in matched and move.quantity == tx.quantity:
                    self._matched.add(move.pk)
                    self._note(
                        tx,
                        "confirmed",
                        f"restock of {tx.quantity.normalize():f} at {pocket.place} matches the "
                        f"restock recorded in rxdesk at "
                        f"{timezone.localtime(move.occurred_at, self.site.tz):%m/%d %H:%M}",
                        move=move.pk,
                        cabinet=cabinet.pk,
                        external_id=tx.external_id,
                    )
                    return "confirmed"
        try:
            taken = ledger.take(
                site=self.site,
                package=pocket.package,
                quantity=tx.quantity,
                reason=MoveReason.CABINET_RESTOCK,
                actor=self.actor,
                ref=ledger.Ref("cabinet_feed", self.feed.pk),
                note=f"restocked at the cabinet {cabinet.code} {pocket.place}",
            )
        except Conflict as exc:
            raise _Refused(
                "quantity",
                f"restocked at the cabinet but not in the pharmacy's stock: {exc.message}",
            ) from None
        for stock_move in taken:
            cabinet_ledger.post(
                pocket=pocket,
                lot=stock_move.lot,
                quantity=-stock_move.quantity,
                event=CabinetEvent.RESTOCK,
                who=replace(who, stock_move=stock_move, note="restocked at the cabinet"),
            )
        return "applied"

    def _unload(self, pocket: Pocket, tx: Transaction, who: Who) -> None:
        rows = cabinet_ledger.lots_in(pocket)
        held = sum((r.on_hand for r in rows), Decimal(0))
        if held < tx.quantity:
            raise _Refused(
                "quantity",
                f"pocket {pocket.place} holds only {held.normalize():f} on record; the cabinet "
                f"unloaded {tx.quantity.normalize():f} (count the pocket first)",
            )
        remaining = tx.quantity
        for row in rows:
            if remaining <= 0:
                break
            portion = min(row.on_hand, remaining)
            stock_move = ledger.post_in(
                site=self.site,
                lot=row.lot,
                quantity=portion,
                reason=MoveReason.CABINET_RETURN,
                actor=self.actor,
                ref=ledger.Ref("cabinet_feed", self.feed.pk),
                note=f"unloaded from the cabinet {pocket.cabinet.code} {pocket.place}",
            )
            cabinet_ledger.post(
                pocket=pocket,
                lot=row.lot,
                quantity=-portion,
                event=CabinetEvent.UNLOAD,
                who=replace(who, stock_move=stock_move),
            )
            remaining -= portion


def _ndc(tx: Transaction) -> str:
    if tx.ndc11:
        return f"{tx.ndc11[:5]}-{tx.ndc11[5:9]}-{tx.ndc11[9:]}"
    return "/".join(tx.ndc_candidates[:1]) or "(none)"


def _confirmations(site: Site, since: dt.datetime, cabinet_id: int) -> tuple[set[int], set[str]]:
    """The rxdesk restock moves already confirmed by feeds received since ``since``, and
    the cabinet transaction ids that confirmed them."""
    moves: set[int] = set()
    external: set[str] = set()
    rows = CabinetFeed.objects.filter(
        site=site, received_at__gte=since - CLOCK_SLACK, status__in=RECEIVED
    ).values_list("errors", flat=True)
    for entries in rows.iterator(chunk_size=200):
        for entry in entries or []:
            if (
                isinstance(entry, dict)
                and entry.get("kind") == "confirmed"
                and entry.get("cabinet") == cabinet_id
            ):
                if isinstance(entry.get("move"), int):
                    moves.add(entry["move"])
                external.add(str(entry.get("external_id", "")))
    return moves, external


def _finish(
    *,
    actor: User,
    site: Site,
    feed: CabinetFeed,
    applier: _Applier,
    parse_errors: Iterable[dict[str, Any]],
    rows: int,
) -> FeedResult:
    refused_at_parse = list(parse_errors)
    notes = sorted([*refused_at_parse, *applier.notes], key=lambda e: (e["row"], e["kind"]))
    refused = [*refused_at_parse, *applier.refused]
    taken = applier.applied + applier.duplicates + applier.confirmed
    if refused and not taken:
        feed.status = FeedStatus.REJECTED
    elif refused:
        feed.status = FeedStatus.PARTIAL
    else:
        feed.status = FeedStatus.ACCEPTED
    feed.rows = rows
    feed.accepted = applier.applied + applier.confirmed
    feed.errors = notes
    feed.save(update_fields=["status", "rows", "accepted", "errors"])
    for d in applier.discrepancies:
        move = d.move
        audit_record(
            actor=actor,
            action="institutional.cabinet_discrepancy.opened",
            obj=d,
            patient_id=move.patient_id if move is not None else None,
            data={
                "cabinet": d.cabinet.code,
                "pocket": d.pocket.place,
                "kind": d.kind,
                "expected": d.expected,
                "found": d.found,
                "controlled": d.controlled,
                "feed": feed.pk,
            },
        )
    audit_record(
        actor=actor,
        action="institutional.cabinet_feed.received",
        obj=feed,
        site=site,
        data={
            "source": feed.source,
            "status": feed.status,
            "rows": rows,
            "applied": applier.applied,
            "duplicates": applier.duplicates,
            "confirmed": applier.confirmed,
            "refused": len(refused),
            "discrepancies": len(applier.discrepancies),
        },
    )
    return FeedResult(
        feed=feed,
        applied=applier.applied,
        duplicates=applier.duplicates,
        confirmed=applier.confirmed,
        refused=sorted(refused, key=lambda e: e["row"]),
        discrepancies=applier.discrepancies,
        stations=applier.stations,
    )


def _duplicate_feed(
    *, actor: User, site: Site, source: str, name: str, digest: str, first: CabinetFeed, rows: int
) -> FeedResult:
    feed = CabinetFeed.objects.create(
        site=site,
        source=source,
        name=name,
        digest=digest,
        status=FeedStatus.DUPLICATE,
        rows=rows,
        accepted=0,
        errors=[
            {
                "row": 0,
                "column": "",
                "message": f"already received as feed #{first.pk} on "
                f"{timezone.localtime(first.received_at, site.tz):%m/%d/%Y %H:%M}",
                "kind": "duplicate",
            }
        ],
        received_by=actor,
    )
    audit_record(
        actor=actor,
        action="institutional.cabinet_feed.received",
        obj=feed,
        site=site,
        data={"source": source, "status": FeedStatus.DUPLICATE, "rows": rows, "first": first.pk},
    )
    return FeedResult(feed=feed)


def _receive(
    *,
    actor: User,
    source: str,
    name: str,
    digest: str,
    items: list[Transaction],
    parse_errors: list[dict[str, Any]],
) -> FeedResult:
    site = _site_of(actor)
    rows = len(items) + len({e["row"] for e in parse_errors})
    with transaction.atomic():
        first = _already(site, digest)
        if first is not None:
            result = _duplicate_feed(
                actor=actor,
                site=site,
                source=source,
                name=name,
                digest=digest,
                first=first,
                rows=rows,
            )
            result.stations = list(dict.fromkeys(tx.station for tx in items))
            return result
        feed = CabinetFeed.objects.create(
            site=site,
            source=source,
            name=name,
            digest=digest,
            status=FeedStatus.ACCEPTED,
            received_by=actor,
        )
        applier = _Applier(actor=actor, site=site, feed=feed, source=source)
        applier.prepare(items)
        for tx in items:
            applier.apply(tx)
        return _finish(
            actor=actor,
            site=site,
            feed=feed,
            applier=applier,
            parse_errors=parse_errors,
            rows=rows,
        )


# --- The doors ---------------------------------------------------------------------------------


def feed_receive_csv(*, actor: User, name: str, data: bytes) -> FeedResult:
    """Receive a cabinet transaction file (rxdesk.institutional.adc_csv) and apply it.
    Invalid ``file`` for a file that cannot be read at all (nothing is written)."""
    authorize(actor, Cap.ADC_IMPORT)
    site = _site_of(actor)
    name = _file_name(name)
    text = _decoded(data)
    items, errors = adc_csv.parse(text, site.tz)
    if not items and not errors:
        raise Invalid("The file has a header but no transaction rows.", field="file")
    parse_errors = [
        {"row": e.row, "column": e.column, "message": e.message, "kind": "refused"} for e in errors
    ]
    return _receive(
        actor=actor,
        source=FeedSource.CSV,
        name=name,
        digest=_digest(data),
        items=items,
        parse_errors=parse_errors,
    )


def feed_receive_hl7(*, actor: User, message: bytes | str) -> FeedResult:
    """Receive one HL7 DFT^P03 message from a cabinet (rxdesk.institutional.adc_hl7) and
    apply it; the result carries the ACK (AA). A message that cannot be read raises
    HL7Error naming the segment and field, and nothing is written."""
    authorize(actor, Cap.ADC_IMPORT)
    site = _site_of(actor)
    control, items = adc_hl7.parse(message, site.tz)
    raw = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    result = _receive(
        actor=actor,
        source=FeedSource.HL7,
        name=control,
        digest=_digest(raw),
        items=items,
        parse_errors=[],
    )
    result.ack = adc_hl7.ack(control, "AA", result.summary(), sender=site.ncpdp_id or "RXDESK")
    return result


def administrations_import(*, actor: User, name: str, data: bytes) -> FeedResult:
    """Import the eMAR's administrations file (rxdesk.institutional.adc_csv) as
    Administration rows: idempotent by the administration id, bad rows listed."""
    authorize(actor, Cap.ADC_IMPORT)
    site = _site_of(actor)
    name = ADMINISTRATIONS_PREFIX + _file_name(name)
    text = _decoded(data)
    items, errors = adc_csv.parse_administrations(text, site.tz)
    if not items and not errors:
        raise Invalid("The file has a header but no administration rows.", field="file")
    refused = [
        {"row": e.row, "column": e.column, "message": e.message, "kind": "refused"} for e in errors
    ]
    digest = _digest(data)
    rows = len(items) + len({e["row"] for e in refused})
    with transaction.atomic():
        first = _already(site, digest)
        if first is not None:
            return _duplicate_feed(
                actor=actor,
                site=site,
                source=FeedSource.CSV,
                name=name,
                digest=digest,
                first=first,
                rows=rows,
            )
        feed = CabinetFeed.objects.create(
            site=site,
            source=FeedSource.CSV,
            name=name,
            digest=digest,
            status=FeedStatus.ACCEPTED,
            received_by=actor,
        )
        patients: dict[str, Patient | None] = {}
        imported = duplicates = 0
        notes = list(refused)
        for item in items:
            outcome = _administration(site, feed, item, patients)
            if isinstance(outcome, dict):
                notes.append(outcome)
                if outcome["kind"] == "refused":
                    refused.append(outcome)
                else:
                    duplicates += 1
            else:
                imported += 1
        if refused and not (imported or duplicates):
            feed.status = FeedStatus.REJECTED
        elif refused:
            feed.status = FeedStatus.PARTIAL
        feed.rows = rows
        feed.accepted = imported
        feed.errors = sorted(notes, key=lambda e: e["row"])
        feed.save(update_fields=["status", "rows", "accepted", "errors"])
        audit_record(
            actor=actor,
            action="institutional.administrations.imported",
            obj=feed,
            site=site,
            data={
                "status": feed.status,
                "rows": rows,
                "imported": imported,
                "duplicates": duplicates,
                "refused": len(refused),
            },
        )
    return FeedResult(
        feed=feed,
        applied=imported,
        duplicates=duplicates,
        refused=sorted(refused, key=lambda e: e["row"]),
    )


def _administration(
    site: Site, feed: CabinetFeed, item: Administered, patients: dict[str, Patient | None]
) -> Administration | dict[str, Any]:
    def note(kind: str, column: str, message: str) -> dict[str, Any]:
        return {"row": item.row, "column": column, "message": message, "kind": kind}

    if Administration.objects.filter(site=site, external_id=item.external_id).exists():
        return note("duplicate", "", f"administration {item.external_id} is already on record")
    readings = [item.ndc11] if item.ndc11 else list(item.ndc_candidates)
    found = list(Package.objects.filter(ndc11__in=readings)[:2])
    if len(found) != 1:
        shown = item.ndc11 or (item.ndc_candidates[0] if item.ndc_candidates else "")
        what = "is not in the catalog" if not found else "could be more than one package"
        return note("refused", "NDC", f"NDC {shown} {what}")
    if item.patient_ref and item.patient_ref not in patients:
        matches = list(
            PatientIdentifier.objects.select_related("patient")
            .filter(kind="mrn", value=item.patient_ref, patient__site=site)
            .order_by("patient_id")[:2]
        )
        patients[item.patient_ref] = matches[0].patient if len(matches) == 1 else None
    try:
        with transaction.atomic():
            return Administration.objects.create(
                site=site,
                feed=feed,
                external_id=item.external_id,
                package=found[0],
                quantity=item.quantity,
                nurse=item.nurse,
                patient=patients.get(item.patient_ref) if item.patient_ref else None,
                patient_ref=item.patient_ref,
                given_at=item.given_at,
            )
    except IntegrityError:
        return note("duplicate", "", f"administration {item.external_id} is already on record")


# --- The listener's work -----------------------------------------------------------------------


def listener_handle(*, actor: User, data: bytes, say: Callable[[str], None] | None = None) -> bytes:
    """The framed ACK for one framed message from a cabinet: AA applied (the summary in
    MSA-3), AE with the reason for a message refused, AR for one that is not an HL7
    DFT^P03 at all. Never raises: a cabinet always gets an answer. ``say`` receives one
    line in words per message."""
    tell = say or (lambda line: None)
    try:
        message = adc_hl7.unframe(data)
    except adc_hl7.HL7Error as exc:
        tell(f"refused (AR): {exc.message}")
        return adc_hl7.frame(adc_hl7.ack("", "AR", exc.message))
    control = adc_hl7.control_id_of(message)
    try:
        result = feed_receive_hl7(actor=actor, message=message)
    except adc_hl7.HL7Error as exc:
        code = "AR" if exc.reject else "AE"
        tell(f"message {control or '(no id)'} refused ({code}): {exc.field}: {exc.message}")
        return adc_hl7.frame(adc_hl7.ack(control, code, exc.message, field=exc.field or ""))
    except DomainError as exc:
        tell(f"message {control or '(no id)'} refused (AE): {exc.message}")
        return adc_hl7.frame(adc_hl7.ack(control, "AE", exc.message, field=exc.field or ""))
    except DatabaseError:
        log.exception("cabinet message %s could not be stored", control)
        text = "rxdesk could not store the message now: send it again."
        tell(f"message {control or '(no id)'} not stored (AE): database error")
        return adc_hl7.frame(adc_hl7.ack(control, "AE", text))
    except Exception:  # the cabinet must always get an answer; logged
        log.exception("cabinet message %s failed", control)
        tell(f"message {control or '(no id)'} failed (AE): internal error, see the log")
        return adc_hl7.frame(adc_hl7.ack(control, "AE", "rxdesk could not apply the message."))
    tell(result.summary())
    return adc_hl7.frame(result.ack)
