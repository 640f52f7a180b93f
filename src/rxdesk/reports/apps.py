from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "rxdesk.reports"
    label = "reports"
    verbose_name = "Reports and metrics"
