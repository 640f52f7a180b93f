"""Audit log: audited service writes per second, and chain verification speed."""

from __future__ import annotations

import datetime as dt
import time

from django.db import transaction
from django.utils import timezone

from bench import median_of
from rxdesk.core import context
from rxdesk.core.audit import CHAIN_FIELDS, GENESIS_HASH, audit_verify_site, event_digest
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditChainHead, AuditEvent, Site
from rxdesk.core.services import site_create, staff_create, staff_update

VERIFY_EVENTS = 100_000


def _pharmacist(site: Site):  # type: ignore[no-untyped-def]
    user = staff_create(
        actor=None,
        site=site,
        username=f"bench-rph-{site.pk}",
        role=Role.PHARMACIST,
        password="a bench passphrase",
    )
    return staff_update(
        actor=None,
        user=user,
        pharmacist_license="B-1",
        pharmacist_license_expires=dt.date(2099, 1, 1),
    )


def run() -> list[dict[str, object]]:
    from rxdesk.patients.services import patient_create, patient_update

    with context.using(context.RequestInfo(request_id="bench", channel="cli")):
        site = site_create(actor=None, name="Bench pharmacy")
        rph = _pharmacist(site)
    records: list[dict[str, object]] = []

    with context.using(context.RequestInfo(request_id="bench", channel="web")):
        patient = patient_create(
            actor=rph, first_name="Bench", last_name="Mark", date_of_birth=dt.date(1970, 1, 1)
        )
        rates = []
        for _ in range(5):
            n = 300
            start = time.perf_counter()
            for i in range(n):
                patient_update(actor=rph, patient=patient, city=f"City {i}")
            rates.append(n / (time.perf_counter() - start))
    records.append(
        {"name": "audited patient_update calls", "value": round(median_of(rates)), "unit": "per s"}
    )

    # A long chain, written in bulk with the real digest, then verified end to end.
    verify_site = Site.objects.create(name="Bench verify")
    prev = GENESIS_HASH
    now = timezone.now()
    batch = []
    with transaction.atomic():
        for seq in range(1, VERIFY_EVENTS + 1):
            event = AuditEvent(
                site=verify_site,
                seq=seq,
                occurred_at=now,
                actor=None,
                actor_name="bench",
                actor_kind="system",
                api_token_id=None,
                action="patient.updated",
                object_type="patients.patient",
                object_id=str(seq % 500),
                patient_id=seq % 500,
                data='{"changes":{"city":["A","B"]}}',
                reason="",
                request_id="bench",
                client_addr="127.0.0.1",
                prev_hash=prev,
            )
            event.hash = prev = event_digest(tuple(getattr(event, f) for f in CHAIN_FIELDS))
            batch.append(event)
            if len(batch) == 5000:
                AuditEvent.objects.bulk_create(batch)
                batch = []
        AuditEvent.objects.bulk_create(batch)
        AuditChainHead.objects.create(site=verify_site, seq=VERIFY_EVENTS, hash=prev)
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        report = audit_verify_site(verify_site.pk)
        samples.append(time.perf_counter() - start)
        assert report.intact and report.events == VERIFY_EVENTS
    records.append(
        {
            "name": f"audit verify ({VERIFY_EVENTS:,} events)",
            "value": round(VERIFY_EVENTS / median_of(samples)),
            "unit": "events/s",
        }
    )
    return records
