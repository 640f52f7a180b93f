"""NCPDP D.0 codec: number encoding, the reference's synthetic messages, malformed input and
round trips.

Expected values come from the team reference ``messages-ncpdp-hl7-fhir.md`` §1 (1.7 number
encoding, 1.13 synthetic B1, 1.14 synthetic responses); the messages are fake data.
"""

from __future__ import annotations

import datetime as dt
import string
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.claims import ncpdp
from rxdesk.claims.ncpdp import (
    FieldKind,
    HeaderStatus,
    NcpdpError,
    Request,
    RequestHeader,
    Response,
    ResponseHeader,
    ResponseTransaction,
    Segment,
    SegmentCode,
    Transaction,
    TransactionCode,
    TransactionStatus,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    implied_decimal_decode,
    implied_decimal_encode,
    overpunch_decode,
    overpunch_encode,
)

RS, FS, GS = "\x1e", "\x1c", "\x1d"


def seg(*fields: str) -> str:
    """A segment as the reference writes it: <RS><FS>AMxx<FS>id+value..."""
    return RS + FS + FS.join(fields)


# --------------------------------------------------------------------------------------
# The reference's synthetic messages (1.13, 1.14), byte for byte

B1_HEADER = (
    "999999" + "D0" + "B1" + "TESTPCN   " + "1" + "01" + "1234567893     " + "20250315"
) + "CERT000001"
B1 = (
    B1_HEADER
    + seg("AM04", "C2ZZQ900112233", "C1GRP0042", "C301", "C61")
    + seg("AM01", "C419800704", "C52", "CAJANE", "CBTESTPATIENT", "CP85001", "C701", "4X1")
    + GS
    + seg(
        "AM07",
        "EM1",
        "D2000000123456",
        "E103",
        "D712345678901",
        "E730000",
        "D300",
        "D530",
        "D61",
        "D80",
        "DE20250310",
        "DF05",
        "DJ1",
        "C81",
    )
    + seg("AM03", "EZ01", "DB9876543213", "DRTESTDOCTOR")
    + seg("AM11", "D9125{", "DC17E", "DQ189I", "DU142E", "DN01")
).encode("ascii")

RESPONSE_HEADER = "D0B11A011234567893     20250315"
PAID = (
    RESPONSE_HEADER
    + seg("AM20", "F4THANK YOU")
    + GS
    + seg("AM21", "ANP", "F3PA0000000001")
    + seg("AM22", "EM1", "D2000000123456")
    + seg("AM23", "F5100{", "F6125{", "F717E", "FI100{", "F942E", "FM1")
).encode("ascii")
REJECTED = (
    RESPONSE_HEADER
    + GS
    + seg("AM21", "ANR", "FA2", "FB79", "FB88", "UF1", "UH01", "FQNEXT FILL 20250405")
    + seg("AM22", "EM1", "D2000000123456")
    + seg("AM24", "J61", "E4ER", "FS1", "FT0", "FU20250301", "FV30000")
).encode("ascii")

B1_EXPECTED = Request(
    RequestHeader(
        bin="999999",
        transaction_code=TransactionCode.BILLING,
        pcn="TESTPCN",
        service_provider_id_qualifier="01",
        service_provider_id="1234567893",
        date_of_service=dt.date(2025, 3, 15),
        software_vendor_id="CERT000001",
    ),
    (
        Segment(
            SegmentCode.INSURANCE,
            (("C2", "ZZQ900112233"), ("C1", "GRP0042"), ("C3", "01"), ("C6", "1")),
        ),
        Segment(
            SegmentCode.PATIENT,
            (
                ("C4", "19800704"),
                ("C5", "2"),
                ("CA", "JANE"),
                ("CB", "TESTPATIENT"),
                ("CP", "85001"),
                ("C7", "01"),
                ("4X", "1"),
            ),
        ),
    ),
    (
        Transaction(
            (
                Segment(
                    SegmentCode.CLAIM,
                    (
                        ("EM", "1"),
                        ("D2", "000000123456"),
                        ("E1", "03"),
                        ("D7", "12345678901"),
                        ("E7", Decimal("30.000")),
                        ("D3", "00"),
                        ("D5", "30"),
                        ("D6", "1"),
                        ("D8", "0"),
                        ("DE", "20250310"),
                        ("DF", "05"),
                        ("DJ", "1"),
                        ("C8", "1"),
                    ),
                ),
                Segment(
                    SegmentCode.PRESCRIBER,
                    (("EZ", "01"), ("DB", "9876543213"), ("DR", "TESTDOCTOR")),
                ),
                Segment(
                    SegmentCode.PRICING,
                    (
                        ("D9", Decimal("12.50")),
                        ("DC", Decimal("1.75")),
                        ("DQ", Decimal("18.99")),
                        ("DU", Decimal("14.25")),
                        ("DN", "01"),
                    ),
                ),
            )
        ),
    ),
)


def test_it_reads_the_reference_b1_field_by_field():
    request = decode_request(B1)

    assert request == B1_EXPECTED
    claim = request.transactions[0].segment(SegmentCode.CLAIM)
    assert claim is not None
    assert claim["D2"] == "000000123456"
    assert claim["D7"] == "12345678901"
    assert claim["E7"] == Decimal("30.000")
    pricing = request.transactions[0].segment(SegmentCode.PRICING)
    assert pricing is not None
    assert [pricing[f] for f in ("D9", "DC", "DQ", "DU")] == [
        Decimal("12.50"),
        Decimal("1.75"),
        Decimal("18.99"),
        Decimal("14.25"),
    ]


