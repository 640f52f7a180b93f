"""The site's prescription rules (refill thresholds, expiry where the state sets one)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.models import User
from rxdesk.core.services import _apply, authorize, full_clean, snapshot
from rxdesk.rx.models import RxSettings

register_actions({"rx.settings.updated": "Prescription rules changed"})

SETTINGS_FIELDS = [
    "refill_threshold_percent",
    "controlled_refill_threshold_percent",
    "noncontrolled_expiry_months",
    "cv_expiry_months",
    "cii_expiry_days",
    "label_printer",
]


def rx_settings_update(*, actor: User, **values: Any) -> RxSettings:
    """Set the pharmacy's refill thresholds and state expiry rules (pharmacist in charge)."""
    authorize(actor, Cap.SITE_EDIT)
    site = actor.site
    assert site is not None
    with transaction.atomic():
        row, _ = RxSettings.objects.select_for_update().get_or_create(site=site)
        before = snapshot(row, SETTINGS_FIELDS)
        _apply(row, SETTINGS_FIELDS, values)
        full_clean(row, exclude=["site"])
        changes = diff(before, snapshot(row, SETTINGS_FIELDS))
        if not changes:
            return row
        row.updated_at = timezone.now()
        row.save()
        audit_record(actor=actor, action="rx.settings.updated", obj=row, data={"changes": changes})
    return row
