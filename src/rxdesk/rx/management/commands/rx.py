"""``rxdesk rx auto-refill --site N [--lead-days D]`` queues the next fill of every
prescription enrolled in automatic refill that falls due within D days (run each morning).

``rxdesk rx device-poll --site N`` reads the results dispensing devices left in their drop
folders (run every minute or so while the devices work)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site
from rxdesk.rx.services import auto_refill_run


class Command(RxCommand):
    help = (
        "Prescriptions: `rx auto-refill --site N` queues automatic refills that are due; "
        "`rx device-poll --site N` reads dispensing devices' results."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        auto = sub.add_parser(
            "auto-refill", help="Queue the automatic refills falling due within --lead-days"
        )
        auto.add_argument("--site", type=int, required=True, help="Site id")
        auto.add_argument(
            "--lead-days", type=int, default=3, help="Days ahead to look (0–14, default 3)"
        )
        poll = sub.add_parser(
            "device-poll", help="Read the results dispensing devices left in their drop folders"
        )
        poll.add_argument("--site", type=int, required=True, help="Site id")

    def handle(self, *args: Any, **options: Any) -> None:
        site_id = options["site"]
        site = Site.objects.filter(pk=site_id).first() if 0 < site_id < 2**63 else None
        if site is None:
            raise CommandError(f"No site {site_id}.")
        verbose = options.get("verbosity", 1) > 1
        if options["action"] == "device-poll":
            from rxdesk.rx.services.devices import device_poll

            polled = device_poll(actor=None, site=site)
            for name, why in polled.rejected:
                self.stdout.write(self.style.WARNING(f"{name}: not used ({why})"))
            self.stdout.write(self.style.SUCCESS(f"{site.name}: {polled.summary()}"))
            return

        def progress(done: int, total: int) -> None:
            if verbose:
                self.stdout.write(f"  {done}/{total} enrolled prescriptions looked at")

        run = auto_refill_run(
            actor=None, site=site, lead_days=options["lead_days"], progress=progress
        )
        for fill in run.queued:
            when = f" (fillable {fill.fillable_on:%m/%d/%Y})" if fill.fillable_on else ""
            self.stdout.write(f"Rx {fill.prescription.number}: refill {fill.number} queued{when}.")
        for rx, reason in run.refused:
            words = reason.replace("_", " ")
            self.stdout.write(self.style.WARNING(f"Rx {rx.number}: not refilled ({words})."))
        self.stdout.write(self.style.SUCCESS(f"{site.name}: {run.summary()}"))
