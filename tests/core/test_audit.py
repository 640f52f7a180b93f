"""The tamper-evident audit log: one hash chain per site, append-only, verified end to end."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from rxdesk.core import audit
from rxdesk.core.audit import (
    CHAIN_FIELDS,
    GENESIS_HASH,
    ROW_FIELDS,
    audit_record,
    audit_verify_site,
    event_digest,
    register_actions,
    verify_rows,
)
from rxdesk.core.models import AuditChainHead, AuditEvent
from rxdesk.core.services import site_update, staff_update
from rxdesk.patients.services import patient_create, patient_record_open, prescriber_create

TABLE = AuditEvent._meta.db_table
ACTIONS = ("audit.verified", "audit.exported", "auth.signed_in", "auth.signed_out")


# --- helpers ----------------------------------------------------------------------------------


def _sql(sql: str, params: list[Any] | tuple[Any, ...] = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _db_value(field: str, value: Any) -> Any:
    if field == "occurred_at":
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _rows(site_id: int) -> list[tuple[Any, ...]]:
    return list(AuditEvent.objects.filter(site_id=site_id).order_by("seq").values_list(*ROW_FIELDS))


def _fields(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(row[1:-1])


def _record_many(site, actors, n: int) -> None:
    """``n`` varied events on ``site``'s chain, written the way services write them."""
    with transaction.atomic():
        for i in range(n):
            actor = actors[i % len(actors)] if actors else None
            audit_record(
                actor=actor,
                site=site,
                action=ACTIONS[i % len(ACTIONS)],
                object_type="patients.patient",
                object_id=i,
                patient_id=(i % 7) or None,
                data={"i": i, "note": "é" * (i % 3), "amount": str(i * 1.25)},
                reason=f"reason {i}" if i % 4 else "",
                actor_name="" if actor else "nightly-job",
            )


def _insert_row(values: dict[str, Any]) -> None:
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    params = [_db_value(k, v) for k, v in values.items()]
    _sql(f"INSERT INTO {TABLE} ({columns}) VALUES ({marks})", params)


def _shift_seqs(site_id: int, from_seq: int, by: int) -> None:
    # Two steps through a far-away range, so no row ever collides with the unique (site, seq).
    far = 10_000_000
    _sql(
        f"UPDATE {TABLE} SET seq = seq + %s WHERE site_id = %s AND seq >= %s",
        [far, site_id, from_seq],
    )
    _sql(
        f"UPDATE {TABLE} SET seq = seq - %s WHERE site_id = %s AND seq >= %s",
        [far - by, site_id, far],
    )


def _swap_seqs(site_id: int, a: int, b: int) -> None:
    parking = 99_999_999
    where = "WHERE site_id = %s AND seq = %s"
    _sql(f"UPDATE {TABLE} SET seq = %s {where}", [parking, site_id, a])
    _sql(f"UPDATE {TABLE} SET seq = %s {where}", [a, site_id, b])
    _sql(f"UPDATE {TABLE} SET seq = %s {where}", [b, site_id, parking])


def _forged(site_id: int, seq: int, prev_hash: str, template: tuple[Any, ...]) -> dict[str, Any]:
    """A made-up event at ``seq`` that links correctly to ``prev_hash`` and hashes correctly."""
    values = dict(zip(CHAIN_FIELDS, _fields(template), strict=True))
    values.update(
        site_id=site_id,
        seq=seq,
        actor_name="mallory",
        action="audit.exported",
        data=json.dumps({"forged": True}),
        reason="backdated",
        prev_hash=prev_hash,
    )
    values["hash"] = event_digest(tuple(values[f] for f in CHAIN_FIELDS))
    return values


@pytest.fixture
def tamperable():
    """Raw SQL may rewrite the log here. On PostgreSQL that means switching its append-only
    trigger off first (as a table owner could); the test's transaction switches it back."""
    if connection.vendor == "postgresql":
        _sql(f"ALTER TABLE {TABLE} DISABLE TRIGGER rxdesk_audit_append_only")


# --- the chain --------------------------------------------------------------------------------