def test_it_writes_the_reference_b1_byte_for_byte():
    data = encode_request(B1_EXPECTED)

    assert data == B1
    assert len(data) == 325  # "Whole message 325 bytes" (1.13)
    assert data[:56] == B1_HEADER.encode("ascii")


def test_it_reads_the_reference_paid_response():
    response = decode_response(PAID)

    assert response == Response(
        ResponseHeader(
            transaction_code=TransactionCode.BILLING,
            transaction_count=1,
            status=HeaderStatus.ACCEPTED,
            service_provider_id_qualifier="01",
            service_provider_id="1234567893",
            date_of_service=dt.date(2025, 3, 15),
        ),
        (Segment(SegmentCode.RESPONSE_MESSAGE, (("F4", "THANK YOU"),)),),
        (
            ResponseTransaction(
                (
                    Segment(SegmentCode.RESPONSE_STATUS, (("AN", "P"), ("F3", "PA0000000001"))),
                    Segment(SegmentCode.RESPONSE_CLAIM, (("EM", "1"), ("D2", "000000123456"))),
                    Segment(
                        SegmentCode.RESPONSE_PRICING,
                        (
                            ("F5", Decimal("10.00")),
                            ("F6", Decimal("12.50")),
                            ("F7", Decimal("1.75")),
                            ("FI", Decimal("10.00")),
                            ("F9", Decimal("4.25")),
                            ("FM", "1"),
                        ),
                    ),
                )
            ),
        ),
    )
    claim = response.transactions[0]
    assert claim.status == TransactionStatus.PAID
    assert claim.is_paid is True
    assert claim.is_rejected is False
    assert claim.reject_codes == ()
    assert claim.authorization_number == "PA0000000001"
    assert claim.patient_pay_amount == Decimal("10.00")
    assert claim.total_amount_paid == Decimal("4.25")
    # ingredient $12.50 + fee $1.75 - patient pay $10.00 = plan pays $4.25 (1.14)
    pricing = claim.segment(SegmentCode.RESPONSE_PRICING)
    assert pricing is not None
    assert pricing["F6"] + pricing["F7"] - pricing["F5"] == pricing["F9"]  # type: ignore[operator]
    assert encode_response(response) == PAID


def test_it_reads_the_reference_rejected_response():
    response = decode_response(REJECTED)

    assert response.header.status is HeaderStatus.ACCEPTED
    assert response.segments == ()
    claim = response.transactions[0]
    assert claim.segments == (
        Segment(
            SegmentCode.RESPONSE_STATUS,
            (
                ("AN", "R"),
                ("FA", "2"),
                ("FB", "79"),
                ("FB", "88"),
                ("UF", "1"),
                ("UH", "01"),
                ("FQ", "NEXT FILL 20250405"),
            ),
        ),
        Segment(SegmentCode.RESPONSE_CLAIM, (("EM", "1"), ("D2", "000000123456"))),
        Segment(
            SegmentCode.RESPONSE_DUR_PPS,
            (
                ("J6", "1"),
                ("E4", "ER"),
                ("FS", "1"),
                ("FT", "0"),
                ("FU", "20250301"),
                ("FV", Decimal("30.000")),
            ),
        ),
    )
    assert claim.status == TransactionStatus.REJECTED
    assert claim.reject_codes == ("79", "88")
    assert claim.is_rejected is True
    assert claim.is_paid is False
    assert claim.patient_pay_amount is None
    assert encode_response(response) == REJECTED


def test_it_treats_a_paid_status_with_a_reject_code_as_not_paid():
    # Fail-safe rule (1.6): any 511-FB reject code means rejected.
    claim = ResponseTransaction(
        (Segment(SegmentCode.RESPONSE_STATUS, (("AN", "P"), ("FA", "1"), ("FB", "75"))),)
    )

    assert claim.is_paid is False
    assert claim.is_rejected is True


def test_it_treats_an_unknown_or_missing_status_as_not_paid():
    assert ResponseTransaction((Segment(SegmentCode.RESPONSE_STATUS, (("AN", "X"),)),)).is_paid is (
        False
    )
    assert ResponseTransaction((Segment(SegmentCode.RESPONSE_STATUS),)).is_paid is False


# --------------------------------------------------------------------------------------
# Numbers (1.7)


@pytest.mark.parametrize(
    ("amount", "wire"),
    [
        ("12.50", "125{"),
        ("1.75", "17E"),
        ("18.99", "189I"),
        ("14.25", "142E"),
        ("0.00", "{"),
        ("-3.50", "35}"),
        ("-0.01", "J"),
        ("1000.00", "10000{"),
    ],
)
def test_it_writes_and_reads_the_reference_overpunch_examples(amount, wire):
    assert overpunch_encode(Decimal(amount)) == wire
    assert overpunch_decode(wire) == Decimal(amount)
    assert str(overpunch_decode(wire)) == amount


@pytest.mark.parametrize("digit", range(10))
def test_it_maps_every_last_digit_to_its_overpunch_character(digit):
    positive, negative = "{ABCDEFGHI"[digit], "}JKLMNOPQR"[digit]

    assert overpunch_encode(Decimal(f"0.1{digit}")) == "1" + positive
    assert overpunch_encode(Decimal(f"-0.1{digit}")) == "1" + negative
    assert overpunch_decode("1" + positive) == Decimal(f"0.1{digit}")
    assert overpunch_decode("1" + negative) == Decimal(f"-0.1{digit}")


