"""ASAP 4.2 writer and reader: the reference's examples byte for byte, element positions,
counts, refusals, malformed files, round trips and fuzzing.

Expected values come from the team reference ``controlled-substances.md`` §6 (6.2 structure
and counts, 6.3 element positions, 6.4 zero reports, 6.5 synthetic examples); all
identifiers are fictitious.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.controlled import asap
from rxdesk.controlled.asap import (
    SEGMENTS,
    AdditionalInfo,
    AsapError,
    AsapFile,
    AsapVersion,
    Dispensing,
    Gender,
    InformationSource,
    Ingredient,
    Patient,
    PatientReport,
    PaymentType,
    Pharmacy,
    PharmacyReport,
    Prescriber,
    ReportingStatus,
    RxOrigin,
    Species,
    TransactionType,
    Unit,
    clean_text,
    read,
    write,
    zero_report,
)
from rxdesk.core.errors import Invalid

# --------------------------------------------------------------------------------------
# The reference's examples (6.5)

# The reference prints one segment per line; the file itself has no line breaks.
EXAMPLE_LINES = [
    "TH*4.2B*000123456*01**20250115*231500*P**~~",
    "IS*2175550100*ACME PHARMACY~",
    "PHA*1234567893*1234567*BA1234563*ACME PHARMACY*100 MAIN ST**SPRINGFIELD*IL*62701*2175550100~",
    "PAT*IL*06*D12345678****DOE*JANE*Q***12 ELM ST**SPRINGFIELD*IL*62704*2175550199*19800214*F*01~",
    "DSP*00*1000234*20250114*0*20250115*0*01*12345678901*60*15*01*05*00*1234567890**04*20250115~",
    "PRE*1987654321*AS1234563***SMITH*ALAN~",
    "AIR***IL*06*D98765432*03*DOE*JOHN***01~",
    "TP*6~",
    "TT*000123456*9~",
]
EXAMPLE = "".join(EXAMPLE_LINES)
# The reference's counts are right: TP01 = PHA, PAT, DSP, PRE, AIR, TP = 6 and
# TT02 = TH, IS, those 6, TT = 9; in the zero report TP01 = PHA, PAT, DSP, PRE, TP = 5 and
# TT02 = 8. Both are checked below against the segments actually present.
ZERO_LINES = [
    "TH*4.2B*000123457*01**20250116*230000*P**~~",
    "IS*2175550100*ACME PHARMACY*#20250116#-#20250116#~",
    "PHA*1234567893*1234567*BA1234563~",
    "PAT*******REPORT*ZERO~",
    "DSP*****20250116~",
    "PRE~",
    "TP*5~",
    "TT*000123457*8~",
]
ZERO = "".join(ZERO_LINES)

SOURCE = InformationSource(id="2175550100", name="ACME PHARMACY")
ACME_IDS = Pharmacy(npi="1234567893", ncpdp="1234567", dea="BA1234563")
ACME = dataclasses.replace(
    ACME_IDS,
    name="ACME PHARMACY",
    address1="100 MAIN ST",
    city="SPRINGFIELD",
    state="IL",
    zip="62701",
    phone="2175550100",
)
JANE = Patient(
    id_jurisdiction="IL",
    id_qualifier="06",
    id="D12345678",
    last_name="DOE",
    first_name="JANE",
    middle_name="Q",
    address1="12 ELM ST",
    city="SPRINGFIELD",
    state="IL",
    zip="62704",
    phone="2175550199",
    birth_date=dt.date(1980, 2, 14),
    gender="F",
    species="01",
)
SMITH = Prescriber(npi="1987654321", dea="AS1234563", last_name="SMITH", first_name="ALAN")
FILL = Dispensing(
    status="00",
    rx_number="1000234",
    date_written=dt.date(2025, 1, 14),
    refills_authorized=0,
    date_filled=dt.date(2025, 1, 15),
    fill_number=0,
    ndc="12345678901",
    quantity=Decimal("60"),
    days_supply=15,
    unit="01",
    origin="05",
    partial_fill="00",
    pharmacist_npi="1234567890",
    payment_type="04",
    date_sold=dt.date(2025, 1, 15),
    prescriber=SMITH,
    additional=AdditionalInfo(
        id_jurisdiction="IL",
        id_qualifier="06",
        id="D98765432",
        relationship="03",
        last_name="DOE",
        first_name="JOHN",
        drop_off_pick_up="01",
    ),
)
EXAMPLE_FILE = AsapFile(
    version="4.2B",
    control_number="000123456",
    created=dt.datetime(2025, 1, 15, 23, 15),
    production=True,
    source=SOURCE,
    pharmacies=(
        PharmacyReport(pharmacy=ACME, patients=(PatientReport(patient=JANE, dispensings=(FILL,)),)),
    ),
)


def test_it_reads_the_reference_example_field_by_field():
    file = read(EXAMPLE)

    assert file == EXAMPLE_FILE
    assert file.version == AsapVersion.V4_2B
    assert file.transaction_type == TransactionType.SEND
    assert file.created == dt.datetime(2025, 1, 15, 23, 15, 0)
    assert file.production is True
    pharmacy = file.pharmacies[0].pharmacy
    assert (pharmacy.npi, pharmacy.ncpdp, pharmacy.dea) == ("1234567893", "1234567", "BA1234563")
    assert (pharmacy.address1, pharmacy.address2, pharmacy.city) == (
        "100 MAIN ST",
        "",
        "SPRINGFIELD",
    )
    patient_report = file.pharmacies[0].patients[0]
    patient = patient_report.patient
    assert (patient.last_name, patient.first_name, patient.middle_name) == ("DOE", "JANE", "Q")
    assert patient.birth_date == dt.date(1980, 2, 14)
    assert patient.gender is Gender.FEMALE
    assert patient.species is Species.HUMAN
    assert patient.is_zero_report is False
    # "new record; Rx 1000234 written 14 Jan 2025, 0 refills, filled 15 Jan 2025 as the
    # original fill; NDC 12345-6789-01, 60 each, 15 days; electronic Rx; not a partial;
    # commercial insurance; picked up by spouse John Doe showing an Illinois driver's license"
    fill = patient_report.dispensings[0]
    assert fill.status is ReportingStatus.NEW
    assert fill.rx_number == "1000234"
    assert fill.date_written == dt.date(2025, 1, 14)
    assert fill.refills_authorized == 0
    assert fill.date_filled == dt.date(2025, 1, 15)
    assert fill.fill_number == 0
    assert fill.product_qualifier == "01"
    assert fill.ndc == "12345678901"
    assert fill.quantity == Decimal("60")
    assert fill.days_supply == 15
    assert fill.unit is Unit.EACH
    assert fill.origin is RxOrigin.ELECTRONIC
    assert fill.partial_fill == "00"
    assert fill.pharmacist_npi == "1234567890"
    assert fill.pharmacist_license == ""
    assert fill.payment_type is PaymentType.COMMERCIAL_INSURANCE
    assert fill.date_sold == dt.date(2025, 1, 15)
    assert fill.compound == ()
    assert fill.prescriber == SMITH
    air = fill.additional
    assert air is not None
    assert (air.id_jurisdiction, air.id_qualifier, air.id) == ("IL", "06", "D98765432")
    assert (air.relationship, air.last_name, air.first_name) == ("03", "DOE", "JOHN")
    assert air.drop_off_pick_up == "01"


def test_it_writes_the_reference_example_byte_for_byte():
    assert write(EXAMPLE_FILE) == EXAMPLE
    assert write(read(EXAMPLE)) == EXAMPLE


def test_it_writes_line_breaks_when_asked_and_reads_them_back():
    text = write(EXAMPLE_FILE, line_breaks=True)

    assert text == "".join(line + "\r\n" for line in EXAMPLE_LINES)
    assert read(text) == EXAMPLE_FILE
    assert read("\n".join(EXAMPLE_LINES)) == EXAMPLE_FILE  # as the reference prints it


def test_the_reference_example_counts_are_the_segments_present():
    segments = EXAMPLE.split("~")[:-1]
    segments.remove("")  # TH09 holds the terminator, so the header ends "~~"

    assert len(segments) == 9
    assert [s.split("*")[0] for s in segments[2:8]] == ["PHA", "PAT", "DSP", "PRE", "AIR", "TP"]


ZERO_FILE = AsapFile(
    version="4.2B",
    control_number="000123457",
    created=dt.datetime(2025, 1, 16, 23, 0),
    production=True,
    source=dataclasses.replace(SOURCE, message="#20250116#-#20250116#"),
    pharmacies=(
        PharmacyReport(
            pharmacy=ACME_IDS,
            patients=(
                PatientReport(
                    patient=Patient(last_name="REPORT", first_name="ZERO"),
                    dispensings=(
                        Dispensing(
                            status="",
                            rx_number="",
                            date_filled=dt.date(2025, 1, 16),
                            prescriber=Prescriber(),
                        ),
                    ),
                ),
            ),
        ),
    ),
)


def test_it_reads_and_writes_the_reference_zero_report():
    file = read(ZERO)

    assert file == ZERO_FILE
    assert file.pharmacies[0].patients[0].patient.is_zero_report is True
    assert write(file) == ZERO


def test_zero_report_builds_the_reference_zero_report():
    file = zero_report(
        source=SOURCE,
        pharmacy=ACME_IDS,
        start=dt.date(2025, 1, 16),
        end=dt.date(2025, 1, 16),
        control_number="000123457",
        created=dt.datetime(2025, 1, 16, 23, 0),
        version="4.2B",
    )

    assert file == ZERO_FILE
    assert write(file) == ZERO


def test_zero_report_covers_a_period_and_dates_the_dispensing_on_the_report_day():
    file = zero_report(
        source=dataclasses.replace(SOURCE, message="overwritten"),
        pharmacy=ACME,
        start=dt.date(2025, 1, 1),
        end=dt.date(2025, 1, 7),
        control_number="Z1",
        created=dt.datetime(2025, 1, 8, 6, 30, 5),
        version="4.2",
        production=False,
    )

    text = write(file)

    assert text == (
        "TH*4.2*Z1*01**20250108*063005*T**~~"
        "IS*2175550100*ACME PHARMACY*#20250101#-#20250107#~"
        "PHA*1234567893*1234567*BA1234563*ACME PHARMACY*100 MAIN ST**SPRINGFIELD*IL*62701*"
        "2175550100~"
        "PAT*******REPORT*ZERO~"
        "DSP*****20250108~"
        "PRE~"
        "TP*5~"
        "TT*Z1*8~"
    )
    assert read(text) == file


def test_zero_report_refuses_a_period_that_ends_before_it_starts():
    with pytest.raises(AsapError) as caught:
        zero_report(
            source=SOURCE,
            pharmacy=ACME_IDS,
            start=dt.date(2025, 1, 7),
            end=dt.date(2025, 1, 6),
            control_number="Z1",
            created=dt.datetime(2025, 1, 8, 6, 30),
            version="4.2B",
        )

    assert (caught.value.segment, caught.value.element) == ("IS", "IS03")
    assert caught.value.reason == "the period ends (2025-01-06) before it starts (2025-01-07)"


def test_a_zero_report_with_00_in_dsp01_is_read_too():
    # "Some guides put 00 in DSP01 of the zero-report DSP" (6.4)
    file = read(ZERO.replace("DSP*****", "DSP*00****"))

    assert file.pharmacies[0].patients[0].dispensings[0].status == "00"


# --------------------------------------------------------------------------------------
# Element positions (6.3): every element filled, each text element with its own id


def every_element_file(version: str = "4.2B") -> AsapFile:
    dispensing = Dispensing(
        status="01",
        rx_number="DSP02",
        date_written=dt.date(2024, 12, 3),
        refills_authorized=4,
        date_filled=dt.date(2025, 1, 5),
        fill_number=6,
        ndc=asap.COMPOUND_PRODUCT_ID,
        quantity=Decimal("9.25"),
        days_supply=10,
        unit="02",
        origin="99",
        partial_fill="13",
        pharmacist_npi="1414141414",
        pharmacist_license="DSP15",
        payment_type="99",
        date_sold=dt.date(2025, 1, 17),
        rxnorm_qualifier="DSP18",
        rxnorm_code="DSP19",
        erx_reference="DSP20",
        erx_order_number="DSP21",
        quantity_prescribed=Decimal("22.5"),
        sig="DSP23",
        treatment_type="DSP24",
        diagnosis_code="DSP25",
        prescriber=Prescriber(
            npi="0101010101",
            dea="PRE02",
            dea_suffix="PRE03",
            license="PRE04",
            last_name="PRE05",
            first_name="PRE06",
            middle_name="PRE07",
            phone="PRE08",
            xdea="PRE09",
        ),
        compound=(
            Ingredient(ndc="03030303031", quantity=Decimal("4.5"), unit="03"),
            Ingredient(ndc="03030303032", quantity=Decimal("0.125"), unit="02"),
        ),
        additional=AdditionalInfo(
            rx_serial_state="AIR01",
            rx_serial_number="AIR02",
            id_jurisdiction="AIR03",
            id_qualifier="04",
            id="AIR05",
            relationship="06",
            last_name="AIR07",
            first_name="AIR08",
            pharmacist_last_name="AIR09",
            pharmacist_first_name="AIR10",
            drop_off_pick_up="11",
        ),
    )
    patient = Patient(
        id_jurisdiction="PAT01",
        id_qualifier="02",
        id="PAT03",
        additional_id_jurisdiction="PAT04",
        additional_id_qualifier="05",
        additional_id="PAT06",
        last_name="PAT07",
        first_name="PAT08",
        middle_name="PAT09",
        name_prefix="PAT10",
        name_suffix="PAT11",
        address1="PAT12",
        address2="PAT13",
        city="PAT14",
        state="PAT15",
        zip="PAT16",
        phone="PAT17",
        birth_date=dt.date(1918, 1, 18),
        gender="U",
        species="02",
        location_code="PAT21",
        country="PAT22",
        animal_name="PAT23",
    )
    pharmacy = Pharmacy(
        npi="0101010101",
        ncpdp="PHA02",
        dea="PHA03",
        name="PHA04",
        address1="PHA05",
        address2="PHA06",
        city="PHA07",
        state="PHA08",
        zip="PHA09",
        phone="PHA10",
        contact_name="PHA11",
        chain_site_id="PHA12",
        permit_number="PHA13",
    )
    return AsapFile(
        version=version,
        control_number="TH02",
        transaction_type="01",
        response_id="TH04",
        created=dt.datetime(2025, 1, 5, 6, 7, 8),
        production=False,
        routing_number="TH08",
        source=InformationSource(id="IS01", name="IS02", message="IS03"),
        pharmacies=(
            PharmacyReport(
                pharmacy=pharmacy,
                patients=(PatientReport(patient=patient, dispensings=(dispensing,)),),
            ),
        ),
    )


EVERY_ELEMENT_LINES = [
    "TH*4.2B*TH02*01*TH04*20250105*060708*T*TH08*~~",
    "IS*IS01*IS02*IS03~",
    "PHA*0101010101*PHA02*PHA03*PHA04*PHA05*PHA06*PHA07*PHA08*PHA09*PHA10*PHA11*PHA12*PHA13~",
    "PAT*PAT01*02*PAT03*PAT04*05*PAT06*PAT07*PAT08*PAT09*PAT10*PAT11*PAT12*PAT13*PAT14*PAT15*"
    "PAT16*PAT17*19180118*U*02*PAT21*PAT22*PAT23~",
    "DSP*01*DSP02*20241203*4*20250105*6*06*99999999999*9.25*10*02*99*13*1414141414*DSP15*99*"
    "20250117*DSP18*DSP19*DSP20*DSP21*22.5*DSP23*DSP24*DSP25~",
    "PRE*0101010101*PRE02*PRE03*PRE04*PRE05*PRE06*PRE07*PRE08*PRE09~",
    "CDI*1*01*03030303031*4.5*03~",
    "CDI*2*01*03030303032*0.125*02~",
    "AIR*AIR01*AIR02*AIR03*04*AIR05*06*AIR07*AIR08*AIR09*AIR10*11~",
    "TP*8~",
    "TT*TH02*11~",
]


def test_every_element_lands_at_its_position():
    file = every_element_file()

    text = write(file, line_breaks=True)

    assert text.split("\r\n")[:-1] == EVERY_ELEMENT_LINES
    assert read(text) == file


def test_the_element_table_is_in_position_order_and_covers_every_field():
    covered: dict[type, set[str]] = {}
    holders = {
        "TH": AsapFile,
        "IS": InformationSource,
        "PHA": Pharmacy,
        "PAT": Patient,
        "DSP": Dispensing,
        "PRE": Prescriber,
        "CDI": Ingredient,
        "AIR": AdditionalInfo,
    }
    for segment_id, spec in SEGMENTS.items():
        assert spec.id == segment_id
        for position, element in enumerate(spec.elements, start=1):
            assert element.id == f"{segment_id}{position:02d}"
            assert element.position == position
            if element.attr is not None:
                covered.setdefault(holders[segment_id], set()).add(element.attr)
    nested = {"pharmacies", "created", "production", "source", "prescriber", "compound"}
    for cls, attrs in covered.items():
        names = {f.name for f in dataclasses.fields(cls)} - nested - {"additional"}
        assert attrs == names, cls
    assert [len(s.elements) for s in SEGMENTS.values()] == [9, 3, 13, 23, 25, 9, 5, 11, 1, 2]


@pytest.mark.parametrize(
    ("version", "change", "element"),
    [
        ("4.2", {"permit_number": "P1"}, "PHA13"),
        ("4.2", {"quantity_prescribed": Decimal(30)}, "DSP22"),
        ("4.2", {"sig": "1 TAB Q6H"}, "DSP23"),
        ("4.2A", {"diagnosis_code": "G89.29"}, "DSP25"),
    ],
)
def test_elements_newer_than_the_files_version_are_refused(version, change, element):
    pharmacy_change = {k: v for k, v in change.items() if k == "permit_number"}
    fill_change = {k: v for k, v in change.items() if k != "permit_number"}
    fill = dataclasses.replace(FILL, **fill_change)
    file = dataclasses.replace(
        EXAMPLE_FILE,
        version=version,
        pharmacies=(
            PharmacyReport(
                pharmacy=dataclasses.replace(ACME, **pharmacy_change),
                patients=(PatientReport(patient=JANE, dispensings=(fill,)),),
            ),
        ),
    )
    newer = "4.2B" if element == "DSP25" else "4.2A"

    with pytest.raises(AsapError) as caught:
        write(file)

    assert caught.value.element == element
    assert caught.value.reason == f"not part of this file's ASAP version; it came with {newer}"
    # The same element in a file of that version is read back; in the older one refused.
    text = write(dataclasses.replace(file, version=newer))
    assert read(text) == dataclasses.replace(file, version=newer)
    older = text.replace(f"TH*{newer}*", f"TH*{version}*", 1)
    with pytest.raises(AsapError) as caught:
        read(older)
    assert caught.value.element == element


def test_a_4_2_file_without_newer_elements_round_trips():
    file = dataclasses.replace(EXAMPLE_FILE, version="4.2")

    assert read(write(file)) == file


def test_it_reads_other_separators_and_terminators_named_in_the_header():
    piped = EXAMPLE.replace("*", "|").replace("~", "\\")
    by_line = EXAMPLE.replace("~", "\n")

    assert piped.startswith("TH|4.2B|000123456|01||20250115|231500|P||\\\\IS|")
    assert read(piped) == EXAMPLE_FILE
    assert read(by_line) == EXAMPLE_FILE
    assert read(by_line.replace("\n", "\r\n")) == EXAMPLE_FILE


def test_it_reads_a_four_digit_creation_time():
    file = read(EXAMPLE.replace("*231500*", "*2315*"))

    assert file.created == dt.datetime(2025, 1, 15, 23, 15)


def test_it_writes_the_wall_clock_of_an_aware_datetime_without_microseconds():
    created = dt.datetime(
        2025, 1, 15, 23, 15, 0, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=-6))
    )

    text = write(dataclasses.replace(EXAMPLE_FILE, created=created))

    assert text == EXAMPLE


# --------------------------------------------------------------------------------------
# Counts (6.2)


def test_counts_cover_each_pharmacy_and_the_whole_file():
    second_fill = dataclasses.replace(FILL, rx_number="1000235", additional=None)
    other = PharmacyReport(
        pharmacy=Pharmacy(dea="BB7654321"),
        patients=(
            PatientReport(patient=JANE, dispensings=(FILL, second_fill)),
            PatientReport(
                patient=dataclasses.replace(JANE, first_name="JOHN"), dispensings=(FILL,)
            ),
        ),
    )
    file = dataclasses.replace(EXAMPLE_FILE, pharmacies=(*EXAMPLE_FILE.pharmacies, other))

    lines = write(file, line_breaks=True).split("\r\n")[:-1]

    ids = [line.split("*")[0].rstrip("~") for line in lines]
    assert ids == [
        *("TH", "IS", "PHA", "PAT", "DSP", "PRE", "AIR", "TP"),
        *("PHA", "PAT", "DSP", "PRE", "AIR", "DSP", "PRE", "PAT", "DSP", "PRE", "AIR", "TP"),
        "TT",
    ]
    assert lines[7] == "TP*6~"
    assert lines[8] == "PHA***BB7654321~"
    assert lines[19] == "TP*12~"  # PHA through TP of the second pharmacy
    assert lines[20] == "TT*000123456*21~"
    assert read("".join(lines)) == file


@pytest.mark.parametrize(
    ("old", "new", "element", "reason"),
    [
        ("TP*6~", "TP*7~", "TP01", "says 7 segments, but this pharmacy has 6 from PHA through TP"),
        ("TP*6~", "TP*~", "TP01", "missing; the pharmacy's segment count (6)"),
        ("TP*6~", "TP*six~", "TP01", "'six' is not a whole number"),
        (
            "TT*000123456*9~",
            "TT*000123456*8~",
            "TT02",
            "says 8 segments, but the file has 9 from TH through TT",
        ),
        (
            "TT*000123456*9~",
            "TT*000123457*9~",
            "TT01",
            "'000123457' does not match the control number '000123456' in TH02",
        ),
        ("TT*000123456*9~", "TT*000123456~", "TT02", "missing; the file's segment count (9)"),
    ],
)
def test_wrong_counts_are_refused(old, new, element, reason):
    error = error_of(EXAMPLE.replace(old, new))

    assert where(error) == (element[:2], element, 8 if element == "TP01" else 9)
    assert error.reason == reason


# --------------------------------------------------------------------------------------
# Compounds (DSP07 = 06 with CDI segments)

COMPOUND = dataclasses.replace(
    FILL,
    ndc=asap.COMPOUND_PRODUCT_ID,
    quantity=Decimal("120"),
    unit="02",
    additional=None,
    compound=(
        Ingredient(ndc="11111111111", quantity=Decimal("2.5"), unit="03"),
        Ingredient(ndc="22222222222", quantity=Decimal("117.50"), unit="02"),
    ),
)
COMPOUND_FILE = dataclasses.replace(
    EXAMPLE_FILE,
    pharmacies=(
        PharmacyReport(
            pharmacy=ACME, patients=(PatientReport(patient=JANE, dispensings=(COMPOUND,)),)
        ),
    ),
)


def test_a_compound_is_written_with_numbered_cdi_segments():
    lines = write(COMPOUND_FILE, line_breaks=True).split("\r\n")

    assert lines[4].startswith("DSP*00*1000234*20250114*0*20250115*0*06*99999999999*120*15*02*")
    assert lines[6:10] == [
        "CDI*1*01*11111111111*2.5*03~",
        "CDI*2*01*22222222222*117.5*02~",
        "TP*7~",
        "TT*000123456*10~",
    ]
    assert read("".join(lines)) == COMPOUND_FILE


def test_a_compound_may_leave_dsp08_empty():
    file = dataclasses.replace(
        COMPOUND_FILE,
        pharmacies=(
            PharmacyReport(
                pharmacy=ACME,
                patients=(
                    PatientReport(
                        patient=JANE, dispensings=(dataclasses.replace(COMPOUND, ndc=""),)
                    ),
                ),
            ),
        ),
    )

    assert "*0*06**120*" in write(file)
    assert read(write(file)) == file


@pytest.mark.parametrize(
    ("old", "new", "where_", "reason"),
    [
        (
            "CDI*1*01*11111111111*2.5*03~CDI*2*01*22222222222*117.5*02~TP*7~TT*000123456*10~",
            "TP*5~TT*000123456*8~",
            ("DSP", "DSP07", 5),
            "says compound (06), but no CDI ingredient follows",
        ),
        (
            "*0*06*99999999999*",
            "*0*01*99999999999*",
            ("DSP", "DSP07", 5),
            "is '01', but CDI ingredients follow; 06 means compound",
        ),
        (
            "CDI*2*01*",
            "CDI*3*01*",
            ("CDI", "CDI01", 8),
            "ingredient number 3 where 2 comes next (1, 2, 3 … per DSP)",
        ),
        (
            "CDI*2*01*",
            "CDI*2*06*",
            ("CDI", "CDI02", 8),
            "'06'; ingredients are identified by NDC (01)",
        ),
        (
            "CDI*2*01*22222222222*117.5*",
            "CDI*2*01*22222222222**",
            ("CDI", "CDI04", 8),
            "missing; every ingredient needs its quantity",
        ),
        (
            "CDI*2*01*22222222222*",
            "CDI*2*01**",
            ("CDI", "CDI03", 8),
            "missing; every ingredient needs its NDC",
        ),
        (
            "CDI*2*01*22222222222*",
            "CDI*2*01*2222222222*",
            ("CDI", "CDI03", 8),
            "'2222222222' is not an NDC (11 digits, no hyphens)",
        ),
    ],
)
def test_inconsistent_compounds_are_refused(old, new, where_, reason):
    text = write(COMPOUND_FILE)
    assert old in text

    error = error_of(text.replace(old, new))

    assert where(error) == where_
    assert error.reason == reason


def test_a_cdi_after_the_air_is_out_of_place():
    text = EXAMPLE.replace("TP*6~", "CDI*1*01*11111111111*1*01~TP*7~").replace("*9~", "*10~")

    error = error_of(text)

    assert where(error) == ("TP", None, 8)
    assert error.reason == (
        "after a dispensing's PRE, CDI and AIR comes a DSP, a PAT or the TP trailer; "
        "found CDI (Compound Drug Ingredient Detail)"
    )


# --------------------------------------------------------------------------------------
# The writer refuses what a file cannot carry (and names the segment and element)


def with_patient(**change) -> AsapFile:
    patient = dataclasses.replace(JANE, **change)
    return dataclasses.replace(
        EXAMPLE_FILE,
        pharmacies=(
            PharmacyReport(
                pharmacy=ACME, patients=(PatientReport(patient=patient, dispensings=(FILL,)),)
            ),
        ),
    )


def with_fill(**change) -> AsapFile:
    fill = dataclasses.replace(FILL, **change)
    return dataclasses.replace(
        EXAMPLE_FILE,
        pharmacies=(
            PharmacyReport(
                pharmacy=ACME, patients=(PatientReport(patient=JANE, dispensings=(fill,)),)
            ),
        ),
    )


def write_error(file: AsapFile) -> AsapError:
    with pytest.raises(AsapError) as caught:
        write(file)
    return caught.value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("DOE*SMITH", "'DOE*SMITH' contains the element separator '*'; clean the text first"),
        ("DOE~", "'DOE~' contains the segment terminator '~'; clean the text first"),
        ("DOE\nX", "'DOE\\nX' contains the control character 0x0A"),
        ("DOE\x7f", "'DOE\\x7f' contains the control character 0x7F"),
        ("DOÉ", "'DOÉ' contains 'É', which is not plain ASCII"),
    ],
)
def test_it_refuses_data_that_would_break_the_file(value, reason):
    error = write_error(with_patient(last_name=value))

    assert where(error) == ("PAT", "PAT07", 4)
    assert error.reason == reason
    assert (
        str(error) == f"segment 4, PAT (Patient Information), element PAT07 (Last Name): {reason}"
    )


def test_clean_text_makes_names_and_addresses_writable():
    assert clean_text("O'Brien*Jr ~ 12\tElm  St.") == "O'BRIEN JR 12 ELM ST."
    assert clean_text("José Müller-Straße") == "JOSE MULLER-STRASSE"
    assert clean_text("  \x00 ") == ""
    assert clean_text("北京 Road") == "ROAD"

    file = with_patient(last_name=clean_text("doe*smith~"), address1=clean_text("12 Elm\r\nSt"))
    assert read(write(file)).pharmacies[0].patients[0].patient.last_name == "DOE SMITH"


@given(st.text(max_size=40))
def test_clean_text_always_gives_writable_text(value):
    cleaned = clean_text(value)

    assert clean_text(cleaned) == cleaned
    assert cleaned == cleaned.strip()
    file = with_patient(address1=cleaned)
    assert read(write(file)).pharmacies[0].patients[0].patient.address1 == cleaned


@pytest.mark.parametrize(
    ("change", "element", "reason"),
    [
        ({"quantity": 60.0}, "DSP09", "must be a Decimal, not float"),
        (
            {"quantity": Decimal("1.0000001")},
            "DSP09",
            "quantity 1.0000001 has more than 6 decimal places",
        ),
        ({"quantity": Decimal("-1")}, "DSP09", "quantity -1 is negative"),
        ({"quantity": Decimal("NaN")}, "DSP09", "quantity NaN is not a number"),
        ({"quantity": Decimal("1E+10")}, "DSP09", "quantity 1E+10 is too large"),
        ({"date_written": dt.datetime(2025, 1, 14)}, "DSP03", "must be a date, not datetime"),
        ({"date_written": "20250114"}, "DSP03", "must be a date, not str"),
        ({"refills_authorized": "0"}, "DSP04", "must be a whole number, not str"),
        ({"refills_authorized": True}, "DSP04", "must be a whole number, not bool"),
        ({"refills_authorized": -1}, "DSP04", "-1 is not a count from 0 to 999999999"),
        ({"days_supply": 10**9}, "DSP10", "1000000000 is not a count from 0 to 999999999"),
        (
            {"ndc": "12345-6789-01"},
            "DSP08",
            "'12345-6789-01' is not an NDC (11 digits, no hyphens)",
        ),
        (
            {"pharmacist_npi": "123456789"},
            "DSP14",
            "'123456789' is not an NPI (10 digits, no hyphens)",
        ),
        ({"unit": "04"}, "DSP11", "'04' is not one of 01 (each), 02 (milliliters), 03 (grams)"),
        ({"partial_fill": "1"}, "DSP13", "'1' is not a two-digit code"),
        ({"status": "03"}, "DSP01", "'03' is not one of 00 (new), 01 (revise), 02 (void)"),
        ({"status": ""}, "DSP01", "missing; every reported dispensing needs it"),
        ({"rx_number": ""}, "DSP02", "missing; every reported dispensing needs it"),
        ({"rx_number": 1000234}, "DSP02", "must be text, not int"),
        (
            {"fill_number": None},
            "DSP06",
            "missing; every reported dispensing needs it (0 for the original fill)",
        ),
        ({"ndc": ""}, "DSP08", "missing; give the NDC, or the compound's ingredients"),
        ({"quantity": None}, "DSP09", "missing; every reported dispensing needs it"),
        ({"date_filled": None}, "DSP05", "missing; the date filled (a zero report's report date)"),
    ],
)
def test_it_refuses_a_bad_dispensing_value(change, element, reason):
    error = write_error(with_fill(**change))

    assert where(error) == ("DSP", element, 5)
    assert error.reason == reason


def test_it_writes_quantities_exactly_without_trailing_zeros():
    def dsp09(quantity: Decimal) -> str:
        return write(with_fill(quantity=quantity)).split("~")[5].split("*")[9]

    assert dsp09(Decimal("60.000")) == "60"
    assert dsp09(Decimal("2.50")) == "2.5"
    assert dsp09(Decimal("1E+2")) == "100"
    assert dsp09(Decimal("0.000")) == "0"
    assert dsp09(Decimal("-0")) == "0"
    assert dsp09(Decimal("0.000001")) == "0.000001"
    assert dsp09(Decimal("9999999999.5")) == "9999999999.5"


@pytest.mark.parametrize(
    ("file", "where_", "reason"),
    [
        (
            dataclasses.replace(EXAMPLE_FILE, version="5.0"),
            ("TH", "TH01", 1),
            "'5.0' is not one of 4.2, 4.2A, 4.2B",
        ),
        (
            dataclasses.replace(EXAMPLE_FILE, control_number=""),
            ("TH", "TH02", 1),
            "missing; the file needs a control number, unique per file",
        ),
        (
            dataclasses.replace(EXAMPLE_FILE, transaction_type="05"),
            ("TH", "TH03", 1),
            "'05' is not one of 01 (send), 02 (acknowledgement), 03 (error), 04 (void)",
        ),
        (
            dataclasses.replace(EXAMPLE_FILE, created=dt.date(2025, 1, 15)),
            ("TH", "TH05", 1),
            "must be a date and time, not date",
        ),
        (
            dataclasses.replace(EXAMPLE_FILE, production="P"),
            ("TH", "TH07", 1),
            "production must be True (P) or False (T)",
        ),
        (
            dataclasses.replace(EXAMPLE_FILE, source=dataclasses.replace(SOURCE, name="")),
            ("IS", "IS02", 2),
            "missing; the sender's name",
        ),
        (
            dataclasses.replace(EXAMPLE_FILE, pharmacies=()),
            ("PHA", None, None),
            "pharmacies is empty; there must be at least one",
        ),
        (
            dataclasses.replace(EXAMPLE_FILE, pharmacies=[EXAMPLE_FILE.pharmacies[0], "X"]),
            ("PHA", None, 3),
            "must be PharmacyReport, not str",
        ),
        (
            dataclasses.replace(
                EXAMPLE_FILE, pharmacies=(PharmacyReport(pharmacy=ACME, patients=()),)
            ),
            ("PAT", None, None),
            "patients is empty; there must be at least one",
        ),
        (
            dataclasses.replace(
                EXAMPLE_FILE,
                pharmacies=(
                    PharmacyReport(
                        pharmacy=Pharmacy(name="X"), patients=EXAMPLE_FILE.pharmacies[0].patients
                    ),
                ),
            ),
            ("PHA", "PHA01", 3),
            "missing; give the pharmacy's NPI (PHA01), NCPDP ID (PHA02) or DEA number (PHA03)",
        ),
        (with_patient(last_name=""), ("PAT", "PAT07", 4), "missing; the patient's last name"),
        (with_patient(birth_date="19800214"), ("PAT", "PAT18", 4), "must be a date, not str"),
        (
            with_patient(gender="X"),
            ("PAT", "PAT19", 4),
            "'X' is not one of F (female), M (male), U (unknown)",
        ),
        (
            with_fill(prescriber=Prescriber(last_name="SMITH")),
            ("PRE", "PRE01", 6),
            "missing; give the prescriber's NPI (PRE01), DEA number (PRE02) or state license "
            "(PRE04)",
        ),
        (with_fill(prescriber=None), ("PRE", None, 6), "must be Prescriber, not NoneType"),
        (
            with_fill(compound=(Ingredient(ndc="11111111111", quantity=1.5),)),
            ("CDI", "CDI04", 7),
            "must be a Decimal, not float",
        ),
        (with_fill(additional={"id": "X"}), ("AIR", None, 7), "must be AdditionalInfo, not dict"),
    ],
)
def test_it_refuses_a_bad_file(file, where_, reason):
    error = write_error(file)

    assert where(error) == where_
    assert error.reason == reason


def test_write_refuses_what_is_not_a_file():
    with pytest.raises(AsapError, match="must be AsapFile, not str"):
        write(EXAMPLE)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Malformed files: AsapError naming segment, element and position


def error_of(text: str) -> AsapError:
    with pytest.raises(AsapError) as caught:
        read(text)
    assert isinstance(caught.value, ValueError)
    return caught.value


def where(error: AsapError) -> tuple[str | None, str | None, int | None]:
    return error.segment, error.element, error.position


def test_a_missing_pre_is_named():
    error = error_of(EXAMPLE.replace("PRE*1987654321*AS1234563***SMITH*ALAN~", ""))

    assert where(error) == ("PRE", None, 6)
    assert str(error) == (
        "segment 6, PRE (Prescriber Information): a DSP is followed by its prescriber, PRE; "
        "found AIR (Additional Information Reporting)"
    )


def test_an_unknown_segment_is_named():
    error = error_of(EXAMPLE.replace("AIR***", "XYZ***"))

    assert where(error) == ("XYZ", None, 7)
    assert error.reason == (
        "unknown segment 'XYZ'; an ASAP file holds TH, IS, PHA, PAT, DSP, PRE, CDI, AIR, TP, TT"
    )


def test_a_bad_date_is_named():
    error = error_of(EXAMPLE.replace("*20250115*0*01*", "*20251301*0*01*"))

    assert where(error) == ("DSP", "DSP05", 5)
    assert str(error) == (
        "segment 5, DSP (Dispensing Record), element DSP05 (Date Filled): "
        "'20251301' is not a date (CCYYMMDD)"
    )


@pytest.mark.parametrize(
    ("cut_after", "where_", "reason"),
    [
        (
            "TT*000123456*9",
            ("TT", "TT02", 9),
            "the file ends before the segment terminator '~' (cut short?)",
        ),
        ("TT*", ("TT", "TT01", 9), "the file ends before the segment terminator '~' (cut short?)"),
        (
            "TP*6~TT",
            ("TT", None, 9),
            "the file ends before the segment terminator '~' (cut short?)",
        ),
        (
            "TP*6~",
            ("TT", None, 9),
            "after a TP trailer comes a PHA or the TT trailer; the file ends here (cut short?)",
        ),
        (
            "PRE*1987654321*AS1234563***SMITH*ALAN~",
            ("TP", None, 7),
            "after a dispensing's PRE, CDI and AIR comes a DSP, a PAT or the TP trailer; the file "
            "ends here (cut short?)",
        ),
        (
            "DSP*00*1000234*2025",
            ("DSP", "DSP03", 5),
            "the file ends before the segment terminator '~' (cut short?)",
        ),
        (
            "*19800214*F*01~",
            ("DSP", None, 5),
            "a PAT is followed by its first dispensing, DSP; the file ends here (cut short?)",
        ),
        ("~~", ("IS", None, 2), "the TH header is followed by IS; the file ends here (cut short?)"),
        (
            "P**~",
            ("TH", "TH09", 1),
            "must hold the segment terminator alone, then the terminator ends the header ('~~'); "
            "found '~'",
        ),
        (
            "P**",
            ("TH", "TH09", 1),
            "the file ends where TH09 should hold the segment terminator (cut short?)",
        ),
        (
            "TH*4.2B*000123456",
            ("TH", "TH09", 1),
            "the header has fewer than 9 elements; TH09 holds the segment terminator (cut short?)",
        ),
        ("TH", ("TH", None, 1), "the file ends after 'TH' (cut short?)"),
    ],
)
def test_a_truncated_file_is_named(cut_after, where_, reason):
    text = EXAMPLE[: EXAMPLE.index(cut_after) + len(cut_after)]

    error = error_of(text)

    assert where(error) == where_
    assert error.reason == reason


@pytest.mark.parametrize(
    ("old", "new", "where_", "reason"),
    [
        (
            "IS*2175550100*ACME PHARMACY~",
            "",
            ("IS", None, 2),
            "the TH header is followed by IS; found PHA (Pharmacy Header)",
        ),
        (
            "TP*6~",
            "",
            ("TP", None, 8),
            "after a dispensing's PRE, CDI and AIR comes a DSP, a PAT or the TP trailer; found TT "
            "(Transaction Trailer)",
        ),
        (
            "AIR***",
            "AIR~AIR***",
            ("TP", None, 8),
            "after a dispensing's PRE, CDI and AIR comes a DSP, a PAT or the TP trailer; found AIR "
            "(Additional Information Reporting)",
        ),
        (
            "TT*000123456*9~",
            "TT*000123456*9~IS*X~",
            ("IS", None, 10),
            "nothing may follow the TT trailer",
        ),
        (
            "SMITH*ALAN~",
            "SMITH*ALAN*7*8*9*10~",
            ("PRE", "PRE10", 6),
            "PRE has 9 elements; this one has 10",
        ),
        ("ALAN~", "ALAN~~", (None, None, 7), "empty segment: two terminators '~' in a row"),
        ("TH*4.2B*", "TH*4.1*", ("TH", "TH01", 1), "'4.1' is not one of 4.2, 4.2A, 4.2B"),
        ("*231500*", "*2515*", ("TH", "TH06", 1), "'2515' is not a time (HHMMSS or HHMM)"),
        (
            "*231500*",
            "**",
            ("TH", "TH06", 1),
            "missing; the header needs the creation date, time and file type",
        ),
        ("*P**", "*X**", ("TH", "TH07", 1), "'X' is not one of P (production), T (test)"),
        (
            "TH*",
            "TH1",
            ("TH", None, 1),
            "'1' after TH cannot be the element separator (ASAP files use '*')",
        ),
        (
            "P**~~",
            "P**a~",
            ("TH", "TH09", 1),
            "'a' cannot be the segment terminator (ASAP files use '~')",
        ),
        (
            "P**~~",
            "P***~",
            ("TH", "TH09", 1),
            "'*' cannot be the segment terminator (ASAP files use '~')",
        ),
        (
            "TH*4.2B*000123456*",
            "TH*4.2B*0001~23456*",
            ("TH", "TH02", 1),
            "'0001~23456' contains the segment terminator '~'",
        ),
        ("*01**2025", "***2025", ("TH", "TH03", 1), "missing; 01 for a report"),
        (
            "PHA*1234567893*1234567*BA1234563*",
            "PHA****",
            ("PHA", "PHA01", 3),
            "missing; give the pharmacy's NPI (PHA01), NCPDP ID (PHA02) or DEA number (PHA03)",
        ),
        (
            "PHA*1234567893*",
            "PHA*123456789*",
            ("PHA", "PHA01", 3),
            "'123456789' is not an NPI (10 digits, no hyphens)",
        ),
        (
            "*DOE*JANE*",
            "*DOÉ*JANE*",
            ("PAT", "PAT07", 4),
            "'DOÉ' contains 'É', which is not plain ASCII",
        ),
        (
            "*DOE*JANE*",
            "*D\x00E*JANE*",
            ("PAT", "PAT07", 4),
            "'D\\x00E' contains the control character 0x00",
        ),
        (
            "*19800214*F*",
            "*19800214*X*",
            ("PAT", "PAT19", 4),
            "'X' is not one of F (female), M (male), U (unknown)",
        ),
        (
            "DSP*00*1000234*",
            "DSP*00**",
            ("DSP", "DSP02", 5),
            "missing; every reported dispensing needs it",
        ),
        (
            "*12345678901*60*",
            "*12345678901*6O*",
            ("DSP", "DSP09", 5),
            "'6O' is not a quantity (digits, a decimal point)",
        ),
        (
            "*12345678901*60*",
            "*12345678901*6.*",
            ("DSP", "DSP09", 5),
            "'6.' is not a quantity (digits, a decimal point)",
        ),
        (
            "*12345678901*60*15*",
            "*12345678901*60*1234567890*",
            ("DSP", "DSP10", 5),
            "'1234567890' is too large a count",
        ),
        (
            "*0*01*12345678901*",
            "*0**12345678901*",
            ("DSP", "DSP07", 5),
            "is empty, but DSP08 holds an NDC; 01 means NDC",
        ),
        (
            "*1234567890**04*",
            "*1234567890**08*",
            ("DSP", "DSP16", 5),
            "'08' is not one of 01 (private pay), 02 (medicaid), 03 (medicare), 04 (commercial "
            "insurance), 05 (military or va), 06 (workers compensation), 07 (indian nations), "
            "99 (other)",
        ),
        (
            "PRE*1987654321*AS1234563***",
            "PRE*****",
            ("PRE", "PRE01", 6),
            "missing; give the prescriber's NPI (PRE01), DEA number (PRE02) or state license "
            "(PRE04)",
        ),
        ("AIR***IL*06*", "AIR***IL*6*", ("AIR", "AIR04", 7), "'6' is not a two-digit code"),
    ],
)
def test_a_malformed_file_is_named(old, new, where_, reason):
    assert old in EXAMPLE

    error = error_of(EXAMPLE.replace(old, new, 1))

    assert where(error) == where_
    assert error.reason == reason


def test_a_zero_report_patient_still_needs_the_report_date():
    error = error_of(ZERO.replace("DSP*****20250116~", "DSP~"))

    assert where(error) == ("DSP", "DSP05", 5)


def test_a_zero_report_dispensing_cannot_be_a_void():
    error = error_of(ZERO.replace("DSP*****", "DSP*02****"))

    assert where(error) == ("DSP", "DSP01", 5)
    assert (
        error.reason
        == "a zero report's dispensing record has no reporting status (or 00), not '02'"
    )


@pytest.mark.parametrize(
    ("text", "where_", "reason"),
    [
        ("", ("TH", None, 1), "the file starts with ''; an ASAP file starts with its TH header"),
        (
            "\ufeff" + EXAMPLE,
            ("TH", None, 1),
            "the file starts with '\\ufeffTH*4.2B*000123456*0'; an ASAP file starts with its TH "
            "header",
        ),
        (
            "ISA*00*",
            ("TH", None, 1),
            "the file starts with 'ISA*00*'; an ASAP file starts with its TH header",
        ),
        (
            EXAMPLE + "X",
            (None, None, 10),
            "the file ends with 'X'; the file ends before the segment terminator '~' (cut short?)",
        ),
    ],
)
def test_what_is_not_an_asap_file_is_refused(text, where_, reason):
    error = error_of(text)

    assert where(error) == where_
    assert error.reason == reason


def test_read_refuses_bytes():
    with pytest.raises(AsapError, match="an ASAP file is read as text, not bytes"):
        read(EXAMPLE.encode())  # type: ignore[arg-type]


def test_the_error_is_a_domain_error_with_a_stable_code():
    error = error_of(EXAMPLE.replace("*20250115*0*01*", "*20251301*0*01*"))

    assert isinstance(error, Invalid)
    assert error.code == "asap_invalid"
    assert error.status == 422
    assert error.field == "DSP05"
    assert error.errors == [{"field": "DSP05", "message": str(error)}]


# --------------------------------------------------------------------------------------
# Round trips (hypothesis): any valid file writes, and reads back equal

PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in "*~")
text = st.text(PRINTABLE, max_size=10)
required_text = st.text(PRINTABLE, min_size=1, max_size=10)


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.just(""), strategy)


def code(enum) -> st.SearchStrategy[str]:
    return maybe(st.sampled_from(list(enum)))


dates = st.dates()
counts = st.integers(0, 999_999_999)
quantities = st.builds(
    lambda n, places: Decimal(n).scaleb(-places), st.integers(0, 10**10 - 1), st.integers(0, 6)
)


@st.composite
def prescribers(draw, zero: bool) -> Prescriber:
    prescriber = Prescriber(
        npi=draw(maybe(digits(10))),
        dea=draw(text),
        dea_suffix=draw(text),
        license=draw(text),
        last_name=draw(text),
        first_name=draw(text),
        middle_name=draw(text),
        phone=draw(text),
        xdea=draw(text),
    )
    if not (zero or prescriber.npi or prescriber.dea or prescriber.license):
        prescriber = dataclasses.replace(prescriber, dea=draw(required_text))
    return prescriber


ingredients = st.builds(Ingredient, ndc=digits(11), quantity=quantities, unit=code(Unit))
additional_infos = st.builds(
    AdditionalInfo,
    rx_serial_state=text,
    rx_serial_number=text,
    id_jurisdiction=text,
    id_qualifier=maybe(digits(2)),
    id=text,
    relationship=maybe(digits(2)),
    last_name=text,
    first_name=text,
    pharmacist_last_name=text,
    pharmacist_first_name=text,
    drop_off_pick_up=maybe(digits(2)),
)


@st.composite
def dispensings(draw, rank: int, zero: bool) -> Dispensing:
    compound = tuple(draw(st.lists(ingredients, max_size=3)))
    optional = st.none()
    return Dispensing(
        status=draw(st.sampled_from(["", "00"]) if zero else st.sampled_from(ReportingStatus)),
        rx_number=draw(text if zero else required_text),
        date_written=draw(st.none() | dates),
        refills_authorized=draw(st.none() | counts),
        date_filled=draw(dates),
        fill_number=draw((st.none() | counts) if zero else counts),
        ndc=draw(maybe(digits(11)) if compound or zero else digits(11)),
        quantity=draw((optional | quantities) if zero else quantities),
        days_supply=draw(st.none() | counts),
        unit=draw(code(Unit)),
        origin=draw(code(RxOrigin)),
        partial_fill=draw(maybe(digits(2))),
        pharmacist_npi=draw(maybe(digits(10))),
        pharmacist_license=draw(text),
        payment_type=draw(code(PaymentType)),
        date_sold=draw(st.none() | dates),
        rxnorm_qualifier=draw(text),
        rxnorm_code=draw(text),
        erx_reference=draw(text),
        erx_order_number=draw(text),
        quantity_prescribed=draw(optional | quantities) if rank >= 1 else None,
        sig=draw(text) if rank >= 1 else "",
        treatment_type=draw(text) if rank >= 1 else "",
        diagnosis_code=draw(text) if rank >= 2 else "",
        prescriber=draw(prescribers(zero)),
        compound=compound,
        additional=draw(st.none() | additional_infos),
    )


@st.composite
def patient_reports(draw, rank: int) -> PatientReport:
    zero = draw(st.booleans())
    patient = Patient(
        id_jurisdiction=draw(text),
        id_qualifier=draw(maybe(digits(2))),
        id=draw(text),
        additional_id_jurisdiction=draw(text),
        additional_id_qualifier=draw(maybe(digits(2))),
        additional_id=draw(text),
        last_name="REPORT" if zero else draw(required_text),
        first_name="ZERO" if zero else draw(text),
        middle_name=draw(text),
        name_prefix=draw(text),
        name_suffix=draw(text),
        address1=draw(text),
        address2=draw(text),
        city=draw(text),
        state=draw(text),
        zip=draw(text),
        phone=draw(text),
        birth_date=draw(st.none() | dates),
        gender=draw(code(Gender)),
        species=draw(code(Species)),
        location_code=draw(text),
        country=draw(text),
        animal_name=draw(text),
    )
    zero = patient.is_zero_report
    return PatientReport(
        patient=patient,
        dispensings=tuple(draw(st.lists(dispensings(rank, zero), min_size=1, max_size=3))),
    )


@st.composite
def pharmacy_reports(draw, rank: int) -> PharmacyReport:
    pharmacy = Pharmacy(
        npi=draw(maybe(digits(10))),
        ncpdp=draw(text),
        dea=draw(text),
        name=draw(text),
        address1=draw(text),
        address2=draw(text),
        city=draw(text),
        state=draw(text),
        zip=draw(text),
        phone=draw(text),
        contact_name=draw(text),
        chain_site_id=draw(text),
        permit_number=draw(text) if rank >= 1 else "",
    )
    if not (pharmacy.npi or pharmacy.ncpdp or pharmacy.dea):
        pharmacy = dataclasses.replace(pharmacy, ncpdp=draw(required_text))
    return PharmacyReport(
        pharmacy=pharmacy,
        patients=tuple(draw(st.lists(patient_reports(rank), min_size=1, max_size=3))),
    )


@st.composite
def files(draw) -> AsapFile:
    version = draw(st.sampled_from(AsapVersion))
    rank = list(AsapVersion).index(version)
    return AsapFile(
        version=version,
        control_number=draw(required_text),
        transaction_type=draw(st.sampled_from(TransactionType)),
        response_id=draw(text),
        created=draw(st.datetimes()).replace(microsecond=0),
        production=draw(st.booleans()),
        routing_number=draw(text),
        source=InformationSource(
            id=draw(required_text), name=draw(required_text), message=draw(text)
        ),
        pharmacies=tuple(draw(st.lists(pharmacy_reports(rank), min_size=1, max_size=2))),
    )


ROUND_TRIP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def expected_ids(file: AsapFile) -> list[str]:
    ids = ["TH", "IS"]
    for report in file.pharmacies:
        ids.append("PHA")
        for patient in report.patients:
            ids.append("PAT")
            for fill in patient.dispensings:
                ids += ["DSP", "PRE", *["CDI"] * len(fill.compound)]
                ids += ["AIR"] if fill.additional is not None else []
        ids.append("TP")
    return [*ids, "TT"]


@ROUND_TRIP
@given(files(), st.booleans())
def test_any_valid_file_round_trips(file, line_breaks):
    wire = write(file, line_breaks=line_breaks)

    assert read(wire) == file
    assert wire.startswith(f"TH*{file.version}*{file.control_number}*")
    assert "~~" in wire.split("IS*", 1)[0]


@ROUND_TRIP
@given(files())
def test_the_counts_match_the_segments_written(file):
    lines = write(file, line_breaks=True).split("~\r\n")[:-1]
    lines[0] = lines[0].removesuffix("~")  # TH09

    ids = [line.split("*")[0] for line in lines]
    assert ids == expected_ids(file)
    assert lines[-1] == f"TT*{file.control_number}*{len(lines)}"
    pha = [i for i, s in enumerate(ids) if s == "PHA"]
    tp = [i for i, s in enumerate(ids) if s == "TP"]
    assert [lines[i] for i in tp] == [
        f"TP*{end - start + 1}" for start, end in zip(pha, tp, strict=True)
    ]
    assert all(not line.endswith("*") for line in lines[1:])  # trailing empty elements trimmed


# --------------------------------------------------------------------------------------
# Hostile input: read raises AsapError or succeeds, nothing else


def delimiters(text: str) -> tuple[str, str]:
    return text[2], text.split(text[2], 9)[9][0]


def reads_or_refuses(text: str) -> None:
    try:
        file = read(text)
    except AsapError:
        return
    # Whatever reads must write back and read the same again (a file with other delimiters
    # may hold '*' or '~' in its data, which the writer refuses).
    try:
        again = write(file)
    except AsapError:
        assert delimiters(text) != ("*", "~")
        return
    assert read(again) == file


FUZZ = settings(max_examples=300, deadline=None)


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_gives_only_asap_errors(text):
    reads_or_refuses(text)
    reads_or_refuses("TH*" + text)


PIECES = [
    *("*", "~", "|", "\\", "\r\n", "\n", ""),
    *("TH", "IS", "PHA", "PAT", "DSP", "PRE", "CDI", "AIR", "TP", "TT", "XX"),
    *("00", "01", "02", "06", "4.2", "0", "1", "5", "9", "60", "2.5", "20250115", "20251301"),
    *("12345678901", "1234567890", "000123456", "REPORT", "ZERO", "X", " ", "\x00", "É", "."),
]
bodies = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)


@FUZZ
@given(bodies)
def test_arbitrary_bodies_after_a_good_header_give_only_asap_errors(body):
    reads_or_refuses(EXAMPLE_LINES[0] + body)
    reads_or_refuses(EXAMPLE_LINES[0] + EXAMPLE_LINES[1] + body)
    reads_or_refuses("TH" + body)


@st.composite
def mutations(draw, text: str) -> str:
    chars = list(text)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["cut", "drop", "insert", "replace"]))
        at = draw(st.integers(0, len(chars)))
        if action == "cut":
            del chars[at:]
        elif action == "drop":
            del chars[at : at + draw(st.integers(1, 6))]
        elif action == "insert":
            chars[at:at] = list(draw(st.sampled_from(PIECES)))
        elif at < len(chars):
            chars[at] = draw(st.characters(max_codepoint=0x2FF))
    return "".join(chars)


@FUZZ
@given(st.one_of(mutations(EXAMPLE), mutations(ZERO), mutations(write(COMPOUND_FILE))))
def test_damaged_reference_files_give_only_asap_errors(text):
    reads_or_refuses(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_generated_files_give_only_asap_errors(data):
    wire = write(data.draw(files()), line_breaks=data.draw(st.booleans()))

    reads_or_refuses(data.draw(mutations(wire)))
