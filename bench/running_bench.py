"""Running the pharmacy: metrics with charts, the daily reports, 340B capture and the
outreach lists, at a busy store's size.

Builds, in bulk (``bulk_create``, no services), a fresh pharmacy each run: 5,000 patients
(85% with a plan), 20 prescribers, maintenance drugs (metformin, atorvastatin, lisinopril,
amlodipine, levothyroxine, …), and 30 days of history (to yesterday) at 600 fills a day
(18,000 fills, one prescription each, with 0–2 earlier fills of the same prescription going
back up to 90 days, some late: the adherence list has gaps to find). Every fill of the 30
days has its history (FillEvent: entered → data verified → filled → final verified → sold,
minutes apart; about 2% sent back at data verification, 1% at final verification, 1% with a
product scan overridden); fills of the last day are partly still in will-call. Claims for
the fills of insured patients (about 4% rejected, with reject codes), screening alerts on
about 6% of fills (some interrupting and overridden). The stock ledger: an opening balance
per drug, a dispense move per fill, acquisition prices, and one drug never dispensed (dead
stock). A 340B covered entity with half the prescribers eligible, 30% of the patients on its
list or with an encounter.

Then times (median of 3 rounds):

- ``metrics page``: every metric of the metrics page for the 30 days
  (``rxdesk.reports.metrics``: errors caught, alert rates, queue lengths, volume, step
  times, inventory turns, dead stock, claim rejects): seconds per page;
- ``charts``: every chart of the page (``metrics_charts.chart``, which reads its metric)
  drawn as SVG and as PNG: charts per second;
- ``daily reports``: the seven reports of one busy day generated and kept, PDFs included
  (``daily_reports_generate``), a different day each round: seconds per day's set;
- ``340B capture``: one day's sold fills decided (``p340b_capture`` through that day, the
  next day each round): fills decided per second;
- ``outreach``: refills due, low adherence (PDC over 180 days) and sync-eligible lists
  (``rxdesk.outreach.queries``): seconds per list.

Sizes scale with ``RXDESK_BENCH_SCALE`` (e.g. ``0.05`` for a quick check; the 30 days and
the 180-day PDC period stay). Run alone with ``python -m bench running``; on the PostgreSQL
of DATABASE_URL when set (a new bench site each run), else on a temporary SQLite file."""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time
from decimal import Decimal
from typing import Any

SCALE = float(os.environ.get("RXDESK_BENCH_SCALE", "1"))
PATIENTS = max(40, int(5_000 * SCALE))
FILLS_PER_DAY = max(12, int(600 * SCALE))
DAYS = 30  # of history, ending yesterday
PRESCRIBERS = 20
PRIOR_FILLS = 2  # earlier fills of a prescription, at most (before the 30 days)
INSURED = 0.85
REJECTED = 0.04
ALERTED = 0.06
SENT_BACK_DATA = 0.02
SENT_BACK_FINAL = 0.01
SCAN_OVERRIDE = 0.01
STILL_READY = 0.3  # of the last day's fills, still in will-call
P340B_LISTED = 0.3  # of patients: on the entity's list (half) or with an encounter (half)
PDC_DAYS = 180
RUNS = 3
BATCH = 5_000
SITE_NAME = "Running bench pharmacy"
NDC_LABELER = "99985"
# (name, substances, maintenance flag)
DRUGS = (
    ("Metformin HCl 500 mg", "METFORMIN HYDROCHLORIDE", True),
    ("Atorvastatin 20 mg", "ATORVASTATIN CALCIUM TRIHYDRATE", True),
    ("Lisinopril 10 mg", "LISINOPRIL", True),
    ("Losartan 50 mg", "LOSARTAN POTASSIUM", True),
    ("Amlodipine 5 mg", "AMLODIPINE BESYLATE", True),
    ("Levothyroxine 50 mcg", "LEVOTHYROXINE SODIUM", True),
    ("Glipizide 5 mg", "GLIPIZIDE", True),
    ("Amoxicillin 500 mg", "AMOXICILLIN", False),
    ("Sertraline 50 mg", "SERTRALINE HYDROCHLORIDE", True),
    ("Omeprazole 20 mg", "OMEPRAZOLE", False),
    ("Hydroxyzine HCl 25 mg", "HYDROXYZINE HYDROCHLORIDE", False),  # never dispensed
)
PRESCRIBED = len(DRUGS) - 1
REJECT_CODES = (["75"], ["70"], ["79"], ["76", "88"], ["MR"])


