"""Theft or significant loss of controlled substances: the DEA Form 106 record (team
reference controlled-substances.md §5.1; 21 CFR 1301.76(b)).

Discovery starts two clocks (rxdesk.controlled.rules.form_106_deadlines): the written
notice to the DEA Field Division Office within one business day, and the Form 106 itself,
submitted electronically within 45 calendar days. Both run from the discovery's date at the
pharmacy (its time zone), not from the event. A notice or a form recorded after its day is
kept and shown as late — never refused: the record must say what happened.

A record is opened here directly (a robbery found at opening: the products and quantities
are given) or by an investigation concluding theft or significant loss
(rxdesk.controlled.services_audits), which also corrects the perpetual balance.

Each service: capability first, input checked (every broken field named), one transaction,
the rows, and the audit event last."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import Package
from rxdesk.catalog.queries import latest_prices
from rxdesk.controlled.choices import LossStatus, LossType
from rxdesk.controlled.models import Investigation, TheftLoss, TheftLossLine
from rxdesk.controlled.rules import form_106_deadlines
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory import ledger
from rxdesk.inventory.models import Lot
from rxdesk.inventory.services.common import package_of

register_actions(
    {
        "cs.loss.opened": "Theft or significant loss recorded (DEA Form 106 opened)",
        "cs.loss.updated": "Theft or loss record changed (police, previous losses, narrative…)",
        "cs.loss.notified": "DEA field office notified in writing of a theft or loss",
        "cs.loss.submitted": "DEA Form 106 submitted",
        "cs.loss.cancelled": "Theft or loss record cancelled",
    }
)

# Records still being worked: the notice or the form is outstanding.
LOSS_OPEN = (LossStatus.DRAFT, LossStatus.NOTIFIED)
MAX_LINES = 50
TEXT_MAX = 5000
SHORT_MAX = 200
# A clock a little ahead of the server's (a workstation's) is not "the future".
CLOCK_SKEW = dt.timedelta(minutes=5)
CENT = Decimal("0.01")
MAX_VALUE = Decimal("9999999999.99")

DETAIL_FIELDS = (
    "loss_type",
    "loss_type_other",
    "occurred_on",
    "police_notified",
    "police_department",
    "police_report_number",
    "previous_losses",
    "security_measures",
    "narrative",
)


# --- Input ---------------------------------------------------------------------------------


class FieldErrors:
    """Collects every broken field of one request, so all are named at once."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": f"{self.prefix}{field}", "message": message})

    def absorb(self, exc: Invalid) -> None:
        for error in exc.errors:
            self.add(error["field"], error["message"])

    def raise_any(self) -> None:
        if self.items:
            only = self.items[0]["field"] if len(self.items) == 1 else None
            raise Invalid(errors=self.items, field=only)


def _text(value: Any, limit: int, field: str, errors: FieldErrors) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > limit:
        errors.add(field, f"At most {limit} characters.")
    elif not storable(text):
        errors.add(field, "The text holds a character that cannot be kept (NUL).")
    return text


def storable(text: str) -> bool:
    """Text a database keeps as typed (PostgreSQL refuses the NUL character)."""
    return "\x00" not in text