def test_it_chains_every_event_of_every_service_per_site(
    site, other_site, pic, technician, outsider
):
    # Given writes through several services at two pharmacies
    patient = patient_create(
        actor=technician, first_name="Ada", last_name="Byron", date_of_birth=dt.date(1980, 1, 2)
    )
    patient_record_open(actor=technician, patient=patient)
    prescriber_create(actor=pic, first_name="Ann", last_name="Okafor", npi="1234567893")
    site_update(actor=pic, site=site, city="Springfield")
    staff_update(actor=pic, user=technician, first_name="Tasha")
    patient_create(
        actor=outsider, first_name="Bo", last_name="Lee", date_of_birth=dt.date(1990, 3, 4)
    )

    # Then each site has its own chain from the genesis hash, every link intact
    for the_site, expected in ((site, 5), (other_site, 1)):
        events = list(AuditEvent.objects.filter(site=the_site).order_by("seq"))
        assert [e.seq for e in events] == list(range(1, expected + 1))
        prev = GENESIS_HASH
        for event in events:
            assert event.prev_hash == prev
            assert event.hash == event_digest(tuple(getattr(event, f) for f in CHAIN_FIELDS))
            prev = event.hash
        head = AuditChainHead.objects.get(site=the_site)
        assert (head.seq, head.hash) == (expected, prev)
        report = audit_verify_site(the_site.pk)
        assert report.intact
        assert (report.events, report.head_seq, report.head_hash) == (expected, expected, prev)
    assert [e.action for e in AuditEvent.objects.filter(site=site).order_by("seq")] == [
        "patient.created",
        "patient.record.viewed",
        "prescriber.created",
        "site.updated",
        "staff.updated",
    ]


def test_it_records_who_where_and_the_request_in_the_event(site, technician):
    with transaction.atomic():
        event = audit_record(
            actor=technician, action="audit.exported", data={"b": 2, "a": [1, "x"]}, reason="why"
        )
    event.refresh_from_db()
    assert event.site_id == site.pk
    assert (event.actor_id, event.actor_name, event.actor_kind) == (technician.pk, "tech", "user")
    assert event.data == '{"a":[1,"x"],"b":2}'  # canonical: sorted keys, no spaces
    assert (event.request_id, event.client_addr, event.reason) == (
        "test-request",
        "127.0.0.1",
        "why",
    )
    assert event.occurred_at.tzinfo is not None


def test_it_names_the_system_when_no_one_acts(site):
    with transaction.atomic():
        event = audit_record(actor=None, site=site, action="audit.verified")
    assert (event.actor_id, event.actor_name, event.actor_kind) == (None, "system", "system")


def test_it_refuses_an_unregistered_action_and_writes_nothing(site, technician):
    with (
        pytest.raises(ValueError, match=r"Unregistered audit action 'patient\.teleported'"),
        transaction.atomic(),
    ):
        audit_record(actor=technician, action="patient.teleported")
    assert AuditEvent.objects.count() == 0
    assert not AuditChainHead.objects.exists()


def test_it_refuses_an_action_name_without_a_dot():
    with pytest.raises(ValueError, match="dotted"):
        register_actions({"teleported": "Teleported"})
    assert "teleported" not in audit.ACTIONS


def test_it_refuses_an_event_without_a_site(db):
    with pytest.raises(ValueError, match="needs a site"), transaction.atomic():
        audit_record(actor=None, action="audit.verified")
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_record_outside_a_transaction(site, technician):
    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError, match="inside the writing transaction"):
        audit_record(actor=technician, action="audit.verified")
    assert AuditEvent.objects.count() == 0


# --- append-only ------------------------------------------------------------------------------


@pytest.fixture
def event(site, technician) -> AuditEvent:
    with transaction.atomic():
        return audit_record(actor=technician, action="audit.verified", reason="original")


def _unchanged(event: AuditEvent) -> None:
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.reason, stored.hash) == ("original", event.hash)
    assert audit_verify_site(event.site_id).intact


def test_it_refuses_to_save_an_existing_event(event):
    event.reason = "edited"
    with pytest.raises(PermissionError, match="append-only"):
        event.save()
    fetched = AuditEvent.objects.get(pk=event.pk)
    fetched.reason = "edited"
    with pytest.raises(PermissionError, match="append-only"):
        fetched.save(update_fields=["reason"])
    _unchanged(event)


