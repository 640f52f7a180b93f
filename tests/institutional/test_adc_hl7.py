"""HL7 DFT^P03 from the cabinets, read without a database: the happy path with escapes,
each malformed or hostile message refused with an HL7Error naming the segment and field,
fuzzing (random bytes, mutated valid messages) that never raises anything else, the ACK
and MLLP framing."""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.institutional import adc_hl7
from rxdesk.institutional.adc_hl7 import HL7Error, ack, frame, parse, unescape, unframe

TZ = zoneinfo.ZoneInfo("America/New_York")
MSH = "MSH|^~\\&|PYXIS|3WEST|RXDESK|PHARMACY|20250315141502||DFT^P03|MSG00001|P|2.5"
PID = "PID|1||A77^^^X^PI~MRN100^^^HOSP^MR||O\\S\\BRIEN^JANE\\T\\ANN"


def ft1(n=1, tx="TX-1", when="20250315141000", code="CG", item="00002322730^PROZAC^NDC",
        qty="2", where="3W-1^1^A", user="NURSE1^SMITH^ANNE") -> str:  # fmt: skip
    fields = [""] * 21
    fields[:3] = ["FT1", str(n), tx]
    fields[4], fields[6], fields[7], fields[10] = when, code, item, qty
    fields[16], fields[20] = where, user
    return "|".join(fields)


def message(*segments: str, msh: str = MSH, pid: str | None = PID) -> str:
    head = [msh, "EVN|P03|20250315141502"]
    if pid is not None:
        head += [pid, "PV1|1|I|3W^301^A"]
    return "\r".join([*head, *(segments or (ft1(),))])


VALID = message(
    ft1(1, "TX-1"),
    "ZCA|W123^JONES^BOB|N|8|8",
    ft1(2, "TX-2", when="202503151412-0500", code="WS", item="0002-3227-30^^NDC", qty="0.5"),
    "ZCA|RPH2^LEE^KIM|||",
    ft1(3, "TX\\F\\3", code="CT", item="ITEM77^Prozac^PYXIS", qty="0"),
)


def test_it_reads_each_ft1_as_a_transaction():
    control, found = parse(VALID, TZ)

    assert control == "MSG00001"
    first, second, third = found
    assert first.row == 1
    assert first.external_id == "TX-1"
    assert first.event == "removal"
    assert first.quantity == Decimal("2")
    assert first.occurred_at == dt.datetime(2025, 3, 15, 18, 10, tzinfo=dt.UTC)
    assert (first.station, first.drawer, first.pocket) == ("3W-1", "1", "A")
    assert first.ndc11 == "00002322730"
    assert (first.cabinet_user, first.user_name) == ("NURSE1", "ANNE SMITH")
    assert first.witness == "W123 (BOB JONES)"
    assert (first.expected, first.counted) == (Decimal("8"), Decimal("8"))
    assert first.patient_ref == "MRN100"  # the MR repetition, not the first
    assert first.patient_name == "JANE&ANN O^BRIEN"  # escapes decoded
    assert second.event == "waste"
    assert second.quantity == Decimal("0.5")
    assert second.occurred_at == dt.datetime(2025, 3, 15, 19, 12, tzinfo=dt.UTC)  # its offset
    assert second.ndc11 == "00002322730"
    assert second.witness == "RPH2 (KIM LEE)"
    assert third.external_id == "TX|3"
    assert third.event == "count"
    assert third.quantity == Decimal("0")
    assert third.ndc11 == ""  # the cabinet's own item code: the pocket says what it is


def test_bytes_crlf_and_a_frame_are_read_alike():
    control, found = parse(unframe(frame(VALID.replace("\r", "\r\n"))), TZ)

    assert control == "MSG00001"
    assert len(found) == 3


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("a\\F\\b", "a|b"),
        ("a\\S\\b", "a^b"),
        ("a\\T\\b", "a&b"),
        ("a\\R\\b", "a~b"),
        ("a\\E\\b", "a\\b"),
        ("line\\.br\\two", "line\ntwo"),
        ("\\X4142\\C", "ABC"),
        ("\\H\\bold\\N\\", "bold"),
        ("caf\\XC3A9\\", "café"),
    ],
)
def test_escapes_are_decoded(raw, text):
    assert unescape(raw, "X-1") == text


