from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connections, transaction

from rxdesk.core.audit import audit_record, audit_verify
from rxdesk.core.backup import Database, backup_restore
from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site


class Command(RxCommand):
    help = "Restore a backup made by `rxdesk backup`, then verify it against its manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The backup file (or its .manifest.json)")
        parser.add_argument(
            "--force", action="store_true", help="Replace a database that already holds records"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        db = Database.from_settings(settings.DATABASES["default"])
        path = Path(options["file"])
        self.stdout.write(f"Restoring {path.name} into the {db.vendor} database …")
        connections.close_all()
        outcome = backup_restore(path, db, force=options["force"])
        connections.close_all()
        # The same walk `rxdesk audit verify` makes, through the ORM, on the restored data.
        problems = list(outcome.differences)
        problems += [f"Audit chain BROKEN at {r.broken}" for r in audit_verify() if not r.intact]
        with transaction.atomic():
            for site in Site.objects.order_by("pk"):
                audit_record(
                    actor=None,
                    site=site,
                    action="backup.restored",
                    object_type="backup",
                    object_id=outcome.dump.name[:40],
                    data={"file": outcome.dump.name, "verified": not problems},
                )
        if problems:
            for line in problems:
                self.stdout.write(self.style.ERROR(line))
            raise CommandError("Restored, but the database does NOT match the backup (see above).")
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored and verified: audit chains intact ({outcome.site_count} sites, heads "
                "match), ledger sums match."
            )
        )
