from django.apps import AppConfig


class CompoundingConfig(AppConfig):
    name = "rxdesk.compounding"
    label = "compounding"
    verbose_name = "Compounding"

    def ready(self) -> None:
        # A recall lists the compounded preparations made from the recalled lots
        # (rxdesk.inventory.seams.lot_uses).
        from rxdesk.compounding.queries_records import recall_uses
        from rxdesk.inventory import seams

        seams.register_lot_uses(recall_uses)
