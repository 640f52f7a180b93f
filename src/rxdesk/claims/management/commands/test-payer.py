"""``rxdesk test-payer --port P [--host H] [--rules FILE] [--state FILE]``: run the test
payer (an NCPDP D.0 adjudicator over TCP, :mod:`rxdesk.claims.testpayer`) until SIGTERM or
SIGINT.

The first line of output is exactly ``Test payer listening on HOST:PORT`` (port 0 asks the
system for a free port; the line gives the real one); then one line per claim. The command
touches no database."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rxdesk.claims.testpayer import DEFAULT_RULES, RulesError, load_rules, start_server

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class Command(BaseCommand):
    help = (
        "Run the test payer: a real NCPDP D.0 adjudicator on a TCP port, with the plan "
        "rules of --rules (JSON) or the built-in ones. Stops on SIGTERM or Ctrl-C."
    )
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free)")
        parser.add_argument("--rules", help="plan rules, a JSON file (default: built in)")
        parser.add_argument(
            "--state",
            help="keep the payer's memory of claims in this file across restarts",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        if not 0 <= port <= 65535:
            raise CommandError(f"--port {port} is not a TCP port (0 to 65535).")
        try:
            rules = load_rules(options["rules"]) if options["rules"] else DEFAULT_RULES
        except RulesError as error:
            raise CommandError(f"The rules cannot be used: {error}") from None

        lock = threading.Lock()

        def say(line: str) -> None:
            with lock:
                try:
                    sys.stdout.write(line + "\n")
                    sys.stdout.flush()
                except (OSError, ValueError):
                    pass  # nobody reads our output any more; keep answering claims

        # Block the stop signals before any thread starts (threads inherit the mask), then
        # wait for one in this thread: a clean stop with no handler racing the server.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            try:
                server = start_server(rules, options["host"], port, state=options["state"], log=say)
            except OSError as error:
                raise CommandError(
                    f"Cannot listen on {options['host']}:{port}: {error.strerror or error}"
                ) from None
            try:
                say(f"Test payer listening on {options['host']}:{server.port}")
                signal.sigwait(_STOP_SIGNALS)
            finally:
                server.close()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
