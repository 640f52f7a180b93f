"""Every workstation URL × every role (and anonymous) × method, with the expected status.

Written out by hand: this table is the specification. A URL added to the project without a
row here fails ``test_it_covers_every_url``. GET must render for the roles listed and be
refused (403) for the rest; POST of an empty form must reach the form (422, or the
button's redirect) for those roles and be refused with nothing written for the rest;
any other method is 405; anonymous users are sent to sign in. (API: test_permission_matrix.)"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from rxdesk.catalog.models import Product
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent, Site, User
from rxdesk.patients.models import (
    Allergy,
    Condition,
    Coverage,
    Measurement,
    Patient,
    PatientIdentifier,
    Prescriber,
    PrescriberAddress,
)
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
from tests.catalog.factories import ProductFactory
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
from tests.inventory.matrix import UI_ROWS as INVENTORY_UI_ROWS
from tests.inventory.matrix import WATCHED as INVENTORY_WATCHED
from tests.medsync import matrix_medsync as _run_medsync
from tests.operations import matrix_operations as _run_operations
from tests.outreach import matrix_outreach as _run_outreach
from tests.people import matrix_people as _run_people
from tests.pos import matrix_counter, matrix_pickup, matrix_pse, matrix_sales
from tests.program340b import matrix_340b as _run_340b
from tests.reports import matrix_daily as _run_daily
from tests.reports import matrix_hub as _run_hub
from tests.reports import matrix_metrics as _run_metrics
from tests.rx.matrix_ui import UI_ROWS as RX_UI_ROWS
from tests.rx.matrix_ui import WATCHED as RX_WATCHED
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
CLINICAL = frozenset({T, TT, RPH, PIC})
PRESCRIBER_WRITERS = frozenset({T, RPH, PIC})
SITE_EDITORS = frozenset({PIC, ADM})
STAFF_READERS = frozenset({PIC, AUD, ADM})
AUDIT_READERS = frozenset({PIC, AUD})
AUDIT_VERIFIERS = frozenset({PIC, AUD, ADM})
CATALOG_EDITORS = frozenset({PIC})
NOBODY: frozenset[Role] = frozenset()

Kwargs = Callable[[Site], dict[str, Any]]


def none(site: Site) -> dict[str, Any]:
    return {}


def patient(site: Site) -> dict[str, Any]:
    return {"pk": PatientFactory(site=site).pk}


def allergy(site: Site) -> dict[str, Any]:
    a = AllergyFactory(patient=PatientFactory(site=site))
    return {"pk": a.patient_id, "allergy_pk": a.pk}


def condition(site: Site) -> dict[str, Any]:
    c = Condition.objects.create(patient=PatientFactory(site=site), description="Asthma")
    return {"pk": c.patient_id, "condition_pk": c.pk}


def coverage(site: Site) -> dict[str, Any]:
    c = Coverage.objects.create(patient=PatientFactory(site=site), bin="610014", member_id="X1")
    return {"pk": c.patient_id, "coverage_pk": c.pk}


def prescriber(site: Site) -> dict[str, Any]:
    return {"pk": PrescriberFactory(site=site).pk}


def product(site: Site) -> dict[str, Any]:
    return {"pk": ProductFactory().pk}


def staff(site: Site) -> dict[str, Any]:
    return {"pk": UserFactory(site=site, role=T, username="matrix-staff").pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
# GET roles == None means the URL takes no GET (POST only).
UI_MATRIX: dict[str, tuple[Kwargs, frozenset[Role] | None, frozenset[Role], int | None]] = {
    "home": (none, EVERYONE, NOBODY, None),
    "account": (none, EVERYONE, NOBODY, None),
    # Anyone may switch between the pharmacies assigned to them (an empty choice: 422).
    "site_switch": (none, EVERYONE, EVERYONE, 422),
    "site_detail": (none, EVERYONE, NOBODY, None),
    "site_edit": (none, SITE_EDITORS, SITE_EDITORS, 422),
    "staff_list": (none, STAFF_READERS, NOBODY, None),
    "staff_create": (none, SITE_EDITORS, SITE_EDITORS, 422),
    "site_assignments": (none, SITE_EDITORS, SITE_EDITORS, 422),
    "staff_edit": (staff, SITE_EDITORS, SITE_EDITORS, 422),
    "audit_list": (none, AUDIT_READERS, NOBODY, None),
    "audit_export": (none, AUDIT_READERS, NOBODY, None),
    "audit_verify": (none, AUDIT_VERIFIERS, AUDIT_VERIFIERS, 200),
    "patient_list": (none, CLINICAL, NOBODY, None),
    "patient_create": (none, CLINICAL, CLINICAL, 422),
    "patient_detail": (patient, CLINICAL, NOBODY, None),
    "patient_edit": (patient, CLINICAL, CLINICAL, 422),
    "allergy_add": (patient, CLINICAL, CLINICAL, 422),
    "allergy_remove": (allergy, CLINICAL, CLINICAL, 422),
    "allergies_none": (patient, None, CLINICAL, 302),
    "condition_add": (patient, CLINICAL, CLINICAL, 422),
    "condition_resolve": (condition, None, CLINICAL, 302),
    "measurement_add": (patient, CLINICAL, CLINICAL, 422),
    "coverage_add": (patient, CLINICAL, CLINICAL, 422),
    "coverage_end": (coverage, None, CLINICAL, 302),
    "identifier_add": (patient, CLINICAL, CLINICAL, 422),
    "prescriber_list": (none, CLINICAL, NOBODY, None),
    "prescriber_create": (none, PRESCRIBER_WRITERS, PRESCRIBER_WRITERS, 422),
    "prescriber_detail": (prescriber, CLINICAL, NOBODY, None),
    "prescriber_edit": (prescriber, PRESCRIBER_WRITERS, PRESCRIBER_WRITERS, 422),
    "prescriber_address_add": (prescriber, PRESCRIBER_WRITERS, PRESCRIBER_WRITERS, 422),
    "catalog_search": (none, EVERYONE, NOBODY, None),
    "catalog_scan": (none, EVERYONE, NOBODY, None),
    "catalog_product": (product, EVERYONE, NOBODY, None),
    "catalog_product_flags": (product, CATALOG_EDITORS, CATALOG_EDITORS, 422),
}

# Sign-in and second-factor pages answer everyone; they are tested in tests/core/test_auth.py
# and here only for their methods.
AUTH_URLS = {
    "login": ("GET", "POST"),
    "logout": ("POST",),
    "mfa_enroll": ("GET", "POST"),
    "mfa_verify": ("GET", "POST"),
}

WATCHED: list[type[Model]] = [
    Patient,
    Allergy,
    Condition,
    Measurement,
    Coverage,
    PatientIdentifier,
    Prescriber,
    PrescriberAddress,
    User,
    Site,
    Product,
]


# The inventory keeps its rows beside its own tests (tests/inventory/matrix_*.py).
UI_MATRIX.update(INVENTORY_UI_ROWS)
WATCHED.extend(INVENTORY_WATCHED)
UI_MATRIX.update(RX_UI_ROWS)
WATCHED.extend(RX_WATCHED)
for _pos in (matrix_sales, matrix_pse, matrix_pickup, matrix_counter, screening_matrix):
    UI_MATRIX.update(_pos.UI_ROWS)
    WATCHED.extend(_pos.WATCHED)
UI_MATRIX.update(matrix_billing.UI_ROWS)
WATCHED.extend(matrix_billing.WATCHED)
UI_MATRIX.update(matrix_pa.UI_ROWS)
WATCHED.extend(matrix_pa.WATCHED)
UI_MATRIX.update(matrix_plans.UI_ROWS)
WATCHED.extend(matrix_plans.WATCHED)
for _cs in (
    matrix_ledger,
    matrix_orders,
    matrix_inventories,
    matrix_audits,
    matrix_disposal,
    matrix_pmp,
):
    UI_MATRIX.update(_cs.UI_ROWS)
    WATCHED.extend(_cs.WATCHED)
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
    UI_MATRIX.update(_cmp.UI_ROWS)
    WATCHED.extend(_cmp.WATCHED)

for _inst in (
    _inst_home,
    _inst_census,
    _inst_cycles,
    _inst_packaging,
    _inst_cabinets,
    _inst_feeds,
    _inst_discrepancies,
):
    UI_MATRIX.update(_inst.UI_ROWS)
    WATCHED.extend(_inst.WATCHED)

for _imm in (
    _imm_home,
    _imm_catalog,
    _imm_administer,
    _imm_registry,
    _imm_outreach,
):
    UI_MATRIX.update(_imm.UI_ROWS)
    WATCHED.extend(_imm.WATCHED)

for _care in (
    _care_home,
    _care_medrec,
    _care_counsel,
    _care_quality,
    _care_inquiries,
    _care_poct,
):
    UI_MATRIX.update(_care.UI_ROWS)
    WATCHED.extend(_care.WATCHED)

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
    UI_MATRIX.update(_run.UI_ROWS)
    WATCHED.extend(_run.WATCHED)


def _names(patterns: list[Any]) -> set[str]:
    names: set[str] = set()
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace in ("api", "fhir"):  # the APIs have their own matrices
                continue
            names |= _names(p.url_patterns)
        elif isinstance(p, URLPattern) and p.name:
            names.add(p.name)
    return names


def test_it_covers_every_url():
    assert _names(get_resolver().url_patterns) == set(UI_MATRIX) | set(AUTH_URLS)


@functools.cache
def _snapshot_query() -> tuple[list[str], str, tuple[Any, ...]]:
    """One SELECT of every watched count: ~200 COUNT queries per snapshot were most of a
    refused POST's time. Each count is its manager's own query, as ``.count()`` ran it."""
    querysets = {m.__name__: m.objects.all() for m in WATCHED}
    querysets["events"] = AuditEvent.objects.exclude(action__startswith="auth.")
    parts, params = [], []
    for queryset in querysets.values():
        sql, sql_params = queryset.order_by().values("pk").query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS watched)")
        params.extend(sql_params)
    return list(querysets), "SELECT " + ", ".join(parts), tuple(params)


def _snapshot() -> dict[str, int]:
    names, sql, params = _snapshot_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(zip(names, cursor.fetchone(), strict=True))


CASES = [
    pytest.param(name, role, id=f"{name} as {role.value if role else 'anonymous'}")
    for name, role in itertools.product(UI_MATRIX, [*Role, None])
]


@pytest.mark.parametrize(("name", "role"), CASES)
def test_ui_permission(db, site, name, role):
    kwargs_of, get_roles, post_roles, post_status = UI_MATRIX[name]
    client = Client()
    if role is not None:
        client.force_login(UserFactory(site=site, role=role, username=f"matrix-{role.value}"))
    url = reverse(name, kwargs=kwargs_of(site))

    if get_roles is not None:
        response = client.get(url)
        if role is None:
            assert response.status_code == 302 and response["Location"].startswith("/signin/")
        else:
            assert response.status_code == (200 if role in get_roles else 403), name

    if post_status is not None:
        before = _snapshot()
        response = client.post(url, {})
        if role is None:
            assert response.status_code == 302 and response["Location"].startswith("/signin/")
            assert _snapshot() == before
        elif role in post_roles:
            assert response.status_code == post_status, (name, response.content[:400])
        else:
            assert response.status_code == 403, name
            assert _snapshot() == before

    declared = ({"GET", "HEAD"} if get_roles is not None else set()) | (
        {"POST"} if post_status is not None else set()
    )
    for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - declared:
        response = getattr(client, method.lower())(url)
        assert response.status_code == 405, (name, method)


@pytest.mark.parametrize("name", sorted(AUTH_URLS))
def test_auth_pages_refuse_other_methods(db, name):
    client = Client()
    for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - set(AUTH_URLS[name]):
        response = getattr(client, method.lower())(reverse(name))
        assert response.status_code == 405, (name, method)
