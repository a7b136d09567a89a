"""Answering a stats query from the rollups: whole periods from the tables, edges from raw rows.

A range is covered (`sketch.plan`) with whole weeks (of the weeks that are
over), then whole days, then the raw rows of the partial days at its edges,
bucketed on the fly; the raw rows not rolled up yet are added too. Summaries
and histograms of all the pieces are merged in SQL, grouped by URL and the
query's key (status, period, or nothing), and the percentiles walked from the
merged histogram (`sketch.percentile`).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from website_monitor.probes.rollups import maintain
from website_monitor.probes.rollups.sketch import LEVELS, NO_STATUS, WEEK, bucket_sql, plan
from website_monitor.store import Reader, Where

if TYPE_CHECKING:
    from website_monitor.probes.stats import StatsQuery


@dataclasses.dataclass
class Group:
    """The merged rollups of one URL and key (status, period start, or 0)."""

    url: str
    key: int
    probes: int
    errors: int
    ok: int
    min_ms: float | None
    max_ms: float | None
    histogram: list[tuple[int, int]]


def groups(reader: Reader, query: StatsQuery, period: int | None) -> list[Group]:
    """Per URL and key, ordered by URL then key: the rollups and the raw rows they lack."""
    dialect = reader.dialect
    widths = [w for w in LEVELS.values() if period is None or w <= period]
    lo = query.since.timestamp() if query.since is not None else None
    hi = query.until.timestamp() if query.until is not None else None
    weeks_to = _weeks_to(reader) if widths and widths[0] == WEEK else None
    segments = plan(lo, hi, widths, coarsest_until=weeks_to)
    if not segments:
        return []

    def bound(value: float | None, original: datetime | None) -> datetime | None:
        if value is None:
            return None
        if original is not None and value == original.timestamp():
            return original
        return datetime.fromtimestamp(value, timezone.utc)

    if query.by == "status":
        key = "status"
    elif period is not None:
        key = f"(epoch / {period}) * {period}"
    else:
        key = "0"
    epoch = dialect.epoch("timestamp")
    status = f"coalesce(http_status_code, {NO_STATUS})"
    latency: list[str] = []
    summary: list[str] = []
    params: list[Any] = []

    def raw(where: Where) -> None:
        """Raw rows as one-probe rollup rows (values bucketed on the fly)."""
        condition = where.condition
        latency.append(
            f"SELECT url, {status} AS status, {epoch} AS epoch,"
            f" {bucket_sql('response_time_ms')} AS bucket, 1 AS n"
            f" FROM url_probes WHERE response_time_ms IS NOT NULL AND {condition}"
        )
        summary.append(
            f"SELECT url, {status} AS status, {epoch} AS epoch, 1 AS probes,"
            " CASE WHEN error IS NOT NULL THEN 1 ELSE 0 END AS errors,"
            " CASE WHEN ok THEN 1 ELSE 0 END AS ok,"
            " response_time_ms AS min_ms, response_time_ms AS max_ms"
            f" FROM url_probes WHERE {condition}"
        )
        params.extend(where.params)

    def between(where: Where, start: float | None, end: float | None) -> Where:
        return where.compare(
            "timestamp", ">=", None if start is None else bound(start, query.since)
        ).compare("timestamp", "<", None if end is None else bound(end, query.until))

    for start, end, width in segments:
        if width is None:  # a partial day at an edge of the range
            raw(between(Where(dialect), start, end).any_of("url", query.urls, keyed=True))
            continue
        where = (
            Where(dialect, f"width = {int(width)}")
            .compare("period_start", ">=", None if start is None else int(start))
            .compare("period_start", "<", None if end is None else int(end))
            .any_of("url", query.urls, keyed=True)
        )
        latency.append(
            "SELECT url, status, period_start AS epoch, bucket, count AS n"
            f" FROM rollup_latency WHERE {where.condition}"
        )
        summary.append(
            "SELECT url, status, period_start AS epoch, probes, errors, ok, min_ms, max_ms"
            f" FROM rollup_summary WHERE {where.condition}"
        )
        params.extend(where.params)
    # Whole periods cover one contiguous span (plan() puts raw rows only at its two ends);
    # the probes in it that are not rolled up yet are read raw.
    whole = [(start, end) for start, end, width in segments if width is not None]
    if whole:
        recent = Where(dialect).compare("id", ">", maintain.rolled_up_to(reader))
        raw(between(recent, whole[0][0], whole[-1][1]).any_of("url", query.urls, keyed=True))
    # Each part adds its parameters to both lists in the same order.
    summaries = reader.query(
        f"SELECT url, {key} AS k, sum(probes) AS probes, sum(errors) AS errors, sum(ok) AS ok,"
        " min(min_ms) AS min_ms, max(max_ms) AS max_ms"
        f" FROM ({' UNION ALL '.join(summary)}) AS x GROUP BY url, k ORDER BY url, k",
        params,
    )
    histograms: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for row in reader.query(
        f"SELECT url, {key} AS k, bucket, sum(n) AS n FROM ({' UNION ALL '.join(latency)}) AS x"
        " GROUP BY url, k, bucket ORDER BY url, k, bucket",
        params,
    ):
        histograms.setdefault((row["url"], int(row["k"])), []).append(
            (int(row["bucket"]), int(row["n"]))
        )
    return [
        Group(
            url=row["url"],
            key=int(row["k"]),
            probes=int(row["probes"]),
            errors=int(row["errors"]),
            ok=int(row["ok"]),
            min_ms=row["min_ms"],
            max_ms=row["max_ms"],
            histogram=histograms.get((row["url"], int(row["k"])), []),
        )
        for row in summaries
        if int(row["probes"])
    ]


def _weeks_to(reader: Reader) -> int:
    """Week rows exist for the weeks starting before this (those that are over) only."""
    rows = reader.query(f"SELECT weeks_to AS n FROM {maintain.STATE_TABLE}")
    return int(rows[0]["n"]) if rows else 0
