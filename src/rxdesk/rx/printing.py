"""Sending ZPL to a thermal label printer over raw TCP (the "port 9100" protocol Zebra and
most label printers speak): open a connection, write the bytes, close. The printer answers
nothing, so a label counts as sent only when every byte was written and the connection
closed cleanly; anything else is a ``PrinterFailed`` that says what to check."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from rxdesk.core.errors import DomainError

RAW_PORT = 9100
DEFAULT_TIMEOUT = 5.0


class PrinterFailed(DomainError):
    """The label printer did not take the label: nothing was printed."""

    code = "printer_failed"
    status = 503
    title = "Label printer not answering"


@dataclass(frozen=True)
class Printer:
    """Where a workstation's label printer listens."""

    host: str
    port: int = RAW_PORT
    timeout: float = DEFAULT_TIMEOUT

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_printer(address: str) -> Printer:
    """``host`` or ``host:port`` (IPv6 as ``[addr]:port``) as a :class:`Printer`; raises
    ValueError saying what is wrong."""
    text = address.strip()
    if not text:
        raise ValueError("Give the printer's address, e.g. 10.0.0.31 or zebra-1:9100.")
    if any(c.isspace() or c in "/@?#" for c in text):
        raise ValueError(
            "That is not a host name or IP address: write only the host and its port, "
            "e.g. zebra-1:9100."
        )
    host, port = text, RAW_PORT
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError("An IPv6 address goes in brackets, e.g. [fd00::31]:9100.")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError("Write the port after a colon, e.g. [fd00::31]:9100.")
            port = _port(rest[1:])
    elif text.count(":") == 1:
        host, raw = text.split(":")
        port = _port(raw)
    if not host or len(host) > 253:
        raise ValueError("That is not a host name or IP address.")
    return Printer(host=host, port=port)


def _port(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ValueError("The port is a number from 1 to 65535 (label printers use 9100).")
    return int(raw)


def _failed(host: str, port: int, why: str) -> PrinterFailed:
    return PrinterFailed(
        f"The label printer at {host}:{port} did not answer ({why}); nothing was printed "
        "— check the printer and print again.",
        field="printer",
        printer=f"{host}:{port}",
    )


def send_zpl(host: str, port: int, data: bytes, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Write ``data`` to the printer at ``host:port``, each step within ``timeout`` seconds.

    Raises ``PrinterFailed`` if the printer refuses the connection, does not accept it or
    the bytes in time, or closes before taking all of them."""
    if not data:
        raise ValueError("no label data to send")
    try:
        conn = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise _failed(host, port, "no connection within the time allowed") from None
    except ConnectionRefusedError:
        raise _failed(host, port, "connection refused") from None
    except OSError as exc:
        raise _failed(host, port, exc.strerror or "not reachable") from None
    try:
        with conn:
            conn.settimeout(timeout)
            sent = 0
            view = memoryview(data)
            while sent < len(data):
                written = conn.send(view[sent:])
                if written == 0:
                    raise _failed(host, port, "it stopped taking the label part way")
                sent += written
            # Half-close and wait for the printer's end: a printer that reset the
            # connection before reading every byte shows up here, not as a silent loss.
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(1024):
                pass
    except TimeoutError:
        raise _failed(host, port, "it stopped answering part way") from None
    except OSError as exc:
        raise _failed(host, port, exc.strerror or "the connection broke") from None
