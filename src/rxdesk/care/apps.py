from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "rxdesk.care"
    label = "care"
    verbose_name = "Patient care"
