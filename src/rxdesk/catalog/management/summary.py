"""Plain-words summaries of catalog imports for the CLI commands."""

from __future__ import annotations

from collections.abc import Mapping

from rxdesk.catalog.models import ImportRun

PROBLEMS_SHOWN = 50


def counts(noun: str, c: Mapping[str, int], *, with_gone: bool = True) -> str:
    """'128,241 products (128,241 new, 0 changed, 0 unchanged, 0 no longer in the file)';
    ``noun`` is the plural ('products'), its singular is the noun without the final s."""
    total = c["created"] + c["updated"] + c["unchanged"]
    parts = [f"{c['created']:,} new", f"{c['updated']:,} changed", f"{c['unchanged']:,} unchanged"]
    if with_gone:
        parts.append(f"{c['deactivated']:,} no longer in the file")
    return f"{total:,} {noun if total != 1 else noun.removesuffix('s')} ({', '.join(parts)})"


def seconds(value: float) -> str:
    return f"{value:,.0f} s" if value >= 10 else f"{value:.1f} s"


def refused(run: ImportRun) -> list[str]:
    """The lines that tell which rows were refused, or none."""
    if not run.rejected:
        return []
    lines = run.problems.splitlines()
    out = [f"{run.rejected:,} row{'s' if run.rejected != 1 else ''} refused:"]
    out += [f"  {line}" for line in lines[:PROBLEMS_SHOWN]]
    if len(lines) > PROBLEMS_SHOWN:
        out.append(
            f"  … and {len(lines) - PROBLEMS_SHOWN:,} more, all kept in import run #{run.pk}."
        )
    return out


NO_SITE = (
    "No pharmacy site exists yet, so this import is recorded in the import log (run #{pk}) "
    "but in no audit chain."
)
