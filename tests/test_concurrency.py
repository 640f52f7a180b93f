"""The audit chain under concurrent writers: no lost event, no duplicate or missing seq,
and the chain still verifies. PostgreSQL with threads (row lock on the chain head);
SQLite with processes on a real file database (IMMEDIATE transactions, busy timeout)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection

from rxdesk.core import context
from rxdesk.core.audit import audit_verify_site
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent
from rxdesk.patients.services import patient_update
from tests.conftest import build_schema_in_subprocess
from tests.factories import PatientFactory, SiteFactory, UserFactory

WORKERS = 8
CALLS = 25


@pytest.mark.postgres
def test_it_keeps_one_gapless_chain_under_concurrent_writers_on_postgres(transactional_db):
    site = SiteFactory()
    rph = UserFactory(site=site, role=Role.PHARMACIST, username="rph-conc")
    patients = [PatientFactory(site=site) for _ in range(WORKERS)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(WORKERS)

    def work(patient) -> None:  # type: ignore[no-untyped-def]
        try:
            with context.using(context.RequestInfo(request_id="t", channel="web")):
                barrier.wait()
                for i in range(CALLS):
                    patient_update(actor=rph, patient=patient, city=f"City {i}")
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(p,)) for p in patients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    seqs = list(AuditEvent.objects.filter(site=site).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, WORKERS * CALLS + 1))
    report = audit_verify_site(site.pk)
    assert report.intact and report.events == WORKERS * CALLS


SCRIPT = """
import datetime as dt, sys
from rxdesk.core import context
from rxdesk.core.models import User
from rxdesk.patients.models import Patient
from rxdesk.patients.services import patient_update
worker = int(sys.argv[1])
rph = User.objects.get(username="rph")
patient = Patient.objects.get(first_name=f"W{worker}")
with context.using(context.RequestInfo(request_id=f"w{worker}", channel="web")):
    for i in range(int(sys.argv[2])):
        patient_update(actor=rph, patient=patient, city=f"City {i}")
"""

SETUP = """
import datetime as dt
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient
site = Site.objects.create(name="Concurrent")
User.objects.create(username="rph", role=Role.PHARMACIST, site=site,
                    pharmacist_license="R1", pharmacist_license_expires=dt.date(2099, 1, 1))
for w in range({workers}):
    Patient.objects.create(site=site, first_name=f"W{{w}}", last_name="Conc",
                           date_of_birth=dt.date(1980, 1, 1))
"""


def test_it_keeps_one_gapless_chain_under_concurrent_processes_on_sqlite(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "RXDESK_"))}
    env |= {"RXDESK_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "rxdesk.settings"}
    python = sys.executable

    def django(code: str, *args: str) -> subprocess.Popen[str]:
        prelude = "import django; django.setup()\n"
        return subprocess.Popen(
            [python, "-c", prelude + code, *args], env=env, text=True, stderr=subprocess.PIPE
        )

    build_schema_in_subprocess(env)
    setup = django(SETUP.format(workers=4))
    assert setup.wait(60) == 0, setup.stderr.read() if setup.stderr else ""

    workers = [django(SCRIPT, str(w), str(CALLS)) for w in range(4)]
    for w in workers:
        assert w.wait(120) == 0, w.stderr.read() if w.stderr else ""

    check = subprocess.run(
        [
            python,
            "-c",
            "import django; django.setup()\n"
            "from rxdesk.core.models import AuditEvent\n"
            "from rxdesk.core.audit import audit_verify\n"
            "print(list(AuditEvent.objects.order_by('seq').values_list('seq', flat=True)))\n"
            "[r] = audit_verify(); print(r.intact, r.events)",
        ],
        env=env,
        text=True,
        capture_output=True,
        check=True,
    )
    seqs_line, verdict = check.stdout.strip().splitlines()
    assert seqs_line == str(list(range(1, 4 * CALLS + 1)))
    assert verdict == f"True {4 * CALLS}"
