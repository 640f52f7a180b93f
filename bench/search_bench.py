"""Patient search latency over 20,000 patients at one site (p50 / p95)."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient
from rxdesk.patients.queries import patient_search

PATIENTS = 20_000
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Nguyen",
    "Tran",
    "Okafor",
    "Kowalski",
    "O'Neill",
    "Haddad",
]
FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Maria",
    "Jose",
    "Wei",
    "Aisha",
    "Omar",
    "Priya",
    "Tasha",
    "Carlos",
    "Grace",
    "Hannah",
    "Sofia",
    "Daniel",
]


def run() -> list[dict[str, object]]:
    rng = random.Random(7)  # noqa: S311  (reproducible test data, not secrets)
    site = Site.objects.create(name="Bench search")
    user = User.objects.create(username="bench-search", role=Role.PHARMACIST, site=site)
    rows = []
    for i in range(PATIENTS):
        p = Patient(
            site=site,
            first_name=rng.choice(FIRST),
            last_name=rng.choice(LAST),
            date_of_birth=dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(33000)),
            phone_mobile=f"217555{i:04d}",
        )
        p.last_name_key = p.last_name.lower().replace("'", "")
        p.first_name_key = p.first_name.lower()
        rows.append(p)
    Patient.objects.bulk_create(rows, batch_size=2000)
    queries = [
        "smi",
        "smith, jo",
        "maria garcia",
        "nguyen",
        "ok",
        "03/14/1958",
        "2175551234",
        "hern",
        "lee, w",
        "tay",
    ]
    samples = []
    for _ in range(30):
        for q in queries:
            start = time.perf_counter()
            list(patient_search(actor=user, q=q))
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p95 = samples[int(len(samples) * 0.95) - 1]
    return [
        {
            "name": f"patient search p50 ({PATIENTS:,} patients)",
            "value": round(statistics.median(samples), 2),
            "unit": "ms",
        },
        {
            "name": f"patient search p95 ({PATIENTS:,} patients)",
            "value": round(p95, 2),
            "unit": "ms",
        },
    ]
