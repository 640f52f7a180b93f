"""NCPDP SCRIPT 2017071 codec: safe parsing, field-path errors, checks, reply builders.

Fixtures under ``data/`` are synthetic (fake people, fake identifiers): the team reference's
NewRx (§2.7) and messages written for these tests from the reference's field list.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
import sys
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.core.errors import Invalid
from rxdesk.interop import script
from rxdesk.interop.script import (
    CancelRx,
    CancelRxResponse,
    Code,
    DeaSchedule,
    Diagnosis,
    Endpoint,
    ErrorReply,
    MessageType,
    Name,
    NewRx,
    PatientIdentifier,
    PostalAddress,
    Quantity,
    RenewalDecision,
    RxRenewalRequest,
    RxRenewalResponse,
    ScriptError,
    ScriptProblem,
    StatusReply,
    Strength,
    StructuredSig,
    VerifyReply,
)

DATA = Path(__file__).parent / "data"
SENT = dt.datetime(2025, 3, 16, 10, 0, 0, tzinfo=dt.UTC)


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


REFERENCE = fixture("newrx_reference.xml")
CII = fixture("newrx_cii.xml")


def reference_with(old: str, new: str) -> bytes:
    text = REFERENCE.decode()
    assert old in text, old
    return text.replace(old, new, 1).encode()


def cii_with(old: str, new: str) -> bytes:
    text = CII.decode()
    assert old in text, old
    return text.replace(old, new, 1).encode()


def refused(xml: bytes | str) -> ScriptError:
    with pytest.raises(ScriptError) as info:
        script.parse(xml)
    return info.value


# ---------------------------------------------------------------------------------------
# The reference's synthetic NewRx
# ---------------------------------------------------------------------------------------


def test_it_reads_the_header_of_the_reference_newrx():
    # given the team reference's synthetic NewRx / when parsed
    message = script.parse(REFERENCE)

    # then
    assert message.message_type is MessageType.NEW_RX
    assert message.message_id == "MSG-20250315-0001"
    header = message.header
    assert header.to == Endpoint("P", "9990001")
    assert header.from_ == Endpoint("D", "SPI0000000001")
    assert header.sent_time == dt.datetime(2025, 3, 15, 14, 5, tzinfo=dt.UTC)
    assert header.relates_to_message_id is None
    assert header.prescriber_order_number == "ORD-000123"
    assert header.rx_reference_number is None
    assert header.test_message is False
    assert header.digitally_signed is False


def test_it_reads_patient_pharmacy_and_prescriber_of_the_reference_newrx():
    rx = script.parse(REFERENCE).new_rx

    assert rx.patient.name == Name(last="TESTPATIENT", first="JANE")
    assert rx.patient.gender == "F"
    assert rx.patient.date_of_birth == dt.date(1980, 7, 4)
    assert rx.patient.address == PostalAddress(
        line1="1 MAIN ST", city="PHOENIX", state="AZ", postal_code="85001", country="US"
    )
    assert rx.patient.phone is None
    assert rx.patient.identifiers == ()
    assert rx.patient.kind == "HumanPatient"

    assert rx.pharmacy.ncpdp_id == "9990001"
    assert rx.pharmacy.npi == "1234567893"
    assert rx.pharmacy.business_name == "TEST PHARMACY"
    assert rx.pharmacy.phone == "6025550100"

    assert rx.prescriber.name == Name(last="TESTDOCTOR", first="SAM")
    assert rx.prescriber.npi == "9876543213"
    assert rx.prescriber.dea_number is None
    assert rx.prescriber.address == PostalAddress(
        line1="2 CLINIC RD", city="PHOENIX", state="AZ", postal_code="85002", country="US"
    )
    assert rx.prescriber.phone == "6025550199"
    assert rx.prescriber.kind == "NonVeterinarian"
    assert rx.prohibit_renewal_request is False


def test_it_reads_the_medication_of_the_reference_newrx():
    med = script.parse(REFERENCE).new_rx.medication

    assert med.drug_description == "Lisinopril 10 MG Oral Tablet"
    assert med.product_code == Code("12345678901", "ND")
    assert med.ndc == "12345678901"
    assert med.drug_db_code == Code("314076", "SCD")
    assert med.rxnorm == "314076"
    assert med.strength == Strength(value="10", form_code="C42998", unit_code="C28253")
    assert med.quantity == Quantity(Decimal("30"), "38", "C48542")
    assert med.quantity.unit_name == "Tablet"
    assert med.quantity.billing_unit == "EA"
    assert med.days_supply == 30
    assert med.written_date == dt.date(2025, 3, 15)
    assert med.substitutions == 0
    assert med.daw_code == 0
    assert med.refills == 5
    assert med.diagnoses == (Diagnosis("I10", "ABF", "Essential hypertension", primary=True),)
    assert med.diagnoses[0].is_icd10
    assert med.note == "Patient prefers large-print label."
    assert med.sig.text == "Take 1 tablet by mouth once daily."
    assert med.sig.structured is None
    assert med.dea_schedule is None
    assert med.is_controlled is False


def test_the_reference_newrx_fails_only_on_its_prescriber_npi():
    # given the reference's prescriber NPI 9876543213: its Luhn digit fits, but an NPI
    # starts with 1 or 2 (CMS), so the example itself would be refused by a checker
    message = script.parse(REFERENCE)

    # when
    found = script.problems(message, today=dt.date(2025, 3, 15))

    # then
    assert found == [
        ScriptProblem(
            "Prescriber.NonVeterinarian.Identification.NPI",
            "Prescriber NPI: An NPI starts with 1 (a person) or 2 (an organization).",
        )
    ]


def test_text_and_bytes_give_the_same_message():
    assert script.parse(REFERENCE.decode()) == script.parse(REFERENCE)


def test_text_with_a_declared_single_byte_encoding_is_read_as_the_text_it_is():
    # given already-decoded text whose declaration still says ISO-8859-1
    text = (
        reference_with("JANE", "JOSÉ").decode().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    )

    # then the é is not decoded a second time
    assert script.parse(text).new_rx.patient.name.first == "JOSÉ"


def test_a_latin1_byte_document_is_decoded_by_its_declaration():
    text = (
        reference_with("JANE", "JOSÉ").decode().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    )

    assert script.parse(text.encode("latin-1")).new_rx.patient.name.first == "JOSÉ"


# ---------------------------------------------------------------------------------------
# A controlled-substance NewRx with everything
# ---------------------------------------------------------------------------------------


def test_a_schedule_ii_newrx_with_a_namespace_reads_every_field():
    message = script.parse(CII)
    rx = message.new_rx

    assert message.header.test_message is True
    assert message.header.digitally_signed is True
    assert message.header.sent_time == dt.datetime(2025, 6, 2, 15, 30, 45, 500000, tzinfo=dt.UTC)
    assert rx.patient.name == Name(last="RIVERA-TEST", first="MARIA", middle="ELENA")
    assert rx.patient.identifiers == (
        PatientIdentifier("MedicalRecordIdentificationNumberEHR", "MRN-000777"),
    )
    assert rx.patient.address is not None and rx.patient.address.line2 == "APT 2B"
    assert rx.patient.phone == "5205550142"
    assert rx.patient.email == "maria@example.test"
    assert rx.prescriber.npi == "1555555550"
    assert rx.prescriber.dea_number == "FK7654329"
    assert rx.prescriber.state_license_number == "MD-12345"
    assert rx.prescriber.clinic_name == "DESERT TEST CLINIC"
    assert rx.pharmacy.npi == "1200000002"
    assert rx.prohibit_renewal_request is True

    med = rx.medication
    assert med.dea_schedule is DeaSchedule.CII
    assert med.is_controlled is True
    assert med.written_date == dt.date(2025, 6, 2)
    assert med.substitutions == 1
    assert med.daw_code == 1
    assert med.refills == 0
    assert med.days_supply == 5
    assert med.diagnoses == (
        Diagnosis("S82.201A", "ABF", "Fracture of shaft of right tibia", primary=True),
        Diagnosis("G89.11", "ABF", None, primary=False),
    )
    assert med.sig.structured == StructuredSig(
        code_system=None,
        dose_delivery_method="419652001",
        dose_quantity=Decimal("1"),
        dose_unit="C48542",
        route="26643006",
        frequency_value=Decimal("6"),
        frequency_unit="258702006",
    )


def test_the_schedule_ii_newrx_has_no_problems_on_the_day_it_was_written():
    assert script.problems(script.parse(CII), today=dt.date(2025, 6, 2)) == []
    script.validate(script.parse(CII), today=dt.date(2025, 6, 2))


@pytest.mark.parametrize(
    ("code", "billing_unit"),
    [
        ("C48542", "EA"),
        ("C48480", "EA"),
        ("C28254", "ML"),
        ("C48155", "GM"),
        ("C48524", "EA"),
        ("C62413", None),  # an inhaler canister is billed by weight: needs the package
        ("C38046", None),
        ("C99999", None),
    ],
)
def test_nci_quantity_units_map_to_ncpdp_billing_units(code, billing_unit):
    assert Quantity(Decimal(1), "38", code).billing_unit == billing_unit


# ---------------------------------------------------------------------------------------
# Hostile XML
# ---------------------------------------------------------------------------------------

_opened: list[str] = []
_watching = [False]


def _audit(event: str, args: tuple) -> None:
    if _watching[0] and event == "open":
        _opened.append(str(args[0]))


sys.addaudithook(_audit)  # inert unless a test switches _watching on


@contextlib.contextmanager
def no_file_opened():
    """Fails if anything in the block opens a file (audit event "open")."""
    _opened.clear()
    _watching[0] = True
    try:
        yield
    finally:
        _watching[0] = False
    assert _opened == []


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Message [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Message><Header><MessageID>&lol9;</MessageID></Header></Message>"""