def test_it_reads_overpunch_with_leading_zeros_and_plain_digits():
    assert overpunch_decode("0000125{") == Decimal("12.50")
    assert overpunch_decode("1250") == Decimal("12.50")  # unsigned digits read as positive
    assert overpunch_decode("0") == Decimal("0.00")


def test_it_reads_a_negative_zero_as_zero():
    value = overpunch_decode("}")

    assert value == 0
    assert str(value) == "0.00"


def test_it_writes_the_same_amount_however_the_decimal_is_scaled():
    assert overpunch_encode(Decimal("12.5")) == "125{"
    assert overpunch_encode(Decimal("12.500")) == "125{"
    assert overpunch_encode(Decimal("12")) == "120{"
    assert overpunch_encode(Decimal("1.2E+3")) == "12000{"
    assert overpunch_encode(Decimal("-0")) == "{"


def test_it_honours_other_implied_decimal_counts():
    assert overpunch_encode(Decimal("0.0825"), decimals=4) == "82E"
    assert overpunch_decode("82E", decimals=4) == Decimal("0.0825")
    assert overpunch_encode(Decimal("-7"), decimals=0) == "P"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (Decimal("12.505"), "amount 12.505 has more than 2 decimal places"),
        (Decimal("NaN"), "amount NaN is not a finite number"),
        (Decimal("Infinity"), "amount Infinity is not a finite number"),
        (Decimal("1E+40"), "amount 1E+40 is too large"),
        (12.5, "amount must be a Decimal, not float"),
    ],
)
def test_it_refuses_an_amount_it_cannot_write_exactly(amount, message):
    with pytest.raises(NcpdpError) as caught:
        overpunch_encode(amount)

    assert str(caught.value) == message


@pytest.mark.parametrize("wire", ["", "12.50", "ABC", "{{", "1 2{", "-125{", "½{", "１2{"])
def test_it_refuses_money_that_is_not_overpunch(wire):
    with pytest.raises(NcpdpError, match="is not a signed-overpunch amount"):
        overpunch_decode(wire)


