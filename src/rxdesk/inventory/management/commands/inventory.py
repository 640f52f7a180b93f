"""``rxdesk inventory verify`` proves the stock ledger (run it nightly: it must always
report no difference); ``rxdesk inventory expire --site N`` marks lots past their expiry
as expired so nothing can dispense them (also nightly)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import Site
from rxdesk.inventory.ledger import ledger_verify


class Command(RxCommand):
    help = "The stock ledger: `inventory verify` recomputes every balance from its moves."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser(
            "verify", help="Recompute every balance from its moves and report any difference"
        )
        verify.add_argument("--site", type=int, help="Only this site (id)")
        expire = sub.add_parser(
            "expire", help="Mark stock past its expiry date as expired (not dispensable)"
        )
        expire.add_argument("--site", type=int, required=True, help="Site id")
        expire.add_argument("--location", default="", help="Quarantine location code to move it to")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "expire":
            self._expire(options["site"], options["location"])
            return
        site_id = options.get("site")
        if site_id is not None and not 0 < site_id < 2**63:
            raise CommandError(f"No site {site_id}.")
        checked, problems = ledger_verify(site_id=site_id)
        if not problems:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Stock ledger verified: {checked} lot balances, each equal to the sum of "
                    "its moves; every move's running balance is right."
                )
            )
            return
        for p in problems:
            self.stdout.write(
                self.style.ERROR(
                    f"Site {p.site_id}, lot {p.lot_id}: {p.detail} "
                    f"(balance {_q(p.on_hand)}, moves {_q(p.moves_total)})"
                )
            )
        self.stdout.write(self.style.ERROR(f"{len(problems)} difference(s) found."))
        raise SystemExit(1)

    def _expire(self, site_id: int, location: str) -> None:
        from rxdesk.inventory.services.removal import stock_expired_quarantine

        site = Site.objects.filter(pk=site_id).first() if 0 < site_id < 2**63 else None
        if site is None:
            raise CommandError(f"No site {site_id}.")
        kwargs: dict[str, Any] = {"actor": None, "site": site}
        if location:
            kwargs["location"] = location
        count = stock_expired_quarantine(**kwargs)
        self.stdout.write(
            self.style.SUCCESS(
                f"{site.name}: {count} expired lot(s) taken out of dispensable stock."
            )
        )


def _q(value: Decimal | None) -> str:
    return "none" if value is None else f"{Decimal(value).normalize():f}"