def test_it_refuses_to_overwrite_an_event_through_a_new_instance_with_its_id(event):
    values = {f.attname: getattr(event, f.attname) for f in AuditEvent._meta.concrete_fields}
    impostor = AuditEvent(**{**values, "reason": "edited"})
    with pytest.raises(IntegrityError), transaction.atomic():
        impostor.save()
    _unchanged(event)


def test_it_refuses_an_upsert_over_an_event(event):
    values = {f.attname: getattr(event, f.attname) for f in AuditEvent._meta.concrete_fields}
    with pytest.raises(PermissionError, match="append-only"):
        AuditEvent.objects.bulk_create(
            [AuditEvent(**{**values, "reason": "edited"})],
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=["reason"],
        )
    _unchanged(event)


def test_it_refuses_to_delete_an_event(event):
    with pytest.raises(PermissionError, match="cannot be deleted"):
        event.delete()
    _unchanged(event)


@pytest.mark.parametrize(
    "write",
    [
        lambda qs: qs.update(reason="edited"),
        lambda qs: qs.delete(),
        lambda qs: AuditEvent.objects.bulk_update(
            [AuditEvent(pk=qs.get().pk, reason="edited")], ["reason"]
        ),
        lambda qs: AuditEvent.objects.update_or_create(
            pk=qs.get().pk, defaults={"reason": "edited"}
        ),
    ],
    ids=["update", "delete", "bulk_update", "update_or_create"],
)
def test_it_refuses_queryset_writes(event, write):
    with pytest.raises(PermissionError, match="append-only"), transaction.atomic():
        write(AuditEvent.objects.filter(pk=event.pk))
    _unchanged(event)


