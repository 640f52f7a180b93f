"""A demo pharmacy: one site, a sign-in per role, fictional patients and prescribers.

Everything is written through the services, so the demo's audit chain is real. All names,
numbers and addresses are made up; NPIs and DEA numbers are generated with valid check
digits but belong to no one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from rxdesk.care.demo import demo_care_load
from rxdesk.catalog.models import ApplicationProduct, ImportRun, Product
from rxdesk.catalog.services import catalog_import_ndc, catalog_import_te
from rxdesk.claims.demo import demo_claims_load
from rxdesk.compounding.demo import demo_compounding_load
from rxdesk.controlled.demo import demo_controlled_load
from rxdesk.core.choices import Certification, PracticeSetting, Role
from rxdesk.core.identifiers import dea_check_digit, npi_check_digit
from rxdesk.core.maintenance import db_optimize
from rxdesk.core.models import Site, User
from rxdesk.core.services import site_create, staff_create, staff_update
from rxdesk.immunizations.demo import demo_immunizations_load
from rxdesk.institutional.demo import demo_institutional_load
from rxdesk.inventory.demo import demo_inventory_load
from rxdesk.patients import services as patients
from rxdesk.patients.choices import AllergenKind, Severity
from rxdesk.pos.demo import demo_pos_load
from rxdesk.rx.demo import demo_rx_load
from rxdesk.screening.demo import demo_screening_load

DEMO_SITE = "Riverside Community Pharmacy"
# A real subset of the FDA NDC Directory and Drugs@FDA, made by bench/make_demo_catalog.py.
DEMO_CATALOG = Path(__file__).resolve().parent / "catalog" / "data"
DEMO_PASSWORD = "riverside-demo-2026"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    first_name: str
    last_name: str


DEMO_USERS = [
    DemoUser("tech", Role.TECHNICIAN, "Tasha", "Nguyen"),
    DemoUser("trainee", Role.TECHNICIAN_IN_TRAINING, "Omar", "Haddad"),
    DemoUser("pharmacist", Role.PHARMACIST, "Priya", "Raman"),
    DemoUser("pic", Role.PHARMACIST_IN_CHARGE, "Carlos", "Mendes"),
    DemoUser("inventory", Role.INVENTORY_SPECIALIST, "Irene", "Kowalski"),
    DemoUser("auditor", Role.AUDITOR, "Alan", "Brooks"),
    DemoUser("admin", Role.ADMIN, "Dana", "Whitfield"),
]


def fake_npi(serial: int) -> str:
    first_nine = f"1{serial:08d}"
    return first_nine + str(npi_check_digit(first_nine))


def fake_dea(last_name: str, serial: int, letter: str = "B") -> str:
    six = f"{serial:06d}"
    return f"{letter}{last_name[0].upper()}{six}{dea_check_digit(six)}"


PRESCRIBERS = [
    ("Margaret", "Okafor", "MD", "Family medicine"),
    ("Daniel", "Whitaker", "DO", "Internal medicine"),
    ("Sofia", "Alvarez", "NP", "Pediatrics"),
    ("James", "Lindqvist", "MD", "Cardiology"),
    ("Hannah", "Becker", "PA", "Urgent care"),
    ("Robert", "Tanaka", "DDS", "Dentistry"),
    ("Aisha", "Rahman", "MD", "Psychiatry"),
    ("Peter", "Novak", "MD", "Orthopedic surgery"),
]

PATIENTS = [
    # first, last, dob, sex, language, allergies [(allergen, kind, reaction, severity)]
    (
        "Maria",
        "Garcia",
        dt.date(1958, 3, 14),
        "F",
        "es",
        [("Penicillins", AllergenKind.DRUG_CLASS, "Hives", Severity.MODERATE)],
    ),
    (
        "John",
        "Smith",
        dt.date(1949, 11, 2),
        "M",
        "en",
        [("Sulfonamide antibiotics", AllergenKind.DRUG_CLASS, "Rash", Severity.MILD)],
    ),
    ("Linda", "Johnson", dt.date(1972, 6, 21), "F", "en", []),
    (
        "Wei",
        "Chen",
        dt.date(1985, 1, 9),
        "M",
        "zh",
        [("Codeine", AllergenKind.INGREDIENT, "Nausea and vomiting", Severity.MILD)],
    ),
    (
        "Aaliyah",
        "Washington",
        dt.date(1994, 8, 30),
        "F",
        "en",
        [("Peanut", AllergenKind.NON_DRUG, "Anaphylaxis", Severity.LIFE_THREATENING)],
    ),
    ("Thanh", "Tran", dt.date(1966, 12, 5), "F", "vi", []),
    (
        "Robert",
        "Miller",
        dt.date(1939, 4, 17),
        "M",
        "en",
        [("Aspirin", AllergenKind.INGREDIENT, "Wheezing", Severity.SEVERE)],
    ),
    ("Emily", "Davis", dt.date(2016, 9, 3), "F", "en", []),
    ("José", "Hernández", dt.date(1980, 2, 28), "M", "es", []),
    (
        "Grace",
        "O'Neill",
        dt.date(1955, 7, 11),
        "F",
        "en",
        [("Lisinopril", AllergenKind.INGREDIENT, "Angioedema", Severity.LIFE_THREATENING)],
    ),
]


def demo_load() -> Site:
    """Create the demo pharmacy if it is not there yet, with its drug catalog; return it.
    Ends by refreshing the planner's statistics (``db_optimize``), as after any bulk load."""
    site = _demo_load()
    db_optimize()
    return site


