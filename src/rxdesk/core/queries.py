"""Reads of the audit log and staff lists."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

from django.db import transaction
from django.db.models import Q, QuerySet

from rxdesk.core.audit import audit_record
from rxdesk.core.capabilities import Cap
from rxdesk.core.models import AuditEvent, SiteAssignment, User
from rxdesk.core.services import authorize


def audit_search(
    *,
    actor: User,
    who: str = "",
    action: str = "",
    patient_id: int | None = None,
    object_type: str = "",
    object_id: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The actor's site's events, newest first, filtered (who matches the user name)."""
    authorize(actor, Cap.AUDIT_VIEW)
    qs = AuditEvent.objects.filter(site_id=actor.site_id)
    if who:
        qs = qs.filter(Q(actor_name__iexact=who) | Q(actor_name__istartswith=who))
    if action:
        qs = qs.filter(action__startswith=action)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if since:
        qs = qs.filter(occurred_at__gte=since)
    if until:
        qs = qs.filter(occurred_at__lt=until)
    return qs.order_by("-seq")


CSV_COLUMNS = [
    "seq",
    "occurred_at",
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
    "hash",
]


def audit_export_csv(
    *, actor: User, events: QuerySet[AuditEvent], filters: dict[str, str]
) -> Iterator[str]:
    """CSV lines of ``events``; the export itself is recorded (it discloses PHI access).

    The export covers the events up to the moment it was asked for, so the row count in
    its own audit event is exactly what the file holds."""
    authorize(actor, Cap.AUDIT_EXPORT)
    with transaction.atomic():
        last_seq = (
            AuditEvent.objects.filter(site_id=actor.site_id)
            .order_by("-seq")
            .values_list("seq", flat=True)
            .first()
        ) or 0
        events = events.filter(seq__lte=last_seq)
        audit_record(
            actor=actor,
            action="audit.exported",
            data={
                "filters": {k: v for k, v in filters.items() if v},
                "rows": events.count(),
                "through_seq": last_seq,
            },
        )

    def lines() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_COLUMNS)
        yield buf.getvalue()
        for row in events.values_list(*CSV_COLUMNS).iterator(chunk_size=2000):
            buf.seek(0)
            buf.truncate()
            values = list(row)
            values[1] = values[1].isoformat()
            writer.writerow([_cell(v) for v in values])
            yield buf.getvalue()

    return lines()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def site_assignments(*, actor: User) -> QuerySet[SiteAssignment]:
    """People of the chain's other pharmacies who may work at the actor's pharmacy."""
    authorize(actor, Cap.SITE_ASSIGN)
    return (
        SiteAssignment.objects.filter(site_id=actor.site_id)
        .select_related("user__home_site", "user__site", "granted_by")
        .order_by("user__last_name", "user__first_name", "user__username")
    )


def assignable_staff(*, actor: User) -> QuerySet[User]:
    """Active staff of the chain's other pharmacies not yet allowed to work here: whom the
    pharmacist-in-charge may let in (none when the pharmacy belongs to no chain)."""
    authorize(actor, Cap.SITE_ASSIGN)
    site = actor.site
    if site.organization_id is None:
        return User.objects.none()
    home = Q(home_site__isnull=False, home_site__organization_id=site.organization_id) | Q(
        home_site__isnull=True, site__organization_id=site.organization_id
    )
    return (
        User.objects.filter(home, is_active=True)
        .exclude(Q(home_site_id=site.pk) | Q(home_site__isnull=True, site_id=site.pk))
        .exclude(site_assignments__site_id=site.pk)
        .select_related("home_site", "site")
        .order_by("last_name", "first_name", "username")
    )


def staff_list(*, actor: User) -> QuerySet[User]:
    authorize(actor, Cap.STAFF_VIEW)
    return User.objects.filter(site_id=actor.site_id).order_by(
        "last_name", "first_name", "username"
    )
