"""Pseudoephedrine and ephedrine sales under the Combat Methamphetamine Epidemic Act
(21 U.S.C. 830(d)–(e), 21 CFR 1314): the purchaser's ID, the daily and 30-day limits in base
drug counted over this pharmacy's logbook, and the logbook itself (kept two years, shown
only to the pharmacist, the PIC and the auditor).

A logbook entry is never deleted or changed: a sale that is voided or cancelled voids its
entries (``voided_at`` and ``void_reason`` are the only fields that ever change), and the
guards at the bottom of this module refuse anything else, whichever code tries it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from rxdesk.calc import cmea
from rxdesk.catalog import queries as catalog_queries
from rxdesk.catalog.choices import BillingUnit, PriceKind
from rxdesk.catalog.models import Package
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.core.validators import US_STATES
from rxdesk.pos.choices import IdType, LineKind
from rxdesk.pos.models import PseEntry, Sale, SaleLine
from rxdesk.pos.services import common

register_actions(
    {
        "pos.pse.sold": "Pseudoephedrine/ephedrine sold (CMEA logbook entry)",
        "pos.pse.log_viewed": "CMEA logbook viewed or exported",
    }
)

MAX_PACKAGES = 20
RETENTION_YEARS = 2  # 21 CFR 1314.30(f): each entry is kept at least two years
MAX_LOG_DAYS = 3 * 366
# Government-issued photo IDs (21 CFR 1314.30(a)); every type the counter offers is one.
PHOTO_ID_TYPES = frozenset(IdType.values)
STATE_ISSUED = frozenset({IdType.DRIVERS_LICENSE, IdType.STATE_ID})
MAX_AGE_YEARS = 130
FALSE_STATEMENT_NOTICE = (
    "Warning: Section 1001 of Title 18, United States Code, states that whoever, with respect "
    "to the logbook, knowingly and willfully falsifies, conceals, or covers up by any trick, "
    "scheme, or device a material fact, or makes any materially false, fictitious, or "
    "fraudulent statement or representation, or makes or uses any false writing or document "
    "knowing the same to contain any materially false, fictitious, or fraudulent statement "
    "or entry, shall be fined not more than $250,000 if an individual or $500,000 if an "
    "organization, imprisoned not more than five years, or both."
)


# --- The purchaser ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Purchaser:
    """Who buys, as their government photo ID shows them (the logbook's name, address and
    ID). Dates are dates; text is as typed."""

    first_name: str
    last_name: str
    date_of_birth: dt.date | None
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    id_type: str
    id_number: str
    id_state: str
    id_expiry: dt.date | None

    def cleaned(self) -> Purchaser:
        """Whitespace trimmed, state codes in capitals."""
        values: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                value = " ".join(value.split())
                if f.name in ("state", "id_state"):
                    value = value.upper()
            values[f.name] = value
        return Purchaser(**values)


_LIMITS = {
    "first_name": 60,
    "last_name": 60,
    "address_line1": 120,
    "address_line2": 120,
    "city": 80,
    "id_number": 30,
}
_REQUIRED = {
    "first_name": "Type the first name as on the ID.",
    "last_name": "Type the last name as on the ID.",
    "date_of_birth": "Type the date of birth from the ID.",
    "address_line1": "Type the street address.",
    "city": "Type the city.",
    "state": "Type the state (two letters).",
    "postal_code": "Type the ZIP code.",
    "id_type": "Choose the kind of photo ID.",
    "id_number": "Type the ID number.",
    "id_expiry": "Type the ID's expiration date.",
}


def _years_between(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def purchaser_problems(p: Purchaser, today: dt.date, *, minimum_age: int = 0) -> list[dict]:
    """What is wrong with the purchaser's details, each ``{"field", "message"}`` (empty when
    all is well): required fields, lengths, state codes, a government photo ID that has not
    expired (a state-issued one names its state), and the minimum age where the state sets
    one."""
    p = p.cleaned()
    problems: list[dict] = []

    def add(field: str, message: str) -> None:
        if not any(x["field"] == field for x in problems):
            problems.append({"field": field, "message": message})

    for name, message in _REQUIRED.items():
        if getattr(p, name) in (None, ""):
            add(name, message)
    for name, limit in _LIMITS.items():
        if len(getattr(p, name)) > limit:
            add(name, f"At most {limit} characters.")
    if p.state and p.state not in US_STATES:
        add("state", "Use the two-letter postal code of a US state, like IL.")
    if p.postal_code and not re.fullmatch(r"\d{5}(-?\d{4})?", p.postal_code):
        add("postal_code", "A ZIP code is 5 digits (or ZIP+4).")
    if p.id_type and p.id_type not in PHOTO_ID_TYPES:
        add("id_type", "Only a government-issued photo ID is accepted.")
    if p.id_state and p.id_state not in US_STATES:
        add("id_state", "Use the two-letter postal code of the state that issued the ID.")
    if p.id_type in STATE_ISSUED and not p.id_state:
        add("id_state", "Type the state that issued the ID.")
    if p.id_number and not re.fullmatch(r"[A-Za-z0-9 \-*]+", p.id_number):
        add("id_number", "Type the ID number as printed (letters, digits and dashes).")
    if isinstance(p.id_expiry, dt.date) and p.id_expiry < today:
        add("id_expiry", f"This ID expired on {p.id_expiry:%m/%d/%Y}: ask for a current one.")
    born = p.date_of_birth
    if isinstance(born, dt.date):
        if born > today:
            add("date_of_birth", "The date of birth is in the future.")
        elif _years_between(born, today) > MAX_AGE_YEARS:
            add("date_of_birth", "Check the date of birth: that is over 130 years ago.")
        elif minimum_age and _years_between(born, today) < minimum_age:
            add(
                "date_of_birth",
                f"The purchaser must be at least {minimum_age} to buy this product.",
            )
    return problems


def id_key(id_state: str, id_number: str) -> str:
    """The ID as the logbook matches it: state and number, capitals, no spaces or dashes."""
    number = re.sub(r"[^A-Z0-9]", "", (id_number or "").upper())
    return f"{(id_state or '').strip().upper()}:{number}"[:40] if number else ""


def name_key(first_name: str, last_name: str) -> str:
    """The name as the logbook matches it: letters only, capitals ('O'Brien' = 'OBRIEN')."""
    last = re.sub(r"[^A-Z]", "", (last_name or "").upper())
    first = re.sub(r"[^A-Z]", "", (first_name or "").upper())
    return f"{last}|{first}"[:120] if last and first else ""


# --- Limits ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PseStanding:
    """What a purchaser bought here (base mg, entries not voided) and what is left."""

    today_mg: Decimal
    thirty_day_mg: Decimal
    mail_thirty_day_mg: Decimal
    left_today_mg: Decimal
    left_thirty_day_mg: Decimal
    limits: cmea.Limits
    mail_order: bool

    @property
    def history(self) -> cmea.History:
        return cmea.History(self.today_mg, self.thirty_day_mg, self.mail_thirty_day_mg)

    @property
    def left_mg(self) -> Decimal:
        return min(self.left_today_mg, self.left_thirty_day_mg)


def limits_of(site: Site) -> cmea.Limits:
    """The site's limits (a state's lower ones where set; never above the federal ones)."""
    s = common.settings_of(site)
    return cmea.Limits(
        daily_mg=min(Decimal(s.pse_daily_mg), cmea.DAILY_MG),
        thirty_day_mg=min(Decimal(s.pse_30day_mg), cmea.THIRTY_DAY_MG),
        mail_thirty_day_mg=min(Decimal(s.pse_30day_mail_mg), cmea.MAIL_THIRTY_DAY_MG),
    )


def _day_start(site: Site, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=site.tz)


def _match(p: Purchaser) -> Q:
    """The purchaser's earlier entries: by ID, or by name and date of birth (a second ID
    does not start a fresh allowance)."""
    keys = Q(pk__in=[])
    key = id_key(p.id_state, p.id_number)
    if key:
        keys |= Q(id_key=key)
    names = name_key(p.first_name, p.last_name)
    if names and p.date_of_birth:
        keys |= Q(name_key=names, date_of_birth=p.date_of_birth)
    return keys


def _mg(total: Decimal | None) -> Decimal:
    """A sum of logbook amounts (SQLite returns it with float noise) to the 0.01 mg."""
    return Decimal(total or 0).quantize(cmea.ENTRY_QUANTUM)


def _standing(site: Site, p: Purchaser, mail_order: bool) -> PseStanding:
    today = site.today()
    day_start = _day_start(site, today)
    window_start = _day_start(site, today - dt.timedelta(days=29))  # 30 days with today
    sums = PseEntry.objects.filter(
        _match(p), site=site, voided_at__isnull=True, sold_at__gte=window_start
    ).aggregate(
        today=Sum("base_mg", filter=Q(sold_at__gte=day_start)),
        thirty=Sum("base_mg"),
        mail=Sum("base_mg", filter=Q(mail_order=True)),
    )
    history = cmea.History(
        today_mg=_mg(sums["today"]),
        thirty_day_mg=_mg(sums["thirty"]),
        mail_thirty_day_mg=_mg(sums["mail"]),
    )
    limits = limits_of(site)
    left_today, left_thirty = cmea.left_mg(history, limits, mail_order=mail_order)
    return PseStanding(
        today_mg=history.today_mg,
        thirty_day_mg=history.thirty_day_mg,
        mail_thirty_day_mg=history.mail_thirty_day_mg,
        left_today_mg=left_today,
        left_thirty_day_mg=left_thirty,
        limits=limits,
        mail_order=mail_order,
    )


def _identifies(p: Purchaser) -> None:
    if not id_key(p.id_state, p.id_number) and not (
        name_key(p.first_name, p.last_name) and p.date_of_birth
    ):
        raise Invalid(
            errors=[
                {
                    "field": "id_number",
                    "message": "Type the ID number, or the name and date "
                    "of birth, to look the purchaser up.",
                }
            ]
        )


def pse_limits(*, actor: User, purchaser: Purchaser, mail_order: bool = False) -> PseStanding:
    """What the purchaser bought at this pharmacy today and in the trailing 30 days (base
    mg, matched by ID or by name and date of birth) and what is left."""
    authorize(actor, Cap.POS_PSE_SELL)
    p = purchaser.cleaned()
    _identifies(p)
    return _standing(actor.site, p, mail_order)


# --- Selling ---------------------------------------------------------------------------------


def _lock_purchaser(site: Site, p: Purchaser) -> None:
    """Two counters selling to one purchaser at once must not both pass the limits. On
    PostgreSQL a transaction-level advisory lock per (site, ID) and per (site, name and
    birth date), taken in a fixed order, makes the second wait for the first to commit; on
    SQLite every write transaction is IMMEDIATE, which serialises the writers already."""
    if connection.vendor != "postgresql":
        return
    keys = sorted(
        k
        for k in (
            id_key(p.id_state, p.id_number),
            f"{name_key(p.first_name, p.last_name)}|{p.date_of_birth}",
        )
        if k
    )
    with connection.cursor() as cursor:
        for key in keys:
            digest = zlib.crc32(f"pse:{key}".encode()) - 2**31  # a signed 32-bit int
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [site.pk % 2**31, digest])


