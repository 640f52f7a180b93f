"""Reads of the outreach lists: patients to call about refills due, low adherence, vaccines
due and medication synchronization.

Every list is built from the records that exist — prescriptions and fills (rx), the
vaccine forecast (rxdesk.immunizations.queries_outreach.due_list, reused as is), med sync
enrollments (rxdesk.medsync) — in a fixed number of queries whatever the number of
patients. Patients who asked not to be contacted are counted, not listed. Each row carries
the patient's last outreach contact for that list.

These functions check no capability: the one door to them is
rxdesk.outreach.services.outreach_list_open, which checks ``outreach.view`` and records the
opening as PHI access."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.apps import apps
from django.db.models import Exists, OuterRef, Prefetch, Q

from rxdesk.core.errors import Invalid
from rxdesk.core.models import Site
from rxdesk.core.validators import format_phone
from rxdesk.immunizations.queries_catalog import to_csv
from rxdesk.immunizations.queries_outreach import due_list
from rxdesk.outreach import pdc
from rxdesk.outreach.choices import ListKind
from rxdesk.outreach.models import OutreachContact
from rxdesk.patients.choices import ContactMethod, PatientStatus
from rxdesk.patients.models import Patient
from rxdesk.rx.choices import FillStatus, RxStatus
from rxdesk.rx.models import Fill, Prescription
from rxdesk.rx.queries import RxState, rx_state
from rxdesk.rx.services.common import DISPENSED_FILLS, PENDING_FILLS, state_rules

# Defaults and bounds of the filters (the screen and the API offer the same).
AHEAD_DAYS, AHEAD_MAX = 7, 60  # refills: supply runs out within this many days …
BEHIND_DAYS, BEHIND_MAX = 30, 365  # … or ran out at most this many days ago
PERIOD_DAYS, PERIOD_MIN, PERIOD_MAX = 180, 30, 730  # adherence: the measurement period


@dataclass(frozen=True)
class LastContact:
    at: dt.datetime
    outcome: str
    outcome_label: str
    by: str
    note: str


@dataclass
class Row:
    """One line of a list: the patient, how to reach them, why they are on it, the figures
    (their names are the list's COLUMNS) and the last contact made from this list."""

    patient: Patient
    contact_by: str  # the preferred way, in words
    contact: str  # the number or address for it ("" when none on file)
    why: str
    figures: dict[str, Any]
    last: LastContact | None = None


@dataclass
class Listing:
    kind: ListKind
    site: Site
    today: dt.date
    filters: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    do_not_contact: int = 0  # on the list, but asked not to be contacted: left out


# The figures of each list, in order: (key, heading).
COLUMNS: dict[str, list[tuple[str, str]]] = {
    ListKind.REFILLS: [
        ("rx_number", "Rx"),
        ("drug", "Drug"),
        ("last_filled_on", "Last filled"),
        ("days_supply", "Days supply"),
        ("runs_out_on", "Runs out"),
        ("days_left", "Days left"),
        ("refills_remaining", "Refills left"),
        ("auto_refill", "Auto-refill"),
    ],
    ListKind.ADHERENCE: [
        ("drug", "Drug"),
        ("classes", "PQA class"),
        ("fills", "Fills"),
        ("index_date", "First fill"),
        ("covered_days", "Days covered"),
        ("period_days", "Days in period"),
        ("pdc_percent", "PDC %"),
    ],
    ListKind.VACCINES: [
        ("age", "Age"),
        ("vaccines", "Vaccines"),
        ("status", "Status"),
        ("due_on", "Due on"),
        ("last_dose_on", "Last dose"),
    ],
    ListKind.SYNC: [
        ("prescriptions", "Maintenance Rx"),
        ("drugs", "Drugs"),
        ("next_refills", "Next refills"),
        ("spread_days", "Days apart"),
    ],
}


def contact_of(p: Patient) -> tuple[str, str]:
    """The patient's preferred way to be reached, in words, and the number or address."""
    method = ContactMethod(p.contact_method) if p.contact_method in ContactMethod.values else None
    phone = p.phone_mobile or p.phone_home or p.phone_work
    if method == ContactMethod.SMS:
        return method.label, format_phone(p.phone_mobile) if p.phone_mobile else ""
    if method == ContactMethod.EMAIL:
        return method.label, p.email
    return ContactMethod.PHONE.label, format_phone(phone) if phone else ""


def last_contacts(site: Site, kind: str, patient_ids: Iterable[int]) -> dict[int, LastContact]:
    """patient id → the latest contact recorded from list ``kind`` (one query)."""
    ids = set(patient_ids)
    if not ids:
        return {}
    out: dict[int, LastContact] = {}
    for c in OutreachContact.objects.filter(site=site, kind=kind, patient_id__in=ids).order_by(
        "patient_id", "-at", "-pk"
    ):
        if c.patient_id not in out:
            out[c.patient_id] = LastContact(
                at=c.at,
                outcome=c.outcome,
                outcome_label=c.get_outcome_display(),
                by=c.by_name,
                note=c.note,
            )
    return out


def _bounded(value: Any, name: str, low: int, high: int, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Invalid(f"Enter a whole number of days from {low} to {high}.", field=name) from None
    if not low <= number <= high:
        raise Invalid(f"Enter a whole number of days from {low} to {high}.", field=name)
    return number


def _maintenance_q(prefix: str, group: str) -> Q:
    """Products of ``group`` (a PQA class key, or every maintenance medication)."""
    if group == pdc.ALL_MAINTENANCE:
        members = pdc.DIABETES | pdc.RAS_ANTAGONISTS | pdc.STATINS
        flagged = Q(**{f"{prefix}maintenance": True})
    else:
        members = pdc.CLASSES[group][1]
        flagged = Q(pk__in=[])
    named = reduce(or_, (Q(**{f"{prefix}substances__icontains": m}) for m in sorted(members)))
    return flagged | named


def _in_group(substances: str, maintenance: bool, group: str) -> bool:
    classes = pdc.classes_of(substances)
    return bool(classes) or maintenance if group == pdc.ALL_MAINTENANCE else group in classes


def _people(site: Site, ids: Iterable[int]) -> dict[int, Patient]:
    return {
        p.pk: p
        for p in Patient.objects.filter(site=site, pk__in=set(ids), status=PatientStatus.ACTIVE)
    }


def _finish(listing: Listing, found: list[tuple[Patient, str, dict[str, Any]]]) -> Listing:
    """Drop the patients who asked not to be contacted (counted) and add the last contacts."""
    last = last_contacts(listing.site, listing.kind, (p.pk for p, _, _ in found))
    for patient, why, figures in found:
        if patient.contact_method == ContactMethod.NONE:
            listing.do_not_contact += 1
            continue
        contact_by, contact = contact_of(patient)
        listing.rows.append(Row(patient, contact_by, contact, why, figures, last.get(patient.pk)))
    return listing


def _with_fills(rxs: Any) -> Any:
    return rxs.select_related("site", "patient", "product").prefetch_related(
        Prefetch("fills", queryset=Fill.objects.order_by("number", "pk"))
    )


def _last_dispensed(state: RxState) -> Fill | None:
    done = [f for f in state.fills if f.status in DISPENSED_FILLS and f.dispensed_on]
    return max(done, key=lambda f: (f.dispensed_on, f.number)) if done else None


def refills_due(
    site: Site, *, ahead: Any = None, behind: Any = None, today: dt.date | None = None
) -> Listing:
    """Active prescriptions with refills left whose last fill's supply runs out within
    ``ahead`` days or ran out at most ``behind`` days ago, with no fill queued or in
    progress; the longest run out first. The database narrows by the last dispensing
    (one condition per distinct days supply: portable SQL without date arithmetic); the
    prescription rules then count the refills left exactly."""
    today = today or site.today()
    ahead_n = _bounded(ahead, "ahead", 0, AHEAD_MAX, AHEAD_DAYS)
    behind_n = _bounded(behind, "behind", 0, BEHIND_MAX, BEHIND_DAYS)
    listing = Listing(ListKind.REFILLS, site, today, {"ahead": ahead_n, "behind": behind_n})
    dispensed = Fill.objects.filter(
        site=site,
        status__in=DISPENSED_FILLS,
        dispensed_on__isnull=False,
        prescription__status=RxStatus.ACTIVE,
        prescription__patient__status=PatientStatus.ACTIVE,
    )
    supplies = set(dispensed.values_list("days_supply", flat=True).distinct())
    window = Q(pk__in=[])
    for supply in supplies:
        window |= Q(
            days_supply=supply,
            dispensed_on__gte=today - dt.timedelta(days=behind_n + supply),
            dispensed_on__lte=today + dt.timedelta(days=ahead_n - supply),
        )
    later = Fill.objects.filter(
        prescription=OuterRef("prescription"),
        status__in=DISPENSED_FILLS,
        dispensed_on__gt=OuterRef("dispensed_on"),
    )
    pending = Fill.objects.filter(prescription=OuterRef("prescription"), status__in=PENDING_FILLS)
    ids = set(
        dispensed.filter(window)
        .filter(~Exists(later), ~Exists(pending))
        .values_list("prescription_id", flat=True)
    )
    rules = state_rules(site)
    found: list[tuple[Patient, str, dict[str, Any]]] = []
    for rx in _with_fills(Prescription.objects.filter(pk__in=ids)):
        state = rx_state(rx, today, rules)
        last = _last_dispensed(state)
        if state.state != "active" or state.pending or state.refills_remaining < 1 or not last:
            continue
        assert last.dispensed_on is not None
        runs_out = last.dispensed_on + dt.timedelta(days=last.days_supply)
        left = (runs_out - today).days
        if not -behind_n <= left <= ahead_n:
            continue
        if left > 0:
            why = f"Rx {rx.number} runs out in {left} day{'s' if left != 1 else ''}"
        elif left == 0:
            why = f"Rx {rx.number} runs out today"
        else:
            why = f"Rx {rx.number} ran out {-left} day{'s' if left != -1 else ''} ago"
        found.append(
            (
                rx.patient,
                why,
                {
                    "rx_number": rx.number,
                    "drug": rx.drug_description,
                    "last_filled_on": last.dispensed_on,
                    "days_supply": last.days_supply,
                    "runs_out_on": runs_out,
                    "days_left": left,
                    "refills_remaining": state.refills_remaining,
                    "auto_refill": rx.auto_refill,
                },
            )
        )
    found.sort(key=lambda f: (f[2]["runs_out_on"], f[0].last_name_key, f[2]["rx_number"]))
    return _finish(listing, found)


def low_adherence(
    site: Site, *, days: Any = None, group: str = "", today: dt.date | None = None
) -> Listing:
    """Patients whose proportion of days covered (rxdesk.outreach.pdc) is below 80 % over
    the last ``days`` days (today included) for a drug of ``group`` — a PQA class or every
    maintenance medication — still prescribed (an active or held prescription: a drug the
    prescriber stopped is no reason to call), one row per patient and drug, the lowest
    first. One query of the dispensings of the period, one of the patients, one of the
    last contacts."""
    today = today or site.today()
    days_n = _bounded(days, "days", PERIOD_MIN, PERIOD_MAX, PERIOD_DAYS)
    group = group or pdc.ALL_MAINTENANCE
    if group != pdc.ALL_MAINTENANCE and group not in pdc.CLASSES:
        raise Invalid(
            "Choose all maintenance medications, diabetes, RAS or statins.", field="group"
        )
    start = today - dt.timedelta(days=days_n - 1)
    listing = Listing(ListKind.ADHERENCE, site, today, {"days": days_n, "group": group})
    fills: dict[tuple[int, str], list[pdc.Dispensing]] = defaultdict(list)
    current: set[tuple[int, str]] = set()  # still prescribed: a stopped drug is no call
    classes: dict[str, list[str]] = {}
    rows = (
        Fill.objects.filter(
            _maintenance_q("prescription__product__", group),
            site=site,
            status=FillStatus.DISPENSED,
            dispensed_on__gte=start,
            dispensed_on__lte=today,
            prescription__patient__status=PatientStatus.ACTIVE,
        )
        .values_list(
            "prescription__patient_id",
            "prescription__product__substances",
            "prescription__product__generic_name",
            "prescription__product__maintenance",
            "dispensed_on",
            "days_supply",
            "prescription__status",
        )
        .order_by()
    )
    for patient_id, substances, generic, maintenance, on, supply, status in rows.iterator(2000):
        if on is None or not _in_group(substances, maintenance, group):
            continue
        key = pdc.drug_key(substances, generic)
        classes.setdefault(key, pdc.classes_of(substances))
        fills[(patient_id, key)].append(pdc.Dispensing(on=on, days_supply=supply))
        if status in (RxStatus.ACTIVE, RxStatus.ON_HOLD):
            current.add((patient_id, key))
    low = []
    for (patient_id, key), dispensings in fills.items():
        if (patient_id, key) not in current:
            continue
        result = pdc.pdc(dispensings, start, today)
        if result.low:
            low.append((patient_id, key, result))
    people = _people(site, (pid for pid, _, _ in low))
    found: list[tuple[Patient, str, dict[str, Any]]] = []
    for patient_id, key, result in low:
        if patient_id not in people:
            continue
        found.append(
            (
                people[patient_id],
                f"{key.title()}: {result.percent}% of days covered",
                {
                    "drug": key.title(),
                    "classes": ", ".join(pdc.CLASSES[c][0] for c in classes[key]),
                    "fills": result.fills,
                    "index_date": result.index_date,
                    "covered_days": result.covered_days,
                    "period_days": result.period_days,
                    "pdc": result.pdc,
                    "pdc_percent": result.percent,
                },
            )
        )
    found.sort(key=lambda f: (f[2]["pdc"], f[0].last_name_key, f[2]["drug"]))
    return _finish(listing, found)


def vaccines_due(site: Site, *, group: str = "", today: dt.date | None = None) -> Listing:
    """Patients due, overdue or coming up for a vaccine: the immunization forecast's own
    list (rxdesk.immunizations.queries_outreach.due_list), overdue first."""
    due = due_list(site, today=today, group=group)
    listing = Listing(ListKind.VACCINES, site, due.today, {"group": due.group})
    listing.do_not_contact = due.do_not_contact
    last = last_contacts(site, ListKind.VACCINES, (r.patient.pk for r in due.rows))
    for r in due.rows:
        first = r.due[0]
        listing.rows.append(
            Row(
                patient=r.patient,
                contact_by=r.contact,
                contact=r.reach,
                why="; ".join(f"{d.status.label}: {d.reason}" for d in r.due),
                figures={
                    "age": r.age,
                    "vaccines": ", ".join(d.vaccine for d in r.due),
                    "status": first.status.label,
                    "due_on": first.due_on,
                    "last_dose_on": r.last_dose.on if r.last_dose else None,
                },
                last=last.get(r.patient.pk),
            )
        )
    return listing


def enrolled_in_sync(site: Site) -> Any:
    """The ids of the patients of ``site`` with an active med sync enrollment (a subquery),
    read from rxdesk.medsync when that app is installed."""
    try:
        model = apps.get_model("medsync", "SyncEnrollment")
    except LookupError:
        return []
    return model.objects.filter(site=site, active=True).values("patient_id")


def sync_eligible(site: Site, *, today: dt.date | None = None) -> Listing:
    """Patients with at least two active maintenance prescriptions with refills left at this
    pharmacy and no active med sync enrollment; the most prescriptions (then the widest
    spread of refill dates) first. Three queries."""
    today = today or site.today()
    listing = Listing(ListKind.SYNC, site, today, {})
    rxs = _with_fills(
        Prescription.objects.filter(
            _maintenance_q("product__", pdc.ALL_MAINTENANCE),
            site=site,
            status=RxStatus.ACTIVE,
            patient__status=PatientStatus.ACTIVE,
        ).exclude(patient_id__in=enrolled_in_sync(site))
    ).order_by("patient_id", "number")
    rules = state_rules(site)
    by_patient: dict[int, list[RxState]] = defaultdict(list)
    people: dict[int, Patient] = {}
    for rx in rxs:
        if not _in_group(rx.product.substances, rx.product.maintenance, pdc.ALL_MAINTENANCE):
            continue
        state = rx_state(rx, today, rules)
        if state.state == "active" and state.refills_remaining > 0:
            by_patient[rx.patient_id].append(state)
            people[rx.patient_id] = rx.patient
    found: list[tuple[Patient, str, dict[str, Any]]] = []
    for patient_id, states in by_patient.items():
        if len(states) < 2:
            continue
        dates = [s.next_fill_on for s in states if s.next_fill_on]
        spread = (max(dates) - min(dates)).days if dates else 0
        found.append(
            (
                people[patient_id],
                f"{len(states)} maintenance prescriptions, refills {spread} days apart",
                {
                    "prescriptions": len(states),
                    "drugs": "; ".join(s.rx.drug_description for s in states),
                    "next_refills": ", ".join(d.strftime("%m/%d") for d in sorted(set(dates))),
                    "spread_days": spread,
                },
            )
        )
    found.sort(key=lambda f: (-f[2]["prescriptions"], -f[2]["spread_days"], f[0].last_name_key))
    return _finish(listing, found)


def build(site: Site, kind: str, filters: dict[str, Any]) -> Listing:
    """The list ``kind`` with its filters (unknown filters ignored)."""
    if kind == ListKind.REFILLS:
        return refills_due(site, ahead=filters.get("ahead"), behind=filters.get("behind"))
    if kind == ListKind.ADHERENCE:
        return low_adherence(site, days=filters.get("days"), group=filters.get("group") or "")
    if kind == ListKind.VACCINES:
        return vaccines_due(site, group=str(filters.get("group") or "").strip()[:40])
    if kind == ListKind.SYNC:
        return sync_eligible(site)
    raise Invalid("Choose refills, adherence, vaccines or sync.", field="kind")


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    return value


def listing_csv(listing: Listing) -> str:
    """One row per line of the list; cells a spreadsheet will not run as formulas."""
    columns = COLUMNS[listing.kind]
    header = [
        "last_name",
        "first_name",
        "date_of_birth",
        "contact_by",
        "contact",
        "why",
        *(key for key, _ in columns),
        "last_contact_at",
        "last_contact_outcome",
    ]
    return to_csv(
        header,
        (
            [
                r.patient.last_name,
                r.patient.first_name,
                r.patient.date_of_birth,
                r.contact_by,
                r.contact,
                r.why,
                *(_cell(r.figures.get(key)) for key, _ in columns),
                r.last.at.astimezone(listing.site.tz).strftime("%Y-%m-%d %H:%M") if r.last else "",
                r.last.outcome_label if r.last else "",
            ]
            for r in listing.rows
        ),
    )
