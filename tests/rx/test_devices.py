"""Dispensing devices: HL7 v2 orders out (drop folder and MLLP over a real TCP socket),
results in, the device down and the fill falling back to the manual path."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from pathlib import Path

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.interop import hl7_dispense as hl7
from rxdesk.inventory.models import StockMove
from rxdesk.rx.choices import FillStatus, FillStep
from rxdesk.rx.models import DispensingDevice, Fill
from rxdesk.rx.services import devices, workflow
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx

pytestmark = pytest.mark.django_db


def _to_fill(technician, pharmacist):
    rx = make_rx(technician)
    stock(rx.site, rx.package, lot="ROBOT-LOT", quantity=200)
    return rx, workflow.fill_data_verify(actor=pharmacist, fill=first_fill(rx))


def _folder_device(pic, tmp_path: Path) -> DispensingDevice:
    return devices.device_save(
        actor=pic, code="robot1", name="Counting robot", transport="folder", folder=str(tmp_path)
    )


def _rds(fill: Fill, ndc11: str, quantity: str = "30", lot: str = "ROBOT-LOT") -> str:
    return "\r".join(
        [
            "MSH|^~\\&|ROBOT1|X|RXDESK|X|20261126050500||RDS^O13^RDS_O13|R1|P|2.5",
            "PID|||1^^^RXDESK^PI||DOE^JANE||19800704|F",
            f"ORC|RE|F{fill.pk}",
            f"RXD|1|{ndc11}^Drug^NDC|20261126050400|{quantity}|EA^each||1|||||||||||{lot}|20301231",
            "RXR|PO",
        ]
    )


def test_a_folder_device_gets_a_valid_order_and_its_count_fills_the_fill(
    technician, pharmacist, pic, tmp_path, cli_context
):
    rx, fill = _to_fill(technician, pharmacist)
    device = _folder_device(pic, tmp_path)
    assert device.code == "ROBOT1"

    sent = devices.device_send(actor=technician, fill=fill, device=device)

    written = (tmp_path / "out" / f"{sent.control_id}.hl7").read_bytes().decode()
    assert written == sent.message and "RDE^O11" in written and rx.package.ndc11 in written
    # The order is a valid HL7 v2.5 RDE^O11 when read back by a real parser.
    from hl7apy.parser import parse_message

    assert parse_message(written, find_groups=False).msh.msh_9.value.startswith("RDE")
    assert Fill.objects.get(pk=fill.pk).status == FillStatus.TO_FILL

    done = devices.device_result(actor=None, device=device, message=_rds(fill, rx.package.ndc11))

    assert (done.status, done.device, done.filled_by) == (FillStatus.FILLED, "ROBOT1", technician)
    move = StockMove.objects.get(reference_type="fill", reference_id=str(fill.pk))
    assert move.lot.number == "ROBOT-LOT" and move.quantity == -30
    steps = list(done.events.values_list("step", flat=True))
    assert FillStep.DEVICE_SENT in steps and FillStep.DEVICE_DONE in steps
    # The same result again changes nothing.
    again = devices.device_result(actor=None, device=device, message=_rds(fill, rx.package.ndc11))
    assert again.pk == fill.pk
    assert StockMove.objects.filter(reference_type="fill", reference_id=str(fill.pk)).count() == 1


def test_a_device_that_counted_the_wrong_drug_is_refused(
    technician, pharmacist, pic, tmp_path, cli_context
):
    _rx, fill = _to_fill(technician, pharmacist)
    device = _folder_device(pic, tmp_path)
    devices.device_send(actor=technician, fill=fill, device=device)
    with pytest.raises(Invalid) as exc:
        devices.device_result(actor=None, device=device, message=_rds(fill, "00049490030"))
    assert exc.value.errors[0]["field"] == "scanned_code"
    assert Fill.objects.get(pk=fill.pk).status == FillStatus.TO_FILL


def test_a_device_refusal_leaves_the_fill_to_be_filled_by_hand(
    technician, pharmacist, pic, tmp_path, cli_context
):
    rx, fill = _to_fill(technician, pharmacist)
    device = _folder_device(pic, tmp_path)
    sent = devices.device_send(actor=technician, fill=fill, device=device)
    ack = (
        "MSH|^~\\&|ROBOT1|X|RXDESK|X|20261126050500||ACK^O11^ACK|A1|P|2.5\r"
        f"MSA|AE|{sent.control_id}|Canister empty"
    )
    after = devices.device_result(actor=None, device=device, message=ack)
    assert after.status == FillStatus.TO_FILL
    event = after.events.get(step=FillStep.DEVICE_DONE)
    assert event.reason == "Canister empty"
    # The manual path still works.
    filled = workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    assert filled.status == FillStatus.FILLED and filled.device == ""  # filled by hand


class _MllpDevice:
    """A real TCP server speaking MLLP: acknowledges each order with AA (or AE)."""

    def __init__(self, code: str = "AA") -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.code = code
        self.received: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            data = b""
            while not data.endswith(hl7.END):
                data += conn.recv(4096)
            message = hl7.unframe(data)
            self.received.append(message)
            control = message.split("\r")[0].split("|")[9]
            ack = (
                "MSH|^~\\&|ROBOT2|X|RXDESK|X|20261126050500||ACK^O11^ACK|K1|P|2.5\r"
                f"MSA|{self.code}|{control}|{'ok' if self.code == 'AA' else 'Jammed'}"
            )
            conn.sendall(hl7.frame(ack))
        self.sock.close()


def test_a_tcp_device_acknowledges_the_order(technician, pharmacist, pic):
    _rx, fill = _to_fill(technician, pharmacist)
    server = _MllpDevice("AA")
    device = devices.device_save(
        actor=pic,
        code="vial1",
        name="Vial filler",
        kind="vial_filler",
        transport="tcp",
        host="127.0.0.1",
        port=server.port,
    )
    sent = devices.device_send(actor=technician, fill=fill, device=device)
    server.thread.join(5)
    assert server.received == [sent.message]


def test_a_device_that_cannot_be_reached_is_marked_down(technician, pharmacist, pic):
    _rx, fill = _to_fill(technician, pharmacist)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    device = devices.device_save(
        actor=pic, code="vial2", name="Vial filler", transport="tcp", host="127.0.0.1", port=port
    )
    with pytest.raises(Conflict) as exc:
        devices.device_send(actor=technician, fill=fill, device=device)
    assert "fill by hand" in exc.value.message
    device.refresh_from_db()
    assert device.down_since is not None
    assert not Fill.objects.get(pk=fill.pk).events.filter(step=FillStep.DEVICE_SENT).exists()
    with pytest.raises(Conflict) as again:
        devices.device_send(actor=technician, fill=fill, device=device)
    assert "down since" in again.value.message
    # Saving the device again (after repair) marks it up.
    assert devices.device_save(actor=pic, device=device, active=True).is_up


def test_a_refusing_tcp_device_is_marked_down(technician, pharmacist, pic):
    _rx, fill = _to_fill(technician, pharmacist)
    server = _MllpDevice("AE")
    device = devices.device_save(
        actor=pic,
        code="vial3",
        name="Vial filler",
        transport="tcp",
        host="127.0.0.1",
        port=server.port,
    )
    with pytest.raises(Conflict) as exc:
        devices.device_send(actor=technician, fill=fill, device=device)
    assert "Jammed" in exc.value.message


def test_device_rules_and_roles(technician, pharmacist, pic, auditor, inventory, tmp_path):
    with pytest.raises(Invalid) as exc:
        devices.device_save(actor=pic, code="X", name="X", transport="folder")
    assert exc.value.errors[0]["field"] == "folder"
    with pytest.raises(Forbidden):
        devices.device_save(actor=technician, code="X", name="X", transport="folder", folder="/tmp")
    device = _folder_device(pic, tmp_path)
    rx = make_rx(technician)
    with pytest.raises(Conflict):  # not data-verified yet
        devices.device_send(actor=technician, fill=first_fill(rx), device=device)
    for actor in (auditor, inventory):
        with pytest.raises(Forbidden):
            devices.device_send(actor=actor, fill=first_fill(rx), device=device)


def test_device_poll_reads_the_in_folder(technician, pharmacist, pic, tmp_path, site, cli_context):
    rx, fill = _to_fill(technician, pharmacist)
    device = _folder_device(pic, tmp_path)
    devices.device_send(actor=technician, fill=fill, device=device)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "001.hl7").write_text(_rds(fill, rx.package.ndc11))
    (inbox / "002.hl7").write_text("not hl7 at all")

    poll = devices.device_poll(actor=None, site=site)

    assert (poll.read, poll.filled, poll.refused, len(poll.rejected)) == (2, 1, 0, 1)
    assert (tmp_path / "processed" / "001.hl7").exists()
    assert "Not a valid HL7" in (tmp_path / "rejected" / "002.hl7.txt").read_text()
    assert "1 fill(s) counted by a device" in poll.summary()


RDS = "\r".join(
    [
        "MSH|^~\\&|ROBOT1|X|RXDESK|X|20261126050500||RDS^O13^RDS_O13|R1|P|2.5",
        "PID|||1^^^RXDESK^PI||DOE^JANE||19800704|F",
        "ORC|RE|F1",
        "RXD|1|{ndc}^Drug^NDC|20261126050400|{qty}|EA^each||1",
        "RXR|PO",
    ]
)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("garbage", "message"),
        ("MSH|^~\\&|R|X|RXDESK|X|20261126050500||ACK^O11^ACK|A1|P|2.5\rMSA|AA|X12-1", "MSA-2"),
        (RDS.format(ndc="123", qty="30"), "RXD-2"),
        (RDS.format(ndc="00002322730", qty="0"), "RXD-4"),
    ],
)
def test_bad_device_messages_name_the_field(text, field):
    with pytest.raises(hl7.HL7Error) as exc:
        hl7.parse_result(text)
    assert exc.value.errors[0]["field"] == field


def test_order_message_escapes_hl7_delimiters():
    order = hl7.Order(
        control_id="F1-1",
        sending_facility="1498765",
        device="R1",
        fill_id=1,
        patient_id=2,
        patient_last="O'Brien|^~",
        patient_first="Ann&",
        date_of_birth=dt.date(1990, 1, 2),
        sex="F",
        ndc11="00002322730",
        description="Drug ^ 20|mg",
        quantity=__import__("decimal").Decimal("2.50"),
        unit="ML",
        refills_remaining=0,
        rx_number=5,
        sent_at=__import__("django.utils.timezone", fromlist=["now"]).now(),
    )
    text = hl7.order_message(order)
    pid = next(line for line in text.split("\r") if line.startswith("PID"))
    assert "O'Brien" in pid and pid.count("|") == 8
    assert "|2.5|" in text  # never 2.50


def test_the_device_poll_command_says_what_happened(technician, pharmacist, pic, tmp_path, site):
    from io import StringIO

    from django.core.management import call_command

    rx, fill = _to_fill(technician, pharmacist)
    device = _folder_device(pic, tmp_path)
    devices.device_send(actor=technician, fill=fill, device=device)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.hl7").write_text(_rds(fill, rx.package.ndc11))
    out = StringIO()
    call_command("rx", "device-poll", "--site", str(site.pk), stdout=out)
    assert "1 result file(s) read: 1 fill(s) counted by a device" in out.getvalue()
    assert Fill.objects.get(pk=fill.pk).status == FillStatus.FILLED


def test_the_device_api_sends_and_takes_results(technician, pharmacist, pic, tmp_path, client):
    rx, fill = _to_fill(technician, pharmacist)
    device = _folder_device(pic, tmp_path)
    client.force_login(technician)
    sent = client.post(
        f"/api/v1/fills/{fill.pk}/device", {"device": "robot1"}, content_type="application/json"
    )
    assert sent.status_code == 200, sent.content
    assert sent.json()["message"].startswith("MSH|")
    listed = client.get("/api/v1/devices").json()
    assert [d["code"] for d in listed] == ["ROBOT1"] and listed[0]["up"]
    wrong = client.post(f"/api/v1/devices/{device.code}/results", "x", content_type="text/xml")
    assert wrong.status_code == 415
    bad = client.post(f"/api/v1/devices/{device.code}/results", "junk", content_type="text/plain")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "message"
    done = client.post(
        f"/api/v1/devices/{device.code}/results",
        _rds(fill, rx.package.ndc11),
        content_type="application/hl7-v2",
    )
    assert done.status_code == 200, done.content
    assert done.json() == {"fill_id": fill.pk, "status": "filled", "device": "ROBOT1"}
    missing = client.post("/api/v1/devices/NOPE/results", "x", content_type="text/plain")
    assert missing.status_code == 404


def test_the_label_api_prints_and_reprints_with_a_reason(technician, pharmacist, client):
    rx, fill = _to_fill(technician, pharmacist)
    workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    client.force_login(technician)
    url = f"/api/v1/fills/{fill.pk}/label"
    first = client.post(url, {"format": "pdf"}, content_type="application/json")
    assert first.status_code == 200 and first.content.startswith(b"%PDF")
    again = client.post(url, {"format": "zpl"}, content_type="application/json")
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "reprint_reason"
    zpl = client.post(
        url, {"format": "zpl", "reprint_reason": "Label smudged"}, content_type="application/json"
    )
    assert zpl.status_code == 200 and zpl.content.startswith(b"^XA")
    assert Fill.objects.get(pk=fill.pk).labels_printed == 2


@pytest.mark.parametrize("fill_id", [0, 2**63, 10**30])
def test_impossible_fill_ids_are_not_found(technician, client, fill_id):
    client.force_login(technician)
    for path, body in (("device", {"device": "ROBOT1"}), ("label", {"format": "pdf"})):
        response = client.post(
            f"/api/v1/fills/{fill_id}/{path}", body, content_type="application/json"
        )
        assert response.status_code == 404, (path, response.content)