def _price(package: Package, on: dt.date) -> Decimal:
    for price in catalog_queries.latest_prices([package], on=on).get(package.pk, []):
        if price.kind == PriceKind.USUAL_CUSTOMARY:
            return common.cents(price.amount)
    raise Conflict(
        f"{package.ndc10} has no shelf price: ask the pharmacist to enter one.", field="code"
    )


def _unit_words(package: Package) -> str:
    return "mL" if package.billing_unit == BillingUnit.MILLILITER else "tablets or capsules"


def _refusal(decision: cmea.Decision, package: Package, per_package_mg: Decimal) -> str:
    what = {
        "daily": ("today", "a day"),
        "30-day": ("in the last 30 days", "in 30 days"),
        "mail": ("by mail in the last 30 days", "by mail in 30 days"),
    }[decision.broken]
    after = decision.today_after_mg if decision.broken == "daily" else decision.thirty_day_after_mg
    most = int(
        (
            min(decision.left_today_mg, decision.left_thirty_day_mg) / per_package_mg
        ).to_integral_value(rounding=ROUND_DOWN)
    )
    still = (
        f"The most still allowed now is {most} package{'s' if most != 1 else ''} "
        f"({decision.max_units} {_unit_words(package)})."
        if most
        else f"Nothing more can be sold to this purchaser now "
        f"(at most {decision.max_units} {_unit_words(package)})."
    )
    return (
        f"Over the pseudoephedrine/ephedrine limit: this sale would make "
        f"{cmea.grams(after)} of base {what[0]}; the limit is {cmea.grams(decision.limit_mg)} "
        f"{what[1]}. {still}"
    )


