"""``rxdesk reports daily`` generates and keeps the day's reports — what cron runs each
night:

    rxdesk reports daily [--date YYYY-MM-DD] [--site ID|NCPDP] [--format csv,pdf] [--out DIR]

Without ``--date`` it reports yesterday at each pharmacy (its own time zone); without
``--site`` every pharmacy. Running it again for the same day keeps one set: an unchanged
report is left alone, a changed one not yet reviewed is replaced (and it says so), and one
a pharmacist has reviewed is never replaced — the new generation is kept as the next
version. ``--out`` also writes the kept files (``--format``: csv, pdf or both) to
``DIR/<NCPDP or site id>/<date>/``. A report that cannot be made is named with its
pharmacy and the others go on; the command then exits 1.

The operator at the server's shell acts as the system (``actor=None``); the audit events
say so."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.errors import DomainError
from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site
from rxdesk.reports import daily_reports
from rxdesk.reports.models import DailyReport
from rxdesk.reports.queries_daily import file_name
from rxdesk.reports.services_daily import daily_reports_generate


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--date {text!r} is not a date: use YYYY-MM-DD.") from None


def _formats(text: str) -> list[str]:
    chosen = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in chosen if f not in ("csv", "pdf")]
    if bad or not chosen:
        raise CommandError(f"--format {text!r}: use csv, pdf or csv,pdf.")
    return chosen


class Command(RxCommand):
    help = (
        "Daily reports: `reports daily [--date D] [--site ID|NCPDP] [--format csv,pdf] "
        "[--out DIR]` generates and keeps the day's seven reports (default: yesterday, "
        "every pharmacy)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        daily = sub.add_parser("daily", help="Generate and keep a day's reports")
        daily.add_argument("--date", help="The business day, YYYY-MM-DD (default: yesterday)")
        daily.add_argument("--site", help="Site id or NCPDP id (default: every site)")
        daily.add_argument(
            "--format", default="csv,pdf", help="Files to write with --out: csv, pdf or both"
        )
        daily.add_argument("--out", help="Also write the kept files under this folder")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "daily":
            self._daily(options)

    def _sites(self, value: str | None) -> list[Site]:
        if not value:
            return list(Site.objects.order_by("pk"))
        text = value.strip()
        found = None
        if text.isdigit() and len(text) == 7:
            found = Site.objects.filter(ncpdp_id=text).first()
        if found is None and text.isdigit() and 0 < int(text) < 2**63:
            found = Site.objects.filter(pk=int(text)).first()
        if found is None:
            found = Site.objects.filter(ncpdp_id=text).first()
        if found is None:
            raise CommandError(f"No site {text!r} (give a site id or an NCPDP id).")
        return [found]

    def _write(self, out: Path, site: Site, report: DailyReport, formats: list[str]) -> list[str]:
        folder = out / (site.ncpdp_id or f"site-{site.pk}") / report.business_date.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        if "csv" in formats:
            path = folder / file_name(report, "csv")
            path.write_text(report.csv_text, encoding="utf-8", newline="")
            written.append(str(path))
        if "pdf" in formats:
            path = folder / file_name(report, "pdf")
            path.write_bytes(bytes(report.pdf))
            written.append(str(path))
        return written

    def _daily(self, options: dict[str, Any]) -> None:
        formats = _formats(options["format"])
        day = _day(options["date"]) if options.get("date") else None
        out = Path(options["out"]) if options.get("out") else None
        sites = self._sites(options.get("site"))
        if not sites:
            self.stdout.write("No pharmacy is set up: nothing to report.")
            return
        failed: list[str] = []
        made = 0
        for site in sites:
            the_day = day or site.today() - dt.timedelta(days=1)
            self.stdout.write(f"{site.name}: reports of {the_day:%m/%d/%Y}")
            for code in daily_reports.CODES:
                title = daily_reports.REGISTRY[code].code.label
                try:
                    done = daily_reports_generate(actor=None, site=site, day=the_day, codes=[code])
                except DomainError as exc:
                    failed.append(f"{site.name} — {title}: {exc.message}")
                    self.stderr.write(self.style.ERROR(f"  {title}: failed — {exc.message}"))
                    continue
                except Exception as exc:  # name the site and the report, and go on
                    failed.append(f"{site.name} — {title}: {exc}")
                    self.stderr.write(self.style.ERROR(f"  {title}: failed — {exc}"))
                    continue
                for g in done:
                    made += 1
                    self.stdout.write(f"  {g.text}")
                    if out is not None:
                        try:
                            for path in self._write(out, site, g.report, formats):
                                self.stdout.write(f"    wrote {path}")
                        except OSError as exc:
                            failed.append(f"{site.name} — {title}: cannot write files: {exc}")
                            self.stderr.write(self.style.ERROR(f"    cannot write: {exc}"))
        summary = f"Done: {made} report{'s' if made != 1 else ''} kept"
        summary += f" for {len(sites)} pharmac{'ies' if len(sites) != 1 else 'y'}"
        if failed:
            self.stderr.write(self.style.ERROR(f"{summary}; {len(failed)} failed:"))
            for line in failed:
                self.stderr.write(self.style.ERROR(f"  {line}"))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS(f"{summary}."))
