"""``rxdesk adc-listener --user USERNAME [--host 127.0.0.1] [--port 6661] [--once]``: receive
the dispensing cabinets' HL7 DFT^P03 messages over MLLP/TCP and apply each one to the
cabinet ledger as that user (who must hold adc.import), answering each with its ACK.

The interface (message, fields, ACK) is specified in rxdesk.institutional.adc_hl7; the
work on each message is rxdesk.institutional.services_feeds.listener_handle. A connection
may carry many messages, read with a size cap (64 KiB a message) and a timeout; a
connection that loses the framing (bytes outside 0x0B … 0x1C 0x0D, a frame past the cap)
gets one AR ACK and is closed. The first line printed is ``Cabinet listener on HOST:PORT
as USERNAME`` (port 0 asks the system for a free port; the line gives the real one), then
one line per message in words, e.g. ``3W-1: 3 transactions applied, 1 discrepancy
opened``. Stops cleanly on Ctrl-C or SIGTERM; with ``--once`` after the first
connection closes."""

from __future__ import annotations

import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import close_old_connections, connection

from rxdesk.core import context
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import User
from rxdesk.institutional import adc_hl7
from rxdesk.institutional.services_feeds import listener_handle

READ_TIMEOUT = 60.0  # seconds a connection may stay silent
CHUNK = 16 * 1024
LOST = "Framing lost: each message must be sent as 0x0B … 0x1C 0x0D; the connection is closed."
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class _Handler(socketserver.BaseRequestHandler):
    server: ListenerServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(self.server.timeout_seconds)
        reader = adc_hl7.FrameReader()
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        try:
            while True:
                try:
                    chunk = sock.recv(CHUNK)
                except (TimeoutError, OSError):
                    return
                if not chunk:
                    return
                for framed in reader.feed(chunk):
                    sock.sendall(self.server.answer(framed, peer))
                if reader.lost:
                    self.server.say(f"{peer}: framing lost, connection closed (AR)")
                    sock.sendall(adc_hl7.frame(adc_hl7.ack("", "AR", LOST)))
                    return
        except OSError:
            return
        finally:
            connection.close()  # this thread's database connection


class ListenerServer(socketserver.ThreadingTCPServer):
    """The MLLP front of listener_handle: one thread per connection."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(
        self,
        *,
        user_id: int,
        host: str = "127.0.0.1",
        port: int = 0,
        say: Callable[[str], None] | None = None,
        timeout_seconds: float = READ_TIMEOUT,
    ) -> None:
        self.user_id = user_id
        self.say = say or (lambda line: None)
        self.timeout_seconds = timeout_seconds
        self._thread: threading.Thread | None = None
        super().__init__((host, port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def answer(self, framed: bytes, peer: str) -> bytes:
        """The framed ACK of one framed message, the user read afresh (a role changed or an
        account closed since the start takes effect at once)."""
        close_old_connections()
        try:
            actor = User.objects.filter(pk=self.user_id, is_active=True).first()
            if actor is None or not has(actor, Cap.ADC_IMPORT):
                text = "The listener's user may no longer import cabinet activity."
                self.say(f"{peer}: refused (AE): {text}")
                control = adc_hl7.control_id_of(framed.strip(b"\x0b\x1c\r"))
                return adc_hl7.frame(adc_hl7.ack(control, "AE", text))
            info = context.RequestInfo(
                request_id=context.new_request_id(),
                client_addr=f"mllp:{peer}"[:45],
                channel="system",
            )
            with context.using(info):
                return listener_handle(actor=actor, data=framed, say=self.say)
        finally:
            close_old_connections()

    def start(self) -> ListenerServer:
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


def start_listener(
    *,
    user: User,
    host: str = "127.0.0.1",
    port: int = 0,
    say: Callable[[str], None] | None = None,
    timeout_seconds: float = READ_TIMEOUT,
) -> ListenerServer:
    """Bind (OSError if the port is taken) and serve in a background thread; ``close()``
    the result to stop."""
    return ListenerServer(
        user_id=user.pk, host=host, port=port, say=say, timeout_seconds=timeout_seconds
    ).start()


class Command(RxCommand):
    help = (
        "Receive the dispensing cabinets' HL7 DFT^P03 messages over MLLP/TCP and apply them "
        "as --user (who must hold adc.import). Stops on Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=6661, help="TCP port (0: any free)")
        parser.add_argument("--user", required=True, help="the rxdesk user the cabinets act as")
        parser.add_argument(
            "--once", action="store_true", help="stop after the first connection closes"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        if not 0 <= port <= 65535:
            raise CommandError(f"--port {port} is not a TCP port (0 to 65535).")
        user = User.objects.filter(username=options["user"]).first()
        if user is None or not user.is_active:
            raise CommandError(f"There is no active user {options['user']!r}.")
        if not has(user, Cap.ADC_IMPORT):
            raise CommandError(
                f"{user.username} may not import cabinet activity (adc.import): use a "
                "technician's or pharmacist's account."
            )
        lock = threading.Lock()

        def say(line: str) -> None:
            with lock:
                try:
                    self.stdout.write(line)
                    self.stdout.flush()
                except (OSError, ValueError):
                    pass

        if options["once"]:
            self._once(user, options["host"], port, say)
            return
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            server = self._bind(user, options["host"], port, say)
            server.start()
            try:
                say(f"Cabinet listener on {options['host']}:{server.port} as {user.username}")
                signal.sigwait(_STOP_SIGNALS)
                say("Stopping.")
            finally:
                server.close()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)

    def _bind(self, user: User, host: str, port: int, say: Callable[[str], None]) -> ListenerServer:
        try:
            return ListenerServer(user_id=user.pk, host=host, port=port, say=say)
        except OSError as error:
            raise CommandError(
                f"Cannot listen on {host}:{port}: {error.strerror or error}"
            ) from None

    def _once(self, user: User, host: str, port: int, say: Callable[[str], None]) -> None:
        server = self._bind(user, host, port, say)
        server.daemon_threads = False  # server_close() waits for the connection to finish
        try:
            say(f"Cabinet listener on {host}:{server.port} as {user.username}")
            sys.stdout.flush()
            server.handle_request()
        except KeyboardInterrupt:
            say("Stopping.")
        finally:
            server.server_close()
