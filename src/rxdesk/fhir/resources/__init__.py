"""One module per FHIR resource type; importing it registers the type (registry.register)."""

from rxdesk.fhir.resources import (  # noqa: F401
    allergy,
    condition,
    immunization,
    medication,
    medication_dispense,
    medication_request,
    organization,
    patient,
    practitioner,
)