def test_a_billion_laughs_is_refused():
    with no_file_opened():
        error = refused(BILLION_LAUGHS)

    assert "DTD or entity" in error.message
    assert error.field is None
    assert error.header is None


def test_an_external_entity_is_refused_and_no_file_is_read(tmp_path):
    # given a secret file and a message that tries to pull it into a field
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    for target in (secret.as_uri(), "file:///etc/passwd"):
        xml = reference_with(
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<?xml version="1.0"?><!DOCTYPE Message [<!ENTITY x SYSTEM "{target}">]>',
        ).replace(b"<LastName>TESTPATIENT", b"<LastName>&x;")

        # when / then: refused, nothing read (the audit hook saw no open())
        with no_file_opened():
            error = refused(xml)
        assert "DTD or entity" in error.message
        assert "TOP-SECRET" not in error.message


def test_an_external_dtd_is_refused():
    xml = reference_with(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE Message SYSTEM "file:///etc/passwd">',
    )
    with no_file_opened():
        assert "DTD" in refused(xml).message


def test_an_internal_dtd_without_entities_is_refused_too():
    xml = reference_with(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE Message [<!ELEMENT Message ANY>]>',
    )
    assert "DTDForbidden" in refused(xml).message


def test_a_parameter_entity_is_refused():
    xml = b"""<?xml version="1.0"?>
<!DOCTYPE Message [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><Message/>"""
    with no_file_opened():
        assert "DTD or entity" in refused(xml).message


