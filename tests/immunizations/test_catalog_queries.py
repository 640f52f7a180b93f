"""Catalog reads: the scan lookup part B calls (vaccine_for_code), the current VIS, vaccine
search and detail, their API and screens."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.catalog.ndc import ndc_to_gtin14
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.immunizations.choices import VisStatus
from rxdesk.immunizations.models import VaccineNdc, VisDocument
from rxdesk.immunizations.queries_catalog import (
    current_vis_for,
    vaccine_for_code,
    vaccine_get,
    vaccine_search,
)
from tests.immunizations.factories import (
    FLU_SALE_NDC10,
    FLU_USE_NDC10,
    flu_package,
    flu_vis,
    vaccine,
)

SALE11, USE11 = "49281042150", "49281042188"


@pytest.mark.parametrize(
    ("code", "unit"),
    [
        (SALE11, "sale"),
        (FLU_SALE_NDC10, "sale"),  # 5-4-2 with hyphens
        ("49281-421-50", "sale"),  # as printed, 5-3-2
        ("4928142150", "sale"),  # 10 digits without hyphens
        (ndc_to_gtin14("49281-421-50"), "sale"),  # GTIN-14 of the carton
        (FLU_USE_NDC10, "use"),
        (ndc_to_gtin14("49281-421-88"), "use"),  # the syringe's GTIN-14
        (f"]d201{ndc_to_gtin14('49281-421-88')}17300630" + "10LOT1", "use"),  # DataMatrix
    ],
)
def test_a_scan_names_the_vaccine_and_the_carton_stock_is_kept_in(db, code, unit):
    pkg = flu_package()
    row = vaccine_for_code(code)
    assert row is not None
    assert (row.unit, row.vaccine.cvx, row.package) == (unit, "150", pkg)


def test_an_unknown_code_is_none_and_a_bad_one_invalid(db):
    flu_package()
    assert vaccine_for_code("00002-1433-80") is None
    with pytest.raises(Invalid) as caught:
        vaccine_for_code("49281-42")
    assert caught.value.field == "code"


def test_a_row_with_a_package_comes_before_one_without(db):
    pkg = flu_package()
    VaccineNdc.objects.filter(ndc11=SALE11).update(package=None)
    VaccineNdc.objects.create(
        ndc11=SALE11, ndc10=FLU_SALE_NDC10, unit="use", vaccine=vaccine("150"), package=pkg
    )
    row = vaccine_for_code(SALE11)
    assert row is not None and row.unit == "use" and row.package == pkg


def test_the_current_vis_of_a_replaced_edition_is_the_documents_current_one(db):
    flu = vaccine("150")
    old = VisDocument.objects.create(
        name="Influenza VIS",
        edition_date=dt.date(2021, 8, 6),
        barcode="253088698300010311210806",
        document_code="0886983000103",
        status=VisStatus.HISTORIC,
    )
    old.vaccines.add(flu)
    new = VisDocument.objects.create(
        name="Influenza Vaccine VIS",
        edition_date=dt.date(2025, 1, 31),
        barcode="253088698300010311250131",
        document_code="0886983000103",
        status=VisStatus.CURRENT,
    )
    assert current_vis_for(flu) == [new]
    other = flu_vis()  # mapped directly and current
    assert set(current_vis_for(flu)) == {new, other}


def test_search_by_name_trade_name_group_and_code(db, technician):
    flu_package()
    vaccine("115")
    by_trade = vaccine_search(actor=technician, q="fluzone")
    assert [v.cvx for v in by_trade.rows] == ["150"]
    assert [v.cvx for v in vaccine_search(actor=technician, q="115").rows] == ["115"]
    assert [v.cvx for v in vaccine_search(actor=technician, group="flu").rows] == ["150"]
    scanned = vaccine_search(actor=technician, q=FLU_USE_NDC10)
    assert scanned.scanned is not None and [v.cvx for v in scanned.rows] == ["150"]
    assert "FLU" in scanned.groups


def test_a_vaccine_with_its_ndcs_and_vis(db, auditor):
    flu_package()
    flu_vis()
    detail = vaccine_get(actor=auditor, cvx="150")  # reference data: every role reads it
    assert [n.unit for n in detail.sale + detail.use] == ["sale", "use"]
    assert detail.manufacturers == ["Sanofi Pasteur"]
    assert [d.status for d in detail.vis] == ["current"]
    with pytest.raises(NotFound):
        vaccine_get(actor=auditor, cvx="9999")


def test_the_api_reads(db, inventory):
    flu_package()
    client = Client()
    client.force_login(inventory)
    found = client.get("/api/v1/immunizations/vaccines", {"q": "fluzone"}).json()
    assert found["total"] == 1 and found["results"][0]["groups"] == ["FLU"]
    one = client.get("/api/v1/immunizations/vaccines/150").json()
    assert one["sale_ndcs"][0]["package_quantity"] == "10"
    assert one["use_ndcs"][0]["sale_ndc11"] == SALE11
    code = client.get("/api/v1/immunizations/vaccine-code", {"code": FLU_USE_NDC10}).json()
    assert (code["unit"], code["cvx"], code["package_ndc11"]) == ("use", "150", SALE11)
    assert (
        client.get("/api/v1/immunizations/vaccine-code", {"code": "00002-1433-80"}).status_code
        == 404
    )
    bad = client.get("/api/v1/immunizations/vaccine-code", {"code": "xyz"})
    assert bad.status_code == 422 and bad["Content-Type"] == "application/problem+json"
    assert client.get("/api/v1/immunizations/vaccines/9999").status_code == 404


def test_the_screens(db, technician):
    flu_package()
    flu_vis()
    client = Client()
    client.force_login(technician)
    page = client.get(reverse("imm_vaccines"), {"q": "fluzone"})
    assert page.status_code == 200 and "Influenza, injectable" in page.content.decode()
    scan = client.get(reverse("imm_vaccines"), {"q": FLU_USE_NDC10})
    assert scan.status_code == 302 and scan["Location"] == reverse("imm_vaccine", args=["150"])
    detail = client.get(reverse("imm_vaccine", args=["150"])).content.decode()
    assert "Influenza Vaccine (Inactivated or Recombinant) VIS" in detail
    assert "49281-0421-88" in detail and "10 EA" in detail
    assert client.get(reverse("imm_vaccine", args=["9999"])).status_code == 404
    assert client.get(reverse("imm_vaccines"), {"q": "4928142150999"}).status_code == 422
