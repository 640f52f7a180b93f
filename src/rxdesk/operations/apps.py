from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "rxdesk.operations"
    label = "operations"
    verbose_name = "Operations"
