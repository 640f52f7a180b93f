r"""The test registry behind ``rxdesk test-iis``: what it answers to each VXU. Pure (no
database); the MLLP listening is rxdesk.immunizations.mllp.

Each message is read with hl7apy at STRICT validation as a v2.5.1 VXU_V04 and validated;
then:

- ``answer=garbage``: a reply that is not HL7 at all; ``answer=silent``: no reply;
- ``reject=all`` (or ``odd``: the 1st, 3rd, 5th… message received): AR, ERR ``207``;
- a message hl7apy refuses: AE with an ERR (severity E) naming what failed;
- a dose given here (RXA-9 00) whose RXR has no body site (RXR-2): AE with a warning
  (the dose is kept without a site), as a real registry does;
- otherwise AA."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from dataclasses import dataclass, field

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from rxdesk.immunizations.vxu import escape

REJECT = ("none", "all", "odd")
ANSWER = ("valid", "garbage", "silent")
GARBAGE = "THIS IS NOT AN HL7 ACKNOWLEDGEMENT\r"


@dataclass
class Verdict:
    code: str  # AA, AE, AR ("" = no ACK)
    control_id: str
    errors: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    # (severity, ERR-2 location, ERR-3 code^text, ERR-5 code^text, message)

    def line(self) -> str:
        first = f": {self.errors[0][4]}" if self.errors else ""
        return f"{self.control_id or '(no control id)'} {self.code}{first}"


def _control_id(text: str) -> str:
    first = text.split("\r", 1)[0]
    fields = first.split("|")
    return fields[9] if len(fields) > 9 else ""


def judge(text: str) -> Verdict:
    """AA, AE (errors, or warnings only) for one VXU as a registry would see it."""
    control = _control_id(text)
    try:
        message = parse_message(
            text.replace("\n", "\r"), validation_level=VALIDATION_LEVEL.STRICT, find_groups=True
        )
        message.validate()
    except Exception as exc:  # hl7apy names what it could not accept
        return Verdict(
            "AE",
            control,
            [("E", "", "101^Required field missing^HL70357", "", str(exc)[:200])],
        )
    if message.msh.msh_9.to_er7() != "VXU^V04^VXU_V04":
        return Verdict(
            "AE",
            control,
            [("E", "MSH^1^9", "200^Unsupported message type^HL70357", "", "Not a VXU^V04")],
        )
    errors: list[tuple[str, str, str, str, str]] = []
    for n, order in enumerate(message.children.get("VXU_V04_ORDER"), start=1):
        rxa = order.rxa
        given = rxa.rxa_9.to_er7().split("^")[0] == "00"
        rxr = order.children.get("RXR")
        if given and rxr and not rxr[0].rxr_2.to_er7():
            errors.append(
                (
                    "W",
                    f"RXR^{n}^2",
                    "101^Required field missing^HL70357",
                    "7^Required data missing^HL70533",
                    "No administration site; dose accepted without site",
                )
            )
    return Verdict("AE" if errors else "AA", control, errors)


def ack_text(verdict: Verdict, *, now: dt.datetime, sequence: int) -> str:
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
    lines = [
        f"MSH|^~\\&|TESTIIS|TESTIIS|||{stamp}||ACK^V04^ACK|TESTIIS{sequence:06d}|P|2.5.1"
        "|||NE|NE|||||Z23^CDCPHINVS",
        f"MSA|{verdict.code}|{escape(verdict.control_id)}",
    ]
    for severity, where, code, app, text in verdict.errors:
        lines.append(f"ERR||{where}|{code}|{severity}|{app}|||{escape(text)}")
    return "\r".join(lines)


class TestRegistry:
    """The answering half of the test registry (thread-safe: one counter)."""

    __test__ = False  # not a pytest class

    def __init__(self, *, reject: str = "none", answer: str = "valid") -> None:
        if reject not in REJECT:
            raise ValueError(f"reject: one of {', '.join(REJECT)}")
        if answer not in ANSWER:
            raise ValueError(f"answer: one of {', '.join(ANSWER)}")
        self.reject = reject
        self.answer_mode = answer
        self._count = itertools.count(1)
        self._lock = threading.Lock()
        self.seen: list[Verdict] = []

    def answer(self, data: bytes) -> tuple[str | None, Verdict]:
        with self._lock:
            number = next(self._count)
        text = data.decode("utf-8", errors="replace")
        verdict = judge(text)
        if self.reject == "all" or (self.reject == "odd" and number % 2 == 1):
            verdict = Verdict(
                "AR",
                verdict.control_id,
                [
                    (
                        "E",
                        "",
                        "207^Application internal error^HL70357",
                        "",
                        "Rejected: the test registry was told to reject this message",
                    )
                ],
            )
        with self._lock:
            self.seen.append(verdict)
        if self.answer_mode == "silent":
            return None, Verdict("", verdict.control_id)
        if self.answer_mode == "garbage":
            return GARBAGE, Verdict("garbage", verdict.control_id)
        return ack_text(verdict, now=dt.datetime.now(dt.UTC), sequence=number), verdict
