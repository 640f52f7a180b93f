"""Compounding: how fast the rules and the records go on a pharmacy with history.

* ``bud`` — the pure BUD rules (USP <795>/<797>) over every table row, per call;
* ``bud api`` — ``POST /api/v1/compounding/bud`` end to end through the test client (auth,
  parsing, rules, problem/JSON), p50 and p95;
* ``record start`` — a compounding record of the two-component vancomycin bag through the
  real service: competency check, PEC certification, FEFO lots across 3 lots each, two
  stock moves, BUD, lot number, audit; records per second and p95;
* ``cleanroom board`` and ``competency board`` over two years of monitoring (730 days of
  pressures and temperatures for 3 rooms, 5 cleaning entries a day, weekly samples) and
  40 staff with 20 results each.

Targets: BUD < 50 µs a call; the API p95 < 30 ms; records ≥ 20 /s; each board p95 < 300 ms.
Run alone with ``python -m bench compounding``; on the PostgreSQL of DATABASE_URL when set,
else on a temporary SQLite file."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
from decimal import Decimal
from typing import Any

RUNS = 30
RECORDS = 200
BUD_CALLS = 20_000
STAFF = 40
DAYS = 730
TARGETS = {"bud_us": 50.0, "api_ms": 30.0, "records_per_s": 20.0, "board_ms": 300.0}


def _p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]


def _time(fn: Any, runs: int = RUNS) -> list[float]:
    fn()  # warm
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - begin) * 1000)
    return samples


def _bud_inputs() -> list[Any]:
    from rxdesk.compounding.bud import BudInput

    at = dt.datetime(2026, 1, 5, 9, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    expiries = [dt.date(2026, 3, 1), dt.date(2027, 1, 1)]
    cases = []
    for storage in ("room", "refrigerator"):
        for preparation, preserved in (
            ("aqueous", True),
            ("nonaqueous-oral-liquid", False),
            ("other-nonaqueous", False),
        ):
            cases.append(
                BudInput(
                    type="nonsterile",
                    prepared_at=at,
                    storage=storage,
                    preparation=preparation,
                    preserved=preserved,
                    component_expirations=expiries,
                )
            )
    for storage in ("room", "refrigerator", "freezer"):
        for aseptic, tested, sterile in (
            (True, False, False),
            (True, False, True),
            (True, True, True),
            (False, False, True),
            (False, True, True),
        ):
            cases.append(
                BudInput(
                    type="sterile",
                    category="2",
                    prepared_at=at,
                    storage=storage,
                    aseptic=aseptic,
                    sterility_tested=tested,
                    sterile_starting_components=sterile,
                    component_expirations=expiries,
                )
            )
    return cases


def _build() -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from rxdesk.catalog.models import Package, Product
    from rxdesk.compounding import competency
    from rxdesk.compounding.models import (
        Certification,
        CleaningLog,
        CompetencyResult,
        EngineeringControl,
        EnvironmentalSample,
        FormulaIngredient,
        MasterFormula,
        PressureReading,
        Room,
        RoomConditions,
    )
    from rxdesk.core.choices import Role
    from rxdesk.core.models import Site, User
    from rxdesk.inventory import ledger
    from rxdesk.inventory.choices import MoveReason

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")
    with transaction.atomic():
        site = Site.objects.create(name="Compounding bench pharmacy", time_zone="America/Chicago")
        pic = User.objects.create(
            username="bench-cmp-pic", role=Role.PHARMACIST_IN_CHARGE, site=site
        )
        staff = [
            User.objects.create(
                username=f"bench-cmp-{i}",
                role=Role.TECHNICIAN if i % 3 else Role.PHARMACIST,
                site=site,
                first_name="Staff",
                last_name=f"{i:02d}",
                technician_registration=f"T{i}" if i % 3 else "",
                technician_registration_expires=dt.date(2099, 1, 1) if i % 3 else None,
                pharmacist_license="" if i % 3 else f"RPH-{i}",
                pharmacist_license_expires=None if i % 3 else dt.date(2099, 1, 1),
            )
            for i in range(STAFF)
        ]
        tech = staff[1]
        today = site.today()
        for person in staff:
            rows = [
                CompetencyResult(
                    site=site,
                    person=person,
                    kind=competency.GARBING_GFT,
                    performed_on=today - dt.timedelta(days=400 + d),
                    passed=True,
                    initial=True,
                    cfu=0,
                    evaluator=pic,
                    evaluator_name=pic.username,
                )
                for d in range(3)
            ]
            for k, kind in enumerate(competency.KINDS):
                for back in (10, 190, 370):
                    rows.append(
                        CompetencyResult(
                            site=site,
                            person=person,
                            kind=kind,
                            performed_on=today - dt.timedelta(days=back + k),
                            passed=True,
                            cfu=1 if kind == competency.GARBING_GFT else None,
                            evaluator=pic,
                            evaluator_name=pic.username,
                        )
                    )
            CompetencyResult.objects.bulk_create(rows)
        rooms = [
            Room.objects.create(site=site, name="Buffer", kind="buffer", iso_class="7"),
            Room.objects.create(site=site, name="Ante", kind="ante", iso_class="8"),
            Room.objects.create(site=site, name="Nonsterile", kind="nonsterile"),
        ]
        hood = EngineeringControl.objects.create(
            site=site, room=rooms[0], name="LAFW 1", kind="lafw", iso_class="5"
        )
        Certification.objects.create(
            site=site,
            control=hood,
            certified_on=today - dt.timedelta(days=20),
            due_on=today + dt.timedelta(days=160),
            certifier="bench",
            recorded_by=pic,
        )
        now = timezone.now()
        readings, conditions, cleaning, samples = [], [], [], []
        for day in range(DAYS):
            at = now - dt.timedelta(days=day, hours=1)
            for room in rooms[:2]:
                readings.append(
                    PressureReading(
                        site=site,
                        room=room,
                        reference="next room",
                        inches_wc=Decimal("0.030"),
                        read_at=at,
                        in_range=True,
                        recorded_by=tech,
                    )
                )
                conditions.append(
                    RoomConditions(
                        site=site,
                        room=room,
                        read_at=at,
                        temperature_c=Decimal("19.5"),
                        humidity_pct=Decimal("40"),
                        in_range=True,
                        recorded_by=tech,
                    )
                )
            for area, kind in (
                ("pec_interior", "cleaning"),
                ("pec_interior", "disinfecting"),
                ("work_surfaces", "cleaning"),
                ("floors", "cleaning"),
                ("floors", "disinfecting"),
            ):
                cleaning.append(
                    CleaningLog(
                        site=site,
                        room=rooms[0],
                        control=hood if area == "pec_interior" else None,
                        area=area,
                        kind=kind,
                        agent="IPA",
                        performed_at=at,
                        performed_by=tech,
                        performed_by_name=tech.username,
                    )
                )
            if day % 7 == 0:
                samples.append(
                    EnvironmentalSample(
                        site=site,
                        kind="surface",
                        room=rooms[0],
                        control=hood,
                        location="work surface",
                        iso_class="5",
                        sampled_at=at,
                        cfu=0,
                        cfu_measure=Decimal(0),
                        action_level=Decimal(3),
                        recorded_by=tech,
                    )
                )
        PressureReading.objects.bulk_create(readings, batch_size=2000)
        RoomConditions.objects.bulk_create(conditions, batch_size=2000)
        CleaningLog.objects.bulk_create(cleaning, batch_size=2000)
        EnvironmentalSample.objects.bulk_create(samples, batch_size=2000)

        def product(ndc: str, name: str, unit: str, size: str) -> Package:
            p = Product.objects.create(
                product_id=f"{ndc}_bench",
                product_ndc=ndc,
                product_type="HUMAN PRESCRIPTION DRUG",
                name=name,
                generic_name=name,
            )
            labeler, code = ndc.split("-")
            return Package.objects.create(
                ndc11=f"{labeler}0{code}01",
                ndc10=f"{labeler}-{code}-01",
                product=p,
                description=name,
                billing_unit=unit,
                package_quantity=Decimal(size),
            )

        vanco = product("89000-001", "Vancomycin 1 g vial", "EA", "10")
        saline = product("89000-002", "Sodium chloride 0.9 %", "ML", "250")
        for package, per_lot in ((vanco, 100), (saline, 25_000)):
            for n in range(3):
                lot = ledger.lot_get_or_create(
                    package=package, number=f"B{n}", expiry=today + dt.timedelta(days=300 + n)
                )
                ledger.post_in(
                    site=site,
                    lot=lot,
                    quantity=Decimal(per_lot),
                    reason=MoveReason.OPENING,
                    actor=None,
                )
        formula = MasterFormula.objects.create(
            site=site,
            code="VANC",
            status="approved",
            name="Vancomycin",
            strength="1 g/250 mL",
            dosage_form="IV solution",
            route="intravenous",
            category="2",
            storage="refrigerator",
            container_kind="single-dose",
            batch_quantity=Decimal(1),
            batch_unit="bag",
            container="bag",
            procedure="mix",
            created_by=pic,
            approved_by=pic,
            approved_at=now,
        )
        FormulaIngredient.objects.create(
            formula=formula,
            position=1,
            product=vanco.product,
            name="Vancomycin",
            quantity=Decimal(1),
            unit="each",
        )
        FormulaIngredient.objects.create(
            formula=formula,
            position=2,
            product=saline.product,
            name="Saline",
            quantity=Decimal(250),
            unit="mL",
            role="diluent",
        )
    return {"site": site, "pic": pic, "tech": tech, "formula": formula, "hood": hood}


def run() -> list[dict[str, object]]:
    from django.test import Client

    from rxdesk.compounding import queries_cleanroom, queries_competency
    from rxdesk.compounding.bud import beyond_use
    from rxdesk.compounding.services_records import record_start
    from rxdesk.core import context
    from rxdesk.inventory.ledger import ledger_verify

    records: list[dict[str, object]] = []

    cases = _bud_inputs()
    begin = time.perf_counter()
    for i in range(BUD_CALLS):
        beyond_use(cases[i % len(cases)])
    per_call = (time.perf_counter() - begin) / BUD_CALLS * 1e6
    records.append(
        {
            "name": f"compounding: BUD rules per call (target < {TARGETS['bud_us']:.0f})",
            "value": round(per_call, 1),
            "unit": "µs",
        }
    )

    started = time.perf_counter()
    built = _build()
    records.append(
        {
            "name": "compounding: history build",
            "value": round(time.perf_counter() - started, 1),
            "unit": "s",
        }
    )
    site, pic, tech = built["site"], built["pic"], built["tech"]

    client = Client(HTTP_HOST="localhost")
    client.force_login(pic)
    body = json.dumps(
        {
            "type": "sterile",
            "category": "2",
            "prepared_at": "2026-01-05T09:00:00-05:00",
            "storage": "refrigerator",
            "aseptic": True,
            "sterile_starting_components": True,
            "sterility_tested": False,
            "component_expirations": ["2026-03-01", "2027-01-01"],
        }
    )

    def call() -> None:
        response = client.post(
            "/api/v1/compounding/bud", data=body, content_type="application/json"
        )
        assert response.status_code == 200, response.content

    samples = _time(call, runs=300)
    records.append(
        {
            "name": "compounding: BUD API p50",
            "value": round(statistics.median(samples), 2),
            "unit": "ms",
        }
    )
    records.append(
        {
            "name": f"compounding: BUD API p95 (target < {TARGETS['api_ms']:.0f})",
            "value": round(_p95(samples), 2),
            "unit": "ms",
        }
    )

    with context.using(context.RequestInfo(request_id="bench-compounding", channel="web")):
        from rxdesk.compounding import competency
        from rxdesk.compounding.models import CompetencyResult

        # the technician is qualified for Category 2 (initial GFTs above, recent results)
        assert not queries_competency.lapses_for(tech, "2", today=site.today()), (
            queries_competency.lapses_for(tech, "2", today=site.today()),
            CompetencyResult.objects.filter(person=tech, kind=competency.MEDIA_FILL).count(),
        )
        times = []
        begin_all = time.perf_counter()
        for _ in range(RECORDS):
            begin = time.perf_counter()
            record_start(
                actor=tech,
                formula=built["formula"],
                quantity="1",
                unit="bag",
                control=built["hood"],
                room=built["hood"].room,
            )
            times.append((time.perf_counter() - begin) * 1000)
        rate = RECORDS / (time.perf_counter() - begin_all)
        records.append(
            {
                "name": f"compounding: records started (target ≥ {TARGETS['records_per_s']:.0f})",
                "value": round(rate, 1),
                "unit": "/s",
            }
        )
        records.append(
            {"name": "compounding: record start p95", "value": round(_p95(times), 1), "unit": "ms"}
        )
        _checked, mismatches = ledger_verify(site_id=site.pk)
        assert not mismatches, mismatches

        for name, fn in (
            ("cleanroom board", lambda: queries_cleanroom.board(actor=pic)),
            ("competency board", lambda: queries_competency.board(actor=pic, category="2")),
        ):
            samples = _time(fn)
            records.append(
                {
                    "name": f"compounding: {name} p50",
                    "value": round(statistics.median(samples), 1),
                    "unit": "ms",
                }
            )
            records.append(
                {
                    "name": f"compounding: {name} p95 (target < {TARGETS['board_ms']:.0f})",
                    "value": round(_p95(samples), 1),
                    "unit": "ms",
                }
            )
    return records