def test_an_oversize_message_is_refused_unread():
    padding = b" " * (script.MAX_MESSAGE_BYTES + 1)
    error = refused(REFERENCE + padding)
    assert error.message == "The message is larger than 1,000,000 bytes; it is refused unread."


def test_deep_nesting_is_refused():
    depth = script.MAX_DEPTH + 1
    xml = "<Message>" + "<a>" * depth + "</a>" * depth + "</Message>"
    assert refused(xml).message == "The message is nested deeper than 40 levels; it is refused."


def test_very_deep_nesting_within_the_size_limit_is_refused_quickly():
    depth = 120_000  # 840 kB: under the size limit
    xml = b"<a>" * depth + b"</a>" * depth
    assert "nested deeper" in refused(xml).message


def test_too_many_elements_are_refused():
    xml = "<Message>" + "<a/>" * (script.MAX_ELEMENTS + 1) + "</Message>"
    assert refused(xml).message == "The message has more than 5000 elements; it is refused."


@pytest.mark.parametrize(
    ("xml", "start"),
    [
        (b"", "The message is empty."),
        (b"   ", "The message is empty."),
        (b"not xml at all", "The message is not well-formed XML"),
        (b"<Message><Header></Message>", "The message is not well-formed XML"),
        (b"\xff\xfe\x00<", "The message is not well-formed XML"),
        ("\udcff", "The message is not valid text (UTF-8)."),
    ],
)
def test_malformed_input_is_refused(xml, start):
    assert refused(xml).message.startswith(start)


def test_a_non_text_argument_is_refused():
    assert refused(123).message == "The message must be XML text or bytes."  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Structure: missing or wrong elements name the field
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("<MessageID>MSG-20250315-0001</MessageID>", "", "Header.MessageID"),
        (
            "<MessageID>MSG-20250315-0001</MessageID>",
            "<MessageID> </MessageID>",
            "Header.MessageID",
        ),
        ('<To Qualifier="P">9990001</To>', "", "Header.To"),
        ('<From Qualifier="D">', "<From>", "Header.From@Qualifier"),
        ("<SentTime>2025-03-15T14:05:00.0Z</SentTime>", "", "Header.SentTime"),
        ("2025-03-15T14:05:00.0Z", "yesterday", "Header.SentTime"),
        ("2025-03-15T14:05:00.0Z", "2025-13-15T14:05:00Z", "Header.SentTime"),
        ("<Gender>F</Gender>", "", "Patient.HumanPatient.Gender"),
        ("<LastName>TESTPATIENT</LastName>", "", "Patient.HumanPatient.Name.LastName"),
        ("1980-07-04", "1980-02-30", "Patient.HumanPatient.DateOfBirth.Date"),
        ("1980-07-04", "07/04/1980", "Patient.HumanPatient.DateOfBirth.Date"),
        ("<Date>1980-07-04</Date>", "", "Patient.HumanPatient.DateOfBirth"),
        ("<NCPDPID>9990001</NCPDPID>", "", "Pharmacy.Identification.NCPDPID"),
        (
            "<Name><LastName>TESTDOCTOR</LastName><FirstName>SAM</FirstName></Name>",
            "",
            "Prescriber.NonVeterinarian.Name",
        ),
        ("<Value>30</Value>", "", "MedicationPrescribed.Quantity.Value"),
        ("<Value>30</Value>", "<Value>thirty</Value>", "MedicationPrescribed.Quantity.Value"),
        ("<Value>30</Value>", "<Value>NaN</Value>", "MedicationPrescribed.Quantity.Value"),
        ("<Value>30</Value>", "<Value>1e9</Value>", "MedicationPrescribed.Quantity.Value"),
        ("<Value>30</Value>", "<Value>３０</Value>", "MedicationPrescribed.Quantity.Value"),
        (
            "<CodeListQualifier>38</CodeListQualifier>",
            "",
            "MedicationPrescribed.Quantity.CodeListQualifier",
        ),
        (
            "<QuantityUnitOfMeasure><Code>C48542</Code></QuantityUnitOfMeasure>",
            "",
            "MedicationPrescribed.Quantity.QuantityUnitOfMeasure",
        ),
        (
            "<DaysSupply>30</DaysSupply>",
            "<DaysSupply>30.5</DaysSupply>",
            "MedicationPrescribed.DaysSupply",
        ),
        (
            "<DrugDescription>Lisinopril 10 MG Oral Tablet</DrugDescription>",
            "",
            "MedicationPrescribed.DrugDescription",
        ),
        (
            "<WrittenDate><Date>2025-03-15</Date></WrittenDate>",
            "",
            "MedicationPrescribed.WrittenDate",
        ),
        ("<Substitutions>0</Substitutions>", "", "MedicationPrescribed.Substitutions"),
        (
            "<Substitutions>0</Substitutions>",
            "<Substitutions>2</Substitutions>",
            "MedicationPrescribed.Substitutions",
        ),
        (
            "<NumberOfRefills>5</NumberOfRefills>",
            "<NumberOfRefills>five</NumberOfRefills>",
            "MedicationPrescribed.NumberOfRefills",
        ),
        (
            "<SigText>Take 1 tablet by mouth once daily.</SigText>",
            "",
            "MedicationPrescribed.Sig.SigText",
        ),
        ("<Code>I10</Code>", "", "MedicationPrescribed.Diagnosis.Primary.Code"),
        ("<Code>12345678901</Code>", "", "MedicationPrescribed.DrugCoded.ProductCode.Code"),
    ],
)
def test_a_missing_or_malformed_element_is_named_by_its_path(old, new, field):
    # given the reference NewRx with one element broken / when parsed
    error = refused(reference_with(old, new))

    # then the error names the field, and the header is kept for the Error reply
    assert error.field == field
    assert field.split("@")[0] in error.message
    if not field.startswith("Header"):
        assert error.header is not None
        assert error.header.message_id == "MSG-20250315-0001"


