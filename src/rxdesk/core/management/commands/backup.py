from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connections, transaction

from rxdesk.core.audit import audit_record
from rxdesk.core.backup import Database, backup_create, backup_verify
from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site
from rxdesk.core.retention import backups_prune


class Command(RxCommand):
    help = (
        "Back up the database: `rxdesk backup [DIR]` writes a backup and its manifest; "
        "`rxdesk backup --verify FILE` checks one without restoring; "
        "`rxdesk backup prune --keep-days N DIR` removes old backup files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("words", nargs="*", help="[DIR] or: prune DIR")
        parser.add_argument("--verify", metavar="FILE", help="Check a backup file")
        parser.add_argument("--keep-days", type=int, help="prune: keep backups this many days")

    def handle(self, *args: Any, **options: Any) -> None:
        words: list[str] = options["words"]
        db = Database.from_settings(settings.DATABASES["default"])
        if options["verify"]:
            self._verify(Path(options["verify"]), db)
        elif words[:1] == ["prune"]:
            if len(words) != 2 or options["keep_days"] is None:
                raise CommandError("Say how long to keep backups: backup prune --keep-days N DIR")
            self._prune(Path(words[1]), options["keep_days"])
        elif len(words) > 1:
            raise CommandError("Give one folder to write the backup into.")
        else:
            self._backup(Path(words[0]) if words else settings.VAR_DIR / "backups", db)

    def _backup(self, directory: Path, db: Database) -> None:
        self.stdout.write(f"Backing up the {db.vendor} database into {directory} …")
        connections.close_all()
        outcome = backup_create(db, directory)
        figures = outcome.manifest["figures"]
        with transaction.atomic():
            for site in Site.objects.order_by("pk"):
                audit_record(
                    actor=None,
                    site=site,
                    action="backup.created",
                    object_type="backup",
                    object_id=outcome.dump.name[:40],
                    data={"file": outcome.dump.name, "sha256": outcome.manifest["sha256"]},
                )
        moves = sum(s["stock_moves"] for s in figures["sites"].values())
        events = sum(s["audit_events"] for s in figures["sites"].values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written: {outcome.dump} ({outcome.manifest['size_bytes']:,} bytes) — "
                f"{outcome.site_count} sites, {events} audit events, {moves} stock moves. "
                f"Keep {outcome.dump.name}.manifest.json beside it."
            )
        )

    def _verify(self, path: Path, db: Database) -> None:
        self.stdout.write(f"Checking the backup {path} …")
        outcome = backup_verify(path, server=db)
        if not outcome.ok:
            for line in outcome.differences:
                self.stdout.write(self.style.ERROR(line))
            raise CommandError("The backup does NOT match its manifest (see above).")
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup verified: checksum good, audit chains intact ({outcome.site_count} "
                "sites, heads match), ledger sums match."
            )
        )

    def _prune(self, directory: Path, keep_days: int) -> None:
        removed = backups_prune(directory, keep_days=keep_days)
        if not removed:
            self.stdout.write("No backup was old enough to remove.")
        for path in removed:
            self.stdout.write(f"Removed {path.name}")
