"""The FHIR API at a busy store's size: searches, ``$everything``, the bulk export and the
Synthea import, through the real code paths of ``rxdesk.fhir``.

Builds the running bench's pharmacy (``running_bench._build``: 5,000 patients, 18,000 fills
of 30 days with their earlier fills, prescribers, claims, the stock ledger), as a site of its
own name, and a bearer token for its pharmacist-in-charge (``token_create`` at the CLI, as an
integration's token is made). The HTTP figures go through ``django.test.Client`` with that
token: URL routing, the middleware, authentication, the search, the JSON and the PHI-access
audit events each answer writes.

Then times (median of 3 rounds):

- ``MedicationRequest?patient=``: one search for each of 20 patients with prescriptions
  (one audit event per answer): ms per search;
- ``Patient?name=&_count=50``: the pages of a name-prefix search that matches every patient,
  the first 10 pages, following each answer's ``next`` link: ms per page;
- ``MedicationDispense?patient=``: the same 20 patients' fills: ms per search;
- ``Patient/<id>/$everything``: 10 patients' whole records as one Bundle each (the patient,
  prescriptions, fills, the prescribers, drugs and pharmacy they point at): ms per bundle;
- ``bulk export``: the whole pharmacy as Bulk Data NDJSON by the operator
  (``export.export_to_directory``, actor None, to a new temporary folder each round):
  resources per second and seconds per export;
- ``Synthea import``: the three Synthea bundles of ``/work/shared/data/synthea-fhir-apache2/``
  imported by the pharmacist-in-charge (``importer.fhir_import``): seconds for the first
  import (one sample: a first import happens once), then for a re-import, which must create
  and update nothing (median of 3). Without the sample files the figure is left out. The
  bench site has no vaccine table: historical doses are skipped and counted, not imported.

Sizes scale with ``RXDESK_BENCH_SCALE`` as in the running bench (e.g. ``0.02`` for a quick
check). Run alone with ``python -m bench fhir``; on the PostgreSQL of DATABASE_URL when set,
else on a temporary SQLite file."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import running_bench

RUNS = 3
SEARCHES = 20  # patients searched by MedicationRequest / MedicationDispense
PAGES = 10  # pages of the Patient name search, at most
PAGE_SIZE = 50
EVERYTHING = 10  # patients whose $everything is built
NAME_PREFIX = "Runner"  # every bench patient's family name starts with it
SITE_NAME = "FHIR bench pharmacy"
SYNTHEA = Path(__file__).resolve().parents[2] / "shared" / "data" / "synthea-fhir-apache2"
SYNTHEA_BUNDLES = 3
FHIR_JSON = "application/fhir+json"


def _progress(text: str) -> None:
    print(f"timing: {text}", flush=True)


def _median_s(samples: list[float]) -> float:
    return statistics.median(samples)


def _build() -> dict[str, Any]:
    """The running bench's pharmacy under this bench's own site name (site names are unique,
    and ``python -m bench`` may have built the running bench's site already)."""
    stamp = f"{time.time_ns() % 10**10}"
    kept = running_bench.SITE_NAME
    running_bench.SITE_NAME = f"{SITE_NAME} {stamp}"
    try:
        return running_bench._build()
    finally:
        running_bench.SITE_NAME = kept


class _Api:
    """GET under /fhir/ with a real bearer token, each answer checked (200, FHIR JSON)."""

    def __init__(self, user: Any) -> None:
        from django.test import Client

        from rxdesk.core import context
        from rxdesk.core.services import token_create

        self.client = Client(HTTP_HOST="localhost")
        with context.using(context.RequestInfo(request_id="bench-fhir", channel="cli")):
            _, secret = token_create(actor=None, user=user, name="fhir bench")
        self.headers = {"Authorization": f"Bearer {secret}", "Accept": FHIR_JSON}

    def get(self, url: str, **params: str) -> dict[str, Any]:
        parts = urlsplit(url)  # a link the server gave: http://localhost/fhir/…?…
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.client.get(path, params or None, headers=self.headers)
        assert response.status_code == 200, (url, response.status_code, response.content[:500])
        assert response["Content-Type"].startswith(FHIR_JSON), response["Content-Type"]
        return response.json()


def _per_request_ms(calls: list[Any]) -> tuple[float, list[dict[str, Any]]]:
    """Median over RUNS rounds of the mean ms per call; and the last round's answers."""
    samples: list[float] = []
    answers: list[dict[str, Any]] = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        answers = [call() for call in calls]
        samples.append((time.perf_counter() - t0) / len(calls) * 1000)
    return _median_s(samples), answers


def _name_pages(api: _Api) -> tuple[float, int]:
    """Median over RUNS rounds of ms per page of the name search, and the pages walked."""
    samples: list[float] = []
    pages = 0
    for _ in range(RUNS):
        pages = 0
        url = f"/fhir/Patient?name={NAME_PREFIX}&_count={PAGE_SIZE}"
        t0 = time.perf_counter()
        while url and pages < PAGES:
            bundle = api.get(url)
            pages += 1
            assert len(bundle.get("entry", [])) > 0, bundle.get("link")
            url = next((li["url"] for li in bundle["link"] if li["relation"] == "next"), "")
        samples.append((time.perf_counter() - t0) / pages * 1000)
    return _median_s(samples), pages


def _export(site: Any) -> tuple[float, int]:
    """Median seconds of a whole-pharmacy export by the operator, and its resources."""
    from rxdesk.core import context
    from rxdesk.fhir import export

    samples: list[float] = []
    resources = 0
    for _ in range(RUNS):
        directory = Path(tempfile.mkdtemp(prefix="rxdesk-bench-fhir-export-"))
        try:
            with context.using(context.RequestInfo(request_id="bench-fhir", channel="cli")):
                t0 = time.perf_counter()
                done = export.export_to_directory(
                    ctx=export.cli_context(site, None), directory=directory
                )
                samples.append(time.perf_counter() - t0)
            assert (directory / "manifest.json").is_file()
            resources = done.resources
            assert resources > 0, [f.resource_type for f in done.files]
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    return _median_s(samples), resources


def _import(pic: Any) -> tuple[float, float, dict[str, Any]]:
    """Seconds of the first import of the Synthea folder, the median seconds of a re-import
    (asserted to create and update nothing), and the first run's counts."""
    from rxdesk.core import context
    from rxdesk.fhir.importer import fhir_import
    from rxdesk.fhir.models import RunStatus

    def one() -> tuple[float, Any]:
        with context.using(context.RequestInfo(request_id="bench-fhir", channel="cli")):
            t0 = time.perf_counter()
            run = fhir_import(actor=pic, path=SYNTHEA)
            seconds = time.perf_counter() - t0
        assert run.status == RunStatus.DONE, (run.status, run.problems[:5])
        return seconds, run

    first_s, first = one()
    assert first.counts["Patient"]["created"] == SYNTHEA_BUNDLES, first.counts["Patient"]
    samples = []
    for _ in range(RUNS):
        seconds, again = one()
        samples.append(seconds)
        for type_name, row in again.counts.items():
            assert row["created"] == 0 and row["updated"] == 0, (type_name, row)
        assert again.counts["Patient"]["unchanged"] == SYNTHEA_BUNDLES, again.counts["Patient"]
    return first_s, _median_s(samples), first.counts


def run() -> list[dict[str, object]]:
    from rxdesk.core.models import AuditEvent
    from rxdesk.rx.models import Prescription

    t0 = time.perf_counter()
    built = _build()
    setup = time.perf_counter() - t0
    site, pic = built["site"], built["pic"]
    fills = running_bench.FILLS_PER_DAY * running_bench.DAYS
    records: list[dict[str, object]] = [
        {
            "name": f"fhir: set-up ({fills:,} fills, {running_bench.PATIENTS:,} patients)",
            "value": round(setup, 1),
            "unit": "s",
        }
    ]
    api = _Api(pic)
    with_rx = list(
        Prescription.objects.filter(site=site)
        .order_by("patient_id")
        .values_list("patient_id", flat=True)
        .distinct()
    )
    step = max(1, len(with_rx) // SEARCHES)
    patients = [str(pk) for pk in with_rx[::step][:SEARCHES]]
    assert patients, "the bench pharmacy has prescriptions"

    def searches(type_name: str) -> list[Any]:
        return [lambda pk=pk, t=type_name: api.get(f"/fhir/{t}", patient=pk) for pk in patients]

    # Searches by patient (each answer writes its PHI-access event).
    events_before = AuditEvent.objects.filter(site=site, action="fhir.search").count()
    for type_name in ("MedicationRequest", "MedicationDispense"):
        _progress(f"{type_name}?patient= for {len(patients)} patients…")
        ms, answers = _per_request_ms(searches(type_name))
        found = sum(b["total"] for b in answers)
        assert all(b["total"] > 0 for b in answers), [b["total"] for b in answers]
        records.append(
            {
                "name": f"fhir: {type_name}?patient= ({found / len(answers):.1f} found)",
                "value": round(ms, 1),
                "unit": "ms/search",
            }
        )
    logged = AuditEvent.objects.filter(site=site, action="fhir.search").count() - events_before
    assert logged == 2 * RUNS * len(patients), logged

    _progress(f"Patient?name={NAME_PREFIX}&_count={PAGE_SIZE}, up to {PAGES} pages…")
    ms, pages = _name_pages(api)
    records.append(
        {
            "name": f"fhir: Patient?name=&_count={PAGE_SIZE} ({pages} pages)",
            "value": round(ms, 1),
            "unit": "ms/page",
        }
    )

    chosen = patients[:EVERYTHING]
    _progress(f"Patient/<id>/$everything for {len(chosen)} patients…")
    ms, bundles = _per_request_ms(
        [lambda pk=pk: api.get(f"/fhir/Patient/{pk}/$everything") for pk in chosen]
    )
    entries = sum(len(b["entry"]) for b in bundles) / len(bundles)
    assert all(b["total"] > 1 for b in bundles), [b["total"] for b in bundles]
    records.append(
        {
            "name": f"fhir: $everything ({entries:.0f} entries)",
            "value": round(ms, 1),
            "unit": "ms/bundle",
        }
    )

    _progress("bulk export of the whole pharmacy…")
    seconds, resources = _export(site)
    records.append(
        {
            "name": f"fhir: bulk export ({resources:,} resources)",
            "value": round(resources / seconds, 1),
            "unit": "res/s",
        }
    )
    records.append(
        {
            "name": f"fhir: bulk export, whole ({resources:,} resources)",
            "value": round(seconds, 2),
            "unit": "s",
        }
    )

    bundles_found = sorted(SYNTHEA.glob("*.json")) if SYNTHEA.is_dir() else []
    if len(bundles_found) != SYNTHEA_BUNDLES:
        _progress(f"Synthea import skipped: {SYNTHEA} does not hold the {SYNTHEA_BUNDLES} bundles")
        return records
    _progress(f"Synthea import of {len(bundles_found)} bundles, then re-imports…")
    first_s, again_s, counts = _import(pic)
    kept = {name: row["created"] for name, row in counts.items() if row["created"]}
    skipped = counts.get("Immunization", {}).get("skipped", 0)
    _progress(f"Synthea import created {kept}; {skipped} Immunization skipped (unknown CVX)")
    records.append(
        {
            "name": f"fhir: Synthea import, first ({SYNTHEA_BUNDLES} bundles)",
            "value": round(first_s, 2),
            "unit": "s",
        }
    )
    records.append(
        {
            "name": f"fhir: Synthea re-import ({SYNTHEA_BUNDLES} bundles, none new)",
            "value": round(again_s, 2),
            "unit": "s",
        }
    )
    return records
