"""``rxdesk db-optimize``: refresh the query planner's statistics (nightly)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.db import DEFAULT_DB_ALIAS

from rxdesk.core.maintenance import db_optimize
from rxdesk.core.management.base import RxCommand


class Command(RxCommand):
    help = (
        "Refresh the database's statistics so that searches use the right indexes: ANALYZE "
        "and PRAGMA optimize on SQLite, ANALYZE on PostgreSQL. Run it nightly and after a "
        "large import."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="database alias")

    def handle(self, *args: Any, **options: Any) -> None:
        for line in db_optimize(options["database"]):
            self.stdout.write(line)
