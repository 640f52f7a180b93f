"""The counter: will-call searches, complete pickups and pseudoephedrine sales per second
through the real point-of-sale services, at a busy store's size.

Builds, in bulk, once per database: 25,000 patients (surnames drawn unevenly, as in life:
the commonest is about 1% of the file), 100,000 prescriptions with their past fills, about
2,000 refills waiting READY in will-call (bin = first letter of the last name, filled in the
last 5 days, with a usual-and-customary price on the package), a CMEA product (24 tablets of
pseudoephedrine HCl 30 mg) and a PSE logbook of 50,000 entries over two years for 10,000
purchasers. An open cash drawer. Then the planner's statistics, as the nightly
``rxdesk db-optimize`` keeps them (``rxdesk.core.maintenance.db_optimize``).

Then times, in rounds (median of 3; p95 of each step in ms over all rounds):

- will-call search (``will_call_search``) by last name, by bag label ("rx-fill") and by
  date of birth;
- a complete counter pickup from 1 worker: ``pickup_start`` (one ready fill) →
  ``pickup_record`` (the patient, date of birth, address as the second identifier,
  counseling declined, a drawn signature) → ``sale_pay`` (cash);
- a PSE sale: ``sale_start`` + ``pse_add`` of one package for a purchaser who has history
  in the logbook (the limit check reads it). Each sale is paid afterwards, untimed.

Every round takes fresh ready fills and fresh purchasers, so nothing is refused. On a
database kept between runs (the PostgreSQL of DATABASE_URL) fills gone stale are returned
to stock and will-call is topped up to 2,000 before the rounds.

Run alone with ``python -m bench pos``; ``python -m bench.pos_bench explain`` prints the
query plans of one search of each kind and of the PSE limit check."""

from __future__ import annotations

import datetime as dt
import io
import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import ROUND_UP, Decimal
from typing import Any