@given(
    st.decimals(
        min_value=Decimal("-9999999999.99"),
        max_value=Decimal("9999999999.99"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_overpunch_round_trips_any_amount(amount):
    wire = overpunch_encode(amount)

    assert overpunch_decode(wire) == amount
    assert wire[:-1].isdigit() or wire[:-1] == ""
    assert wire[-1] in ("}JKLMNOPQR" if amount < 0 else "{ABCDEFGHI")


def test_it_writes_and_reads_quantities_with_three_implied_decimals():
    # 442-E7 9(7)v999: 30 tabs = 30000; 2.5 mL = 2500 (1.5)
    assert implied_decimal_encode(Decimal("30")) == "30000"
    assert implied_decimal_encode(Decimal("2.5")) == "2500"
    assert implied_decimal_encode(Decimal("0")) == "0"
    assert implied_decimal_decode("30000") == Decimal("30.000")
    assert implied_decimal_decode("2500") == Decimal("2.5")
    assert implied_decimal_decode("0000030000") == Decimal("30")


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (Decimal("-1"), "quantity -1 is negative; quantities are unsigned"),
        (Decimal("1.0005"), "quantity 1.0005 has more than 3 decimal places"),
    ],
)
def test_it_refuses_a_quantity_it_cannot_write(quantity, message):
    with pytest.raises(NcpdpError) as caught:
        implied_decimal_encode(quantity)

    assert str(caught.value) == message


@pytest.mark.parametrize("wire", ["", "30.0", "-1", "3O", "３0"])
def test_it_refuses_a_quantity_that_is_not_digits(wire):
    with pytest.raises(NcpdpError, match="is not a quantity"):
        implied_decimal_decode(wire)


@given(st.integers(0, 9_999_999_999))
def test_quantities_round_trip(units):
    quantity = Decimal(units).scaleb(-3)

    assert implied_decimal_decode(implied_decimal_encode(quantity)) == quantity


def test_field_table_kinds_and_limits_follow_the_reference():
    assert ncpdp.FIELDS["D9"].kind is FieldKind.MONEY
    assert ncpdp.FIELDS["F5"].kind is FieldKind.MONEY
    assert ncpdp.FIELDS["E7"] == ncpdp.FieldSpec("Quantity Dispensed", FieldKind.QUANTITY, 10)
    assert ncpdp.FIELDS["D2"].max_length == 12
    assert ncpdp.FIELDS["D5"].max_length == 3
    assert ncpdp.FIELDS["C8"].max_length == 2
    assert ncpdp.FIELDS["DE"].max_length == 8
    assert ncpdp.FIELDS["C2"] == ncpdp.FieldSpec("Cardholder ID", FieldKind.TEXT, 0)
    assert "AM" not in ncpdp.FIELDS


# --------------------------------------------------------------------------------------
# Malformed messages: clear errors naming segment and field


def error_of(decode, data: bytes) -> NcpdpError:
    with pytest.raises(NcpdpError) as caught:
        decode(data)
    assert isinstance(caught.value, ValueError)
    return caught.value


def test_it_says_a_response_shorter_than_its_header_was_cut_short():
    error = error_of(decode_response, PAID[:20])

    assert (error.segment, error.field) == ("header", None)
    assert str(error) == (
        "header: the message is 20 bytes; a response header alone is 31 (message cut short?)"
    )


def test_it_says_a_response_cut_before_its_transaction_group_was_cut_short():
    cut = PAID[: PAID.index(b"\x1d")]

    error = error_of(decode_response, cut)

    assert (error.segment, error.field) == ("header", "A9")
    assert str(error) == (
        "header, field A9 (Transaction Count): the header counts 1 transaction(s) but 0 "
        "transaction group(s) follow (message cut short?)"
    )


def test_it_says_a_response_cut_right_after_the_group_separator_was_cut_short():
    cut = PAID[: PAID.index(b"\x1d") + 1]

    error = error_of(decode_response, cut)

    assert (error.segment, error.field) == ("AM21", None)
    assert str(error) == (
        "segment AM21 (Response Status): transaction 1 has no Response Status segment "
        "(message cut short?)"
    )


@pytest.mark.parametrize(
    ("cut", "segment", "field", "message"),
    [
        (b"\x1e", None, None, "empty segment (message cut short?)"),
        (b"\x1e\x1c", None, "AM", "'' stands where a segment id (AM + two digits) should"),
        (b"\x1e\x1cAM2", None, "AM", "'AM2' stands where a segment id (AM + two digits) should"),
        (b"\x1e\x1cAM23\x1c", "AM23", None, "empty field (message cut short?)"),
        (b"\x1e\x1cAM23\x1cF", "AM23", None, "'F' is not a field id (two characters, 0-9 or A-Z)"),
        (b"\x1e\x1cAM23\x1cF5", "AM23", "F5", "'' is not a signed-overpunch amount"),
    ],
)
def test_it_names_where_a_response_was_cut(cut, segment, field, message):
    data = PAID + cut

    error = error_of(decode_response, data)

    assert (error.segment, error.field) == (segment, field)
    assert message in str(error)


def test_it_refuses_an_accepted_response_with_fewer_groups_than_its_count():
    data = b"D0B12A" + PAID[6:]

    error = error_of(decode_response, data)

    assert (error.segment, error.field) == ("header", "A9")
    assert "counts 2 transaction(s) but 1 transaction group(s)" in str(error)


def test_it_accepts_a_transmission_rejection_without_groups():
    data = b"D0B11R011234567893     20250315" + seg("AM20", "F4UNKNOWN BIN").encode()

    response = decode_response(data)

    assert response.header.status is HeaderStatus.REJECTED
    assert response.transactions == ()
    assert response.segment(SegmentCode.RESPONSE_MESSAGE) == Segment(
        SegmentCode.RESPONSE_MESSAGE, (("F4", "UNKNOWN BIN"),)
    )


@pytest.mark.parametrize(
    ("decode", "data", "segment", "message"),
    [
        (decode_response, PAID.replace(b"AM22", b"AM99"), "AM99", "unknown segment id"),
        (decode_response, PAID.replace(b"AM22", b"AM17"), "AM17", "unknown segment id"),
        (
            decode_response,
            PAID.replace(b"AM22", b"AM07"),
            "AM07",
            "a request segment cannot stand in a response",
        ),
        (
            decode_response,
            PAID.replace(b"AM20", b"AM23"),
            "AM23",
            "this segment does not belong before the first group",
        ),
        (
            decode_response,
            PAID.replace(b"AM22", b"AM29"),
            "AM29",
            "this segment does not belong in a transaction group",
        ),
        (decode_request, B1.replace(b"AM03", b"AM00"), "AM00", "unknown segment id"),
        (
            decode_request,
            B1.replace(b"AM03", b"AM21"),
            "AM21",
            "a response segment cannot stand in a request",
        ),
        (
            decode_request,
            B1.replace(b"AM01", b"AM07"),
            "AM07",
            "this segment does not belong before the first group",
        ),
    ],
)
def test_it_refuses_an_unknown_or_misplaced_segment(decode, data, segment, message):
    error = error_of(decode, data)

    assert (error.segment, error.field) == (segment, None)
    assert str(error).endswith(": " + message)


def test_it_refuses_a_field_too_long_when_reading():
    data = B1.replace(b"D2000000123456", b"D20000001234567")

    error = error_of(decode_request, data)

    assert (error.segment, error.field) == ("AM07", "D2")
    assert str(error) == (
        "segment AM07 (Claim), field D2 (Prescription/Service Reference Number): "
        "'0000001234567' is 13 characters; at most 12 allowed"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("D2", "1234567890123"),
        ("D5", "1000"),
        ("C8", "001"),
        ("DE", "202503101"),
    ],
)
def test_it_refuses_a_field_too_long_when_writing(field, value):
    claim = Segment(SegmentCode.CLAIM, ((field, value),))
    request = Request(B1_EXPECTED.header, B1_EXPECTED.segments, (Transaction((claim,)),))

    with pytest.raises(NcpdpError) as caught:
        encode_request(request)

    assert (caught.value.segment, caught.value.field) == ("AM07", field)
    assert "characters; at most" in str(caught.value)


def test_it_refuses_a_quantity_too_long_when_writing():
    claim = Segment(SegmentCode.CLAIM, (("E7", Decimal("10000000")),))  # 9(7)v999 holds 9999999.999
    request = Request(B1_EXPECTED.header, (), (Transaction((claim,)),))

    with pytest.raises(NcpdpError) as caught:
        encode_request(request)

    assert (caught.value.segment, caught.value.field) == ("AM07", "E7")
    assert str(caught.value) == (
        "segment AM07 (Claim), field E7 (Quantity Dispensed): "
        "'10000000000' is 11 characters; at most 10 allowed"
    )


