"""``rxdesk import-cvx DIR [--user USERNAME]``: load the CDC immunization code sets."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.catalog.management import summary as words
from rxdesk.core.management.base import RxCommand
from rxdesk.core.management.progress import ProgressBar, raw
from rxdesk.core.models import User
from rxdesk.immunizations.services_catalog import catalog_import_cvx


class Command(RxCommand):
    help = (
        "Load the CDC vaccine code sets from a directory: CVX (cvx.xml), MVX (mvx.xml), "
        "vaccine groups (vac2vg.xml), the NDC crosswalks (NDC_Unit_sale.txt, "
        "NDC_Unit_use.txt, NDC_Linker.txt) and the VIS (vis.xml, cvxvis.xml, visurl.xml). "
        "Each NDC is linked to the drug catalog's package. Re-running it updates what "
        "changed; a bad file or line loads nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="the folder of CDC files")
        parser.add_argument(
            "--user", help="run as this user (needs catalog.import); default: the operator"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = None
        if options["user"]:
            actor = User.objects.filter(username=options["user"], is_active=True).first()
            if actor is None:
                raise CommandError(f"No active user {options['user']!r}.")
        started = time.perf_counter()
        self.stderr.write("Reading the CDC files…")
        bar = None if options["no_progress"] else ProgressBar(raw(self.stderr), label="Loading")
        try:
            result = catalog_import_cvx(actor=actor, directory=options["directory"], progress=bar)
        finally:
            if bar is not None:
                bar.close()
        took = words.seconds(time.perf_counter() - started)
        self.stdout.write(f"Loaded {result.words()} in {took}.")
        self.stdout.write(f"Changes: {result.changes()}.")
        if result.repeated_ndcs:
            self.stdout.write(
                f"{result.repeated_ndcs} NDC row(s) listed again under another CVX: "
                "the first listing was kept."
            )
        if result.dangling_links:
            self.stdout.write(
                f"{result.dangling_links} link(s) of NDC_Linker.txt name a row no longer in "
                "the crosswalks: skipped."
            )
        if not result.audited:
            self.stdout.write(
                "No pharmacy site exists yet, so this import is recorded in no audit chain."
            )
