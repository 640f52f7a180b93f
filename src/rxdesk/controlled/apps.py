from django.apps import AppConfig


class ControlledConfig(AppConfig):
    name = "rxdesk.controlled"
    label = "controlled"
    verbose_name = "Controlled substances"

    def ready(self) -> None:
        # Receiving a Schedule II line records it on its DEA Form 222 / CSOS order
        # (rxdesk.controlled.services_orders), through the inventory's receipt seam.
        from rxdesk.controlled import seams

        seams.connect()
