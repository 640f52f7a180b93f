r"""Cabinet activity as HL7 v2.5 messages: the interface specification of rxdesk's cabinet
listener (``rxdesk adc-listener``), the parser, the acknowledgement and MLLP framing.
Pure: no database.

Transport
---------
MLLP over TCP: each message is sent as ``0x0B`` + message + ``0x1C 0x0D``; rxdesk answers
each with one ACK on the same connection, in the order received. Segments end with CR
(LF and CRLF are tolerated). The message is UTF-8 and at most 64 KiB.

The message: DFT^P03 (detailed financial transaction)
-----------------------------------------------------
The cabinet vendors send their charge and credit messages as DFT^P03; rxdesk reads one
and treats every FT1 as one cabinet transaction (non-billing activity uses the cabinet
event codes below in FT1-6)::

    MSH|^~\&|PYXIS|3WEST|RXDESK|PHARMACY|20250315141502||DFT^P03|MSG00001|P|2.5
    EVN|P03|20250315141502
    PID|1||MRN12345^^^HOSP^MR||DOE^JANE
    PV1|1|I|3W^301^A
    FT1|1|TX-1001||20250315141000|20250315141000|CG|00002322730^PROZAC 20MG CAP^NDC|||2||||||
        3W-1^1^A||||NURSE1^SMITH^ANNE      (one line: broken here to fit the page)
    ZCA||N|8|8

======  =====================================================================================
MSH     MSH-1 ``|``, MSH-2 ``^~\&`` (the standard encoding characters, nothing else);
        MSH-9 ``DFT^P03`` (``^DFT_P03`` may follow); MSH-10 the message control id
        (required, at most 50 characters: echoed in MSA-2 of the ACK); MSH-12 2.x.
EVN     optional (EVN-1 P03).
PID     PID-3 the patient's medical record number (the repetition whose CX-5 is ``MR``,
        else the first); PID-5 the name (family^given). Optional: a restock, count or
        unload names no patient.
PV1     optional; PV1-3 the patient's location (read, not used).
FT1     one or more, each a transaction:
        FT1-1 set id (a number); FT1-2 the cabinet's transaction id (required, at most 40
        characters, unique per cabinet); FT1-4 the transaction date and time
        (``YYYYMMDDHHMM[SS[.S…]][±ZZZZ]``, without an offset the pharmacy's local time);
        FT1-6 the transaction type (table below); FT1-7 the item: the NDC in CE-1 (11
        digits, 5-4-2 or a hyphenated 10-digit NDC) when CE-3 is ``NDC`` or empty — another
        coding system is the cabinet's own item code and the pocket alone says what it is;
        FT1-10 the quantity (more than zero; for a count, the count, zero allowed); FT1-16
        the pocket: station^drawer^pocket (station required); FT1-20 the cabinet user:
        id^family^given.
ZCA     rxdesk's Z-segment, optional, right after the FT1 it completes: ZCA-1 the witness
        (id^family^given), ZCA-2 override Y/N (removed without a pharmacist-verified order),
        ZCA-3 the count the cabinet expected, ZCA-4 the user's count after the access
        (a blind count; zero or more).
other   any other segment (PD1, PV2, ROL, DG1, NTE, Z…) is ignored.
======  =====================================================================================

FT1-6 transaction types:

====  ============  ===================================================
code  event         meaning
====  ============  ===================================================
CG    removal       charge: removed for the patient
CD    return        credit: returned to the pocket (CR is read alike)
WS    waste         wasted (controlled waste needs ZCA-1, a witness)
RS    restock       restocked at the cabinet
CT    count         counted (FT1-10 is the count)
UL    unload        unloaded back to the pharmacy
====  ============  ===================================================

Escapes inside values are decoded per component: ``\F\`` ``|``, ``\S\`` ``^``, ``\T\``
``&``, ``\R\`` ``~``, ``\E\`` ``\``, ``\.br\`` a line break, ``\Xhh…\`` hex (UTF-8) data;
other formatting escapes (``\H\``, ``\N\``…) are dropped. A delimiter where a single value
is expected (``2^3`` as a quantity, ``~`` in a transaction id) is refused: escape it.

Errors are :class:`HL7Error` naming the segment and field, e.g. ``FT1[2]-10`` (the second
FT1, field 10), ``MSH-9``, ``message``.

The answer: ACK
---------------
``MSH|^~\&|RXDESK|<site>|…||ACK^P03^ACK|<id>|P|2.5`` then ``MSA|<code>|<control id>|<text>``
and, for AE and AR, ``ERR||<segment^sequence^field>|<code>|E||||<text>`` (ERR-3: 200 not a
DFT^P03, 102 a field's value, 207 anything else).
AA: the message was taken (its transactions applied, or refused one by one and listed on
the feed's page); AE: the message is HL7 but could not be used (the text says why); AR:
not an HL7 DFT^P03 message at all, or framing lost."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.parser import parse_message

from rxdesk.core.errors import Invalid
from rxdesk.institutional.adc_feed import (
    COUNT,
    REMOVAL,
    RESTOCK,
    RETURN,
    UNLOAD,
    WASTE,
    Transaction,
    ValueProblem,
    decimal_of,
    flag_of,
    in_range,
    local,
    ndc_of,
    text_of,
)

VERSION = "2.5"
START, END = b"\x0b", b"\x1c\x0d"
MAX_MESSAGE = 64 * 1024
MAX_SEGMENTS = 500
MAX_TRANSACTIONS = 200
ENCODING = "^~\\&"
TYPES = {
    "CG": REMOVAL,
    "CD": RETURN,
    "CR": RETURN,
    "WS": WASTE,
    "RS": RESTOCK,
    "CT": COUNT,
    "UL": UNLOAD,
}
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TS = re.compile(r"^(?P<stamp>[0-9]{12}(?:[0-9]{2}(?:\.[0-9]{1,4})?)?)(?P<offset>[+-][0-9]{4})?$")
_ESCAPE = re.compile(r"\\([^\\]*)\\")
_DELIMITERS = frozenset("|^~&")


class HL7Error(Invalid):
    """A cabinet message that cannot be used; ``field`` names the segment and field
    (``FT1[2]-10``). ``reject`` is True when it is not an HL7 message at all (answered AR,
    not AE)."""

    def __init__(self, message: str, *, field: str, reject: bool = False) -> None:
        super().__init__(message, field=field)
        self.reject = reject


# --- Reading ---------------------------------------------------------------------------------


def unescape(value: str, where: str) -> str:
    """One component's text with its HL7 escape sequences decoded."""
    if "\\" not in value:
        return value
    out: list[str] = []
    pos = 0
    for match in _ESCAPE.finditer(value):
        out.append(value[pos : match.start()])
        code = match.group(1)
        simple = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\", ".br": "\n"}
        if code in simple:
            out.append(simple[code])
        elif code.startswith("X"):
            hexa = code[1:]
            if len(hexa) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", hexa):
                raise HL7Error(f"\\{code[:12]}\\ is not a hex escape.", field=where)
            try:
                out.append(bytes.fromhex(hexa).decode("utf-8"))
            except UnicodeDecodeError:
                raise HL7Error("A hex escape is not UTF-8 text.", field=where) from None
        # any other escape (\H\, \N\, \Cxxyy\ …) is formatting: dropped
        pos = match.end()
    rest = value[pos:]
    if "\\" in rest:
        raise HL7Error(
            "An escape sequence is not closed (a lone \\): send a backslash as \\E\\.",
            field=where,
        )
    out.append(rest)
    return "".join(out)


