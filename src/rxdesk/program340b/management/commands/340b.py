"""``rxdesk 340b capture [--site ID] [--through YYYY-MM-DD]``: decide the fills sold since
the last run and accumulate the 340B-eligible ones (and reverse those returned to stock).
For cron: run it nightly; a second run adds nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.errors import DomainError
from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site
from rxdesk.program340b import rules, services
from rxdesk.program340b.models import CoveredEntity


class Command(RxCommand):
    help = "340B: 'capture' decides sold fills and accumulates the eligible ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["capture"])
        parser.add_argument("--site", type=int, help="Site id (default: every site with an entity)")
        parser.add_argument("--through", help="Last day dispensed to capture (YYYY-MM-DD)")

    def handle(self, *args: Any, **options: Any) -> None:
        through = None
        if options["through"]:
            try:
                through = dt.date.fromisoformat(options["through"])
            except ValueError:
                raise CommandError("Give --through as YYYY-MM-DD.") from None
        if options["site"] is not None:
            site = Site.objects.filter(pk=options["site"]).first()
            if site is None:
                raise CommandError(f"No site {options['site']}.")
            sites = [site]
        else:
            ids = CoveredEntity.objects.values_list("site_id", flat=True)
            sites = list(Site.objects.filter(pk__in=ids).order_by("pk"))
            if not sites:
                self.stdout.write("No pharmacy has a 340B covered entity set up.")
                return
        failed = 0
        for site in sites:
            try:
                result = services.p340b_capture(actor=None, site=site, through=through)
            except DomainError as exc:
                failed += 1
                self.stderr.write(f"{site.name}: not captured: {exc.message}")
                continue
            self.stdout.write(f"{site.name}: {result.summary()}")
            for ndc, units in sorted(result.units_by_ndc.items()):
                sign = "+" if units > 0 else ""
                self.stdout.write(f"  NDC {ndc}: {sign}{rules.units_text(units)} units")
        if failed:
            raise CommandError(f"{failed} pharmacy(ies) could not be captured.")
