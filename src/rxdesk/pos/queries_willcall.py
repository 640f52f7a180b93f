"""Will-call: what is waiting in the bins for a patient and the household, found by a bag
label scan, a date of birth, a bin or a name.

Every search is a look at patient records, so it writes one PHI-access audit event (the
query text itself is not kept: it may be a name or a birth date)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from rxdesk.catalog.choices import Storage
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.patients.models import Patient, key_prefix, name_key
from rxdesk.pos import pricing
from rxdesk.pos.choices import DeliveryStatus
from rxdesk.pos.models import Delivery, SaleLine
from rxdesk.pos.services.common import EDITABLE, settings_of
from rxdesk.rx import queries as rx_queries
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill, Prescription, RxSettings
from rxdesk.rx.services.common import settings_of as rx_settings_of

register_actions({"pos.willcall.searched": "Will-call searched (PHI access)"})

IN_PROGRESS = (
    FillStatus.QUEUED,
    FillStatus.SCHEDULED,
    FillStatus.TO_FILL,
    FillStatus.FILLED,
    FillStatus.ON_HOLD,
)
LIVE_DELIVERY = (DeliveryStatus.PENDING, DeliveryStatus.OUT)
MAX_PATIENTS = 20
REFILL_HORIZON_DAYS = 7
SCHEDULE_DIGITS = {"CI": "1", "CII": "2", "CIII": "3", "CIV": "4", "CV": "5"}

BAG_LABEL = re.compile(r"^(\d{1,9})\s*[-\s]\s*(\d{1,3})$")
ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
PACKED_DATE = re.compile(r"^(\d{2})(\d{2})(\d{4})$")
BIN = re.compile(r"^bin\s+(\S{1,10})$", re.IGNORECASE)


# --- Shared by the pickup and delivery services ------------------------------------------------


def schedule_digit(rx: Prescription) -> str:
    """'2' for a Schedule II prescription … '5' for V; '' when not controlled."""
    return SCHEDULE_DIGITS.get((rx.schedule or "").strip().upper(), "")


def id_schedules(site: Site) -> set[str]:
    return {s.strip() for s in settings_of(site).cs_id_schedules.split(",") if s.strip()}


def return_deadline(fill: Fill, site: Site, *, days: int | None = None) -> dt.date | None:
    """The last day a ready fill may be sold on its claim (date of service + the site's
    return-to-stock days, or ``days`` when the caller read them already); None when it has
    no date of service."""
    if fill.dispensed_on is None:
        return None
    if days is None:
        days = rx_settings_of(site).return_to_stock_days
    return fill.dispensed_on + dt.timedelta(days=days)


def past_return_window(
    fill: Fill, site: Site, today: dt.date | None = None, *, days: int | None = None
) -> bool:
    deadline = return_deadline(fill, site, days=days)
    return deadline is not None and deadline < (today or site.today())


def fills_on_delivery(fill_ids: Iterable[int], exclude_delivery: int | None = None) -> set[int]:
    """Of ``fill_ids``, those on a delivery waiting for a driver or out on the road."""
    qs = Delivery.objects.filter(status__in=LIVE_DELIVERY, fills__in=list(fill_ids))
    if exclude_delivery is not None:
        qs = qs.exclude(pk=exclude_delivery)
    return set(qs.values_list("fills", flat=True)) & set(fill_ids)


def fills_on_open_sale(fill_ids: Iterable[int], exclude_sale: int | None = None) -> set[int]:
    """Of ``fill_ids``, those on a sale still open at a register (or waiting to counsel)."""
    qs = SaleLine.objects.filter(fill_id__in=list(fill_ids), sale__status__in=EDITABLE)
    if exclude_sale is not None:
        qs = qs.exclude(sale_id=exclude_sale)
    return {pk for pk in qs.values_list("fill_id", flat=True) if pk is not None}


# --- What the counter sees ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReadyFill:
    """A bag in a will-call bin."""

    fill: Fill
    rx: Prescription
    drug: str
    quantity: Decimal
    bin: str
    ready_at: dt.datetime | None
    refrigerated: bool
    schedule: str  # '2'…'5', '' when not controlled
    price: Decimal | None
    past_return_window: bool
    on_delivery: bool

    @property
    def code(self) -> str:
        return f"{self.rx.number}-{self.fill.number}"


@dataclass(frozen=True)
class InProgress:
    fill: Fill
    rx: Prescription
    drug: str
    step: str


@dataclass(frozen=True)
class RefillDue:
    rx: Prescription
    drug: str
    due_on: dt.date


@dataclass(frozen=True)
class MemberReady:
    """Another member of the household and what is ready for them."""

    patient: Patient
    ready: list[ReadyFill]


@dataclass(frozen=True)
class WillCall:
    """A patient's will-call. A search result (``will_call_search``) carries the patient,
    the ready bags and the household's ready bags only: ``in_progress`` and ``refills_due``
    are left empty there and filled by ``will_call_for`` (the card)."""

    patient: Patient
    ready: list[ReadyFill]
    household: list[MemberReady] = field(default_factory=list)
    in_progress: list[InProgress] = field(default_factory=list)
    refills_due: list[RefillDue] = field(default_factory=list)
    privacy_notice_on_file: bool = False
    id_required: bool = False

    @property
    def refrigerated(self) -> bool:
        return any(r.refrigerated for r in self.ready) or any(
            r.refrigerated for m in self.household for r in m.ready
        )


def _ready_qs(site: Site) -> QuerySet[Fill]:
    return Fill.objects.filter(site=site, status=FillStatus.READY).select_related(
        "prescription__patient",
        "prescription__product",
        "prescription__package",
        "package__product",
    )


def is_cold(fill: Fill) -> bool:
    product = fill.package.product if fill.package else fill.prescription.product
    return product.storage in (Storage.REFRIGERATE, Storage.FREEZE) or bool(product.cold_chain)


def _ready_by_patient(
    site: Site, patient_ids: Iterable[int], rx_settings: RxSettings | None = None
) -> dict[int, list[ReadyFill]]:
    """The bags in will-call of each of ``patient_ids``, oldest first, in a fixed number of
    queries however many patients: the fills (with their drug and package), the deliveries,
    the prices and the return-to-stock days (unless ``rx_settings`` are given)."""
    ids = set(patient_ids)
    out: dict[int, list[ReadyFill]] = {pk: [] for pk in ids}
    if not ids:
        return out
    fills = list(
        _ready_qs(site).filter(prescription__patient_id__in=ids).order_by("ready_at", "pk")
    )
    if not fills:
        return out
    delivering = fills_on_delivery([f.pk for f in fills])
    prices = pricing.fill_prices(fills)
    days = (rx_settings or rx_settings_of(site)).return_to_stock_days
    today = site.today()
    for f in fills:
        out[f.prescription.patient_id].append(
            ReadyFill(
                fill=f,
                rx=f.prescription,
                drug=f.prescription.drug_description,
                quantity=f.quantity,
                bin=f.bin,
                ready_at=f.ready_at,
                refrigerated=is_cold(f),
                schedule=schedule_digit(f.prescription),
                price=prices[f.pk],
                past_return_window=past_return_window(f, site, today, days=days),
                on_delivery=f.pk in delivering,
            )
        )
    return out


def ready_fills(site: Site, patient: Patient) -> list[ReadyFill]:
    """The patient's bags in will-call, oldest first."""
    return _ready_by_patient(site, [patient.pk])[patient.pk]


