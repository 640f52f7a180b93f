from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "rxdesk.catalog"
    label = "catalog"
    verbose_name = "Drug catalog"

    def ready(self) -> None:
        from rxdesk.catalog import services  # noqa: F401  (registers audit actions)
