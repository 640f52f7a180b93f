from django.apps import AppConfig


class PosConfig(AppConfig):
    name = "rxdesk.pos"
    label = "pos"
    verbose_name = "Pickup and point of sale"

    def ready(self) -> None:
        from rxdesk.pos import services  # noqa: F401  (registers audit actions)