def _in_progress(site: Site, patient: Patient) -> list[InProgress]:
    fills = (
        Fill.objects.filter(site=site, prescription__patient=patient, status__in=IN_PROGRESS)
        .select_related("prescription")
        .order_by("requested_at", "pk")
    )
    return [
        InProgress(
            fill=f,
            rx=f.prescription,
            drug=f.prescription.drug_description,
            step=f.get_status_display(),
        )
        for f in fills
    ]


def _refills_due(actor: User, patient: Patient, rx_settings: RxSettings) -> list[RefillDue]:
    profile = rx_queries.patient_profile(actor=actor, patient=patient, settings=rx_settings)
    horizon = profile.today + dt.timedelta(days=REFILL_HORIZON_DAYS)
    return [
        RefillDue(rx=s.rx, drug=s.rx.drug_description, due_on=s.next_fill_on)
        for s in profile.active
        if s.can_fill and s.pending is None and s.next_fill_on and s.next_fill_on <= horizon
    ]


def _members(patients: list[Patient], *, reread: bool) -> dict[int, list[Patient]]:
    """The other members of each patient's household, in one query (none when nobody is in
    a household). ``reread``: take each patient's household as saved now, not as on the
    object (which may be older than a household change)."""
    ids = [p.pk for p in patients]
    if reread:
        households = Q(
            household_id__in=Patient.objects.filter(pk__in=ids, household__isnull=False).values(
                "household_id"
            )
        )
    else:
        known = {p.household_id for p in patients if p.household_id is not None}
        if not known:
            return {pk: [] for pk in ids}
        households = Q(household_id__in=known)
    everyone = list(
        Patient.objects.filter(households).order_by("last_name_key", "first_name_key", "pk")
    )
    wanted = set(ids)
    household_of = {p.pk: p.household_id for p in everyone if p.pk in wanted}
    return {
        pk: [
            m
            for m in everyone
            if pk in household_of and m.household_id == household_of[pk] and m.pk != pk
        ]
        for pk in ids
    }


