"""Outreach: the record of each contact made about an outreach list.

The lists themselves are reads over the prescriptions, fills, immunizations and med sync
enrollments (rxdesk.outreach.queries): nothing is copied. Only the contacts are new rows."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from rxdesk.core.models import Site, User
from rxdesk.outreach.choices import ListKind, Outcome
from rxdesk.patients.models import Patient

NOTE_MAX = 500


class OutreachContact(models.Model):
    """One attempt to reach a patient from an outreach list: which list, how it ended, a
    short note, who and when. The lists show each patient's last contact."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("list", max_length=12, choices=ListKind.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    note = models.CharField(max_length=NOTE_MAX, blank=True)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    by_name = models.CharField(max_length=150, help_text="The name as it was at the time.")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["site", "kind", "patient", "at"], name="outreach_contact_last"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=ListKind.values), name="outreach_contact_kind"
            ),
            models.CheckConstraint(
                condition=models.Q(outcome__in=Outcome.values), name="outreach_contact_outcome"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_outcome_display()} ({self.at:%Y-%m-%d})"
