"""``rxdesk controlled pmp`` makes the state PMP files (ASAP 4.2) of controlled-substance
dispensings — what cron runs each night:

    rxdesk controlled pmp [--site N] [--date D | --start A --end B] [--state XX]
                          [--again] [--single-file]

Without a date it reports yesterday (at each pharmacy). A day that already has its file is
left alone (nothing is made twice); ``--again`` with ``--date`` makes a corrected resend;
``--single-file`` one ad-hoc file of the period for a state's request. Without ``--site``
every pharmacy is reported; one that cannot be (missing data) is named and the others go
on, and the command exits 1. It prints what it made in words:
"11/25/2026: 3 dispensings, 1 void — RXD20261125.dat".

The operator at the server's shell acts as the system (``actor=None``); the audit events
say so."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.errors import DomainError
from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site


def _day(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a date: use YYYY-MM-DD.") from None


class Command(RxCommand):
    help = (
        "Controlled substances: `controlled pmp [--site N] [--date D | --start A --end B] "
        "[--state XX] [--again] [--single-file]` makes the state PMP (ASAP) files — one per "
        "day not yet reported (default: yesterday), zero reports included."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        pmp = sub.add_parser("pmp", help="Make the PMP files of a day or a period")
        pmp.add_argument("--site", type=int, help="Site id (default: every site)")
        pmp.add_argument("--date", help="The day, YYYY-MM-DD (default: yesterday)")
        pmp.add_argument("--start", help="First day of a period, YYYY-MM-DD")
        pmp.add_argument("--end", help="Last day of a period, YYYY-MM-DD")
        pmp.add_argument("--state", help="The PMP's state (default: the pharmacy's own)")
        pmp.add_argument(
            "--again", action="store_true", help="With --date: a corrected resend of the day"
        )
        pmp.add_argument(
            "--single-file",
            action="store_true",
            help="One file of the whole period (a state's request)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "pmp":
            self._pmp(options)

    def _sites(self, site_id: int | None) -> list[Site]:
        if site_id is None:
            return list(Site.objects.order_by("pk"))
        site = Site.objects.filter(pk=site_id).first() if 0 < site_id < 2**63 else None
        if site is None:
            raise CommandError(f"No site {site_id}.")
        return [site]

    def _pmp(self, options: dict[str, Any]) -> None:
        from rxdesk.controlled.services_pmp import describe, pmp_daily, pmp_range

        date, start, end = options.get("date"), options.get("start"), options.get("end")
        if date and (start or end):
            raise CommandError("Give --date, or --start and --end, not both.")
        if bool(start) != bool(end):
            raise CommandError("A period needs both --start and --end.")
        if options["again"] and not date:
            raise CommandError("--again resends one day: give it with --date.")
        sites = self._sites(options.get("site"))
        failed = 0
        for site in sites:
            if date:
                first = last = _day(date, "--date")
            elif start and end:
                first, last = _day(start, "--start"), _day(end, "--end")
            else:
                first = last = site.today() - dt.timedelta(days=1)
            prefix = f"{site.name}: " if len(sites) > 1 else ""
            try:
                if options["again"]:
                    made = [
                        pmp_daily(
                            actor=None, site=site, day=first, state=options.get("state"), again=True
                        )
                    ]
                else:
                    made = pmp_range(
                        actor=None,
                        site=site,
                        start=first,
                        end=last,
                        state=options.get("state"),
                        single_file=options["single_file"],
                    )
            except DomainError as exc:
                if len(sites) == 1:
                    raise
                failed += 1
                self.stderr.write(self.style.ERROR(f"{prefix}{exc.message}"))
                continue
            if not made:
                days = f"{first:%m/%d/%Y}" if first == last else f"{first:%m/%d/%Y}–{last:%m/%d/%Y}"
                self.stdout.write(f"{prefix}Nothing made: {days} already reported.")
            for submission in made:
                self.stdout.write(self.style.SUCCESS(f"{prefix}{describe(submission)}"))
        if failed:
            raise SystemExit(1)