def _will_calls(
    site: Site,
    patients: list[Patient],
    *,
    reread: bool,
    rx_settings: RxSettings | None = None,
) -> list[WillCall]:
    """Each patient's bags and the household's, without what is in progress or due, in a
    fixed number of queries."""
    if not patients:
        return []
    members = _members(patients, reread=reread)
    ready = _ready_by_patient(
        site, {p.pk for p in patients} | {m.pk for ms in members.values() for m in ms}, rx_settings
    )
    controlled = any(r.schedule for bags in ready.values() for r in bags)
    needs_id = id_schedules(site) if controlled else set()
    found = []
    for patient in patients:
        household = [MemberReady(patient=m, ready=ready[m.pk]) for m in members[patient.pk]]
        every = [*ready[patient.pk], *(r for m in household for r in m.ready)]
        found.append(
            WillCall(
                patient=patient,
                ready=ready[patient.pk],
                household=household,
                privacy_notice_on_file=patient.privacy_notice != "",
                id_required=any(r.schedule and r.schedule in needs_id for r in every),
            )
        )
    return found


def _date(q: str) -> dt.date | None:
    for pattern, order in ((ISO_DATE, "ymd"), (US_DATE, "mdy"), (PACKED_DATE, "mdy")):
        found = pattern.match(q)
        if found:
            parts = dict(zip(order, (int(g) for g in found.groups()), strict=True))
            try:
                return dt.date(parts["y"], parts["m"], parts["d"])
            except ValueError:
                raise Invalid(
                    "That is not a real date: type the date of birth as MM/DD/YYYY.", field="q"
                ) from None
    return None


def _patients_for(site: Site, q: str) -> tuple[str, list[Patient]]:
    """(how the query was read, the patients it names)."""
    text = " ".join(q.split())
    patients = Patient.objects.filter(site=site)
    label = BAG_LABEL.match(text)
    if label:
        rx_number, fill_number = int(label.group(1)), int(label.group(2))
        # prescription__site as well, so that the (site, number) unique index finds the
        # prescription (on PostgreSQL a plan by number alone walked the index's second column).
        fill = (
            Fill.objects.filter(
                site=site,
                prescription__site=site,
                prescription__number=rx_number,
                number=fill_number,
            )
            .select_related("prescription__patient")
            .first()
        )
        return "bag_label", [fill.prescription.patient] if fill else []
    born = _date(text)
    if born is not None:
        return "date_of_birth", list(
            patients.filter(date_of_birth=born).order_by("last_name_key", "first_name_key")[
                :MAX_PATIENTS
            ]
        )
    in_bin = BIN.match(text)
    if in_bin or (len(text) <= 2 and not text.isalpha()) or len(text) == 1:
        where = (in_bin.group(1) if in_bin else text).upper()
        in_it = Fill.objects.filter(site=site, status=FillStatus.READY, bin=where)
        return "bin", list(
            patients.filter(pk__in=in_it.values("prescription__patient_id")).order_by(
                "last_name_key", "first_name_key"
            )[:MAX_PATIENTS]
        )
    last, _, first = text.partition(",") if "," in text else text.partition(" ")
    last_key, first_key = name_key(last), name_key(first)
    if not last_key:
        raise Invalid("Scan the bag label, or type a name, a date of birth or a bin.", field="q")
    found = patients.filter(key_prefix("last_name_key", last_key))
    if first_key:
        found = found.filter(key_prefix("first_name_key", first_key))
    # Patients with bags waiting come first (of the first MAX_PATIENTS * 5 by name).
    waiting = Fill.objects.filter(
        site=site, status=FillStatus.READY, prescription__patient=OuterRef("pk")
    )
    ordered = sorted(
        found.annotate(waiting=Exists(waiting)).order_by("last_name_key", "first_name_key", "pk")[
            : MAX_PATIENTS * 5
        ],
        key=lambda p: (not p.waiting,),
    )
    shown: list[Patient] = list(ordered[:MAX_PATIENTS])
    return "name", shown