def _progress(text: str) -> None:
    print(f"building: {text}", flush=True)


def _median_s(samples: list[float]) -> float:
    return statistics.median(samples)


# --- The pharmacy ---------------------------------------------------------------------------


def _people(site: Any) -> dict[str, Any]:
    from rxdesk.core.choices import Role
    from rxdesk.core.models import User

    far = dt.date.today() + dt.timedelta(days=3650)
    stamp = f"{time.time_ns() % 10**10}"

    def person(name: str, role: str, tech: bool) -> Any:
        return User.objects.create(
            username=f"bench-run-{name}-{stamp}",
            role=role,
            site=site,
            first_name="Bench",
            last_name=name.title(),
            technician_registration="T1" if tech else "",
            technician_registration_expires=far if tech else None,
            pharmacist_license="" if tech else "RPH-1",
            pharmacist_license_expires=None if tech else far,
        )

    return {
        "tech": person("tech", Role.TECHNICIAN, True),
        "rph": person("rph", Role.PHARMACIST, False),
        "pic": person("pic", Role.PHARMACIST_IN_CHARGE, False),
    }


def _catalog() -> list[Any]:
    from rxdesk.catalog.models import Package, Product

    packages = []
    for d, (name, substances, maintenance) in enumerate(DRUGS):
        product, _ = Product.objects.get_or_create(
            product_id=f"bench-run-{d}",
            defaults={
                "product_ndc": f"{NDC_LABELER}-{d:03d}",
                "product_type": "HUMAN PRESCRIPTION DRUG",
                "name": name,
                "generic_name": name.rsplit(" ", 2)[0].lower(),
                "substances": substances,
                "maintenance": maintenance,
                "strength": name.split(" ", 1)[1],
                "dosage_form": "TABLET",
                "labeler": "Bench Labs",
            },
        )
        package, _ = Package.objects.get_or_create(
            ndc11=f"{NDC_LABELER}{d:04d}01",
            defaults={
                "ndc10": f"{NDC_LABELER}-{d:03d}-01",
                "product": product,
                "description": "1000 TABLET in 1 BOTTLE",
                "billing_unit": "EA",
                "package_quantity": Decimal(1000),
            },
        )
        packages.append(package)
    return packages


def _plans() -> list[Any]:
    from rxdesk.claims.models import Payer, Plan

    payer, _ = Payer.objects.get_or_create(name="Bench running payer", defaults={"port": 9})
    return [
        Plan.objects.get_or_create(
            bin=f"99{n:04d}",
            pcn="RUNB",
            group="",
            defaults={"payer": payer, "name": f"Bench plan {n}"},
        )[0]
        for n in range(1, 5)
    ]


def _event(
    fill: Any, at: dt.datetime, name: str, a: str, b: str, tech: Any, rph: Any, data: Any
) -> Any:
    """One FillEvent row as rxdesk.rx.services.common.record writes it."""
    from rxdesk.rx.models import FillEvent

    actor = rph if name in ("data_verified", "final_verified") else tech
    return FillEvent(
        fill=fill,
        step=name,
        from_status=a,
        to_status=b,
        actor=actor,
        actor_name=actor.get_full_name(),
        at=at,
        reason="Bench: sent back" if name == "sent_back" else "",
        data=data,
    )


