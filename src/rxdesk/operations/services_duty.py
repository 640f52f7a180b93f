"""Services of duty sign-on/off and the site's staffing rule.

The state board limits how many technicians may work per pharmacist on duty. A technician
whose sign-on would pass the limit (or who signs on with no pharmacist on duty) is refused
with the numbers, unless they acknowledge the warning with a reason: then the shift is
kept with ``over_ratio`` and the counts, under its own audit action, for the PIC and the
inspector. A pharmacist's sign-on is always allowed; a pharmacist's sign-off that leaves
too many technicians is warned the same way.

Race: two technicians signing on at the same moment must not both count the other one
out. Each sign-on/off first bumps the site's ``duty_version`` (a conditional UPDATE of the
site's settings row): on PostgreSQL that row lock, on SQLite the IMMEDIATE transaction's
write lock, serializes the count-and-insert per site (STYLE point 4)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.choices import PHARMACIST_ROLES, Role
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.operations import ratio
from rxdesk.operations.common import settings_of, signed_in, text
from rxdesk.operations.models import DutyShift, OperationsSettings

register_actions(
    {
        "ops.settings.updated": "Staffing ratio settings changed",
        "ops.duty.signed_on": "Signed on duty",
        "ops.duty.over_ratio": "Signed on duty past the technician ratio (acknowledged)",
        "ops.duty.signed_off": "Signed off duty",
        "ops.duty.signed_off_over_ratio": "Pharmacist signed off past the ratio",
        "ops.duty.ended_by_pic": "Shift ended by the pharmacist-in-charge",
    }
)

REASON_MAX, CITATION_MAX = 300, 300
MAX_RATIO = 20


class OverRatio(Conflict):
    """The sign-on (or sign-off) would leave more technicians on duty than the rule
    allows; repeat it with ``acknowledge_over_ratio`` and a reason."""

    code = "over_ratio"
    title = "Past the technician-to-pharmacist ratio"


# --- Settings ---------------------------------------------------------------------------------


def _snapshot(row: OperationsSettings) -> dict[str, object]:
    return {
        "max_technicians_per_pharmacist": row.max_technicians_per_pharmacist,
        "trainees_count": row.trainees_count,
        "citation": row.citation,
    }


def ops_settings_set(
    *,
    actor: User | None,
    max_technicians_per_pharmacist: int | None,
    trainees_count: bool = True,
    citation: str = "",
) -> OperationsSettings:
    """Set the site's staffing rule (the PIC): technicians allowed per pharmacist on duty
    (None: the state sets no limit), whether technicians in training count, and the rule's
    citation."""
    authorize(actor, Cap.OPS_SETUP)
    actor = signed_in(actor)
    limit = max_technicians_per_pharmacist
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise Invalid(
                "Give a whole number of technicians.", field="max_technicians_per_pharmacist"
            )
        if not 1 <= limit <= MAX_RATIO:
            raise Invalid(
                f"Give 1 to {MAX_RATIO} technicians per pharmacist, or leave it empty for no "
                "state limit.",
                field="max_technicians_per_pharmacist",
            )
    cite = text(citation, field="citation", limit=CITATION_MAX)
    with transaction.atomic():
        row = settings_of(actor.site)
        before = _snapshot(row)
        row.max_technicians_per_pharmacist = limit
        row.trainees_count = bool(trainees_count)
        row.citation = cite
        changes = diff(before, _snapshot(row))
        if not changes:
            return row
        row.updated_at = timezone.now()
        row.updated_by = actor
        row.save(
            update_fields=[
                "max_technicians_per_pharmacist",
                "trainees_count",
                "citation",
                "updated_at",
                "updated_by",
            ]
        )
        audit_record(
            actor=actor,
            action="ops.settings.updated",
            obj=row,
            object_id=actor.site.pk,
            data={"changes": changes},
        )
    return row


# --- Counting ---------------------------------------------------------------------------------


def counts_toward_ratio(role: str, row: OperationsSettings) -> bool:
    """Whether a person in ``role`` is a technician for the ratio."""
    if role == Role.TECHNICIAN:
        return True
    return role == Role.TECHNICIAN_IN_TRAINING and row.trainees_count


def on_duty_counts(site: Site, row: OperationsSettings) -> tuple[int, int]:
    """(technicians, pharmacists) on duty now at ``site``, by the roles copied at sign-on."""
    roles = list(
        DutyShift.objects.filter(site=site, ended_at__isnull=True).values_list("role", flat=True)
    )
    techs = sum(1 for r in roles if counts_toward_ratio(r, row))
    pharmacists = sum(1 for r in roles if r in PHARMACIST_ROLES)
    return techs, pharmacists


def _lock(site: Site) -> OperationsSettings:
    """Take the site's duty lock (see the module's docstring) and return the settings."""
    settings_of(site)
    OperationsSettings.objects.filter(site=site).update(duty_version=F("duty_version") + 1)
    return OperationsSettings.objects.get(site=site)


def _pharmacist_names(site: Site, *, exclude: User | None = None) -> list[str]:
    shifts = DutyShift.objects.filter(
        site=site, ended_at__isnull=True, role__in=list(PHARMACIST_ROLES)
    ).select_related("person")
    return [s.person.display_name for s in shifts if exclude is None or s.person_id != exclude.pk]


def _refuse(check: ratio.RatioCheck, *, signing_off: bool = False) -> OverRatio:
    then = (
        "Sign off only after a technician does, or acknowledge it with the reason."
        if signing_off
        else "Wait for a pharmacist, or acknowledge it with the reason (it is recorded)."
    )
    return OverRatio(
        f"{check.sentence} {then}",
        field="acknowledge_over_ratio",
        technicians=check.technicians,
        pharmacists=check.pharmacists,
        limit=check.limit,
    )


# --- Sign on / off ----------------------------------------------------------------------------


def duty_sign_on(
    *, actor: User | None, acknowledge_over_ratio: bool = False, reason: str = ""
) -> DutyShift:
    """Sign the actor on duty. One open shift per person. A technician (or a technician in
    training, where they count) whose sign-on puts more technicians on duty than the rule
    allows — or who signs on with no pharmacist on duty — is refused (``over_ratio``) unless
    they acknowledge the warning with a reason; the shift then records the counts, the
    reason and who was warned."""
    authorize(actor, Cap.DUTY_SIGN)
    actor = signed_in(actor)
    site = actor.site
    why = text(reason, field="reason", limit=REASON_MAX)
    with transaction.atomic():
        row = _lock(site)
        if DutyShift.objects.filter(person=actor, ended_at__isnull=True).exists():
            raise Conflict("You are already on duty.", field="person")
        techs, pharmacists = on_duty_counts(site, row)
        shift = DutyShift(site=site, person=actor, role=actor.role, started_at=timezone.now())
        action = "ops.duty.signed_on"
        if counts_toward_ratio(actor.role, row):
            check = ratio.check(techs + 1, pharmacists, row.max_technicians_per_pharmacist)
            if check.over:
                if not acknowledge_over_ratio:
                    raise _refuse(check)
                if not why:
                    raise Invalid(
                        "Say why you are signing on past the ratio (it is recorded).",
                        field="reason",
                    )
                warned = [actor.display_name, *_pharmacist_names(site)]
                shift.over_ratio = True
                shift.technicians_at_sign_on = check.technicians
                shift.pharmacists_at_sign_on = check.pharmacists
                shift.over_ratio_reason = why
                shift.warning = check.sentence[:300]
                shift.warned = ", ".join(warned)[:300]
                action = "ops.duty.over_ratio"
        try:
            with transaction.atomic():
                shift.save()
        except IntegrityError:
            raise Conflict("You are already on duty.", field="person") from None
        audit_record(
            actor=actor,
            action=action,
            obj=shift,
            data={
                "role": shift.role,
                "technicians": shift.technicians_at_sign_on,
                "pharmacists": shift.pharmacists_at_sign_on,
                "limit": row.max_technicians_per_pharmacist,
            }
            if shift.over_ratio
            else {"role": shift.role},
            reason=shift.over_ratio_reason,
        )
    return shift


def duty_sign_off(
    *, actor: User | None, acknowledge_over_ratio: bool = False, reason: str = ""
) -> DutyShift:
    """End the actor's own open shift. A pharmacist whose leaving would put the technicians
    still on duty past the ratio (or alone) is warned (``over_ratio``) unless they
    acknowledge it with a reason."""
    authorize(actor, Cap.DUTY_SIGN)
    actor = signed_in(actor)
    site = actor.site
    why = text(reason, field="reason", limit=REASON_MAX)
    with transaction.atomic():
        row = _lock(site)
        shift = DutyShift.objects.filter(person=actor, site=site, ended_at__isnull=True).first()
        if shift is None:
            raise Conflict("You are not on duty.", field="person")
        action = "ops.duty.signed_off"
        data: dict[str, object] = {"role": shift.role}
        if shift.role in PHARMACIST_ROLES:
            techs, pharmacists = on_duty_counts(site, row)
            check = ratio.check(techs, pharmacists - 1, row.max_technicians_per_pharmacist)
            if check.over:
                if not acknowledge_over_ratio:
                    raise _refuse(check, signing_off=True)
                if not why:
                    raise Invalid(
                        "Say why you are leaving the technicians past the ratio.", field="reason"
                    )
                shift.ended_over_ratio = True
                shift.end_reason = why
                action = "ops.duty.signed_off_over_ratio"
                data.update(technicians=check.technicians, pharmacists=check.pharmacists)
        shift.ended_at = max(timezone.now(), shift.started_at)
        shift.ended_by = actor
        shift.save(update_fields=["ended_at", "ended_by", "ended_over_ratio", "end_reason"])
        audit_record(actor=actor, action=action, obj=shift, data=data, reason=shift.end_reason)
    return shift


def duty_end_for(*, actor: User | None, shift: DutyShift, reason: str) -> DutyShift:
    """The PIC ends the open shift of someone who forgot to sign off, with the reason."""
    authorize(actor, Cap.OPS_SETUP)
    actor = signed_in(actor)
    why = text(reason, field="reason", limit=REASON_MAX, required=True, what="the reason")
    with transaction.atomic():
        _lock(actor.site)
        found = (
            DutyShift.objects.filter(pk=getattr(shift, "pk", 0) or 0, site=actor.site)
            .select_related("person")
            .first()
        )
        if found is None:
            raise NotFound("No such shift at this pharmacy.", field="shift")
        if found.ended_at is not None:
            raise Conflict(f"{found.person.display_name} is already signed off.", field="shift")
        found.ended_at = max(timezone.now(), found.started_at)
        found.ended_by = actor
        found.end_reason = why
        found.save(update_fields=["ended_at", "ended_by", "end_reason"])
        audit_record(
            actor=actor,
            action="ops.duty.ended_by_pic",
            obj=found,
            data={"person": found.person.display_name, "role": found.role},
            reason=why,
        )
    return found
