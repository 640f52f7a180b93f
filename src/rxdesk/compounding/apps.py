from django.apps import AppConfig


class CompoundingConfig(AppConfig):
    name = "rxdesk.compounding"
    label = "compounding"
    verbose_name = "Compounding"