SITE_NAME = "POS bench pharmacy"
PATIENTS = 25_000
PRESCRIPTIONS = 100_000
READY = 2_000
READY_DAYS = 5  # ready fills were filled within the last 5 days
DRUGS = 8
PSE_ENTRIES = 50_000
PURCHASERS = 10_000
LOG_DAYS = 730
PSE_NDC10 = "99992-001-24"
RUNS = 3
SEARCHES = 60  # per kind per round
PICKUPS = 100  # per round
PSE_SALES = 100  # per round
WARM_UP = 3
BATCH = 5_000
SEARCH_KINDS = ("last name", "bag label", "date of birth")
PICKUP_STEPS = ("pickup_start", "pickup_record", "sale_pay")
PSE_STEPS = ("sale_start", "pse_add")
STATES = ("IL", "IN", "WI", "MO", "IA")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _signature() -> bytes:
    """A PNG like the one the signature pad sends (as tests/pos/factories.signature)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (300, 100), "white")
    draw = ImageDraw.Draw(image)
    draw.line([(10, 70), (60, 20), (110, 80), (170, 30), (260, 60)], fill="black", width=3)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# --- Names ----------------------------------------------------------------------------------

_ONSET = ("b", "br", "c", "ch", "d", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "r")
_ONSET += ("s", "sh", "st", "t", "tr", "v", "w", "z")
_VOWEL = ("a", "e", "i", "o", "u", "ai", "ea", "a", "e", "o")
_CODA = ("", "n", "r", "l", "s", "t", "m", "nd", "rt", "ck", "ng", "ll")
_END = ("", "", "son", "er", "ez", "ley", "ton", "man", "ski", "berg", "field", "wood")


def _names(rng: random.Random, count: int, syllables: int) -> list[str]:
    found: dict[str, None] = {}
    while len(found) < count:
        word = "".join(
            rng.choice(_ONSET) + rng.choice(_VOWEL) + rng.choice(_CODA) for _ in range(syllables)
        )
        found[(word + rng.choice(_END)).capitalize()] = None
    return list(found)


def _name_pools() -> tuple[list[str], list[float], list[str], list[float]]:
    """3,000 surnames and 400 first names, with cumulative weights 1/(rank + k): the
    commonest surname is about 1% of people (as Smith is in the US)."""
    rng = random.Random(11)  # noqa: S311  (reproducible test data, not secrets)
    last, first = _names(rng, 3_000, 2), _names(rng, 400, 1)

    def cumulative(n: int, k: int) -> list[float]:
        total, out = 0.0, []
        for rank in range(1, n + 1):
            total += 1 / (rank + k)
            out.append(total)
        return out

    return last, cumulative(len(last), 20), first, cumulative(len(first), 10)


def _purchaser(i: int, today: dt.date) -> Any:
    """Logbook purchaser ``i`` (0…PURCHASERS-1), the same at build and at run time."""
    from rxdesk.pos.services.pse import Purchaser

    rng = random.Random(1_000_003 * (i + 1))  # noqa: S311  (reproducible test data)
    last, last_w, first, first_w = _POOLS
    state = STATES[i % len(STATES)]
    return Purchaser(
        first_name=rng.choices(first, cum_weights=first_w)[0],
        last_name=rng.choices(last, cum_weights=last_w)[0],
        date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(54 * 365)),
        address_line1=f"{rng.randint(1, 9999)} {rng.choice(last)} St",
        address_line2="",
        city="Springfield",
        state=state,
        postal_code=f"{60000 + rng.randrange(3000):05d}",
        id_type="drivers_license",
        id_number=f"{state[0]}{i:06d}-{rng.randrange(10**6):06d}",
        id_state=state,
        id_expiry=today + dt.timedelta(days=400 + rng.randrange(1500)),
    )


_POOLS = _name_pools()


# --- The pharmacy ---------------------------------------------------------------------------


def _progress(text: str) -> None:
    print(f"building: {text}", flush=True)


def _make_ready(site: Any, count: int, tech: Any, rph: Any, rng: random.Random) -> int:
    """Put ``count`` refills in will-call (bulk): on prescriptions with nothing waiting,
    filled in the last READY_DAYS days, bin = first letter of the last name."""
    from django.db.models import Max
    from django.utils import timezone

    from rxdesk.rx.models import Fill, Prescription

    today = site.today()
    now = timezone.now()
    waiting = set(
        Fill.objects.filter(site=site, status="ready").values_list("prescription_id", flat=True)
    )
    ids = list(Prescription.objects.filter(site=site).values_list("pk", flat=True))
    chosen = rng.sample([pk for pk in ids if pk not in waiting], count)
    made = 0
    for start in range(0, len(chosen), BATCH):
        chunk = chosen[start : start + BATCH]
        last = dict(
            Fill.objects.filter(prescription_id__in=chunk)
            .values("prescription_id")
            .annotate(n=Max("number"))
            .values_list("prescription_id", "n")
        )
        rxs = Prescription.objects.filter(pk__in=chunk).select_related("patient", "package")
        rows = []
        for rx in rxs:
            days = rng.randint(0, READY_DAYS - 1)
            done = now - dt.timedelta(days=days, minutes=rng.randint(5, 600))
            rows.append(
                Fill(
                    site=site,
                    prescription=rx,
                    number=last.get(rx.pk, -1) + 1,
                    status="ready",
                    source="auto",
                    quantity=rx.quantity,
                    days_supply=rx.days_supply,
                    requested_at=done - dt.timedelta(hours=2),
                    requested_by=tech,
                    dispensed_on=today - dt.timedelta(days=days),
                    dispensed_at=done,
                    data_verified_by=rph,
                    data_verified_at=done - dt.timedelta(hours=1),
                    package=rx.package,
                    scanned_code=rx.package.ndc10,
                    filled_by=tech,
                    verified_by=rph,
                    verified_at=done,
                    bin=rx.patient.last_name[:1].upper(),
                    ready_at=done,
                )
            )
        Fill.objects.bulk_create(rows, batch_size=BATCH)
        made += len(rows)
    return made


def _build() -> None:
    """The bench pharmacy, once per database."""
    from django.db import connection, transaction
    from django.utils import timezone

    from rxdesk.calc import cmea
    from rxdesk.catalog.models import Package, PackagePrice, Product
    from rxdesk.core.choices import Role
    from rxdesk.core.maintenance import db_optimize
    from rxdesk.core.models import Site, User
    from rxdesk.patients.models import Patient, Prescriber, name_key
    from rxdesk.pos.models import PseEntry, Sale, SaleLine
    from rxdesk.pos.services.pse import id_key
    from rxdesk.pos.services.pse import name_key as pse_name_key
    from rxdesk.rx.models import Fill, Prescription, RxNumber

    if Site.objects.filter(name=SITE_NAME).exists():
        return
    rng = random.Random(7)  # noqa: S311  (reproducible test data, not secrets)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")  # bulk set-up only; closed below
    _progress("site, staff, drugs and prices…")
    site = Site.objects.create(name=SITE_NAME, time_zone="America/Chicago")
    far = dt.date.today() + dt.timedelta(days=3650)
    tech = User.objects.create(
        username="bench-pos-tech",
        first_name="Bench",
        last_name="Technician",
        role=Role.TECHNICIAN,
        site=site,
        technician_registration="T1",
        technician_registration_expires=far,
    )
    rph = User.objects.create(
        username="bench-pos-rph",
        first_name="Bench",
        last_name="Pharmacist",
        role=Role.PHARMACIST,
        site=site,
        pharmacist_license="RPH-1",
        pharmacist_license_expires=far,
    )
    today = site.today()
    now = timezone.now()
    sig = _signature()
    with transaction.atomic():
        packages = []
        for d in range(DRUGS):
            product = Product.objects.create(
                product_id=f"bench-pos-{d}",
                product_ndc=f"99993-{d:03d}",
                product_type="HUMAN PRESCRIPTION DRUG",
                name=f"Benchposol {d}",
                generic_name=f"benchposol {d}",
                strength="10 mg/1",
                dosage_form="TABLET",
                labeler="Bench Labs",
            )
            packages.append(
                Package.objects.create(
                    ndc11=f"99993{d:04d}01",
                    ndc10=f"99993-{d:03d}-01",
                    product=product,
                    description="1000 TABLET in 1 BOTTLE",
                    billing_unit="EA",
                    package_quantity=Decimal(1000),
                )
            )
        pse_product = Product.objects.create(
            product_id="bench-pos-pse",
            product_ndc="99992-001",
            product_type="HUMAN OTC DRUG",
            name="Benchafed",
            generic_name="pseudoephedrine hydrochloride",
            substances="PSEUDOEPHEDRINE HYDROCHLORIDE",
            strength="30 mg/1",
            dosage_form="TABLET",
            labeler="Bench Labs",
            otc=True,
            cmea=True,
            cmea_base_mg=Decimal("24.579"),
        )
        pse_package = Package.objects.create(
            ndc11="99992000124",
            ndc10=PSE_NDC10,
            product=pse_product,
            description="24 TABLET in 1 BLISTER PACK",
            billing_unit="EA",
            package_quantity=Decimal(24),
        )
        PackagePrice.objects.bulk_create(
            [
                PackagePrice(
                    package=p,
                    kind="usual_customary",
                    amount=Decimal(f"{80 + 15 * d}.00"),
                    effective_on=today - dt.timedelta(days=365),
                )
                for d, p in enumerate(packages)
            ]
            + [
                PackagePrice(
                    package=pse_package,
                    kind="usual_customary",
                    amount=Decimal("7.49"),
                    effective_on=today - dt.timedelta(days=365),
                )
            ]
        )
        prescriber = Prescriber.objects.create(
            site=site, first_name="Ann", last_name="Bench", npi="1234567893"
        )
        _progress(f"{PATIENTS:,} patients…")
        last, last_w, first, first_w = _POOLS
        rows = []
        for _ in range(PATIENTS):
            surname = rng.choices(last, cum_weights=last_w)[0]
            given = rng.choices(first, cum_weights=first_w)[0]
            rows.append(
                Patient(
                    site=site,
                    first_name=given,
                    last_name=surname,
                    # bulk_create skips Patient.save(), which keeps the search keys
                    first_name_key=name_key(given)[:60],
                    last_name_key=name_key(surname)[:60],
                    date_of_birth=dt.date(1935, 1, 1) + dt.timedelta(days=rng.randrange(70 * 365)),
                    address_line1=f"{rng.randint(1, 9999)} {rng.choice(last)} Ave",
                    city="Springfield",
                    state="IL",
                    postal_code=f"{62700 + rng.randrange(99):05d}",
                    privacy_notice="signed",
                    privacy_notice_on=today - dt.timedelta(days=rng.randrange(2000)),
                )
            )
        patients = Patient.objects.bulk_create(rows, batch_size=BATCH)
        for start in range(0, PRESCRIPTIONS, BATCH * 4):
            _progress(f"{PRESCRIPTIONS:,} prescriptions with their past fills… {start:,}")
            for chunk in range(start, min(start + BATCH * 4, PRESCRIPTIONS), BATCH):
                rxs = []
                for i in range(chunk, min(chunk + BATCH, PRESCRIPTIONS)):
                    package = packages[i % DRUGS]
                    rxs.append(
                        Prescription(
                            site=site,
                            number=i + 1,
                            patient=patients[i % PATIENTS],
                            prescriber=prescriber,
                            product=package.product,
                            package=package,
                            drug_description=f"{package.product.name} 10 mg tablet",
                            origin=3,
                            quantity=Decimal(30),
                            quantity_unit="EA",
                            days_supply=30,
                            directions="1 T PO DAILY",
                            directions_en="Take 1 tablet by mouth once daily.",
                            refills_authorized=5,
                            date_written=today - dt.timedelta(days=220),
                            expires_on=today + dt.timedelta(days=145),
                            entered_by=tech,
                        )
                    )
                rxs = Prescription.objects.bulk_create(rxs, batch_size=BATCH)
                Fill.objects.bulk_create(
                    (
                        Fill(
                            site=site,
                            prescription=rx,
                            number=0,
                            status="dispensed",
                            source="new",
                            quantity=Decimal(30),
                            days_supply=30,
                            dispensed_on=today - dt.timedelta(days=rng.randint(30, 200)),
                            dispensed_at=now,
                            requested_by=tech,
                            package=rx.package,
                        )
                        for rx in rxs
                    ),
                    batch_size=BATCH,
                )
        RxNumber.objects.create(site=site, last=PRESCRIPTIONS)
        _progress(f"{READY:,} fills ready in will-call…")
        _make_ready(site, READY, tech, rph, rng)

        _progress(f"PSE logbook: {PSE_ENTRIES:,} entries for {PURCHASERS:,} purchasers…")
        people = [_purchaser(i, today) for i in range(PURCHASERS)]
        base = cmea.purchase_base_mg(Decimal("24.579"), Decimal(24)).quantize(
            Decimal("0.01"), ROUND_UP
        )
        price = Decimal("7.49")
        for start in range(0, PSE_ENTRIES, BATCH):
            size = min(BATCH, PSE_ENTRIES - start)
            when = sorted(
                now - dt.timedelta(seconds=rng.randrange(3600, LOG_DAYS * 86400))
                for _ in range(size)
            )
            sales = Sale.objects.bulk_create(
                [
                    Sale(
                        site=site,
                        status="completed",
                        started_by=rph,
                        started_at=t,
                        completed_by=rph,
                        completed_at=t,
                        subtotal=price,
                        total=price,
                        paid=price,
                    )
                    for t in when
                ],
                batch_size=BATCH,
            )
            lines = SaleLine.objects.bulk_create(
                [
                    SaleLine(
                        sale=s,
                        kind="pse",
                        package=pse_package,
                        description=f"Benchafed 30 mg/1 ({PSE_NDC10})",
                        quantity=Decimal(1),
                        unit_price=price,
                        amount=price,
                        taxable=True,
                        fsa_eligible=True,
                        pse_base_mg=base,
                    )
                    for s in sales
                ],
                batch_size=BATCH,
            )
            entries = []
            for s, line, t in zip(sales, lines, when, strict=True):
                p = people[rng.randrange(PURCHASERS)]
                # One entry in 20 was sold on another ID (matched by name and birth date).
                number = p.id_number if rng.random() >= 0.05 else f"X{rng.randrange(10**9)}"
                entries.append(
                    PseEntry(
                        site=site,
                        sale=s,
                        line=line,
                        sold_at=t,
                        sold_by=rph,
                        first_name=p.first_name,
                        last_name=p.last_name,
                        name_key=pse_name_key(p.first_name, p.last_name),
                        date_of_birth=p.date_of_birth,
                        address_line1=p.address_line1,
                        city=p.city,
                        state=p.state,
                        postal_code=p.postal_code,
                        id_type=p.id_type,
                        id_number=number,
                        id_state=p.id_state,
                        id_expiry=p.id_expiry,
                        id_key=id_key(p.id_state, number),
                        package=pse_package,
                        ndc11=pse_package.ndc11,
                        product_name="Benchafed 30 mg/1",
                        packages=1,
                        dosage_units=Decimal(24),
                        base_mg=base,
                        signature=sig,
                        signature_sha256="0" * 64,
                    )
                )
            PseEntry.objects.bulk_create(entries, batch_size=BATCH)
    # What a counter PC's nightly `rxdesk db-optimize` does (and autovacuum, on PostgreSQL,
    # after a bulk load): the planner's statistics, on both databases.
    _progress("planner statistics (rxdesk db-optimize)…")
    db_optimize()
    connection.close()
    _progress("done")


# --- Before the rounds ----------------------------------------------------------------------


class _Bench:
    """The pharmacy as the rounds see it."""

    def __init__(self) -> None:
        from rxdesk.core.models import Site, User

        self.site = Site.objects.get(name=SITE_NAME)
        self.tech = User.objects.select_related("site").get(username="bench-pos-tech")
        self.rph = User.objects.select_related("site").get(username="bench-pos-rph")
        self.today = self.site.today()
        self.signature = _signature()


def _prepare(b: _Bench) -> Any:
    """Will-call at its bench size (stale bags back to stock, topped up to READY) and
    an open drawer. Returns the drawer."""
    from django.db import transaction

    from rxdesk.pos.services.drawers import drawer_for, drawer_open
    from rxdesk.rx.models import Fill

    window = b.today - dt.timedelta(days=READY_DAYS - 1)
    with transaction.atomic():
        # Set-up only (a database kept between runs): bags filled before the window go
        # back to stock in bulk, as the return-to-stock job would do.
        Fill.objects.filter(site=b.site, status="ready", dispensed_on__lt=window).update(
            status="returned"
        )
        waiting = _available(b).count()
        if waiting < READY:
            _progress(f"topping will-call up from {waiting:,} to {READY:,}…")
            rng = random.Random(time.time_ns())  # noqa: S311  (test data)
            _make_ready(b.site, READY - waiting, b.tech, b.rph, rng)
    drawer = drawer_for(actor=b.tech)
    if drawer is None:
        drawer = drawer_open(actor=b.tech, opening_cash="200.00")
    return drawer


def _available(b: _Bench) -> Any:
    """Ready fills in the window that no open sale holds (one left by a crashed run)."""
    from rxdesk.pos.models import SaleLine
    from rxdesk.pos.services.common import EDITABLE
    from rxdesk.rx.models import Fill

    held = SaleLine.objects.filter(
        sale__site=b.site, sale__status__in=EDITABLE, fill__isnull=False
    ).values("fill_id")
    return Fill.objects.filter(
        site=b.site,
        status="ready",
        dispensed_on__gte=b.today - dt.timedelta(days=READY_DAYS - 1),
    ).exclude(pk__in=held)


# --- The rounds -----------------------------------------------------------------------------


def _timed(fn: Callable[[], Any], into: list[float]) -> Any:
    t0 = time.perf_counter()
    out = fn()
    into.append((time.perf_counter() - t0) * 1000)
    return out


def _searches(b: _Bench, queries: list[str], times: list[float]) -> tuple[float, list[int]]:
    from rxdesk.pos.queries_willcall import will_call_search

    found = []
    start = time.perf_counter()
    for q in queries:
        result = _timed(lambda q=q: will_call_search(actor=b.tech, q=q), times)
        assert result, f"nothing found for {q!r}"
        found.append(len(result))
    return len(queries) / (time.perf_counter() - start), found


def _pickups(b: _Bench, drawer: Any, fills: list[Any], times: dict[str, list[float]]) -> float:
    from rxdesk.pos.choices import Counseling, PickupPerson, SecondIdentifier, TenderKind
    from rxdesk.pos.services.pickup import pickup_record, pickup_start
    from rxdesk.pos.services.sales import TenderIn, sale_pay

    start = time.perf_counter()
    for fill in fills:
        patient = fill.prescription.patient
        sale = _timed(
            lambda f=fill, p=patient: pickup_start(
                actor=b.tech, patient=p, fills=[f], drawer=drawer
            ),
            times["pickup_start"],
        )
        _timed(
            lambda s=sale, p=patient: pickup_record(
                actor=b.tech,
                sale=s,
                person=PickupPerson.PATIENT,
                person_name="",
                date_of_birth=f"{p.date_of_birth:%m/%d/%Y}",
                second_identifier=SecondIdentifier.ADDRESS,
                counseling=Counseling.DECLINED,
                signature=b.signature,
            ),
            times["pickup_record"],
        )
        handed = (sale.total / 20).to_integral_value(ROUND_UP) * 20  # a few $20 bills
        paid = _timed(
            lambda s=sale, h=handed: sale_pay(
                actor=b.tech,
                sale=s,
                tenders=[TenderIn(kind=TenderKind.CASH, amount=s.total, tendered=h)],
            ),
            times["sale_pay"],
        )
        assert paid.status == "completed"
    return len(fills) / (time.perf_counter() - start)


def _pse_sales(b: _Bench, drawer: Any, people: list[Any], times: dict[str, list[float]]) -> float:
    from rxdesk.pos.choices import TenderKind
    from rxdesk.pos.services.pse import pse_add
    from rxdesk.pos.services.sales import TenderIn, sale_pay, sale_start

    sales = []
    start = time.perf_counter()
    for p in people:
        sale = _timed(lambda: sale_start(actor=b.tech, drawer=drawer), times["sale_start"])
        _timed(
            lambda s=sale, p=p: pse_add(
                actor=b.tech,
                sale=s,
                code=PSE_NDC10,
                packages=1,
                purchaser=p,
                signature=b.signature,
            ),
            times["pse_add"],
        )
        sales.append(sale)
    rate = len(people) / (time.perf_counter() - start)
    for sale in sales:  # untimed: the figure is the sale and its logbook check
        sale.refresh_from_db()
        sale_pay(
            actor=b.tech, sale=sale, tenders=[TenderIn(kind=TenderKind.CASH, amount=sale.total)]
        )
    return rate


def run() -> list[dict[str, object]]:
    from django.db import connection

    from rxdesk.core import context
    from rxdesk.pos.models import PseEntry
    from rxdesk.rx.models import Prescription

    _build()
    b = _Bench()
    rng = random.Random(time.time_ns())  # noqa: S311  (which bags; not secrets)
    records: list[dict[str, object]] = []
    with context.using(context.RequestInfo(request_id="bench-pos", channel="web")):
        drawer = _prepare(b)
        ready = list(_available(b).select_related("prescription__patient").order_by("pk"))
        rng.shuffle(ready)
        in_will_call = len(ready)
        need = WARM_UP + RUNS * PICKUPS
        assert in_will_call >= need, f"only {in_will_call} fills ready"
        to_pick, to_search = ready[:need], ready[need:] or ready
        sold = PseEntry.objects.filter(site=b.site, sold_by=b.tech).count()
        people = [
            _purchaser((sold + k) % PURCHASERS, b.today) for k in range(WARM_UP + RUNS * PSE_SALES)
        ]
        entries = PseEntry.objects.filter(site=b.site).count()
        rx_count = Prescription.objects.filter(site=b.site).count()

        def queries(kind: str, n: int) -> list[str]:
            picked = rng.sample(to_search, n)
            if kind == "last name":
                return [f.prescription.patient.last_name for f in picked]
            if kind == "bag label":
                return [f"{f.prescription.number}-{f.number}" for f in picked]
            return [f"{f.prescription.patient.date_of_birth:%m/%d/%Y}" for f in picked]

        # Warm-up (not counted): first-use caches, connections, the planner's statistics.
        for kind in SEARCH_KINDS:
            _searches(b, queries(kind, WARM_UP), [])
        _pickups(b, drawer, to_pick[:WARM_UP], {s: [] for s in PICKUP_STEPS})
        _pse_sales(b, drawer, people[:WARM_UP], {s: [] for s in PSE_STEPS})

        search_rates: dict[str, list[float]] = {k: [] for k in SEARCH_KINDS}
        search_times: dict[str, list[float]] = {k: [] for k in SEARCH_KINDS}
        shown: list[int] = []
        pickup_rates: list[float] = []
        pickup_times: dict[str, list[float]] = {s: [] for s in PICKUP_STEPS}
        pse_rates: list[float] = []
        pse_times: dict[str, list[float]] = {s: [] for s in PSE_STEPS}
        for r in range(RUNS):
            for kind in SEARCH_KINDS:
                rate, found = _searches(b, queries(kind, SEARCHES), search_times[kind])
                search_rates[kind].append(rate)
                if kind == "last name":
                    shown.extend(found)
            at = WARM_UP + r * PICKUPS
            pickup_rates.append(_pickups(b, drawer, to_pick[at : at + PICKUPS], pickup_times))
            at = WARM_UP + r * PSE_SALES
            pse_rates.append(_pse_sales(b, drawer, people[at : at + PSE_SALES], pse_times))
            print(
                f"  round {r + 1}: "
                + ", ".join(f"{k} {search_rates[k][-1]:.1f}/s" for k in SEARCH_KINDS)
                + f"; pickups {pickup_rates[-1]:.1f}/s; PSE sales {pse_rates[-1]:.1f}/s",
                flush=True,
            )
    connection.close()

    size = f"{PATIENTS:,} patients, {in_will_call:,} in will-call"
    for kind in SEARCH_KINDS:
        records.append(
            {
                "name": f"pos: will-call searches/s by {kind} ({size})",
                "value": round(statistics.median(search_rates[kind]), 1),
                "unit": "searches/s",
                "spread": [round(x, 1) for x in sorted(search_rates[kind])],
            }
        )
        records.append(
            {
                "name": f"pos: p95 will-call search by {kind}",
                "value": round(_p95(search_times[kind]), 1),
                "unit": "ms",
            }
        )
    records.append(
        {
            "name": "pos: patients shown per last-name search (median)",
            "value": statistics.median(shown),
            "unit": "patients",
            "max": max(shown),
        }
    )
    records.append(
        {
            "name": f"pos: pickups/s (1 worker, start+record+pay, {rx_count:,} Rx on file)",
            "value": round(statistics.median(pickup_rates), 1),
            "unit": "pickups/s",
            "spread": [round(x, 1) for x in sorted(pickup_rates)],
        }
    )
    for step in PICKUP_STEPS:
        records.append(
            {
                "name": f"pos: p95 {step} (pickup)",
                "value": round(_p95(pickup_times[step]), 1),
                "unit": "ms",
            }
        )
    records.append(
        {
            "name": f"pos: PSE sales/s (sale_start+pse_add, {entries:,}-entry logbook)",
            "value": round(statistics.median(pse_rates), 1),
            "unit": "sales/s",
            "spread": [round(x, 1) for x in sorted(pse_rates)],
        }
    )
    both = [a + c for a, c in zip(pse_times["sale_start"], pse_times["pse_add"], strict=True)]
    for step, values in (*pse_times.items(), ("sale_start+pse_add", both)):
        records.append(
            {
                "name": f"pos: p95 {step} (PSE sale)",
                "value": round(_p95(values), 1),
                "unit": "ms",
            }
        )
    return records


# --- Query plans ----------------------------------------------------------------------------


def explain() -> None:
    """The plans of the SELECTs of one will-call search of each kind and of a PSE limit
    check (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rxdesk.core import context
    from rxdesk.pos.queries_willcall import will_call_search
    from rxdesk.pos.services.pse import pse_limits

    _build()
    b = _Bench()
    pg = connection.vendor == "postgresql"
    with context.using(context.RequestInfo(request_id="bench-pos", channel="web")):
        fill = _available(b).select_related("prescription__patient").order_by("pk").first()
        assert fill is not None
        patient = fill.prescription.patient
        cases: list[tuple[str, Callable[[], Any]]] = [
            (
                f"last name {patient.last_name!r}",
                lambda: will_call_search(actor=b.tech, q=patient.last_name),
            ),
            (
                "bag label",
                lambda: will_call_search(
                    actor=b.tech, q=f"{fill.prescription.number}-{fill.number}"
                ),
            ),
            (
                "date of birth",
                lambda: will_call_search(actor=b.tech, q=f"{patient.date_of_birth:%m/%d/%Y}"),
            ),
            ("PSE limit check", lambda: pse_limits(actor=b.tech, purchaser=_purchaser(7, b.today))),
        ]
        for title, fn in cases:
            with CaptureQueriesContext(connection) as captured:
                fn()
            selects = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
            print(
                f"\n=== {title}: {len(captured.captured_queries)} queries, {len(selects)} SELECTs"
            )
            seen: set[str] = set()
            for sql in selects:
                if sql in seen:
                    continue
                seen.add(sql)
                with connection.cursor() as cursor:
                    if pg:
                        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                        plan = [row[0] for row in cursor.fetchall()]
                    else:
                        cursor.execute("EXPLAIN QUERY PLAN " + sql)
                        plan = [row[-1] for row in cursor.fetchall()]
                print(f"\n-- {sql[:600]}{'…' if len(sql) > 600 else ''}")
                for line in plan:
                    print(f"   {line}")


if __name__ == "__main__":
    from bench.__main__ import _setup

    _setup()
    if sys.argv[1:2] == ["explain"]:
        explain()
    else:
        for record in run():
            print(record)
