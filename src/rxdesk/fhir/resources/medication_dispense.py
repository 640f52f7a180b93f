"""FHIR medication_dispense (built in issue 15)."""
