"""Writes of the core app: the site record, staff, API tokens, sign-in events.

Each service runs in one transaction, checks the actor's capability first, validates, and
writes exactly one audit event last. ``actor=None`` is the operator at the server's shell
(the CLI); it is refused anywhere else (see :func:`authorize`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from rxdesk.core import constraints, context
from rxdesk.core.audit import ChainReport, audit_record, audit_verify_site, diff, register_actions
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.choices import Certification, PracticeSetting, Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import ApiToken, AuditEvent, Site, SiteAssignment, User
from rxdesk.core.validators import normalize_phone

register_actions(
    {
        "site.created": "Site created",
        "site.updated": "Site record changed",
        "staff.created": "Staff account created",
        "staff.updated": "Staff record changed",
        "staff.password_set": "Password set",
        "token.created": "API token created",
        "token.revoked": "API token revoked",
    }
)

TOKEN_PREFIX = "rxd_"


def authorize(actor: User | None, cap: Cap) -> None:
    """Check ``cap`` for a signed-in actor; ``None`` (the operator) only from the CLI."""
    if actor is None:
        if context.current().channel not in {"cli", "system"}:
            raise Forbidden("Sign in first.", capability=str(cap))
        return
    require(actor, cap)


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Django's ValidationError as ``[{"field", "message"}]``."""
    if hasattr(exc, "error_dict"):
        return [
            {"field": field, "message": str(message)}
            for field, errors in exc.error_dict.items()
            for error in errors
            for message in error.messages
        ]
    return [{"field": "", "message": m} for m in exc.messages]


def full_clean(instance: models.Model, *, exclude: list[str] | None = None) -> None:
    """Run the model's validators and raise :class:`Invalid` naming every bad field.

    Plain check constraints are judged in Python (:mod:`rxdesk.core.constraints`), the rest
    by the database, as Django does."""
    try:
        constraints.full_clean(instance, exclude=exclude)
    except ValidationError as exc:
        raise Invalid(errors=validation_errors(exc)) from None


