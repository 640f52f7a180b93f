"""Interfaces to other systems: NCPDP SCRIPT (e-prescribing), later the FHIR R4 facade."""
