from django.apps import AppConfig


class RxConfig(AppConfig):
    name = "rxdesk.rx"
    label = "rx"
    verbose_name = "Prescriptions"

    def ready(self) -> None:
        from rxdesk.rx import services  # noqa: F401  (registers audit actions)
