"""A label printer that fails: real sockets on loopback stand in for a thermal printer's raw
port. A good printer receives the exact ZPL and the print is recorded; one that drops the
connection, one that never reads, and one that is not there at all each give a message in
words, record nothing printed, and the next try prints as a first print."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest
from django.test import Client

from rxdesk.core.errors import Forbidden
from rxdesk.core.models import AuditEvent
from rxdesk.rx.choices import FillStep
from rxdesk.rx.models import Fill, FillEvent, RxSettings
from rxdesk.rx.printing import Printer, PrinterFailed, parse_printer, send_zpl
from rxdesk.rx.services.labels import label_send
from rxdesk.rx.services.workflow import fill_data_verify, fill_product
from tests.conftest import audit_count, last_event
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx

Behaviour = Callable[[socket.socket, threading.Event], None]


@contextmanager
def printer(behaviour: Behaviour) -> Iterator[int]:
    """A one-connection printer on a loopback port; yields its port. ``released`` is set
    when the test ends (a printer that "hangs" waits on it)."""
    released = threading.Event()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)

        def run() -> None:
            conn, _ = server.accept()
            with conn:
                behaviour(conn, released)

        def serve() -> None:
            with suppress(OSError):  # the test already failed; let it say why
                run()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield server.getsockname()[1]
        finally:
            released.set()
            thread.join(5)


def reads_everything(into: list[bytes]) -> Behaviour:
    def behaviour(conn: socket.socket, released: threading.Event) -> None:
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
        into.append(data)

    return behaviour


def drops_the_connection(conn: socket.socket, released: threading.Event) -> None:
    """Accepts, then resets the connection without reading a byte (a printer that rebooted)."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def reads_a_little_then_closes(conn: socket.socket, released: threading.Event) -> None:
    """Takes the first bytes of the label and closes with the rest unread (a jam)."""
    conn.recv(10)


def never_reads(conn: socket.socket, released: threading.Event) -> None:
    released.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ZPL = b"^XA^FO50,50^A0N,30,30^FDRx 1000-0^FS^XZ"


# --- the transport --------------------------------------------------------------------------


def test_a_good_printer_receives_the_exact_bytes():
    got: list[bytes] = []
    with printer(reads_everything(got)) as port:
        send_zpl("127.0.0.1", port, ZPL, timeout=2)
    assert got == [ZPL]


@pytest.mark.parametrize(
    "behaviour", [drops_the_connection, reads_a_little_then_closes], ids=["reset", "jam"]
)
def test_a_printer_that_drops_the_connection_is_a_failure_in_words(behaviour):
    with printer(behaviour) as port, pytest.raises(PrinterFailed) as failed:
        send_zpl("127.0.0.1", port, ZPL * 50, timeout=2)
    assert failed.value.message.startswith(f"The label printer at 127.0.0.1:{port} did not answer")
    assert failed.value.message.endswith("nothing was printed — check the printer and print again.")
    assert failed.value.field == "printer"


def test_a_printer_that_is_off_is_refused_at_once():
    port = free_port()
    start = time.monotonic()
    with pytest.raises(PrinterFailed, match="connection refused"):
        send_zpl("127.0.0.1", port, ZPL, timeout=2)
    assert time.monotonic() - start < 1


def test_a_printer_that_never_reads_times_out_within_the_limit():
    with printer(never_reads) as port:
        start = time.monotonic()
        with pytest.raises(PrinterFailed, match="stopped answering"):
            send_zpl("127.0.0.1", port, ZPL, timeout=0.5)
        elapsed = time.monotonic() - start
    assert 0.4 < elapsed < 1.5


def test_empty_label_data_is_a_programming_error():
    with pytest.raises(ValueError):
        send_zpl("127.0.0.1", free_port(), b"")


# --- the service: record only what left the printer ----------------------------------------


def _filled(technician, pharmacist) -> Fill:
    rx = make_rx(technician)
    stock(rx.site, rx.package, lot="LOT-A", quantity=100)
    fill = fill_data_verify(actor=pharmacist, fill=first_fill(rx))
    return fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)


def _printed(fill: Fill) -> tuple[int, int, int]:
    steps = FillEvent.objects.filter(
        fill=fill, step__in=[FillStep.LABEL_PRINTED, FillStep.LABEL_REPRINTED]
    ).count()
    return Fill.objects.get(pk=fill.pk).labels_printed, steps, audit_count()


def test_label_send_prints_then_records_the_first_print(technician, pharmacist):
    fill = _filled(technician, pharmacist)
    got: list[bytes] = []
    with printer(reads_everything(got)) as port:
        result = label_send(
            actor=technician, fill=fill, printer=Printer("127.0.0.1", port, timeout=2)
        )
    assert got == [result.zpl.encode("utf-8")]
    assert got[0].startswith(b"^XA") and got[0].rstrip().endswith(b"^XZ")
    assert result.reprint is False and result.fill.labels_printed == 1
    event = FillEvent.objects.filter(fill=fill).order_by("-pk").first()
    assert (event.step, event.actor) == (FillStep.LABEL_PRINTED, technician)
    assert last_event().action == "rx.label.printed"


