from django.apps import AppConfig


class MedsyncConfig(AppConfig):
    name = "rxdesk.medsync"
    label = "medsync"
    verbose_name = "Medication synchronization"
