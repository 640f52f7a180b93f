"""The interaction knowledge base (data, importable from CSV) and the alerts raised on
fills with their pharmacist resolutions.

Rows change only through rxdesk.screening.services. The other checks (allergy classes,
duplication, dose limits, age, pregnancy, kidneys, opioids) are public reference tables in
pure modules; the interaction rules are here because a pharmacy loads a licensed
commercial knowledge base in their place."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from rxdesk.core.models import Site, User
from rxdesk.rx.models import Fill

SEVERITIES = [
    ("contraindicated", "Contraindicated"),
    ("major", "Major"),
    ("moderate", "Moderate"),
    ("minor", "Minor"),
]


class KnowledgeSource(models.Model):
    """Where rules come from: named on every alert they raise."""

    key = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    citation = models.CharField(max_length=500, blank=True)
    license = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)
    imported_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class InteractionRule(models.Model):
    """A drug–drug interaction between every member of one side and every member of the
    other (ingredients, or classes written ``class:<key>``)."""

    source = models.ForeignKey(KnowledgeSource, on_delete=models.CASCADE, related_name="rules")
    rule_id = models.CharField(max_length=40)
    severity = models.CharField(max_length=16, choices=SEVERITIES)
    object_label = models.CharField(max_length=200)
    precipitant_label = models.CharField(max_length=200)
    message = models.CharField(max_length=500)
    consequence = models.CharField(max_length=500, blank=True)
    action = models.CharField(max_length=500, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "rule_id"], name="interaction_rule_id")
        ]

    def __str__(self) -> str:
        return f"{self.object_label} + {self.precipitant_label} ({self.severity})"


class InteractionMember(models.Model):
    OBJECT = "object"
    PRECIPITANT = "precipitant"

    rule = models.ForeignKey(InteractionRule, on_delete=models.CASCADE, related_name="members")
    side = models.CharField(
        max_length=12, choices=[(OBJECT, "Object"), (PRECIPITANT, "Precipitant")]
    )
    term = models.CharField(max_length=120, help_text="generic name, or class:<key>")

    class Meta:
        indexes = [models.Index(fields=["term"], name="interaction_member_term")]
        constraints = [
            models.UniqueConstraint(fields=["rule", "side", "term"], name="interaction_member")
        ]

    def __str__(self) -> str:
        return f"{self.side}: {self.term}"


class FillAlert(models.Model):
    """An alert raised on a fill at screening, kept with the fill; an interrupting one
    waits for a pharmacist's resolution (NCPDP DUR/PPS: reason, professional service and
    result of service codes, and a note) before data verification goes on."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    fill = models.ForeignKey(Fill, on_delete=models.PROTECT, related_name="alerts")
    key = models.CharField(max_length=200)
    rule = models.CharField(max_length=80, help_text="source:rule, for the override report")
    type = models.CharField("DUR reason for service", max_length=2)
    severity = models.CharField(max_length=16, choices=SEVERITIES)
    interrupting = models.BooleanField()
    drugs = models.JSONField(default=list)
    message = models.CharField(max_length=500)
    consequence = models.CharField(max_length=500, blank=True)
    action = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=200)
    raised_at = models.DateTimeField(default=timezone.now)
    resolved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    professional_service = models.CharField(max_length=2, blank=True)
    result_of_service = models.CharField(max_length=2, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fill", "key"], name="fill_alert_key")]
        indexes = [
            models.Index(fields=["site", "rule"], name="fill_alert_rule"),
            models.Index(fields=["site", "raised_at"], name="fill_alert_when"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.severity}: {self.message[:60]}"
