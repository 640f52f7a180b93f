"""``rxdesk people-alerts [--site ID] [--days N]``: the registrations, certifications,
licenses, competencies and CE hours that have lapsed or lapse soon, in words — for cron
(exit 0 whatever it finds; a missing site is the only error)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site
from rxdesk.people.queries import lapse_alerts


class Command(RxCommand):
    help = (
        "List what lapses within each site's alert window (people and training settings) "
        "and what has lapsed already: lapsed first, then soonest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", type=int, help="one site's id (default: every site)")
        parser.add_argument(
            "--today", type=dt.date.fromisoformat, help="as if on this day (YYYY-MM-DD)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sites = Site.objects.order_by("pk")
        if options["site"] is not None:
            sites = sites.filter(pk=options["site"])
            if not sites.exists():
                raise CommandError(f"No site {options['site']}.")
        for site in sites:
            today = options["today"] or site.today()
            alerts = lapse_alerts(site, today)
            if not alerts:
                self.stdout.write(f"{site.name}: nothing lapses soon.")
                continue
            lapsed = sum(1 for a in alerts if a.lapsed)
            self.stdout.write(
                f"{site.name}: {lapsed} lapsed, {len(alerts) - lapsed} due soon "
                f"(as of {today:%m/%d/%Y})."
            )
            for a in alerts:
                self.stdout.write(f"  {'LAPSED ' if a.lapsed else 'due    '}{a.words(today)}")