@dataclass
class _Segment:
    name: str
    fields: list[str]  # fields[n] is field n, raw (escapes kept); fields[0] the name
    ordinal: int  # 1 for the first of its name

    def raw(self, n: int) -> str:
        return self.fields[n] if n < len(self.fields) else ""

    def where(self, n: int) -> str:
        label = f"{self.name}[{self.ordinal}]" if self.name in {"FT1", "ZCA"} else self.name
        return f"{label}-{n}"

    def components(self, n: int, *, repeat: bool = False) -> list[str]:
        """Field n's components, unescaped (its first repetition unless ``repeat``)."""
        text = self.raw(n)
        if not repeat and "~" in text:
            raise HL7Error(
                f"{self.where(n)} repeats (~) where one value is expected: escape it as \\R\\.",
                field=self.where(n),
            )
        return [self._plain(c, n) for c in text.split("^")]

    def value(self, n: int) -> str:
        """A field that holds one value (no components)."""
        parts = self.components(n)
        if len(parts) > 1:
            raise HL7Error(
                f"{self.where(n)} holds a component separator (^) where one value is "
                "expected: escape it as \\S\\.",
                field=self.where(n),
            )
        return parts[0]

    def _plain(self, component: str, n: int) -> str:
        if "&" in component:
            raise HL7Error(
                f"{self.where(n)} holds a subcomponent separator (&): escape it as \\T\\.",
                field=self.where(n),
            )
        return unescape(component, self.where(n))


