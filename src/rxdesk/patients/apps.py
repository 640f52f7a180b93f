from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "rxdesk.patients"
    label = "patients"
    verbose_name = "Patients and prescribers"

    def ready(self) -> None:
        from rxdesk.patients import services  # noqa: F401  (registers audit actions)
