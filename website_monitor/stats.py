"""Latency percentiles per URL, computed in SQL on either backend.

Percentiles follow PostgreSQL's `percentile_cont` (linear interpolation between
closest ranks); SQLite gets the same function as a registered aggregate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from website_monitor.store import Repository

PERCENTILES = (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))
GROUPINGS = ("status",)


@dataclasses.dataclass(frozen=True)
class StatsQuery:
    """Which probes to summarise and how to group them."""

    urls: Sequence[str] = ()
    since: datetime | None = None
    until: datetime | None = None
    by: str | None = None


def probe_stats(repository: Repository, query: StatsQuery) -> list[dict[str, Any]]:
    """One entry per URL (and status, if grouped), ordered by URL."""
    mark = repository.placeholder
    where: list[str] = []
    params: list[Any] = []
    if query.urls:
        where.append(f"url IN ({', '.join(mark for _ in query.urls)})")
        params.extend(query.urls)
    if query.since is not None:
        where.append(f"timestamp >= {mark}")
        params.append(query.since)
    if query.until is not None:
        where.append(f"timestamp < {mark}")
        params.append(query.until)
    group = ["url"]
    if query.by == "status":
        group.append("http_status_code")
    percentiles = ", ".join(
        f"{repository.percentile_sql(fraction, 'response_time_ms')} AS {name}"
        for name, fraction in PERCENTILES
    )
    sql = (
        f"SELECT {', '.join(group)}, count(*) AS probes, {percentiles},"
        " sum(CASE WHEN error IS NOT NULL THEN 1 ELSE 0 END) AS errors,"
        " avg(CASE WHEN ok THEN 1.0 ELSE 0.0 END) AS availability"
        " FROM url_probes"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" GROUP BY {', '.join(group)} ORDER BY {', '.join(group)}"
    )
    return [_entry(row, query.by) for row in repository.query(sql, params)]


def _entry(row: dict[str, Any], by: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"url": row["url"]}
    if by == "status":
        entry["http_status_code"] = row["http_status_code"]
    entry["probes"] = int(row["probes"])
    for name, _ in PERCENTILES:
        entry[name] = _ms(row[name])
    entry["errors"] = int(row["errors"] or 0)
    entry["availability"] = round(float(row["availability"] or 0.0), 6)
    return entry


def _ms(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
