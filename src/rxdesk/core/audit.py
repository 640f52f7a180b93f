"""The tamper-evident audit log: one hash chain per site (DESIGN, "Audit log").

Every service writes exactly one event through :func:`audit_record`, as the last step of
its transaction, so the chain head (the one hot row all writers share) is held only for a
moment. :func:`audit_verify` walks a chain and names the first broken link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from rxdesk.core import context
from rxdesk.core.models import AuditChainHead, AuditEvent, Site, User

GENESIS_HASH = "0" * 64

# The fields an event's hash covers, in order. The verifier reads rows in this shape.
CHAIN_FIELDS = (
    "site_id",
    "seq",
    "occurred_at",
    "actor_id",
    "actor_name",
    "actor_kind",
    "api_token_id",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "data",
    "reason",
    "request_id",
    "client_addr",
    "prev_hash",
)
ROW_FIELDS = ("id", *CHAIN_FIELDS, "hash")

# action -> what it means; services register theirs at import (see each app's services).
ACTIONS: dict[str, str] = {}


def register_actions(actions: Mapping[str, str]) -> None:
    for name, description in actions.items():
        if "." not in name:
            raise ValueError(f"Audit actions are dotted names: {name!r}")
        ACTIONS[name] = description


register_actions(
    {
        "auth.signed_in": "Signed in",
        "auth.signed_out": "Signed out",
        "auth.sign_in_failed": "Sign-in failed",
        "auth.session_expired": "Session ended by timeout",
        "auth.mfa_enrolled": "Second factor enrolled",
        "auth.mfa_verified": "Second factor verified",
        "auth.mfa_failed": "Second factor code refused",
        "audit.exported": "Audit log exported",
        "audit.verified": "Audit chain verified",
    }
)


def canonical_json(data: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, dates and decimals as strings."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_digest(fields: tuple[Any, ...]) -> str:
    """SHA-256 over the canonical encoding of CHAIN_FIELDS values (prev_hash included)."""
    values = list(fields)
    values[2] = _when(values[2])
    payload = json.dumps(values, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields whose values differ."""
    keys = sorted(set(before) | set(after))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def audit_record(
    *,
    actor: User | None,
    action: str,
    site: Site | None = None,
    obj: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    patient_id: int | None = None,
    data: Mapping[str, Any] | None = None,
    reason: str = "",
    actor_name: str = "",
) -> AuditEvent:
    """Append one event to the site's chain. Call inside the service's transaction, last."""
    if action not in ACTIONS:
        raise ValueError(f"Unregistered audit action {action!r}")
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the writing transaction")
    site = site or (actor.site if actor is not None else None)
    if site is None:
        raise ValueError("An audit event needs a site")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    info = context.current()
    if actor is None:
        kind = "system"
    elif info.api_token_id is not None:
        kind = "token"
    else:
        kind = "user"

    head = _lock_head(site)
    event = AuditEvent(
        site=site,
        seq=head.seq + 1,
        occurred_at=timezone.now(),
        actor=actor,
        actor_name=(actor.username if actor is not None else actor_name or "system")[:150],
        actor_kind=kind,
        api_token_id=info.api_token_id,
        action=action,
        object_type=object_type[:60],
        object_id=str(object_id)[:40],
        patient_id=patient_id,
        data=canonical_json(dict(data or {})),
        reason=reason[:500],
        request_id=info.request_id[:36],
        client_addr=info.client_addr[:45],
        prev_hash=head.hash,
    )
    event.hash = event_digest(tuple(getattr(event, f) for f in CHAIN_FIELDS))
    event.save(force_insert=True)
    moved = AuditChainHead.objects.filter(site=site, seq=head.seq, hash=head.hash).update(
        seq=event.seq, hash=event.hash
    )
    if moved != 1:  # another writer moved the head: the unique (site, seq) would catch it too
        raise RuntimeError("The audit chain head moved during the transaction")
    return event


def _lock_head(site: Site) -> AuditChainHead:
    heads = AuditChainHead.objects.select_for_update()
    head = heads.filter(site=site).first()
    if head is not None:  # every event but a site's first: one locking read, no write
        return head
    # The first event of a site races to create its head; the primary key settles it.
    AuditChainHead.objects.bulk_create(
        [AuditChainHead(site=site, seq=0, hash=GENESIS_HASH)], ignore_conflicts=True
    )
    return heads.get(site=site)


