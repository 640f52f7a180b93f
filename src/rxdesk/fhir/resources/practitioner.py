"""FHIR practitioner (built in issue 15)."""
