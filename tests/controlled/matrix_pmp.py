"""Permission-matrix rows for the PMP (ASAP) files: API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX, UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX. Written by hand from the specification:

* making, reading, downloading and marking PMP files is cs.pmp: the pharmacist and the
  pharmacist-in-charge; nobody else (the files name patients);
* a file is made for a pharmacy whose identifiers and address are on file (``pmp_ready``).

Also the set-up helpers the PMP tests share: a site ready to report, a controlled fill
taken through the real fill workflow (and, when asked, the counter with an ID shown)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rxdesk.controlled.models import PmpRecord, PmpSubmission
from rxdesk.controlled.services_pmp import pmp_daily
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient
from rxdesk.pos.services.pickup import pickup_record, pickup_start
from rxdesk.pos.services.sales import TenderIn, sale_pay
from rxdesk.rx.models import Fill
from rxdesk.rx.services import workflow
from tests.factories import UserFactory
from tests.inventory.factories import stock
from tests.pos.factories import price, signature
from tests.rx.factories import first_fill, make_rx

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
PMP_USERS = frozenset({RPH, PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/controlled/pmp"

# Fictitious identifiers with good check digits (the reference's synthetic example).
SITE_DEA = "BA1234563"
SITE_NPI = "1234567893"


# --- set-up helpers ---------------------------------------------------------------------------


def pmp_ready(site: Site) -> Site:
    """The pharmacy's identifiers, address and phone, as a PMP file needs them."""
    site.npi = SITE_NPI
    site.ncpdp_id = site.ncpdp_id or "7654321"
    site.dea_number = SITE_DEA
    site.address_line1 = "100 Main St"
    site.address_line2 = "Suite 2"
    site.city = "Springfield"
    site.state = "IL"
    site.postal_code = "62701"
    site.phone = "2175550100"
    site.save()
    return site


def pharmacist_of(site: Site) -> User:
    name = f"pmp-rph-{site.pk}"
    return User.objects.filter(username=name).first() or UserFactory(
        site=site, role=RPH, username=name, first_name="Rita", last_name="Singh"
    )


def clerk_of(site: Site) -> User:
    name = f"pmp-tech-{site.pk}"
    return User.objects.filter(username=name).first() or UserFactory(
        site=site, role=T, username=name
    )


def home(patient: Patient, **over: Any) -> Patient:
    """A patient's address and phone on file."""
    values = {
        "address_line1": "12 Elm St",
        "city": "Springfield",
        "state": "IL",
        "postal_code": "62704",
        "phone_mobile": "2175550199",
    }
    values.update(over)
    for key, value in values.items():
        setattr(patient, key, value)
    patient.save()
    return patient


def ready_fill(site: Site, *, schedule: str = "CII", quantity: str = "30", **over: Any) -> Fill:
    """A new prescription's first fill through the real workflow: data-verified, counted
    out (today) and final-verified, waiting in will-call. The patient has an address."""
    tech, rph = clerk_of(site), pharmacist_of(site)
    values: dict[str, Any] = {"schedule": schedule, "quantity": Decimal(quantity)}
    if schedule == "CII":
        values["refills_authorized"] = 0
    values.update(over)
    rx = make_rx(tech, **values)
    home(rx.patient)
    stock(site, rx.package, lot="PMP-LOT", quantity=500)
    fill = workflow.fill_data_verify(actor=rph, fill=first_fill(rx))
    fill = workflow.fill_product(actor=tech, fill=fill, scanned_code=rx.package.ndc10)
    return workflow.fill_final_verify(actor=rph, fill=fill)


def sell(fill: Fill, *, id_shown: bool = True, person: str = "caregiver") -> Fill:
    """The fill picked up at the counter and paid by card; the person showed an Illinois
    driver's licence."""
    site = fill.site
    tech = clerk_of(site)
    price(fill.prescription.package, "45.00")
    sale = pickup_start(actor=tech, patient=fill.prescription.patient, fills=[fill])
    values: dict[str, Any] = {
        "person": person,
        "person_name": "John Q Doe" if person != "patient" else "",
        "relationship": "spouse" if person != "patient" else "",
        "date_of_birth": fill.prescription.patient.date_of_birth,
        "second_identifier": "photo_id",
        "counseling": "declined",
        "signature": signature(),
    }
    if id_shown:
        values |= {
            "id_type": "drivers_license",
            "id_number": "D98765432",
            "id_state": "IL",
            "id_expiry": site.today() + dt.timedelta(days=400),
        }
    pickup_record(actor=tech, sale=sale, **values)
    sale_pay(actor=tech, sale=sale, tenders=[TenderIn("card", "45.00", reference="4242 OK")])
    fill.refresh_from_db()
    return fill


def submission(site: Site) -> PmpSubmission:
    """Yesterday's file of the site (a zero report), made by the real service."""
    pmp_ready(site)
    day = site.today() - dt.timedelta(days=1)
    found = PmpSubmission.objects.filter(site=site, period_start=day).first()
    return found or pmp_daily(actor=pharmacist_of(site), day=day)


# --- API rows ---------------------------------------------------------------------------------


def _daily(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    pmp_ready(site)
    return f"{P}/daily", {"day": (site.today() - dt.timedelta(days=2)).isoformat()}


def _range(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    pmp_ready(site)
    today = site.today()
    return f"{P}/range", {
        "start": (today - dt.timedelta(days=5)).isoformat(),
        "end": (today - dt.timedelta(days=4)).isoformat(),
    }


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/controlled/pmp/submissions"): (
        PMP_USERS,
        200,
        lambda s, u: (f"{P}/submissions", None),
    ),
    ("POST", "/controlled/pmp/daily"): (PMP_USERS, 201, _daily),
    ("POST", "/controlled/pmp/range"): (PMP_USERS, 201, _range),
    ("GET", "/controlled/pmp/submissions/{submission_id}"): (
        PMP_USERS,
        200,
        lambda s, u: (f"{P}/submissions/{submission(s).pk}", None),
    ),
    ("GET", "/controlled/pmp/submissions/{submission_id}/file"): (
        PMP_USERS,
        200,
        lambda s, u: (f"{P}/submissions/{submission(s).pk}/file", None),
    ),
    ("POST", "/controlled/pmp/submissions/{submission_id}/status"): (
        PMP_USERS,
        200,
        lambda s, u: (f"{P}/submissions/{submission(s).pk}/status", {"status": "sent"}),
    ),
}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _file(site: Site) -> dict[str, Any]:
    return {"pk": submission(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "cs_pmp": (_none, PMP_USERS, PMP_USERS, 422),
    "cs_pmp_detail": (_file, PMP_USERS, NOBODY, None),
    "cs_pmp_file": (_file, PMP_USERS, NOBODY, None),
    "cs_pmp_status": (_file, None, PMP_USERS, 422),
}
WATCHED: list[Any] = [PmpSubmission, PmpRecord]
