"""The FDA file readers (rxdesk.catalog.importer): pure, no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.catalog import importer
from rxdesk.catalog.importer import (
    DescriptionError,
    FileError,
    Problem,
    appl_no_of,
    billing_quantity,
    decode,
    ndc_readings,
    parse_ndc,
    parse_prices,
    parse_te,
    read_tsv,
    split_substances,
)
from rxdesk.catalog.ndc import CodeError, ndc10_to_11

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "openfda-samples"
PRODUCT_FIXTURE = "ndc_product_trimmed_TESTFIXTURE.txt"
PACKAGE_FIXTURE = "ndc_package_trimmed_TESTFIXTURE.txt"

PRODUCT_HEADER = "\t".join(
    (*importer.PRODUCT_COLUMNS, "LISTING_RECORD_CERTIFIED_THROUGH")
)  # as FDA publishes it: 20 columns
PACKAGE_HEADER = "\t".join((*importer.PACKAGE_COLUMNS[:6], "NDC_EXCLUDE_FLAG", "SAMPLE_PACKAGE"))

# Real lines of the April 2019 directory (Prozac 20 mg; Amyvid; Lipitor).
PROZAC = (
    "0777-3105_a0e4d5b4-d6e4-4b5b-b0e4-6c2d42c2fd4e\t0777-3105\tHUMAN PRESCRIPTION DRUG\t"
    "Prozac\t\tFluoxetine hydrochloride\tCAPSULE\tORAL\t19880104\t\tNDA\tNDA018936\t"
    "Dista Products Company\tFLUOXETINE HYDROCHLORIDE\t20\tmg/1\t"
    "Serotonin Reuptake Inhibitor [EPC],Serotonin Uptake Inhibitors [MoA]\t\tN\t20201231"
)
PROZAC_PACKAGE = (
    "0777-3105_a0e4d5b4-d6e4-4b5b-b0e4-6c2d42c2fd4e\t0777-3105\t0777-3105-02\t"
    "100 CAPSULE in 1 BOTTLE (0777-3105-02) \t19880104\t\tN\tN"
)


def product_line(**changes: str) -> str:
    values = dict(zip((*importer.PRODUCT_COLUMNS, "CERT"), PROZAC.split("\t"), strict=True))
    values.update(changes)
    return "\t".join(values.values())


def package_line(**changes: str) -> str:
    columns = (*importer.PACKAGE_COLUMNS[:6], "NDC_EXCLUDE_FLAG", "SAMPLE_PACKAGE")
    values = dict(zip(columns, PROZAC_PACKAGE.split("\t"), strict=True))
    values.update(changes)
    return "\t".join(values.values())


def files(products: list[str], packages: list[str]) -> importer.NdcFiles:
    return parse_ndc(
        "\r\n".join([PRODUCT_HEADER, *products]) + "\r\n",
        "\r\n".join([PACKAGE_HEADER, *packages]) + "\r\n",
    )


# --- Billing unit and package quantity ----------------------------------------------------

# (PACKAGEDESCRIPTION as the 2019 directory prints it, DOSAGEFORMNAME, unit, quantity)
DESCRIPTIONS = [
    # counted solids
    ("30 TABLET in 1 BOTTLE (0002-3227-30)", "TABLET", "EA", "30"),
    ("100 TABLET in 1 BOTTLE", "TABLET", "EA", "100"),
    ("100 CAPSULE in 1 BOTTLE (0777-3105-02) ", "CAPSULE", "EA", "100"),
    (
        "30 DOSE PACK in 1 CARTON (0002-4453-85)  > 1 BLISTER PACK in 1 DOSE PACK "
        "(0002-4453-01)  > 1 TABLET, ORALLY DISINTEGRATING in 1 BLISTER PACK",
        "TABLET, ORALLY DISINTEGRATING",
        "EA",
        "30",
    ),
    ("10 BOX in 1 CASE (0904-6245-60)  > 100 SWAB in 1 BOX", "SWAB", "EA", "1000"),
    (
        "20 BLISTER PACK in 1 CARTON (0113-0029-60)  > 1 GUM, CHEWING in 1 BLISTER PACK",
        "GUM, CHEWING",
        "EA",
        "20",
    ),
    ("1  in 1 CARTON (GS1:307073877636) ", "LIQUID", "EA", "1"),
    # liquids by volume
    ("1 VIAL in 1 CARTON (0002-0800-01)  > 10 mL in 1 VIAL", "INJECTION, SOLUTION", "ML", "10"),
    ("5 VIAL in 1 CARTON > 2 mL in 1 VIAL", "INJECTION, SOLUTION", "ML", "10"),
    (
        "1 VIAL, MULTI-DOSE in 1 CAN (0002-1200-30)  > 30 mL in 1 VIAL, MULTI-DOSE",
        "INJECTION, SOLUTION",
        "ML",
        "30",
    ),
    (
        "5 CARTRIDGE in 1 CARTON (0002-7516-59)  > 3 mL in 1 CARTRIDGE (0002-7516-01) ",
        "INJECTION, SUSPENSION",
        "ML",
        "15",
    ),
    ("2 SYRINGE in 1 CARTON (0002-1433-61)  > .5 mL in 1 SYRINGE", "INJECTION", "ML", "1"),
    ("100 mL in 1 BOTTLE (0093-2277-73) ", "POWDER, FOR SUSPENSION", "ML", "100"),
    ("4 L in 1 BOTTLE (0037-6820-04) ", "SOLUTION", "ML", "4000"),
    (".025 L in 1 BOTTLE, DROPPER (0078-0517-16) ", "SOLUTION", "ML", "25"),
    ("8 BAG in 1 CARTON (0338-9566-08)  > 1 L in 1 BAG", "INJECTION, SOLUTION", "ML", "8000"),
    ("1 BOTTLE in 1 CARTON (61314-320-01)  > 30500 uL in 1 BOTTLE", "SOLUTION", "ML", "30.5"),
    # solids by weight
    ("1 TUBE in 1 CARTON > 30 g in 1 TUBE", "CREAM", "GM", "30"),
    ("3 CYLINDER in 1 BLISTER PACK (0573-0701-30)  > 4 g in 1 CYLINDER", "GEL", "GM", "12"),
    (".1 kg in 1 JAR (0363-0248-75) ", "OINTMENT", "GM", "100"),
    ("1 CANISTER in 1 CARTON (0037-6822-10)  > 10 g in 1 CANISTER", "AEROSOL, FOAM", "GM", "10"),
    # inhalers and sprays counted in doses: the device is billed
    (
        "1 INHALER in 1 CARTON (0037-7590-12)  > 120 AEROSOL, METERED in 1 INHALER",
        "AEROSOL, METERED",
        "EA",
        "1",
    ),
    (
        "1 POUCH in 1 CARTON (0093-3607-82)  > 1 INHALER in 1 POUCH > 60 POWDER, METERED "
        "in 1 INHALER",
        "POWDER, METERED",
        "EA",
        "1",
    ),
    (
        "1 BOTTLE, SPRAY in 1 BOX (0037-0241-30)  > 200 SPRAY, METERED in 1 BOTTLE, SPRAY",
        "SPRAY, METERED",
        "EA",
        "1",
    ),
    ("1 CANISTER in 1 CARTON (0085-4333-01)  > 120 AEROSOL in 1 CANISTER", "AEROSOL", "EA", "1"),
    (
        "28 TRAY in 1 CARTON (0009-5400-01)  > 6 CARTRIDGE in 1 TRAY > 1 INHALANT in 1 CARTRIDGE",
        "INHALANT",
        "EA",
        "168",
    ),
    # patches: hours, days and areas are not billing units
    (
        "7 POUCH in 1 CARTON (0067-6012-07)  > 1 PATCH in 1 POUCH > 24 h in 1 PATCH",
        "PATCH",
        "EA",
        "7",
    ),
    ("30 PATCH in 1 CARTON (0078-0501-15)  > 24 h in 1 PATCH (0078-0501-61) ", "PATCH", "EA", "30"),
    (
        "8 POUCH in 1 BOX (0023-5885-12)  > 1 PATCH in 1 POUCH > 3.5 d in 1 PATCH",
        "PATCH",
        "EA",
        "8",
    ),
    ("450 cm2 in 1 CARTON (0023-5870-24) ", "PATCH", "EA", "1"),
    ("30 PATCH in 1 CARTON (21695-357-30)  > 24 [USP'U] in 1 PATCH", "PATCH", "EA", "30"),
    # kits, one each, whatever they hold
    (
        "1 KIT in 1 CARTON (0002-7335-11)  *  5 mL in 1 VIAL (0002-7349-01)  *  5 mL in 1 VIAL "
        "(0002-7336-01) ",
        "KIT",
        "EA",
        "1",
    ),
    (
        "1 TRAY in 1 CARTON (0002-8147-01)  > 1 KIT in 1 TRAY *  2.88 mL in 1 CARTRIDGE "
        "(0002-7554-01)  *  2.88 mL in 1 SYRINGE (0002-7618-01) ",
        "KIT",
        "EA",
        "1",
    ),
    ("1 CARTRIDGE in 1 CARTON (0013-2626-81)  > 1 KIT in 1 CARTRIDGE", "KIT", "EA", "1"),
    (" *  1 TUBE in 1 KIT", "KIT", "EA", "1"),
    ("3 BLISTER PACK in 1 CARTON > 28 TABLET in 1 BLISTER PACK", "KIT", "EA", "1"),
    # powders for injection by the vial, medical gases by the cylinder
    (
        "10 VIAL, SINGLE-DOSE in 1 CARTON (0003-2560-16)  > 1 INJECTION, POWDER, FOR SOLUTION "
        "in 1 VIAL, SINGLE-DOSE",
        "INJECTION, POWDER, FOR SOLUTION",
        "EA",
        "10",
    ),
    (
        "1 VIAL in 1 CARTON > 10 mL in 1 VIAL",
        "INJECTION, POWDER, LYOPHILIZED, FOR SOLUTION",
        "EA",
        "1",
    ),
    ("103 L in 1 CYLINDER (10006-001-01) ", "GAS", "EA", "1"),
    # homeopathic potencies, lengths, activities and milligram contents: by the container
    ("30 [hp_C] in 1 TUBE (0220-0002-41) ", "PELLET", "EA", "1"),
    ("2740 mm in 1 BOTTLE, PLASTIC (10129-001-03) ", "STRIP", "EA", "1"),
    ("1 Ci in 1 CARTON (71612-006-01) ", "INJECTION", "EA", "1"),
    ("20 PACKET in 1 CARTON (0363-0589-01)  > 1 mg in 1 PACKET", "POWDER", "EA", "20"),
    (".296 mg in 1 BOTTLE, GLASS (37205-362-38)", "LIQUID", "EA", "1"),
]


@pytest.mark.parametrize(("description", "form", "unit", "quantity"), DESCRIPTIONS)
def test_it_reads_the_billing_unit_and_quantity_of_real_descriptions(
    description, form, unit, quantity
):
    assert billing_quantity(description, form) == (unit, Decimal(quantity))


def test_it_returns_quantities_as_decimals_with_three_places():
    unit, quantity = billing_quantity("2 SYRINGE in 1 CARTON > .5 mL in 1 SYRINGE")
    assert unit == "ML"
    assert isinstance(quantity, Decimal)
    assert str(quantity) == "1.000"


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("0 TABLET in 1 BOTTLE (35356-822-00)", "it says 0 TABLET"),
        ("0 BOTTLE in 1 CARTON (40046-0076-1)  > 50 mL in 1 BOTTLE", "it says 0 BOTTLE"),
        ("0 mL in 1 VIAL, GLASS (54746-001-01)", "comes to zero"),
        (".00001 CAPSULE, DELAYED RELEASE in 1 CUP (68151-3088-8)", "comes to zero"),
        ("", "blank"),
        ("a bottle of pills", "cannot read 'a bottle of pills'"),
        ("999999 BOX in 1 CASE > 999999 TABLET in 1 BOX", "too large"),
    ],
)
def test_it_refuses_a_description_it_cannot_bill(description, message):
    with pytest.raises(DescriptionError, match=message):
        billing_quantity(description, "TABLET")


@given(
    outer=st.integers(min_value=1, max_value=500),
    volume=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3),
)
def test_it_multiplies_nested_counts_exactly(outer, volume):
    description = f"{outer} VIAL in 1 CARTON (0002-0800-01)  > {volume} mL in 1 VIAL"
    assert billing_quantity(description, "INJECTION, SOLUTION") == ("ML", outer * volume)


# --- Reading the files --------------------------------------------------------------------


def test_it_reads_columns_by_header_name_with_line_numbers_and_crlf():
    text = "B\tA\tC\r\n2\t1\t3\r\n\r\n5\t4\t6\t\r\n7\t8\r\n"
    rows, problems = read_tsv(text, columns=("A", "B"), file="f.txt")
    # a blank line keeps its number; a trailing empty field is tolerated
    assert rows == [(2, ["1", "2"]), (4, ["4", "5"])]
    assert problems == [Problem("f.txt", 5, "has 2 fields where the header has 3")]


def test_it_refuses_a_file_without_the_columns_it_needs():
    with pytest.raises(FileError, match=r"f\.txt lacks the columns A, B") as caught:
        read_tsv("C\tD\n1\t2\n", columns=("A", "B", "C"), file="f.txt")
    assert caught.value.file == "f.txt"
    with pytest.raises(FileError, match="empty"):
        read_tsv("\r\n\r\n", columns=("A",), file="f.txt")


def test_it_decodes_utf8_and_falls_back_to_latin1():
    assert decode("Schwäbisch Gmünd".encode()) == "Schwäbisch Gmünd"
    assert decode("Schwäbisch Gmünd".encode("latin-1")) == "Schwäbisch Gmünd"
    assert decode(b"\xef\xbb\xbfPRODUCTID") == "PRODUCTID"


def test_it_splits_substances_but_not_inside_parentheses():
    assert split_substances("GLYCERIN; HYDROLYZED SOY PROTEIN (ENZYMATIC; 2000 MW)") == [
        "GLYCERIN",
        "HYDROLYZED SOY PROTEIN (ENZYMATIC; 2000 MW)",
    ]
    assert split_substances("OXYCODONE HYDROCHLORIDE; ACETAMINOPHEN") == [
        "OXYCODONE HYDROCHLORIDE",
        "ACETAMINOPHEN",
    ]
    assert split_substances("") == []


# --- Products and packages ----------------------------------------------------------------


def test_it_reads_a_product_and_its_package():
    parsed = files([PROZAC], [PROZAC_PACKAGE])
    assert parsed.problems == []
    [product] = parsed.products
    assert product.product_id == "0777-3105_a0e4d5b4-d6e4-4b5b-b0e4-6c2d42c2fd4e"
    assert product.line == 2
    assert product.name == "Prozac"
    assert product.tall_man_name == "PROzac"  # FDA/ISMP: PROzac / PriLOSEC
    assert product.strength == "20 mg/1"
    assert product.ingredients == (("FLUOXETINE HYDROCHLORIDE", "20", "mg/1"),)
    assert product.marketing_start == dt.date(1988, 1, 4)
    assert product.marketing_end is None
    assert product.directory_dea_schedule == ""
    assert product.otc is False
    assert product.excluded is False
    [package] = parsed.packages
    assert package.ndc10 == "0777-3105-02"
    assert package.ndc11 == "00777310502"
    assert (package.billing_unit, package.package_quantity) == ("EA", Decimal(100))
    assert package.sample is False


def test_it_reads_schedules_otc_exclusion_tall_man_and_several_ingredients():
    line = product_line(
        PRODUCTTYPENAME="HUMAN OTC DRUG",
        PROPRIETARYNAME="Hydroxyzine Hydrochloride",
        SUBSTANCENAME="OXYCODONE HYDROCHLORIDE; ACETAMINOPHEN",
        ACTIVE_NUMERATOR_STRENGTH="5; 325",
        ACTIVE_INGRED_UNIT="mg/1; mg/1",
        DEASCHEDULE="CII",
        NDC_EXCLUDE_FLAG="E",
        ENDMARKETINGDATE="20191231",
    )
    [product] = files([line], []).products
    assert product.tall_man_name == "hydrOXYzine Hydrochloride"
    assert product.otc is True
    assert product.directory_dea_schedule == "CII"
    assert product.excluded is True
    assert product.strength == "5 mg/1; 325 mg/1"
    assert product.ingredients == (
        ("OXYCODONE HYDROCHLORIDE", "5", "mg/1"),
        ("ACETAMINOPHEN", "325", "mg/1"),
    )
    assert product.marketing_end == dt.date(2019, 12, 31)


def test_it_keeps_substances_whose_strengths_the_directory_left_out():
    # product.txt line 39107 (2019): three substances, no strengths, units "/; /; /"
    line = product_line(
        SUBSTANCENAME="FORESKIN FIBROBLAST (NEONATAL); BOVINE TYPE I COLLAGEN; "
        "FORESKIN KERATINOCYTE (NEONATAL)",
        ACTIVE_NUMERATOR_STRENGTH="",
        ACTIVE_INGRED_UNIT="/; /; /",
    )
    [product] = files([line], []).products
    assert [i[0] for i in product.ingredients] == [
        "FORESKIN FIBROBLAST (NEONATAL)",
        "BOVINE TYPE I COLLAGEN",
        "FORESKIN KERATINOCYTE (NEONATAL)",
    ]
    assert {i[1:] for i in product.ingredients} == {("", "")}


def test_it_loads_the_good_rows_of_the_corrupted_fixture_and_names_the_bad_lines():
    parsed = parse_ndc(
        decode((SAMPLES / PRODUCT_FIXTURE).read_bytes()),
        decode((SAMPLES / PACKAGE_FIXTURE).read_bytes()),
        product_file=PRODUCT_FIXTURE,
        package_file=PACKAGE_FIXTURE,
    )
    assert [p.product_id for p in parsed.products] == [
        "0002-0800_ab2a5006-1880-4b6c-9640-dc2ec1066449",
        "0002-1407_14757f9d-f641-4836-acf3-229265588d1d",
    ]
    assert [p.ndc10 for p in parsed.packages] == ["0002-0800-01"]
    assert [str(p) for p in parsed.problems] == [
        f"{PRODUCT_FIXTURE} line 3: DEASCHEDULE 'DEA' is not a DEA schedule (CI to CV, or "
        "blank); SUBSTANCENAME names 4 substances but ACTIVE_NUMERATOR_STRENGTH has 3 and "
        "ACTIVE_INGRED_UNIT 2 entries",
        f"{PACKAGE_FIXTURE} line 3: its product 0002-1200_4bd46cbe-cdc1-4329-a8e7-22816bd7fc33 "
        "was refused (line 3 of the product file)",
        f"{PACKAGE_FIXTURE} line 4: its product 0002-1200_4bd46cbe-cdc1-4329-a8e7-22816bd7fc33 "
        "was refused (line 3 of the product file)",
    ]
    # what the catalog holds for a refused row stays as it is (not retired)
    assert parsed.refused_product_ids == {"0002-1200_4bd46cbe-cdc1-4329-a8e7-22816bd7fc33"}
    assert parsed.refused_ndc11s == {"00002120030", "00002120050"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"PRODUCTNDC": "777-3105"}, "PRODUCTNDC '777-3105' is not a labeler-product code"),
        ({"STARTMARKETINGDATE": "19881304"}, "STARTMARKETINGDATE '19881304' is not a date"),
        ({"ENDMARKETINGDATE": "2019-12-31"}, "ENDMARKETINGDATE '2019-12-31' is not a date"),
        ({"DEASCHEDULE": "C2"}, "DEASCHEDULE 'C2' is not a DEA schedule"),
        ({"PROPRIETARYNAME": "", "NONPROPRIETARYNAME": ""}, "are both blank"),
        ({"ACTIVE_NUMERATOR_STRENGTH": "20; 10"}, "names 1 substance but"),
    ],
)
def test_it_refuses_a_bad_product_line_and_its_packages(change, message):
    parsed = files([product_line(**change)], [PROZAC_PACKAGE])
    assert parsed.products == [] and parsed.packages == []
    product_problem, package_problem = parsed.problems
    assert product_problem.line == 2 and message in product_problem.message
    assert package_problem.line == 2
    assert package_problem.message.startswith("its product 0777-3105_")


def test_it_refuses_a_line_with_the_wrong_number_of_fields():
    lisinopril = product_line(PRODUCTID="0777-9999_x", PRODUCTNDC="0777-9999")
    parsed = files([PROZAC + "\textra", lisinopril, lisinopril.replace("Prozac", "Other")], [])
    assert [p.product_id for p in parsed.products] == ["0777-9999_x"]
    assert [str(p) for p in parsed.problems] == [
        "product.txt line 2: has 21 fields where the header has 20",
        "product.txt line 4: PRODUCTID 0777-9999_x repeats line 3",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"NDCPACKAGECODE": "0777-3105-2X"}, "NDCPACKAGECODE '0777-3105-2X' is not a 10-digit NDC"),
        ({"NDCPACKAGECODE": "07773-105-02"}, "is not a package of product 0777-3105"),
        ({"PRODUCTID": "9999-9999_nope"}, "PRODUCTID '9999-9999_nope' is not in the product file"),
        ({"STARTMARKETINGDATE": "1988014"}, "STARTMARKETINGDATE '1988014' is not a date"),
        ({"PACKAGEDESCRIPTION": "0 CAPSULE in 1 BOTTLE"}, "it says 0 CAPSULE"),
    ],
)
def test_it_refuses_a_bad_package_line_by_its_line_number(change, message):
    parsed = files([PROZAC], [PROZAC_PACKAGE, package_line(**change)])
    assert len(parsed.packages) == 1
    [problem] = parsed.problems
    assert problem.file == "package.txt" and problem.line == 3
    assert message in problem.message


def test_it_keeps_the_first_of_two_lines_with_the_same_package_ndc():
    # package.txt lines 27151-27153 (2019) give 10956-003-01 three times
    parsed = files(
        [PROZAC], [PROZAC_PACKAGE, package_line(PACKAGEDESCRIPTION="60 CAPSULE in 1 BOTTLE")]
    )
    assert [p.line for p in parsed.packages] == [2]
    assert [str(p) for p in parsed.problems] == [
        "package.txt line 3: NDC 0777-3105-02 repeats line 2 (kept that one)"
    ]


@given(
    layout=st.sampled_from([(4, 4, 2), (5, 3, 2), (5, 4, 1)]),
    digits=st.text(alphabet="0123456789", min_size=10, max_size=10),
)
def test_its_fast_package_ndc_reading_agrees_with_the_ndc_module(layout, digits):
    a, b, _ = layout
    code = f"{digits[:a]}-{digits[a : a + b]}-{digits[a + b :]}"
    assert importer._ndc11_of_package(code) == ndc10_to_11(code)


# --- Drugs@FDA ----------------------------------------------------------------------------

DA_PRODUCTS = (
    "ApplNo\tProductNo\tForm\tStrength\tReferenceDrug\tDrugName\tActiveIngredient\t"
    "ReferenceStandard\r\n"
    "021116\t001\tTABLET;ORAL\t0.025MG\t0\tLEVO-T\tLEVOTHYROXINE SODIUM\t0\r\n"
    "075350\t001\tTABLET;ORAL\t10MG\t0\tLISINOPRIL\tLISINOPRIL\t0\r\n"
    "019777\t001\tTABLET;ORAL\t10MG\t1\tZESTRIL\tLISINOPRIL\t1\r\n"
    "206029\t001\tTABLET;ORAL\tEQ 1MG BASE\t0\tPITAVASTATIN CALCIUM\tPITAVASTATIN CALCIUM\t\t\r\n"
)
DA_TE = (
    "ApplNo\tProductNo\tMarketingStatusID\tTECode\r\n"
    "021116\t001\t1\tAB2\r\n"
    "021116\t001\t1\tAB1\r\n"
    "075350\t001\t1\tAB\r\n"
    "071570\t001\t1\tAB\r\n"
)
DA_LOOKUP = (
    "MarketingStatusID\tMarketingStatusDescription\r\n"
    "1\tPrescription\r\n2\tOver-the-counter\r\n3\tDiscontinued\r\n"
)
DA_STATUS = (
    "MarketingStatusID\tApplNo\tProductNo\r\n"
    "1\t021116\t001\r\n1\t075350\t001\r\n2\t075350\t001\r\n3\t019777\t001\r\n"
    "9\t206029\t001\r\n"
)


def test_it_joins_drugs_at_fda_products_with_their_te_codes_and_status():
    parsed = parse_te(DA_PRODUCTS, DA_TE, DA_LOOKUP, DA_STATUS)
    rows = {(r.appl_no, r.product_no): r for r in parsed.rows}
    assert rows["021116", "001"].te_code == "AB1,AB2"
    assert rows["075350", "001"].te_code == "AB"
    assert rows["075350", "001"].marketing_status == "Prescription; Over-the-counter"
    assert rows["019777", "001"].reference_drug is True
    assert rows["019777", "001"].te_code == ""
    assert rows["019777", "001"].marketing_status == "Discontinued"
    # a trailing tab is tolerated (Products.txt lines 34951-34953 carry one)
    assert rows["206029", "001"].strength == "EQ 1MG BASE"
    assert [str(p) for p in parsed.problems] == [
        "MarketingStatus.txt line 6: MarketingStatusID '9' is not in MarketingStatus_Lookup.txt",
        "TE.txt line 5: ApplNo 071570 ProductNo 001 is not in Products.txt",
    ]


def test_it_takes_the_marketing_status_from_te_txt_without_marketingstatus_txt():
    parsed = parse_te(DA_PRODUCTS, DA_TE, DA_LOOKUP)
    rows = {(r.appl_no, r.product_no): r for r in parsed.rows}
    assert rows["075350", "001"].marketing_status == "Prescription"
    assert rows["019777", "001"].marketing_status == ""


@pytest.mark.parametrize(
    ("number", "appl_no"),
    [
        ("ANDA075350", "075350"),
        ("NDA018781", "018781"),
        ("BLA125469", "125469"),
        ("part341", None),
        ("", None),
        ("NDA0123456", None),
        ("NOT_SPECIFIED", None),
    ],
)
def test_it_finds_the_drugs_at_fda_application_of_an_ndc_product(number, appl_no):
    assert appl_no_of(number) == appl_no


# --- Prices -------------------------------------------------------------------------------


def test_it_reads_a_price_file_in_any_ndc_form_and_names_bad_lines():
    text = (
        "\ufeffNDC,Price_Type,Price,Effective_Date\r\n"
        "0002-3227-30,acquisition,12.50,2026-01-01\r\n"
        "00002322730,AWP,$1,015.00,2026-01-01\r\n"
        '"00002322730",AWP,"$1,015.00",2026-01-01\r\n'
        "0002322730,U&C,9,20260201\r\n"
        "12345,list,1,2026-01-01\r\n"
        "0002-3227-30,wac,1,2026-01-01\r\n"
        "0002-3227-30,list,-1,2026-01-01\r\n"
        "0002-3227-30,list,1.005,2026-01-01\r\n"
        "0002-3227-30,list,abc,2026-01-01\r\n"
        "0002-3227-30,list,1,2026-02-30\r\n"
    )
    rows, problems = parse_prices(text, file="p.csv")
    assert [(r.line, r.ndc11s, r.kind, r.amount, r.effective_on) for r in rows] == [
        (2, ("00002322730",), "acquisition", Decimal("12.50"), dt.date(2026, 1, 1)),
        (4, ("00002322730",), "list", Decimal("1015.00"), dt.date(2026, 1, 1)),
        (
            5,
            ("00002322730", "00023022730", "00023227300"),
            "usual_customary",
            Decimal(9),
            dt.date(2026, 2, 1),
        ),
    ]
    assert [(p.line, p.message) for p in problems] == [
        (3, "has 5 fields where the header has 4"),
        (6, "NDC '12345': An NDC has 10 digits in 4-4-2, 5-3-2 or 5-4-1 form, or 11 digits."),
        (7, "price_type 'wac' is not acquisition, list or usual_customary"),
        (8, "price '-1' is not an amount of money"),
        (9, "price '1.005' has more than two decimals (cents)"),
        (10, "price 'abc' is not a number"),
        (11, "effective_date '2026-02-30' is not a date (YYYY-MM-DD)"),
    ]


def test_it_refuses_a_price_file_without_its_header():
    with pytest.raises(FileError, match="lacks the column effective_date"):
        parse_prices("ndc,price_type,price\n0002-3227-30,list,1\n")


def test_ndc_readings_gives_three_candidates_for_ten_plain_digits():
    assert ndc_readings("00002-3227-30") == ("00002322730",)
    assert ndc_readings("0002-3227-30") == ("00002322730",)
    assert len(ndc_readings("0002322730")) == 3
    with pytest.raises(CodeError):
        ndc_readings("0002-32-27-30")