def pse_add(
    *,
    actor: User,
    sale: Sale,
    code: str,
    packages: int,
    purchaser: Purchaser,
    signature: bytes | str | None,
    mail_order: bool = False,
) -> SaleLine:
    """Sell ``packages`` of a behind-the-counter product (scanned or typed ``code``) on an
    open sale: checks the purchaser's photo ID, counts the base against the daily and 30-day
    limits over this pharmacy's logbook (entries already on this sale included), and writes
    the sale line and the logbook entry with the purchaser's signature."""
    authorize(actor, Cap.POS_PSE_SELL)
    if isinstance(packages, bool) or not isinstance(packages, int):
        raise Invalid("Type how many packages, a whole number.", field="packages")
    if not 1 <= packages <= MAX_PACKAGES:
        raise Invalid(f"Sell 1 to {MAX_PACKAGES} packages at a time.", field="packages")
    site = actor.site
    p = purchaser.cleaned()
    problems = purchaser_problems(
        p, site.today(), minimum_age=common.settings_of(site).pse_minimum_age
    )
    if problems:
        raise Invalid(errors=problems)
    assert p.date_of_birth is not None and p.id_expiry is not None  # checked just above
    png, sha = common.signature_png(signature)
    with transaction.atomic():
        sale = common.lock_sale(actor, sale, *common.EDITABLE)
        package = catalog_queries.resolve_code(actor=actor, code=code).package
        product = package.product
        if not product.cmea:
            raise Conflict(
                f"{product.display_name} is not a pseudoephedrine/ephedrine product: ring it "
                "up as an ordinary item.",
                field="code",
            )
        if not product.cmea_base_mg:
            raise Conflict(
                f"{product.display_name} has no base amount on file: the pharmacist-in-charge "
                "must enter it before it can be sold.",
                field="code",
            )
        unit_price = _price(package, site.today())
        base_per_unit = Decimal(product.cmea_base_mg)
        units = package.package_quantity * packages
        _lock_purchaser(site, p)
        standing = _standing(site, p, mail_order)
        decision = cmea.decide(
            base_per_unit=base_per_unit,
            units=units,
            history=standing.history,
            limits=standing.limits,
            mail_order=mail_order,
        )
        if not decision.allowed:
            per_package = cmea.purchase_base_mg(base_per_unit, package.package_quantity)
            raise Conflict(
                _refusal(decision, package, per_package),
                field="packages",
                limit=decision.broken,
                limit_mg=str(decision.limit_mg),
                max_units=decision.max_units,
            )
        line = common.add_line(
            sale,
            kind=LineKind.PSE,
            description=f"{product.display_name} {product.strength} ({package.ndc10})",
            quantity=Decimal(packages),
            unit_price=unit_price,
            package=package,
            taxable=True,
            fsa_eligible=True,
            pse_base_mg=decision.requested_mg,
        )
        entry = PseEntry.objects.create(
            site=site,
            sale=sale,
            line=line,
            sold_at=timezone.now(),
            sold_by=actor,
            first_name=p.first_name,
            last_name=p.last_name,
            name_key=name_key(p.first_name, p.last_name),
            date_of_birth=p.date_of_birth,
            address_line1=p.address_line1,
            address_line2=p.address_line2,
            city=p.city,
            state=p.state,
            postal_code=p.postal_code,
            id_type=p.id_type,
            id_number=p.id_number,
            id_state=p.id_state,
            id_expiry=p.id_expiry,
            id_key=id_key(p.id_state, p.id_number),
            package=package,
            ndc11=package.ndc11,
            product_name=f"{product.display_name} {product.strength}"[:200],
            packages=packages,
            dosage_units=units,
            base_mg=decision.requested_mg,
            mail_order=mail_order,
            signature=png,
            signature_sha256=sha,
        )
        common.audit(
            actor,
            "pos.pse.sold",
            sale,
            line=line.pk,
            entry=entry.pk,
            ndc11=package.ndc11,
            packages=packages,
            base_mg=str(decision.requested_mg),
            today_mg=str(decision.today_after_mg),
            thirty_day_mg=str(decision.thirty_day_after_mg),
            mail_order=mail_order,
        )
    return line