def _demo_load() -> Site:
    existing = Site.objects.filter(name=DEMO_SITE).first()
    if existing:
        demo_catalog_load(User.objects.filter(site=existing, username="pic").first())
        demo_inventory_load(existing)
        demo_rx_load(existing)
        demo_pos_load(existing)
        demo_screening_load(existing)
        demo_claims_load(existing)
        demo_controlled_load(existing)
        demo_compounding_load(existing)
        demo_institutional_load(existing, DEMO_PASSWORD)
        demo_immunizations_load(existing)
        demo_care_load(existing)
        demo_running_load(existing)
        return existing
    with transaction.atomic():
        site = _site()
        users = {u.username: _user(site, u) for u in DEMO_USERS}
        pic = users["pic"]
        for i, (first, last, credential, specialty) in enumerate(PRESCRIBERS, start=1):
            prescriber = patients.prescriber_create(
                actor=pic,
                first_name=first,
                last_name=last,
                credential=credential,
                specialty=specialty,
                npi=fake_npi(23450000 + i * 17),
                dea_number=fake_dea(last, 100000 + i * 7919) if credential != "PA" or i % 2 else "",
                state_license=f"036.{100000 + i}",
                state_license_state="IL",
            )
            patients.prescriber_address_add(
                actor=pic,
                prescriber=prescriber,
                label=f"{last} Clinic",
                address_line1=f"{200 + i * 10} Oak Avenue",
                city="Springfield",
                state="IL",
                postal_code="62704",
                phone=f"217555{1100 + i:04d}",
                fax=f"217555{1200 + i:04d}",
            )
        tech = users["tech"]
        for i, (first, last, dob, sex, lang, allergies) in enumerate(PATIENTS, start=1):
            patient = patients.patient_create(
                actor=tech,
                first_name=first,
                last_name=last,
                date_of_birth=dob,
                sex=sex,
                preferred_language=lang,
                address_line1=f"{i * 13} Elm Street",
                city="Springfield",
                state="IL",
                postal_code="62702",
                phone_mobile=f"217555{2000 + i:04d}",
                privacy_notice="signed",
                privacy_notice_on=dt.date(2026, 1, 5),
            )
            if allergies:
                for allergen, kind, reaction, severity in allergies:
                    patients.allergy_add(
                        actor=tech,
                        patient=patient,
                        allergen=allergen,
                        allergen_kind=kind,
                        reaction=reaction,
                        severity=severity,
                    )
            else:
                patients.patient_record_no_known_allergies(actor=tech, patient=patient)
            patients.measurement_record(
                actor=tech, patient=patient, kind="weight", value=str(20 + i * 7), unit="kg"
            )
        demo_catalog_load(pic)
        demo_inventory_load(site)
        demo_rx_load(site)
        demo_pos_load(site)
        demo_screening_load(site)
        demo_claims_load(site)
        demo_controlled_load(site)
        demo_compounding_load(site)
        demo_institutional_load(site, DEMO_PASSWORD)
        demo_immunizations_load(site)
        demo_care_load(site)
        demo_running_load(site)
        return site


