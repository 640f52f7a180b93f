"""FHIR condition (built in issue 15)."""
