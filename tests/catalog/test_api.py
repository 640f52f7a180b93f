"""The catalog API at /api/v1/catalog: the code-resolution contract (exact JSON), problem
bodies for unknown, malformed and ambiguous codes, type-ahead search, a product's page and
the pharmacist-in-charge's flags."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.test import Client

from rxdesk.catalog.models import Product
from rxdesk.catalog.ndc import gs1_check_digit, ndc_to_gtin14, ndc_to_upc
from rxdesk.core.models import AuditEvent
from tests.catalog.factories import (
    ApplicationProductFactory,
    IngredientFactory,
    PackageFactory,
    PriceFactory,
    ProductFactory,
)

PROBLEM = "application/problem+json"
GS = "\x1d"


@pytest.fixture
def client_for():
    def make(user) -> Client:
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make


@pytest.fixture
def prozac(db):
    product = ProductFactory(tall_man_name="", directory_dea_schedule="")
    ApplicationProductFactory(appl_no="018936", product_no="001", te_code="AB")
    return PackageFactory(product=product)


def get(client: Client, path: str, **params):
    return client.get(f"/api/v1/catalog{path}", params)


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


def product_json(product: Product, **changes) -> dict:
    return {
        "id": product.pk,
        "product_ndc": "0002-3227",
        "name": "Prozac",
        "tall_man_name": "",
        "display_name": "Prozac",
        "generic_name": "Fluoxetine Hydrochloride",
        "strength": "20 mg/1",
        "dosage_form": "CAPSULE",
        "route": "ORAL",
        "labeler": "Eli Lilly and Company",
        "product_type": "HUMAN PRESCRIPTION DRUG",
        "dea_schedule": None,
        "hazardous": False,
        "high_alert": False,
        "storage": "room",
        "protect_from_light": False,
        "cold_chain": False,
        "rems": False,
        "maintenance": False,
        "unit_dose": False,
        "otc": False,
        "cmea": False,
        "cmea_base_mg": None,
        "active": True,
        **changes,
    }


# --- GET /catalog/ndc/{code} ------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["00002322730", "00002-3227-30", "0002-3227-30", "0002322730", ndc_to_upc("0002-3227-30")],
    ids=["ndc11", "ndc11-hyphens", "ndc10-hyphens", "ndc10-plain", "upc"],
)
def test_it_resolves_a_code_to_exactly_the_contract(client_for, technician, prozac, code):
    response = get(client_for(technician), f"/ndc/{code}")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "ndc11": "00002322730",
        "ndc10": "0002-3227-30",
        "package_description": "30 CAPSULE in 1 BOTTLE (0002-3227-30)",
        "billing_unit": "EA",
        "package_quantity": "30",
        "product": product_json(prozac.product, te_codes=["AB"]),
    }


def test_a_2d_barcode_carries_lot_expiry_and_serial(client_for, technician, prozac):
    gtin = ndc_to_gtin14("0002-3227-30")
    element_string = f"01{gtin}17270331" + f"10LOT-42A{GS}21SN0001"

    response = get(client_for(technician), f"/ndc/{quote(element_string, safe='')}")

    body = response.json()
    assert response.status_code == 200, body
    assert (body["ndc11"], body["lot"], body["expiry"], body["serial"]) == (
        "00002322730",
        "LOT-42A",
        "2027-03-31",
        "SN0001",
    )
    assert list(body) == [
        "ndc11",
        "ndc10",
        "package_description",
        "billing_unit",
        "package_quantity",
        "product",
        "lot",
        "expiry",
        "serial",
    ]


def test_the_printed_form_of_a_2d_barcode_works_too(client_for, technician, prozac):
    gtin = ndc_to_gtin14("0002-3227-30")
    printed = f"(01){gtin}(17)270300(10)A1/B2"  # DD=00: the last day of the month; '/' in a lot

    body = get(client_for(technician), f"/ndc/{quote(printed, safe='')}").json()

    assert (body["ndc11"], body["lot"], body["expiry"]) == ("00002322730", "A1/B2", "2027-03-31")
    assert "serial" not in body


def test_a_package_quantity_is_a_string_without_trailing_zeros(client_for, technician, db):
    PackageFactory(ndc10="0002-3227-01", package_quantity=Decimal("2.500"), billing_unit="ML")
    body = get(client_for(technician), "/ndc/0002-3227-01").json()
    assert (body["billing_unit"], body["package_quantity"]) == ("ML", "2.5")


def test_the_schedule_in_force_and_the_flags_are_in_the_product(client_for, technician, db):
    product = ProductFactory(
        name="Oxycodone Hydrochloride",
        tall_man_name="oxyCODONE Hydrochloride",
        directory_dea_schedule="CII",
        high_alert=True,
        rems=True,
        application_number="",
    )
    PackageFactory(product=product, ndc10="0002-3227-90")

    body = get(client_for(technician), "/ndc/0002-3227-90").json()["product"]

    assert (body["display_name"], body["dea_schedule"], body["high_alert"], body["rems"]) == (
        "oxyCODONE Hydrochloride",
        "CII",
        True,
        True,
    )
    assert (body["hazardous"], body["te_codes"]) == (False, [])


def test_a_well_formed_unknown_code_is_a_404_problem(client_for, technician, db):
    response = get(client_for(technician), "/ndc/0002-9999-99")
    assert problem_of(response, 404) == {
        "type": "/problems/not_found",
        "title": "Not found",
        "status": 404,
        "detail": "No package with NDC 00002-9999-99 is in the catalog.",
    }


@pytest.mark.parametrize(
    "code",
    ["12-34", "abcdefghij", "0002-3227-3", "300023227309", "1" * 20],
    ids=["short", "letters", "bad-layout", "upc-check-digit", "too-long"],
)
def test_a_malformed_code_is_a_422_problem_naming_the_code(client_for, technician, db, code):
    body = problem_of(get(client_for(technician), f"/ndc/{quote(code, safe='')}"), 422)
    assert (body["type"], body["title"]) == ("/problems/invalid", "Invalid input")
    assert [e["field"] for e in body["errors"]] == ["code"]
    assert body["errors"][0]["message"] == body["detail"]


def test_a_bad_upc_check_digit_says_so(client_for, technician, prozac):
    upc = ndc_to_upc("0002-3227-30")
    wrong = upc[:-1] + str((int(upc[-1]) + 1) % 10)
    body = problem_of(get(client_for(technician), f"/ndc/{wrong}"), 422)
    assert body["detail"] == f"The check digit of this UPC is wrong (expected {upc[-1]})."


def test_ten_digits_shared_by_two_packages_are_a_409_with_the_candidates(
    client_for, technician, db
):
    # 0002-3227-30 (4-4-2) and 00023-227-30 (5-3-2) print the same ten digits.
    PackageFactory(ndc10="0002-3227-30")
    other = ProductFactory(name="Other", product_ndc="00023-227", labeler="Acme", strength="5 mg/1")
    PackageFactory(product=other, ndc10="00023-227-30", description="100 TABLET in 1 BOTTLE")

    body = problem_of(get(client_for(technician), "/ndc/0002322730"), 409)

    assert body == {
        "type": "/problems/ambiguous_code",
        "title": "More than one package has this code",
        "status": 409,
        "detail": "2 packages have NDC 0002322730; choose one, or type the NDC with its hyphens.",
        "candidates": [
            {
                "ndc11": "00002322730",
                "ndc10": "0002-3227-30",
                "package_description": "30 CAPSULE in 1 BOTTLE (0002-3227-30)",
                "product": "Prozac",
                "strength": "20 mg/1",
                "dosage_form": "CAPSULE",
                "labeler": "Eli Lilly and Company",
            },
            {
                "ndc11": "00023022730",
                "ndc10": "00023-227-30",
                "package_description": "100 TABLET in 1 BOTTLE",
                "product": "Other",
                "strength": "5 mg/1",
                "dosage_form": "CAPSULE",
                "labeler": "Acme",
            },
        ],
    }


def test_a_scan_needs_a_signed_in_user(db, prozac):
    response = Client().get("/api/v1/catalog/ndc/0002-3227-30")
    assert problem_of(response, 401)["type"] == "/problems/unauthenticated"


# --- GET /catalog/search ----------------------------------------------------------------------


def test_search_answers_products_with_their_packages(client_for, inventory, prozac):
    response = get(client_for(inventory), "/search", q="fluox 20")

    assert response.status_code == 200
    assert response.json() == [
        {
            "product": product_json(prozac.product),
            "package": None,
            "packages": [
                {
                    "ndc11": "00002322730",
                    "ndc10": "0002-3227-30",
                    "package_description": "30 CAPSULE in 1 BOTTLE (0002-3227-30)",
                    "billing_unit": "EA",
                    "package_quantity": "30",
                    "active": True,
                }
            ],
        }
    ]


def test_search_by_ndc_answers_the_package(client_for, auditor, prozac):
    body = get(client_for(auditor), "/search", q="0002-322").json()
    assert [(h["product"]["name"], h["package"]["ndc11"], h["packages"]) for h in body] == [
        ("Prozac", "00002322730", [])
    ]


@pytest.mark.parametrize("q", ["", "pr", "  p  ", "00"])
def test_search_of_fewer_than_three_characters_lists_nothing(client_for, technician, prozac, q):
    response = get(client_for(technician), "/search", q=q)
    assert (response.status_code, response.json()) == (200, [])


def test_search_refuses_a_limit_out_of_range(client_for, technician, db):
    body = problem_of(get(client_for(technician), "/search", q="pro", limit=1000), 422)
    assert [e["field"] for e in body["errors"]] == ["limit"]


# --- GET /catalog/products/{id} ---------------------------------------------------------------


def test_a_product_has_packages_prices_ingredients_and_equivalents(client_for, pharmacist, db):
    today = pharmacist.site.today()  # prices apply from the pharmacy's date
    prozac = ProductFactory(
        pharm_classes="Serotonin Reuptake Inhibitor [EPC],Serotonin Uptake Inhibitors [MoA]"
    )
    IngredientFactory(product=prozac, position=1)
    package = PackageFactory(product=prozac)
    PriceFactory(
        package=package,
        kind="acquisition",
        amount=Decimal("10.00"),
        effective_on=today - dt.timedelta(days=30),
    )
    PriceFactory(package=package, kind="acquisition", amount=Decimal("11.00"), effective_on=today)
    PriceFactory(
        package=package,
        kind="acquisition",
        amount=Decimal("99.00"),
        effective_on=today + dt.timedelta(days=5),
    )
    PriceFactory(
        package=package, kind="usual_customary", amount=Decimal("24.99"), effective_on=today
    )
    ApplicationProductFactory(appl_no="018936", product_no="001", te_code="AB")
    generic = ProductFactory(
        name="Fluoxetine",
        application_number="ANDA075000",
        labeler="Generics Inc",
        product_ndc="0093-1111",
    )
    ApplicationProductFactory(
        appl_no="075000", product_no="001", drug_name="FLUOXETINE", te_code="AB"
    )

    response = get(client_for(pharmacist), f"/products/{prozac.pk}")

    body = response.json()
    assert response.status_code == 200, body
    assert (body["te_code"], body["pharm_classes"]) == (
        "AB",
        ["Serotonin Reuptake Inhibitor [EPC]", "Serotonin Uptake Inhibitors [MoA]"],
    )
    assert body["ingredients"] == [
        {"name": "FLUOXETINE HYDROCHLORIDE", "strength": "20", "unit": "mg/1"}
    ]
    assert body["packages"] == [
        {
            "ndc11": "00002322730",
            "ndc10": "0002-3227-30",
            "package_description": "30 CAPSULE in 1 BOTTLE (0002-3227-30)",
            "billing_unit": "EA",
            "package_quantity": "30",
            "active": True,
            "marketing_start": "1988-01-04",
            "marketing_end": None,
            "sample": False,
            "prices": [
                {"kind": "acquisition", "amount": "11.00", "effective_on": today.isoformat()},
                {"kind": "usual_customary", "amount": "24.99", "effective_on": today.isoformat()},
            ],
        }
    ]
    assert body["equivalents"] == [
        {
            "te_code": "AB",
            "product": product_json(
                generic,
                name="Fluoxetine",
                display_name="Fluoxetine",
                product_ndc="0093-1111",
                labeler="Generics Inc",
            ),
        }
    ]
    assert (body["directory_dea_schedule"], body["dea_schedule_override"]) == (None, None)


def test_an_unknown_product_is_a_404_problem(client_for, technician, db):
    for pk in (999999, 2**70):
        response = get(client_for(technician), f"/products/{pk}")
        assert problem_of(response, 404)["type"] == "/problems/not_found"


# --- PATCH /catalog/products/{id}/flags -------------------------------------------------------


def patch(client: Client, path: str, body: object):
    return client.patch(f"/api/v1/catalog{path}", json.dumps(body), content_type="application/json")


def test_the_pic_sets_flags_with_an_audit_trail(client_for, pic, prozac):
    product = prozac.product
    response = patch(
        client_for(pic),
        f"/products/{product.pk}/flags",
        {"hazardous": True, "storage": "refrigerate", "cold_chain": True, "reason": "USP 800 list"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["hazardous"], body["storage"], body["cold_chain"]) == (True, "refrigerate", True)
    event = AuditEvent.objects.get(action="catalog.product.flags_changed")
    assert json.loads(event.data) == {
        "product_ndc": "0002-3227",
        "before": {"cold_chain": False, "hazardous": False, "storage": "room"},
        "after": {"cold_chain": True, "hazardous": True, "storage": "refrigerate"},
    }
    assert (event.reason, event.actor_name, event.object_id) == (
        "USP 800 list",
        "pic",
        str(product.pk),
    )


def test_a_state_schedule_override_and_its_removal(client_for, pic, db):
    product = ProductFactory(directory_dea_schedule="")
    client = client_for(pic)

    body = patch(client, f"/products/{product.pk}/flags", {"dea_schedule_override": "CV"}).json()
    assert (body["dea_schedule"], body["dea_schedule_override"]) == ("CV", "CV")

    body = patch(client, f"/products/{product.pk}/flags", {"dea_schedule_override": None}).json()
    assert (body["dea_schedule"], body["dea_schedule_override"]) == (None, None)
    assert AuditEvent.objects.filter(action="catalog.product.flags_changed").count() == 2


def test_a_less_strict_state_schedule_is_a_409_and_changes_nothing(client_for, pic, db):
    product = ProductFactory(directory_dea_schedule="CII")
    body = problem_of(
        patch(client_for(pic), f"/products/{product.pk}/flags", {"dea_schedule_override": "CIV"}),
        409,
    )
    assert [e["field"] for e in body["errors"]] == ["dea_schedule_override"]
    assert Product.objects.get(pk=product.pk).dea_schedule_override == ""
    assert not AuditEvent.objects.filter(action__startswith="catalog.").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"dea_schedule_override": "CVI"}, "dea_schedule_override"),
        ({"storage": "attic"}, "storage"),
        ({"hazardous": "maybe"}, "hazardous"),
        ({"name": "Renamed"}, "name"),
    ],
)
def test_invalid_flags_are_a_422_naming_the_field(client_for, pic, prozac, payload, field):
    body = problem_of(patch(client_for(pic), f"/products/{prozac.product_id}/flags", payload), 422)
    assert [e["field"] for e in body["errors"]] == [field]
    assert not AuditEvent.objects.filter(action__startswith="catalog.").exists()


@pytest.mark.parametrize("persona", ["technician", "pharmacist", "auditor", "admin_user"])
def test_only_the_pic_changes_flags(request, client_for, prozac, persona):
    user = request.getfixturevalue(persona)
    response = patch(client_for(user), f"/products/{prozac.product_id}/flags", {"otc": True})
    assert problem_of(response, 403)["type"] == "/problems/forbidden"
    assert Product.objects.get(pk=prozac.product_id).otc is False
    assert not AuditEvent.objects.filter(action__startswith="catalog.").exists()


# --- PUT /catalog/products/{id}/look-alikes ---------------------------------------------------


def test_the_pic_sets_look_alike_partners(client_for, pic, db):
    hydroxyzine = ProductFactory(name="Hydroxyzine", tall_man_name="hydrOXYzine")
    hydralazine = ProductFactory(
        name="Hydralazine", tall_man_name="hydrALAZINE", product_ndc="0002-1111"
    )

    response = client_for(pic).put(
        f"/api/v1/catalog/products/{hydroxyzine.pk}/look-alikes",
        json.dumps({"partners": [hydralazine.pk]}),
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["look_alikes"] == [
        {
            "id": hydralazine.pk,
            "product_ndc": "0002-1111",
            "display_name": "hydrALAZINE",
            "strength": "20 mg/1",
            "dosage_form": "CAPSULE",
        }
    ]
    assert list(hydralazine.look_alikes.all()) == [hydroxyzine]  # mutual
    event = AuditEvent.objects.get(action="catalog.product.look_alikes_changed")
    assert json.loads(event.data)["after"] == [
        {"id": hydralazine.pk, "product_ndc": "0002-1111", "name": "hydrALAZINE 20 mg/1 CAPSULE"}
    ]


def test_a_product_is_not_its_own_look_alike(client_for, pic, prozac):
    response = client_for(pic).put(
        f"/api/v1/catalog/products/{prozac.product_id}/look-alikes",
        json.dumps({"partners": [prozac.product_id]}),
        content_type="application/json",
    )
    assert [e["field"] for e in problem_of(response, 422)["errors"]] == ["partners"]


def test_check_digit_helper_matches_the_upc_used_above():
    # A guard on the fixtures: the UPC of 0002-3227-30 is 3 + its ten digits + check digit.
    assert ndc_to_upc("0002-3227-30") == f"30002322730{gs1_check_digit('30002322730')}"
