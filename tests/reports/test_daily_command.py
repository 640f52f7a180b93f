"""``rxdesk reports daily``: cron-friendly generation — default yesterday at every
pharmacy, a named site by id or NCPDP id, files written with --out, idempotent reruns, and
a failure named with its pharmacy and report (exit status 1)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rxdesk.core.models import AuditEvent
from rxdesk.reports import daily_reports
from rxdesk.reports.models import DailyReport

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("reports", "daily", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_reports_yesterday_at_every_pharmacy(site, other_site):
    out, _ = run()
    for s in (site, other_site):
        day = s.today() - dt.timedelta(days=1)
        assert DailyReport.objects.filter(site=s, business_date=day).count() == 7
        assert f"{s.name}: reports of {day:%m/%d/%Y}" in out
    assert "Dispensing report: 0 rows — created (version 1)" in out
    assert "Done: 14 reports kept for 2 pharmacies." in out
    event = AuditEvent.objects.filter(action="reports.daily.generated").latest("seq")
    assert event.actor_kind == "system"


def test_a_rerun_keeps_one_set_and_says_unchanged(site):
    run("--date", "2026-11-20", "--site", str(site.pk))
    out, _ = run("--date", "2026-11-20", "--site", str(site.pk))
    assert DailyReport.objects.count() == 7
    assert out.count("unchanged (version 1)") == 7


def test_a_site_by_ncpdp_id_and_files_written(tmp_path, other_site):
    out, _ = run("--date", "2026-11-20", "--site", other_site.ncpdp_id, "--out", str(tmp_path))
    folder = tmp_path / other_site.ncpdp_id / "2026-11-20"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        [f"{c}-2026-11-20.csv" for c in daily_reports.CODES]
        + [f"{c}-2026-11-20.pdf" for c in daily_reports.CODES]
    )
    assert (folder / "dispensing-2026-11-20.pdf").read_bytes().startswith(b"%PDF-")
    assert "wrote" in out


def test_only_csv_files_with_format_csv(tmp_path, site):
    run("--date", "2026-11-20", "--site", str(site.pk), "--format", "csv", "--out", str(tmp_path))
    folder = next(tmp_path.iterdir()) / "2026-11-20"
    assert {p.suffix for p in folder.iterdir()} == {".csv"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "11/20/2026"], "is not a date: use YYYY-MM-DD"),
        (["--site", "999999"], "No site '999999'"),
        (["--format", "xls"], "use csv, pdf or csv,pdf"),
    ],
)
def test_bad_options_are_explained(site, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert DailyReport.objects.count() == 0


def test_a_future_day_fails_naming_the_site_and_report_with_exit_status_1(site):
    future = (site.today() + dt.timedelta(days=3)).isoformat()
    with pytest.raises(SystemExit) as caught:
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command("reports", "daily", "--date", future, stdout=out, stderr=err)
        finally:
            text = err.getvalue()
    assert caught.value.code == 1
    assert f"{site.name} — Dispensing report: " in text
    assert "has not come yet" in text
    assert DailyReport.objects.count() == 0
