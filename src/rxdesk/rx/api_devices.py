"""API for dispensing devices (counting robots, vial fillers): send a fill, take in a
device's HL7 result. Parse, call the service, serialize."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.services import authorize
from rxdesk.interop.hl7_dispense import MAX_MESSAGE
from rxdesk.rx import queries_fills
from rxdesk.rx.api import PayloadTooLarge, UnsupportedMediaType
from rxdesk.rx.models import DispensingDevice
from rxdesk.rx.services import devices

router = Router(tags=["dispensing devices"])

HL7_TYPES = ("application/hl7-v2", "x-application/hl7-v2+er7", "text/plain")


class DeviceOut(Schema):
    code: str
    name: str
    kind: str
    transport: str
    active: bool
    up: bool
    last_error: str


class SendIn(Schema):
    model_config = {"extra": "forbid"}
    device: str = Field(min_length=1, max_length=20, description="The device's code")


class SentOut(Schema):
    fill_id: int
    device: str
    control_id: str
    message: str = Field(description="The HL7 v2.5 RDE^O11 sent")


class DeviceResultOut(Schema):
    fill_id: int
    status: str
    device: str


def _device(site_id: int, code: str) -> DispensingDevice:
    found = DispensingDevice.objects.filter(site_id=site_id, code=code.strip().upper()).first()
    if found is None:
        raise NotFound(f"No dispensing device {code[:20]} at this pharmacy.")
    return found


def _out(device: DispensingDevice) -> dict[str, Any]:
    return {
        "code": device.code,
        "name": device.name,
        "kind": device.kind,
        "transport": device.transport,
        "active": device.active,
        "up": device.is_up,
        "last_error": device.last_error,
    }


@router.get("/devices", response=list[DeviceOut], summary="The pharmacy's dispensing devices")
def device_list(request: HttpRequest) -> Any:
    actor = request.user
    authorize(actor, Cap.RX_VIEW)  # type: ignore[arg-type]
    return [
        _out(d)
        for d in DispensingDevice.objects.filter(site_id=actor.site_id).order_by("code")  # type: ignore[union-attr]
    ]


@router.post(
    "/fills/{int:fill_id}/device",
    response=SentOut,
    summary="Send a data-verified fill to a dispensing device (409 when it is down: fill by hand)",
)
def device_send(request: HttpRequest, fill_id: int, body: SendIn) -> Any:
    actor = request.user
    authorize(actor, Cap.RX_FILL)  # type: ignore[arg-type]
    # Not a number, beyond a BIGINT or another pharmacy's: not found (never a 500).
    fill = queries_fills.fill_get(actor=actor, fill_id=fill_id)  # type: ignore[arg-type]
    sent = devices.device_send(
        actor=actor,  # type: ignore[arg-type]
        fill=fill,
        device=_device(actor.site_id, body.device),  # type: ignore[union-attr]
    )
    return {
        "fill_id": sent.fill.pk,
        "device": body.device.upper(),
        "control_id": sent.control_id,
        "message": sent.message,
    }


@router.post(
    "/devices/{code}/results",
    response=DeviceResultOut,
    summary="A device's result: HL7 v2.5 RDS^O13 (counted) or ACK (accepted / refused)",
    description=(
        "The body is the HL7 v2 message itself (`application/hl7-v2` or `text/plain`), at "
        "most 64 KB. A counted result fills the fill as a scan would (the product check and "
        "the stock ledger apply); a refusal is recorded and the fill stays to be filled by "
        "hand; the same result twice changes nothing."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in HL7_TYPES},
        },
        "responses": {
            413: {"description": "The message is larger than 64 KB"},
            415: {"description": "The body is not an HL7 v2 message"},
        },
    },
)
def device_result(request: HttpRequest, code: str) -> Any:
    # No body parameter: the role is checked before the body is read.
    actor = request.user
    authorize(actor, Cap.RX_FILL)  # type: ignore[arg-type]
    if request.content_type not in HL7_TYPES:
        raise UnsupportedMediaType(
            "Send the HL7 v2 message as application/hl7-v2 or text/plain.", field="Content-Type"
        )
    body = request.body
    if len(body) > MAX_MESSAGE:
        raise PayloadTooLarge("A device message is at most 64 KB.", field="body")
    device = _device(actor.site_id, code)  # type: ignore[union-attr]
    fill = devices.device_result(actor=actor, device=device, message=body)  # type: ignore[arg-type]
    return {"fill_id": fill.pk, "status": fill.status, "device": device.code}


# --- Labels ----------------------------------------------------------------------------------


class LabelIn(Schema):
    model_config = {"extra": "forbid"}
    format: str = Field("pdf", pattern="^(pdf|zpl)$", description="pdf (laser) or zpl (thermal)")
    reprint_reason: str = Field("", max_length=300, description="Required for a reprint")


@router.post(
    "/fills/{int:fill_id}/label",
    tags=["labels"],
    summary="Print a fill's label: the PDF (laser sheet) or ZPL (thermal); reprints need a reason",
    openapi_extra={
        "responses": {
            200: {
                "description": "The label",
                "content": {
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                    "text/plain": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def label_print(request: HttpRequest, fill_id: int, body: LabelIn) -> Any:
    from django.http import HttpResponse

    from rxdesk.rx.services.labels import label_print as print_label

    actor = request.user
    authorize(actor, Cap.RX_FILL)  # type: ignore[arg-type]
    # Not a number, beyond a BIGINT or another pharmacy's: not found (never a 500).
    fill = queries_fills.fill_get(actor=actor, fill_id=fill_id)  # type: ignore[arg-type]
    printed = print_label(actor=actor, fill=fill, reprint_reason=body.reprint_reason)  # type: ignore[arg-type]
    if body.format == "zpl":
        response = HttpResponse(printed.zpl, content_type="text/plain; charset=us-ascii")
    else:
        response = HttpResponse(printed.pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="label-{fill.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
