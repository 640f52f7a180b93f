from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "rxdesk.inventory"
    label = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from rxdesk.inventory import services  # noqa: F401  (registers audit actions)
