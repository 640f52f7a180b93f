"""Catalog reads: resolving every form of code to a package, products, latest prices and
Orange Book therapeutic equivalents."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rxdesk.catalog import queries
from rxdesk.catalog.ndc import ndc_to_gtin14, ndc_to_upc
from rxdesk.core.errors import Invalid, NotFound
from tests.catalog.factories import (
    ApplicationProductFactory,
    PackageFactory,
    PriceFactory,
    ProductFactory,
)

GS = "\x1d"


@pytest.fixture
def prozac(db):
    return PackageFactory(ndc10="0002-3227-30")


# --- resolve_code -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("00002322730", "ndc11"),
        ("00002-3227-30", "ndc11"),
        (" 0002-3227-30 ", "ndc10"),
        ("0002322730", "ndc10_ambiguous"),
        (ndc_to_upc("0002-3227-30"), "upc"),
        ("0" + ndc_to_upc("0002-3227-30"), "upc"),  # sent as EAN-13
        (ndc_to_gtin14("0002-3227-30"), "gtin14"),
        (ndc_to_gtin14("0002-3227-30", indicator=1), "gtin14"),  # a case of them
    ],
)
def test_every_form_of_code_resolves_to_the_package(technician, prozac, code, kind):
    resolved = queries.resolve_code(actor=technician, code=code)
    assert (resolved.package, resolved.scan.kind) == (prozac, kind)
    assert (resolved.lot, resolved.expiry, resolved.serial) == (None, None, None)


def test_a_dscsa_barcode_carries_lot_expiry_and_serial(technician, prozac):
    gtin = ndc_to_gtin14("0002-3227-30")
    for code in (
        f"01{gtin}17261130" + f"10ABC123{GS}21X9Y8",
        f"]d201{gtin}17261130" + f"10ABC123{GS}21X9Y8",  # with the symbology identifier
        f"(01){gtin}(17)261130(10)ABC123(21)X9Y8",  # the printed form
    ):
        resolved = queries.resolve_code(actor=technician, code=code)
        assert (resolved.package, resolved.lot, resolved.expiry, resolved.serial) == (
            prozac,
            "ABC123",
            dt.date(2026, 11, 30),
            "X9Y8",
        ), code


def test_ten_digits_resolve_by_the_package_printed_with_them(technician, db):
    # 0002322730 reads as 0002-3227-30 (4-4-2), 00023-227-30 (5-3-2) or 00023-2273-0 (5-4-1).
    # A package whose 11-digit NDC is one of those readings but which prints other digits
    # (0023-0227-30 pads to 00023-0227-30 too) is not what was scanned.
    printed = PackageFactory(ndc10="0002-3227-30")
    PackageFactory(ndc10="0023-0227-30", ndc11="00023022730")  # same 11 digits as 5-3-2
    assert queries.resolve_code(actor=technician, code="0002322730").package == printed


def test_ten_digits_on_two_packages_are_ambiguous(technician, db):
    first = PackageFactory(ndc10="0002-3227-30")
    second = PackageFactory(ndc10="00023-227-30", description="100 TABLET in 1 BOTTLE")

    with pytest.raises(queries.AmbiguousCode) as raised:
        queries.resolve_code(actor=technician, code=ndc_to_upc("0002-3227-30"))

    assert raised.value.status == 409
    assert [c["ndc11"] for c in raised.value.extra["candidates"]] == [first.ndc11, second.ndc11]
    # Typed with hyphens, either one is certain.
    assert queries.resolve_code(actor=technician, code="00023-227-30").package == second


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("0002-9999-99", "No package with NDC 00002-9999-99 is in the catalog."),
        (
            "0002999999",
            "No package with NDC 0002999999 (in any of the layouts 4-4-2, 5-3-2 and 5-4-1) "
            "is in the catalog.",
        ),
    ],
)
def test_a_well_formed_unknown_code_is_not_found(technician, prozac, code, message):
    with pytest.raises(NotFound) as raised:
        queries.resolve_code(actor=technician, code=code)
    assert raised.value.message == message


@pytest.mark.parametrize(
    "code", ["", "   ", "garbage", "0002-3227", "123456789012345", "300023227301", "01" * 101]
)
def test_a_malformed_code_is_invalid_naming_the_field(technician, prozac, code):
    with pytest.raises(Invalid) as raised:
        queries.resolve_code(actor=technician, code=code)
    assert raised.value.errors == [{"field": "code", "message": raised.value.message}]
    assert raised.value.message


# --- products ---------------------------------------------------------------------------------


def test_product_for_finds_or_says_not_found(technician, prozac):
    assert queries.product_for(actor=technician, product_id=prozac.product_id) == prozac.product
    for pk in (0, -1, 10**9, 2**64):
        with pytest.raises(NotFound):
            queries.product_for(actor=technician, product_id=pk)


def test_products_by_ndc_reads_product_and_package_codes(db):
    a = ProductFactory(product_ndc="0093-7155")
    b = PackageFactory(product=ProductFactory(product_ndc="0378-0208"), ndc10="0378-0208-01")
    found, missing = queries.products_by_ndc(["0093-7155", "0378-0208-01", "9999-9999", " "])
    assert (found, missing) == ([a, b.product], ["9999-9999"])


def test_latest_prices_are_per_kind_and_never_future(db, prozac):
    today = dt.date(2025, 6, 1)
    for kind, amount, on in [
        ("acquisition", "10.00", dt.date(2025, 1, 1)),
        ("acquisition", "12.00", dt.date(2025, 5, 1)),
        ("acquisition", "15.00", dt.date(2025, 7, 1)),  # announced, not yet in force
        ("list", "40.00", dt.date(2024, 1, 1)),
    ]:
        PriceFactory(package=prozac, kind=kind, amount=Decimal(amount), effective_on=on)

    prices = queries.latest_prices([prozac], on=today)[prozac.pk]

    assert [(p.kind, p.amount, p.effective_on, p.label) for p in prices] == [
        ("acquisition", Decimal("12.00"), dt.date(2025, 5, 1), "Acquisition cost"),
        ("list", Decimal("40.00"), dt.date(2024, 1, 1), "List price (AWP-style)"),
    ]


def test_pharm_classes_split_into_a_list(db):
    product = ProductFactory(
        pharm_classes="HMG-CoA Reductase Inhibitor [EPC],Hydroxymethylglutaryl-CoA "
        "Reductase Inhibitors [MoA]"
    )
    assert queries.pharm_classes(product) == [
        "HMG-CoA Reductase Inhibitor [EPC]",
        "Hydroxymethylglutaryl-CoA Reductase Inhibitors [MoA]",
    ]


# --- therapeutic equivalence ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ndc", "fda", "same"),
    [
        ("25 ug/1", "0.025MG **See current Annual Edition, 1.8 Description", True),
        ("10 mg/1", "EQ 10MG BASE", True),
        (".75 mg/.5mL", "0.75MG/0.5ML", True),
        ("5 mg/1; 325 mg/1", "325MG;5MG", True),
        ("1 g/1", "1GM", True),
        ("10 mg/1", "100MG", False),
    ],
)
def test_strengths_compare_across_the_two_files(ndc, fda, same):
    assert (queries.strength_amounts(ndc) == queries.strength_amounts(fda)) is same


@pytest.fixture
def fluoxetine(db):
    """Prozac (NDA, the reference), two AB generics, a BX-rated one, another strength."""
    rows = {
        ("018936", "001"): ("EQ 20MG BASE", "AB"),
        ("018936", "002"): ("EQ 10MG BASE", "AB"),
        ("075000", "001"): ("EQ 20MG BASE", "AB"),
        ("076000", "001"): ("EQ 20MG BASE", "AB"),
        ("077000", "001"): ("EQ 20MG BASE", "BX"),
    }
    for (appl_no, product_no), (strength, te) in rows.items():
        ApplicationProductFactory(
            appl_no=appl_no, product_no=product_no, strength=strength, te_code=te
        )
    make = ProductFactory
    return {
        "prozac": make(application_number="NDA018936"),
        "prozac10": make(application_number="NDA018936", strength="10 mg/1"),
        "teva": make(name="Fluoxetine", application_number="ANDA075000", labeler="Teva"),
        "mylan": make(name="Fluoxetine", application_number="ANDA076000", labeler="Mylan"),
        "mylan_old": make(
            name="Fluoxetine", application_number="ANDA076000", labeler="Mylan", active=False
        ),
        "bx": make(name="Fluoxetine", application_number="ANDA077000", labeler="Bx Labs"),
        "otc": make(name="Fluoxetine", application_number="", marketing_category="OTC"),
    }


def test_a_rated_products_of_the_same_ingredient_form_and_strength_are_offered(fluoxetine):
    found = queries.equivalents(fluoxetine["prozac"])
    assert [(e.product.labeler, e.product.active, e.te_code) for e in found] == [
        ("Mylan", True, "AB"),
        ("Teva", True, "AB"),
        ("Mylan", False, "AB"),
    ]
    generic = [e.product for e in queries.equivalents(fluoxetine["teva"])]
    assert fluoxetine["prozac"] in generic and fluoxetine["bx"] not in generic


def test_b_rated_products_are_never_offered_nor_given_equivalents(fluoxetine):
    assert queries.te_code_of(fluoxetine["bx"]) == "BX"
    assert queries.equivalents(fluoxetine["bx"]) == []
    assert queries.equivalents(fluoxetine["prozac10"]) == []  # no other 10 mg on file
    assert queries.equivalents(fluoxetine["otc"]) == []
    assert queries.te_code_of(fluoxetine["otc"]) == ""


def test_numbered_ab_codes_are_separate_groups(db):
    for appl_no, te in (("021116", "AB1"), ("021210", "AB1"), ("021301", "AB2")):
        ApplicationProductFactory(
            appl_no=appl_no,
            product_no="001",
            active_ingredient="LEVOTHYROXINE SODIUM",
            form="TABLET;ORAL",
            strength="0.025MG",
            te_code=te,
        )
    levo = {
        appl: ProductFactory(
            name=f"Levo {appl}",
            application_number=f"NDA{appl}",
            strength="25 ug/1",
            dosage_form="TABLET",
        )
        for appl in ("021116", "021210", "021301")
    }
    assert [e.product for e in queries.equivalents(levo["021116"])] == [levo["021210"]]
    assert queries.equivalents(levo["021301"]) == []


def test_a_product_with_several_codes_shares_any_of_them(db):
    for appl_no, te in (("076187", "AB1,AB2"), ("021292", "AB2"), ("021301", "AB3")):
        ApplicationProductFactory(
            appl_no=appl_no,
            product_no="001",
            active_ingredient="LEVOTHYROXINE SODIUM",
            form="TABLET;ORAL",
            strength="0.05MG **See current Annual Edition, 1.8 Description of Special",
            te_code=te,
        )
    make = ProductFactory
    generic = make(name="Levothyroxine", application_number="ANDA076187", strength="50 ug/1")
    euthyrox = make(name="Euthyrox", application_number="NDA021292", strength=".05 mg/1")
    make(name="Other", application_number="NDA021301", strength="50 ug/1")

    assert queries.te_codes(queries.te_code_of(generic)) == ["AB1", "AB2"]
    assert [(e.product, e.te_code) for e in queries.equivalents(generic)] == [(euthyrox, "AB2")]


def test_a_sister_brand_in_the_same_application_does_not_hide_the_te_code(db):
    # NDA 018936 holds PROZAC 20 mg (AB1) and SARAFEM 20 mg (no code): same strength.
    ApplicationProductFactory(appl_no="018936", product_no="001", te_code="AB1")
    ApplicationProductFactory(
        appl_no="018936",
        product_no="008",
        drug_name="SARAFEM",
        strength="EQ 20MG BASE **Federal Register determination that product was not",
        te_code="",
    )
    prozac = ProductFactory(name="Prozac")
    sarafem = ProductFactory(name="Sarafem")
    assert (queries.te_code_of(prozac), queries.te_code_of(sarafem)) == ("AB1", "")
