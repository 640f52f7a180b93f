"""``rxdesk import-fhir FILE_OR_DIR``: load patients, allergies, conditions, medication
history and historical immunizations from FHIR R4 files (bundles, single resources, NDJSON).

The operator at the server's shell runs the import (``actor=None``); the rows are recorded as
the site's pharmacist-in-charge, or as ``--username U`` (who needs ``fhir.import``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.management.base import RxCommand
from rxdesk.core.management.progress import ProgressBar, raw
from rxdesk.core.models import Site, User
from rxdesk.core.services import site_default
from rxdesk.fhir.importer import fhir_import, files_failed, summary_lines


class Command(RxCommand):
    help = (
        "Import patients, allergies, conditions, medication history and immunizations from "
        "FHIR R4 files: a Bundle or resource (.json), NDJSON (.ndjson), or a folder of them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="a .json or .ndjson file, or a folder of them")
        parser.add_argument("--site", type=int, help="site id (default: the first site)")
        parser.add_argument(
            "--username",
            help=(
                "import as this user (a pharmacist-in-charge); without it the rows are "
                "recorded as the site's pharmacist-in-charge and the run as the operator"
            ),
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        actor = None
        site = self._site(options.get("site"))
        if options.get("username"):
            actor = User.objects.filter(username=options["username"], is_active=True).first()
            if actor is None:
                raise CommandError(f"No active user {options['username']!r}.")
            if options.get("site") is None:
                site = actor.site
        if site is None:
            raise CommandError("There is no pharmacy yet: create the site first.")
        started = time.perf_counter()
        bar = None if options["no_progress"] else ProgressBar(raw(self.stderr), label="Importing")
        try:
            run = fhir_import(actor=actor, path=path, site=site, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        for line in summary_lines(run, time.perf_counter() - started):
            self.stdout.write(line)
        failed = files_failed(run)
        if failed:
            rest = "no file was" if failed == run.files else "the other files were"
            raise CommandError(
                f"{failed:,} file{'' if failed == 1 else 's'} not imported (see above); {rest}.",
                returncode=1,
            )

    def _site(self, site_id: int | None) -> Site | None:
        if site_id is None:
            return site_default()
        site = Site.objects.filter(pk=site_id).first() if 0 < site_id < 2**63 else None
        if site is None:
            raise CommandError(f"No site {site_id}.")
        return site
