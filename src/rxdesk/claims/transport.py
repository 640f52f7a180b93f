"""The TCP client that carries a D.0 message to the plan's switch and brings its answer back.

D.0 has no envelope of its own (reference §1.4: "the switch adds its own envelope"). Ours is
the common one: STX (0x02), the D.0 bytes, ETX (0x03). One connection per exchange: connect,
send one framed request, read one framed answer, close. A frame is at most 64 KiB.

What matters to billing is whether a request may have reached the payer. Every network
failure is a :class:`SwitchError` whose ``sent`` says so:

- :class:`SwitchUnreachable` (``sent=False``): the connection was never made (refused, the
  address does not resolve, no answer to the connection attempt). The claim did not leave
  the pharmacy; sending it again later cannot pay it twice.
- :class:`SwitchNoAnswer` (``sent=True``): the request was written (or its writing began),
  and then no usable answer came back: timeout, connection closed, answer cut short,
  oversized or without its start marker. The payer may have paid the claim: the outcome is
  unknown until the claim is sent again (the payer answers a duplicate with the original).

Pure standard library; no Django. ``timeout`` is a deadline for the whole exchange (connect,
send and the wait for the complete answer), not a per-read limit: a switch trickling one
byte a second cannot hold a technician at the counter past it.
"""

from __future__ import annotations

import socket
import time

__all__ = [
    "ETX",
    "MAX_FRAME",
    "STX",
    "SwitchError",
    "SwitchNoAnswer",
    "SwitchUnreachable",
    "exchange",
    "frame",
]

STX = 0x02
ETX = 0x03
MAX_FRAME = 64 * 1024  # bytes of D.0 between STX and ETX
_RECV_SIZE = 16 * 1024


class SwitchError(Exception):
    """The switch could not be used. ``str()`` is a reason a technician can read out to the
    help desk; ``sent`` tells whether the request may have reached the payer."""

    sent: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SwitchUnreachable(SwitchError):
    """No connection was made: nothing left the pharmacy."""

    sent = False


class SwitchNoAnswer(SwitchError):
    """The request was sent, then no usable answer came: the outcome is unknown."""

    sent = True


def frame(message: bytes) -> bytes:
    """STX + message + ETX. A message that holds STX or ETX, or is over 64 KiB, cannot be
    framed (ValueError): D.0 text never holds those bytes, so it is a programming error."""
    if not isinstance(message, bytes | bytearray):
        raise TypeError(f"a message is bytes, not {type(message).__name__}")
    if len(message) > MAX_FRAME:
        raise ValueError(f"the message is {len(message)} bytes; a frame holds at most {MAX_FRAME}")
    if STX in message or ETX in message:
        raise ValueError("the message holds an STX or ETX byte and cannot be framed")
    return bytes((STX,)) + bytes(message) + bytes((ETX,))


def _seconds(value: float) -> str:
    return f"{value:g} s"


def exchange(host: str, port: int, message: bytes, *, timeout: float) -> bytes:
    """Send one D.0 request to the switch at ``host:port`` and return its answer (the bytes
    between STX and ETX). Raises :class:`SwitchUnreachable` or :class:`SwitchNoAnswer` for
    any network trouble, and nothing else for it."""
    data = frame(message)
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    where = f"{host}:{port}"
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror:
        raise SwitchUnreachable(
            f"The switch address {host!r} cannot be found (check the plan's switch settings)."
        ) from None
    except ConnectionRefusedError:
        raise SwitchUnreachable(f"The switch at {where} refused the connection.") from None
    except TimeoutError:
        raise SwitchUnreachable(
            f"The switch at {where} did not take the connection within {_seconds(timeout)}."
        ) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SwitchUnreachable(f"The switch at {where} cannot be reached ({reason}).") from None
    with sock:
        try:
            _send(sock, data, deadline)
            return _receive(sock, deadline, where)
        except TimeoutError:
            raise SwitchNoAnswer(
                f"No answer from the switch within {_seconds(timeout)}; the claim may have "
                "reached the payer."
            ) from None
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise SwitchNoAnswer(
                f"The connection to the switch at {where} broke ({reason}) before its answer "
                "came; the claim may have reached the payer."
            ) from None


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _send(sock: socket.socket, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    while view:
        sock.settimeout(_remaining(deadline))
        sent = sock.send(view)
        view = view[sent:]


def _receive(sock: socket.socket, deadline: float, where: str) -> bytes:
    buffer = bytearray()
    while True:
        sock.settimeout(_remaining(deadline))
        chunk = sock.recv(_RECV_SIZE)
        if not chunk:
            if not buffer:
                raise SwitchNoAnswer(
                    f"The switch at {where} closed the connection without answering; the "
                    "claim may have reached the payer."
                )
            raise SwitchNoAnswer(
                f"The switch's answer was cut short ({len(buffer)} bytes, no end marker); the "
                "claim may have reached the payer."
            )
        if not buffer and chunk[0] != STX:
            raise SwitchNoAnswer(
                "The switch's answer does not start with the start marker (STX); it was not "
                "read and the claim may have reached the payer."
            )
        start = len(buffer)
        buffer += chunk
        end = buffer.find(ETX, max(start, 1))
        if end > MAX_FRAME + 1 or (end < 0 and len(buffer) > MAX_FRAME + 1):
            raise SwitchNoAnswer(
                f"The switch's answer is larger than {MAX_FRAME // 1024} KiB; it was not read "
                "and the claim may have reached the payer."
            )
        if end >= 0:
            payload = bytes(buffer[1:end])
            if STX in payload:
                raise SwitchNoAnswer(
                    "The switch's answer holds a second start marker (STX); it was not read "
                    "and the claim may have reached the payer."
                )
            return payload
