"""Every API operation × every role (and anonymous) × method, with the expected status.

The table below is written out by hand on purpose: it is the specification, not a copy of
rxdesk.core.capabilities. A new API operation fails ``test_it_covers_every_api_operation``
until it is added here. (Workstation URLs: tests/test_permission_matrix_ui.py.)"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from rxdesk.api import api
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent, Site, User
from rxdesk.patients.models import Condition, Coverage
from tests.care import (
    matrix_counsel as _care_counsel,
)
from tests.care import (
    matrix_home as _care_home,
)
from tests.care import (
    matrix_inquiries as _care_inquiries,
)
from tests.care import (
    matrix_medrec as _care_medrec,
)
from tests.care import (
    matrix_poct as _care_poct,
)
from tests.care import (
    matrix_quality as _care_quality,
)
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.claims import matrix_billing, matrix_pa, matrix_plans
from tests.compounding import (
    matrix_bud as _cmp_bud,
)
from tests.compounding import (
    matrix_calc as _cmp_calc,
)
from tests.compounding import (
    matrix_cleanroom as _cmp_cleanroom,
)
from tests.compounding import (
    matrix_competency as _cmp_competency,
)
from tests.compounding import (
    matrix_formulas as _cmp_formulas,
)
from tests.compounding import (
    matrix_hd as _cmp_hd,
)
from tests.compounding import (
    matrix_home as _cmp_home,
)
from tests.compounding import (
    matrix_records as _cmp_records,
)
from tests.controlled import (
    matrix_audits,
    matrix_disposal,
    matrix_inventories,
    matrix_ledger,
    matrix_orders,
    matrix_pmp,
)
from tests.factories import AllergyFactory, PatientFactory, PrescriberFactory, UserFactory
from tests.formulary import matrix_formulary as _run_formulary
from tests.immunizations import (
    matrix_administer as _imm_administer,
)
from tests.immunizations import (
    matrix_catalog as _imm_catalog,
)
from tests.immunizations import (
    matrix_home as _imm_home,
)
from tests.immunizations import (
    matrix_outreach as _imm_outreach,
)
from tests.immunizations import (
    matrix_registry as _imm_registry,
)
from tests.institutional import (
    matrix_cabinets as _inst_cabinets,
)
from tests.institutional import (
    matrix_census as _inst_census,
)
from tests.institutional import (
    matrix_cycles as _inst_cycles,
)
from tests.institutional import (
    matrix_discrepancies as _inst_discrepancies,
)
from tests.institutional import (
    matrix_feeds as _inst_feeds,
)
from tests.institutional import (
    matrix_home as _inst_home,
)
from tests.institutional import (
    matrix_packaging as _inst_packaging,
)
from tests.inventory.matrix import API_ROWS as INVENTORY_API_ROWS
from tests.medsync import matrix_medsync as _run_medsync
from tests.operations import matrix_operations as _run_operations
from tests.outreach import matrix_outreach as _run_outreach
from tests.people import matrix_people as _run_people
from tests.pos import matrix_counter, matrix_pickup, matrix_pse, matrix_sales
from tests.program340b import matrix_340b as _run_340b
from tests.reports import matrix_daily as _run_daily
from tests.reports import matrix_hub as _run_hub
from tests.reports import matrix_metrics as _run_metrics
from tests.rx.matrix_api import API_ROWS as RX_API_ROWS
from tests.rx.matrix_devices import API_ROWS as RX_DEVICE_ROWS
from tests.screening import matrix as screening_matrix

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
EVERYONE = frozenset(Role)
PATIENT_READERS = frozenset({T, TT, RPH, PIC})
PATIENT_WRITERS = frozenset({T, TT, RPH, PIC})
PRESCRIBER_WRITERS = frozenset({T, RPH, PIC})
SITE_EDITORS = frozenset({PIC, ADM})
AUDIT_READERS = frozenset({PIC, AUD})
CATALOG_EDITORS = frozenset({PIC})

P = "/api/v1"


# Each setup builds what the call needs at the caller's site and returns (path, json body).
Setup = Callable[[Site, User | None], tuple[str, dict[str, Any] | None]]


def _patient(site: Site) -> Any:
    return PatientFactory(site=site)


def _allergy(site: Site) -> Any:
    return AllergyFactory(patient=_patient(site))


def _condition(site: Site) -> Any:
    return Condition.objects.create(patient=_patient(site), description="Asthma")


def _coverage(site: Site) -> Any:
    return Coverage.objects.create(patient=_patient(site), bin="610014", member_id="X1")


def _prescriber(site: Site) -> Any:
    return PrescriberFactory(site=site)


def _package(site: Site) -> Any:
    return PackageFactory()


def _product(site: Site) -> Any:
    return ProductFactory()


API_MATRIX: dict[tuple[str, str], tuple[frozenset[Role], int, Setup]] = {
    ("GET", "/me"): (EVERYONE, 200, lambda s, u: (f"{P}/me", None)),
    ("GET", "/site"): (EVERYONE, 200, lambda s, u: (f"{P}/site", None)),
    ("PATCH", "/site"): (SITE_EDITORS, 200, lambda s, u: (f"{P}/site", {"city": "Peoria"})),
    ("GET", "/audit/events"): (AUDIT_READERS, 200, lambda s, u: (f"{P}/audit/events", None)),
    ("GET", "/patients"): (PATIENT_READERS, 200, lambda s, u: (f"{P}/patients?q=doe", None)),
    ("POST", "/patients"): (
        PATIENT_WRITERS,
        201,
        lambda s, u: (
            f"{P}/patients",
            {"first_name": "Ana", "last_name": "Lima", "date_of_birth": "1990-04-02"},
        ),
    ),
    ("GET", "/patients/{patient_id}"): (
        PATIENT_READERS,
        200,
        lambda s, u: (f"{P}/patients/{_patient(s).pk}", None),
    ),
    ("PATCH", "/patients/{patient_id}"): (
        PATIENT_WRITERS,
        200,
        lambda s, u: (f"{P}/patients/{_patient(s).pk}", {"city": "Peoria"}),
    ),
    ("POST", "/patients/{patient_id}/allergies"): (
        PATIENT_WRITERS,
        201,
        lambda s, u: (
            f"{P}/patients/{_patient(s).pk}/allergies",
            {"allergen": "Codeine", "allergen_kind": "ingredient"},
        ),
    ),
    ("POST", "/patients/{patient_id}/allergies/{allergy_id}/inactivate"): (
        PATIENT_WRITERS,
        200,
        lambda s, u: (
            (a := _allergy(s)) and f"{P}/patients/{a.patient_id}/allergies/{a.pk}/inactivate",
            {"reason": "entered in error"},
        ),
    ),
    ("POST", "/patients/{patient_id}/no-known-allergies"): (
        PATIENT_WRITERS,
        200,
        lambda s, u: (f"{P}/patients/{_patient(s).pk}/no-known-allergies", None),
    ),
    ("POST", "/patients/{patient_id}/conditions"): (
        PATIENT_WRITERS,
        201,
        lambda s, u: (
            f"{P}/patients/{_patient(s).pk}/conditions",
            {"description": "Type 2 diabetes", "icd10": "E11.9"},
        ),
    ),
    ("PATCH", "/patients/{patient_id}/conditions/{condition_id}"): (
        PATIENT_WRITERS,
        200,
        lambda s, u: (
            (c := _condition(s)) and f"{P}/patients/{c.patient_id}/conditions/{c.pk}",
            {"status": "resolved"},
        ),
    ),
    ("POST", "/patients/{patient_id}/measurements"): (
        PATIENT_WRITERS,
        201,
        lambda s, u: (
            f"{P}/patients/{_patient(s).pk}/measurements",
            {"kind": "weight", "value": "70.5", "unit": "kg"},
        ),
    ),
    ("POST", "/patients/{patient_id}/coverages"): (
        PATIENT_WRITERS,
        201,
        lambda s, u: (
            f"{P}/patients/{_patient(s).pk}/coverages",
            {"bin": "610014", "member_id": "ZX123456"},
        ),
    ),
    ("PATCH", "/patients/{patient_id}/coverages/{coverage_id}"): (
        PATIENT_WRITERS,
        200,
        lambda s, u: (
            (c := _coverage(s)) and f"{P}/patients/{c.patient_id}/coverages/{c.pk}",
            {"active": False},
        ),
    ),
    ("POST", "/patients/{patient_id}/identifiers"): (
        PATIENT_WRITERS,
        201,
        lambda s, u: (
            f"{P}/patients/{_patient(s).pk}/identifiers",
            {"kind": "drivers_license", "value": "S123-4567-8901", "issuer": "IL"},
        ),
    ),
    ("GET", "/prescribers"): (
        PATIENT_READERS,
        200,
        lambda s, u: (f"{P}/prescribers?q=oka", None),
    ),
    ("POST", "/prescribers"): (
        PRESCRIBER_WRITERS,
        201,
        lambda s, u: (
            f"{P}/prescribers",
            {"first_name": "Ben", "last_name": "Jones", "npi": "1245319599"},
        ),
    ),
    ("GET", "/prescribers/{prescriber_id}"): (
        PATIENT_READERS,
        200,
        lambda s, u: (f"{P}/prescribers/{_prescriber(s).pk}", None),
    ),
    ("PATCH", "/prescribers/{prescriber_id}"): (
        PRESCRIBER_WRITERS,
        200,
        lambda s, u: (f"{P}/prescribers/{_prescriber(s).pk}", {"specialty": "Cardiology"}),
    ),
    ("POST", "/prescribers/{prescriber_id}/addresses"): (
        PRESCRIBER_WRITERS,
        201,
        lambda s, u: (
            f"{P}/prescribers/{_prescriber(s).pk}/addresses",
            {
                "address_line1": "1 Oak Ave",
                "city": "Springfield",
                "state": "IL",
                "postal_code": "62704",
                "phone": "217-555-1100",
            },
        ),
    ),
    # The catalog holds no PHI: every role reads it; only the PIC keeps its flags.
    ("GET", "/catalog/ndc/{code}"): (
        EVERYONE,
        200,
        lambda s, u: (f"{P}/catalog/ndc/{_package(s).ndc11}", None),
    ),
    ("GET", "/catalog/search"): (EVERYONE, 200, lambda s, u: (f"{P}/catalog/search?q=pro", None)),
    ("GET", "/catalog/products/{product_id}"): (
        EVERYONE,
        200,
        lambda s, u: (f"{P}/catalog/products/{_product(s).pk}", None),
    ),
    ("PATCH", "/catalog/products/{product_id}/flags"): (
        CATALOG_EDITORS,
        200,
        lambda s, u: (f"{P}/catalog/products/{_product(s).pk}/flags", {"high_alert": True}),
    ),
    ("PUT", "/catalog/products/{product_id}/look-alikes"): (
        CATALOG_EDITORS,
        200,
        lambda s, u: (
            f"{P}/catalog/products/{_product(s).pk}/look-alikes",
            {"partners": [_product(s).pk]},
        ),
    ),
}

# The inventory keeps its rows beside its own tests (tests/inventory/matrix_*.py).
API_MATRIX.update(INVENTORY_API_ROWS)
API_MATRIX.update(RX_API_ROWS)
API_MATRIX.update(RX_DEVICE_ROWS)
for _pos in (matrix_sales, matrix_pse, matrix_pickup, matrix_counter, screening_matrix):
    API_MATRIX.update(_pos.API_ROWS)
API_MATRIX.update(matrix_billing.API_ROWS)
API_MATRIX.update(matrix_pa.API_ROWS)
API_MATRIX.update(matrix_plans.API_ROWS)
for _cs in (
    matrix_ledger,
    matrix_orders,
    matrix_inventories,
    matrix_audits,
    matrix_disposal,
    matrix_pmp,
):
    API_MATRIX.update(_cs.API_ROWS)
for _cmp in (
    _cmp_home,
    _cmp_bud,
    _cmp_calc,
    _cmp_formulas,
    _cmp_records,
    _cmp_cleanroom,
    _cmp_competency,
    _cmp_hd,
):
    API_MATRIX.update(_cmp.API_ROWS)
for _inst in (
    _inst_home,
    _inst_census,
    _inst_cycles,
    _inst_packaging,
    _inst_cabinets,
    _inst_feeds,
    _inst_discrepancies,
):
    API_MATRIX.update(_inst.API_ROWS)
for _imm in (
    _imm_home,
    _imm_catalog,
    _imm_administer,
    _imm_registry,
    _imm_outreach,
):
    API_MATRIX.update(_imm.API_ROWS)
for _care in (
    _care_home,
    _care_medrec,
    _care_counsel,
    _care_quality,
    _care_inquiries,
    _care_poct,
):
    API_MATRIX.update(_care.API_ROWS)

for _run in (
    _run_people,
    _run_operations,
    _run_hub,
    _run_daily,
    _run_metrics,
    _run_340b,
    _run_medsync,
    _run_formulary,
    _run_outreach,
):
    API_MATRIX.update(_run.API_ROWS)

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _schema_operations() -> set[tuple[str, str]]:
    schema = api.get_openapi_schema()
    ops = set()
    for path, item in schema["paths"].items():
        for method in item:
            ops.add((method.upper(), path.removeprefix("/api/v1")))
    return ops


def test_it_covers_every_api_operation():
    assert _schema_operations() == set(API_MATRIX)


def _call(client: Client, method: str, path: str, body: dict[str, Any] | None) -> Any:
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs = {"data": body, "content_type": "application/json"}
    return getattr(client, method.lower())(path, **kwargs)


CASES = [
    pytest.param(op, role, id=f"{op[0]} {op[1]} as {role.value if role else 'anonymous'}")
    for op, role in itertools.product(API_MATRIX, [*Role, None])
]


@pytest.mark.parametrize(("op", "role"), CASES)
def test_api_permission(db, site, op, role):
    allowed, success, setup = API_MATRIX[op]
    client = Client()
    user = None
    if role is not None:
        user = UserFactory(site=site, role=role, username=f"matrix-{role.value}")
        client.force_login(user)
    path, body = setup(site, user)
    before = AuditEvent.objects.exclude(action__startswith="auth.").count()

    response = _call(client, op[0], path, body)

    if role is None:
        expected = 401
    elif role in allowed:
        expected = success
    else:
        expected = 403
    assert response.status_code == expected, response.content
    if expected in (401, 403):
        assert response["Content-Type"] == "application/problem+json"
        assert AuditEvent.objects.exclude(action__startswith="auth.").count() == before


def _concrete(path: str) -> str:
    """The path with every placeholder ({patient_id}, {condition_id}…) replaced by 1."""
    return re.sub(r"\{[^{}]+\}", "1", path)


@pytest.mark.parametrize("path", sorted({_concrete(p) for _, p in API_MATRIX}))
def test_api_refuses_undeclared_methods(db, pic, path):
    declared = {m for m, p in API_MATRIX if _concrete(p) == path}
    client = Client()
    client.force_login(pic)
    for method in set(ALL_METHODS) - declared:
        response = _call(client, method, f"{P}{path}", {} if method != "GET" else None)
        assert response.status_code == 405, (method, path)
