"""Sites, staff, API tokens and the audit log."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Collection, Iterable
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from rxdesk.core.choices import (
    PHARMACIST_ROLES,
    TECHNICIAN_ROLES,
    Certification,
    PracticeSetting,
    Role,
)
from rxdesk.core.validators import (
    validate_dea,
    validate_ncpdp_id,
    validate_npi,
    validate_phone,
    validate_postal_code,
    validate_state,
    validate_time_zone,
)


class Organization(models.Model):
    """A pharmacy business that owns one or more sites; stock moves between its sites."""

    name = models.CharField(max_length=120, unique=True)

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    """One pharmacy: its licences, identifiers and local settings. Every site-owned row
    carries its site, and each site has its own audit chain."""

    name = models.CharField(max_length=120)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="sites"
    )
    address_line1 = models.CharField(max_length=120, blank=True)
    address_line2 = models.CharField(max_length=120, blank=True)
    city = models.CharField(max_length=80, blank=True)
    state = models.CharField(
        max_length=2, blank=True, validators=[validate_state], help_text="Two-letter USPS code"
    )
    postal_code = models.CharField(max_length=10, blank=True, validators=[validate_postal_code])
    phone = models.CharField(max_length=10, blank=True, validators=[validate_phone])
    ncpdp_id = models.CharField(
        "NCPDP provider ID", max_length=7, blank=True, validators=[validate_ncpdp_id]
    )
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[validate_npi])
    dea_number = models.CharField(
        "DEA registration", max_length=9, blank=True, validators=[validate_dea]
    )
    time_zone = models.CharField(
        max_length=64, default="America/New_York", validators=[validate_time_zone]
    )
    setting = models.CharField(
        max_length=20, choices=PracticeSetting.choices, default=PracticeSetting.RETAIL
    )
    session_idle_minutes = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(240)],
        help_text="Sign a user out after this many idle minutes (1–240).",
    )
    mfa_required = models.BooleanField(
        "second factor required",
        default=False,
        help_text="Pharmacists and staff who handle controlled substances must use TOTP.",
    )
    records_retention_years = models.PositiveSmallIntegerField(
        "records kept (years, state law)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text=(
            "Years the state requires pharmacy records to be kept; the longest of this, "
            "DEA's 2 years and HIPAA's 6 applies (rxdesk.core.retention). Empty: no state rule "
            "entered."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(session_idle_minutes__gte=1, session_idle_minutes__lte=240),
                name="site_idle_minutes_range",
            ),
            models.CheckConstraint(
                condition=models.Q(records_retention_years__isnull=True)
                | models.Q(records_retention_years__gte=1, records_retention_years__lte=50),
                name="site_records_retention_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")

    def today(self) -> dt.date:
        """The calendar date at the pharmacy now (credential expiries are local dates)."""
        return timezone.now().astimezone(self.tz).date()


class User(AbstractUser):
    """A member of staff. The role decides capabilities (core.capabilities); the credential
    fields decide whether a technician or pharmacist may currently practise."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="staff")
    # The pharmacy the person belongs to; ``site`` is where they work now (it differs only
    # after a switch to an assigned site). Empty until the first switch: home is ``site``.
    home_site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    role = models.CharField(max_length=32, choices=Role.choices)
    technician_registration = models.CharField(max_length=40, blank=True)
    technician_registration_expires = models.DateField(null=True, blank=True)
    certification = models.CharField(
        max_length=10, choices=Certification.choices, blank=True, default=""
    )
    certification_number = models.CharField(max_length=40, blank=True)
    certification_expires = models.DateField(null=True, blank=True)
    pharmacist_license = models.CharField(max_length=40, blank=True)
    pharmacist_license_expires = models.DateField(null=True, blank=True)

    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid")
        ]

    @property
    def home(self) -> Site:
        """The person's own pharmacy (always theirs to switch back to)."""
        return self.home_site or self.site

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role in Role.values else self.role

    def credential_problem(self, on: dt.date | None = None) -> str | None:
        """Why this person may not currently take a credentialed step, or None."""
        today = on or (self.site.today() if self.site else timezone.localdate())
        if self.role in TECHNICIAN_ROLES:
            if not self.technician_registration or not self.technician_registration_expires:
                return (
                    "Your technician registration is not on file; the pharmacist-in-charge "
                    "must record it before you can do this."
                )
            if self.technician_registration_expires < today:
                return (
                    f"Your technician registration expired on "
                    f"{self.technician_registration_expires:%m/%d/%Y}; renew it and have the "
                    f"pharmacist-in-charge update your record."
                )
        if self.role in PHARMACIST_ROLES:
            if not self.pharmacist_license or not self.pharmacist_license_expires:
                return "Your pharmacist license is not on file; it must be recorded first."
            if self.pharmacist_license_expires < today:
                return (
                    f"Your pharmacist license expired on "
                    f"{self.pharmacist_license_expires:%m/%d/%Y}; you cannot do this until it "
                    f"is renewed and recorded."
                )
        return None


class SiteAssignment(models.Model):
    """A pharmacy of the chain, besides their home site, where a person may work. Granted by
    a pharmacist-in-charge or administrator; the person then switches ``User.site`` to it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="site_assignments")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="assignments")
    granted_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="site_assignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.site_id}"


class ApiToken(models.Model):
    """A bearer token for an integration, acting as its user. Only a SHA-256 of the secret
    is stored; the secret is shown once at creation."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=80, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user.username})"


class AppendOnlyQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("The audit log is append-only: events cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only: events cannot be deleted.")

    def bulk_create(
        self,
        objs: Iterable[Any],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Collection[str] | None = None,
        unique_fields: Collection[str] | None = None,
    ) -> list[Any]:
        # An upsert (INSERT … ON CONFLICT DO UPDATE) would rewrite existing events.
        if update_conflicts:
            raise PermissionError("The audit log is append-only: events cannot be changed.")
        return super().bulk_create(objs, batch_size=batch_size, ignore_conflicts=ignore_conflicts)


class AuditEvent(models.Model):
    """One append-only entry of a site's hash chain (DESIGN: audit log).

    ``hash`` = SHA-256 over the canonical encoding of the event's fields and ``prev_hash``
    (rxdesk.core.audit.event_digest). ``data`` holds canonical JSON text exactly as hashed,
    so no database can re-order its keys under us (PostgreSQL jsonb would)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField()
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    actor_name = models.CharField(max_length=150)
    actor_kind = models.CharField(max_length=10, default="user")  # user, token, device, system
    api_token_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    data = models.TextField(default="{}")
    reason = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=36, blank=True)
    client_addr = models.CharField(max_length=45, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "seq"], name="audit_site_seq_unique")
        ]
        indexes = [
            models.Index(fields=["site", "occurred_at"], name="audit_site_when"),
            models.Index(fields=["actor_name", "occurred_at"], name="audit_actor_when"),
        ]
        ordering = ["site_id", "seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("The audit log is append-only: events cannot be changed.")
        # Always INSERT: a new instance given an existing id would otherwise make Django
        # UPDATE that row (the database then refuses the duplicate id).
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only: events cannot be deleted.")


class AuditChainHead(models.Model):
    """The latest (seq, hash) of a site's chain: the one hot row each write touches,
    locked for a moment at the end of the writing transaction."""

    site = models.OneToOneField(Site, on_delete=models.PROTECT, primary_key=True, related_name="+")
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"site {self.site_id} head #{self.seq}"
