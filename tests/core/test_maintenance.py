"""``rxdesk db-optimize``: the planner's statistics, refreshed."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from tests.conftest import on_postgres
from tests.factories import PatientFactory


@pytest.mark.django_db
def test_it_gathers_the_planners_statistics(site):
    PatientFactory.create_batch(3, site=site)
    out = io.StringIO()

    call_command("db-optimize", stdout=out)

    if on_postgres():
        assert out.getvalue() == (
            "PostgreSQL: gathered the statistics of every table for the query planner (ANALYZE).\n"
        )
        return
    assert out.getvalue() == (
        "SQLite: gathered the statistics of every table and index for the query planner "
        "(ANALYZE, sampling up to 1,000 rows per index).\nSQLite: ran PRAGMA optimize.\n"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'patients_patient'")
        assert cursor.fetchone()[0] > 0