def _stock(site: Any, packages: list[Any], window: list[Any], tech: Any) -> int:
    """The stock ledger: an opening balance per drug 60 days before the history (plus one
    drug never dispensed: dead stock), a DISPENSE move per fill of the 30 days at its
    filling, acquisition prices, and the balances. Returns the moves written."""
    from rxdesk.catalog.models import PackagePrice
    from rxdesk.inventory.models import Lot, StockBalance, StockMove

    today = site.today()
    opened = dt.datetime.combine(today - dt.timedelta(days=DAYS + 60), dt.time(8), tzinfo=site.tz)
    lots = {}
    for d, package in enumerate(packages):
        PackagePrice.objects.get_or_create(
            package=package,
            kind="acquisition",
            effective_on=dt.date(2020, 1, 1),
            defaults={"amount": Decimal(f"{12 + 7 * d}.50")},
        )
        lots[package.pk] = Lot.objects.get_or_create(
            package=package,
            number=f"RUN{site.pk}",
            defaults={"expiry": today + dt.timedelta(days=400)},
        )[0]
    used: dict[int, Decimal] = {p.pk: Decimal(0) for p in packages}
    for fill in window:
        used[fill.package_id] += fill.quantity
    balance = {pk: (q * Decimal("1.2") + 1000).quantize(Decimal(1)) for pk, q in used.items()}
    name = tech.get_full_name()
    moves = [
        StockMove(
            site=site,
            package_id=pk,
            lot=lots[pk],
            quantity=balance[pk],
            balance_after=balance[pk],
            reason="opening",
            actor=tech,
            actor_name=name,
            occurred_at=opened,
        )
        for pk in balance
    ]
    for fill in sorted(window, key=lambda f: f.verified_at):
        balance[fill.package_id] -= fill.quantity
        moves.append(
            StockMove(
                site=site,
                package_id=fill.package_id,
                lot=lots[fill.package_id],
                quantity=-fill.quantity,
                balance_after=balance[fill.package_id],
                reason="dispense",
                reference_type="rx.fill",
                reference_id=str(fill.pk),
                patient_id=fill.prescription.patient_id,
                actor=tech,
                actor_name=name,
                occurred_at=fill.verified_at - dt.timedelta(minutes=3),
            )
        )
    StockMove.objects.bulk_create(moves, batch_size=BATCH)
    StockBalance.objects.bulk_create(
        StockBalance(site=site, package_id=pk, lot=lots[pk], on_hand=q) for pk, q in balance.items()
    )
    return len(moves)


