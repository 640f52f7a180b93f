"""Reads of patients due for vaccines by age and history (the outreach list).

:func:`due_list` runs the pure forecast (rxdesk.immunizations.forecast) over every active
patient of a site in three queries whatever the number of patients; :func:`due_for` does
it for one patient (the patient's immunization page shows it). Opening or exporting the
list is recorded as PHI access by rxdesk.immunizations.services_outreach."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from rxdesk.core.models import Site
from rxdesk.core.validators import format_phone
from rxdesk.immunizations import forecast
from rxdesk.immunizations.choices import Completion, RecordStatus
from rxdesk.immunizations.common import settings_of
from rxdesk.immunizations.models import Immunization
from rxdesk.immunizations.queries_catalog import to_csv
from rxdesk.patients.choices import ContactMethod, PatientStatus
from rxdesk.patients.models import Patient

# The groups the outreach list can be filtered by, in the order the rules list them.
GROUPS: list[tuple[str, str]] = [(r.group, r.vaccine) for r in forecast.RULES]
MAX_PAGE = 1000


@dataclass(frozen=True)
class LastDose:
    on: dt.date
    cvx: str
    vaccine: str


@dataclass
class OutreachRow:
    patient: Patient
    age: int
    due: list[forecast.Due]
    last_dose: LastDose | None
    contact: str  # the preferred way, in words
    reach: str  # the number or address for it ("" when none on file)

    @property
    def worst(self) -> forecast.Status:
        return self.due[0].status


@dataclass
class DueList:
    today: dt.date
    group: str
    rows: list[OutreachRow] = field(default_factory=list)
    do_not_contact: int = 0  # due, but asked not to be contacted: left out
    too_young: int = 0  # younger than the pharmacy may vaccinate: left out

    @property
    def overdue(self) -> int:
        return sum(1 for r in self.rows if r.worst == forecast.Status.OVERDUE)


def _local_date(site: Site, when: dt.datetime) -> dt.date:
    return when.astimezone(site.tz).date()


def _history(site: Site, patient_ids: list[int] | None = None) -> dict[int, list[tuple]]:
    """patient id → [(cvx, groups, date, short description)] of the doses that count:
    recorded (not entered in error) and given in full."""
    qs = Immunization.objects.filter(
        site=site, status=RecordStatus.RECORDED, completion=Completion.COMPLETE
    )
    if patient_ids is not None:
        qs = qs.filter(patient_id__in=patient_ids)
    out: dict[int, list[tuple]] = defaultdict(list)
    for pid, cvx, groups, when, words in qs.values_list(
        "patient_id",
        "vaccine__cvx",
        "vaccine__groups",
        "administered_at",
        "vaccine__short_description",
    ).iterator(chunk_size=2000):
        out[pid].append((cvx, tuple(groups or ()), _local_date(site, when), words))
    return out


def _contact(p: Patient) -> tuple[str, str]:
    method = ContactMethod(p.contact_method) if p.contact_method in ContactMethod.values else None
    phone = p.phone_mobile or p.phone_home or p.phone_work
    if method == ContactMethod.SMS:
        return method.label, format_phone(p.phone_mobile) if p.phone_mobile else ""
    if method == ContactMethod.EMAIL:
        return method.label, p.email
    return ContactMethod.PHONE.label, format_phone(phone) if phone else ""


def _matches(due: forecast.Due, group: str) -> bool:
    return not group or due.group.lower() == group.lower()


def _row(p: Patient, today: dt.date, history: list[tuple], group: str) -> OutreachRow | None:
    due = [
        d
        for d in forecast.forecast(p.date_of_birth, today, [h[:3] for h in history])
        if _matches(d, group)
    ]
    if not due:
        return None
    wanted = {d.group.lower() for d in due} if group else None
    doses = [
        h
        for h in history
        if h[2] <= today and (wanted is None or wanted & {g.lower() for g in h[1]})
    ]
    last = max(doses, key=lambda h: h[2], default=None)
    contact, reach = _contact(p)
    return OutreachRow(
        patient=p,
        age=forecast.age_in_years(p.date_of_birth, today),
        due=due,
        last_dose=LastDose(last[2], last[0], last[3]) if last else None,
        contact=contact,
        reach=reach,
    )


def due_list(site: Site, today: dt.date | None = None, group: str | None = None) -> DueList:
    """Active patients of ``site`` due, overdue or coming up for a vaccine (of ``group``
    when given: a CDC vaccine group such as FLU), the overdue first. Patients who asked
    not to be contacted, and children younger than the pharmacy may vaccinate (its
    immunization settings), are left out and counted. Three queries."""
    today = today or site.today()
    group = (group or "").strip()
    minimum_months = settings_of(site).minimum_age_months
    youngest = forecast.add_months(today, -minimum_months) if minimum_months else today
    patients = list(
        Patient.objects.filter(site=site, status=PatientStatus.ACTIVE).order_by(
            "last_name_key", "first_name_key", "pk"
        )
    )
    history = _history(site)
    result = DueList(today=today, group=group)
    for p in patients:
        row = _row(p, today, history.get(p.pk, []), group)
        if row is None:
            continue
        if p.date_of_birth > youngest:
            result.too_young += 1
        elif p.contact_method == ContactMethod.NONE:
            result.do_not_contact += 1
        else:
            result.rows.append(row)
    order = {forecast.Status.OVERDUE: 0, forecast.Status.DUE: 1, forecast.Status.COMING_UP: 2}
    result.rows.sort(key=lambda r: (order[r.worst], r.due[0].due_on))
    return result


def due_for(patient: Patient, today: dt.date | None = None) -> list[forecast.Due]:
    """The vaccines one patient is due, overdue or coming up for (from the doses recorded
    at the patient's pharmacy)."""
    site = patient.site
    today = today or site.today()
    history = _history(site, [patient.pk]).get(patient.pk, [])
    return forecast.forecast(patient.date_of_birth, today, [h[:3] for h in history])


def due_csv(listing: DueList) -> str:
    """One row per patient and vaccine due; cells a spreadsheet will not run as formulas."""
    rows = []
    for r in listing.rows:
        p = r.patient
        for d in r.due:
            rows.append(
                [
                    p.last_name,
                    p.first_name,
                    p.date_of_birth,
                    r.age,
                    d.vaccine,
                    d.status.label,
                    d.due_on,
                    d.reason,
                    r.last_dose.on if r.last_dose else "",
                    r.last_dose.vaccine if r.last_dose else "",
                    r.contact,
                    r.reach,
                ]
            )
    return to_csv(
        [
            "last_name",
            "first_name",
            "date_of_birth",
            "age",
            "vaccine",
            "status",
            "due_on",
            "reason",
            "last_dose_on",
            "last_dose",
            "contact_by",
            "contact",
        ],
        rows,
    )