@pytest.mark.parametrize(
    ("before", "after", "field"),
    [
        (b"F5100{", b"F512.50", "F5"),
        (b"F942E", b"F9", "F9"),
        (b"F6125{", b"F6$12.50", "F6"),
        (b"F717E", b"F71E7", "F7"),
    ],
)
def test_it_refuses_a_money_field_that_is_not_overpunch(before, after, field):
    error = error_of(decode_response, PAID.replace(before, after))

    assert (error.segment, error.field) == ("AM23", field)
    assert "is not a signed-overpunch amount" in str(error)
    assert str(error).startswith(f"segment AM23 (Response Pricing), field {field} (")


def test_it_refuses_a_quantity_field_that_is_not_digits():
    error = error_of(decode_request, B1.replace(b"E730000", b"E730.000"))

    assert (error.segment, error.field) == ("AM07", "E7")
    assert str(error) == (
        "segment AM07 (Claim), field E7 (Quantity Dispensed): "
        "'30.000' is not a quantity (digits only, 3 implied decimals)"
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (B1[:40], None, "the message is 40 bytes; a request header alone is 56"),
        (b"999999D1" + B1[8:], "A2", "version 'D1'; this codec reads D0 only"),
        (PAID, "A2", "this is a response, not a request"),
        (b"999999D0N1" + B1[10:], "A3", "'N1' is not a supported transaction code"),
        (B1[:20] + b"0" + B1[21:], "A9", "'0' is not a transaction count 1-4"),
        (B1[:20] + b"2" + B1[21:], "A9", "the header counts 2 transaction(s) but 1"),
        (B1[:38] + b"20251345" + B1[46:], "D1", "'20251345' is not a date (CCYYMMDD)"),
        (B1[:38] + b"2025-3-1" + B1[46:], "D1", "'2025-3-1' is not a date (CCYYMMDD)"),
        (B1[:30] + b"\x1e" + B1[31:], None, "non-printable byte 0x1E at offset 30"),
        (B1[:30] + b"\xe9" + B1[31:], None, "non-printable byte 0xE9 at offset 30"),
    ],
)
def test_it_refuses_a_bad_request_header(data, field, message):
    error = error_of(decode_request, data)

    assert (error.segment, error.field) == ("header", field)
    assert message in str(error)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (b"D1" + PAID[2:], "A2", "version 'D1'; this codec reads D0 only"),
        (B1, "A2", "version '99'; this codec reads D0 only"),
        (b"D0P1" + PAID[4:], "A3", "'P1' is not a supported transaction code"),
        (b"D0B1X" + PAID[5:], "A9", "'X' is not a transaction count"),
        (b"D0B10" + PAID[5:], "A9", "a B1 response counts 1 to 4 transactions, not 0"),
        (b"D0E12" + PAID[5:], "A9", "an E1 response counts 1 to 1 transactions, not 2"),
        (b"D0B11X" + PAID[6:], "F1", "'X' is not A or R"),
        (PAID[:23] + b"20250230" + PAID[31:], "D1", "'20250230' is not a date (CCYYMMDD)"),
    ],
)
def test_it_refuses_a_bad_response_header(data, field, message):
    error = error_of(decode_response, data)

    assert (error.segment, error.field) == ("header", field)
    assert message in str(error)


@pytest.mark.parametrize(
    ("body", "segment", "field", "message"),
    [
        ("AM20\x1cF4HELLO", None, None, "'AM20\\x1cF4HELLO' stands where a segment separator"),
        ("\x1eAM20\x1cF4HELLO", None, None, "does not start with a field separator (0x1C)"),
        ("\x1e\x1cAM20F4HELLO", None, "AM", "'AM20F4HELLO' stands where a segment id"),
        ("\x1e\x1cAM20\x1cF4HELLO\x1cAM21", "AM20", "AM", "the segment id AM may only open"),
    ],
)
def test_it_refuses_a_body_without_its_separators(body, segment, field, message):
    data = RESPONSE_HEADER.encode() + body.encode()

    error = error_of(decode_response, data.replace(b"D0B11A", b"D0B11R"))

    assert (error.segment, error.field) == (segment, field)
    assert message in str(error)


def test_it_refuses_a_request_whose_group_has_no_claim():
    data = B1.split(b"\x1d")[0] + b"\x1d" + seg("AM03", "EZ01").encode("ascii")

    error = error_of(decode_request, data)

    assert (error.segment, error.field) == ("AM07", None)
    assert str(error) == "segment AM07 (Claim): transaction 1 of a B1 has no Claim segment"


def test_it_refuses_an_eligibility_check_with_a_claim_segment():
    data = b"999999D0E1" + B1[10:]

    error = error_of(decode_request, data)

    assert str(error) == "segment AM07 (Claim): an E1 eligibility check has no Claim segment"


def test_it_reads_an_eligibility_check_without_transaction_segments():
    data = b"999999D0E1" + B1[10:].split(b"\x1d")[0] + b"\x1d"

    request = decode_request(data)

    assert request.header.transaction_code is TransactionCode.ELIGIBILITY
    assert request.transactions == (Transaction(()),)
    assert encode_request(request) == data