@pytest.mark.parametrize("raw", ["open\\F", "\\X4\\", "\\XZZ\\", "\\XFF\\"])
def test_a_broken_escape_is_an_error(raw):
    with pytest.raises(HL7Error):
        unescape(raw, "FT1[1]-2")


def _swap(old: str, new: str, base: str = VALID) -> str:
    assert old in base
    return base.replace(old, new, 1)


MALFORMED = [
    ("HELLO WORLD", "MSH"),
    ("", "MSH"),
    ("MSH^~\\&|X", "MSH-1"),
    (_swap("^~\\&", "^~"), "MSH-2"),
    (_swap("^~\\&", "#~\\&"), "MSH-2"),
    (_swap("DFT^P03", "ADT^A01"), "MSH-9"),
    (_swap("DFT^P03", ""), "MSH-9"),
    (_swap("|MSG00001|", "||"), "MSH-10"),
    (_swap("|MSG00001|", f"|{'M' * 51}|"), "MSH-10"),
    (_swap("|2.5", "|3.0"), "MSH-12"),
    (message("ZCA|x", pid=None), "ZCA[1]"),
    ("\r".join([MSH, "EVN|P03"]), "FT1"),
    (message(ft1(tx="")), "FT1[1]-2"),
    (message(ft1(tx="A^B")), "FT1[1]-2"),
    (message(ft1(tx="A~B")), "FT1[1]-2"),
    (message(ft1(tx="A&B")), "FT1[1]-2"),
    (message(ft1(tx="A\\B")), "FT1[1]-2"),
    (message(ft1(when="")), "FT1[1]-4"),
    (message(ft1(when="yesterday")), "FT1[1]-4"),
    (message(ft1(when="20250230101000")), "FT1[1]-4"),
    (message(ft1(when="20250315")), "FT1[1]-4"),
    (message(ft1(when="19250315101000")), "FT1[1]-4"),
    (message(ft1(when="202503151010+9900")), "FT1[1]-4"),
    (message(ft1(code="XX")), "FT1[1]-6"),
    (message(ft1(code="")), "FT1[1]-6"),
    (message(ft1(item="12345^X^NDC")), "FT1[1]-7"),
    (message(ft1(qty="-2")), "FT1[1]-10"),
    (message(ft1(qty="0")), "FT1[1]-10"),
    (message(ft1(qty="two")), "FT1[1]-10"),
    (message(ft1(qty="2^3")), "FT1[1]-10"),
    (message(ft1(qty="Infinity")), "FT1[1]-10"),
    (message(ft1(where="")), "FT1[1]-16"),
    (message(ft1(where="^1^A")), "FT1[1]-16"),
    (message(ft1(where="3W-1", item="ITEM7^X^PYXIS")), "FT1[1]-16"),
    (message(ft1(user="=HYPERLINK(1)^X")), "FT1[1]-20"),
    (message(ft1(), "ZCA||MAYBE||"), "ZCA[1]-2"),
    (message(ft1(), "ZCA||N|-1|"), "ZCA[1]-3"),
    (message(ft1(), "ZCA||N||x"), "ZCA[1]-4"),
    (message(ft1(), ft1(2, qty="-1")), "FT1[2]-10"),
    (message(ft1()).replace("EVN|", "EVN\x00|"), "message"),
    (message(ft1()).replace("EVN|", "EV|"), "segment 2"),
    (message(ft1()) + "\rMSH|^~\\&|X", "segment 6"),
    (message(ft1()) + "\rlowercase|x", "segment 6"),
    (message(ft1()) + "\x07", "message"),
    (message(ft1(), pid=f"PID|1||{'M' * 41}^^^H^MR"), "PID-3"),
]


