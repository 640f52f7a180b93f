"""Cash drawers and the counter's rules: open a drawer with its count, close it with the
counted cash and checks against what the day's tenders say should be there, and the
pharmacy's point-of-sale settings (which a state may only make stricter)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Conflict, Invalid
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.pos.choices import DrawerStatus, IdType, TenderKind
from rxdesk.pos.models import Drawer, PosSettings, Sale, Tender
from rxdesk.pos.services.common import EDITABLE, cents, own, parse_money, settings_of

register_actions(
    {
        "pos.drawer.opened": "Cash drawer opened",
        "pos.drawer.closed": "Cash drawer closed (counted)",
        "pos.settings.saved": "Point-of-sale settings saved",
    }
)

DEFAULT_REGISTER = "Register 1"
ZERO = Decimal("0.00")


def _site(actor: User) -> Site:
    assert actor.site is not None
    return actor.site


def _register(value: str) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise Invalid("Name the register, like Register 1.", field="register")
    if len(text) > 30:
        raise Invalid("A register name is at most 30 characters.", field="register")
    return text


def _audit(actor: User | None, action: str, drawer: Drawer, **data: Any) -> None:
    audit_record(
        actor=actor,
        site=drawer.site,
        action=action,
        obj=drawer,
        data={"register": drawer.register, **data},
    )


def drawer_open(*, actor: User, opening_cash: Any, register: str = DEFAULT_REGISTER) -> Drawer:
    """Open a register's cash drawer with the cash counted into it. One drawer is open per
    register at a time (the database refuses a second one, so two people opening at once
    cannot both succeed)."""
    authorize(actor, Cap.POS_DRAWER)
    amount = parse_money(opening_cash, "opening_cash")
    name = _register(register)
    site = _site(actor)
    with transaction.atomic():
        if Drawer.objects.filter(site=site, register=name, status=DrawerStatus.OPEN).exists():
            raise Conflict(
                f"{name} already has an open drawer; close it before opening another.",
                field="register",
            )
        try:
            with transaction.atomic():
                drawer = Drawer.objects.create(
                    site=site, register=name, opened_by=actor, opening_cash=amount
                )
        except IntegrityError:
            raise Conflict(
                f"{name} already has an open drawer; close it before opening another.",
                field="register",
            ) from None
        _audit(actor, "pos.drawer.opened", drawer, opening_cash=str(amount))
    return drawer


def drawer_for(*, actor: User, register: str = DEFAULT_REGISTER) -> Drawer | None:
    """The register's open drawer at the actor's pharmacy, or None."""
    authorize(actor, Cap.RX_SELL)
    return (
        Drawer.objects.filter(
            site_id=actor.site_id, register=" ".join(str(register).split()), status="open"
        )
        .order_by("-opened_at")
        .first()
    )


def _tender_sum(drawer: Drawer, kind: str) -> Decimal:
    total = Tender.objects.filter(drawer=drawer, kind=kind).aggregate(s=Sum("amount"))["s"]
    return cents(total or ZERO)


def drawer_expected(drawer: Drawer) -> tuple[Decimal, Decimal]:
    """What should be in the drawer: (cash, checks). Cash is the opening count plus every
    cash tender of the drawer — a tender's amount is what the sale kept (the change already
    taken off), a refund's tender is negative — and the cash paid on house accounts, which
    is taken as a payment-on-account sale at the register (see services.accounts)."""
    cash = drawer.opening_cash + _tender_sum(drawer, TenderKind.CASH)
    return cents(cash), _tender_sum(drawer, TenderKind.CHECK)


def drawer_close(
    *,
    actor: User,
    drawer: Drawer,
    counted_cash: Any,
    counted_checks: Any = "0",
    note: str = "",
) -> Drawer:
    """Count the drawer and close it. Refused while a sale on it is still open or waiting
    for counseling. Over or short beyond the pharmacy's tolerance needs a note saying why,
    and a pharmacist must be the one who closes it (the sign-off)."""
    authorize(actor, Cap.POS_DRAWER)
    cash = parse_money(counted_cash, "counted_cash")
    checks = parse_money(counted_checks or "0", "counted_checks")
    why = " ".join(str(note or "").split())
    if len(why) > 300:
        raise Invalid("The note is at most 300 characters.", field="note")
    own(actor, "drawer", drawer.site_id)
    with transaction.atomic():
        locked = (
            Drawer.objects.select_for_update(of=("self",)).select_related("site").get(pk=drawer.pk)
        )
        if locked.status != DrawerStatus.OPEN:
            raise Conflict(f"{locked.register}'s drawer is already closed.", field="drawer")
        waiting = Sale.objects.filter(drawer=locked, status__in=EDITABLE).count()
        if waiting:
            raise Conflict(
                f"{waiting} sale{'s are' if waiting > 1 else ' is'} still open on this drawer: "
                "finish or cancel before closing.",
                field="drawer",
            )
        expected_cash, expected_checks = drawer_expected(locked)
        over_short = (cash - expected_cash) + (checks - expected_checks)
        tolerance = settings_of(locked.site).drawer_tolerance
        if abs(over_short) > tolerance:
            word = "over" if over_short > 0 else "short"
            if not why:
                raise Invalid(
                    f"The drawer is {word} by ${abs(over_short)}: write a note saying why.",
                    field="note",
                )
            if not has(actor, Cap.POS_REFUND):
                raise Conflict(
                    f"The drawer is {word} by ${abs(over_short)}, more than the "
                    f"${tolerance} allowed: a pharmacist must close it.",
                    field="counted_cash",
                )
        locked.status = DrawerStatus.CLOSED
        locked.closed_by, locked.closed_at = actor, timezone.now()
        locked.counted_cash, locked.counted_checks = cash, checks
        locked.expected_cash, locked.expected_checks = expected_cash, expected_checks
        locked.over_short = cents(over_short)
        locked.close_note = why
        locked.save(
            update_fields=[
                "status",
                "closed_by",
                "closed_at",
                "counted_cash",
                "counted_checks",
                "expected_cash",
                "expected_checks",
                "over_short",
                "close_note",
            ]
        )
        _audit(
            actor,
            "pos.drawer.closed",
            locked,
            counted_cash=str(cash),
            counted_checks=str(checks),
            expected_cash=str(expected_cash),
            expected_checks=str(expected_checks),
            over_short=str(locked.over_short),
        )
    return locked


# --- Settings ---------------------------------------------------------------------------------

SCHEDULES = ("2", "3", "4", "5")
FEDERAL_PSE = {
    "pse_daily_mg": Decimal("3600"),
    "pse_30day_mg": Decimal("9000"),
    "pse_30day_mail_mg": Decimal("7500"),
}
SETTING_FIELDS = (
    "cs_id_schedules",
    "cs_id_types",
    "cs_id_record_number",
    "cs_id_record_expiry",
    "pse_daily_mg",
    "pse_30day_mg",
    "pse_30day_mail_mg",
    "pse_minimum_age",
    "tax_percent",
    "drawer_tolerance",
)


def _items(value: Any) -> list[str]:
    if isinstance(value, list | tuple | set):
        raw = [str(v) for v in value]
    else:
        raw = str(value or "").split(",")
    return [v.strip() for v in raw if v.strip()]


def _schedules(value: Any) -> str:
    picked = []
    for item in _items(value):
        code = item.upper().removeprefix("C")
        code = {"II": "2", "III": "3", "IV": "4", "V": "5"}.get(code, code)
        if code not in SCHEDULES:
            raise Invalid(f"{item!r} is not a schedule: use 2, 3, 4 or 5.", field="cs_id_schedules")
        picked.append(code)
    return ",".join(sorted(set(picked)))


def _id_types(value: Any) -> str:
    picked = _items(value)
    if not picked:
        raise Invalid("Accept at least one kind of ID.", field="cs_id_types")
    for item in picked:
        if item not in IdType.values:
            raise Invalid(f"{item!r} is not a kind of ID rxdesk knows.", field="cs_id_types")
    return ",".join(t for t in IdType.values if t in picked)


def _decimal(value: Any, field: str, low: Decimal, high: Decimal, places: int) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise Invalid("Type a number.", field=field) from None
    if not number.is_finite() or number.as_tuple().exponent < -places:  # type: ignore[operator]
        raise Invalid(f"Type a number with at most {places} decimals.", field=field)
    if number < low or number > high:
        raise Invalid(f"Type a number from {low} to {high}.", field=field)
    return number


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise Invalid("Answer yes or no.", field=field)


def _clean_setting(name: str, value: Any) -> Any:
    if name == "cs_id_schedules":
        return _schedules(value)
    if name == "cs_id_types":
        return _id_types(value)
    if name in ("cs_id_record_number", "cs_id_record_expiry"):
        return _bool(value, name)
    if name in FEDERAL_PSE:
        # The federal limits are the ceiling: a state may only lower them (21 USC 830(e)).
        limit = FEDERAL_PSE[name]
        number = _decimal(value, name, Decimal(0), Decimal("99999"), 1)
        if number > limit:
            raise Invalid(
                f"The federal limit is {limit} mg; a state may only set a lower one.",
                field=name,
            )
        return number
    if name == "pse_minimum_age":
        number = _decimal(value, name, Decimal(0), Decimal(25), 0)
        return int(number)
    if name == "tax_percent":
        return _decimal(value, name, Decimal(0), Decimal(30), 3)
    if name == "drawer_tolerance":
        return parse_money(value, name)
    raise Invalid(f"{name} is not a point-of-sale setting.", field=name)


def _values(row: PosSettings) -> dict[str, Any]:
    return {f: str(getattr(row, f)) for f in SETTING_FIELDS}


def pos_settings_save(*, actor: User, **values: Any) -> PosSettings:
    """Save the pharmacy's counter rules (the fields given; the others keep their value).
    The federal rules are the floor: PSE limits at most the federal ones, ID schedules among
    2–5, ID types among those rxdesk knows."""
    authorize(actor, Cap.SITE_EDIT)
    cleaned = {name: _clean_setting(name, value) for name, value in values.items()}
    site = _site(actor)
    with transaction.atomic():
        PosSettings.objects.get_or_create(site=site)
        row = PosSettings.objects.select_for_update().get(site=site)
        before = _values(row)
        for name, value in cleaned.items():
            setattr(row, name, value)
        if row.pse_30day_mg < row.pse_daily_mg:
            raise Invalid(
                "The 30-day limit cannot be lower than the daily limit.", field="pse_30day_mg"
            )
        row.updated_at = timezone.now()
        row.save()
        audit_record(
            actor=actor,
            site=site,
            action="pos.settings.saved",
            obj=row,
            data={"changes": diff(before, _values(row))},
        )
    return row
