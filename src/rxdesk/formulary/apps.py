from django.apps import AppConfig


class FormularyConfig(AppConfig):
    name = "rxdesk.formulary"
    label = "formulary"
    verbose_name = "Formulary and interchange"