def local_datetime(value: Any, site: Site, *, field: str) -> dt.datetime:
    """An aware datetime; a naive one (typed at the counter) is the pharmacy's local time."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise Invalid("Enter a date and time.", field=field) from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        raise Invalid("Enter the time too.", field=field)
    if not isinstance(value, dt.datetime):
        raise Invalid("Enter a date and time.", field=field)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=site.tz)
    return value


def _date(value: Any, field: str, errors: FieldErrors) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors.add(field, "Enter a date as YYYY-MM-DD.")
        return None


def money_of(value: Any, field: str, errors: FieldErrors) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.add(field, f"'{value}' is not an amount in dollars.")
        return None
    if not amount.is_finite() or amount < 0:
        errors.add(field, "Enter an amount of zero or more.")
        return None
    if amount > MAX_VALUE:
        errors.add(field, "The amount is too large.")
        return None
    if amount != amount.quantize(CENT):
        errors.add(field, "Dollars and cents: at most two decimal places.")
        return None
    return amount.quantize(CENT)


def _count(value: Any, field: str, errors: FieldErrors) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        errors.add(field, "Enter a number.")
        return None
    try:
        number = int(str(value))
    except ValueError:
        errors.add(field, "Enter a whole number.")
        return None
    if not 0 <= number <= 100000:
        errors.add(field, "Enter a number of zero or more.")
        return None
    return number


def _flag(value: Any, field: str, errors: FieldErrors) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    errors.add(field, "Answer yes or no.")
    return None


def clean_details(given: Mapping[str, Any], *, prefix: str = "", creating: bool) -> dict[str, Any]:
    """The Form 106 details of ``given`` checked field by field; only the keys given are
    returned. Creating, the type of theft or loss is required. Errors are named
    ``{prefix}{field}``, all at once."""
    errors = FieldErrors(prefix)
    unknown = [k for k in given if k not in DETAIL_FIELDS]
    for key in unknown:
        errors.add(key, "This field cannot be set here.")
    out: dict[str, Any] = {}
    if "loss_type" in given or creating:
        kind = given.get("loss_type") or ""
        if kind not in LossType.values:
            errors.add(
                "loss_type",
                "Choose the type of theft or loss: " + ", ".join(LossType.values) + ".",
            )
        out["loss_type"] = kind
    if "loss_type_other" in given:
        out["loss_type_other"] = _text(
            given["loss_type_other"], SHORT_MAX, "loss_type_other", errors
        )
    if "occurred_on" in given:
        out["occurred_on"] = _date(given["occurred_on"], "occurred_on", errors)
    if "police_notified" in given:
        out["police_notified"] = _flag(given["police_notified"], "police_notified", errors)
    if "police_department" in given:
        out["police_department"] = _text(
            given["police_department"], 120, "police_department", errors
        )
    if "police_report_number" in given:
        out["police_report_number"] = _text(
            given["police_report_number"], 60, "police_report_number", errors
        )
    if "previous_losses" in given:
        out["previous_losses"] = _count(given["previous_losses"], "previous_losses", errors)
    for name in ("security_measures", "narrative"):
        if name in given:
            out[name] = _text(given[name], TEXT_MAX, name, errors)
    if creating:
        # The rules joining fields, checked here too so a new record is refused before any
        # witness signs in (an update checks them against the record: _apply_details).
        if out.get("loss_type") == LossType.OTHER and not out.get("loss_type_other"):
            errors.add("loss_type_other", "Type 'other': say what kind of theft or loss it was.")
        if out.get("police_notified") and not out.get("police_department"):
            errors.add("police_department", "Name the police department that was notified.")
    errors.raise_any()
    return {k: v for k, v in out.items() if v is not None or k == "police_notified"}


def police_answered(loss: TheftLoss) -> bool | None:
    """Form 106's "were the police notified?": True, False, or None while not answered."""
    return loss.police_notified


def _apply_details(loss: TheftLoss, details: Mapping[str, Any], errors: FieldErrors) -> None:
    """Set the checked details on ``loss`` and check the rules that join fields."""
    for key, value in details.items():
        if key == "police_notified":
            continue
        setattr(loss, key, value)
    if "police_notified" in details and details["police_notified"] is not None:
        if details["police_notified"]:
            loss.police_notified = True
        else:
            loss.police_notified = False
            loss.police_department = ""
            loss.police_report_number = ""
    if loss.loss_type != LossType.OTHER:
        loss.loss_type_other = ""
    elif not loss.loss_type_other:
        errors.add("loss_type_other", "Type 'other': say what kind of theft or loss it was.")
    if loss.police_notified and not loss.police_department:
        errors.add("police_department", "Name the police department that was notified.")
    local_day = loss.discovered_at.astimezone(loss.site.tz).date()
    if loss.occurred_on is not None and loss.occurred_on > local_day:
        errors.add("occurred_on", "The theft or loss cannot be after its discovery.")


@dataclass(frozen=True)
class LossLine:
    """One product lost: package, lot (if known), quantity, estimated value (if given)."""

    package: Package
    lot: Lot | None
    quantity: Decimal
    estimated_value: Decimal | None


def controlled_package(value: Package | str | None, *, field: str) -> Package:
    """A catalog package that is a controlled substance here, or Invalid naming ``field``."""
    package = package_of(value, field=field)
    if not package.product.dea_schedule:
        raise Invalid(
            f"NDC {package.ndc10} is not a controlled substance.",
            field=field,
        )
    return package


def lot_of(package: Package, number: Any, *, field: str) -> Lot | None:
    """The package's lot numbered ``number`` (None when none is given)."""
    text = ("" if number is None else str(number)).strip().upper()
    if not text:
        return None
    found = (
        Lot.objects.filter(package=package, number=text).first()
        if storable(text) and len(text) <= 40
        else None
    )
    if found is None:
        raise Invalid(f"No lot {text} of NDC {package.ndc10} is on file.", field=field)
    return found


