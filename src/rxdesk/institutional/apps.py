from django.apps import AppConfig


class InstitutionalConfig(AppConfig):
    name = "rxdesk.institutional"
    label = "institutional"
    verbose_name = "Institutional pharmacy"

    def ready(self) -> None:
        # A recall lists the unit doses repackaged and the med paks made from the recalled
        # lots (rxdesk.inventory.seams.lot_uses).
        from rxdesk.institutional.queries_packaging import recall_uses
        from rxdesk.inventory import seams

        seams.register_lot_uses(recall_uses)