@pytest.mark.postgres
def test_it_refuses_raw_sql_update_and_delete_on_postgresql(event):
    # Given a database user who bypasses the ORM: the trigger from core/0002 still refuses
    for sql in (
        f"UPDATE {TABLE} SET reason = 'edited' WHERE id = %s",
        f"DELETE FROM {TABLE} WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _sql(sql, [event.pk])
    _unchanged(event)


# --- `rxdesk audit verify` --------------------------------------------------------------------


def test_the_cli_reports_an_intact_chain(site, other_site, technician):
    _record_many(site, [technician], 3)
    out = io.StringIO()
    call_command("audit", "verify", stdout=out, no_color=True)
    head = AuditChainHead.objects.get(site=site)
    assert out.getvalue().splitlines() == [
        f"Site {site.pk}: audit chain intact — 3 events, head #3 {head.hash[:16]}…",
        f"Site {other_site.pk}: audit chain intact — 0 events, head #0 {GENESIS_HASH[:16]}…",
    ]


def test_the_cli_names_the_broken_event_and_exits_1(site, technician, tamperable):
    _record_many(site, [technician], 5)
    broken = AuditEvent.objects.get(site=site, seq=3)
    _sql(f"UPDATE {TABLE} SET actor_name = 'mallory' WHERE id = %s", [broken.pk])
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("audit", "verify", stdout=out, no_color=True)
    assert exited.value.code == 1
    assert out.getvalue().strip() == (
        f"Site {site.pk}: audit chain BROKEN at site {site.pk}: event #3 (id {broken.pk}): "
        "its content does not match its hash (it was changed)"
    )


def test_the_cli_prints_each_head_for_safekeeping(site, technician):
    _record_many(site, [technician], 2)
    out = io.StringIO()
    call_command("audit", "head", stdout=out)
    head = AuditChainHead.objects.get(site=site)
    assert json.loads(out.getvalue()) == {"site": site.pk, "seq": 2, "hash": head.hash}


def test_the_cli_says_so_when_there_is_nothing_to_verify(db):
    out = io.StringIO()
    call_command("audit", "verify", stdout=out, no_color=True)
    assert out.getvalue().strip() == "The audit log is empty; nothing to verify."


# --- tampering in the database (fast) ---------------------------------------------------------

N_FAST = 300


def _edit(seq: int, column: str, value: Any) -> Callable[[int, dict[int, tuple]], None]:
    def tamper(site_id: int, by_seq: dict[int, tuple]) -> None:
        new = value(by_seq[seq]) if callable(value) else value
        _sql(
            f"UPDATE {TABLE} SET {column} = %s WHERE site_id = %s AND seq = %s",
            [_db_value(column, new), site_id, seq],
        )

    return tamper


def _delete(seq: int) -> Callable[[int, dict[int, tuple]], None]:
    def tamper(site_id: int, by_seq: dict[int, tuple]) -> None:
        _sql(f"DELETE FROM {TABLE} WHERE site_id = %s AND seq = %s", [site_id, seq])

    return tamper


def _insert_forged(seq: int) -> Callable[[int, dict[int, tuple]], None]:
    def tamper(site_id: int, by_seq: dict[int, tuple]) -> None:
        _shift_seqs(site_id, seq, 1)
        _insert_row(_forged(site_id, seq, by_seq[seq - 1][-1], by_seq[seq]))

    return tamper


def _swap(a: int, b: int) -> Callable[[int, dict[int, tuple]], None]:
    def tamper(site_id: int, by_seq: dict[int, tuple]) -> None:
        _swap_seqs(site_id, a, b)

    return tamper


def _rewrite_tail(from_seq: int) -> Callable[[int, dict[int, tuple]], None]:
    """A careful forger: edit one event and recompute every later link (but not the head)."""

    def tamper(site_id: int, by_seq: dict[int, tuple]) -> None:
        prev = by_seq[from_seq - 1][-1]
        for seq in range(from_seq, N_FAST + 1):
            values = dict(zip(CHAIN_FIELDS, _fields(by_seq[seq]), strict=True))
            if seq == from_seq:
                values["reason"] = "rewritten"
            values["prev_hash"] = prev
            prev = event_digest(tuple(values[f] for f in CHAIN_FIELDS))
            _sql(
                f"UPDATE {TABLE} SET reason = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [values["reason"], values["prev_hash"], prev, by_seq[seq][0]],
            )

    return tamper


def _move_to_other_site(seq: int) -> Callable[[int, dict[int, tuple]], None]:
    def moved(site_id: int, by_seq: dict[int, tuple]) -> None:
        other = AuditChainHead.objects.exclude(site_id=site_id).values_list("site_id", flat=True)
        _sql(
            f"UPDATE {TABLE} SET site_id = %s WHERE site_id = %s AND seq = %s",
            [other[0], site_id, seq],
        )

    return moved


_LATER = dt.timedelta(microseconds=1)
FAST_TAMPERS = [
    # (name, tamper, first broken seq, what the verifier says, names the row's id)
    ("edit-reason", _edit(150, "reason", "nothing happened"), 150, "was changed", True),
    ("edit-actor", _edit(1, "actor_name", "mallory"), 1, "was changed", True),
    ("edit-data", _edit(299, "data", '{"i":0}'), 299, "was changed", True),
    ("edit-time", _edit(42, "occurred_at", lambda r: r[3] + _LATER), 42, "was changed", True),
    ("edit-patient", _edit(7, "patient_id", 999), 7, "was changed", True),
    ("edit-prev", _edit(200, "prev_hash", "a" * 64), 200, "link to the previous", True),
    ("edit-hash", _edit(300, "hash", "b" * 64), 300, "was changed", True),
    ("delete-middle", _delete(150), 150, "event #150 is missing", False),
    ("delete-first", _delete(1), 1, "event #1 is missing", False),
    ("delete-last", _delete(300), 300, "chain ends at #299 but its head says #300", False),
    ("insert-forged", _insert_forged(150), 151, "link to the previous", True),
    ("swap-adjacent", _swap(100, 101), 100, "link to the previous", True),
    ("swap-far", _swap(100, 200), 100, "link to the previous", True),
    ("rewrite-tail", _rewrite_tail(250), 300, "does not match its head #300", False),
    ("move-site", _move_to_other_site(120), 120, "event #120 is missing", False),
]


@pytest.mark.parametrize(
    ("tamper", "expected_seq", "problem", "names_row"),
    [case[1:] for case in FAST_TAMPERS],
    ids=[case[0] for case in FAST_TAMPERS],
)
def test_it_names_the_first_broken_event_after_raw_sql_tampering(
    site, other_site, technician, outsider, tamperable, tamper, expected_seq, problem, names_row
):
    # Given a few hundred events, verified intact (and another site's chain beside them)
    _record_many(site, [technician, None], N_FAST)
    _record_many(other_site, [outsider], 3)
    assert audit_verify_site(site.pk).intact
    by_seq = {row[2]: row for row in _rows(site.pk)}

    # When someone changes the table behind the application's back
    tamper(site.pk, by_seq)

    # Then the verifier names exactly the first broken event
    report = audit_verify_site(site.pk)
    assert report.broken is not None
    assert report.broken.site_id == site.pk
    assert report.broken.seq == expected_seq
    assert problem in report.broken.problem
    stored = AuditEvent.objects.filter(site=site, seq=expected_seq).values_list("id", flat=True)
    assert report.broken.event_id == (stored.get() if names_row else None)
    assert report.head_seq == N_FAST
    # ...while the other site's chain still verifies, unless the row was moved into it: then
    # it lies past that chain's head and is reported there too
    other = audit_verify_site(other_site.pk)
    if tamper.__name__ == "moved":
        assert other.broken is not None and other.broken.seq == 4
        assert "beyond the chain head #3" in other.broken.problem
    else:
        assert other.intact


def test_an_event_written_during_the_walk_is_left_for_the_next_run(site, technician, monkeypatch):
    # A real writer moves the head in the transaction that adds its event; one that commits
    # after the verifier read the head is not a break (the walk stops at the head it read).
    _record_many(site, [technician], 3)
    walk = audit._site_rows

    def writer_commits_meanwhile(site_id: int, up_to_seq: int):  # type: ignore[no-untyped-def]
        _record_many(site, [technician], 1)
        return walk(site_id, up_to_seq)

    monkeypatch.setattr(audit, "_site_rows", writer_commits_meanwhile)
    report = audit_verify_site(site.pk)
    assert report.intact
    assert (report.events, report.head_seq) == (3, 3)
    assert AuditChainHead.objects.get(site=site).seq == 4


def test_an_event_forged_past_the_head_is_a_break(site, technician):
    _record_many(site, [technician], 3)
    head = AuditChainHead.objects.get(site=site)
    _insert_row(_forged(site.pk, 4, head.hash, _rows(site.pk)[-1]))  # head not moved

    report = audit_verify_site(site.pk)

    assert report.broken is not None and report.broken.seq == 4
    assert "events up to #4 lie beyond the chain head #3" in report.broken.problem


def test_a_deleted_or_rewound_head_is_a_break(site, technician):
    _record_many(site, [technician], 5)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_auditchainhead SET seq = 3, hash = %s WHERE site_id = %s",
            [_rows(site.pk)[2][-1], site.pk],
        )
    rewound = audit_verify_site(site.pk)
    assert rewound.broken is not None and rewound.broken.seq == 4
    assert "beyond the chain head #3" in rewound.broken.problem

    AuditChainHead.objects.filter(site=site).delete()
    deleted = audit_verify_site(site.pk)
    assert deleted.broken is not None and deleted.broken.seq == 1
    assert "the chain head is missing" in deleted.broken.problem