def _build() -> dict[str, Any]:
    """A fresh bench pharmacy (see the module's docstring)."""
    from django.db import connection, transaction

    from rxdesk.claims.models import Claim
    from rxdesk.core.models import Site
    from rxdesk.patients.models import Coverage, Patient, Prescriber, name_key
    from rxdesk.program340b.models import (
        CoveredEntity,
        EligiblePatient,
        EligiblePrescriber,
        Encounter,
    )
    from rxdesk.rx.models import Fill, FillEvent, Prescription, RxNumber
    from rxdesk.screening.models import FillAlert

    rng = random.Random(14)  # noqa: S311  (reproducible test data, not secrets)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")  # bulk set-up only; closed below
    site = Site.objects.create(name=SITE_NAME, time_zone="America/Chicago")
    staff = _people(site)
    tech, rph = staff["tech"], staff["rph"]
    today = site.today()
    tz = site.tz
    first_day = today - dt.timedelta(days=DAYS)
    with transaction.atomic():
        _progress("drugs, plans, prescribers…")
        packages = _catalog()
        plans = _plans()
        prescribers = Prescriber.objects.bulk_create(
            Prescriber(
                site=site,
                first_name=f"Doc{n}",
                last_name="Bench",
                credential="MD",
                npi=f"19{n:08d}",
            )
            for n in range(PRESCRIBERS)
        )
        _progress(f"{PATIENTS:,} patients and their coverage…")
        patients = Patient.objects.bulk_create(
            (
                Patient(
                    site=site,
                    first_name=f"Pat{i}",
                    last_name=f"Runner{i % 997}",
                    first_name_key=name_key(f"Pat{i}")[:60],
                    last_name_key=name_key(f"Runner{i % 997}")[:60],
                    date_of_birth=dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(60 * 365)),
                    address_line1=f"{i} Bench Ave",
                    city="Springfield",
                    state="IL",
                    postal_code="62701",
                    phone_mobile=f"217555{i % 10000:04d}",
                )
                for i in range(PATIENTS)
            ),
            batch_size=BATCH,
        )
        insured = {p.pk: plans[p.pk % len(plans)] for p in patients if rng.random() < INSURED}
        coverages = {
            c.patient_id: c
            for c in Coverage.objects.bulk_create(
                (
                    Coverage(
                        patient_id=pk,
                        rank=1,
                        plan_name=plan.name,
                        bin=plan.bin,
                        pcn=plan.pcn,
                        member_id=f"M{pk:09d}",
                    )
                    for pk, plan in insured.items()
                ),
                batch_size=BATCH,
            )
        }

        total = FILLS_PER_DAY * DAYS
        _progress(f"{total:,} prescriptions, their fills of {DAYS} days and history…")
        rxs: list[Any] = []
        plan_of: list[tuple[dt.date, dt.datetime]] = []  # per rx: day filled, entered at
        for i in range(total):
            package = packages[rng.randrange(PRESCRIBED)]
            day = first_day + dt.timedelta(days=i // FILLS_PER_DAY)
            entered = dt.datetime.combine(day, dt.time(9), tzinfo=tz) + dt.timedelta(
                minutes=rng.randrange(600)
            )
            plan_of.append((day, entered))
            rxs.append(
                Prescription(
                    site=site,
                    number=i + 1,
                    patient=patients[rng.randrange(PATIENTS)],
                    prescriber=prescribers[rng.randrange(PRESCRIBERS)],
                    product=package.product,
                    package=package,
                    drug_description=package.product.name + " tablet",
                    origin=3,
                    quantity=Decimal(30),
                    quantity_unit="EA",
                    days_supply=30,
                    directions="1 T PO QD",
                    directions_en="Take 1 tablet by mouth once daily.",
                    refills_authorized=11,
                    date_written=first_day - dt.timedelta(days=120),
                    expires_on=today + dt.timedelta(days=240),
                    entered_by=tech,
                )
            )
        rxs = list(Prescription.objects.bulk_create(rxs, batch_size=BATCH))
        RxNumber.objects.create(site=site, last=total)

        history: list[Any] = []
        window: list[Any] = []
        for rx, (day, entered) in zip(rxs, plan_of, strict=True):
            prior = rng.randint(0, PRIOR_FILLS)
            on = day
            for k in range(prior):
                # on time, or late by up to three weeks (a gap in the days covered)
                on = on - dt.timedelta(days=30 + (rng.randrange(21) if rng.random() < 0.2 else 0))
                at = dt.datetime.combine(on, dt.time(11), tzinfo=tz)
                history.append(
                    Fill(
                        site=site,
                        prescription=rx,
                        number=prior - 1 - k,
                        status="dispensed",
                        source="auto",
                        quantity=Decimal(30),
                        days_supply=30,
                        requested_at=at,
                        requested_by=tech,
                        dispensed_on=on,
                        dispensed_at=at,
                        package=rx.package,
                        filled_by=tech,
                        verified_by=rph,
                        verified_at=at,
                        sold_by=tech,
                        sold_at=at,
                    )
                )
            verified = entered + dt.timedelta(minutes=rng.randint(5, 40))
            filled = verified + dt.timedelta(minutes=rng.randint(5, 60))
            final = filled + dt.timedelta(minutes=rng.randint(3, 30))
            ready = day == today - dt.timedelta(days=1) and rng.random() < STILL_READY
            sold = final + dt.timedelta(minutes=rng.randint(20, 1440))
            window.append(
                Fill(
                    site=site,
                    prescription=rx,
                    number=prior,
                    status="ready" if ready else "dispensed",
                    source="auto" if prior else "new",
                    quantity=Decimal(30),
                    days_supply=30,
                    requested_at=entered,
                    requested_by=tech,
                    dispensed_on=day,
                    dispensed_at=final,
                    data_verified_by=rph,
                    data_verified_at=verified,
                    package=rx.package,
                    scanned_code=rx.package.ndc10,
                    filled_by=tech,
                    verified_by=rph,
                    verified_at=final,
                    bin=f"R{rx.patient_id % 10}",
                    ready_at=final,
                    sold_by=None if ready else tech,
                    sold_at=None if ready else sold,
                )
            )
        Fill.objects.bulk_create(history, batch_size=BATCH)
        window = list(Fill.objects.bulk_create(window, batch_size=BATCH))

        _progress(f"fill histories, claims and alerts of {len(window):,} fills…")
        events: list[Any] = []
        claims: list[Any] = []
        alerts: list[Any] = []
        for fill in window:
            rx = fill.prescription

            def step(at: dt.datetime, name: str, a: str, b: str, **data: Any) -> None:
                events.append(_event(fill, at, name, a, b, tech, rph, data))  # noqa: B023

            entered, verified = fill.requested_at, fill.data_verified_at
            step(entered, "entered", "", "queued")
            if rng.random() < SENT_BACK_DATA:
                step(
                    entered + (verified - entered) / 2,
                    "sent_back",
                    "queued",
                    "queued",
                    at_step="data_verification",
                )
            step(verified, "data_verified", "queued", "to_fill")
            filled, final = fill.verified_at - dt.timedelta(minutes=3), fill.verified_at
            if rng.random() < SCAN_OVERRIDE:
                step(filled, "scan_overridden", "to_fill", "to_fill", problem="wrong_ndc")
            if rng.random() < SENT_BACK_FINAL:
                step(verified + (filled - verified) / 2, "filled", "to_fill", "filled")
                step(
                    verified + (filled - verified) * 3 / 4,
                    "sent_back",
                    "filled",
                    "to_fill",
                    at_step="final_verification",
                )
            step(filled, "filled", "to_fill", "filled")
            step(final, "final_verified", "filled", "ready")
            if fill.sold_at is not None:
                step(fill.sold_at, "sold", "ready", "dispensed")
            plan = insured.get(rx.patient_id)
            if plan is not None:
                rejected = rng.random() < REJECTED
                claims.append(
                    Claim(
                        site=site,
                        fill=fill,
                        coverage=coverages[rx.patient_id],
                        plan=plan,
                        payer_rank=1,
                        status="rejected" if rejected else "paid",
                        rx_number=rx.number,
                        fill_number=fill.number,
                        date_of_service=fill.dispensed_on,
                        ndc=rx.package.ndc11,
                        quantity=fill.quantity,
                        days_supply=fill.days_supply,
                        reject_codes=rng.choice(REJECT_CODES) if rejected else [],
                        submitted_by=rph,
                        created_at=verified,
                        sent_at=verified,
                        answered_at=verified + dt.timedelta(seconds=2),
                    )
                )
            if rng.random() < ALERTED:
                severity = rng.choice(("contraindicated", "major", "moderate", "minor"))
                interrupting = severity in ("contraindicated", "major")
                alerts.append(
                    FillAlert(
                        site=site,
                        fill=fill,
                        key=f"bench:{fill.pk}",
                        rule="bench:interaction",
                        type=rng.choice(("DD", "TD", "ER", "DA")),
                        severity=severity,
                        interrupting=interrupting,
                        message="Bench interaction",
                        source="Bench",
                        raised_at=entered + dt.timedelta(minutes=1),
                        resolved_by=rph if interrupting else None,
                        resolved_at=verified if interrupting else None,
                        professional_service="M0" if interrupting else "",
                        result_of_service=rng.choice(("1A", "1B", "2A")) if interrupting else "",
                    )
                )
            if len(events) >= BATCH * 4:
                FillEvent.objects.bulk_create(events, batch_size=BATCH)
                events = []
        FillEvent.objects.bulk_create(events, batch_size=BATCH)
        Claim.objects.bulk_create(claims, batch_size=BATCH)
        FillAlert.objects.bulk_create(alerts, batch_size=BATCH)

        _progress("stock ledger…")
        _stock(site, packages, window, tech)

        _progress("340B covered entity, eligible prescribers and patients…")
        d340 = today - dt.timedelta(days=10)
        entity = CoveredEntity.objects.create(
            site=site,
            opais_id="DSH140099",
            name="Bench General Hospital",
            entity_type="DSH",
            starts_on=d340,
            lookback_months=12,
            updated_by=staff["pic"],
        )
        since = today - dt.timedelta(days=400)
        EligiblePrescriber.objects.bulk_create(
            EligiblePrescriber(
                site=site, entity=entity, npi=p.npi, name=str(p), effective_from=since
            )
            for p in prescribers[::2]
        )
        chosen = [p for p in patients if rng.random() < P340B_LISTED]
        half = len(chosen) // 2
        EligiblePatient.objects.bulk_create(
            (
                EligiblePatient(site=site, entity=entity, patient=p, effective_from=since)
                for p in chosen[:half]
            ),
            batch_size=BATCH,
        )
        Encounter.objects.bulk_create(
            (
                Encounter(
                    site=site,
                    entity=entity,
                    patient=p,
                    location="Bench clinic",
                    on=today - dt.timedelta(days=rng.randrange(20, 300)),
                )
                for p in chosen[half:]
            ),
            batch_size=BATCH,
        )
    connection.close()  # the rounds run with the production settings (synchronous=FULL)
    return {"site": site, "pic": staff["pic"], "today": today, "d340": d340}


# --- The rounds ---------------------------------------------------------------------------------


def _metrics_page(actor: Any, p: Any) -> None:
    from rxdesk.reports import metrics as m

    m.errors_caught(actor=actor, p=p)
    m.alert_rates(actor=actor, p=p)
    m.queue_lengths(actor=actor, p=p)
    m.rx_volume(actor=actor, p=p)
    m.step_times(actor=actor, p=p)
    m.inventory_turns(actor=actor, p=p)
    m.dead_stock(actor=actor, p=p)
    m.claim_rejects(actor=actor, p=p)


def run() -> list[dict[str, object]]:
    from rxdesk.outreach import queries as outreach
    from rxdesk.program340b.services import p340b_capture
    from rxdesk.reports import charts, metrics_charts
    from rxdesk.reports import metrics as m
    from rxdesk.reports.services_daily import daily_reports_generate
    from rxdesk.rx.models import Fill

    t0 = time.perf_counter()
    built = _build()
    setup = time.perf_counter() - t0
    site, pic, today = built["site"], built["pic"], built["today"]
    records: list[dict[str, object]] = [
        {
            "name": f"running: set-up ({FILLS_PER_DAY * DAYS:,} fills, {PATIENTS:,} patients)",
            "value": round(setup, 1),
            "unit": "s",
        }
    ]

    # Metrics: the whole page for the 30 days.
    p = m.period(actor=pic, start=today - dt.timedelta(days=DAYS), end=today - dt.timedelta(days=1))
    assert m.fills_filled(p) == FILLS_PER_DAY * DAYS, m.fills_filled(p)
    assert m.inventory_turns(actor=pic, p=p).turns is not None
    assert m.dead_stock(actor=pic, p=p).rows, "the never-dispensed drug is dead stock"
    assert m.errors_caught(actor=pic, p=p).total > 0
    samples = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        _metrics_page(pic, p)
        samples.append(time.perf_counter() - t0)
    records.append(
        {
            "name": f"running: metrics page ({DAYS} days)",
            "value": round(_median_s(samples), 3),
            "unit": "s/page",
        }
    )
    names = list(metrics_charts.CHARTS)
    for fmt, draw in (("SVG", charts.to_svg), ("PNG", charts.to_png)):
        samples = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            for name in names:
                body = draw(metrics_charts.chart(actor=pic, p=p, name=name))
                assert body
            samples.append(time.perf_counter() - t0)
        records.append(
            {
                "name": f"running: metrics charts as {fmt} ({len(names)} charts)",
                "value": round(len(names) / _median_s(samples), 1),
                "unit": "charts/s",
            }
        )

    # The seven daily reports of a busy day, a different day each round.
    samples = []
    for k in range(RUNS):
        day = today - dt.timedelta(days=5 + k)
        t0 = time.perf_counter()
        out = daily_reports_generate(actor=pic, day=day)
        samples.append(time.perf_counter() - t0)
        assert len(out) == 7 and all(g.outcome == "created" for g in out), [g.text for g in out]
    records.append(
        {
            "name": f"running: daily reports + PDF ({FILLS_PER_DAY} fills)",
            "value": round(_median_s(samples), 3),
            "unit": "s/day",
        }
    )

    # 340B: one day's sold fills decided, the next day each round.
    samples, decided = [], 0
    for k in range(RUNS):
        day = built["d340"] + dt.timedelta(days=k)
        expected = Fill.objects.filter(site=site, status="dispensed", dispensed_on=day).count()
        t0 = time.perf_counter()
        result = p340b_capture(actor=pic, through=day)
        seconds = time.perf_counter() - t0
        assert result.decided == expected, (result.summary(), expected)
        assert result.eligible > 0, result.summary()
        samples.append(result.decided / seconds)
        decided = result.decided
    records.append(
        {
            "name": f"running: 340B capture ({decided} fills/day)",
            "value": round(statistics.median(samples), 1),
            "unit": "fills/s",
        }
    )

    # Outreach lists.
    lists = (
        ("refills due", lambda: outreach.refills_due(site, today=today)),
        (
            f"low adherence PDC {PDC_DAYS}d",
            lambda: outreach.low_adherence(site, days=PDC_DAYS, today=today),
        ),
        ("sync-eligible", lambda: outreach.sync_eligible(site, today=today)),
    )
    for label, build in lists:
        samples, rows = [], 0
        for _ in range(RUNS):
            t0 = time.perf_counter()
            listing = build()
            samples.append(time.perf_counter() - t0)
            rows = len(listing.rows)
        assert rows > 0, label
        records.append(
            {
                "name": f"running: outreach {label} ({rows} rows)",
                "value": round(_median_s(samples), 3),
                "unit": "s/list",
            }
        )
    return records