def pse_entries_void(
    *, sale: Sale, reason: str, actor: User | None, lines: Iterable[int] | None = None
) -> int:
    """Void the logbook entries of a sale being voided or cancelled (or of some of its
    ``lines``, on a refund): they stop counting against the limits; the entries themselves
    stay. For the sales services to call inside their own transaction, after their
    capability check and before their audit event. Returns how many entries were voided."""
    entries = PseEntry.objects.filter(sale=sale, voided_at__isnull=True)
    if lines is not None:
        entries = entries.filter(line_id__in=list(lines))
    why = " ".join((reason or "").split())[:300] or "Sale voided"
    return entries.update(voided_at=timezone.now(), void_reason=why)


# --- The logbook -----------------------------------------------------------------------------


def pse_log_retained_since(site: Site) -> dt.date:
    """The oldest date the logbook must still hold (two years back from today)."""
    today = site.today()
    try:
        return today.replace(year=today.year - RETENTION_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - RETENTION_YEARS, day=28)


def pse_log(
    *,
    actor: User | None,
    start: dt.date,
    end: dt.date,
    q: str = "",
    site: Site | None = None,
    export: bool = False,
) -> list[PseEntry]:
    """The logbook entries sold from ``start`` to ``end`` (the pharmacy's calendar days),
    voided ones included, oldest first; ``q`` narrows to a name, product or NDC. Each look
    is logged (the logbook holds purchasers' identities). ``site`` is for the CLI, whose
    operator has no site of their own."""
    authorize(actor, Cap.POS_PSE_LOG)
    if actor is not None:
        site = actor.site
    if site is None:
        raise NotFound("No such pharmacy.")
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        raise Invalid("Give both dates.", field="start")
    if end < start:
        raise Invalid("The end date is before the start date.", field="end")
    if (end - start).days > MAX_LOG_DAYS:
        raise Invalid("Ask for three years at most at a time.", field="end")
    q = " ".join((q or "").split())[:80]
    rows = PseEntry.objects.filter(
        site=site,
        sold_at__gte=_day_start(site, start),
        sold_at__lt=_day_start(site, end + dt.timedelta(days=1)),
    )
    if q:
        words = Q()
        for word in q.split():
            digits = re.sub(r"\D", "", word)
            words &= (
                Q(last_name__icontains=word)
                | Q(first_name__icontains=word)
                | Q(product_name__icontains=word)
                | (Q(ndc11__contains=digits) if len(digits) >= 4 else Q(pk__in=[]))
            )
        rows = rows.filter(words)
    entries = list(
        rows.select_related("site", "sold_by", "sale").defer("signature").order_by("sold_at", "pk")
    )
    with transaction.atomic():
        audit_record(
            actor=actor,
            site=site,
            action="pos.pse.log_viewed",
            object_type="pos.pselog",
            data={
                "start": start.isoformat(),
                "end": end.isoformat(),
                "searched": bool(q),
                "entries": len(entries),
                "export": export,
            },
            actor_name="cli",
        )
    return entries


