"""Reads of administering a vaccine: the scanned code and its lot, the lot's funding, the
VIS editions, the pharmacists who may supervise, a patient's immunization record and one
dose. Every read is scoped to the actor's site; a row of another site is not found."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery

from rxdesk.catalog.ndc import Scan, parse_scan
from rxdesk.core.capabilities import Cap
from rxdesk.core.choices import PHARMACIST_ROLES
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.immunizations import queries_catalog
from rxdesk.immunizations.choices import VisStatus
from rxdesk.immunizations.models import (
    Immunization,
    RegistryMessage,
    Vaccine,
    VaccineLot,
    VaccineNdc,
    VisDocument,
)
from rxdesk.inventory.choices import INCOMING
from rxdesk.inventory.models import StockBalance, StockMove
from rxdesk.patients.models import Patient

MAX_ID = 2**63 - 1


# --- The scanned code ---------------------------------------------------------------------


def scan_of(code: str) -> Scan:
    """The scan read from a typed or scanned code (raises CodeError)."""
    return parse_scan(code or "")


def _vaccine_for_code(code: str) -> VaccineNdc | None:
    """The crosswalk row of a typed or scanned vaccine code (NDC 10/11, UPC, GTIN, GS1
    DataMatrix), with its ``package``, ``vaccine`` and ``manufacturer``; None when the code
    is malformed, ambiguous or no vaccine's (rxdesk.immunizations.queries_catalog)."""
    try:
        return queries_catalog.vaccine_for_code(code or "")
    except Invalid:
        return None


def vaccine_for_code(code: str) -> VaccineNdc | None:
    return _vaccine_for_code(code)


@dataclass(frozen=True)
class LotInfo:
    """What the give-a-vaccine screen shows after the scan."""

    ndc: VaccineNdc
    balance: StockBalance | None
    funding: str  # "" when the lot's funding is not recorded
    funding_label: str


def lot_info(*, actor: User, ndc: VaccineNdc, lot_number: str) -> LotInfo:
    authorize(actor, Cap.IMM_VIEW)
    number = (lot_number or "").strip().upper()
    balance = None
    if ndc.package_id and number:
        balance = (
            StockBalance.objects.select_related("lot", "package")
            .filter(site_id=actor.site_id, package_id=ndc.package_id, lot__number=number)
            .first()
        )
    funding = ""
    label = ""
    if balance is not None:
        row = VaccineLot.objects.filter(site_id=actor.site_id, lot_id=balance.lot_id).first()
        if row is not None:
            funding, label = row.funding, row.get_funding_display()
    return LotInfo(ndc=ndc, balance=balance, funding=funding, funding_label=label)


def lot_received_at(site: Site, lot_id: int) -> dt.datetime | None:
    """When the lot first came into the site's stock."""
    move = (
        StockMove.objects.filter(site=site, lot_id=lot_id, reason__in=INCOMING)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return move


# --- VIS and people -----------------------------------------------------------------------


def vis_for(vaccine: Vaccine) -> list[VisDocument]:
    """The VIS editions loaded for the vaccine, current first."""
    return sorted(
        vaccine.vis_documents.all(),
        key=lambda d: (d.status != VisStatus.CURRENT, -d.edition_date.toordinal(), d.pk),
    )


def vis_by_barcode(barcode: str) -> VisDocument | None:
    value = "".join((barcode or "").split())
    if value.startswith("]"):
        value = value[3:]
    return VisDocument.objects.filter(barcode=value).first() if value else None


def pharmacists_of(site: Site) -> list[User]:
    """Active pharmacists of the site whose license is current (who may supervise)."""
    people = User.objects.filter(
        site=site, is_active=True, role__in=[r.value for r in PHARMACIST_ROLES]
    ).order_by("last_name", "first_name", "pk")
    return [p for p in people if p.credential_problem() is None]


# --- The record ---------------------------------------------------------------------------


def patient_get(*, actor: User, patient_id: int) -> Patient:
    authorize(actor, Cap.IMM_VIEW)
    authorize(actor, Cap.PATIENT_VIEW)
    found = None
    if 0 < patient_id <= MAX_ID:
        found = Patient.objects.filter(site_id=actor.site_id, pk=patient_id).first()
    if found is None:
        raise NotFound("No such patient at this pharmacy.", field="patient_id")
    return found


def _with_registry(qs: QuerySet[Immunization]) -> QuerySet[Immunization]:
    latest = RegistryMessage.objects.filter(immunization=OuterRef("pk")).order_by(
        "-created_at", "-pk"
    )
    return qs.annotate(
        registry_status=Subquery(latest.values("status")[:1]),
        registry_action=Subquery(latest.values("action")[:1]),
    )


def immunizations_of(*, actor: User, patient: Patient) -> list[Immunization]:
    """Every dose of the patient recorded here (given, historical, refused, entered in
    error), newest first, each with the status of its latest registry message."""
    authorize(actor, Cap.IMM_VIEW)
    authorize(actor, Cap.PATIENT_VIEW)
    if patient.site_id != actor.site_id:
        raise NotFound("No such patient at this pharmacy.", field="patient_id")
    qs = Immunization.objects.filter(site_id=actor.site_id, patient=patient).select_related(
        "vaccine", "manufacturer", "administered_by", "package"
    )
    return list(_with_registry(qs))


def immunization_get(*, actor: User, immunization_id: int) -> Immunization:
    authorize(actor, Cap.IMM_VIEW)
    authorize(actor, Cap.PATIENT_VIEW)
    found = None
    if 0 < immunization_id <= MAX_ID:
        qs = Immunization.objects.filter(site_id=actor.site_id, pk=immunization_id)
        found = (
            _with_registry(qs)
            .select_related(
                "patient",
                "vaccine",
                "manufacturer",
                "package",
                "lot",
                "administered_by",
                "supervising_pharmacist",
                "screening_reviewed_by",
                "ordering_prescriber",
                "stock_move",
                "recorded_by",
            )
            .first()
        )
    if found is None:
        raise NotFound("No such immunization at this pharmacy.", field="immunization_id")
    return found


def registry_messages_of(immunization: Immunization) -> list[RegistryMessage]:
    return list(immunization.registry_messages.order_by("-created_at", "-pk"))


def given_today_count(*, actor: User) -> int:
    """Doses given here today (local date), for the home page."""
    authorize(actor, Cap.IMM_VIEW)
    site = actor.site
    assert site is not None
    today = site.today()
    start = dt.datetime.combine(today, dt.time.min, tzinfo=site.tz)
    return (
        Immunization.objects.filter(
            site=site,
            information_source="00",
            completion="CP",
            status="recorded",
            administered_at__gte=start,
            administered_at__lt=start + dt.timedelta(days=1),
        )
        .only("pk")
        .count()
    )
