"""Traffic per section from stored hits: hits, error rate and response-size percentiles.

Percentiles are PostgreSQL's `percentile_cont` on both backends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from website_monitor.store import Repository, Where

SIZE_PERCENTILES = (("bytes_p50", 0.5), ("bytes_p95", 0.95), ("bytes_p99", 0.99))


def hit_stats(
    repository: Repository,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    sections: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """One entry per section, ordered by section.

    `errors` counts 5xx responses; `error_rate` is their share of the hits.
    """
    where = (
        Where(repository.placeholder)
        .any_of("section", sections)
        .compare("timestamp", ">=", since)
        .compare("timestamp", "<", until)
    )
    percentiles = ", ".join(
        f"{repository.percentile_sql(fraction, 'bytes')} AS {name}"
        for name, fraction in SIZE_PERCENTILES
    )
    sql = (
        "SELECT section, count(*) AS hits,"
        " sum(CASE WHEN status >= 500 AND status < 600 THEN 1 ELSE 0 END) AS errors,"
        f" sum(bytes) AS total_bytes, {percentiles}"
        " FROM hits" + where.sql + " GROUP BY section ORDER BY section"
    )
    entries = []
    for row in repository.query(sql, where.params):
        hits = int(row["hits"])
        errors = int(row["errors"] or 0)
        entry: dict[str, Any] = {
            "section": row["section"],
            "hits": hits,
            "errors": errors,
            "error_rate": round(errors / hits, 6) if hits else 0.0,
            "bytes": int(row["total_bytes"] or 0),
        }
        for name, _ in SIZE_PERCENTILES:
            value = row[name]
            entry[name] = None if value is None else round(float(value), 3)
        entries.append(entry)
    return entries
