"""Retention: the longest applicable rule sets the floor; backup rotation never deletes the
newest backup nor one younger than the longest retention."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone

from rxdesk.compounding.models import CompoundingSettings
from rxdesk.core.errors import Invalid
from rxdesk.core.retention import backups_prune, retention_floor, retention_years

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 27)


def test_it_keeps_dea_records_two_years_and_hipaa_documentation_six(site):
    assert retention_floor(site, "controlled", today=TODAY) == dt.date(2024, 11, 27)
    assert retention_floor(site, "hipaa", today=TODAY) == dt.date(2020, 11, 27)
    assert retention_floor(site, "audit", today=TODAY) == dt.date(2020, 11, 27)


def test_it_takes_the_longest_rule_including_the_sites_own_setting(site):
    assert retention_years(site, "compounding") == 3
    CompoundingSettings.objects.create(site=site, retention_years=7)
    assert retention_floor(site, "compounding", today=TODAY) == dt.date(2019, 11, 27)


def test_a_record_no_rule_names_is_kept_as_long_as_the_longest_federal_rule(site):
    assert retention_floor(site, "prescription", today=dt.date(2028, 2, 29)) == dt.date(2022, 2, 28)


def test_it_refuses_an_unknown_kind_of_record(site):
    with pytest.raises(Invalid, match="Unknown kind of record 'tax'") as refused:
        retention_floor(site, "tax")
    assert refused.value.errors[0]["field"] == "kind"


def _backup(folder: Path, name: str, age_days: float) -> Path:
    dump = folder / name
    dump.write_bytes(b"dump")
    manifest = folder / f"{name}.manifest.json"
    manifest.write_text("{}")
    when = timezone.now().timestamp() - age_days * 86400
    for path in (dump, manifest):
        os.utime(path, (when, when))
    return dump


def test_prune_refuses_to_keep_backups_shorter_than_the_longest_retention(site, tmp_path):
    old = _backup(tmp_path, "a.sqlite3", 4000)
    _backup(tmp_path, "b.sqlite3", 1)

    with pytest.raises(Invalid, match="at least 6 years") as refused:
        backups_prune(tmp_path, keep_days=30)

    assert "Nothing was removed" in refused.value.message
    assert old.exists()


def test_prune_removes_only_backups_older_than_kept_and_never_the_newest(site, tmp_path):
    oldest = _backup(tmp_path, "a.sqlite3", 3000)
    kept = _backup(tmp_path, "b.sqlite3", 100)

    assert backups_prune(tmp_path, keep_days=2200) == [oldest]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.sqlite3", "b.sqlite3.manifest.json"]

    os.utime(kept, (0, 0))  # even when the only backup left is ancient, it stays
    assert backups_prune(tmp_path, keep_days=2200) == []
    assert kept.exists()


def test_the_states_setting_applies_to_every_kind_when_longest(site, tmp_path):
    site.records_retention_years = 10  # e.g. a state that keeps records ten years
    site.save(update_fields=["records_retention_years"])
    site.refresh_from_db()

    assert retention_years(site, "controlled") == 10
    assert retention_floor(site, "prescription", today=TODAY) == dt.date(2016, 11, 27)
    site.records_retention_years = 1  # shorter than the federal rules: they still apply
    assert retention_years(site, "controlled") == 2
    assert retention_years(site, "hipaa") == 6


def test_the_site_setting_is_bounded_and_changed_through_the_site_service(site, pic, technician):
    from rxdesk.core.errors import Forbidden
    from rxdesk.core.services import site_update

    with pytest.raises(Invalid) as refused:
        site_update(actor=pic, site=site, records_retention_years=0)
    assert refused.value.errors[0]["field"] == "records_retention_years"
    with pytest.raises(Forbidden):
        site_update(actor=technician, site=site, records_retention_years=7)
    site.refresh_from_db()
    assert site.records_retention_years is None

    site_update(actor=pic, site=site, records_retention_years=7)
    site.refresh_from_db()
    assert site.records_retention_years == 7
