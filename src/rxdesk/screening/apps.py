from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _seed(**kwargs: Any) -> None:
    # A fresh install screens against the shipped ONC lists from its first fill: they are
    # loaded when the tables are made (never over a knowledge base a pharmacy loaded).
    from rxdesk.screening.kb import ensure_seeded

    ensure_seeded()


class ScreeningConfig(AppConfig):
    name = "rxdesk.screening"
    label = "screening"
    verbose_name = "Clinical screening"

    def ready(self) -> None:
        # Data verification screens every fill through the workflow's seam: an interrupting
        # alert nobody has resolved stops it (rxdesk.screening.services.fill_seam).
        from rxdesk.rx import seams
        from rxdesk.screening.services import fill_seam

        seams.register_screening(fill_seam)
        post_migrate.connect(_seed, sender=self, dispatch_uid="rxdesk.screening.seed")
