"""How long records must be kept, as data, and the backup-file rotation that respects it.

rxdesk never purges records: the rules here only say the earliest date before which a
record *could* be purged by the pharmacy's own decision, and stop backup rotation from
deleting the backups that hold records still inside their retention (docs/retention.md).
Where rules overlap the longest one wins (21 CFR 1304.04 and state law: the stricter rule).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.utils import timezone

from rxdesk.core.errors import Invalid
from rxdesk.core.models import Site


@dataclass(frozen=True)
class Rule:
    """One retention rule: which kinds of record it covers, for how many years, and why."""

    name: str
    years: int
    kinds: frozenset[str]
    source: str


ALL = "*"  # a rule that covers every kind of record
RULES: tuple[Rule, ...] = (
    Rule(
        "DEA records",
        2,
        frozenset({"controlled", "dea_form", "inventory", "dispensing", "pse_log"}),
        "21 CFR 1304.04(a); 21 CFR 1314.30 for the pseudoephedrine log",
    ),
    Rule(
        "HIPAA documentation",
        6,
        frozenset({"hipaa", "audit", "policy", "disclosure"}),
        "45 CFR 164.316(b)(2), 164.530(j)",
    ),
    Rule("Compounding records (USP <795>/<797>)", 3, frozenset({"compounding"}), "USP <797> 2023"),
    Rule("DSCSA transaction records", 6, frozenset({"dscsa"}), "FD&C Act 582(d)"),
)
KINDS = frozenset().union(*(r.kinds for r in RULES)) | {"prescription", "other"}


def site_rules(site: Site) -> list[Rule]:
    """The site's own settings: the state board's period for every record, and the site's
    compounding retention (rxdesk.compounding's per-site setting), when set."""
    rules = []
    state_years = site.records_retention_years  # the state's rule, entered per site
    if state_years:
        rules.append(Rule(f"State of {site.state or '?'} records", int(state_years),
                          frozenset({ALL}), "site setting"))  # fmt: skip
    try:
        settings_model = apps.get_model("compounding", "CompoundingSettings")
    except LookupError:
        return rules
    found = settings_model.objects.filter(site=site).values_list("retention_years", flat=True)
    years = found.first()
    if years:
        rules.append(Rule("Compounding records (site)", int(years), frozenset({"compounding"}),
                          "site compounding settings"))  # fmt: skip
    return rules


def retention_years(site: Site, kind: str) -> int:
    """The longest period, in years, that applies to a record of ``kind`` at ``site``."""
    if kind not in KINDS:
        raise Invalid(f"Unknown kind of record {kind!r}; one of: {', '.join(sorted(KINDS))}.",
                      field="kind")  # fmt: skip
    applicable = [r.years for r in (*RULES, *site_rules(site)) if kind in r.kinds or ALL in r.kinds]
    # A record no rule names is kept as long as the longest federal rule (HIPAA, 6 years).
    return max(applicable) if applicable else max(r.years for r in RULES)


def retention_floor(site: Site, kind: str, *, today: dt.date | None = None) -> dt.date:
    """The earliest date before which a record of ``kind`` could be purged: records dated on
    or after it are still inside the longest applicable retention."""
    today = today or site.today()
    return _years_before(today, retention_years(site, kind))


def longest_retention_years() -> int:
    """The longest retention over every rule and every site's settings."""
    years = [r.years for r in RULES]
    for site in Site.objects.all():
        years += [r.years for r in site_rules(site)]
    return max(years)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def backups_prune(directory: Path, *, keep_days: int, now: dt.datetime | None = None) -> list[Path]:
    """Remove backup files (and their manifests) older than ``keep_days`` days.

    Refuses a ``keep_days`` shorter than the longest retention, and never removes the most
    recent backup, so the records a rule still protects always survive in a backup."""
    from rxdesk.core.backup import MANIFEST_SUFFIX, manifest_path

    if keep_days < 1:
        raise Invalid("Keep backups at least 1 day.", field="keep_days")
    years = longest_retention_years()
    now = now or timezone.now()
    floor_days = (now.date() - _years_before(now.date(), years)).days
    if keep_days < floor_days:
        raise Invalid(
            f"Backups must be kept at least {years} years ({floor_days} days), the longest "
            f"record retention that applies here; {keep_days} days would delete backups that "
            "hold records still under retention. Nothing was removed.",
            field="keep_days",
        )
    if not directory.is_dir():
        raise Invalid(f"There is no folder {directory}.", field="dir")
    backups = sorted(
        (p for p in directory.iterdir() if p.is_file() and manifest_path(p).is_file()
         and not p.name.endswith(MANIFEST_SUFFIX)),
        key=lambda p: p.stat().st_mtime,
    )  # fmt: skip
    cutoff = now.timestamp() - keep_days * 86400
    removed = []
    for path in backups[:-1]:  # the newest backup is never removed, however old
        if path.stat().st_mtime < cutoff:
            manifest_path(path).unlink()
            path.unlink()
            removed.append(path)
    return removed
