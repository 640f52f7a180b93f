"""``rxdesk test-iis --port P [--host 127.0.0.1] [--reject {none,all,odd}]
[--answer {valid,garbage,silent}]``: a test state registry (IIS) listening for HL7 VXU
messages over MLLP, for tests and the demo.

Each VXU is validated with hl7apy (STRICT, v2.5.1 VXU_V04) and answered AA, or AE with ERR
segments naming what failed (or a warning such as a dose without a body site); ``--reject
all`` answers AR to every message, ``--reject odd`` to the 1st, 3rd, 5th…; ``--answer
garbage`` replies with text that is not HL7, ``--answer silent`` never replies (the sender
times out). The first line is ``Test registry listening on HOST:PORT`` (port 0: a free
port; the line gives it), then one line per message. Ctrl-C or SIGTERM stops it. No
database is used."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rxdesk.immunizations.mllp import MllpServer
from rxdesk.immunizations.registry_testiis import ANSWER, REJECT, TestRegistry

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class Command(BaseCommand):
    help = "Run a test state registry (IIS): HL7 VXU over MLLP, answered with ACKs."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free)")
        parser.add_argument("--reject", choices=REJECT, default="none", help="answer AR to …")
        parser.add_argument("--answer", choices=ANSWER, default="valid", help="reply kind")

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        if not 0 <= port <= 65535:
            raise CommandError(f"--port {port} is not a TCP port (0 to 65535).")
        brain = TestRegistry(reject=options["reject"], answer=options["answer"])
        lock = threading.Lock()

        def say(line: str) -> None:
            with lock:
                try:
                    sys.stdout.write(line + "\n")
                    sys.stdout.flush()
                except (OSError, ValueError):
                    pass

        def answer(data: bytes, peer: str) -> str | None:
            reply, verdict = brain.answer(data)
            told = verdict.line() if reply is not None else f"{verdict.control_id} (no reply)"
            say(f"{peer}: {told}")
            return reply

        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            try:
                server = MllpServer(answer, host=options["host"], port=port, say=say)
            except OSError as error:
                raise CommandError(
                    f"Cannot listen on {options['host']}:{port}: {error.strerror or error}"
                ) from None
            server.start()
            try:
                say(f"Test registry listening on {options['host']}:{server.port}")
                signal.sigwait(_STOP_SIGNALS)
                say("Stopping.")
            finally:
                server.close()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
