"""Prescriptions: intake, sig, days supply, the refill rules of every schedule (the Django
app and its models come with issue 5; the pure modules here need no database)."""