def _clean_lines(lines: Any) -> list[LossLine]:
    if not isinstance(lines, Sequence) or isinstance(lines, str | bytes) or not lines:
        raise Invalid("List each product lost: NDC and quantity.", field="lines")
    if len(lines) > MAX_LINES:
        raise Invalid(f"At most {MAX_LINES} lines.", field="lines")
    errors = FieldErrors()
    out: list[LossLine] = []
    for index, raw in enumerate(lines):
        at = f"lines.{index}."
        if not isinstance(raw, Mapping):
            errors.add(f"lines.{index}", "Give the line's NDC and quantity.")
            continue
        package: Package | None = None
        lot: Lot | None = None
        quantity: Decimal | None = None
        try:
            package = controlled_package(raw.get("ndc"), field=f"{at}ndc")
            lot = lot_of(package, raw.get("lot_number"), field=f"{at}lot_number")
        except Invalid as exc:
            errors.absorb(exc)
        try:
            quantity = ledger.quantity_of(raw.get("quantity"), field=f"{at}quantity")
        except Invalid as exc:
            errors.absorb(exc)
        value = money_of(raw.get("estimated_value"), f"{at}estimated_value", errors)
        if package is not None and quantity is not None:
            out.append(LossLine(package, lot, quantity, value))
    errors.raise_any()
    return out


def estimated_value(package: Package, quantity: Decimal, on: dt.date) -> Decimal | None:
    """What ``quantity`` cost the pharmacy, from the package's latest acquisition cost."""
    prices = latest_prices([package], on=on).get(package.pk, [])
    cost = next((p.amount for p in prices if p.kind == PriceKind.ACQUISITION), None)
    if cost is None or not package.package_quantity:
        return None
    return (cost * quantity / package.package_quantity).quantize(CENT)


def _check_discovery(discovered: dt.datetime, field: str) -> None:
    if discovered > timezone.now() + CLOCK_SKEW:
        raise Invalid("The discovery cannot be in the future.", field=field)


# --- Opening a record ----------------------------------------------------------------------


def open_loss(
    *,
    actor: User,
    site: Site,
    details: Mapping[str, Any],
    discovered_at: dt.datetime,
    lines: Sequence[LossLine],
    investigation: Investigation | None = None,
    prefix: str = "",
) -> TheftLoss:
    """Write a Form 106 record and its lines inside the caller's transaction, with its
    deadlines from the discovery's local date, and its audit event."""
    deadlines = form_106_deadlines(discovered_at.astimezone(site.tz).date())
    loss = TheftLoss(
        site=site,
        investigation=investigation,
        loss_type=details.get("loss_type") or "",
        discovered_at=discovered_at,
        notify_by=deadlines.notify_by,
        complete_by=deadlines.complete_by,
        opened_by=actor,
    )
    errors = FieldErrors(prefix)
    _apply_details(loss, details, errors)
    errors.raise_any()
    loss.save()
    rows = []
    for line in lines:
        value = line.estimated_value
        if value is None:
            value = estimated_value(line.package, line.quantity, deadlines.discovered_on)
        rows.append(
            TheftLossLine.objects.create(
                loss=loss,
                package=line.package,
                lot=line.lot,
                quantity=line.quantity,
                estimated_value=value,
            )
        )
    audit_record(
        actor=actor,
        site=site,
        action="cs.loss.opened",
        obj=loss,
        data={
            "loss_type": loss.loss_type,
            "discovered_at": loss.discovered_at.isoformat(),
            "notify_by": loss.notify_by.isoformat(),
            "complete_by": loss.complete_by.isoformat(),
            "investigation": investigation.pk if investigation is not None else None,
            "lines": [
                {
                    "ndc": row.package.ndc11,
                    "lot": row.lot.number if row.lot else None,
                    "quantity": str(row.quantity),
                }
                for row in rows
            ],
        },
    )
    return loss


def theft_loss_open(
    *,
    actor: User,
    loss_type: str,
    discovered_at: Any,
    lines: Any,
    **details: Any,
) -> TheftLoss:
    """Record a theft or significant loss found without an audit (a robbery, a break-in
    found at opening): when it was discovered, the products and quantities lost, and what
    is known of the Form 106 details (``DETAIL_FIELDS``). The deadlines follow from the
    discovery. The perpetual balance is corrected by a witnessed count (a blind audit and
    its investigation), which may link to this record rather than open a second one."""
    authorize(actor, Cap.CS_LOSS)
    site = actor.site
    errors = FieldErrors()
    cleaned: dict[str, Any] = {}
    try:
        cleaned = clean_details({"loss_type": loss_type, **details}, creating=True)
    except Invalid as exc:
        errors.absorb(exc)
    discovered: dt.datetime | None = None
    try:
        discovered = local_datetime(discovered_at, site, field="discovered_at")
        _check_discovery(discovered, "discovered_at")
    except Invalid as exc:
        errors.absorb(exc)
    rows: list[LossLine] = []
    try:
        rows = _clean_lines(lines)
    except Invalid as exc:
        errors.absorb(exc)
    errors.raise_any()
    assert discovered is not None
    with transaction.atomic():
        loss = open_loss(
            actor=actor, site=site, details=cleaned, discovered_at=discovered, lines=rows
        )
    return loss


