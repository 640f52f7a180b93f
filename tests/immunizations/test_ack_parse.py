"""Reading the registry's ACK: AA / AE with warnings / AE with errors / AR, errors in
words, and malformed replies (hypothesis: nothing but MalformedAck ever escapes)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.immunizations.ack import (
    ACCEPTED,
    REJECTED,
    WARNING,
    AckError,
    MalformedAck,
    parse_ack,
)

MSH = (
    "MSH|^~\\&|IIS|STATEIIS|PHARMSYS|RX0001|20250315141502-0700||ACK^V04^ACK|ACK0001|P|2.5.1"
    "|||NE|NE|||||Z23^CDCPHINVS"
)


def ack(*lines: str) -> str:
    return "\r".join([MSH, *lines])


def test_aa_is_accepted():
    result = parse_ack(ack("MSA|AA|MSG0001"), "MSG0001")
    assert (result.code, result.control_id, result.errors, result.outcome) == (
        "AA",
        "MSG0001",
        [],
        ACCEPTED,
    )


def test_ae_with_only_a_warning_is_accepted_with_warnings():
    text = ack(
        "MSA|AE|MSG0001",
        "ERR||RXR^1^2^1^1|103^Table value not found^HL70357|W|5^Table value not found^HL70533"
        "|||Invalid administration site XX; dose accepted without site",
    )
    result = parse_ack(text, "MSG0001")
    assert result.outcome == WARNING
    assert result.errors == [
        AckError(
            "W", "RXR-2.1", "103", "5", "Invalid administration site XX; dose accepted without site"
        )
    ]
    assert result.errors[0].in_words() == (
        "RXR-2.1 (warning): table value not found — "
        "Invalid administration site XX; dose accepted without site"
    )


def test_ae_with_any_error_is_rejected():
    text = ack(
        "MSA|AE|MSG0001",
        "ERR||PID^1^7|102^Data type error^HL70357|W|||| Date of birth is late",
        "ERR||RXA^1^5|103^Table value not found^HL70357|E|5^Table value not found^HL70533"
        "|||CVX 999999 unknown",
    )
    result = parse_ack(text, "MSG0001")
    assert result.outcome == REJECTED
    assert [e.severity for e in result.errors] == ["W", "E"]
    assert result.errors[1].location == "RXA-5"


def test_ar_is_rejected_even_without_err():
    result = parse_ack(ack("MSA|AR|MSG0001"), "MSG0001")
    assert result.outcome == REJECTED
    assert result.errors[0].severity == "E"


def test_ae_without_err_is_an_error_not_a_warning():
    assert parse_ack(ack("MSA|AE|MSG0001"), "MSG0001").outcome == REJECTED


def test_escapes_in_the_user_message_are_decoded():
    text = ack("MSA|AE|MSG0001", "ERR||PID^1^5|101|W||||Name \\T\\ \\F\\ odd")
    assert parse_ack(text, "MSG0001").errors[0].message == "Name & | odd"


def test_an_mllp_frame_and_a_trailing_cr_are_tolerated():
    assert parse_ack("\x0b" + ack("MSA|AA|MSG0001") + "\r\x1c\r", "MSG0001").code == "AA"


def test_bytes_are_read_as_utf8():
    assert parse_ack(ack("MSA|AA|MSG0001").encode(), "MSG0001").code == "AA"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "ack"),
        ("   \r\n", "ack"),
        ("HELLO", "MSH"),
        (MSH, "MSA"),
        (ack("MSA|AA|SOMEONE-ELSES"), "MSA-2"),
        (ack("MSA|CA|MSG0001"), "MSA-1"),
        (ack("MSA"), "MSA-1"),
        (MSH.replace("ACK^V04^ACK", "VXU^V04^VXU_V04") + "\rMSA|AA|MSG0001", "MSH-9"),
        (MSH + "\nMSA|AA|MSG0001", "message"),
        (MSH.replace("^~\\&", "#~\\&") + "\rMSA|AA|MSG0001", "MSH-2"),
        ("MSH;^~\\&;IIS", "MSH-2"),
        (MSH[:40], "MSH-9"),  # truncated before the message type
        (MSH + "\rMS", "message"),  # truncated mid-segment
        (ack("MSA|AA|MSG0001", "bad segment"), "message"),
    ],
)
def test_malformed_replies_are_refused_by_name(text, field):
    with pytest.raises(MalformedAck) as caught:
        parse_ack(text, "MSG0001")
    assert caught.value.field == field
    assert caught.value.message


def test_binary_junk_is_malformed():
    with pytest.raises(MalformedAck, match="UTF-8"):
        parse_ack(b"\xff\xfe\x00junk", "MSG0001")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_fuzz_only_ever_raises_malformed_ack(data):
    try:
        result = parse_ack(data, "MSG0001")
    except MalformedAck:
        return
    assert result.control_id == "MSG0001"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="|^~\\&\rMSAERRHACK01 ", max_size=200))
def test_fuzz_with_hl7_alphabet(tail):
    with contextlib.suppress(MalformedAck):
        parse_ack(MSH + "\r" + tail, "MSG0001")