def _audit_search(actor: User, site: Site, by: str, patients: list[Patient]) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            site=site,
            action="pos.willcall.searched",
            object_type="patients.patient",
            object_id=patients[0].pk if len(patients) == 1 else "",
            patient_id=patients[0].pk if len(patients) == 1 else None,
            data={"by": by, "patients": [p.pk for p in patients]},
        )


def will_call_search(*, actor: User, q: str) -> list[WillCall]:
    """Patients matching ``q`` with what waits for them: ``q`` is a bag label ("1042-0"), a
    date of birth (YYYY-MM-DD, MM/DD/YYYY, MMDDYYYY), a bin ("bin D") or a name ("doe",
    "doe, ja", "doe ja").

    A result lists the patient's and the household's ready bags only (``in_progress`` and
    ``refills_due`` stay empty: ``will_call_for`` fills them), read in a fixed number of
    queries whatever the number of patients found."""
    authorize(actor, Cap.RX_SELL)
    site = actor.site
    assert site is not None
    text = (q or "").strip()
    if not text:
        raise Invalid("Scan the bag label, or type a name, a date of birth or a bin.", field="q")
    if len(text) > 100:
        raise Invalid("That search is too long.", field="q")
    by, patients = _patients_for(site, text)
    result = _will_calls(site, patients, reread=False)
    _audit_search(actor, site, by, patients)
    return result


def will_call_for(*, actor: User, patient: Patient) -> WillCall:
    """One patient's will-call, with the household's bags."""
    authorize(actor, Cap.RX_SELL)
    if patient.site_id != actor.site_id:
        raise NotFound("No such patient at this pharmacy.")
    site = actor.site
    assert site is not None
    rx_settings = rx_settings_of(site)
    [card] = _will_calls(site, [patient], reread=True, rx_settings=rx_settings)
    found = replace(
        card,
        in_progress=_in_progress(site, patient),
        refills_due=_refills_due(actor, patient, rx_settings),
    )
    _audit_search(actor, site, "patient", [patient])
    return found


def patient_get(*, actor: User, patient_id: int) -> Patient:
    """A patient of the actor's pharmacy by id (others do not exist here)."""
    authorize(actor, Cap.RX_SELL)
    found = Patient.objects.filter(site_id=actor.site_id, pk=patient_id).first()
    if found is None:
        raise NotFound("No such patient at this pharmacy.")
    return found


def fills_get(*, actor: User, fill_ids: Iterable[int]) -> list[Fill]:
    """Fills of the actor's pharmacy by id, in the order asked; an unknown id is refused
    naming ``fill_ids``."""
    authorize(actor, Cap.RX_SELL)
    ids = list(dict.fromkeys(fill_ids))
    found = {
        f.pk: f
        for f in Fill.objects.filter(site_id=actor.site_id, pk__in=ids).select_related(
            "prescription__patient"
        )
    }
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid(f"No such prescription fill here: {missing[0]}.", field="fill_ids")
    return [found[i] for i in ids]


__all__ = ["ReadyFill", "WillCall", "will_call_for", "will_call_search"]