def test_a_patient_that_is_neither_human_nor_non_human_is_named():
    xml = reference_with("<HumanPatient>", "<Person>").replace(b"</HumanPatient>", b"</Person>")
    error = refused(xml)
    assert error.field == "Patient.HumanPatient"
    assert error.message == "Patient has no HumanPatient or NonHumanPatient."


def test_an_unknown_dea_schedule_code_is_named():
    error = refused(cii_with("<Code>C48675</Code>", "<Code>CII</Code>"))
    assert error.field == "MedicationPrescribed.DrugCoded.DEASchedule.Code"


def test_a_missing_substitutions_message_reads_like_a_sentence():
    error = refused(reference_with("<Substitutions>0</Substitutions>", ""))
    assert error.message == "The message has no MedicationPrescribed.Substitutions."


@pytest.mark.parametrize(
    ("xml", "field", "message"),
    [
        (
            b"<Prescription/>",
            "Message",
            "The document is a <Prescription>, not a SCRIPT <Message>.",
        ),
        (
            b"<Message><Body/></Message>",
            "Header",
            "The message has no Header.",
        ),
    ],
)
def test_a_document_that_is_not_a_script_message_is_refused(xml, field, message):
    error = refused(xml)
    assert (error.field, error.message) == (field, message)


def test_an_unknown_transaction_is_refused_with_field_body():
    xml = reference_with("<NewRx>", "<RxFill>").replace(b"</NewRx>", b"</RxFill>")
    error = refused(xml)
    assert error.field == "Body"
    assert error.message.startswith("RxFill messages are not accepted here")
    assert error.header is not None and error.header.message_id == "MSG-20250315-0001"


def test_a_body_with_two_transactions_is_refused():
    xml = reference_with("<Body>", "<Body><Status><Code>010</Code></Status>")
    error = refused(xml)
    assert error.field == "Body"
    assert error.message == "The Body must hold exactly one transaction; it holds 2."


def test_a_missing_body_is_named():
    xml = reference_with("<Body>", "<Nobody>").replace(b"</Body>", b"</Nobody>")
    assert refused(xml).field == "Body"


def test_a_status_without_relates_to_message_id_is_refused():
    xml = (
        b'<Message><Header><To Qualifier="D">X</To><From Qualifier="P">9990001</From>'
        b"<MessageID>S1</MessageID><SentTime>2025-03-15T14:05:00Z</SentTime></Header>"
        b"<Body><Status><Code>010</Code></Status></Body></Message>"
    )
    assert refused(xml).field == "Header.RelatesToMessageID"


def test_the_typed_accessor_refuses_another_message_type():
    message = script.parse(fixture("cancelrx.xml"))
    with pytest.raises(ScriptError) as info:
        _ = message.new_rx
    assert info.value.message == "This is a CancelRx message, not a NewRx."


# ---------------------------------------------------------------------------------------
# Business checks
# ---------------------------------------------------------------------------------------

TODAY = dt.date(2025, 6, 2)