@pytest.mark.parametrize(("text", "where"), MALFORMED)
def test_a_malformed_message_names_the_segment_and_field(text, where):
    with pytest.raises(HL7Error) as caught:
        parse(text, TZ)

    assert caught.value.field == where, caught.value.message
    assert caught.value.message


def test_hostile_sizes_and_encodings_are_refused():
    huge = message(ft1(user="N" * (70 * 1024)))
    many = message(*[ft1(i, f"T{i}") for i in range(1, 600)])
    latin1 = message(ft1(user="JOS\xc9^X")).encode("latin-1")

    for bad, field, words in [
        (huge, "message", "64 KiB"),
        (huge.encode(), "message", "64 KiB"),
        (many, "message", "segments"),
        (latin1, "message", "not UTF-8"),
    ]:
        with pytest.raises(HL7Error) as caught:
            parse(bad, TZ)
        assert caught.value.field == field
        assert words in caught.value.message
    with pytest.raises(HL7Error, match="More than 200 FT1"):
        parse(message(*[ft1(i, f"T{i}") for i in range(1, 202)]), TZ)


def test_not_hl7_is_a_reject_and_bad_data_an_error():
    with pytest.raises(HL7Error) as not_hl7:
        parse(b"\x89PNG\r\n\x1a\n", TZ)
    with pytest.raises(HL7Error) as bad_data:
        parse(message(ft1(qty="x")), TZ)

    assert not_hl7.value.reject is True
    assert bad_data.value.reject is False


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise_anything_but_hl7error(data):
    with contextlib.suppress(HL7Error):
        parse(data, TZ)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(VALID) - 1),
            st.sampled_from(["|", "^", "~", "\\", "&", "\r", "", "x", "0", "-", "\x00", "é"]),
            st.integers(min_value=0, max_value=3),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_valid_messages_never_raise_anything_but_hl7error(mutations):
    text = VALID
    for at, insert, drop in mutations:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + drop :]
    try:
        _control, found = parse(text, TZ)
    except HL7Error as exc:
        assert exc.field
    else:
        assert all(t.quantity >= 0 for t in found)


# --- ACK and framing -------------------------------------------------------------------------


def test_the_ack_echoes_the_control_id_and_says_why():
    moment = dt.datetime(2025, 3, 15, 18, 0, tzinfo=dt.UTC)
    accepted = ack("MSG00001", "AA", "3W-1: 2 transactions applied", now=moment).split("\r")
    refused = ack("MSG7", "AE", "FT1[2]-10 must be more than | zero", field="FT1[2]-10").split("\r")

    assert accepted[0].startswith("MSH|^~\\&|RXDESK|")
    assert "|20250315180000||ACK^P03^ACK|" in accepted[0]
    assert accepted[1] == "MSA|AA|MSG00001|3W-1: 2 transactions applied"
    assert len(accepted) == 2
    assert refused[1].startswith("MSA|AE|MSG7|")
    assert refused[2].startswith("ERR||FT1^2^10|102^")
    assert refused[2].endswith("must be more than \\F\\ zero")
    assert _ack_code(ack("", "AR", "Not HL7")) == "AR"
    with pytest.raises(ValueError):
        ack("X", "OK")


def _ack_code(text: str) -> str:
    return text.split("\r")[1].split("|")[1]


def test_frames_and_the_stream_reader():
    one, two = frame("MSH|A"), frame("MSH|B")
    reader = adc_hl7.FrameReader(limit=100)

    got = list(reader.feed(one + two[:3])) + list(reader.feed(two[3:] + b"\r\n"))

    assert [unframe(g) for g in got] == [b"MSH|A", b"MSH|B"]
    assert reader.lost is False
    assert list(reader.feed(b"garbage")) == []
    assert reader.lost is True
    big = adc_hl7.FrameReader(limit=10)
    assert list(big.feed(b"\x0b" + b"x" * 20)) == []
    assert big.lost is True
    with pytest.raises(HL7Error) as caught:
        unframe(b"no frame")
    assert caught.value.reject is True
