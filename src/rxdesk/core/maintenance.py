"""Database upkeep that a counter PC or a server runs at night (``rxdesk db-optimize``).

SQLite keeps no table statistics until ANALYZE runs: without them its planner guesses, and
picks a site-wide index (every patient of the site, every logbook entry of the month) over
the narrow one a search needs. PostgreSQL's autovacuum analyzes by itself, but only after
enough rows changed; a bulk load (a demo, an FDA import) should not wait for it."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

# Rows ANALYZE samples per index on SQLite: enough for the planner, quick on a big file.
SQLITE_ANALYSIS_LIMIT = 1000


def db_optimize(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Refresh the query planner's statistics of database ``using``; return what was done,
    in plain words, one line each."""
    conn = connections[using]
    done: list[str] = []
    with conn.cursor() as cursor:
        if conn.vendor == "sqlite":
            cursor.execute(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
            cursor.execute("ANALYZE")
            done.append(
                "SQLite: gathered the statistics of every table and index for the query "
                f"planner (ANALYZE, sampling up to {SQLITE_ANALYSIS_LIMIT:,} rows per index)."
            )
            cursor.execute("PRAGMA optimize")
            done.append("SQLite: ran PRAGMA optimize.")
        elif conn.vendor == "postgresql":
            cursor.execute("ANALYZE")
            done.append(
                "PostgreSQL: gathered the statistics of every table for the query planner "
                "(ANALYZE)."
            )
        else:
            done.append(f"Nothing to do on a {conn.vendor} database.")
    return done
