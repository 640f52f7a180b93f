"""Dispensing devices: send a data-verified fill to a counting robot or vial filler, and
take in what it reports (rxdesk.interop.hl7_dispense; the interface is documented there).

A device is reached by a drop folder (orders written to ``<folder>/out``, results read from
``<folder>/in`` by ``rxdesk device poll``) or over TCP with MLLP framing (the order is sent
and the device's ACK awaited; results arrive at ``POST /api/v1/devices/{code}/results``).
When a device cannot be reached it is marked down and the fill stays where it was, to be
filled by hand; a device's refusal ("canister empty") is recorded and the fill goes the
manual way too. A counted result fills the fill through the same service as a scan
(workflow.fill_product), so the product check and the stock ledger hold for robots too."""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import _apply, authorize, full_clean
from rxdesk.interop import hl7_dispense as hl7
from rxdesk.rx.choices import FillStatus, FillStep
from rxdesk.rx.models import DispensingDevice, Fill, FillEvent, Prescription
from rxdesk.rx.services.common import own, record
from rxdesk.rx.services.workflow import fill_product

register_actions(
    {
        "rx.device.saved": "Dispensing device set up",
        "rx.device.sent": "Fill sent to a dispensing device",
        "rx.device.down": "Dispensing device could not be reached",
        "rx.device.refused": "Dispensing device refused a fill",
    }
)

DEVICE_FIELDS = ["code", "name", "kind", "transport", "folder", "host", "port", "active"]
TCP_TIMEOUT = 5.0


def device_save(
    *, actor: User, device: DispensingDevice | None = None, **values: Any
) -> DispensingDevice:
    """Set up a device (pharmacist in charge): how it is reached, and whether it is in use.
    Saving a device also marks it up again."""
    authorize(actor, Cap.SITE_EDIT)
    site = actor.site
    assert site is not None
    with transaction.atomic():
        if device is None:
            row = DispensingDevice(site=site)
        else:
            own(actor, "device", device.site_id)
            row = DispensingDevice.objects.select_for_update().get(pk=device.pk)
        _apply(row, DEVICE_FIELDS, values)
        row.code = " ".join((row.code or "").split()).upper()
        if row.transport == DispensingDevice.Transport.FOLDER and not row.folder:
            raise Invalid("Give the drop folder's path.", field="folder")
        if row.transport == DispensingDevice.Transport.TCP and not (row.host and row.port):
            raise Invalid("Give the device's host and port.", field="host")
        full_clean(row, exclude=["site"])
        row.down_since, row.last_error = None, ""
        row.save()
        audit_record(
            actor=actor,
            action="rx.device.saved",
            obj=row,
            data={k: getattr(row, k) for k in DEVICE_FIELDS},
        )
    return row


