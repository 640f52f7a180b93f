"""FHIR organization (built in issue 15)."""