LOG_COLUMNS = (
    "entry",
    "sold_at",
    "receipt",
    "seller",
    "last_name",
    "first_name",
    "date_of_birth",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "id_type",
    "id_number",
    "id_state",
    "id_expiry",
    "product",
    "ndc",
    "packages",
    "dosage_units",
    "base_mg",
    "mail_order",
    "signature_sha256",
    "voided_at",
    "void_reason",
)


def _local(entry: PseEntry, when: dt.datetime | None) -> str:
    return when.astimezone(entry.site.tz).isoformat(timespec="seconds") if when else ""


def pse_log_csv(entries: Iterable[PseEntry]) -> str:
    """The logbook as CSV: every column the law asks for (name, address, date and time,
    product, quantity, ID, signature), times in the pharmacy's time zone, voided entries
    marked. The signature image stays in the database; its SHA-256 identifies it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LOG_COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.pk,
                _local(e, e.sold_at),
                e.sale.receipt_number,
                e.sold_by.username,
                *(_cell(v) for v in (e.last_name, e.first_name)),
                e.date_of_birth.isoformat(),
                *(_cell(v) for v in (e.address_line1, e.address_line2, e.city)),
                e.state,
                e.postal_code,
                e.id_type,
                _cell(e.id_number),
                e.id_state,
                e.id_expiry.isoformat(),
                _cell(e.product_name),
                e.ndc11,
                e.packages,
                f"{e.dosage_units.normalize():f}",
                f"{e.base_mg:f}",
                "yes" if e.mail_order else "no",
                e.signature_sha256,
                _local(e, e.voided_at),
                _cell(e.void_reason),
            ]
        )
    return out.getvalue()


def _cell(value: str) -> str:
    """Text a spreadsheet would run as a formula (=, +, -, @) is prefixed with a quote."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
