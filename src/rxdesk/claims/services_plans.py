"""Writes and reads of the plan file: payers (processors and their switch endpoints) and the
benefit plans found by the BIN, PCN and group on a patient's card.

The plan file is reference data shared by every site (no PHI): pharmacists, the
pharmacist-in-charge and the administrator keep it (``claims.plans``); whoever works claims
reads it (``claims.view``). A plan is never deleted — its claims point at it — so a plan that
is no longer used is deactivated, and its claims stay as they were."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from rxdesk.claims.models import Payer, Plan
from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import _apply, authorize, full_clean, site_default, snapshot
from rxdesk.core.validators import normalize_phone

register_actions(
    {
        "claims.payer.created": "Payer (processor) added to the plan file",
        "claims.payer.updated": "Payer (processor) changed",
        "claims.plan.created": "Plan added to the plan file",
        "claims.plan.updated": "Plan changed",
    }
)

PAYER_FIELDS = [
    "name",
    "processor_name",
    "help_desk_phone",
    "host",
    "port",
    "timeout_seconds",
    "software_vendor_id",
    "active",
]
PLAN_FIELDS = [
    "name",
    "bin",
    "pcn",
    "group",
    "help_desk_phone",
    "return_to_stock_days",
    "max_days_supply",
    "max_days_supply_mail",
    "dispensing_fee",
    "active",
]
# What an audit event records of a plan: its fields and the payer it belongs to.
_PLAN_AUDITED = [*PLAN_FIELDS, "payer_id"]
MAX_ID = 2**63 - 1


# --- Reads ------------------------------------------------------------------------------------


def _may_read(actor: User | None) -> None:
    """Reading the plan file: whoever works claims, or whoever keeps the file."""
    if actor is not None and has(actor, Cap.CLAIMS_PLANS):
        return
    authorize(actor, Cap.CLAIMS_VIEW)  # actor None: the operator at the shell only


def payer_list(*, actor: User | None, include_inactive: bool = True) -> QuerySet[Payer]:
    """The payers, by name."""
    _may_read(actor)
    qs = Payer.objects.order_by("name")
    return qs if include_inactive else qs.filter(active=True)


def payer_get(*, actor: User | None, payer_id: int) -> Payer:
    _may_read(actor)
    payer = Payer.objects.filter(pk=payer_id).first() if 0 < payer_id <= MAX_ID else None
    if payer is None:
        raise NotFound("No such payer in the plan file.")
    return payer


def plan_list(
    *, actor: User | None, bin: str = "", include_inactive: bool = True
) -> QuerySet[Plan]:
    """The plans with their payers, by BIN, PCN and group; ``bin`` narrows to one BIN."""
    _may_read(actor)
    qs = Plan.objects.select_related("payer").order_by("bin", "pcn", "group", "name")
    bin = (bin or "").strip()
    if bin:
        qs = qs.filter(bin=bin)
    return qs if include_inactive else qs.filter(active=True)


def plan_get(*, actor: User | None, plan_id: int) -> Plan:
    _may_read(actor)
    plan = (
        Plan.objects.select_related("payer").filter(pk=plan_id).first()
        if 0 < plan_id <= MAX_ID
        else None
    )
    if plan is None:
        raise NotFound("No such plan in the plan file.")
    return plan


# --- Validation -------------------------------------------------------------------------------


def _text(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _normalize_payer(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: _text(v) for k, v in values.items()}
    if out.get("help_desk_phone"):
        out["help_desk_phone"] = normalize_phone(str(out["help_desk_phone"]))
    for key in ("name", "processor_name", "host", "software_vendor_id", "help_desk_phone"):
        if key in out and out[key] is None:
            out[key] = ""
    return out


def _normalize_plan(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: _text(v) for k, v in values.items()}
    # The card prints PCN and group in capitals; a switch compares them exactly.
    for key in ("pcn", "group"):
        if key in out:
            out[key] = (out[key] or "").upper()
    if out.get("help_desk_phone"):
        out["help_desk_phone"] = normalize_phone(str(out["help_desk_phone"]))
    for key in ("name", "bin", "help_desk_phone"):
        if key in out and out[key] is None:
            out[key] = ""
    return out


def _check_payer(payer: Payer) -> None:
    if not payer.name:
        raise Invalid("Type the payer's name.", field="name")
    same = Payer.objects.filter(name__iexact=payer.name).exclude(pk=payer.pk).first()
    if same is not None:
        raise Invalid(f"Another payer is already called {same.name}.", field="name")
    if payer.port is None:
        raise Invalid("Type the switch's port (1 to 65535).", field="port")
    full_clean(payer)


def _plan_key(plan: Plan) -> str:
    return f"BIN {plan.bin}, PCN {plan.pcn or '(none)'}, group {plan.group or '(any)'}"


def _duplicate(plan: Plan) -> Invalid:
    return Invalid(
        f"{_plan_key(plan)} is already in the plan file. "
        "Change the existing plan instead of adding it again.",
        field="bin",
    )


def _check_plan(plan: Plan) -> None:
    if not plan.name:
        raise Invalid("Type the plan's name.", field="name")
    if not plan.bin:
        raise Invalid("Type the BIN from the card (6 digits).", field="bin")
    if (
        Plan.objects.filter(bin=plan.bin, pcn=plan.pcn, group=plan.group)
        .exclude(pk=plan.pk)
        .exists()
    ):
        raise _duplicate(plan)
    full_clean(plan)


def _audit_site(actor: User | None) -> Any:
    """The chain the event goes to: the actor's pharmacy (the plan file itself has no site);
    the operator at the shell writes to the first site's chain."""
    return actor.site if actor is not None else site_default()


