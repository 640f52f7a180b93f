"""Reports and metrics: the kept daily reports and the pharmacist's review of a day's set.

A daily report is generated (by cron through ``rxdesk reports daily`` or by a pharmacist's
"Generate now") and kept with its CSV and PDF. Regenerating a report that no pharmacist has
reviewed replaces it in place; once reviewed it is never replaced: the new generation is
kept as the next version, so an inspector sees exactly what was signed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rxdesk.core.models import Site
from rxdesk.reports.choices import ReportCode

USER = settings.AUTH_USER_MODEL


class DailyReview(models.Model):
    """A pharmacist's sign-off of the day's set of reports (the versions kept at the time:
    see :attr:`DailyReport.review`)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField()
    reviewed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    reviewed_by_name = models.CharField(max_length=150)
    reviewed_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-reviewed_at", "-id"]
        indexes = [models.Index(fields=["site", "business_date"], name="dailyreview_site_date")]

    def __str__(self) -> str:
        return f"Review of {self.business_date} by {self.reviewed_by_name}"


class DailyReport(models.Model):
    """One generation of one daily report of one business day (the site's local date),
    with its CSV and PDF and their SHA-256 digests."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=24, choices=ReportCode.choices)
    business_date = models.DateField()
    version = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(max_length=120)
    generated_at = models.DateTimeField(default=timezone.now)
    generated_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    generated_by_name = models.CharField(max_length=150, help_text="'system' for cron runs")
    row_count = models.PositiveIntegerField(default=0)
    has_phi = models.BooleanField(default=False, help_text="Names patients.")
    data = models.JSONField(default=dict, help_text="Columns, rows, totals and notes.")
    csv_text = models.TextField()
    csv_sha256 = models.CharField(max_length=64)
    pdf = models.BinaryField()
    pdf_sha256 = models.CharField(max_length=64)
    review = models.ForeignKey(
        DailyReview, on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )

    class Meta:
        ordering = ["business_date", "code", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "code", "business_date", "version"], name="dailyreport_unique"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="dailyreport_version"),
            models.CheckConstraint(
                condition=Q(code__in=ReportCode.values), name="dailyreport_code"
            ),
            models.CheckConstraint(
                condition=Q(csv_sha256__regex=r"^[0-9a-f]{64}$")
                & Q(pdf_sha256__regex=r"^[0-9a-f]{64}$"),
                name="dailyreport_sha256",
            ),
        ]
        indexes = [models.Index(fields=["site", "business_date"], name="dailyreport_site_date")]

    def __str__(self) -> str:
        return f"{self.title} {self.business_date} v{self.version}"

    @property
    def reviewed(self) -> bool:
        return self.review_id is not None
