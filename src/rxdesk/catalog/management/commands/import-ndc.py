"""``rxdesk import-ndc PRODUCT_FILE PACKAGE_FILE``: load the FDA NDC Directory."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandParser

from rxdesk.catalog.management import summary
from rxdesk.catalog.services import catalog_import_ndc, import_details
from rxdesk.core.maintenance import db_optimize
from rxdesk.core.management.base import RxCommand
from rxdesk.core.management.progress import ProgressBar, raw
from rxdesk.core.services import site_default


class Command(RxCommand):
    help = (
        "Load the FDA NDC Directory (product.txt and package.txt, tab-separated, as FDA "
        "publishes them). Re-running it updates what changed and marks products and "
        "packages no longer listed as inactive; bad lines are listed and skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("product_file", help="FDA product.txt")
        parser.add_argument("package_file", help="FDA package.txt")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        self.stderr.write("Reading the NDC Directory files…")
        bar = None if options["no_progress"] else ProgressBar(raw(self.stderr), label="Loading")
        try:
            run = catalog_import_ndc(
                actor=None,
                product_file=options["product_file"],
                package_file=options["package_file"],
                progress=bar,
            )
        finally:
            if bar is not None:
                bar.close()
        details = import_details(run)
        took = summary.seconds(time.perf_counter() - started)
        self.stdout.write(
            f"Loaded {summary.counts('products', details['products'])} and "
            f"{summary.counts('packages', details['packages'])} in {took}."
        )
        for line in summary.refused(run):
            self.stdout.write(line)
        if site_default() is None:
            self.stdout.write(summary.NO_SITE.format(pk=run.pk))
        # Thousands of rows just changed: the planner's statistics are stale.
        for line in db_optimize():
            self.stderr.write(line)
