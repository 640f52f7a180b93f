"""``rxdesk cabinet-verify [--site ID]`` proves the cabinets' stock ledger (run it nightly,
like ``rxdesk inventory verify``): every pocket lot equals the sum of its moves, every
pocket's total the sum of its lots, every move's running total is right. Exit status 1 when
anything differs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site
from rxdesk.institutional.cabinet_ledger import cabinet_verify
from rxdesk.institutional.models import Pocket


def _q(value: Decimal | None) -> str:
    return "none" if value is None else f"{value.normalize():f}"


class Command(RxCommand):
    help = "The cabinets' stock ledger: recompute every pocket from its moves."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", type=int, help="Only this site (id)")

    def handle(self, *args: Any, **options: Any) -> None:
        site_id = options.get("site")
        if site_id is not None and (
            not 0 < site_id < 2**63 or not Site.objects.filter(pk=site_id).exists()
        ):
            raise CommandError(f"No site {site_id}.")
        pockets = Pocket.objects.all()
        if site_id is not None:
            pockets = pockets.filter(cabinet__site_id=site_id)
        checked = pockets.count()
        _rows, problems = cabinet_verify(site_id=site_id)
        if not problems:
            self.stdout.write(self.style.SUCCESS(f"{checked} pockets checked, no mismatches."))
            return
        for p in problems:
            where = f"Pocket {p.pocket_id}" + (f", lot {p.lot_id}" if p.lot_id else "")
            self.stdout.write(
                self.style.ERROR(
                    f"{where}: {p.detail} (recorded {_q(p.recorded)}, "
                    f"from the moves {_q(p.computed)})"
                )
            )
        self.stdout.write(
            self.style.ERROR(f"{checked} pockets checked, {len(problems)} mismatch(es).")
        )
        raise SystemExit(1)
