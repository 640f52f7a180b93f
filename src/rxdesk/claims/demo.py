"""The demo's third-party billing: a payer whose switch is the test payer (a separate
process the demo starts on loopback), four plans, cards on most demo patients, and the open
fills billed over the socket once — so will-call shows co-pays, the reject queue has a
prior authorization to work, and Mr. Washington's claim goes to two payers.

- Garcia, Johnson, Chen, Miller, Hernández: the commercial plan (co-pays $5 generic /
  $25 brand). Miller's methylphenidate needs a prior authorization there (reject 75): the
  case opens by itself; any PA number shaped PA + 7 digits lifts it.
- Smith and O'Neill: the Part D plan (25 % coinsurance).
- Washington: Part D primary and the secondary plan (coordination of benefits).

Written through the services, once: a demo whose fills already have claims is left alone.
Billing happens only when the test payer answers; without it the fills stay unbilled and a
technician bills them from the prescription page."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import threading
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from rxdesk.catalog.models import PackagePrice
from rxdesk.catalog.services import catalog_import_prices
from rxdesk.claims import services
from rxdesk.claims.models import Claim, Payer, Plan
from rxdesk.claims.testpayer import DEFAULT_RULES_DOCUMENT
from rxdesk.core.models import Site, User
from rxdesk.patients import services as patients
from rxdesk.patients.models import Patient
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill

PAYER_NAME = "Demo PBM (test payer)"
DEFAULT_PORT = 9530
CENT = Decimal("0.01")

# (plan name, BIN, PCN, retail days-supply limit, RTS window, fee submitted)
PLANS = (
    ("Blue Harbor Commercial", "610014", "TESTPCN", 34, 10, "1.75"),
    ("Prairie Medicare Part D", "004336", "MEDDPCN", 90, 14, "1.00"),
    ("Cornerstone Secondary", "610020", "SECPCN", None, 14, "1.50"),
    ("BrandSaver Copay Card", "600426", "CARDPCN", None, 14, "0.00"),
)
# patient last name -> [(BIN, PCN, member id, rank)]
CARDS: dict[str, list[tuple[str, str, str, int]]] = {
    "Garcia": [("610014", "TESTPCN", "BHC100200301", 1)],
    "Johnson": [("610014", "TESTPCN", "BHC100200302", 1)],
    "Chen": [("610014", "TESTPCN", "BHC100200303", 1)],
    "Miller": [("610014", "TESTPCN", "BHC100200304", 1)],
    "Hernández": [("610014", "TESTPCN", "BHC100200305", 1)],
    "Smith": [("004336", "MEDDPCN", "PMD900100201", 1)],
    "O'Neill": [("004336", "MEDDPCN", "PMD900100202", 1)],
    "Washington": [
        ("004336", "MEDDPCN", "PMD900100203", 1),
        ("610020", "SECPCN", "CSS700100204", 2),
    ],
}
# The demo's prior authorization: the commercial plan wants one for this drug.
PA_GENERIC = "methylphenidate"


def payer_port() -> int:
    return int(os.environ.get("RXDESK_DEMO_PAYER_PORT", DEFAULT_PORT))


def demo_claims_load(site: Site) -> None:
    """Plans, cards and list prices (no network). Idempotent."""
    pic = User.objects.filter(site=site, username="pic").first()
    tech = User.objects.filter(site=site, username="tech").first()
    if pic is None or tech is None:
        return
    with transaction.atomic():
        payer, _ = Payer.objects.get_or_create(
            name=PAYER_NAME,
            defaults={
                "processor_name": "rxdesk test payer",
                "help_desk_phone": "8005550100",
                "port": payer_port(),
                "timeout_seconds": 5,
            },
        )
        for name, bin_, pcn, days, rts, fee in PLANS:
            Plan.objects.get_or_create(
                bin=bin_,
                pcn=pcn,
                group="",
                defaults={
                    "payer": payer,
                    "name": name,
                    "max_days_supply": days,
                    "return_to_stock_days": rts,
                    "dispensing_fee": Decimal(fee),
                },
            )
        names = {name: (bin_, pcn) for name, bin_, pcn, *_ in PLANS}
        by_bin = {v: k for k, v in names.items()}
        for last_name, cards in CARDS.items():
            patient = Patient.objects.filter(site=site, last_name=last_name).first()
            if patient is None or patient.coverages.exists():
                continue
            for bin_, pcn, member, rank in cards:
                patients.coverage_add(
                    actor=tech,
                    patient=patient,
                    kind="plan",
                    rank=rank,
                    plan_name=by_bin[(bin_, pcn)],
                    bin=bin_,
                    pcn=pcn,
                    member_id=member,
                    person_code="01",
                    relationship="1",
                )
    _list_prices(site, pic)


def _open_fills(site: Site) -> list[Fill]:
    return list(
        Fill.objects.filter(
            site=site,
            status__in=[
                FillStatus.QUEUED,
                FillStatus.TO_FILL,
                FillStatus.FILLED,
                FillStatus.READY,
            ],
            prescription__patient__coverages__active=True,
        )
        .distinct()
        .select_related("package", "prescription__package", "prescription__product")
        .order_by("pk")
    )


def _list_prices(site: Site, pic: User) -> None:
    """An AWP-style list price for each package an open fill bills (about $0.50 a unit,
    $12 at least), where none is on file."""
    rows: dict[str, str] = {}
    for fill in _open_fills(site):
        package = fill.package or fill.prescription.package
        if package is None or PackagePrice.objects.filter(package=package, kind="list").exists():
            continue
        amount = max(Decimal("12.00"), package.package_quantity * Decimal("0.50"))
        rows[package.ndc10] = str(amount.quantize(CENT, rounding=ROUND_HALF_UP))
    if not rows:
        return
    today = timezone.now().date().isoformat()
    csv = "ndc,price_type,price,effective_date\n" + "".join(
        f"{ndc},list,{amount},{today}\n" for ndc, amount in rows.items()
    )
    data = io.BytesIO(csv.encode())
    data.name = "demo_list_prices.csv"
    catalog_import_prices(actor=pic, csv_file=data)


def demo_payer_rules(site: Site) -> dict[str, Any]:
    """The test payer's built-in plans, with the demo's prior authorization added."""
    rules = copy.deepcopy(DEFAULT_RULES_DOCUMENT)
    pa_ndcs = sorted(
        {
            (f.package or f.prescription.package).ndc11  # type: ignore[union-attr]
            for f in _open_fills(site)
            if PA_GENERIC in f.prescription.product.generic_name.lower()
            and (f.package or f.prescription.package) is not None
        }
    )
    for plan in rules["plans"]:
        if plan["bin"] == "610014":
            plan["prior_auth"] = sorted({*plan.get("prior_auth", []), *pa_ndcs})
    return rules


def demo_claims_bill(site: Site) -> str:
    """Bill the open fills of insured patients once; say what happened."""
    tech = User.objects.filter(site=site, username="tech").first()
    if tech is None:
        return ""
    if Claim.objects.filter(site=site).exists():
        return "Claims: already billed."
    paid = rejected = waiting = 0
    for fill in _open_fills(site):
        try:
            result = services.claim_bill(actor=tech, fill=fill)
        except Exception as exc:  # a demo fill that cannot be billed stays unbilled
            return f"Claims: billing stopped ({exc})."
        for claim in result.claims:
            if claim.status in ("paid", "captured"):
                paid += 1
            elif claim.status == "queued":
                waiting += 1
            else:
                rejected += 1
        if waiting:
            return "Claims: the test payer did not answer; the fills wait unbilled."
    return f"Claims: {paid} paid, {rejected} rejected (work them under Rejects)."


# --------------------------------------------------------------------------------------
# The test payer process


def start_demo_payer(site: Site) -> subprocess.Popen[str] | None:
    """Start ``rxdesk test-payer`` on the demo's port with the demo rules; its memory is
    kept under var/ so a restarted demo still knows what it paid. None when the port is
    taken (another demo's payer is already there) or it did not start."""
    var = Path(settings.VAR_DIR)
    var.mkdir(parents=True, exist_ok=True)
    rules = var / "test-payer-rules.json"
    rules.write_text(json.dumps(demo_payer_rules(site), indent=2))
    command = [
        sys.executable,
        "-m",
        "rxdesk.cli",
        "test-payer",
        "--port",
        str(payer_port()),
        "--rules",
        str(rules),
        "--state",
        str(var / "test-payer-state.jsonl"),
    ]
    process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 15
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("Test payer listening on "):
            # Keep reading its one line per claim, so a full pipe never stops it.
            threading.Thread(target=_drain, args=(process,), daemon=True).start()
            return process
        if not line and process.poll() is not None:
            return None
    process.terminate()
    return None


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for _line in process.stdout:
        pass
