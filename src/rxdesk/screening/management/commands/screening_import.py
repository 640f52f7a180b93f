"""``rxdesk screening_import FILE --key K --name N``: load (replace) one interaction
knowledge source from a CSV file in rxdesk's format (README, "Clinical screening")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.management.base import RxCommand
from rxdesk.screening.kb import kb_import


class Command(RxCommand):
    help = (
        "Replace the rules of one interaction knowledge source by those of a CSV file "
        "(all or nothing; a bad line is named and nothing changes)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv_file", help="the knowledge base (CSV, UTF-8)")
        parser.add_argument("--key", required=True, help="the source's short key, e.g. fdb")
        parser.add_argument("--name", required=True, help="named on every alert it raises")
        parser.add_argument("--citation", default="")
        parser.add_argument("--license", default="")
        parser.add_argument(
            "--kb-version", dest="kb_version", default="", help="the source's version"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["csv_file"])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from None
        result = kb_import(
            actor=None,
            source_key=options["key"],
            name=options["name"],
            csv_text=text,
            citation=options["citation"],
            license=options["license"],
            version=options["kb_version"],
        )
        self.stdout.write(
            f"{result.source_key}: {result.rules} rules, {result.members} members, "
            f"{result.classes} classes loaded (replaced {result.replaced})."
        )