def _read(value: Any, where: str, read: Any) -> Any:
    try:
        return read(value)
    except ValueProblem as exc:
        raise HL7Error(f"{where} {exc}.", field=where) from None


def _text(bytes_or_text: str | bytes) -> str:
    if isinstance(bytes_or_text, bytes | bytearray):
        if len(bytes_or_text) > MAX_MESSAGE:
            raise HL7Error("The message is larger than 64 KiB.", field="message")
        if not bytes(bytes_or_text).lstrip(b"\xef\xbb\xbf\r\n ").startswith(b"MSH"):
            raise HL7Error(
                "This is not an HL7 message: it must begin with an MSH segment.",
                field="MSH",
                reject=True,
            )
        try:
            text = bytes(bytes_or_text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HL7Error(
                f"The message is not UTF-8 text (byte {exc.start + 1}).", field="message"
            ) from None
    else:
        text = bytes_or_text
        if len(text.encode("utf-8", errors="surrogatepass")) > MAX_MESSAGE:
            raise HL7Error("The message is larger than 64 KiB.", field="message")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise HL7Error("The message is not UTF-8 text.", field="message") from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\r").replace("\n", "\r").strip("\r ")
    if not text.startswith("MSH"):
        raise HL7Error(
            "This is not an HL7 message: it must begin with an MSH segment.",
            field="MSH",
            reject=True,
        )
    found = _CONTROL.search(text)
    if found:
        raise HL7Error(
            f"The message holds a control character (0x{ord(found.group()):02X}).",
            field="message",
        )
    return text


def _split(text: str) -> list[_Segment]:
    if len(text) < 8 or text[3] != "|":
        raise HL7Error("MSH-1 must be the field separator |.", field="MSH-1", reject=True)
    encoding = text[4:].split("|", 1)[0]
    if encoding != ENCODING:
        raise HL7Error(
            f"MSH-2 must be the standard encoding characters {ENCODING}, not {encoding[:10]!r}.",
            field="MSH-2",
        )
    lines = [line for line in text.split("\r") if line.strip()]
    if len(lines) > MAX_SEGMENTS:
        raise HL7Error(
            f"The message has more than {MAX_SEGMENTS} segments: send fewer transactions "
            "per message.",
            field="message",
        )
    segments: list[_Segment] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        name = line[:3]
        if not _SEGMENT_ID.match(name) or (len(line) > 3 and line[3] != "|"):
            raise HL7Error(
                f"Segment {number} ({line[:10]!r}) does not start with a segment id "
                "(3 capitals) and |: a delimiter may be unescaped in the segment before.",
                field=f"segment {number}",
            )
        if name == "MSH" and number != 1:
            raise HL7Error("A second MSH: send one message per frame.", field=f"segment {number}")
        fields = line.split("|")
        if name == "MSH":
            # MSH-1 is the separator itself: keep field numbers as the standard counts them.
            fields = ["MSH", "|", *fields[1:]]
        seen[name] = seen.get(name, 0) + 1
        segments.append(_Segment(name, fields, seen[name]))
    return segments


def _structure_checked(text: str) -> None:
    """hl7apy reads the message at its tolerant level: a second opinion on the structure
    (segments, fields, components) of what our own checks let through."""
    try:
        message = parse_message(text, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)
        _ = message.msh.msh_9.to_er7()
    except Exception as exc:  # a third-party parser on hostile input: any
        # failure of it is the message's fault, and must not escape as anything but HL7Error
        raise HL7Error(
            f"The message is not valid HL7 v2: {str(exc)[:200]}", field="message"
        ) from None


def _moment(seg: _Segment, n: int, tz: dt.tzinfo) -> dt.datetime:
    where = seg.where(n)
    stamp = seg.components(n)[0].strip()
    if not stamp:
        raise HL7Error(f"{where} (the transaction date and time) is empty.", field=where)
    match = _TS.match(stamp)
    if match is None:
        raise HL7Error(
            f"{where} {stamp[:30]!r} is not a date and time (YYYYMMDDHHMM[SS][±ZZZZ]).",
            field=where,
        )
    digits = match.group("stamp")
    try:
        naive = dt.datetime.strptime(digits[:14].ljust(14, "0"), "%Y%m%d%H%M%S")
    except ValueError:
        raise HL7Error(
            f"{where} {stamp[:30]!r} is not a real date and time.", field=where
        ) from None
    offset = match.group("offset")
    try:
        if offset:
            sign = 1 if offset[0] == "+" else -1
            hours, minutes = int(offset[1:3]), int(offset[3:5])
            if hours > 14 or minutes > 59:
                raise ValueProblem(f"{offset} is not a time-zone offset")
            zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
            return in_range(naive.replace(tzinfo=zone))
        return local(naive, tz)
    except ValueProblem as exc:
        raise HL7Error(f"{where} {exc}.", field=where) from None


def _person(seg: _Segment, n: int, what: str) -> tuple[str, str]:
    """(id, "Given Family") of an XCN field."""
    parts = [*seg.components(n), "", "", ""]
    ident = _read(parts[0], seg.where(n), lambda v: text_of(v, what))
    name = " ".join(p.strip() for p in (parts[2], parts[1]) if p.strip())
    name = _read(name, seg.where(n), lambda v: text_of(v, "user_name"))
    return ident, name


def _patient(pid: _Segment | None) -> tuple[str, str]:
    if pid is None:
        return "", ""
    reps = pid.raw(3).split("~") if pid.raw(3) else []
    chosen = ""
    for rep in reps:
        comps = rep.split("^") + [""] * 5
        if comps[4].strip().upper() == "MR":
            chosen = rep
            break
    if not chosen and reps:
        chosen = reps[0]
    ident = ""
    if chosen:
        first = chosen.split("^")[0]
        if "&" in first:
            raise HL7Error("PID-3 holds a subcomponent separator (&).", field="PID-3")
        ident = _read(unescape(first, "PID-3"), "PID-3", lambda v: text_of(v, "patient_ref"))
    names = [*pid.raw(5).split("~")[0].split("^"), "", ""]
    family, given = (unescape(n.split("&")[0], "PID-5").strip() for n in names[:2])
    name = _read(
        " ".join(p for p in (given, family) if p), "PID-5", lambda v: text_of(v, "patient_name")
    )
    return ident, name


def parse(message: str | bytes, tz: dt.tzinfo) -> tuple[str, list[Transaction]]:
    """(MSH-10, the transactions of the FT1s) of a DFT^P03 from a cabinet; HL7Error
    naming the segment and field for anything malformed or hostile."""
    text = _text(message)
    segments = _split(text)
    msh = segments[0]
    kind = msh.components(9)
    if [k.strip().upper() for k in kind[:2]] != ["DFT", "P03"]:
        shown = "^".join(kind)[:30] or "nothing"
        raise HL7Error(
            f"MSH-9 is {shown}: the cabinet listener takes DFT^P03 messages only.",
            field="MSH-9",
        )
    control = msh.value(10).strip()
    if not control:
        raise HL7Error("MSH-10 (the message control id) is empty.", field="MSH-10")
    if len(control) > 50:
        raise HL7Error(
            "MSH-10 (the message control id) is longer than 50 characters.", field="MSH-10"
        )
    version = msh.value(12).strip()
    if version and not version.startswith("2."):
        raise HL7Error(f"MSH-12 {version[:10]!r}: this is HL7 version 2 (2.x).", field="MSH-12")
    _structure_checked(text)
    pid = next((s for s in segments if s.name == "PID"), None)
    patient_ref, patient_name = _patient(pid)
    pairs: list[tuple[_Segment, _Segment | None]] = []
    previous: _Segment | None = None
    for seg in segments:
        if seg.name == "FT1":
            pairs.append((seg, None))
        elif seg.name == "ZCA":
            if previous is None or previous.name != "FT1":
                raise HL7Error(
                    "A ZCA segment must come right after the FT1 it completes.",
                    field=seg.where(0).removesuffix("-0"),
                )
            pairs[-1] = (pairs[-1][0], seg)
        previous = seg
    if not pairs:
        raise HL7Error("The message has no FT1 segment (no transaction).", field="FT1")
    if len(pairs) > MAX_TRANSACTIONS:
        raise HL7Error(
            f"More than {MAX_TRANSACTIONS} FT1 segments: split the message.", field="FT1"
        )
    return control, [_transaction(ft1, zca, tz, patient_ref, patient_name) for ft1, zca in pairs]


def _transaction(
    ft1: _Segment, zca: _Segment | None, tz: dt.tzinfo, patient_ref: str, patient_name: str
) -> Transaction:
    set_id = ft1.value(1).strip()
    if set_id and not re.fullmatch(r"[0-9]{1,6}", set_id):
        raise HL7Error(f"{ft1.where(1)} (the set id) is not a number.", field=ft1.where(1))
    external_id = _read(
        ft1.value(2), ft1.where(2), lambda v: text_of(v, "external_id", required=True)
    )
    occurred_at = _moment(ft1, 4, tz)
    code = ft1.components(6)[0].strip().upper()
    event = TYPES.get(code)
    if event is None:
        shown = code[:10] or "empty"
        raise HL7Error(
            f"{ft1.where(6)} (transaction type) is {shown}: use CG, CD, WS, RS, CT or UL.",
            field=ft1.where(6),
        )
    item = [*ft1.components(7), "", "", ""]
    ndc11, candidates = "", ()
    if item[2].strip().upper() in {"", "NDC"}:
        ndc11, candidates = _read(item[0], ft1.where(7), ndc_of)
    quantity = _read(ft1.value(10), ft1.where(10), lambda v: decimal_of(v, zero=event == COUNT))
    place = [*ft1.components(16), "", "", ""]
    where = ft1.where(16)
    station = _read(place[0], where, lambda v: text_of(v, "station", required=True))
    drawer = _read(place[1], where, lambda v: text_of(v, "drawer"))
    pocket = _read(place[2], where, lambda v: text_of(v, "pocket"))
    if not (drawer and pocket) and not (ndc11 or candidates):
        raise HL7Error(
            f"{where} names no drawer and pocket, and FT1-7 no NDC: which pocket is it?",
            field=where,
        )
    cabinet_user, user_name = _person(ft1, 20, "cabinet_user")
    witness = override = expected = counted = None
    if zca is not None:
        witness_id, witness_name = _person(zca, 1, "witness")
        witness = f"{witness_id} ({witness_name})" if witness_id and witness_name else witness_id
        witness = _read(witness, zca.where(1), lambda v: text_of(v, "witness"))
        override = _read(zca.value(2), zca.where(2), flag_of)
        expected = _optional(zca, 3)
        counted = _optional(zca, 4)
    return Transaction(
        row=int(set_id) if set_id else ft1.ordinal,
        external_id=external_id,
        occurred_at=occurred_at,
        station=station,
        drawer=drawer,
        pocket=pocket,
        ndc11=ndc11,
        ndc_candidates=candidates,
        event=event,
        quantity=quantity,
        counted=counted if event != COUNT else None,
        expected=expected,
        cabinet_user=cabinet_user,
        user_name=user_name,
        witness=witness or "",
        patient_ref=patient_ref,
        patient_name=patient_name,
        override=bool(override) and event == REMOVAL,
    )


def _optional(seg: _Segment, n: int) -> Decimal | None:
    value = seg.value(n).strip()
    if not value:
        return None
    return _read(value, seg.where(n), lambda v: decimal_of(v, zero=True))


def control_id_of(message: str | bytes) -> str:
    """MSH-10 of a message as best it can be read (for the ACK of a refused one)."""
    try:
        text = message.decode("utf-8", errors="replace") if isinstance(message, bytes) else message
        first = text[:2000].replace("\n", "\r").split("\r", 1)[0]
        if not first.startswith("MSH|"):
            return ""
        value = first.split("|")[9] if len(first.split("|")) > 9 else ""
        return re.sub(r"[^A-Za-z0-9._-]", "", value)[:50]
    except Exception:  # best effort on hostile input; the ACK still goes out
        return ""


# --- Answering -------------------------------------------------------------------------------


def escape(value: str) -> str:
    """Text made safe inside an HL7 field (escapes on write; control characters dropped)."""
    value = _CONTROL.sub(" ", value.replace("\r", " ").replace("\n", " "))
    return (
        value.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
    )


def _location(field: str) -> str:
    """ERR-2 (segment^sequence^field) for an error's field name such as ``FT1[2]-10``."""
    match = re.fullmatch(r"([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?-(\d+)", field or "")
    if match is None:
        return ""
    return f"{match.group(1)}^{match.group(2) or 1}^{match.group(3)}"


def ack(
    control_id: str,
    code: str,
    text: str = "",
    *,
    field: str = "",
    sender: str = "RXDESK",
    now: dt.datetime | None = None,
) -> str:
    """The ACK of a cabinet message: MSA (code AA, AE or AR; MSA-2 the message's control id)
    and, on an error, ERR with the location and the reason."""
    if code not in {"AA", "AE", "AR"}:
        raise ValueError(f"ACK code {code!r}: AA, AE or AR")
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    m = Message("ACK", version=VERSION, validation_level=VALIDATION_LEVEL.STRICT)
    m.msh.msh_3 = "RXDESK"
    m.msh.msh_4 = escape(sender)[:20] or "RXDESK"
    m.msh.msh_7 = moment.strftime("%Y%m%d%H%M%S")
    m.msh.msh_9 = "ACK^P03^ACK"
    m.msh.msh_10 = f"A{moment:%Y%m%d%H%M%S%f}"[:20]
    m.msh.msh_11 = "P"
    m.msh.msh_12 = VERSION
    m.msa.msa_1 = code
    m.msa.msa_2 = escape(control_id)[:50]
    if text:
        m.msa.msa_3 = escape(text)[:80]
    if code != "AA":
        err = m.add_segment("ERR")
        location = _location(field)
        if location:
            err.err_2 = location
        if code == "AR":
            err.err_3 = "200^Unsupported message type^HL70357"
        elif location:
            err.err_3 = "102^Data type error^HL70357"
        else:
            err.err_3 = "207^Application internal error^HL70357"
        err.err_4 = "E"
        err.err_8 = escape(text)[:250] or "Refused"
    return m.to_er7()


# --- MLLP ------------------------------------------------------------------------------------


def frame(message: str) -> bytes:
    """One MLLP frame."""
    return START + message.encode("utf-8") + END


def unframe(data: bytes) -> bytes:
    """The message inside one MLLP frame (bytes: decoding is the parser's, which refuses
    what is not UTF-8)."""
    data = data.lstrip(b"\r\n ").rstrip(b"\n ")
    if not data.startswith(START) or not data.endswith(END) or len(data) < 3:
        raise HL7Error("Not an MLLP frame (0x0B … 0x1C 0x0D).", field="message", reject=True)
    inner = data[1:-2]
    if START in inner or END[:1] in inner:
        raise HL7Error("The frame holds another frame's marks.", field="message", reject=True)
    return inner


class FrameReader:
    """Splits a TCP stream into MLLP frames. ``feed`` returns the complete frames so far;
    ``lost`` becomes True when the stream broke the framing (bytes outside a frame, or a
    frame past the size cap): the connection is then answered AR once and closed."""

    def __init__(self, limit: int = MAX_MESSAGE + 3) -> None:
        self.buffer = bytearray()
        self.limit = limit
        self.lost = False

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self.buffer += chunk
        while self.buffer and not self.lost:
            # CR/LF between frames is tolerated (some senders add a line end).
            while self.buffer[:1] in (b"\r", b"\n"):
                del self.buffer[:1]
            if not self.buffer:
                return
            if self.buffer[:1] != START:
                self.lost = True
                return
            end = self.buffer.find(END)
            if end < 0:
                if len(self.buffer) > self.limit:
                    self.lost = True
                return
            if end + 2 > self.limit:
                self.lost = True
                return
            framed = bytes(self.buffer[: end + 2])
            del self.buffer[: end + 2]
            yield framed