def cii_problems(old: str, new: str) -> list[ScriptProblem]:
    return script.problems(script.parse(cii_with(old, new)), today=TODAY)


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "<Value>20</Value>",
            "<Value>0</Value>",
            "MedicationPrescribed.Quantity.Value",
            "The quantity must be more than zero.",
        ),
        (
            "<Value>20</Value>",
            "<Value>-5</Value>",
            "MedicationPrescribed.Quantity.Value",
            "The quantity must be more than zero.",
        ),
        (
            "<Value>20</Value>",
            "<Value>100000</Value>",
            "MedicationPrescribed.Quantity.Value",
            "A quantity over 10000 is not plausible; confirm it.",
        ),
        (
            "<Value>20</Value>",
            "<Value>20.0005</Value>",
            "MedicationPrescribed.Quantity.Value",
            "A quantity has at most 3 decimal places.",
        ),
        (
            "<QuantityUnitOfMeasure><Code>C48542</Code>",
            "<QuantityUnitOfMeasure><Code>TAB</Code>",
            "MedicationPrescribed.Quantity.QuantityUnitOfMeasure.Code",
            "'TAB' is not an NCPDP quantity unit code.",
        ),
        (
            "<DaysSupply>5</DaysSupply>",
            "<DaysSupply>0</DaysSupply>",
            "MedicationPrescribed.DaysSupply",
            "The days supply must be between 1 and 365.",
        ),
        (
            "<DateTime>2025-06-02T15:20:00Z</DateTime>",
            "<DateTime>2025-06-03T08:00:00Z</DateTime>",
            "MedicationPrescribed.WrittenDate",
            "The date written is in the future.",
        ),
        (
            "<NumberOfRefills>0</NumberOfRefills>",
            "<NumberOfRefills>1</NumberOfRefills>",
            "MedicationPrescribed.NumberOfRefills",
            "A Schedule II prescription cannot have refills (21 CFR 1306.12(a)).",
        ),
        (
            "<Code>00000123401</Code>",
            "<Code>0000-1234-01</Code>",
            "MedicationPrescribed.DrugCoded.ProductCode.Code",
            "An NDC in SCRIPT is 11 digits without hyphens (5-4-2), e.g. 00093505601.",
        ),
        (
            "<NPI>1555555550</NPI>",
            "<NPI>1555555551</NPI>",
            "Prescriber.NonVeterinarian.Identification.NPI",
            "Prescriber NPI: This NPI's check digit is wrong; check for a mistyped digit.",
        ),
        (
            "<DEANumber>FK7654329</DEANumber>",
            "<DEANumber>FK7654321</DEANumber>",
            "Prescriber.NonVeterinarian.Identification.DEANumber",
            "Prescriber DEA: This DEA number's check digit is wrong; check for a mistyped digit.",
        ),
        (
            "<DEANumber>FK7654329</DEANumber>",
            "",
            "Prescriber.NonVeterinarian.Identification.DEANumber",
            "A controlled-substance prescription must carry the prescriber's DEA number "
            "(21 CFR 1306.05(a)).",
        ),
        (
            "<NPI>1200000002</NPI>",
            "<NPI>120000000</NPI>",
            "Pharmacy.Identification.NPI",
            "Pharmacy NPI: An NPI is exactly 10 digits.",
        ),
        (
            "<NCPDPID>7654321</NCPDPID>",
            "<NCPDPID>76543</NCPDPID>",
            "Pharmacy.Identification.NCPDPID",
            "An NCPDP pharmacy ID is 7 digits.",
        ),
        (
            "<Gender>F</Gender>",
            "<Gender>X</Gender>",
            "Patient.HumanPatient.Gender",
            "Gender must be M, F or U.",
        ),
        (
            "<Date>1957-11-30</Date>",
            "<Date>2030-01-01</Date>",
            "Patient.HumanPatient.DateOfBirth",
            "The date of birth is in the future.",
        ),
        (
            "<Code>S82.201A</Code>",
            "<Code>broken leg</Code>",
            "MedicationPrescribed.Diagnosis.Primary.Code",
            "'broken leg' is not an ICD-10-CM code.",
        ),
    ],
)
def test_each_broken_rule_is_one_problem_naming_its_field(old, new, field, message):
    assert cii_problems(old, new) == [ScriptProblem(field, message)]


def test_a_schedule_iv_allows_five_refills_but_not_six():
    five = cii_with("<Code>C48675</Code>", "<Code>C48677</Code>").replace(
        b"<NumberOfRefills>0</NumberOfRefills>", b"<NumberOfRefills>5</NumberOfRefills>"
    )
    six = five.replace(b"<NumberOfRefills>5<", b"<NumberOfRefills>6<")

    assert script.problems(script.parse(five), today=TODAY) == []
    assert script.problems(script.parse(six), today=TODAY) == [
        ScriptProblem(
            "MedicationPrescribed.NumberOfRefills",
            "A Schedule III or IV prescription allows at most 5 refills (21 CFR 1306.22(a)).",
        )
    ]


def test_a_schedule_v_has_no_federal_refill_cap():
    xml = cii_with("<Code>C48675</Code>", "<Code>C48679</Code>").replace(
        b"<NumberOfRefills>0</NumberOfRefills>", b"<NumberOfRefills>11</NumberOfRefills>"
    )
    assert script.problems(script.parse(xml), today=TODAY) == []


