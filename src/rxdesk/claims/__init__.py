"""Third-party claims: NCPDP Telecommunication D.0 billing (issue 9)."""
