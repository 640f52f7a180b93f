from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "rxdesk.core"
    label = "core"
    verbose_name = "rxdesk core"

    def ready(self) -> None:
        from rxdesk.core import services, signals  # noqa: F401  (audit actions, auth events)
