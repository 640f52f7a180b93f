from django.apps import AppConfig


class Program340BConfig(AppConfig):
    name = "rxdesk.program340b"
    label = "program340b"
    verbose_name = "340B"
