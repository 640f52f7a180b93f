from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "rxdesk.fhir"
    label = "fhir"
    verbose_name = "FHIR R4 interoperability"

    def ready(self) -> None:
        # Each resource module registers its type with rxdesk.fhir.registry.
        # The modules that write audit events register their actions on import: load them
        # now so the audit screens and the CLI know every FHIR action.
        from rxdesk.fhir import export, importer, ingest, resources, views  # noqa: F401