def _record(actor: User | None, action: str, obj: Any, data: dict[str, Any]) -> None:
    site = _audit_site(actor)
    if site is None:  # a database with no pharmacy yet: no chain to write to
        return
    audit_record(actor=actor, site=site, action=action, obj=obj, data=data)


def _save(obj: Payer | Plan, update_fields: list[str] | None = None) -> None:
    # Two people adding the same plan at once: the unique constraint decides.
    try:
        with transaction.atomic():
            obj.save(update_fields=update_fields)
    except IntegrityError:
        if isinstance(obj, Plan):
            raise _duplicate(obj) from None
        raise Invalid(f"Another payer is already called {obj.name}.", field="name") from None


# --- Writes -----------------------------------------------------------------------------------


def payer_create(*, actor: User | None, **values: Any) -> Payer:
    """Add a payer (a processor and the switch endpoint its claims go to)."""
    authorize(actor, Cap.CLAIMS_PLANS)
    with transaction.atomic():
        payer = Payer()
        _apply(payer, PAYER_FIELDS, _normalize_payer(values))
        _check_payer(payer)
        _save(payer)
        _record(actor, "claims.payer.created", payer, {"after": snapshot(payer, PAYER_FIELDS)})
    return payer


def payer_update(*, actor: User | None, payer: Payer, **values: Any) -> Payer:
    """Change a payer: its name, help desk, switch endpoint, timeout; ``active=False``
    retires it (its plans and claims stay)."""
    authorize(actor, Cap.CLAIMS_PLANS)
    with transaction.atomic():
        payer = Payer.objects.select_for_update().get(pk=payer.pk)
        before = snapshot(payer, PAYER_FIELDS)
        _apply(payer, PAYER_FIELDS, _normalize_payer(values))
        _check_payer(payer)
        changes = diff(before, snapshot(payer, PAYER_FIELDS))
        if not changes:
            return payer
        _save(payer, update_fields=list(changes))
        _record(actor, "claims.payer.updated", payer, _changes(changes))
    return payer


def _changes(changes: dict[str, list[Any]]) -> dict[str, Any]:
    return {
        "before": {k: v[0] for k, v in changes.items()},
        "after": {k: v[1] for k, v in changes.items()},
    }


def _payer_of(value: Any) -> Payer:
    if isinstance(value, Payer):
        return value
    raise Invalid("Choose the payer (processor) of the plan.", field="payer")


def plan_create(*, actor: User | None, payer: Payer, **values: Any) -> Plan:
    """Add a plan under a payer: name, BIN, PCN and group as on the card (a blank group
    matches any group), help desk, return-to-stock window, days-supply limits, fee."""
    authorize(actor, Cap.CLAIMS_PLANS)
    with transaction.atomic():
        plan = Plan(payer=_payer_of(payer))
        _apply(plan, PLAN_FIELDS, _normalize_plan(values))
        _check_plan(plan)
        _save(plan)
        _record(actor, "claims.plan.created", plan, {"after": snapshot(plan, _PLAN_AUDITED)})
    return plan


def plan_update(*, actor: User | None, plan: Plan, **values: Any) -> Plan:
    """Change a plan (``payer`` moves it to another payer). ``active=False`` deactivates it:
    new claims no longer find it, and the claims already made keep it."""
    authorize(actor, Cap.CLAIMS_PLANS)
    values = dict(values)
    new_payer = _payer_of(values.pop("payer")) if "payer" in values else None
    with transaction.atomic():
        plan = Plan.objects.select_for_update().get(pk=plan.pk)
        before = snapshot(plan, _PLAN_AUDITED)
        _apply(plan, PLAN_FIELDS, _normalize_plan(values))
        if new_payer is not None:
            plan.payer = new_payer
        _check_plan(plan)
        changes = diff(before, snapshot(plan, _PLAN_AUDITED))
        if not changes:
            return plan
        fields = ["payer" if k == "payer_id" else k for k in changes]
        _save(plan, update_fields=fields)
        _record(actor, "claims.plan.updated", plan, _changes(changes))
    return plan


__all__ = [
    "payer_create",
    "payer_get",
    "payer_list",
    "payer_update",
    "plan_create",
    "plan_get",
    "plan_list",
    "plan_update",
]
