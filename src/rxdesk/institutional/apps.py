from django.apps import AppConfig


class InstitutionalConfig(AppConfig):
    name = "rxdesk.institutional"
    label = "institutional"
    verbose_name = "Institutional pharmacy"
