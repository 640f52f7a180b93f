"""``rxdesk pos pse-log --site N --from YYYY-MM-DD --to YYYY-MM-DD [--out FILE]`` writes the
CMEA logbook of those days as CSV (to FILE, or to the screen) for an inspector.

One subcommand per counter job: add the next as another ``sub.add_parser`` and a branch in
``handle``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date: use YYYY-MM-DD.") from None


class Command(RxCommand):
    help = (
        "Point of sale: `pos pse-log --site N --from D --to D [--out FILE]` (CMEA logbook CSV); "
        "`pos day-report --site N [--date D] [--csv]` (the day's sales and drawers)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        log = sub.add_parser("pse-log", help="Write the CMEA logbook of a date range as CSV")
        log.add_argument("--site", type=int, required=True, help="Site id")
        log.add_argument("--from", dest="start", required=True, help="First day, YYYY-MM-DD")
        log.add_argument("--to", dest="end", required=True, help="Last day, YYYY-MM-DD")
        log.add_argument("--out", help="File to write (default: the screen)")
        day = sub.add_parser("day-report", help="The day's sales, drawers and CS pickups")
        day.add_argument("--site", type=int, required=True, help="Site id")
        day.add_argument("--date", help="The day, YYYY-MM-DD (default: today at the pharmacy)")
        day.add_argument("--csv", action="store_true", help="Write the report as CSV")

    def _site(self, site_id: int) -> Site:
        site = Site.objects.filter(pk=site_id).first() if 0 < site_id < 2**63 else None
        if site is None:
            raise CommandError(f"No site {site_id}.")
        return site

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "pse-log":
            self._pse_log(options)
        elif options["action"] == "day-report":
            self._day_report(options)

    def _day_report(self, options: dict[str, Any]) -> None:
        from rxdesk.pos import queries

        site = self._site(options["site"])
        day = _day(options["date"]) if options.get("date") else site.today()
        report = queries.daily_sales(actor=None, site=site, day=day)
        if options.get("csv"):
            self.stdout.write(queries.daily_sales_csv(report), ending="")
            return
        pickups = queries.cs_pickups(actor=None, site=site, day=day)
        self.stdout.write(queries.daily_sales_text(report, pickups))

    def _pse_log(self, options: dict[str, Any]) -> None:
        from rxdesk.pos.services import pse

        site = self._site(options["site"])
        start, end = _day(options["start"]), _day(options["end"])
        entries = pse.pse_log(actor=None, site=site, start=start, end=end, export=True)
        text = pse.pse_log_csv(entries)
        count = f"{len(entries)} logbook entr{'y' if len(entries) == 1 else 'ies'}"
        if options.get("out"):
            Path(options["out"]).write_text(text, encoding="utf-8", newline="")
            done = f"{site.name}: {count} written to {options['out']}."
            self.stdout.write(self.style.SUCCESS(done))
        else:
            self.stdout.write(text, ending="")
            self.stderr.write(f"{site.name}: {count}.")
