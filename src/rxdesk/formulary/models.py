"""Formulary and interchange: the site's formulary, the PIC's therapeutic-interchange
protocols and the pharmacist's decisions on them.

A formulary entry names one catalog ``Product`` (one labeler's drug in one strength and
form), not an ingredient group: the catalog's products are what a prescription names and
what generic substitution ranks (``rxdesk.catalog.queries.equivalents`` returns products),
so a per-product entry lets the PIC prefer one manufacturer's generic over another's
(price, shortages, look-alike packaging). Grouping by active ingredient is what the
interchange protocols do (``from_ingredient``)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from rxdesk.catalog.models import Product
from rxdesk.core.models import Site, User
from rxdesk.formulary.choices import FormularyStatus, NotifyMethod, ProtocolStatus
from rxdesk.rx.models import Prescription


class FormularyEntry(models.Model):
    """One product on the site's formulary, with its status, optional tier and (for a
    restricted product) the criteria for dispensing it."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=FormularyStatus.choices)
    tier = models.PositiveSmallIntegerField(null=True, blank=True)
    criteria = models.TextField(max_length=1000, blank=True)
    notes = models.TextField(max_length=2000, blank=True)
    effective_from = models.DateField(null=True, blank=True)
    effective_to = models.DateField(null=True, blank=True)
    updated_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "product"], name="formulary_site_product"),
            models.CheckConstraint(
                condition=Q(status__in=FormularyStatus.values), name="formulary_status"
            ),
            models.CheckConstraint(
                condition=~Q(status=FormularyStatus.RESTRICTED) | ~Q(criteria=""),
                name="formulary_restricted_criteria",
            ),
            models.CheckConstraint(
                condition=Q(tier__isnull=True) | Q(tier__gte=1, tier__lte=9),
                name="formulary_tier_range",
            ),
            models.CheckConstraint(
                condition=Q(effective_from__isnull=True)
                | Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="formulary_effective_order",
            ),
        ]
        indexes = [models.Index(fields=["site", "status"], name="formulary_site_status")]

    def __str__(self) -> str:
        return f"{self.product} ({self.get_status_display()})"


class InterchangeProtocol(models.Model):
    """A therapeutic-interchange protocol: prescriptions for ``from_ingredient`` (optionally
    only ``from_strength``) may be changed to ``to_product`` by a pharmacist. The dose is
    converted by ``ratio`` (to-amount = from-amount × ratio) or by the ``conversions``
    table (``[{"from": "20 mg", "to": "40 mg"}]``, which wins where it has the strength).
    Only an approved protocol (approved by the pharmacist-in-charge) suggests."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    from_ingredient = models.CharField(max_length=200, help_text="e.g. OMEPRAZOLE")
    from_strength = models.CharField(max_length=60, blank=True, help_text="blank: any strength")
    to_product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    ratio = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    conversions = models.JSONField(default=list, blank=True)
    sig_note = models.CharField(max_length=300, blank=True)
    notes = models.TextField(max_length=4000, blank=True, help_text="Evidence, committee")
    status = models.CharField(
        max_length=10, choices=ProtocolStatus.choices, default=ProtocolStatus.DRAFT
    )
    status_reason = models.CharField(max_length=300, blank=True)
    approved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="interchange_protocol_name"),
            models.CheckConstraint(
                condition=Q(status__in=ProtocolStatus.values), name="interchange_protocol_status"
            ),
            models.CheckConstraint(
                condition=Q(ratio__isnull=True) | Q(ratio__gt=0),
                name="interchange_ratio_positive",
            ),
            # An approved (or once approved, now retired) protocol names who approved it.
            models.CheckConstraint(
                condition=Q(status=ProtocolStatus.DRAFT)
                | Q(approved_by__isnull=False, approved_at__isnull=False)
                | Q(status=ProtocolStatus.RETIRED),
                name="interchange_approved_by",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class InterchangeDecision(models.Model):
    """A pharmacist's decision on a suggested interchange for one prescription, accepted
    (with the new prescription it created) or declined, and whether the prescriber was
    told (how and when)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="+")
    protocol = models.ForeignKey(
        InterchangeProtocol, on_delete=models.PROTECT, related_name="decisions"
    )
    suggested_product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    accepted = models.BooleanField()
    new_prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    note = models.CharField(max_length=500, blank=True)
    conversion = models.CharField(max_length=300, blank=True)
    prescriber_notified = models.CharField(
        max_length=12, choices=NotifyMethod.choices, blank=True, default=NotifyMethod.NOT_YET
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prescription", "protocol"], name="interchange_decided_once"
            ),
            models.CheckConstraint(
                condition=Q(accepted=True, new_prescription__isnull=False)
                | Q(accepted=False, new_prescription__isnull=True),
                name="interchange_accepted_has_rx",
            ),
            models.CheckConstraint(
                condition=Q(accepted=True) | ~Q(note=""), name="interchange_declined_reason"
            ),
            models.CheckConstraint(
                condition=Q(prescriber_notified="") | Q(notified_at__isnull=False),
                name="interchange_notified_when",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.protocol} on Rx {self.prescription_id}: {self.accepted}"