# --- tampering at scale (slow) ----------------------------------------------------------------

N_SLOW = 100_000
TAMPERINGS = 1_000
DB_TAMPERINGS = 20
KINDS = ("edit", "delete", "insert", "reorder")
# Every value the hash covers, plus the stored hash itself (the row id is not part of it).
EDITABLE = (*CHAIN_FIELDS, "hash")


def _build_chain(site_id: int, actor_ids: list[int], rng: random.Random) -> tuple[int, str]:
    """Write N_SLOW events straight into the table, linked exactly as audit_record links them."""
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    prev = GENESIS_HASH
    batch: list[AuditEvent] = []
    for seq in range(1, N_SLOW + 1):
        actor_id = rng.choice(actor_ids) if seq % 5 else None
        fields = (
            site_id,
            seq,
            start + dt.timedelta(seconds=seq * 3, microseconds=rng.randrange(1_000_000)),
            actor_id,
            f"user{actor_id}" if actor_id else "system",
            "user" if actor_id else "system",
            rng.randrange(1, 50) if seq % 11 == 0 else None,
            ACTIONS[seq % len(ACTIONS)],
            "patients.patient",
            str(rng.randrange(1, 5000)),
            rng.randrange(1, 5000) if seq % 3 else None,
            audit.canonical_json({"seq": seq, "v": rng.random().hex()}),
            "" if seq % 4 else f"reason {seq}",
            f"req-{seq:08d}",
            "10.0.0.7",
            prev,
        )
        prev = event_digest(fields)
        batch.append(AuditEvent(**dict(zip(CHAIN_FIELDS, fields, strict=True)), hash=prev))
        if len(batch) == 5_000:
            AuditEvent.objects.bulk_create(batch)
            batch = []
    AuditEvent.objects.bulk_create(batch)
    AuditChainHead.objects.update_or_create(site_id=site_id, defaults={"seq": N_SLOW, "hash": prev})
    return N_SLOW, prev


