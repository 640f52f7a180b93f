"""FHIR immunization (built in issue 15)."""
