"""``rxdesk claims report --site N [--start D --end D] [--csv]`` prints the claims summary in
words (or as CSV); ``rxdesk claims outbox [--site N] [--watch SECONDS]`` sends again what
waits in the outbox (claims and reversals the switch did not answer), once or every
SECONDS until stopped (Ctrl+C); ``rxdesk claims bill --username U`` bills, as that user,
every fill of their pharmacy waiting for data verification with a plan and no claim yet.

The operator at the server's shell acts as the system (``actor=None``); the audit events
say so."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date: use YYYY-MM-DD.") from None


def _seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 86_400:
        raise CommandError(f"--watch takes a number of seconds from 1 to 86400, not {text!r}.")
    return value


class Command(RxCommand):
    help = (
        "Claims: `claims report --site N [--start D --end D] [--csv]` (claims by status, "
        "plan and day in words); `claims outbox [--site N] [--watch SECONDS]` (send what "
        "waits in the outbox, once or every SECONDS); `claims bill --username U` (bill the fills "
        "waiting for data verification that have no claim yet, e.g. after automatic refills)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        report = sub.add_parser("report", help="The claims summary of a day or a date range")
        report.add_argument("--site", type=int, required=True, help="Site id")
        report.add_argument("--start", help="First day, YYYY-MM-DD (default: today)")
        report.add_argument("--end", help="Last day, YYYY-MM-DD (default: today)")
        report.add_argument("--csv", action="store_true", help="One CSV row per day, plan, status")
        outbox = sub.add_parser("outbox", help="Send what waits in the outbox")
        outbox.add_argument("--site", type=int, help="Site id (default: every site)")
        outbox.add_argument(
            "--watch", help="Send again every SECONDS until stopped (default: once)"
        )
        outbox.add_argument("--passes", type=int, help="With --watch, stop after this many passes")
        bill = sub.add_parser(
            "bill", help="Bill the fills waiting for data verification that have no claim yet"
        )
        bill.add_argument(
            "--username", required=True, help="The technician or pharmacist billing them"
        )

    def _site(self, site_id: int) -> Site:
        site = Site.objects.filter(pk=site_id).first() if 0 < site_id < 2**63 else None
        if site is None:
            raise CommandError(f"No site {site_id}.")
        return site

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "report":
            self._report(options)
        elif options["action"] == "outbox":
            self._outbox(options)
        elif options["action"] == "bill":
            self._bill(options)

    def _bill(self, options: dict[str, Any]) -> None:
        from rxdesk.claims.services import claims_bill_waiting
        from rxdesk.core.errors import DomainError
        from rxdesk.core.models import User

        actor = User.objects.filter(username=options["username"], is_active=True).first()
        if actor is None:
            raise CommandError(f"No active user {options['username']!r}.")

        def progress(done: int, total: int) -> None:
            if done == total or done % 10 == 0:
                self.stdout.write(f"  billed {done} of {total}")

        try:
            summary = claims_bill_waiting(actor=actor, progress=progress)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"Billed {summary.billed} fill(s): {summary.paid} paid, {summary.rejected} "
            f"rejected (see Rejects), {summary.waiting} waiting for the switch; "
            f"{summary.refused} could not be billed (open them to see why)."
        )

    def _report(self, options: dict[str, Any]) -> None:
        from rxdesk.claims import queries_reports as reports

        site = self._site(options["site"])
        start = _day(options["start"]) if options.get("start") else None
        end = _day(options["end"]) if options.get("end") else None
        summary = reports.claims_summary(actor=None, site=site, start=start, end=end)
        if options.get("csv"):
            self.stdout.write(reports.summary_csv(summary), ending="")
            return
        self.stdout.write(reports.summary_text(summary), ending="")
        underpaid = reports.paid_vs_expected(
            actor=None, site=site, start=summary.start, end=summary.end
        )
        if underpaid.rows:
            n = len(underpaid.rows)
            self.stdout.write(
                f"{n} paid claim{'' if n == 1 else 's'} under expected by "
                f"${underpaid.short:,.2f} in all."
            )

    def _outbox(self, options: dict[str, Any]) -> None:
        sites = (
            [self._site(options["site"])]
            if options.get("site") is not None
            else list(Site.objects.order_by("pk"))
        )
        watch = _seconds(options["watch"]) if options.get("watch") is not None else None
        passes = options.get("passes")
        if passes is not None and passes < 1:
            raise CommandError("--passes takes a number from 1 up.")
        if watch is None:
            passes = 1
        done = 0
        try:
            while True:
                for site in sites:
                    self._replay(site)
                done += 1
                if passes is not None and done >= passes:
                    break
                assert watch is not None
                time.sleep(watch)
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")

    def _replay(self, site: Site) -> None:
        from rxdesk.claims import services

        def progress(sent: int, total: int) -> None:
            self.stdout.write(f"  {site.name}: {sent} of {total} done")

        result = services.outbox_replay(actor=None, site=site, progress=progress)
        waiting = result.still_waiting
        if not (result.sent or waiting):
            self.stdout.write(f"{site.name}: the outbox is empty.")
            return
        self.stdout.write(
            f"{site.name}: {result.sent} sent — {result.paid} paid, {result.rejected} "
            f"rejected, {result.reversed} reversed; {waiting} still waiting."
        )