def _changed(field: str, value: Any, rng: random.Random) -> Any:
    """A different value of the same kind for ``field``."""
    if field == "occurred_at":
        return value + dt.timedelta(microseconds=rng.randrange(1, 10**9))
    if field in {"site_id", "seq"}:
        return value + rng.choice([-1, 1]) * rng.randrange(1, 1000)
    if value is None:
        return rng.randrange(1, 10**6)
    if isinstance(value, int):
        return value + rng.randrange(1, 1000)
    if field in {"prev_hash", "hash"}:
        return hashlib.sha256(rng.random().hex().encode()).hexdigest()
    return value + rng.choice(["x", " ", "0", "é"])


def _tamper_in_memory(
    rows: list[tuple[Any, ...]], kind: str, rng: random.Random
) -> tuple[list[tuple[Any, ...]], int, str]:
    """Return (tampered copy, seq of the first broken link, a fragment of the problem)."""
    n = len(rows)
    copy = rows.copy()
    if kind == "edit":
        seq = rng.randint(1, n)
        row = list(copy[seq - 1])
        index = ROW_FIELDS.index(rng.choice(EDITABLE))
        row[index] = _changed(ROW_FIELDS[index], row[index], rng)
        copy[seq - 1] = tuple(row)
        return copy, seq, ""
    if kind == "delete":
        seq = rng.randint(1, n)
        del copy[seq - 1]
        return copy, seq, "missing" if seq < n else "events removed"
    if kind == "insert":
        # A forged event placed before event #seq (or after the last one), given that seq,
        # linked to its predecessor and hashed correctly: it passes, and the link after it
        # breaks (after the last event, the head gives it away).
        seq = rng.randint(1, n + 1)
        prev = copy[seq - 2][-1] if seq > 1 else GENESIS_HASH
        forged = _forged(copy[0][1], seq, prev, copy[min(seq, n) - 1])
        copy.insert(seq - 1, (None, *(forged[f] for f in CHAIN_FIELDS), forged["hash"]))
        if seq == n + 1:
            return copy, seq, "does not match its head"
        return copy, seq + 1, "inserted or moved"
    seq = rng.randint(1, n - 1)  # reorder: swap two neighbours
    copy[seq - 1], copy[seq] = copy[seq], copy[seq - 1]
    return copy, seq, "out of order"


