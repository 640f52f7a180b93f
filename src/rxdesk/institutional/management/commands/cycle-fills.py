"""``rxdesk cycle-fills --user USERNAME [--site ID] [--date YYYY-MM-DD] [--dry-run]``:
generate every long-term-care cycle due (within each schedule's lead days). Run each
morning; a cycle already generated is not generated again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.errors import DomainError
from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site, User
from rxdesk.institutional import services_cycles as services


class Command(RxCommand):
    help = (
        "Generate the long-term-care cycle fills due (each active schedule's next cycle "
        "starting within its lead days), as the user given. --dry-run lists them only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="The technician or pharmacist")
        parser.add_argument("--site", type=int, help="Site id (default: the user's)")
        parser.add_argument("--date", help="Take this day as today (YYYY-MM-DD)")
        parser.add_argument("--dry-run", action="store_true", help="List what is due only")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = User.objects.filter(username=options["user"], is_active=True).first()
        if actor is None:
            raise CommandError(f"No active user {options['user']!r}.")
        site: Site | None = actor.site
        if options["site"] is not None:
            site = Site.objects.filter(pk=options["site"]).first()
            if site is None:
                raise CommandError(f"No site {options['site']}.")
        if site is None:
            raise CommandError(f"{actor.username} is not attached to a pharmacy.")
        today = None
        if options["date"]:
            try:
                today = dt.date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError("Give --date as YYYY-MM-DD.") from None
        due = services.cycles_due(actor=actor, site=site, today=today)
        if not due:
            self.stdout.write("No cycle is due.")
            return
        made = failed = 0
        for schedule, period in due:
            where = services.schedule_label(schedule)
            if options["dry_run"]:
                self.stdout.write(f"{where}: {period} is due (dry run: nothing generated).")
                continue
            try:
                run = services.cycle_generate(
                    actor=actor, schedule=schedule, period_start=period.start
                )
            except DomainError as exc:
                failed += 1
                self.stderr.write(f"{where}: {period} not generated: {exc.message}")
                continue
            made += 1
            self.stdout.write(services.run_summary(run))
        if not options["dry_run"]:
            self.stdout.write(f"{made} cycle(s) generated, {failed} refused.")
        if failed:
            raise CommandError(f"{failed} cycle(s) could not be generated.")