def test_it_refuses_five_claims_in_one_transmission():
    request = Request(B1_EXPECTED.header, (), B1_EXPECTED.transactions * 5)

    with pytest.raises(NcpdpError) as caught:
        encode_request(request)

    assert (caught.value.segment, caught.value.field) == ("header", "A9")
    assert str(caught.value) == (
        "header, field A9 (Transaction Count): a B1 carries 1 to 4 transactions, not 5"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("JANE\x1cSMITH", "contains the separator byte 0x1C"),
        ("JANE\x1eSMITH", "contains the separator byte 0x1E"),
        ("JANE\x1d", "contains the separator byte 0x1D"),
        ("ŁUKASZ", "character 'Ł' cannot be sent (Latin-1 only)"),
    ],
)
def test_it_refuses_to_write_a_value_that_would_break_the_framing(value, message):
    patient = Segment(SegmentCode.PATIENT, (("CA", value),))
    request = Request(B1_EXPECTED.header, (patient,), B1_EXPECTED.transactions)

    with pytest.raises(NcpdpError) as caught:
        encode_request(request)

    assert (caught.value.segment, caught.value.field) == ("AM01", "CA")
    assert str(caught.value) == f"segment AM01 (Patient), field CA (Patient First Name): {message}"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ((("D9", "12.50"),), "D9", "must be a Decimal, not str"),
        ((("D9", Decimal("12.505")),), "D9", "amount 12.505 has more than 2 decimal places"),
        ((("DN", Decimal(1)),), "DN", "must be text, not Decimal"),
        ((("AM", "11"),), "AM", "the segment id AM may only open a segment"),
        ((("d9", "x"),), None, "'d9' is not a field id"),
        ((("D9X", "x"),), None, "'D9X' is not a field id"),
    ],
)
def test_it_refuses_to_write_a_bad_field(fields, field, message):
    pricing = Segment(SegmentCode.PRICING, fields)
    claim = B1_EXPECTED.transactions[0].segments[0]
    request = Request(B1_EXPECTED.header, (), (Transaction((claim, pricing)),))

    with pytest.raises(NcpdpError) as caught:
        encode_request(request)

    assert (caught.value.segment, caught.value.field) == ("AM11", field)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"bin": "1234567"}, "A1", "'1234567' is 7 characters; the header holds 6"),
        ({"pcn": "PCN\x1c"}, "A4", "has characters other than printable ASCII"),
        ({"service_provider_id": "1" * 16}, "B1", "is 16 characters; the header holds 15"),
        ({"software_vendor_id": None}, "AK", "must be text, not NoneType"),
        ({"date_of_service": "20250315"}, "D1", "must be a date"),
        ({"date_of_service": dt.datetime(2025, 3, 15)}, "D1", "must be a date"),
        ({"transaction_code": "N1"}, "A3", "'N1' is not a supported transaction code"),
    ],
)
def test_it_refuses_to_write_a_bad_request_header(change, field, message):
    fields = {
        name: getattr(B1_EXPECTED.header, name)
        for name in (
            "bin",
            "transaction_code",
            "pcn",
            "service_provider_id",
            "date_of_service",
            "service_provider_id_qualifier",
            "software_vendor_id",
        )
    }
    header = RequestHeader(**{**fields, **change})

    with pytest.raises(NcpdpError) as caught:
        encode_request(Request(header, B1_EXPECTED.segments, B1_EXPECTED.transactions))

    assert (caught.value.segment, caught.value.field) == ("header", field)
    assert message in str(caught.value)


def test_it_refuses_input_that_is_not_bytes():
    with pytest.raises(NcpdpError, match=r"a D\.0 message is bytes, not str"):
        decode_response(PAID.decode())  # type: ignore[arg-type]


def test_the_error_is_a_domain_error_with_a_stable_code():
    error = error_of(decode_response, b"")

    assert error.code == "ncpdp_invalid"
    assert error.status == 422
    assert (
        error.reason == "the message is 0 bytes; a response header alone is 31 (message cut short?)"
    )


# --------------------------------------------------------------------------------------
# Round trips (hypothesis)

PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))

REQUEST_FIELDS: dict[SegmentCode, tuple[str, ...]] = {
    SegmentCode.INSURANCE: ("C2", "CC", "CD", "CE", "FO", "C9", "C1", "C3", "C6", "MG", "N5"),
    SegmentCode.PATIENT: ("CX", "CY", "C4", "C5", "CA", "CB", "CM", "CN", "CO", "CP", "4X"),
    SegmentCode.CLAIM: (
        *("EM", "D2", "E1", "D7", "E7", "D3", "D5", "D6", "D8", "DE", "DF", "DJ", "NX"),
        *("DK", "ET", "C8", "28", "EU", "EV", "HD", "U7"),
    ),
    SegmentCode.PHARMACY_PROVIDER: ("EY", "E9"),
    SegmentCode.PRESCRIBER: ("EZ", "DB", "DR", "2J", "2N", "PM"),
    SegmentCode.COORDINATION_OF_BENEFITS: ("4C", "5C", "6C", "7C", "E8", "HB", "HC", "DV", "NQ"),
    SegmentCode.DUR_PPS: ("7E", "E4", "E5", "E6", "8E"),
    SegmentCode.COUPON: ("KE", "ME", "NE"),
    SegmentCode.COMPOUND: ("EF", "EG", "EC", "RE", "TE", "ED", "EE", "UE"),
    SegmentCode.PRICING: ("D9", "DC", "BE", "DX", "E3", "H7", "H8", "H9", "DQ", "DU", "DN"),
    SegmentCode.CLINICAL: ("VE", "WE", "DO"),
}
RESPONSE_FIELDS: dict[SegmentCode, tuple[str, ...]] = {
    SegmentCode.RESPONSE_MESSAGE: ("F4",),
    SegmentCode.RESPONSE_STATUS: ("UF", "UH", "FQ", "7F", "8F", "K5", "A7"),
    SegmentCode.RESPONSE_CLAIM: ("EM", "D2", "9F", "AP", "AR", "AS", "AT", "AU"),
    SegmentCode.RESPONSE_PRICING: (
        *("F5", "F6", "F7", "F9", "FM", "FI", "4U", "FH", "FC", "FD", "FE", "FK", "FN"),
        *("J2", "J3", "J4", "UJ", "UK", "U8", "U9", "G3"),
    ),
    SegmentCode.RESPONSE_DUR_PPS: ("J6", "E4", "FS", "FT", "FU", "FV", "FW", "FX", "FY"),
    SegmentCode.RESPONSE_INSURANCE: ("C1", "FO", "2F", "J7", "J8", "C2"),
    SegmentCode.RESPONSE_PRIOR_AUTHORIZATION: ("PR", "PS", "PT", "RA", "RB", "PW", "PY"),
    SegmentCode.RESPONSE_INSURANCE_ADDITIONAL: ("UR", "UQ", "U1", "FF", "U6"),
    SegmentCode.RESPONSE_COORDINATION_OF_BENEFITS: ("NT", "5C", "6C", "7C", "MH", "UB"),
    SegmentCode.RESPONSE_PATIENT: ("CA", "CB", "C4"),
}
REJECT_CODES = ("07", "15", "25", "41", "70", "75", "76", "79", "88", "MR", "569", "R9")

