from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "rxdesk.screening"
    label = "screening"
    verbose_name = "Clinical screening"