def test_overlong_free_text_is_flagged():
    found = cii_problems("Short course after fracture.", "x" * 211)
    assert found == [ScriptProblem("MedicationPrescribed.Note", "The note is over 210 characters.")]


def test_validate_raises_with_every_problem_and_the_header():
    # given a NewRx written tomorrow with zero quantity
    xml = cii_with("<Value>20</Value>", "<Value>0</Value>").replace(
        b"2025-06-02T15:20:00Z", b"2025-06-09T15:20:00Z"
    )
    message = script.parse(xml)

    with pytest.raises(ScriptError) as info:
        script.validate(message, today=TODAY)

    error = info.value
    assert error.field == "MedicationPrescribed.Quantity.Value"
    assert error.message == (
        "MedicationPrescribed.Quantity.Value: The quantity must be more than zero. (and 1 more)"
    )
    assert [p.field for p in error.problems] == [
        "MedicationPrescribed.Quantity.Value",
        "MedicationPrescribed.WrittenDate",
    ]
    assert error.header == message.header
    assert isinstance(error, Invalid) and error.code == "script_invalid"
    assert error.errors == [
        {
            "field": "MedicationPrescribed.Quantity.Value",
            "message": "The quantity must be more than zero.",
        },
        {
            "field": "MedicationPrescribed.WrittenDate",
            "message": "The date written is in the future.",
        },
    ]


def test_a_cancel_is_not_judged():
    # a cancel must be honoured even if the original prescription had faults
    assert script.problems(script.parse(fixture("cancelrx.xml")), today=dt.date(2020, 1, 1)) == []


# ---------------------------------------------------------------------------------------
# CancelRx and renewal responses
# ---------------------------------------------------------------------------------------


def test_a_cancelrx_carries_what_is_needed_to_find_the_prescription():
    message = script.parse(fixture("cancelrx.xml"))
    cancel = message.cancel_rx

    assert message.message_type is MessageType.CANCEL_RX
    assert message.message_id == "MSG-20250316-0042"
    assert message.header.relates_to_message_id == "MSG-20250315-0001"
    assert message.header.prescriber_order_number == "ORD-000123"
    assert message.header.rx_reference_number == "RX-1000017"
    assert isinstance(cancel, CancelRx)
    assert cancel.patient.name == Name("TESTPATIENT", "JANE")
    assert cancel.patient.date_of_birth == dt.date(1980, 7, 4)
    assert cancel.prescriber.npi == "1555555550"
    assert cancel.pharmacy is not None and cancel.pharmacy.ncpdp_id == "9990001"
    assert cancel.medication.ndc == "12345678901"
    assert cancel.medication.written_date == dt.date(2025, 3, 15)
    assert cancel.medication.refills is None


def test_a_denied_renewal_gives_its_reason():
    message = script.parse(fixture("rxrenewalresponse_denied.xml"))
    renewal = message.rx_renewal_response

    assert message.header.relates_to_message_id == "RXD-RENEW-0003"
    assert message.header.rx_reference_number == "RX-1000017"
    assert isinstance(renewal, RxRenewalResponse)
    assert renewal.response.decision is RenewalDecision.DENIED
    assert renewal.response.reason_code == "AM"
    assert renewal.response.reason_text == "Patient needs an appointment before more refills."
    assert renewal.medication is None
    assert script.problems(message, today=TODAY) == []


def test_a_replace_renewal_carries_the_new_prescription():
    message = script.parse(fixture("rxrenewalresponse_replace.xml"))
    renewal = message.rx_renewal_response

    assert renewal.response.decision is RenewalDecision.REPLACE
    assert renewal.medication is not None
    assert renewal.medication.drug_description == "Lisinopril 20 MG Oral Tablet"
    assert renewal.medication.quantity.value == Decimal("90")
    assert renewal.medication.refills == 3
    assert renewal.prescriber is not None and renewal.prescriber.npi == "1555555550"
    assert script.problems(message, today=dt.date(2025, 4, 21)) == []
    # the new prescription is judged like a NewRx
    assert [p.field for p in script.problems(message, today=dt.date(2025, 4, 20))] == [
        "MedicationPrescribed.WrittenDate"
    ]


def test_an_approved_renewal_may_carry_a_note():
    xml = fixture("rxrenewalresponse_denied.xml").replace(
        b"""<Denied>
          <ReasonCode>AM</ReasonCode>
          <DenialReason>Patient needs an appointment before more refills.</DenialReason>
        </Denied>""",
        b"<ApprovedWithChanges><Note>Only 2 refills.</Note></ApprovedWithChanges>",
    )
    renewal = script.parse(xml).rx_renewal_response
    assert renewal.response.decision is RenewalDecision.APPROVED_WITH_CHANGES
    assert renewal.response.note == "Only 2 refills."


def test_a_denied_renewal_without_a_reason_code_is_refused():
    xml = fixture("rxrenewalresponse_denied.xml").replace(b"<ReasonCode>AM</ReasonCode>", b"")
    assert refused(xml).field == "Response.Denied.ReasonCode"


