from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from rxdesk.core.audit import audit_verify
from rxdesk.core.management.base import RxCommand
from rxdesk.core.models import AuditChainHead


class Command(RxCommand):
    help = "The audit log: `rxdesk audit verify` walks every chain; `audit head` prints heads."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="Walk each site's hash chain; name the first broken link")
        sub.add_parser("head", help="Print each chain's head as JSON, to keep outside the DB")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "head":
            for head in AuditChainHead.objects.order_by("site_id"):
                self.stdout.write(
                    json.dumps({"site": head.site_id, "seq": head.seq, "hash": head.hash})
                )
            return
        reports = audit_verify()
        if not reports:
            self.stdout.write("The audit log is empty; nothing to verify.")
            return
        broken = False
        for report in reports:
            if report.intact:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Site {report.site_id}: audit chain intact — {report.events} events, "
                        f"head #{report.head_seq} {report.head_hash[:16]}…"
                    )
                )
            else:
                broken = True
                self.stdout.write(
                    self.style.ERROR(
                        f"Site {report.site_id}: audit chain BROKEN at {report.broken}"
                    )
                )
        if broken:
            raise SystemExit(1)
