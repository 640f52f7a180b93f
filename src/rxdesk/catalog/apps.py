from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_search_index(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections

    from rxdesk.catalog.search import ensure_index

    ensure_index(connections[using])


class CatalogConfig(AppConfig):
    name = "rxdesk.catalog"
    label = "catalog"
    verbose_name = "Drug catalog"

    def ready(self) -> None:
        from rxdesk.catalog import services  # noqa: F401  (registers audit actions)

        # A SQLite table rebuild in a later migration drops the search triggers.
        post_migrate.connect(_ensure_search_index, sender=self)