def test_a_replace_renewal_without_a_medication_is_refused():
    xml = fixture("rxrenewalresponse_denied.xml").replace(b"<Response>", b"<Response><Replace/>")
    # two choices: the first one wins only if it is the expected order; make it unambiguous
    xml = xml.replace(b"<Denied>", b"<Ignored>").replace(b"</Denied>", b"</Ignored>")
    assert refused(xml).field == "MedicationPrescribed"


# ---------------------------------------------------------------------------------------
# Builders and round trips
# ---------------------------------------------------------------------------------------


def test_an_approved_cancel_response_round_trips():
    cancel = script.parse(fixture("cancelrx.xml"))

    xml = script.cancel_rx_response(
        cancel, approved=True, note="Not yet filled.", message_id="RXD-CXR-1", sent_time=SENT
    )
    reply = script.parse(xml)

    assert reply.message_type is MessageType.CANCEL_RX_RESPONSE
    assert reply.message_id == "RXD-CXR-1"
    assert reply.header.to == Endpoint("D", "SPI0000000001")
    assert reply.header.from_ == Endpoint("P", "9990001")
    assert reply.header.relates_to_message_id == "MSG-20250316-0042"
    assert reply.header.prescriber_order_number == "ORD-000123"
    assert reply.header.rx_reference_number == "RX-1000017"
    assert reply.header.sent_time == SENT
    assert reply.body == CancelRxResponse(approved=True, note="Not yet filled.")


def test_a_denied_cancel_response_round_trips():
    cancel = script.parse(fixture("cancelrx.xml"))

    xml = script.cancel_rx_response(
        cancel,
        approved=False,
        reason_code="AH",
        reason_text="Patient has picked up the prescription.",
        message_id="RXD-CXR-2",
        sent_time=SENT,
    )

    assert script.parse(xml).body == CancelRxResponse(
        approved=False, reason_code="AH", reason_text="Patient has picked up the prescription."
    )


def test_a_cancel_response_needs_a_cancel_and_a_reason_to_deny():
    cancel = script.parse(fixture("cancelrx.xml"))
    with pytest.raises(ScriptError) as not_cancel:
        script.cancel_rx_response(
            script.parse(REFERENCE), approved=True, message_id="X", sent_time=SENT
        )
    with pytest.raises(ScriptError) as no_reason:
        script.cancel_rx_response(cancel, approved=False, message_id="X", sent_time=SENT)

    assert not_cancel.value.message == "A CancelRxResponse answers a CancelRx, not a NewRx."
    assert no_reason.value.field == "Response.Denied.ReasonCode"


def test_the_cancel_response_is_a_script_2017071_envelope():
    xml = script.cancel_rx_response(
        script.parse(fixture("cancelrx.xml")), approved=True, message_id="R", sent_time=SENT
    )
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<Message DatatypesVersion")
    for attr in script._ROOT_ATTRS:
        assert f'{attr}="'.encode() in xml
    assert b'TransactionDomain="SCRIPT"' in xml
    assert b"<SentTime>2025-03-16T10:00:00.0Z</SentTime>" in xml


def test_a_renewal_request_round_trips():
    # given the last fill of the reference prescription
    rx = script.parse(REFERENCE).new_rx
    dispensed = dataclasses.replace(
        rx.medication, refills=0, last_fill_date=dt.date(2025, 8, 10), diagnoses=()
    )

    xml = script.rx_renewal_request(
        to=Endpoint("D", "SPI0000000001"),
        message_id="RXD-RENEW-0003",
        sent_time=SENT,
        patient=rx.patient,
        pharmacy=rx.pharmacy,
        prescriber=rx.prescriber,
        dispensed=dispensed,
        prescribed=rx.medication,
        rx_reference_number="RX-1000017",
        prescriber_order_number="ORD-000123",
    )
    message = script.parse(xml)

    assert message.message_type is MessageType.RX_RENEWAL_REQUEST
    assert message.header.from_ == Endpoint("P", "9990001")
    assert message.header.rx_reference_number == "RX-1000017"
    assert message.body == RxRenewalRequest(
        patient=rx.patient,
        pharmacy=rx.pharmacy,
        prescriber=rx.prescriber,
        dispensed=dispensed,
        prescribed=rx.medication,
    )


def test_a_newrx_built_from_a_parsed_one_parses_to_the_same_values():
    original = script.parse(CII)
    rx = original.new_rx
    medication = dataclasses.replace(
        rx.medication, sig=dataclasses.replace(rx.medication.sig, structured=None)
    )

    xml = script.new_rx(
        to=original.header.to,
        from_=original.header.from_,
        message_id="RXD-TEST-CII-0002",
        sent_time=SENT,
        patient=rx.patient,
        pharmacy=rx.pharmacy,
        prescriber=rx.prescriber,
        medication=medication,
        prescriber_order_number="PON-55501",
    )

    assert script.parse(xml).body == NewRx(rx.patient, rx.pharmacy, rx.prescriber, medication)


