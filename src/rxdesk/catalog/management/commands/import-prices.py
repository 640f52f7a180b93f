"""``rxdesk import-prices CSV_FILE``: load package prices (acquisition, list, U&C)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandParser

from rxdesk.catalog.management import summary
from rxdesk.catalog.services import catalog_import_prices, import_details
from rxdesk.core.management.base import RxCommand
from rxdesk.core.services import site_default


class Command(RxCommand):
    help = (
        "Load package prices from a CSV file with the header ndc,price_type,price,"
        "effective_date (price_type: acquisition, list or usual_customary). History is kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv_file", help="the price file (CSV)")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        run = catalog_import_prices(actor=None, csv_file=options["csv_file"])
        details = import_details(run)
        took = summary.seconds(time.perf_counter() - started)
        self.stdout.write(
            f"Loaded {summary.counts('prices', details['prices'], with_gone=False)} in {took}."
        )
        for line in summary.refused(run):
            self.stdout.write(line)
        if site_default() is None:
            self.stdout.write(summary.NO_SITE.format(pk=run.pk))