# --- Working a record ----------------------------------------------------------------------


def _locked(actor: User, loss: TheftLoss) -> TheftLoss:
    found = (
        TheftLoss.objects.select_for_update(of=("self",))
        .select_related("site")
        .filter(pk=loss.pk, site_id=actor.site_id)
        .first()
    )
    if found is None:
        raise NotFound("No such theft or loss record at this pharmacy.")
    return found


def _require_open(loss: TheftLoss) -> None:
    if loss.status not in LOSS_OPEN:
        raise Conflict(
            f"This record is {loss.get_status_display().lower()}; it can no longer be changed.",
            field="status",
        )


def _snapshot(loss: TheftLoss) -> dict[str, Any]:
    return {
        "loss_type": loss.loss_type,
        "loss_type_other": loss.loss_type_other,
        "occurred_on": loss.occurred_on.isoformat() if loss.occurred_on else None,
        "police_notified": police_answered(loss),
        "police_department": loss.police_department,
        "police_report_number": loss.police_report_number,
        "previous_losses": loss.previous_losses,
    }


def theft_loss_update(*, actor: User, loss: TheftLoss, **changes: Any) -> TheftLoss:
    """Complete or correct the Form 106 details (``DETAIL_FIELDS``); a field left out (or
    None) stays as it is. ``police_notified`` False answers the police question "no";
    True needs the department. Type "other" needs its description."""
    authorize(actor, Cap.CS_LOSS)
    given = {k: v for k, v in changes.items() if v is not None or k == "police_notified"}
    if "police_notified" in given and given["police_notified"] is None:
        del given["police_notified"]
    cleaned = clean_details(given, creating=False)
    with transaction.atomic():
        fresh = _locked(actor, loss)
        _require_open(fresh)
        before = _snapshot(fresh)
        texts = {k: getattr(fresh, k) for k in ("security_measures", "narrative")}
        errors = FieldErrors()
        _apply_details(fresh, cleaned, errors)
        errors.raise_any()
        after = _snapshot(fresh)
        changed = sorted(k for k in after if after[k] != before[k])
        # Free text is not copied into the audit log: it names what changed.
        text_changed = sorted(k for k, v in texts.items() if getattr(fresh, k) != v)
        if not changed and not text_changed:
            return fresh
        fresh.save()
        audit_record(
            actor=actor,
            site=fresh.site,
            action="cs.loss.updated",
            obj=fresh,
            data={
                "changes": {k: [before[k], after[k]] for k in changed},
                "text": text_changed,
            },
        )
    return fresh


def notice_late(loss: TheftLoss) -> bool:
    """The written notice to the DEA was recorded after its one business day."""
    if loss.dea_notified_at is None:
        return False
    return loss.dea_notified_at.astimezone(loss.site.tz).date() > loss.notify_by


def submitted_late(loss: TheftLoss) -> bool:
    if loss.submitted_at is None:
        return False
    return loss.submitted_at.astimezone(loss.site.tz).date() > loss.complete_by


def theft_loss_notified(*, actor: User, loss: TheftLoss, when: Any, how: str) -> TheftLoss:
    """Record the written notice to the DEA Field Division Office (email, fax…): when it
    was sent and how. One recorded after its day is kept and marked late, not refused."""
    authorize(actor, Cap.CS_LOSS)
    site = actor.site
    errors = FieldErrors()
    sent: dt.datetime | None = None
    try:
        sent = local_datetime(when, site, field="when")
        if sent > timezone.now() + CLOCK_SKEW:
            errors.add("when", "The notice cannot be sent in the future.")
    except Invalid as exc:
        errors.absorb(exc)
    method = _text(how, SHORT_MAX, "how", errors)
    if not method:
        errors.add("how", "Say how the DEA office was notified (email to…, fax to…).")
    errors.raise_any()
    assert sent is not None
    with transaction.atomic():
        fresh = _locked(actor, loss)
        if fresh.status == LossStatus.NOTIFIED:
            stamp = fresh.dea_notified_at.astimezone(site.tz) if fresh.dea_notified_at else None
            raise Conflict(
                "The DEA notice is already recorded"
                + (f" ({stamp:%m/%d/%Y %H:%M})." if stamp else "."),
                field="status",
            )
        _require_open(fresh)
        if sent < fresh.discovered_at:
            raise Invalid("The notice cannot be sent before the discovery.", field="when")
        fresh.dea_notified_at = sent
        fresh.dea_notified_how = method
        fresh.status = LossStatus.NOTIFIED
        fresh.save(update_fields=["dea_notified_at", "dea_notified_how", "status"])
        late = notice_late(fresh)
        audit_record(
            actor=actor,
            site=site,
            action="cs.loss.notified",
            obj=fresh,
            data={
                "notified_at": sent.isoformat(),
                "how": method,
                "notify_by": fresh.notify_by.isoformat(),
                "late": late,
            },
        )
    return fresh