@dataclass(frozen=True)
class ChainBreak:
    """The first broken link of a chain."""

    site_id: int
    seq: int
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"event #{self.seq}" + (f" (id {self.event_id})" if self.event_id else "")
        return f"site {self.site_id}: {where}: {self.problem}"


@dataclass(frozen=True)
class ChainReport:
    site_id: int
    events: int
    head_seq: int
    head_hash: str
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify_rows(
    site_id: int, rows: Iterable[tuple[Any, ...]], head: tuple[int, str] | None
) -> tuple[int, ChainBreak | None]:
    """Walk rows shaped like ROW_FIELDS in seq order; return (count, first break or None).

    Pure: the database walk and the tamper tests both come through here."""
    prev_hash = GENESIS_HASH
    expected = 1
    count = 0
    for row in rows:
        event_id, fields, stored_hash = row[0], tuple(row[1:-1]), row[-1]
        seq, row_prev = fields[1], fields[-1]
        count += 1
        if seq != expected:
            # Name the position where the chain breaks (#expected), as for a removed last
            # event below, not the number the stray row happens to carry.
            if seq > expected:
                problem = f"event #{expected} is missing or out of order (found #{seq} next)"
                return count, ChainBreak(site_id, expected, None, problem)
            problem = f"found #{seq} where #{expected} was expected (an event inserted or moved)"
            return count, ChainBreak(site_id, expected, event_id, problem)
        if row_prev != prev_hash:
            return count, ChainBreak(
                site_id, seq, event_id, "its link to the previous event is broken"
            )
        if event_digest(fields) != stored_hash:
            return count, ChainBreak(
                site_id, seq, event_id, "its content does not match its hash (it was changed)"
            )
        prev_hash = stored_hash
        expected += 1
    last_seq = expected - 1
    if head is not None and (head[0] != last_seq or head[1] != prev_hash):
        if head[0] > last_seq:
            problem = f"the chain ends at #{last_seq} but its head says #{head[0]} (events removed)"
        else:
            problem = f"the chain's last event #{last_seq} does not match its head #{head[0]}"
        return count, ChainBreak(
            site_id, last_seq + 1 if head[0] > last_seq else last_seq, None, problem
        )
    return count, None


def _site_rows(site_id: int, up_to_seq: int) -> Iterator[tuple[Any, ...]]:
    return (
        AuditEvent.objects.filter(site_id=site_id, seq__lte=up_to_seq)
        .order_by("seq")
        .values_list(*ROW_FIELDS)
        .iterator(chunk_size=5000)
    )


def audit_verify_site(site_id: int) -> ChainReport:
    """Walk one site's chain from its first event to its head.

    The head is read first and the walk stops at it, so events appended meanwhile are left
    for the next run instead of looking like a broken end; no lock is held while walking."""
    head_row = AuditChainHead.objects.filter(site_id=site_id).values_list("seq", "hash").first()
    head = (head_row[0], head_row[1]) if head_row else (0, GENESIS_HASH)
    count, broken = verify_rows(site_id, _site_rows(site_id, head[0]), head)
    if broken is None:
        broken = _beyond_head(site_id)
    return ChainReport(site_id, count, head[0], head[1], broken)


def _beyond_head(site_id: int) -> ChainBreak | None:
    """Events the head does not cover: a deleted or rewound head, or a forged append.

    A writer moves the head in the same transaction that inserts its event, so once the
    walk is done, every committed event has a seq at or below the head read now."""
    last = (
        AuditEvent.objects.filter(site_id=site_id).order_by("-seq").values_list("seq", "id").first()
    )
    head_seq = AuditChainHead.objects.filter(site_id=site_id).values_list("seq", flat=True).first()
    if last is None or (head_seq is not None and last[0] <= head_seq):
        return None
    if head_seq is None:
        return ChainBreak(site_id, 1, None, "the chain head is missing (it was deleted)")
    return ChainBreak(
        site_id,
        head_seq + 1,
        None,
        f"events up to #{last[0]} lie beyond the chain head #{head_seq} "
        "(the head was rewound or events were forged)",
    )


def audit_verify() -> list[ChainReport]:
    """Verify every site's chain (what ``rxdesk audit verify`` runs)."""
    site_ids = sorted(
        set(Site.objects.values_list("id", flat=True))
        | set(AuditChainHead.objects.values_list("site_id", flat=True))
    )
    return [audit_verify_site(site_id) for site_id in site_ids]