def snapshot(instance: models.Model, fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(instance, name)
        if isinstance(value, dt.date | dt.datetime):
            value = value.isoformat()
        out[name] = value
    return out


def _apply(instance: models.Model, allowed: list[str], values: Mapping[str, Any]) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise Invalid(
            errors=[{"field": f, "message": "This field cannot be set here."} for f in unknown]
        )
    for name, value in values.items():
        setattr(instance, name, value)


# --- Site -------------------------------------------------------------------------------------

SITE_FIELDS = [
    "name",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "phone",
    "ncpdp_id",
    "npi",
    "dea_number",
    "time_zone",
    "setting",
    "session_idle_minutes",
    "mfa_required",
    "records_retention_years",
]


def _normalize_site_values(values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    # A text column holds "" for none, never NULL: None clears it (a required one such as
    # the name is then refused by validation, naming the field).
    for key, value in values.items():
        if value is None and key in SITE_FIELDS:
            field = Site._meta.get_field(key)
            if isinstance(field, models.CharField) and not field.choices:
                out[key] = ""
    if out.get("phone"):
        out["phone"] = normalize_phone(str(out["phone"]))
    for key in ("state", "dea_number"):
        if key in out and isinstance(out[key], str):
            out[key] = out[key].strip().upper()
    return out


def site_create(*, actor: User | None, name: str, **values: Any) -> Site:
    """Create a pharmacy site (the operator at set-up, or an admin of an existing site)."""
    authorize(actor, Cap.SITE_EDIT)
    with transaction.atomic():
        site = Site(name=name)
        _apply(site, SITE_FIELDS, _normalize_site_values(values))
        full_clean(site)
        site.save()
        audit_record(
            actor=actor,
            site=site,
            action="site.created",
            obj=site,
            data={"after": snapshot(site, SITE_FIELDS)},
        )
    return site


def site_update(*, actor: User, site: Site, **values: Any) -> Site:
    """Change the site record: identifiers, address, time zone, session and MFA policy."""
    authorize(actor, Cap.SITE_EDIT)
    if actor is not None and actor.site_id != site.pk:
        raise Forbidden("You can only change your own pharmacy's record.")
    with transaction.atomic():
        site = Site.objects.select_for_update().get(pk=site.pk)
        before = snapshot(site, SITE_FIELDS)
        _apply(site, SITE_FIELDS, _normalize_site_values(values))
        full_clean(site)
        changes = diff(before, snapshot(site, SITE_FIELDS))
        if not changes:
            return site
        site.save(update_fields=list(changes))
        audit_record(
            actor=actor, site=site, action="site.updated", obj=site, data={"changes": changes}
        )
    return site


# --- Staff ------------------------------------------------------------------------------------

STAFF_FIELDS = [
    "first_name",
    "last_name",
    "email",
    "role",
    "is_active",
    "technician_registration",
    "technician_registration_expires",
    "certification",
    "certification_number",
    "certification_expires",
    "pharmacist_license",
    "pharmacist_license_expires",
]


def _check_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise Invalid(errors=[{"field": "password", "message": m} for m in exc.messages]) from None


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise Invalid(f"Unknown role {role!r}; use one of: {', '.join(Role.values)}.", field="role")


def staff_create(
    *,
    actor: User | None,
    site: Site,
    username: str,
    role: str,
    password: str | None,
    **values: Any,
) -> User:
    """Create a staff account with its role and credentials."""
    authorize(actor, Cap.STAFF_EDIT)
    if actor is not None and actor.site_id != site.pk:
        raise Forbidden("You can only add staff to your own pharmacy.")
    _check_role(role)
    if actor is not None and role == Role.ADMIN and actor.role != Role.ADMIN:
        raise Forbidden("Only an administrator can create another administrator.")
    with transaction.atomic():
        user = User(site=site, username=(username or "").strip(), role=role)
        _apply(user, STAFF_FIELDS, values)
        if User.objects.filter(username__iexact=user.username).exists():
            raise Invalid("That user name is taken.", field="username")
        if password is not None:
            _check_password(password, user)
            user.set_password(password)
        else:
            user.set_unusable_password()
        full_clean(user, exclude=["password", "last_login"])
        _check_credentials(user)
        try:
            user.save()
        except IntegrityError:
            raise Invalid("That user name is taken.", field="username") from None
        audit_record(
            actor=actor,
            site=site,
            action="staff.created",
            obj=user,
            data={"after": snapshot(user, ["username", *STAFF_FIELDS])},
        )
    return user


def _check_credentials(user: User) -> None:
    errors = []
    pairs = [
        ("technician_registration", "technician_registration_expires"),
        ("certification_number", "certification_expires"),
        ("pharmacist_license", "pharmacist_license_expires"),
    ]
    for number, expires in pairs:
        if getattr(user, expires) and not getattr(user, number):
            errors.append({"field": number, "message": "Enter the number this expiry belongs to."})
    if user.certification and user.certification not in Certification.values:
        errors.append({"field": "certification", "message": "Unknown certification."})
    if errors:
        raise Invalid(errors=errors)


def staff_update(*, actor: User | None, user: User, **values: Any) -> User:
    """Change a staff member's role, credentials or active state."""
    authorize(actor, Cap.STAFF_EDIT)
    if actor is not None and actor.site_id != user.site_id:
        raise NotFound("No such staff member at this pharmacy.")
    if "role" in values:
        _check_role(values["role"])
        if (
            actor is not None
            and Role.ADMIN in {values["role"], user.role}
            and (actor.role != Role.ADMIN)
        ):
            raise Forbidden("Only an administrator can grant or change an administrator role.")
    if (
        actor is not None
        and actor.pk == user.pk
        and (values.get("role", user.role) != user.role or values.get("is_active") is False)
    ):
        raise Conflict("You cannot change your own role or deactivate yourself.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = snapshot(user, STAFF_FIELDS)
        _apply(user, STAFF_FIELDS, values)
        full_clean(user, exclude=["password", "last_login"])
        _check_credentials(user)
        changes = diff(before, snapshot(user, STAFF_FIELDS))
        if not changes:
            return user
        user.save(update_fields=list(changes))
        audit_record(
            actor=actor, site=user.site, action="staff.updated", obj=user, data={"changes": changes}
        )
    return user


def staff_set_password(*, actor: User | None, user: User, password: str) -> None:
    """Set a password (one's own, or anyone's by a staff manager)."""
    if actor is None or actor.pk != user.pk:
        authorize(actor, Cap.STAFF_EDIT)
        if actor is not None and actor.site_id != user.site_id:
            raise NotFound("No such staff member at this pharmacy.")
    _check_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=actor, site=user.site, action="staff.password_set", obj=user)


# --- API tokens -------------------------------------------------------------------------------


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(*, actor: User | None, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Create a bearer token acting as ``user``; returns the row and the secret (shown once)."""
    authorize(actor, Cap.TOKEN_CREATE)
    if actor is not None and actor.pk != user.pk:
        raise Forbidden("You can only create tokens for yourself.")
    if not user.is_active:
        raise Conflict("That account is inactive.", field="username")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:80], prefix=secret[:12], digest=token_digest(secret)
        )
        audit_record(
            actor=actor,
            site=user.site,
            action="token.created",
            obj=token,
            data={"user": user.username, "name": name[:80], "prefix": token.prefix},
        )
    return token, secret


def token_revoke(*, actor: User | None, token: ApiToken) -> ApiToken:
    if actor is None or actor.pk != token.user_id:
        authorize(actor, Cap.STAFF_EDIT)
        if actor is not None and actor.site_id != token.user.site_id:
            raise NotFound("No such API token at this pharmacy.")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, site=token.user.site, action="token.revoked", obj=token)
    return token


def token_authenticate(secret: str) -> ApiToken | None:
    """The live token for a bearer secret, or None. Marks its last use (coarsely)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = (
        ApiToken.objects.select_related("user", "user__site")
        .filter(digest=token_digest(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


# --- Sign-in events ---------------------------------------------------------------------------


def auth_event(
    *,
    actor: User | None,
    action: str,
    site: Site | None = None,
    username: str = "",
    reason: str = "",
) -> None:
    """Record a sign-in, sign-out, timeout or second-factor event."""
    site = site or (actor.site if actor else None) or Site.objects.order_by("pk").first()
    if site is None:
        return
    with transaction.atomic():
        audit_record(
            actor=actor,
            site=site,
            action=action,
            actor_name=username[:150],
            reason=reason,
            object_type="core.user",
            object_id=actor.pk if actor else "",
        )


# --- Audit chain -------------------------------------------------------------------------------


def audit_chain_verify(*, actor: User) -> ChainReport:
    """Walk the actor's pharmacy's audit chain and record that it was checked (and how it
    stood), so the log itself shows who verified it and when."""
    authorize(actor, Cap.AUDIT_VERIFY)
    site = actor.site
    if site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    # The walk reads without locks (see audit_verify_site); only the event is a write.
    report = audit_verify_site(site.pk)
    with transaction.atomic():
        audit_record(
            actor=actor,
            site=site,
            action="audit.verified",
            object_type="core.site",
            object_id=site.pk,
            data={
                "intact": report.intact,
                "events": report.events,
                "head_seq": report.head_seq,
                "head_hash": report.head_hash,
                "broken": str(report.broken) if report.broken else "",
            },
        )
    return report


def mfa_enrolment_start(*, user: User) -> Any:
    """The user's pending (unconfirmed) authenticator, created on first need. Nothing is
    audited until it is confirmed: an unconfirmed device never lets anyone in."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def mfa_enrolment_confirm(*, user: User, device: Any, token: str) -> bool:
    """Confirm a pending authenticator with one code from it; record the enrolment.
    False (and nothing written) when the code does not match."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if device.user_id != user.pk or device.confirmed:
        raise Conflict("This authenticator is not waiting to be confirmed.")
    if not (token.isdigit() and len(token) == 6 and device.verify_token(token)):
        return False
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        audit_record(
            actor=user, action="auth.mfa_enrolled", object_type="core.user", object_id=user.pk
        )
    return True


# --- Witness (two-person integrity) --------------------------------------------------------

register_actions(
    {
        "auth.witness_failed": "Witness re-authentication failed",
    }
)

# A witness's password may be tried this many times in WITNESS_WINDOW before it is refused
# (the sign-in lockout, django-axes, guards only the login page).
WITNESS_ATTEMPTS = 5
WITNESS_WINDOW = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Witness:
    """A second authorized person who re-authenticated at the moment of an action."""

    user: User
    factors: str  # "password" or "password+totp"
    at: dt.datetime

    @property
    def name(self) -> str:
        return self.user.username


def _witness_value(given: Any, key: str) -> str:
    if given is None:
        return ""
    value = given.get(key) if isinstance(given, Mapping) else getattr(given, key, "")
    return "" if value is None else str(value)


def witness_confirm(
    *,
    actor: User | None,
    given: Mapping[str, Any] | Any,
    action: str,
    cap: Cap = Cap.CS_WITNESS,
    field: str = "witness",
    not_also: tuple[User, ...] = (),
) -> Witness:
    """Re-authenticate a witness now: ``given`` holds ``username``, ``password`` and, when
    the witness has enrolled an authenticator, ``otp`` (six digits). The witness must be an
    active member of the actor's pharmacy, someone else than the actor (and than anyone in
    ``not_also``, e.g. the first of two witnesses), allowed to witness (``cap``, with a
    current credential), and must prove it: password, and the second factor where enrolled
    or where the pharmacy requires one. Errors name ``{field}.username`` / ``.password`` /
    ``.otp``. A failed proof is recorded in the audit log in its own transaction, so call
    this before the action's transaction. Nothing else is written: the action's record
    keeps the witness it is given back."""
    username = _witness_value(given, "username").strip()
    password = _witness_value(given, "password")
    token = _witness_value(given, "otp").strip().replace(" ", "")
    if not username:
        raise Invalid("Enter the witness's user name.", field=f"{field}.username")
    site = actor.site if actor is not None else None
    found = User.objects.select_related("site").filter(username=username).first()
    if found is None or (site is not None and found.site_id != site.pk) or not found.is_active:
        raise Invalid(
            f"No active user {username!r} at this pharmacy can witness.",
            field=f"{field}.username",
        )
    if actor is not None and found.pk == actor.pk:
        raise Invalid(
            "The witness must be a second person, not the one doing it.",
            field=f"{field}.username",
        )
    if any(other is not None and other.pk == found.pk for other in not_also):
        raise Invalid(
            f"{username} is already a witness here: a second, different witness is needed.",
            field=f"{field}.username",
        )
    try:
        require(found, cap)
    except Forbidden as exc:
        raise Invalid(
            f"{found.display_name} may not witness this: {exc.message}",
            field=f"{field}.username",
        ) from None
    since = timezone.now() - WITNESS_WINDOW
    failures = AuditEvent.objects.filter(
        site_id=found.site_id,
        action="auth.witness_failed",
        object_type="core.user",
        object_id=str(found.pk),
        occurred_at__gte=since,
    ).count()
    if failures >= WITNESS_ATTEMPTS:
        raise Conflict(
            f"Too many failed witness sign-ins for {username}: wait 15 minutes.",
            field=f"{field}.username",
        )
    from django_otp.plugins.otp_totp.models import TOTPDevice

    devices = list(TOTPDevice.objects.filter(user=found, confirmed=True))
    problem: tuple[str, str] | None = None
    if not password or not found.check_password(password):
        problem = ("password", "The witness's password is not right.")
    elif devices:
        if not (token.isdigit() and len(token) == 6):
            problem = ("otp", "Enter the six-digit code from the witness's authenticator.")
        elif not any(device.verify_token(token) for device in devices):
            problem = ("otp", "The witness's authenticator code is not right.")
    elif found.site.mfa_required:
        raise Invalid(
            f"{username} must set up a second factor before witnessing (this pharmacy "
            "requires one).",
            field=f"{field}.otp",
        )
    if problem is not None:
        with transaction.atomic():
            audit_record(
                actor=actor,
                site=found.site,
                action="auth.witness_failed",
                object_type="core.user",
                object_id=found.pk,
                data={"witness": username, "for": action, "factor": problem[0]},
            )
        raise Invalid(problem[1], field=f"{field}.{problem[0]}")
    return Witness(
        user=found,
        factors="password+totp" if devices else "password",
        at=timezone.now(),
    )


# --- Working at more than one pharmacy of the chain ---------------------------------------

register_actions(
    {
        "site_assignment.granted": "Allowed to work at this pharmacy",
        "site_assignment.revoked": "No longer allowed to work at this pharmacy",
        "staff.site_switched": "Switched pharmacy",
    }
)


def user_sites(user: User) -> list[Site]:
    """The pharmacies ``user`` may work at: their own, then those assigned to them."""
    assigned = Site.objects.filter(assignments__user=user).exclude(pk=user.home.pk)
    return [user.home, *assigned.order_by("name", "pk")]


def _check_chain(site: Site, user: User) -> None:
    if site.organization_id is None:
        # Two pharmacies of no chain are not one business: nobody is shared between them.
        raise Invalid(
            "This pharmacy belongs to no chain: only the pharmacies of one business share "
            "their staff.",
            field="user",
        )
    if site.organization_id != user.home.organization_id:
        raise Invalid("That person belongs to a pharmacy of another business.", field="user")


def site_assignment_grant(*, actor: User, user: User) -> SiteAssignment:
    """Let ``user`` (of another pharmacy of the same business) work at the actor's pharmacy.

    Only the pharmacy being opened grants access to it: a pharmacist-in-charge cannot give
    anyone — themselves included — another pharmacy's patients."""
    authorize(actor, Cap.SITE_ASSIGN)
    site = actor.site
    if user.home.pk == site.pk:
        raise Invalid("This is already that person's own pharmacy.", field="user")
    _check_chain(site, user)
    with transaction.atomic():
        assignment, created = SiteAssignment.objects.get_or_create(
            user=user, site=site, defaults={"granted_by": actor}
        )
        if not created:
            raise Conflict("That person may already work at this pharmacy.", field="user")
        if user.home_site_id is None:
            # Fixed now, so "home" stays put when they switch (and the header can offer
            # the switch without a query on every page).
            User.objects.filter(pk=user.pk).update(home_site=user.site)
        audit_record(
            actor=actor,
            site=site,
            action="site_assignment.granted",
            obj=assignment,
            data={"user": user.username, "home_site": user.home.pk},
        )
    return assignment


def site_assignment_revoke(*, actor: User, assignment: SiteAssignment) -> None:
    """Withdraw an assignment to the actor's pharmacy; a person working there now is moved
    back to their own pharmacy at once."""
    authorize(actor, Cap.SITE_ASSIGN)
    if assignment.site_id != actor.site_id:
        raise NotFound("No such assignment at this pharmacy.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=assignment.user_id)
        deleted, _ = SiteAssignment.objects.filter(pk=assignment.pk).delete()
        if not deleted:
            raise NotFound("No such assignment at this pharmacy.")
        if user.site_id == assignment.site_id:
            user.site = user.home
            user.save(update_fields=["site"])
        audit_record(
            actor=actor,
            site=assignment.site,
            action="site_assignment.revoked",
            object_type="core.siteassignment",
            object_id=assignment.pk,
            data={"user": user.username},
        )


def user_switch_site(*, actor: User, site: Site) -> User:
    """Move the actor's working pharmacy to ``site``: their own, or one assigned to them.

    Recorded in both pharmacies' audit chains, so each site's log shows who came and went."""
    if not actor.is_authenticated or not actor.is_active:
        raise Forbidden("Sign in first.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        allowed = site.pk == user.home.pk or user.site_assignments.filter(site=site).exists()
        if not allowed:
            raise Invalid(
                "You are not assigned to that pharmacy. Ask its pharmacist-in-charge.",
                field="site",
            )
        if site.pk == user.site_id:
            return user
        leaving = user.site
        if user.home_site_id is None:
            user.home_site = leaving
        user.site = site
        user.save(update_fields=["site", "home_site"])
        data = {"from_site": leaving.pk, "to_site": site.pk}
        for at in (leaving, site):
            audit_record(actor=user, site=at, action="staff.site_switched", obj=user, data=data)
    actor.site, actor.home_site = user.site, user.home_site
    return user


def site_default() -> Site | None:
    return Site.objects.order_by("pk").first()


__all__ = [
    "PracticeSetting",
    "Witness",
    "audit_chain_verify",
    "authorize",
    "site_assignment_grant",
    "site_assignment_revoke",
    "site_create",
    "site_update",
    "staff_create",
    "staff_set_password",
    "staff_update",
    "token_authenticate",
    "token_create",
    "token_revoke",
    "user_sites",
    "user_switch_site",
    "witness_confirm",
]