def demo_running_load(site: Site) -> None:
    """Running the pharmacy (issue 14), after everything it reads exists: training and
    duty, the programs (340B, formulary, med sync, outreach), then the daily reports of
    yesterday and today. Each loader does nothing when its rows exist already."""
    from rxdesk.fhir import demo as fhir_demo
    from rxdesk.formulary import demo as formulary_demo
    from rxdesk.medsync import demo as medsync_demo
    from rxdesk.operations import demo as operations_demo
    from rxdesk.outreach import demo as outreach_demo
    from rxdesk.people import demo as people_demo
    from rxdesk.people.models import Skill
    from rxdesk.program340b import demo as p340b_demo
    from rxdesk.reports import demo as reports_demo

    users = {u.username: u for u in User.objects.filter(site=site)}
    if {"pic", "pharmacist", "tech", "trainee"} - set(users):
        return
    if not Skill.objects.filter(site=site).exists():
        people_demo.load(site, users)
    operations_demo.load(site, users)
    p340b_demo.load(site, users)
    formulary_demo.load(site, users)
    medsync_demo.load(site, users)
    outreach_demo.load(site, users)
    reports_demo.load(site, users)
    # Three synthetic patients' records from another system, brought in over FHIR.
    fhir_demo.load(site, users)


def demo_catalog_load(actor: User | None) -> ImportRun | None:
    """Load the drug catalog shipped with rxdesk (a few hundred real products, with their
    Orange Book TE codes) through the importers; return the NDC import's run, or None when
    there was nothing to do: the subset is loaded already, or a fuller directory is (which
    the subset must not retire)."""
    demo_ids = {
        line.split(b"\t", 1)[0].decode("latin-1")
        for line in (DEMO_CATALOG / "demo_product.txt").read_bytes().splitlines()[1:]
        if line.strip()
    }
    held = set(Product.objects.values_list("product_id", flat=True))
    if held - demo_ids or (demo_ids <= held and ApplicationProduct.objects.exists()):
        return None
    run = catalog_import_ndc(
        actor=actor,
        product_file=DEMO_CATALOG / "demo_product.txt",
        package_file=DEMO_CATALOG / "demo_package.txt",
    )
    catalog_import_te(actor=actor, directory=DEMO_CATALOG / "demo_te")
    return run


def _site() -> Site:
    pharmacy_npi = "2" + "98765432"
    return site_create(
        actor=None,
        name=DEMO_SITE,
        address_line1="120 Main Street",
        city="Springfield",
        state="IL",
        postal_code="62701",
        phone="2175550142",
        ncpdp_id="1498765",
        npi=pharmacy_npi + str(npi_check_digit(pharmacy_npi)),
        time_zone="America/Chicago",
        setting=PracticeSetting.RETAIL,
        dea_number=fake_dea("R", 345678, "F"),
    )


def _user(site: Site, spec: DemoUser) -> User:
    in_two_years = dt.date.today().replace(day=1) + dt.timedelta(days=730)
    extra: dict[str, object] = {}
    if spec.role in {Role.TECHNICIAN, Role.TECHNICIAN_IN_TRAINING}:
        extra = {
            "technician_registration": f"TECH.{sum(map(ord, spec.username)) * 997:06d}",
            "technician_registration_expires": in_two_years,
        }
        if spec.role == Role.TECHNICIAN:
            extra |= {
                "certification": Certification.PTCB,
                "certification_number": "PTCB-204117",
                "certification_expires": in_two_years,
            }
    if spec.role in {Role.PHARMACIST, Role.PHARMACIST_IN_CHARGE}:
        extra = {
            "pharmacist_license": f"051.{len(spec.username) * 11111:06d}",
            "pharmacist_license_expires": in_two_years,
        }
    user = staff_create(
        actor=None,
        site=site,
        username=spec.username,
        role=spec.role,
        password=DEMO_PASSWORD,
        first_name=spec.first_name,
        last_name=spec.last_name,
        email=f"{spec.username}@riverside.example",
    )
    if extra:
        user = staff_update(actor=None, user=user, **extra)
    return user
