from django.apps import AppConfig


class OutreachConfig(AppConfig):
    name = "rxdesk.outreach"
    label = "outreach"
    verbose_name = "Outreach"
