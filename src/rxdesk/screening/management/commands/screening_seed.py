"""``rxdesk screening_seed`` (also ``rxdesk screening-seed``): load the shipped ONC
interaction lists into the knowledge base. Safe to run again: a list already loaded from
the same file is left alone."""

from __future__ import annotations

from typing import Any

from rxdesk.core.management.base import RxCommand
from rxdesk.screening.kb import kb_seed


class Command(RxCommand):
    help = (
        "Load the ONC high-priority and non-interruptive drug-drug interaction lists shipped "
        "with rxdesk (idempotent)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for result in kb_seed(actor=None):
            if result.skipped:
                self.stdout.write(f"{result.source_key}: already loaded ({result.rules} rules).")
            else:
                self.stdout.write(
                    f"{result.source_key}: {result.rules} rules, {result.members} members loaded"
                    f" (replaced {result.replaced})."
                )
