"""FHIR patient (built in issue 15)."""
