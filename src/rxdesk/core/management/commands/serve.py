from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve rxdesk: `rxdesk serve [--host H --port P]` (default 127.0.0.1:8000)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        host = options["host"]
        addr = f"[{host}]" if ":" in host else host
        call_command(
            "runserver", f"{addr}:{options['port']}", use_reloader=False, use_threading=True
        )