def _deliver(device: DispensingDevice, control_id: str, message: str) -> None:
    """Hand the order to the device; OSError or HL7Error when it cannot be done."""
    if device.transport == DispensingDevice.Transport.FOLDER:
        out = Path(device.folder) / "out"
        out.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: the device never reads half a message.
        fd, tmp = tempfile.mkstemp(dir=out, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(message)
        os.replace(tmp, out / f"{control_id}.hl7")
        return
    with socket.create_connection(
        (device.host, int(device.port or 0)), timeout=TCP_TIMEOUT
    ) as conn:
        conn.sendall(hl7.frame(message))
        data = b""
        while not data.endswith(hl7.END):
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
            if len(data) > hl7.MAX_MESSAGE:
                break
    answer = hl7.parse_result(hl7.unframe(data))
    if answer.kind != "accepted":
        raise hl7.HL7Error(answer.error or "The device refused the order.", field="device")


def _mark_down(device: DispensingDevice, actor: User | None, error: str) -> None:
    with transaction.atomic():
        DispensingDevice.objects.filter(pk=device.pk).update(
            down_since=timezone.now(), last_error=error[:300]
        )
        audit_record(
            actor=actor,
            site=device.site,
            action="rx.device.down",
            obj=device,
            data={"error": error[:300]},
        )


@dataclass(frozen=True)
class Sent:
    fill: Fill
    control_id: str
    message: str


def device_send(*, actor: User, fill: Fill, device: DispensingDevice) -> Sent:
    """Send a data-verified fill to ``device``. When the device cannot be reached it is
    marked down, nothing changes on the fill, and the answer says to fill it by hand."""
    authorize(actor, Cap.RX_FILL)
    own(actor, "fill", fill.site_id)
    own(actor, "device", device.site_id)
    device = DispensingDevice.objects.select_related("site").get(pk=device.pk)
    if not device.active:
        raise Conflict(f"{device.code} is not in use; fill by hand.", field="device")
    if device.down_since is not None:
        since = timezone.localtime(device.down_since, device.site.tz)
        raise Conflict(
            f"{device.code} has been down since {since:%m/%d %H:%M} "
            f"({device.last_error or 'no answer'}); fill by hand.",
            field="device",
        )
    with transaction.atomic():
        rx = (
            Prescription.objects.select_for_update(of=("self",))
            .select_related("site", "patient", "product")
            .get(pk=fill.prescription_id)
        )
        locked = Fill.objects.select_for_update().get(pk=fill.pk)
        if locked.status != FillStatus.TO_FILL:
            raise Conflict(
                f"Fill {rx.number}-{locked.number} is "
                f"{locked.get_status_display().lower()}; only a data-verified fill goes to a "
                "device.",
                field="status",
            )
        package = locked.package or rx.package
        if package is None:
            raise Invalid(
                "The prescription names no package for the device to count.", field="package"
            )
        attempt = locked.events.filter(step=FillStep.DEVICE_SENT).count() + 1
        control_id = f"F{locked.pk}-{attempt}"
        from rxdesk.rx.queries import rx_state

        message = hl7.order_message(
            hl7.Order(
                control_id=control_id,
                sending_facility=rx.site.ncpdp_id or str(rx.site.pk),
                device=device.code,
                fill_id=locked.pk,
                patient_id=rx.patient_id,
                patient_last=rx.patient.last_name,
                patient_first=rx.patient.first_name,
                date_of_birth=rx.patient.date_of_birth,
                sex=rx.patient.sex,
                ndc11=package.ndc11,
                description=str(rx.product),
                quantity=locked.quantity,
                unit=rx.quantity_unit,
                refills_remaining=rx_state(rx, rx.site.today()).refills_remaining,
                rx_number=rx.number,
                sent_at=timezone.now(),
            )
        )
        try:
            _deliver(device, control_id, message)
        except (OSError, hl7.HL7Error) as exc:
            error = str(exc)[:300]
            transaction.set_rollback(True)
            failed = error
        else:
            failed = ""
            locked.device = device.code
            locked.save(update_fields=["device"])
            record(
                locked,
                FillStep.DEVICE_SENT,
                actor=actor,
                from_status=locked.status,
                data={"device": device.code, "control_id": control_id},
            )
            audit_record(
                actor=actor,
                action="rx.device.sent",
                obj=locked,
                patient_id=rx.patient_id,
                data={"device": device.code, "control_id": control_id},
            )
    if failed:
        _mark_down(device, actor, failed)
        raise Conflict(
            f"{device.code} could not take the order ({failed}); fill by hand.", field="device"
        )
    locked.prescription = rx
    return Sent(fill=locked, control_id=control_id, message=message)


def device_result(*, actor: User | None, device: DispensingDevice, message: str | bytes) -> Fill:
    """Take in what a device reports. Counted (RDS^O13): the fill is filled as if scanned,
    with the device's NDC, count and lot, by the technician who sent it. Refused (ACK AE/AR):
    recorded, and the fill stays to be filled by hand. A result already taken in changes
    nothing."""
    authorize(actor, Cap.RX_FILL)
    if actor is not None:
        own(actor, "device", device.site_id)
    result = hl7.parse_result(message)
    fill = (
        Fill.objects.filter(site_id=device.site_id, pk=result.fill_id or 0)
        .select_related("prescription")
        .first()
    )
    if fill is None:
        raise NotFound(f"No fill F{result.fill_id} at this pharmacy.", field="ORC-2")
    sent = (
        FillEvent.objects.filter(fill=fill, step=FillStep.DEVICE_SENT, data__device=device.code)
        .select_related("actor")
        .order_by("-at", "-pk")
        .first()
    )
    if sent is None:
        raise Conflict(f"Fill F{fill.pk} was never sent to {device.code}.", field="ORC-2")
    if result.kind == "accepted":
        return fill
    if result.kind == "refused":
        with transaction.atomic():
            locked = Fill.objects.select_for_update().get(pk=fill.pk)
            record(
                locked,
                FillStep.DEVICE_DONE,
                actor=actor,
                from_status=locked.status,
                reason=result.error,
                data={
                    "device": device.code,
                    "result": "refused",
                    "control_id": result.acknowledges,
                },
            )
            DispensingDevice.objects.filter(pk=device.pk).update(last_error=result.error[:300])
            audit_record(
                actor=actor,
                site=device.site,
                action="rx.device.refused",
                obj=locked,
                patient_id=fill.prescription.patient_id,
                data={"device": device.code, "error": result.error[:300]},
            )
        return locked
    if fill.status != FillStatus.TO_FILL:
        if fill.device == device.code and fill.dispensed_on is not None:
            return fill  # the same result again
        raise Conflict(
            f"Fill F{fill.pk} is {fill.get_status_display().lower()}; the device's count was "
            "not used.",
            field="ORC-2",
        )
    sender = sent.actor
    if sender is None:
        raise Conflict("The technician who sent this fill is unknown.", field="ORC-2")
    quantity: Decimal | None = result.quantity
    filled = fill_product(
        actor=sender,
        fill=fill,
        scanned_code=result.ndc11,
        quantity=quantity,
        lot_number=result.lot,
        device=device.code,
    )
    with transaction.atomic():
        record(
            filled,
            FillStep.DEVICE_DONE,
            actor=actor,
            from_status=filled.status,
            data={"device": device.code, "result": "dispensed", "lot": result.lot},
        )
    return filled


@dataclass(frozen=True)
class Poll:
    read: int
    filled: int
    refused: int
    rejected: list[tuple[str, str]]

    def summary(self) -> str:
        words = (
            f"{self.read} result file(s) read: {self.filled} fill(s) counted by a device, "
            f"{self.refused} refused by the device (fill those by hand)"
        )
        if self.rejected:
            words += f", {len(self.rejected)} could not be used (see rejected/)"
        return words + "."


def device_poll(*, actor: User | None, site: Site) -> Poll:
    """Read the results waiting in each folder device's ``in`` folder (``rxdesk device
    poll``): each file is used once, then moved to ``processed`` or ``rejected``."""
    authorize(actor, Cap.RX_FILL)
    read = filled = refused = 0
    rejected: list[tuple[str, str]] = []
    devices = DispensingDevice.objects.filter(
        site=site, active=True, transport=DispensingDevice.Transport.FOLDER
    )
    for device in devices:
        inbox = Path(device.folder) / "in"
        if not inbox.is_dir():
            continue
        for path in sorted(inbox.glob("*.hl7")):
            read += 1
            try:
                fill = device_result(actor=actor, device=device, message=path.read_bytes())
            except (Invalid, Conflict, NotFound) as exc:
                target = inbox.parent / "rejected"
                target.mkdir(exist_ok=True)
                os.replace(path, target / path.name)
                (target / f"{path.name}.txt").write_text(exc.message + "\n", encoding="utf-8")
                rejected.append((path.name, exc.message))
                continue
            if fill.status == FillStatus.FILLED and fill.device == device.code:
                filled += 1
            else:
                refused += 1
            target = inbox.parent / "processed"
            target.mkdir(exist_ok=True)
            os.replace(path, target / path.name)
    return Poll(read=read, filled=filled, refused=refused, rejected=rejected)
