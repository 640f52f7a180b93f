from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "rxdesk.core"
    label = "core"
    verbose_name = "rxdesk core"

    def ready(self) -> None:
        from rxdesk.core import (  # noqa: F401  (audit actions, auth events, the DB check)
            dbsafety,
            services,
            signals,
        )
