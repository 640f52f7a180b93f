"""``rxdesk import-te DIR``: load Drugs@FDA products and Orange Book TE codes."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandParser

from rxdesk.catalog.management import summary
from rxdesk.catalog.services import catalog_import_te, import_details
from rxdesk.core.management.base import RxCommand
from rxdesk.core.management.progress import ProgressBar, raw
from rxdesk.core.services import site_default


class Command(RxCommand):
    help = (
        "Load therapeutic-equivalence (TE) codes from an extracted Drugs@FDA folder "
        "(Products.txt, TE.txt, MarketingStatus_Lookup.txt, MarketingStatus.txt)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="the folder of the extracted Drugs@FDA zip")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        bar = None if options["no_progress"] else ProgressBar(raw(self.stderr), label="Loading")
        try:
            run = catalog_import_te(actor=None, directory=options["directory"], progress=bar)
        finally:
            if bar is not None:
                bar.close()
        details = import_details(run)
        took = summary.seconds(time.perf_counter() - started)
        loaded = summary.counts("Drugs@FDA products", details["applications"], with_gone=False)
        self.stdout.write(
            f"Loaded {loaded} in {took}; "
            f"{details['linked_products']:,} active NDC products link to them."
        )
        for line in summary.refused(run):
            self.stdout.write(line)
        if site_default() is None:
            self.stdout.write(summary.NO_SITE.format(pk=run.pk))
