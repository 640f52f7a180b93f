"""``rxdesk controlled pmp``: what cron runs — one file per day not yet reported, said in
words; nothing twice; a resend with --again; a pharmacy missing data is named."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rxdesk.controlled.models import PmpSubmission
from rxdesk.core.models import AuditEvent
from rxdesk.rx.models import Fill
from tests.controlled.matrix_pmp import pmp_ready, ready_fill, sell

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("controlled", "pmp", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_reports_a_day_in_words_and_not_twice(site):
    pmp_ready(site)
    sell(ready_fill(site, schedule="CII"))
    ready_fill(site, schedule="CIV")
    today = site.today()

    out = run("--site", str(site.pk), "--date", today.isoformat())

    assert out == f"{today:%m/%d/%Y}: 2 dispensings — RXD{today:%Y%m%d}.dat\n"
    made = PmpSubmission.objects.get()
    assert made.created_by is None
    event = AuditEvent.objects.filter(action="cs.pmp.created").get()
    assert event.actor_kind == "system" and event.client_addr.startswith("cli:")
    assert run("--site", str(site.pk), "--date", today.isoformat()) == (
        f"Nothing made: {today:%m/%d/%Y} already reported.\n"
    )
    assert PmpSubmission.objects.count() == 1


def test_a_period_is_caught_up_with_zero_reports_and_voids(site):
    pmp_ready(site)
    today = site.today()
    fill = ready_fill(site, schedule="CIV")
    Fill.objects.filter(pk=fill.pk).update(dispensed_on=today - dt.timedelta(days=2))
    run("--site", str(site.pk), "--date", (today - dt.timedelta(days=2)).isoformat())
    Fill.objects.filter(pk=fill.pk).update(status="returned")

    out = run(
        "--site",
        str(site.pk),
        "--start",
        (today - dt.timedelta(days=3)).isoformat(),
        "--end",
        (today - dt.timedelta(days=1)).isoformat(),
    )

    d3, d1 = today - dt.timedelta(days=3), today - dt.timedelta(days=1)
    assert out.splitlines() == [
        f"{d3:%m/%d/%Y}: zero report (no controlled dispensing) — RXD{d3:%Y%m%d}.dat",
        f"{d1:%m/%d/%Y}: 0 dispensings, 1 void — RXD{d1:%Y%m%d}.dat",
    ]


def test_again_resends_a_day(site):
    pmp_ready(site)
    yesterday = site.today() - dt.timedelta(days=1)
    assert run("--site", str(site.pk)) == (
        f"{yesterday:%m/%d/%Y}: zero report (no controlled dispensing) — "
        f"RXD{yesterday:%Y%m%d}.dat\n"
    )
    out = run("--site", str(site.pk), "--date", yesterday.isoformat(), "--again")
    assert out.endswith(f"RXD{yesterday:%Y%m%d}-2.dat\n")
    assert PmpSubmission.objects.count() == 2


def test_missing_data_is_an_error_naming_it_and_nothing_is_made(site):
    with pytest.raises(CommandError) as exc:
        run("--site", str(site.pk), "--date", site.today().isoformat())
    assert "site.dea_number" in str(exc.value) and "DEA registration" in str(exc.value)
    assert PmpSubmission.objects.count() == 0


def test_every_site_is_reported_and_a_site_missing_data_is_named(site, other_site):
    pmp_ready(site)
    err = io.StringIO()
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("controlled", "pmp", stdout=out, stderr=err)
    assert exc.value.code == 1
    assert f"{site.name}: " in out.getvalue() and "zero report" in out.getvalue()
    assert f"{other_site.name}: " in err.getvalue() and "DEA registration" in err.getvalue()
    assert PmpSubmission.objects.filter(site=site).count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--date", "11/25/2026"), "is not a date"),
        (("--date", "2026-01-01", "--start", "2026-01-01"), "not both"),
        (("--start", "2026-01-01"), "needs both"),
        (("--again",), "give it with --date"),
        (("--site", "999999"), "No site 999999"),
    ],
)
def test_bad_options_are_refused_in_words(site, args, message):
    pmp_ready(site)
    with pytest.raises(CommandError) as exc:
        run(*args)
    assert message in str(exc.value)
    assert PmpSubmission.objects.count() == 0
