"""FHIR medication (built in issue 15)."""
