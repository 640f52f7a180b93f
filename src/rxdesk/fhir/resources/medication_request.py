"""FHIR medication_request (built in issue 15)."""