money = st.decimals(
    min_value=Decimal("-99999999.99"),
    max_value=Decimal("99999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
quantities = st.integers(0, 9_999_999_999).map(lambda n: Decimal(n).scaleb(-3))


def values(field_id: str) -> st.SearchStrategy[ncpdp.FieldValue]:
    spec = ncpdp.FIELDS[field_id]
    if spec.kind is FieldKind.MONEY:
        return money
    if spec.kind is FieldKind.QUANTITY:
        return quantities
    return st.text(PRINTABLE, max_size=spec.max_length or 25)


def fields_of(ids: tuple[str, ...], max_size: int = 8):
    return st.lists(
        st.sampled_from(ids).flatmap(lambda fid: st.tuples(st.just(fid), values(fid))),
        max_size=max_size,
    ).map(tuple)


def segments(code: SegmentCode, table: dict[SegmentCode, tuple[str, ...]]):
    return fields_of(table[code]).map(lambda fields: Segment(code, fields))


def header_text(width: int):
    return st.text(PRINTABLE, max_size=width).map(lambda s: s.rstrip(" "))


@st.composite
def requests(draw, code: TransactionCode | None = None) -> Request:
    code = code or draw(st.sampled_from(TransactionCode))
    header = RequestHeader(
        bin=draw(st.text(string.digits, min_size=6, max_size=6)),
        transaction_code=code,
        pcn=draw(header_text(10)),
        service_provider_id_qualifier=draw(st.sampled_from(["01", "05", "07"])),
        service_provider_id=draw(header_text(15)),
        date_of_service=draw(st.dates()),
        software_vendor_id=draw(header_text(10)),
    )
    top = draw(
        st.lists(
            st.sampled_from([SegmentCode.INSURANCE, SegmentCode.PATIENT]).flatmap(
                lambda c: segments(c, REQUEST_FIELDS)
            ),
            max_size=2,
        )
    )
    companions = [
        SegmentCode.PHARMACY_PROVIDER,
        SegmentCode.PRESCRIBER,
        SegmentCode.COORDINATION_OF_BENEFITS,
        SegmentCode.DUR_PPS,
        SegmentCode.COUPON,
        SegmentCode.COMPOUND,
        SegmentCode.PRICING,
        SegmentCode.CLINICAL,
    ]
    count = 1 if code is TransactionCode.ELIGIBILITY else draw(st.integers(1, 4))
    transactions = []
    for _ in range(count):
        others = draw(
            st.lists(st.sampled_from(companions).flatmap(lambda c: segments(c, REQUEST_FIELDS)))
        )
        if code is not TransactionCode.ELIGIBILITY:
            others.insert(0, draw(segments(SegmentCode.CLAIM, REQUEST_FIELDS)))
        transactions.append(Transaction(tuple(others)))
    return Request(header, tuple(top), tuple(transactions))


@st.composite
def response_transactions(draw, outcome: str | None = None) -> ResponseTransaction:
    outcome = outcome or draw(st.sampled_from(TransactionStatus))
    status: list[tuple[str, ncpdp.FieldValue]] = [("AN", outcome)]
    if outcome == TransactionStatus.REJECTED:
        codes = draw(st.lists(st.sampled_from(REJECT_CODES), min_size=1, max_size=5))
        status += [("FA", str(len(codes))), *(("FB", c) for c in codes)]
    else:
        status.append(("F3", draw(st.text(string.ascii_uppercase + string.digits, max_size=12))))
    status += draw(fields_of(RESPONSE_FIELDS[SegmentCode.RESPONSE_STATUS], max_size=4))
    body = [Segment(SegmentCode.RESPONSE_STATUS, tuple(status))]
    body.append(draw(segments(SegmentCode.RESPONSE_CLAIM, RESPONSE_FIELDS)))
    if outcome in (TransactionStatus.PAID, TransactionStatus.DUPLICATE_OF_PAID):
        body.append(draw(segments(SegmentCode.RESPONSE_PRICING, RESPONSE_FIELDS)))
    if outcome == TransactionStatus.REJECTED:
        body.append(draw(segments(SegmentCode.RESPONSE_DUR_PPS, RESPONSE_FIELDS)))
    others = [
        SegmentCode.RESPONSE_PRIOR_AUTHORIZATION,
        SegmentCode.RESPONSE_INSURANCE_ADDITIONAL,
        SegmentCode.RESPONSE_COORDINATION_OF_BENEFITS,
    ]
    body += draw(
        st.lists(
            st.sampled_from(others).flatmap(lambda c: segments(c, RESPONSE_FIELDS)), max_size=2
        )
    )
    return ResponseTransaction(tuple(body))


@st.composite
def responses(draw, outcome: str | None = None) -> Response:
    code = draw(st.sampled_from(TransactionCode))
    count = 1 if code is TransactionCode.ELIGIBILITY else draw(st.integers(1, 4))
    status = HeaderStatus.ACCEPTED if outcome else draw(st.sampled_from(HeaderStatus))
    answered = count if status is HeaderStatus.ACCEPTED else draw(st.integers(0, count))
    header = ResponseHeader(
        transaction_code=code,
        transaction_count=count,
        status=status,
        service_provider_id_qualifier=draw(st.sampled_from(["01", "05", "07"])),
        service_provider_id=draw(header_text(15)),
        date_of_service=draw(st.dates()),
    )
    top = draw(
        st.lists(
            st.sampled_from(
                [
                    SegmentCode.RESPONSE_MESSAGE,
                    SegmentCode.RESPONSE_INSURANCE,
                    SegmentCode.RESPONSE_PATIENT,
                ]
            ).flatmap(lambda c: segments(c, RESPONSE_FIELDS)),
            max_size=3,
        )
    )
    groups = tuple(draw(response_transactions(outcome)) for _ in range(answered))
    return Response(header, tuple(top), groups)


ROUND_TRIP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("code", list(TransactionCode))
@ROUND_TRIP
@given(data=st.data())
def test_requests_round_trip(code, data):
    request = data.draw(requests(code))

    wire = encode_request(request)

    assert decode_request(wire) == request
    assert wire[8:10] == code.value.encode()
    assert wire[20:21] == str(len(request.transactions)).encode()


@pytest.mark.parametrize(
    "outcome",
    [
        TransactionStatus.PAID,
        TransactionStatus.REJECTED,
        TransactionStatus.DUPLICATE_OF_PAID,
        TransactionStatus.CAPTURED,
        TransactionStatus.DUPLICATE_OF_CAPTURED,
        TransactionStatus.APPROVED,
    ],
)
@ROUND_TRIP
@given(data=st.data())
def test_responses_round_trip(outcome, data):
    response = data.draw(responses(outcome))

    decoded = decode_response(encode_response(response))

    assert decoded == response
    assert {t.status for t in decoded.transactions} == {outcome}
    assert all(t.is_rejected == (outcome == "R") for t in decoded.transactions)


@ROUND_TRIP
@given(responses())
def test_any_response_round_trips(response):
    assert decode_response(encode_response(response)) == response


# --------------------------------------------------------------------------------------
# Hostile input: the decoders raise NcpdpError or succeed, nothing else

PIECES = [
    b"\x1e",
    b"\x1c",
    b"\x1d",
    b"AM",
    b"AM01",
    b"AM04",
    b"AM07",
    b"AM11",
    b"AM20",
    b"AM21",
    b"AM23",
    b"AM99",
    b"ANP",
    b"ANR",
    b"FB79",
    b"D2",
    b"F5",
    b"E7",
    b"125{",
    b"30000",
    b"}",
    b"J",
    b"0",
    b"X",
    b" ",
    b"\x00",
    b"\xff",
]
bodies = st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join)


def decodes_or_refuses(decode, data: bytes) -> None:
    try:
        decoded = decode(data)
    except NcpdpError:
        return
    # Whatever reads must write back and read the same again.
    encode = encode_request if decode is decode_request else encode_response
    assert decode(encode(decoded)) == decoded


FUZZ = settings(max_examples=300, deadline=None)


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_only_ncpdp_errors(data):
    decodes_or_refuses(decode_request, data)
    decodes_or_refuses(decode_response, data)


@FUZZ
@given(bodies)
def test_arbitrary_bodies_after_a_good_header_give_only_ncpdp_errors(body):
    decodes_or_refuses(decode_request, B1[:56] + body)
    decodes_or_refuses(decode_response, PAID[:31] + body)
    decodes_or_refuses(decode_response, b"D0B12R" + PAID[6:31] + body)


@st.composite
def mutations(draw, message: bytes) -> bytes:
    data = bytearray(message)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["cut", "drop", "insert", "replace"]))
        at = draw(st.integers(0, len(data)))
        if action == "cut":
            del data[at:]
        elif action == "drop":
            del data[at : at + draw(st.integers(1, 5))]
        elif action == "insert":
            data[at:at] = draw(st.sampled_from(PIECES))
        elif at < len(data):
            data[at] = draw(st.integers(0, 255))
    return bytes(data)


@FUZZ
@given(st.one_of(mutations(B1), mutations(PAID), mutations(REJECTED)))
def test_damaged_reference_messages_give_only_ncpdp_errors(data):
    decodes_or_refuses(decode_request, data)
    decodes_or_refuses(decode_response, data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_generated_messages_give_only_ncpdp_errors(data):
    request = encode_request(data.draw(requests()))
    response = encode_response(data.draw(responses()))

    decodes_or_refuses(decode_request, data.draw(mutations(request)))
    decodes_or_refuses(decode_response, data.draw(mutations(response)))