def _apply_in_db(site_id: int, rows: list[tuple], kind: str, rng: random.Random):
    """Tamper with the real table by raw SQL; return (expected seq, undo)."""
    n = len(rows)
    if kind == "edit":
        seq = rng.randint(1, n)
        row = rows[seq - 1]
        field = rng.choice(["reason", "actor_name", "data", "occurred_at", "patient_id", "hash"])
        index = ROW_FIELDS.index(field)
        new = _changed(field, row[index], rng)
        where = f"WHERE id = {int(row[0])}"
        _sql(f"UPDATE {TABLE} SET {field} = %s {where}", [_db_value(field, new)])
        return seq, lambda: _sql(
            f"UPDATE {TABLE} SET {field} = %s {where}",
            [_db_value(field, row[index])],
        )
    if kind == "delete":
        seq = rng.randint(1, n)
        row = rows[seq - 1]
        _sql(f"DELETE FROM {TABLE} WHERE id = %s", [row[0]])
        return seq, lambda: _insert_row(dict(zip(ROW_FIELDS, row, strict=True)))
    if kind == "insert":
        # Renumbering every later event (and back) is the costly part of an insertion in the
        # table, above all on PostgreSQL: insert among the last thousand. The in-memory
        # insertions above cover the whole chain.
        seq = rng.randint(n - 1_000, n)
        _shift_seqs(site_id, seq, 1)
        forged = _forged(site_id, seq, rows[seq - 2][-1], rows[seq - 1])
        _insert_row(forged)

        def undo() -> None:
            _sql(f"DELETE FROM {TABLE} WHERE hash = %s", [forged["hash"]])
            _shift_seqs(site_id, seq + 1, -1)

        return seq + 1, undo
    seq = rng.randint(1, n - 1)
    _swap_seqs(site_id, seq, seq + 1)
    return seq, lambda: _swap_seqs(site_id, seq, seq + 1)


@pytest.mark.slow
def test_it_names_the_first_broken_link_for_a_thousand_tamperings_of_a_100k_chain(
    site, technician, pharmacist, tamperable, monkeypatch
):
    started = time.monotonic()
    rng = random.Random(20260321)

    # Given a chain of 100,000 events, verified intact from the database
    head = _build_chain(site.pk, [technician.pk, pharmacist.pk], rng)
    report = audit_verify_site(site.pk)
    assert report.intact
    assert (report.events, report.head_seq, report.head_hash) == (N_SLOW, *head)
    rows = _rows(site.pk)
    assert len(rows) == N_SLOW
    built = time.monotonic()

    # event_digest is a pure function of its fields: remembering it by value changes no
    # result, and makes a thousand walks of 100,000 rows affordable. A tampered row has new
    # fields, so it is still hashed afresh.
    known: dict[tuple[Any, ...], str] = {}
    real_digest = audit.event_digest

    def remembered(fields: tuple[Any, ...]) -> str:
        digest = known.get(fields)
        if digest is None:
            digest = known[fields] = real_digest(fields)
        return digest

    monkeypatch.setattr(audit, "event_digest", remembered)
    assert verify_rows(site.pk, rows, head) == (N_SLOW, None)

    # When the rows are tampered with a thousand ways, evenly mixed
    kinds = [KINDS[i % len(KINDS)] for i in range(TAMPERINGS)]
    rng.shuffle(kinds)
    seen = dict.fromkeys(KINDS, 0)
    for kind in kinds:
        tampered, expected, fragment = _tamper_in_memory(rows, kind, rng)
        _count, broken = verify_rows(site.pk, tampered, head)
        # Then the verifier names exactly the first broken link
        assert broken is not None, (kind, expected)
        assert (broken.site_id, broken.seq) == (site.pk, expected), (kind, broken)
        assert fragment in broken.problem, (kind, broken)
        seen[kind] += 1
    assert seen == dict.fromkeys(KINDS, TAMPERINGS // len(KINDS))
    in_memory = time.monotonic()

    # ...and the same holds for tampering by raw SQL in the real table, each undone after
    for i in range(DB_TAMPERINGS):
        kind = KINDS[i % len(KINDS)]
        expected, undo = _apply_in_db(site.pk, rows, kind, rng)
        report = audit_verify_site(site.pk)
        assert report.broken is not None, (kind, expected)
        assert report.broken.seq == expected, (kind, report.broken)
        undo()

    monkeypatch.undo()
    final = audit_verify_site(site.pk)
    assert final.intact, final.broken
    assert final.events == N_SLOW
    done = time.monotonic()
    print(
        f"\n{N_SLOW} events built and verified in {built - started:.1f} s; "
        f"{TAMPERINGS} tamperings in memory {in_memory - built:.1f} s; "
        f"{DB_TAMPERINGS} in the database {done - in_memory:.1f} s"
    )