def test_status_error_and_verify_answer_the_message_they_name():
    head = script.parse(REFERENCE).header

    ok = script.parse(script.status(in_reply_to=head, message_id="S1", sent_time=SENT))
    long_reason = "Prescriber NPI: " + "An NPI starts with 1 (a person) or 2 (an organization)."
    bad = script.parse(
        script.error(
            in_reply_to=head,
            message_id="E1",
            sent_time=SENT,
            code="900",
            description_code="1000",
            description=long_reason,
        )
    )
    seen = script.parse(script.verify(in_reply_to=head, message_id="V1", sent_time=SENT))

    assert ok.body == StatusReply(code="010")
    assert bad.body == ErrorReply(
        code="900",
        description_code="1000",
        description=long_reason[:70],  # older versions allow 70 characters
    )
    assert isinstance(bad.body, ErrorReply) and bad.body.retry is False
    assert seen.body == VerifyReply(code="010")
    for reply in (ok, bad, seen):
        assert reply.header.relates_to_message_id == "MSG-20250315-0001"
        assert reply.header.to == Endpoint("D", "SPI0000000001")
        assert reply.header.from_ == Endpoint("P", "9990001")


def test_an_error_reply_can_be_built_from_a_refused_message_header():
    # given a NewRx whose quantity is missing: parse fails but keeps the header
    error = refused(reference_with("<Value>30</Value>", ""))
    assert error.header is not None

    # when the inbox answers
    reply = script.parse(
        script.error(
            in_reply_to=error.header,
            message_id="E2",
            sent_time=SENT,
            description=error.message,
        )
    )

    assert reply.header.relates_to_message_id == "MSG-20250315-0001"
    assert reply.body == ErrorReply(
        code="900", description="The message has no MedicationPrescribed.Quantity.Value."
    )


@pytest.mark.parametrize("code", ["600", "602"])
def test_transient_errors_are_worth_retrying(code):
    assert ErrorReply(code=code).retry is True


def test_builders_refuse_text_that_cannot_be_xml_and_naive_times():
    head = script.parse(REFERENCE).header
    with pytest.raises(ScriptError) as bad_text:
        script.status(in_reply_to=head, message_id="S1", sent_time=SENT, description="a\x00b")
    with pytest.raises(ScriptError) as naive:
        script.status(in_reply_to=head, message_id="S1", sent_time=dt.datetime(2025, 1, 1))
    with pytest.raises(ScriptError) as no_id:
        script.status(in_reply_to=head, message_id=" ", sent_time=SENT)

    assert bad_text.value.field == "Description"
    assert naive.value.field == "Header.SentTime"
    assert no_id.value.field == "Header.MessageID"


def test_the_same_bytes_give_the_same_message_id_for_idempotent_receipt():
    assert script.parse(REFERENCE).message_id == script.parse(REFERENCE).message_id
    assert script.parse(CII).message_id == "RXD-TEST-CII-0001"


# ---------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_nothing_but_script_error(data):
    with contextlib.suppress(ScriptError):
        script.parse(data)


@FAST
@given(st.text(max_size=2000))
def test_arbitrary_text_raises_nothing_but_script_error(text):
    with contextlib.suppress(ScriptError):
        script.parse(text)


@FAST
@given(st.integers(0, len(REFERENCE) - 1), st.integers(0, 40), st.binary(max_size=20))
def test_a_damaged_newrx_raises_nothing_but_script_error(at, cut, insert):
    data = REFERENCE[:at] + insert + REFERENCE[at + cut :]
    try:
        message = script.parse(data)
    except ScriptError:
        return
    script.problems(message, today=TODAY)


_VALUES = [m.span(1) for m in re.finditer(rb">([^<>\s][^<>]*)</", REFERENCE)]


@FAST
@given(st.sampled_from(_VALUES), st.text(max_size=40))
def test_any_value_in_any_element_raises_nothing_but_script_error(span, value):
    # given the reference NewRx with one element's text replaced by anything
    start, end = span
    data = REFERENCE[:start] + xml_escape(value).encode("utf-8", "replace") + REFERENCE[end:]
    try:
        message = script.parse(data)
    except ScriptError as exc:
        assert exc.field is None or exc.header is not None or exc.field.startswith("Header")
        return
    script.problems(message, today=TODAY)


_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=30,
)


@FAST
@given(
    last=_TEXT,
    first=_TEXT,
    quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("9999"), places=3),
    days=st.integers(1, 365),
    refills=st.integers(0, 99),
    sig=_TEXT,
)
def test_a_built_newrx_always_parses_back(last, first, quantity, days, refills, sig):
    rx = script.parse(REFERENCE).new_rx
    patient = dataclasses.replace(rx.patient, name=Name(last=last, first=first))
    medication = dataclasses.replace(
        rx.medication,
        quantity=dataclasses.replace(rx.medication.quantity, value=quantity),
        days_supply=days,
        refills=refills,
        sig=script.Sig(text=sig),
    )

    xml = script.new_rx(
        to=Endpoint("P", "9990001"),
        from_=Endpoint("D", "SPI1"),
        message_id="M1",
        sent_time=SENT,
        patient=patient,
        pharmacy=rx.pharmacy,
        prescriber=rx.prescriber,
        medication=medication,
    )
    back = script.parse(xml).new_rx

    assert back.patient.name == Name(last=last.strip(), first=first.strip())
    assert back.medication.quantity.value == quantity
    assert back.medication.days_supply == days
    assert back.medication.refills == refills
    assert back.medication.sig.text == sig.strip()
