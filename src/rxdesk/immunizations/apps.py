from django.apps import AppConfig


class ImmunizationsConfig(AppConfig):
    name = "rxdesk.immunizations"
    label = "immunizations"
    verbose_name = "Immunizations"