def missing_for_submission(loss: TheftLoss) -> list[dict[str, str]]:
    """What Form 106 still lacks before it can be submitted, field by field."""
    missing: list[dict[str, str]] = []

    def need(field: str, message: str) -> None:
        missing.append({"field": field, "message": message})

    if loss.loss_type not in LossType.values:
        need("loss_type", "Choose the type of theft or loss.")
    elif loss.loss_type == LossType.OTHER and not loss.loss_type_other:
        need("loss_type_other", "Type 'other': say what kind of theft or loss it was.")
    if not any(line.quantity > 0 for line in loss.lines.all()):
        need("lines", "List each product lost with its quantity.")
    answered = police_answered(loss)
    if answered is None:
        need("police_notified", "Answer whether the police were notified.")
    elif answered and not loss.police_department:
        need("police_department", "Name the police department that was notified.")
    if loss.dea_notified_at is None:
        need("dea_notified_at", "Record the written notice to the DEA field office first.")
    return missing


def theft_loss_submitted(*, actor: User, loss: TheftLoss, dea_reference: str) -> TheftLoss:
    """Record that Form 106 was submitted through the DEA's online system, with the
    reference it gave. Refused, naming every missing field, until the form has its type,
    its products with quantities, the police question answered, and the DEA notice."""
    authorize(actor, Cap.CS_LOSS)
    errors = FieldErrors()
    reference = _text(dea_reference, 60, "dea_reference", errors)
    with transaction.atomic():
        fresh = _locked(actor, loss)
        _require_open(fresh)
        for item in missing_for_submission(fresh):
            errors.add(item["field"], item["message"])
        if not reference:
            errors.add("dea_reference", "Type the reference the DEA system gave the report.")
        errors.raise_any()
        fresh.dea_reference = reference
        fresh.submitted_at = timezone.now()
        fresh.status = LossStatus.SUBMITTED
        fresh.save(update_fields=["dea_reference", "submitted_at", "status"])
        audit_record(
            actor=actor,
            site=fresh.site,
            action="cs.loss.submitted",
            obj=fresh,
            data={
                "dea_reference": reference,
                "complete_by": fresh.complete_by.isoformat(),
                "late": submitted_late(fresh),
            },
        )
    return fresh


def theft_loss_cancel(*, actor: User, loss: TheftLoss, reason: str) -> TheftLoss:
    """Cancel a record that turned out not to be a theft or significant loss (the reason
    is kept in its narrative). A submitted Form 106 is amended with the DEA instead."""
    authorize(actor, Cap.CS_LOSS)
    errors = FieldErrors()
    why = _text(reason, 300, "reason", errors)
    if not why:
        errors.add("reason", "Say why this is not a theft or significant loss.")
    errors.raise_any()
    with transaction.atomic():
        fresh = _locked(actor, loss)
        _require_open(fresh)
        before = fresh.status
        stamp = timezone.now().astimezone(fresh.site.tz).strftime("%m/%d/%Y")
        fresh.narrative = f"{fresh.narrative}\n\nCancelled {stamp}: {why}".strip()
        fresh.status = LossStatus.CANCELLED
        fresh.save(update_fields=["narrative", "status"])
        audit_record(
            actor=actor,
            site=fresh.site,
            action="cs.loss.cancelled",
            obj=fresh,
            reason=why,
            data={"status": [before, LossStatus.CANCELLED.value]},
        )
    return fresh


__all__ = [
    "DETAIL_FIELDS",
    "LOSS_OPEN",
    "FieldErrors",
    "LossLine",
    "clean_details",
    "controlled_package",
    "lot_of",
    "missing_for_submission",
    "money_of",
    "notice_late",
    "open_loss",
    "police_answered",
    "storable",
    "submitted_late",
    "theft_loss_cancel",
    "theft_loss_notified",
    "theft_loss_open",
    "theft_loss_submitted",
    "theft_loss_update",
]