@pytest.mark.parametrize(
    "behaviour",
    [drops_the_connection, reads_a_little_then_closes, never_reads, None],
    ids=["reset", "jam", "hang", "off"],
)
def test_a_failed_send_records_nothing_and_the_next_try_is_a_first_print(
    behaviour, technician, pharmacist
):
    fill = _filled(technician, pharmacist)
    before = _printed(fill)
    if behaviour is None:
        port = free_port()
        with pytest.raises(PrinterFailed) as failed:
            label_send(actor=technician, fill=fill, printer=Printer("127.0.0.1", port, 0.5))
    else:
        with printer(behaviour) as port, pytest.raises(PrinterFailed) as failed:
            label_send(actor=technician, fill=fill, printer=Printer("127.0.0.1", port, 0.5))
    assert f"The label printer at 127.0.0.1:{port} did not answer" in failed.value.message
    assert "nothing was printed — check the printer and print again" in failed.value.message
    assert _printed(fill) == before == (0, 0, before[2])

    # Printing again once the printer is back is a first print, not a reprint.
    got: list[bytes] = []
    with printer(reads_everything(got)) as port:
        again = label_send(actor=technician, fill=fill, printer=Printer("127.0.0.1", port, 2))
    assert again.reprint is False and len(got) == 1
    assert _printed(fill) == (1, 1, before[2] + 1)


def test_label_send_is_refused_to_the_auditor_and_sends_nothing(auditor, technician, pharmacist):
    fill = _filled(technician, pharmacist)
    before = _printed(fill)
    got: list[bytes] = []
    with printer(reads_everything(got)) as port:
        with pytest.raises(Forbidden):
            label_send(actor=auditor, fill=fill, printer=Printer("127.0.0.1", port, 0.5))
        # Let the printer thread finish: nothing connected, so wake it with an empty call.
        with socket.create_connection(("127.0.0.1", port)):
            pass
    assert got == [b""]
    assert _printed(fill) == before


# --- the workstation: the pharmacy's printer address and the Print button ---------------------


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        ("10.0.0.31", "10.0.0.31", 9100),
        ("zebra-1:9101", "zebra-1", 9101),
        (" [fd00::31]:9100 ", "fd00::31", 9100),
        ("fd00::31", "fd00::31", 9100),  # a bare IPv6 address has no port
    ],
)
def test_a_printer_address_is_read_as_host_and_port(address, host, port):
    assert parse_printer(address) == Printer(host, port)


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("zebra-1:0", "1 to 65535"),
        ("zebra-1:http", "1 to 65535"),
        ("[fd00::31", "brackets"),
        ("http://zebra-1/", "not a host"),
        ("", "Give the printer's address"),
    ],
)
def test_a_bad_printer_address_says_what_is_wrong(address, words):
    with pytest.raises(ValueError, match=words):
        parse_printer(address)


def test_the_pic_sets_the_printer_and_a_bad_address_is_refused_naming_the_field(pic):
    client = Client()
    client.force_login(pic)
    form = {
        "refill_threshold_percent": "80",
        "controlled_refill_threshold_percent": "90",
        "noncontrolled_expiry_months": "12",
        "cv_expiry_months": "12",
        "cii_expiry_days": "",
    }

    bad = client.post("/rx/settings/", {**form, "label_printer": "zebra-1:99999"})
    assert bad.status_code == 422
    assert "1 to 65535" in bad.content.decode()
    assert not RxSettings.objects.filter(site=pic.site).exclude(label_printer="").exists()

    good = client.post("/rx/settings/", {**form, "label_printer": "zebra-1:9100"})
    assert good.status_code == 302
    assert RxSettings.objects.get(site=pic.site).label_printer == "zebra-1:9100"
    assert last_event().action == "rx.settings.updated"


def _print_button(technician, fill: Fill, port: int):
    RxSettings.objects.update_or_create(
        site=fill.site, defaults={"label_printer": f"127.0.0.1:{port}"}
    )
    client = Client()
    client.force_login(technician)
    return client.post(f"/rx/fills/{fill.pk}/label/print/", follow=True)


def test_the_print_button_sends_the_label_to_the_pharmacys_printer(technician, pharmacist):
    fill = _filled(technician, pharmacist)
    got: list[bytes] = []
    with printer(reads_everything(got)) as port:
        page = _print_button(technician, fill, port)

    assert page.status_code == 200
    assert "the label went to the label printer" in page.content.decode()
    assert len(got) == 1 and got[0].startswith(b"^XA")
    assert _printed(fill)[:2] == (1, 1)


def test_the_print_button_says_when_the_printer_is_off_and_records_nothing(technician, pharmacist):
    fill = _filled(technician, pharmacist)
    before = _printed(fill)

    page = _print_button(technician, fill, free_port())

    text = page.content.decode()
    assert "The label was not printed: The label printer at 127.0.0.1:" in text
    assert "check the printer and print again" in text
    assert _printed(fill)[:2] == before[:2] == (0, 0)  # (signing in is audited, not a label)
    assert not AuditEvent.objects.filter(action__startswith="rx.label.").exists()
