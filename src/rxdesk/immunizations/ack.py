"""The registry's answer to a VXU: the HL7 v2.5.1 ACK (MSA and ERR segments), read into
:class:`Ack`, and what it means for the dose (../shared/reference/
messages-ncpdp-hl7-fhir.md §3.9). Pure: no database.

The decision: AA → accepted; AE whose errors are all warnings or information (W/I) →
accepted with warnings; AE with any error (E) or AR → rejected (fix and send again). An
enhanced-mode commit ack (CA/CE/CR) is not an application answer and is read as
malformed (the registry was asked for MSH-16 AL). Anything that is not an ACK to *our*
message — no MSH, no MSA, MSA-2 another control id, an empty frame, bytes that are not
text — raises :class:`MalformedAck` naming what is wrong; nothing else is ever raised."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rxdesk.immunizations.vxu import unescape

ACCEPTED, WARNING, REJECTED = "accepted", "warning", "rejected"
MAX_ACK = 64 * 1024
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")

# HL70357 message error condition codes
HL7_CODES = {
    "0": "message accepted",
    "100": "segment sequence error",
    "101": "required field missing",
    "102": "data type error",
    "103": "table value not found",
    "200": "unsupported message type",
    "201": "unsupported event code",
    "202": "unsupported processing id",
    "203": "unsupported version id",
    "204": "unknown key identifier",
    "205": "duplicate key identifier",
    "206": "application record locked",
    "207": "application internal error",
}
# CDC table 0533 application error codes
APP_CODES = {
    "1": "illogical date",
    "2": "invalid date",
    "3": "illogical value",
    "4": "invalid value",
    "5": "table value not found",
    "6": "required observation missing",
    "7": "required data missing",
    "8": "data was ignored",
}
SEVERITIES = {"E": "error", "W": "warning", "I": "information"}


class MalformedAck(Exception):
    """The registry's reply cannot be read as the ACK of our message."""

    def __init__(self, message: str, *, field: str = "ack") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class AckError:
    """One ERR segment."""

    severity: str  # E, W or I
    location: str  # e.g. RXR-2, RXA[1]-5.1
    hl7_code: str
    app_code: str
    message: str

    def in_words(self) -> str:
        """e.g. ``RXR-2 (warning): table value not found — Invalid administration site XX;
        dose accepted without site``."""
        what = APP_CODES.get(self.app_code) or HL7_CODES.get(self.hl7_code) or ""
        head = self.location or "Message"
        kind = SEVERITIES.get(self.severity, "error")
        text = f"{head} ({kind})"
        if what:
            text += f": {what}"
        if self.message:
            text += f" — {self.message}"
        return text

    def as_json(self) -> dict[str, str]:
        return {
            "severity": self.severity,
            "location": self.location,
            "code": self.hl7_code,
            "app_code": self.app_code,
            "text": self.message,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AckError:
        return cls(
            severity=str(data.get("severity") or "E"),
            location=str(data.get("location") or ""),
            hl7_code=str(data.get("code") or ""),
            app_code=str(data.get("app_code") or ""),
            message=str(data.get("text") or ""),
        )


@dataclass(frozen=True)
class Ack:
    code: str  # AA, AE or AR
    control_id: str
    text: str = ""
    errors: list[AckError] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """accepted, warning or rejected (§3.9)."""
        if self.code == "AA":
            return WARNING if any(e.severity in {"W", "E"} for e in self.errors) else ACCEPTED
        if self.code == "AE" and all(e.severity in {"W", "I"} for e in self.errors):
            return WARNING
        return REJECTED


def _location(erl: str) -> str:
    """ERR-2 (Segment^Sequence^Field^Repetition^Component^Sub) as ``RXR-2`` (with
    ``[n]`` for a sequence past the first and ``.c`` for a component)."""
    parts = [unescape(p) for p in erl.split("&")[0].split("^")] + [""] * 6
    seg, seq, fld, _rep, comp = (p.strip() for p in parts[:5])
    if not seg:
        return ""
    text = seg
    if seq and seq not in {"1", "0"}:
        text += f"[{seq}]"
    if fld:
        text += f"-{fld}"
        if comp:
            text += f".{comp}"
    return text[:40]


def _first(value: str) -> str:
    """The first component of a (first repetition of a) field, unescaped."""
    return unescape(value.split("~")[0].split("^")[0]).strip()


def parse_ack(text: str | bytes, expected_control_id: str) -> Ack:
    """The ACK of the message ``expected_control_id``, or :class:`MalformedAck`."""
    try:
        return _parse(text, expected_control_id)
    except MalformedAck:
        raise
    except Exception as exc:  # hostile input: only MalformedAck ever leaves this module
        raise MalformedAck(f"The reply cannot be read: {type(exc).__name__}") from None


def _parse(text: str | bytes, expected: str) -> Ack:
    if isinstance(text, bytes | bytearray):
        if len(text) > MAX_ACK:
            raise MalformedAck("The reply is larger than 64 KiB.")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedAck("The reply is not UTF-8 text.") from None
    if len(text) > MAX_ACK:
        raise MalformedAck("The reply is larger than 64 KiB.")
    body = text.removeprefix("\ufeff").strip("\x0b\x1c\r\n \t")
    if not body:
        raise MalformedAck("The registry sent an empty reply.")
    if "\r" not in body and "\n" in body:
        raise MalformedAck(
            "The reply's segments end with LF, not CR: it is not an HL7 message as sent.",
            field="message",
        )
    if not body.startswith("MSH"):
        raise MalformedAck("The reply does not begin with an MSH segment.", field="MSH")
    if len(body) < 8 or body[3] != "|" or body[4:8] != "^~\\&":
        raise MalformedAck(
            "The reply does not use the standard separators (MSH-1 | and MSH-2 ^~\\&).",
            field="MSH-2",
        )
    lines = [line for line in body.replace("\r\n", "\r").split("\r") if line.strip()]
    segments: list[list[str]] = []
    for n, line in enumerate(lines, start=1):
        name = line[:3]
        if not _SEGMENT_ID.match(name) or (len(line) > 3 and line[3] != "|"):
            raise MalformedAck(f"Segment {n} of the reply is not an HL7 segment.", field="message")
        if any(ord(c) < 32 and c != "\t" for c in line):
            raise MalformedAck("The reply holds control characters.", field="message")
        segments.append(line.split("|"))
    msh = segments[0]
    kind = msh[8] if len(msh) > 8 else ""  # MSH-1 is the separator itself
    if kind.split("^")[0] != "ACK":
        raise MalformedAck(f"The reply is not an ACK (MSH-9 {kind[:20]!r}).", field="MSH-9")
    msa = next((s for s in segments if s[0] == "MSA"), None)
    if msa is None:
        raise MalformedAck("The reply has no MSA segment.", field="MSA")
    code = _first(msa[1]) if len(msa) > 1 else ""
    if code not in {"AA", "AE", "AR"}:
        raise MalformedAck(
            f"MSA-1 {code[:10]!r} is not an application acknowledgement (AA, AE or AR).",
            field="MSA-1",
        )
    control = _first(msa[2]) if len(msa) > 2 else ""
    if control != expected:
        raise MalformedAck(
            f"MSA-2 {control[:40]!r} is not our message's control id {expected!r}.",
            field="MSA-2",
        )
    errors = []
    for seg in segments:
        if seg[0] != "ERR":
            continue
        values = seg + [""] * 9
        severity = _first(values[4]).upper() or "E"
        if severity not in SEVERITIES:
            severity = "E"
        errors.append(
            AckError(
                severity=severity,
                location=_location(values[2].split("~")[0]),
                hl7_code=_first(values[3])[:10],
                app_code=_first(values[5])[:10],
                message=unescape(values[8].split("~")[0]).strip()[:300],
            )
        )
    if code == "AE" and not errors:
        # An AE that names nothing: we cannot tell a warning from an error, so an error.
        errors.append(AckError("E", "", "", "", "The registry answered AE without details."))
    if code == "AR" and not errors:
        errors.append(AckError("E", "", "", "", "The registry rejected the message (AR)."))
    message_text = unescape(msa[3]).strip()[:200] if len(msa) > 3 else ""
    return Ack(code=code, control_id=control, text=message_text, errors=errors)
