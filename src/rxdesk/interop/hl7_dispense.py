"""HL7 v2.5 messages to and from dispensing devices (counting robots, vial fillers,
packagers), built and checked with hl7apy.

- To the device: RDE^O11 (pharmacy/treatment encoded order): PID (patient), ORC (NW, the
  placer order number is the fill: ``F<fill id>``), RXE (give code = the NDC, amount, units,
  dispense amount, refills, Rx number in RXE-15), TQ1, RXR (route).
- From the device: ACK^O11 (MSA-1 AA accepted; AE/AR refused, MSA-3 the reason) and, when
  counted, RDS^O13 with ORC-2 = our placer number and RXD (RXD-2 the NDC dispensed, RXD-4 the
  amount, RXD-18 the lot, RXD-19 its expiry).
- Over TCP the messages travel in MLLP frames (0x0B … 0x1C 0x0D); in a drop folder, one
  message per file.

No database here: the services in rxdesk.rx.services.devices use it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

from rxdesk.core.errors import Invalid

VERSION = "2.5"
START, END = b"\x0b", b"\x1c\x0d"
MAX_MESSAGE = 64 * 1024
PLACER = re.compile(r"^F(\d{1,18})$")
# HL7 delimiters may not appear inside a value.
_UNSAFE = re.compile(r"[|^~\\&\r\n]")


class HL7Error(Invalid):
    """A device message that cannot be read; ``field`` names the segment and field."""


def _clean(value: Any, limit: int = 80) -> str:
    return _UNSAFE.sub(" ", str(value or "")).strip()[:limit]


def _ts(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")


def _qty(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Order:
    """What a device needs to count one fill."""

    control_id: str
    sending_facility: str
    device: str
    fill_id: int
    patient_id: int
    patient_last: str
    patient_first: str
    date_of_birth: dt.date
    sex: str
    ndc11: str
    description: str
    quantity: Decimal
    unit: str  # EA, ML, GM
    refills_remaining: int
    rx_number: int
    sent_at: dt.datetime


def order_message(order: Order) -> str:
    """The RDE^O11 for ``order``, validated against the HL7 v2.5 structure."""
    m = Message("RDE_O11", version=VERSION, validation_level=VALIDATION_LEVEL.STRICT)
    m.msh.msh_3 = "RXDESK"
    m.msh.msh_4 = _clean(order.sending_facility, 20)
    m.msh.msh_5 = _clean(order.device, 20)
    m.msh.msh_6 = _clean(order.sending_facility, 20)
    m.msh.msh_7 = _ts(order.sent_at)
    m.msh.msh_9 = "RDE^O11^RDE_O11"
    m.msh.msh_10 = _clean(order.control_id, 20)
    m.msh.msh_11 = "P"
    m.msh.msh_12 = VERSION
    m.msh.msh_18 = "UNICODE UTF-8"
    patient = m.add_group("RDE_O11_PATIENT")
    patient.add_segment("PID")
    patient.pid.pid_3 = f"{order.patient_id}^^^RXDESK^PI"
    patient.pid.pid_5 = f"{_clean(order.patient_last, 60)}^{_clean(order.patient_first, 60)}"
    patient.pid.pid_7 = order.date_of_birth.strftime("%Y%m%d")
    patient.pid.pid_8 = {"F": "F", "M": "M"}.get(order.sex, "U")
    group = m.add_group("RDE_O11_ORDER")
    group.add_segment("ORC")
    group.orc.orc_1 = "NW"
    group.orc.orc_2 = f"F{order.fill_id}"
    group.add_segment("RXE")
    unit = {"EA": "EA^each", "ML": "ML^milliliter", "GM": "GM^gram"}[order.unit]
    group.rxe.rxe_2 = f"{order.ndc11}^{_clean(order.description, 100)}^NDC"
    group.rxe.rxe_3 = _qty(order.quantity)
    group.rxe.rxe_5 = unit
    group.rxe.rxe_10 = _qty(order.quantity)
    group.rxe.rxe_11 = unit
    group.rxe.rxe_12 = str(order.refills_remaining)
    group.rxe.rxe_15 = str(order.rx_number)
    timing = group.add_group("RDE_O11_TIMING_ENCODED")
    timing.add_segment("TQ1")
    timing.tq1.tq1_1 = "1"
    group.add_segment("RXR")
    group.rxr.rxr_1 = "PO^Oral"
    m.validate()
    return m.to_er7()


@dataclass(frozen=True)
class DeviceResult:
    """What a device answered. ``kind`` is "dispensed" (RDS: counted), "accepted" (ACK AA:
    order taken) or "refused" (ACK AE/AR: not counted; ``error`` says why)."""

    kind: str
    control_id: str
    fill_id: int | None
    acknowledges: str = ""
    ndc11: str = ""
    quantity: Decimal | None = None
    lot: str = ""
    expiry: dt.date | None = None
    error: str = ""


def _segments(element: Any) -> Iterator[Any]:
    for child in getattr(element, "children", []):
        if len(child.name) == 3:
            yield child
        else:
            yield from _segments(child)


def _fill_id(placer: str, field: str) -> int:
    match = PLACER.match(placer.strip())
    if not match:
        raise HL7Error(f"'{placer[:40]}' is not one of our fill numbers (F…).", field=field)
    return int(match.group(1))


def parse_result(text: str | bytes) -> DeviceResult:
    """Read an RDS^O13 or ACK from a device; HL7Error names what is wrong."""
    if isinstance(text, bytes):
        if len(text) > MAX_MESSAGE:
            raise HL7Error("The message is larger than 64 KB.", field="message")
        text = text.decode("utf-8", errors="replace")
    if len(text) > MAX_MESSAGE:
        raise HL7Error("The message is larger than 64 KB.", field="message")
    text = text.replace("\r\n", "\r").replace("\n", "\r").strip()
    try:
        message = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        message.validate()
    except (HL7apyException, ValueError) as exc:
        raise HL7Error(f"Not a valid HL7 v2.5 message: {exc}", field="message") from None
    control = message.msh.msh_10.value or ""
    segments = {s.name: s for s in _segments(message)}
    if message.name == "ACK":
        msa = message.msa
        code = (msa.msa_1.value or "").upper()
        acknowledges = msa.msa_2.value or ""
        fill_id = _fill_id(acknowledges.split("-")[0], "MSA-2")
        if code == "AA":
            return DeviceResult("accepted", control, fill_id, acknowledges=acknowledges)
        return DeviceResult(
            "refused",
            control,
            fill_id,
            acknowledges=acknowledges,
            error=(msa.msa_3.value or f"Refused ({code}).")[:300],
        )
    if message.name != "RDS_O13":
        raise HL7Error(f"A device answers with RDS^O13 or ACK, not {message.name}.", field="MSH-9")
    if "ORC" not in segments or "RXD" not in segments:
        raise HL7Error("The RDS^O13 has no ORC or RXD segment.", field="RXD")
    rxd = segments["RXD"]
    fill_id = _fill_id(segments["ORC"].orc_2.value or "", "ORC-2")
    ndc = re.sub(r"\D", "", rxd.rxd_2.ce_1.value or "")
    if len(ndc) != 11:
        raise HL7Error("RXD-2 must carry the 11-digit NDC dispensed.", field="RXD-2")
    try:
        quantity = Decimal(rxd.rxd_4.value or "")
    except InvalidOperation:
        raise HL7Error("RXD-4 (amount dispensed) is not a number.", field="RXD-4") from None
    if not quantity.is_finite() or quantity <= 0:
        raise HL7Error("RXD-4 (amount dispensed) must be more than zero.", field="RXD-4")
    expiry_text = (rxd.rxd_19.value or "")[:8]
    expiry = None
    if expiry_text:
        try:
            expiry = dt.datetime.strptime(expiry_text, "%Y%m%d").date()
        except ValueError:
            raise HL7Error("RXD-19 (expiry) is not a date.", field="RXD-19") from None
    return DeviceResult(
        "dispensed",
        control,
        fill_id,
        ndc11=ndc,
        quantity=quantity,
        lot=_clean(rxd.rxd_18.value, 40).upper(),
        expiry=expiry,
    )


def frame(message: str) -> bytes:
    """One MLLP frame."""
    return START + message.encode("utf-8") + END


def unframe(data: bytes) -> str:
    """The message inside one MLLP frame."""
    start, end = data.find(START), data.rfind(END)
    if start < 0 or end < 0 or end < start:
        raise HL7Error("Not an MLLP frame (0x0B … 0x1C 0x0D).", field="message")
    return data[start + 1 : end].decode("utf-8", errors="replace")
