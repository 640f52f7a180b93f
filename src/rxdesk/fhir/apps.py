from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "rxdesk.fhir"
    label = "fhir"
    verbose_name = "FHIR R4 interoperability"

    def ready(self) -> None:
        # Each resource module registers its type with rxdesk.fhir.registry.
        from rxdesk.fhir import resources  # noqa: F401
