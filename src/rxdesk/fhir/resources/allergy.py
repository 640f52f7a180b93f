"""FHIR allergy (built in issue 15)."""
