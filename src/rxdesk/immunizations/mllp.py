"""MLLP over TCP for the state registry: the client that sends one VXU and waits for its
ACK (:func:`send`), and a small threaded server (:class:`MllpServer`) that answers each
framed message with whatever its ``answer`` function returns — used by ``rxdesk
test-iis``. No database.

Framing: ``0x0B`` + message + ``0x1C 0x0D``; one reply per message on the same socket."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable

START, END = b"\x0b", b"\x1c\x0d"
MAX_FRAME = 1024 * 1024
CHUNK = 16 * 1024


class TransportError(Exception):
    """The message could not be delivered, or no reply came back (in words)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def frame(message: str) -> bytes:
    return START + message.encode("utf-8") + END


def send(host: str, port: int, message: str, timeout: float) -> str:
    """Send one framed message and return the text of the one framed reply.

    :class:`TransportError` when the registry cannot be reached, the connection breaks,
    no complete reply comes within ``timeout`` seconds, or the reply is not one frame."""
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise TransportError(f"No answer from {host}:{port} within {timeout:g} s.") from None
    except ConnectionRefusedError:
        raise TransportError(
            f"The registry at {host}:{port} refused the connection (is it running?)."
        ) from None
    except socket.gaierror:
        raise TransportError(f"The registry host {host!r} is not known.") from None
    except OSError as exc:
        raise TransportError(f"Cannot reach {host}:{port}: {exc.strerror or exc}.") from None
    with sock:
        try:
            sock.sendall(frame(message))
            return _read_reply(sock, deadline, timeout, f"{host}:{port}")
        except TimeoutError:
            raise TransportError(
                f"The registry at {host}:{port} sent no reply within {timeout:g} s."
            ) from None
        except OSError as exc:
            raise TransportError(
                f"The connection to {host}:{port} broke: {exc.strerror or exc}."
            ) from None


def _read_reply(sock: socket.socket, deadline: float, timeout: float, where: str) -> str:
    buffer = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(CHUNK)
        if not chunk:
            if buffer:
                raise TransportError(f"The registry at {where} closed the connection mid-reply.")
            raise TransportError(f"The registry at {where} closed the connection without a reply.")
        buffer += chunk
        if len(buffer) > MAX_FRAME:
            raise TransportError(f"The reply from {where} is larger than 1 MiB.")
        start = buffer.find(START)
        if start < 0:
            if buffer.strip(b"\r\n "):
                raise TransportError(f"The reply from {where} is not MLLP framed.")
            continue
        end = buffer.find(END, start)
        if end >= 0:
            return bytes(buffer[start + 1 : end]).decode("utf-8", errors="replace")


class FrameReader:
    """Splits a TCP stream into framed messages (bytes between 0x0B and 0x1C 0x0D);
    ``lost`` when bytes arrive outside a frame or a frame passes the size cap."""

    def __init__(self, limit: int = MAX_FRAME) -> None:
        self.buffer = bytearray()
        self.limit = limit
        self.lost = False

    def feed(self, chunk: bytes) -> list[bytes]:
        self.buffer += chunk
        out: list[bytes] = []
        while self.buffer and not self.lost:
            while self.buffer[:1] in (b"\r", b"\n"):
                del self.buffer[:1]
            if not self.buffer:
                break
            if self.buffer[:1] != START:
                self.lost = True
                break
            end = self.buffer.find(END)
            if end < 0:
                if len(self.buffer) > self.limit:
                    self.lost = True
                break
            out.append(bytes(self.buffer[1:end]))
            del self.buffer[: end + 2]
        return out


# answer(message bytes, peer) -> reply text to frame, or None to stay silent
Answer = Callable[[bytes, str], "str | None"]


class _Handler(socketserver.BaseRequestHandler):
    server: MllpServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(self.server.read_timeout)
        reader = FrameReader()
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        try:
            while True:
                chunk = sock.recv(CHUNK)
                if not chunk:
                    return
                for message in reader.feed(chunk):
                    reply = self.server.answer(message, peer)
                    if reply is not None:
                        sock.sendall(frame(reply))
                if reader.lost:
                    self.server.say(f"{peer}: framing lost, connection closed")
                    return
        except OSError:
            return


class MllpServer(socketserver.ThreadingTCPServer):
    """A threaded MLLP listener; ``start()`` serves in a background thread, ``close()``
    stops it. Port 0 binds a free port (``.port`` tells which)."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(
        self,
        answer: Answer,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        say: Callable[[str], None] | None = None,
        read_timeout: float = 60.0,
    ) -> None:
        self.answer = answer
        self.say = say or (lambda line: None)
        self.read_timeout = read_timeout
        self._thread: threading.Thread | None = None
        super().__init__((host, port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> MllpServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()
