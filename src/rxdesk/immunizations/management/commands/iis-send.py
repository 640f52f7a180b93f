"""``rxdesk iis-send [--site ID] [--limit N]``: send the immunization messages that are due
to each site's state registry (cron-friendly). One line per site in words, then a summary.

Exit status 0 unless the database cannot be reached (a registry that does not answer is
not an error of this command: the messages are marked not delivered and retried later)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError, OperationalError

from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site
from rxdesk.immunizations.choices import Transport
from rxdesk.immunizations.models import ImmunizationSettings
from rxdesk.immunizations.services_registry import registry_send_due


class Command(RxCommand):
    help = "Send the immunization messages that are due to the state registry, for each site."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", type=int, help="only this site (its id)")
        parser.add_argument("--limit", type=int, default=100, help="messages per site (1-1000)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            sites = list(Site.objects.order_by("pk"))
            configured = set(
                ImmunizationSettings.objects.exclude(transport=Transport.NONE).values_list(
                    "site_id", flat=True
                )
            )
        except (OperationalError, DatabaseError) as error:
            raise CommandError(f"The database cannot be reached: {error}") from None
        if options["site"] is not None:
            sites = [s for s in sites if s.pk == options["site"]]
            if not sites:
                raise CommandError(f"There is no site {options['site']}.")
        totals = {"sent": 0, "accepted": 0, "problems": 0}
        for n, site in enumerate(sites, start=1):
            if options["site"] is None and site.pk not in configured:
                continue
            try:
                summary = registry_send_due(actor=None, site=site, limit=options["limit"])
            except (OperationalError, DatabaseError) as error:
                raise CommandError(f"The database cannot be reached: {error}") from None
            totals["sent"] += summary.sent
            totals["accepted"] += summary.accepted + summary.warnings
            totals["problems"] += summary.rejected + summary.failed + summary.gave_up
            self.stdout.write(
                f"[{n}/{len(sites)}] {site.name} (site {site.pk}): {summary.in_words()}"
            )
            for problem in summary.problems:
                self.stdout.write(f"    {problem}")
        self.stdout.write(
            f"Done: {totals['sent']} sent, {totals['accepted']} accepted, "
            f"{totals['problems']} need attention."
        )
