"""NDC formats, barcodes and scans (pure functions; no database).

Expected values come from the team reference, identifiers-labels-math.md §1.1–1.5.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from biip.gs1_messages import GS1Message
from hypothesis import example, given
from hypothesis import strategies as st

from rxdesk.catalog.ndc import (
    LAYOUTS,
    CodeError,
    Scan,
    code_problem,
    format_ndc11,
    gs1_check_digit,
    layout_of,
    ndc10_candidates,
    ndc10_to_11,
    ndc11_to_10,
    ndc_to_gtin14,
    ndc_to_upc,
    parse_scan,
)

GS = "\x1d"
PACKAGE_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "fda-ndc" / "package.txt"

# The reference's worked example, NDC 0002-1433-80 in every form.
NDC10 = "0002-1433-80"
NDC11 = "00002143380"
UPC = "300021433802"
GTIN0 = "00300021433802"
GTIN1 = "10300021433809"
CANDIDATES = ("00002143380", "00021043380", "00021433800")


# --- 10 -> 11 -> 10 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hyphenated", "layout", "ndc11"),
    [
        ("0002-1433-80", "4-4-2", "00002143380"),
        ("50090-123-01", "5-3-2", "50090012301"),
        ("12345-6789-1", "5-4-1", "12345678901"),
        ("0002-3227-30", "4-4-2", "00002322730"),
    ],
)
def test_it_converts_each_layout_to_11_digits_and_back(hyphenated, layout, ndc11):
    assert layout_of(hyphenated) == layout
    assert ndc10_to_11(hyphenated) == ndc11
    assert ndc11_to_10(ndc11, layout) == hyphenated


def test_it_accepts_5_4_2_and_plain_11_digits_as_already_11():
    assert ndc10_to_11("00002-1433-80") == NDC11
    assert ndc10_to_11("00002143380") == NDC11


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0002143380",
        "0002-1433-8",
        "002-1433-80",
        "0002-1433-80-1",
        "0002--1433",
        "0002-14a3-80",
        "00002-1433-800",
        "٠٠٠٢-١٤٣٣-٨٠",
    ],
)
def test_it_refuses_malformed_ndcs(bad):
    with pytest.raises(CodeError):
        ndc10_to_11(bad)


def test_it_explains_the_ndc_shapes():
    with pytest.raises(CodeError) as exc:
        ndc10_to_11("0002-1433-8")
    assert str(exc.value) == "An NDC has 10 digits in 4-4-2, 5-3-2 or 5-4-1 form, or 11 digits."


def test_it_asks_for_hyphens_on_10_plain_digits():
    with pytest.raises(CodeError, match="could be 4-4-2, 5-3-2 or 5-4-1"):
        ndc10_to_11("0002143380")


def test_layout_of_refuses_an_11_digit_ndc():
    with pytest.raises(CodeError, match="A 10-digit NDC has hyphens"):
        layout_of("00002-1433-80")


@pytest.mark.parametrize(
    ("ndc11", "layout", "segment"),
    [
        ("12345678901", "4-4-2", "labeler code 12345"),
        ("00002143380", "5-3-2", "product code 1433"),
        ("00002143380", "5-4-1", "package code 80"),
    ],
)
def test_ndc11_to_10_refuses_a_segment_without_the_padding_zero(ndc11, layout, segment):
    with pytest.raises(CodeError) as exc:
        ndc11_to_10(ndc11, layout)
    assert str(exc.value) == (
        f"NDC {format_ndc11(ndc11)} cannot be written {layout}: its {segment} "
        "does not start with the padding 0."
    )


def test_ndc11_to_10_refuses_an_unknown_layout():
    with pytest.raises(CodeError, match="Unknown NDC layout '6-4-2'"):
        ndc11_to_10(NDC11, "6-4-2")


def test_ndc11_to_10_accepts_a_hyphenated_11_digit_ndc():
    assert ndc11_to_10("00002-1433-80", "4-4-2") == NDC10


def test_format_ndc11():
    assert format_ndc11("00002143380") == "00002-1433-80"
    with pytest.raises(CodeError):
        format_ndc11("0002143380")


def test_ndc10_candidates_follow_the_reference_example_in_layouts_order():
    assert LAYOUTS == ("4-4-2", "5-3-2", "5-4-1")
    assert ndc10_candidates("1234567890") == [
        ("01234567890", "1234-5678-90"),
        ("12345067890", "12345-678-90"),
        ("12345678900", "12345-6789-0"),
    ]
    with pytest.raises(CodeError):
        ndc10_candidates("123456789")


# --- check digits and barcodes ---------------------------------------------------------


def test_gs1_check_digit_matches_the_worked_examples():
    assert gs1_check_digit("30002143380") == 2
    assert gs1_check_digit("0030002143380") == 2  # leading zeros change nothing
    assert gs1_check_digit("1030002143380") == 9
    assert gs1_check_digit("629104150021") == 3  # GS1's own GTIN-13 example, 6291041500213
    with pytest.raises(CodeError):
        gs1_check_digit("12a4")


def test_it_builds_the_reference_upc_and_gtins():
    assert ndc_to_upc(NDC10) == UPC
    assert ndc_to_gtin14(NDC10) == GTIN0
    assert ndc_to_gtin14(NDC10, indicator=1) == GTIN1


@pytest.mark.parametrize("indicator", [-1, 9, 10])
def test_ndc_to_gtin14_refuses_an_indicator_outside_0_to_8(indicator):
    with pytest.raises(CodeError, match="digit from 0 to 8"):
        ndc_to_gtin14(NDC10, indicator=indicator)


def test_ndc_to_upc_refuses_an_11_digit_ndc():
    with pytest.raises(CodeError, match="11-digit billing NDC cannot be put in one"):
        ndc_to_upc("00002-1433-80")


# --- parse_scan: the reference examples ------------------------------------------------


def test_scan_of_11_digits_is_definite():
    expected = Scan(kind="ndc11", ndc11=NDC11)
    assert parse_scan("00002143380") == expected
    assert parse_scan(" 00002-1433-80\n") == expected


@pytest.mark.parametrize(
    ("typed", "ndc11"),
    [
        ("0002-1433-80", "00002143380"),
        ("50090-123-01", "50090012301"),
        ("12345-6789-1", "12345678901"),
    ],
)
def test_scan_of_a_hyphenated_10_digit_ndc_is_definite(typed, ndc11):
    assert parse_scan(typed) == Scan(kind="ndc10", ndc11=ndc11)


def test_scan_of_10_plain_digits_is_ambiguous():
    assert parse_scan("0002143380") == Scan(
        kind="ndc10_ambiguous", ndc10_digits="0002143380", candidates=CANDIDATES
    )


def test_scan_of_a_upc():
    expected = Scan(kind="upc", ndc10_digits="0002143380", candidates=CANDIDATES, gtin=GTIN0)
    assert parse_scan(UPC) == expected
    assert parse_scan("0" + UPC) == expected  # the EAN-13 form many scanners send
    assert parse_scan("]E0" + "0" + UPC) == expected


def test_scan_of_a_upc_with_a_bad_check_digit():
    with pytest.raises(CodeError) as exc:
        parse_scan("300021433803")
    assert str(exc.value) == "The check digit of this UPC is wrong (expected 2)."


def test_scan_of_a_upc_outside_number_system_3():
    body = "0" + "0002143380"
    upc = f"{body}{gs1_check_digit(body)}"
    with pytest.raises(CodeError) as exc:
        parse_scan(upc)
    assert str(exc.value) == (
        "This UPC does not contain an NDC (a drug UPC starts with 3, this one with 0)."
    )


@pytest.mark.parametrize("gtin", [GTIN0, GTIN1])
def test_scan_of_a_gtin14(gtin):
    assert parse_scan(gtin) == Scan(
        kind="gtin14", ndc10_digits="0002143380", candidates=CANDIDATES, gtin=gtin
    )


def test_scan_of_a_gtin14_without_03():
    body = "0" + "04" + "0002143380"
    with pytest.raises(CodeError, match="does not contain an NDC"):
        parse_scan(f"{body}{gs1_check_digit(body)}")


def test_scan_of_a_gtin14_with_a_bad_check_digit():
    with pytest.raises(CodeError) as exc:
        parse_scan("10300021433802")
    assert str(exc.value) == "The check digit of this GTIN is wrong (expected 9)."


DATAMATRIX = Scan(
    kind="gs1",
    ndc10_digits="0002143380",
    candidates=CANDIDATES,
    gtin=GTIN0,
    lot="ABC123",
    expiry=dt.date(2026, 11, 30),
    serial="X7Y9Z00012345",
)


@pytest.mark.parametrize(
    "scanned",
    [
        # the reference's raw scan, with the ]d2 symbology identifier
        "]d2" + "0100300021433802" + "17261130" + "10ABC123" + GS + "21X7Y9Z00012345",
        # without the identifier, and with the FNC1 a few scanners send first as GS
        "0100300021433802" + "17261130" + "10ABC123" + GS + "21X7Y9Z00012345",
        GS + "0100300021433802" + "17261130" + "10ABC123" + GS + "21X7Y9Z00012345",
        # variable fields first, each ended by GS
        "]d2" + "21X7Y9Z00012345" + GS + "10ABC123" + GS + "0100300021433802" + "17261130",
        # day 00: the last day of the month
        "]d2" + "0100300021433802" + "17261100" + "10ABC123" + GS + "21X7Y9Z00012345",
        # the printed (human-readable) form, with and without spaces
        "(01)00300021433802(17)261130(10)ABC123(21)X7Y9Z00012345",
        "(01) 00300021433802 (17) 261100 (10) ABC123 (21) X7Y9Z00012345",
    ],
)
def test_scan_of_the_reference_datamatrix(scanned):
    assert parse_scan(scanned) == DATAMATRIX


def test_scan_of_a_gs1_message_with_only_a_gtin():
    assert parse_scan("]d2" + "01" + GTIN1) == Scan(
        kind="gs1", ndc10_digits="0002143380", candidates=CANDIDATES, gtin=GTIN1
    )


def test_scan_of_a_gs1_message_with_a_bad_gtin_check_digit():
    with pytest.raises(CodeError) as exc:
        parse_scan("]d2" + "0100300021433803" + "17261130")
    assert str(exc.value) == "The check digit of this GTIN is wrong (expected 2)."


def test_scan_of_a_gs1_message_without_a_gtin():
    with pytest.raises(CodeError) as exc:
        parse_scan("]d2" + "17261130" + "10ABC123")
    assert str(exc.value) == "This GS1 barcode has no GTIN (AI 01), so it does not name a product."


@pytest.mark.parametrize(
    "scanned",
    [
        "]d2" + "0100300021433802" + "17261330",  # month 13
        "]d2" + "0100300021433802" + "1726113",  # short date
        "]d2" + "01003000214338",  # short GTIN
        "]d2" + "0100300021433802" + "10" + "L" * 21,  # lot longer than 20
        "(01)00300021433802(17)2611",
    ],
)
def test_scan_of_a_broken_gs1_message(scanned):
    with pytest.raises(CodeError, match="This GS1 barcode could not be read"):
        parse_scan(scanned)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Nothing was scanned or typed."),
        ("   ", "Nothing was scanned or typed."),
        ("]", "The scanner sent an unknown symbology prefix."),
        ("]d2", "The scan held no data after its symbology prefix."),
        (
            "12345",
            "A code of 5 digits is not an NDC (10 or 11 digits), a UPC (12) or a GTIN-14 (14).",
        ),
        ("1", "A code of 1 digit is not an NDC (10 or 11 digits), a UPC (12) or a GTIN-14 (14)."),
        ("1300021433802", "This EAN-13 is not a US drug code (it does not start with 0)."),
        (
            "aspirin",
            "This is not an NDC, UPC, GTIN or GS1 barcode. An NDC has 10 digits in 4-4-2, "
            "5-3-2 or 5-4-1 form, or 11 digits.",
        ),
        ("0002-1433-8", "An NDC has 10 digits in 4-4-2, 5-3-2 or 5-4-1 form, or 11 digits."),
        (
            "٠٠٠٢١٤٣٣٨٠",
            "This is not an NDC, UPC, GTIN or GS1 barcode. An NDC has 10 digits in "
            "4-4-2, 5-3-2 or 5-4-1 form, or 11 digits.",
        ),
    ],
)
def test_scan_of_garbage_says_what_is_wrong(text, message):
    with pytest.raises(CodeError) as exc:
        parse_scan(text)
    assert str(exc.value) == message
    assert code_problem(text) == message


def test_code_problem_is_none_for_a_good_code():
    assert code_problem(UPC) is None


def test_scan_accepts_typographic_dashes_and_spaces():
    assert parse_scan("12345\u20136789\u20131") == Scan(kind="ndc10", ndc11="12345678901")
    assert parse_scan("0002 1433 80") == parse_scan("0002143380")


# --- biip against the reference --------------------------------------------------------


def test_biip_reads_the_reference_ais():
    message = GS1Message.parse(
        "0100300021433802" + "17261100" + "10ABC123" + GS + "21X7Y9Z00012345"
    )
    strings = message.element_strings
    assert [(e.ai.ai, e.value) for e in strings] == [
        ("01", "00300021433802"),
        ("17", "261100"),
        ("10", "ABC123"),
        ("21", "X7Y9Z00012345"),
    ]
    assert [e.ai.separator_required for e in strings] == [False, False, True, True]
    assert strings[1].date == dt.date(2026, 11, 30)  # DD=00 -> month end


@pytest.mark.parametrize(
    ("yymmdd", "month_end"),
    [
        ("240200", dt.date(2024, 2, 29)),
        ("250200", dt.date(2025, 2, 28)),
        ("261200", dt.date(2026, 12, 31)),
        ("260400", dt.date(2026, 4, 30)),
    ],
)
def test_biip_maps_day_00_to_the_month_end(yymmdd, month_end):
    assert GS1Message.parse("17" + yymmdd).element_strings[0].date == month_end


def _reference_century(yy: int, today: dt.date) -> int:
    """§1.4: YY − (this year mod 100) in 51…99 -> previous century, −99…−50 -> next."""
    century = today.year - today.year % 100
    difference = yy - today.year % 100
    if 51 <= difference <= 99:
        return century - 100
    if -99 <= difference <= -50:
        return century + 100
    return century


@pytest.mark.parametrize("yy", range(100))
def test_biip_uses_the_gs1_sliding_century_window(yy):
    date = GS1Message.parse(f"17{yy:02d}0615").element_strings[0].date
    assert date == dt.date(_reference_century(yy, dt.date.today()) + yy, 6, 15)


# --- properties ------------------------------------------------------------------------

digits = "0123456789"
TODAY = dt.date.today()


@st.composite
def hyphenated_ndcs(draw, layout=None):
    layout = layout or draw(st.sampled_from(LAYOUTS))
    lengths = [int(n) for n in layout.split("-")]
    parts = [draw(st.text(digits, min_size=n, max_size=n)) for n in lengths]
    return "-".join(parts)


@pytest.mark.parametrize("layout", LAYOUTS)
@given(data=st.data())
def test_10_to_11_to_10_round_trips(layout, data):
    ndc = data.draw(hyphenated_ndcs(layout))
    ndc11 = ndc10_to_11(ndc)
    assert len(ndc11) == 11
    assert layout_of(ndc) == layout
    assert ndc11_to_10(ndc11, layout) == ndc
    assert parse_scan(ndc) == Scan(kind="ndc10", ndc11=ndc11)
    assert parse_scan(format_ndc11(ndc11)) == Scan(kind="ndc11", ndc11=ndc11)
    plain = ndc.replace("-", "")
    assert ndc10_candidates(plain)[LAYOUTS.index(layout)] == (ndc11, ndc)


@given(ndc=hyphenated_ndcs(), indicator=st.integers(0, 8))
def test_upc_and_gtin14_built_from_an_ndc_parse_back_to_it(ndc, indicator):
    ndc11 = ndc10_to_11(ndc)
    position = LAYOUTS.index(layout_of(ndc))
    upc = ndc_to_upc(ndc)
    gtin = ndc_to_gtin14(ndc, indicator)
    for code, kind in ((upc, "upc"), (gtin, "gtin14"), ("]d201" + gtin, "gs1")):
        scan = parse_scan(code)
        assert scan.kind == kind
        assert scan.ndc11 is None
        assert scan.ndc10_digits == ndc.replace("-", "")
        assert scan.candidates[position] == ndc11
    assert parse_scan(upc).gtin == "00" + upc == ndc_to_gtin14(ndc, 0)


@given(
    ndc=hyphenated_ndcs(),
    lot=st.text("ABCXYZ0123456789-./", min_size=1, max_size=20),
    serial=st.text("ABCXYZ0123456789", min_size=1, max_size=20),
    # inside the GS1 century window around today, where YYMMDD is unambiguous
    expiry=st.dates(dt.date(TODAY.year - 45, 1, 1), dt.date(TODAY.year + 45, 12, 31)),
)
def test_a_gs1_datamatrix_built_from_an_ndc_parses_back(ndc, lot, serial, expiry):
    gtin = ndc_to_gtin14(ndc)
    data = f"]d201{gtin}17{expiry:%y%m%d}10{lot}{GS}21{serial}"
    hri = f"(01){gtin}(17){expiry:%y%m%d}(10){lot}(21){serial}"
    for scanned in (data, hri):
        scan = parse_scan(scanned)
        assert (scan.gtin, scan.lot, scan.serial, scan.expiry) == (gtin, lot, serial, expiry)
        assert ndc10_to_11(ndc) in scan.candidates


@given(ndc=hyphenated_ndcs(), indicator=st.integers(0, 8), data=st.data())
def test_any_single_digit_change_is_caught_by_the_check_digit(ndc, indicator, data):
    for code in (ndc_to_upc(ndc), ndc_to_gtin14(ndc, indicator)):
        position = data.draw(st.integers(0, len(code) - 1))
        replacement = data.draw(st.sampled_from(digits.replace(code[position], "")))
        changed = code[:position] + replacement + code[position + 1 :]
        with pytest.raises(CodeError, match="check digit"):
            parse_scan(changed)


@pytest.mark.parametrize("code", [UPC, GTIN1])
def test_every_single_digit_change_of_the_reference_codes_is_caught(code):
    for position, original in enumerate(code):
        for replacement in digits.replace(original, ""):
            changed = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(CodeError, match="check digit"):
                parse_scan(changed)


def _scan_or_code_error(text: str) -> None:
    try:
        result = parse_scan(text)
    except CodeError as exc:
        assert str(exc)
        assert code_problem(text) == str(exc)
    else:
        assert isinstance(result, Scan)
        assert code_problem(text) is None


@given(st.text())
@example("]")
@example("]d2(")
@example("(")
@example("()")
@example("(01)")
@example("]C1" + GS)
@example("-")
def test_parse_scan_raises_only_code_error_on_any_text(text):
    _scan_or_code_error(text)


@given(st.text("0123456789-()]dC12QE" + GS + " ", max_size=60))
def test_parse_scan_raises_only_code_error_on_barcode_like_text(text):
    _scan_or_code_error(text)


@given(st.text(digits, min_size=15, max_size=50))
def test_parse_scan_raises_only_code_error_on_long_digit_strings(text):
    _scan_or_code_error(text)


# --- every NDC in the FDA NDC Directory --------------------------------------------------


@pytest.mark.slow
def test_every_package_ndc_in_the_fda_directory_round_trips():
    if not PACKAGE_FILE.exists():
        pytest.skip(f"FDA NDC Directory package file not found at {PACKAGE_FILE}")
    started = time.perf_counter()
    with PACKAGE_FILE.open(encoding="latin-1", newline="") as f:
        header = f.readline().rstrip("\r\n").split("\t")
        column = header.index("NDCPACKAGECODE")
        codes = [line.rstrip("\r\n").split("\t")[column] for line in f if line.strip()]

    failures = []
    for code in codes:
        try:
            layout = layout_of(code)
            ndc11 = ndc10_to_11(code)
            upc_scan = parse_scan(ndc_to_upc(code))
            ok = (
                len(ndc11) == 11
                and ndc11_to_10(ndc11, layout) == code
                and parse_scan(code) == Scan(kind="ndc10", ndc11=ndc11)
                and upc_scan.ndc10_digits == code.replace("-", "")
                and upc_scan.candidates[LAYOUTS.index(layout)] == ndc11
            )
        except CodeError as exc:
            ok, code = False, f"{code}: {exc}"
        if not ok:
            failures.append(code)

    assert len(codes) > 200_000  # the whole directory was read, not a fragment
    assert failures == []
    print(f"{len(codes)} package NDCs round-tripped in {time.perf_counter() - started:.1f}s")
